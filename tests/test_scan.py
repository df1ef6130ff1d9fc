"""The load stage's fast path (snavc/engine/scan.py) gives what the libyaml path gives.

``load_text(..., "fast")`` reads the block-style subset line by line and sends every
other file to libyaml (``"libyaml"``): for any bytes the two must return the same
documents (values, lines, columns, packed positions) and the same diagnostics.

The line scanner exists twice, in Python (the reference) and in C (``_scan.c``, what
builds use when it is built): every text below is also given to both, which must return
the same documents, dict orders and types included, or both None.
"""

from __future__ import annotations

import marshal
import os
import shutil
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snavc.engine import scan as scanner
from snavc.engine.load import load_text
from snavc.engine.scan import scan

ROOT = Path(__file__).resolve().parent.parent
CORPORA = [ROOT / "tests", ROOT / "samples", ROOT / "snavc" / "catalog"]


def both(raw: bytes, rel: str = "f.yaml"):
    """(fast, libyaml) results of one file, as comparable tuples."""

    def key(result):
        docs, diags = result
        return (
            [(d.file, d.index, d.line, d.column, d.data, positions(d.pos)) for d in docs],
            [repr(d) for d in diags],
        )

    return key(load_text(rel, raw, "fast")), key(load_text(rel, raw, "libyaml"))


def positions(pos):
    return marshal.loads(pos) if isinstance(pos, bytes) else pos


def same_scanners(text: str) -> None:
    """The C scanner returns what the Python one returns (when it is built)."""
    if scanner._native is None:
        return
    expected = None if scanner._unusual().search(text) else scanner.scan_python(text)
    # repr: dict order, nan, and True against 1
    assert repr(native(text)) == repr(expected)


def native(text: str):
    """The C scanner's documents, their marshalled positions read back."""
    found = scanner.scan_native(text)
    if found is None:
        return None
    return [(line, column, value, marshal.loads(pos)) for line, column, value, pos in found]


def same(raw: bytes) -> None:
    try:
        same_scanners(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        pass
    with warnings.catch_warnings():
        # ruamel (which reports libyaml's syntax errors) warns of a reused anchor: the
        # same for both paths, and not what is compared here
        warnings.simplefilter("ignore")
        fast, reference = both(raw)
    # repr: nan != nan, and True == 1 would hide a boolean read as a number
    assert repr(fast) == repr(reference)


def corpus_files() -> list[Path]:
    return sorted(p for root in CORPORA for p in root.rglob("*.y*ml") if p.is_file())


def test_every_corpus_file_loads_the_same_both_ways():
    files = corpus_files()
    assert len(files) > 200
    scanned = 0
    for p in files:
        raw = p.read_bytes()
        fast, reference = both(raw, str(p.relative_to(ROOT)))
        assert repr(fast) == repr(reference), p
        try:
            same_scanners(raw.decode("utf-8-sig"))
            scanned += scan(raw.decode("utf-8-sig")) is not None
        except UnicodeDecodeError:
            pass
    # the fast path is the one taken: only files with a problem or rare syntax fall back
    assert scanned > 0.8 * len(files)


def test_the_seed_estate_is_read_by_the_fast_path():
    for p in sorted((ROOT / "samples" / "seed").rglob("*.yaml")):
        assert scan(p.read_text(encoding="utf-8")) is not None, p


# -- scalars: YAML 1.2 core schema, as resolve_plain reads them ------------------------

SCALARS = [
    # booleans of YAML 1.1 are strings in 1.2
    *("yes no on off y n Yes NO On OFF".split()),
    *("true True TRUE false False FALSE tRUE fAlse".split()),
    *("null Null NULL ~ nULL".split()),
    # integers: decimal (a leading 0 is decimal), octal 0o, hexadecimal 0x; 0b is text
    *("0 010 007 -010 +1 -1 +0 0o17 0o8 0O17 0x1F 0X1F 0xG 0b101 1_000 00".split()),
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",  # SNV114, from the libyaml path
    "0x8000000000000000",
    "0o1777777777777777777777",
    # floats
    *"1e3 1E3 1e+3 1.5e-3 .5 -.5 +.5 1. -1. 0.0 .inf -.Inf +.INF .nan .NaN .NAN .Nan".split(),
    "1" * 400 + ".5",
    "1e400",
    # what YAML 1.1 resolved and 1.2 does not: timestamps, sexagesimals, merge
    *"2001-01-01 2001-01-01T00:00:00Z 12:30 1:20:30 190:20:30.15 =".split(),
    # text
    "a b",
    "a#b",
    "a  b",
    "é",
    "café crème",
    "日本",
    "😀 x",
    "http://x.example/a?b=1&c=2",
    "a:b",
    "R&D",
    "a*b",
    "-x",
    "-",
    "--",
    "---x",
    "x ---",
    ".",
    "+",
    "a,b",
    "a]b",
    "a}b",
    "a[b",
    "a{b",
]


def _cases(value: str) -> list[str]:
    return [
        f"kind: Site\nv: {value}\n",
        f"kind: Site\nv: {value}   # a comment\n",
        f"kind: Site\nv:\n  - {value}\n  - x\n",
        f"kind: Site\nv:\n- {value}\n",
        f"kind: Site\nv: [{value}]\n",
        f"kind: Site\nv: [x, {value}, y]\n",
        f"kind: Site\nv: {{k: {value}, j: 1}}\n",
        f"kind: Site\nv: '{value}'\n",
        f'kind: Site\nv: "{value}"\n',
        f"kind: Site\n{value}: 1\n",
        f"---\nkind: Site\nv: {value}\n---\nkind: Box\n",
    ]


@pytest.mark.parametrize("value", SCALARS)
def test_scalar_resolution_is_the_same_both_ways(value):
    for text in _cases(value):
        same(text.encode())


def test_plain_scalars_are_read_by_the_fast_path():
    """The table above tests the scanner, not libyaml against itself."""
    read = [v for v in SCALARS if scan(f"kind: Site\nv: {v}\n") is not None]
    assert len(read) > 0.8 * len(SCALARS)
    assert scan("kind: Site\nv: 9223372036854775808\n") is None  # SNV114 has a position


# -- layouts ---------------------------------------------------------------------------

LAYOUTS = [
    "kind: Site\nid: s\n",
    "# head\n\nkind: Site\n\n# mid\nid: s   \n",
    "---\nkind: Site\n---\nkind: Box\n",
    "kind: Site\n---\nkind: Box\n",
    "kind: Site\n---\n",
    "---\n---\nkind: Site\n",
    "kind: Site\n...\n",
    "--- # c\nkind: Site\n",
    "",
    "# nothing\n",
    "kind: Site\nv:\n",
    "kind: Site\nv:\nw: 1\n",
    "kind: Site\nv:   # c\nw: 1\n",
    "kind: Site\nv:\n  a:\n  b: 1\n",
    "kind: Site\nv:\n  a: 1\n  b:\n    c: [1, 2]\n    d: {}\n  e: []\n",
    "kind: Site\ns:\n- a\n- b\nc: 1\n",
    "kind: Site\ns:\n  - a\n  -   b\nc: 1\n",
    "kind: Site\ns:\n  - name: a\n    t: 1\n  - name: b\nc: 1\n",
    "kind: Site\ns:\n- name: a\n  t:\n  - 1\n  - 2\n- name: b\n",
    "kind: Site\ns:\n  -\n    name: a\n",
    "kind: Site\ns:\n  - - a\n    - b\n",
    "kind: Site\ns:\n  - \n",
    "kind: Site\ns:\n  - [a, b]\n  - {a: 1}\n",
    "kind: Site\nv: a\n  b\n",
    "kind: Site\nv:\n  a\n",
    "kind: Site\nv: a\n b: 1\n",
    "kind: Site\nkind: Box\n",
    "kind: Site\nv: {a: 1, a: 2}\n",
    "kind: Site\nv: [a, b,]\n",
    "kind: Site\nv: [a, , b]\n",
    "kind: Site\nv: [a,b]\n",
    "kind: Site\nv: {a:1}\n",
    "kind: Site\nv: [a\n  , b]\n",
    "kind: Site\nv: {a: [1, {b: [2, []]}], c: 'x'}  # c\n",
    "kind: Site\nv: [a] b\n",
    "kind: Site\nv: 'a' b\n",
    "kind: Site\nv: 'a'# c\n",
    "kind: Site\nv: 'it''s'\n",
    'kind: Site\nv: "a\\tb"\n',
    'kind: Site\nv: "\\ud800"\n',
    "kind: Site\nv: 'a\n  b'\n",
    "kind: Site\nv: a: b\n",
    "kind: Site\nv: a:\n",
    "kind: Site\nv: - a\n",
    "kind: Site\nv: &x 1\nw: *x\n",
    "kind: Site\nv: !!str 1\n",
    "kind: Site\nb: &b {x: 1}\nv:\n  <<: *b\n",
    "kind: Site\nv: |\n  text\n",
    "kind: Site\nv: >-\n  text\n",
    "kind: Site\n? v\n: 1\n",
    "kind: Site\n'v': 1\n",
    "kind: Site\nv w: 1\n",
    "kind: Site\nv : 1\n",
    "kind: Site\n  v: 1\n",
    "  kind: Site\n  v: 1\n",
    "- a\n- b\n",
    "just text\n",
    "kind: Site\r\nv: 1\r\n",
    "kind: Site\nv:\t1\n",
    "\ufeffkind: Site\n",
    "kind: Site\nv: a\u2028b\n",
    "kind: Site\nv: a\x85b\n",
    "kind: Site\nv: a\x07b\n",
    "%YAML 1.2\n---\nkind: Site\n",
    "kind: Site\nv: @x\n",
    "kind: Site\nv: `x\n",
    "kind: Site\nv: %x\n",
    "kind: Site\nv: [a, *b]\n",
    "kind: Site\n" + "v:\n" + "".join("  " * i + "a:\n" for i in range(1, 120)),
    "kind: Site\nv: " + "[" * 120 + "]" * 120 + "\n",
]


@pytest.mark.parametrize("text", LAYOUTS)
def test_layouts_load_the_same_both_ways(text):
    same(text.encode())


def test_non_utf8_and_bom_load_the_same_both_ways():
    same(b"kind: Site\nname: caf\xe9\n")
    same(b"\xef\xbb\xbfkind: Site\nname: x\n")


# -- generated documents and mutated files -------------------------------------------

_WORDS = st.sampled_from(
    ["a", "kind", "x-1", "p0.c", "1", "0x1F", "010", "true", "no", "~", "null", "1e3", ".inf"]
)
_SCALAR_TEXT = st.one_of(
    _WORDS,
    st.sampled_from(SCALARS),
    st.text(alphabet="ab é:#-,[]{}'\"&*!|>?%@`~.0123456789 ", min_size=0, max_size=6),
)


def _render(value, indent: int, out: list[str], lead: str) -> None:
    """Block YAML for ``value`` (dict, list or scalar text), with the first line after
    ``lead`` (a key or a list dash)."""
    pad = " " * indent
    if isinstance(value, dict):
        first = True
        for k, v in value.items():
            prefix = lead if first else pad
            first = False
            if isinstance(v, (dict, list)) and v:
                out.append(f"{prefix}{k}:")
                _render(v, indent + 2, out, " " * (indent + 2))
            else:
                out.append(f"{prefix}{k}: {_flow(v)}")
    elif isinstance(value, list):
        first = True
        for v in value:
            prefix = lead if first else pad
            first = False
            if isinstance(v, dict) and v:
                _render(v, indent + 2, out, prefix + "- ")
            else:
                out.append(f"{prefix}- {_flow(v)}")
    else:
        out.append(f"{lead}{value}")


def _flow(v) -> str:
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_flow(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(_flow(x) for x in v) + "]"
    return v


_KEYS = st.sampled_from(["a", "b", "kind", "id", "x-y", "n.1", "0", "true", "c_d"])
_VALUES = st.recursive(
    _SCALAR_TEXT,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_KEYS, inner, max_size=3)),
    max_leaves=12,
)
_DOCS = st.lists(st.dictionaries(_KEYS, _VALUES, min_size=1, max_size=4), min_size=1, max_size=3)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_DOCS, st.sampled_from(["", "---\n"]))
def test_generated_documents_load_the_same_both_ways(docs, head):
    parts = []
    for doc in docs:
        lines: list[str] = []
        _render(doc, 0, lines, "")
        parts.append("\n".join(lines) + "\n")
    same((head + "---\n".join(parts)).encode())


SEED = sorted((ROOT / "samples" / "seed").rglob("*.yaml"))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(SEED),
    st.lists(
        st.tuples(
            st.floats(0, 1),
            st.integers(0, 3),
            st.text(alphabet=" \n-:#,[]{}'\"&*!|>?a0é\t\r.", max_size=3),
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_mutated_files_load_the_same_both_ways(path, edits):
    """Edits of a real file (a character inserted, one removed...) land anywhere in the
    subset or out of it: the fast path must agree with libyaml or step aside."""
    text = path.read_text(encoding="utf-8")[:3000]
    for where, cut, insert in edits:
        at = int(where * len(text))
        text = text[:at] + insert + text[at + cut :]
    same(text.encode())


def test_the_c_scanner_is_built_where_a_compiler_is():
    """setup.py builds _scan.c as optional: a compiler error must not go unnoticed here."""
    import sysconfig

    if (
        not (shutil.which("cc") or shutil.which("gcc"))
        or not Path(sysconfig.get_paths()["include"], "Python.h").exists()
    ):
        pytest.skip("no C compiler or no Python headers: the Python scanner is used")
    assert scanner._native is not None or os.environ.get("SNAVC_SCANNER") == "python"


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.text(
        alphabet=st.one_of(
            st.sampled_from(" \n-:#,[]{}'\"&*!|>?%@`~.+_/ab0129eéx日\\"),
            st.sampled_from("\t\r\x00\x07\x7f\x85\xa0\u2028\u2029\ufeff\ufffe\U0001f600"),
            st.characters(),
        ),
        max_size=80,
    )
)
def test_any_text_scans_the_same_in_c_and_python(text):
    """Arbitrary text, mostly outside the subset: both scanners step aside at the same
    place or read the same documents (and the C one never reads past a line)."""
    same_scanners(text)
    same_scanners("kind: Site\nv: " + text)
    same_scanners("kind: Site\nv:\n  - " + text.replace("\n", "\n  "))


@pytest.mark.skipif(scanner._native is None, reason="the C scanner is not built")
def test_the_c_scanner_reads_a_generated_estate_as_python_does(tmp_path):
    from snavc.bench import generate

    generate.generate(tmp_path, 300)
    files = sorted(tmp_path.rglob("*.yaml"))
    assert len(files) > 30
    for p in files:
        text = p.read_text(encoding="utf-8")
        found = native(text)
        assert found is not None, p
        assert repr(found) == repr(scanner.scan_python(text)), p


@pytest.mark.skipif(scanner._native is None, reason="the C scanner is not built")
def test_a_build_writes_the_same_bytes_with_either_scanner(tmp_path, monkeypatch):
    """End to end: the outputs of a cold build (origins.json holds the lines the
    positions give) do not depend on which scanner read the files."""
    from snavc.bench.generate import generate
    from snavc.engine.pipeline import build

    monkeypatch.setenv("SNAVC_NO_CACHE", "1")
    repo = tmp_path / "repo"
    generate(repo, 300)
    # a comment and a flow mapping or two, so that positions are not all alike
    site = sorted(repo.rglob("*-s01.yaml"))[0]
    site.write_text("# kept\n" + site.read_text().replace("\n---\n", "\n---\n# between\n", 1))
    outs = []
    for native in (True, False):
        if not native:
            monkeypatch.setattr(scanner, "_native", None)
        copy = tmp_path / f"repo-{native}"  # (a build writes snav.lock into its repository)
        shutil.copytree(repo, copy)
        out = tmp_path / f"out-{native}"
        assert build(copy, out).status == "written"
        outs.append(out)
    for name in ("effective.json", "origins.json", "diagnostics.json", "lock-report.json"):
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name


_QUOTED = st.lists(
    st.one_of(
        st.sampled_from(["\\" + c for c in '\\"/ ntrabvfe0\tx_NLPu']),  # read, or left to libyaml
        st.sampled_from(['"', "\\", "é", "#", ":", " ", "'"]),
        st.text(alphabet="abc XYZ-,.", max_size=4),
    ),
    max_size=6,
).map("".join)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_QUOTED, st.sampled_from(["key: {}\n", "key: [a, {}]\n", "key: {{x: {}}}\n", "- {}\n"]))
def test_double_quoted_escapes_read_as_libyaml_reads_them(inside, layout):
    """The escapes the line scanner reads (\\\\ \\" \\n \\t...) give libyaml's values and
    positions, in C and in Python; any other (\\x, \\u...) or a broken quote goes to
    libyaml as before (an imported repository's "Call the \\"NOC\\"" sent its whole
    file there)."""
    text = "kind: Contact\n" + ("items:\n  " if layout.startswith("-") else "")
    text += layout.format('"' + inside + '"')
    same(text.encode("utf-8"))


def test_an_escaped_quote_keeps_the_file_on_the_fast_path():
    text = 'kind: Equipment\ninstructions: "Call the \\"NOC\\"\\nthen the on-call"\n'
    [(_, _, value, _)] = scan(text)
    assert value["instructions"] == 'Call the "NOC"\nthen the on-call'
    assert scanner.scan_python(text) is not None
    assert scan('kind: Contact\nname: "\\x41"\n') is None  # left to libyaml
