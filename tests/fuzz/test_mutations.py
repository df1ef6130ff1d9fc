"""Mutated repositories (issue 10, "What to build"): whatever the damage, snavc answers.

Valid repositories (samples/seed and small generated estates, snavc.bench.generate) get
one to four mutations: a byte flipped, inserted or the file cut short; a line deleted or
duplicated; a key renamed (to a sibling key, a near miss, a YAML construct); a value
swapped for a wrong type, a huge or odd number, control characters, a YAML construct
or another line's value; documents reordered or moved to another file. Then:

- ``validate`` (with either YAML parser) never exits 3 and prints no traceback, in json
  and in text;
- it exits 0 or 1, and every diagnostic (related places included) points inside its
  file: line <= number of lines, column <= line length + 1;
- ``validate`` clean => ``build`` succeeds.

Quick in ``make test`` (a few fixed examples); ``make fuzz`` runs it for FUZZ_MINUTES
(profile.py). A failure prints the reproducer (``@reproduce_failure`` blob) and the
mutated files.
"""

from __future__ import annotations

import functools
import re
import tempfile
from pathlib import Path

from hostile.helpers import SEED, positions_outside, snavc, write_repo
from hypothesis import given, note
from hypothesis import strategies as st

from snavc.bench.generate import generate

from .profile import PROFILE, rounds


@functools.cache
def base(name: str) -> dict[str, bytes]:
    """A valid repository's files, ``rel -> bytes``."""
    if name == "seed":
        root = SEED
    else:  # "gen-N": the smallest generated estate of seed N (100 equipment)
        root = Path(tempfile.mkdtemp(prefix="snavc-fuzz-")) / name
        generate(root, 10, seed=int(name.split("-")[1]))
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".snavc" not in p.parts
    }


BASES = ["seed", "gen-1", "gen-2"]

_KEY_LINE = re.compile(rb"^(\s*(?:-\s+)?)([A-Za-z_][A-Za-z0-9_]*)(:)", re.M)
_VALUE_LINE = re.compile(
    rb"^(\s*(?:-\s+)?[A-Za-z_][A-Za-z0-9_]*:[ ]+)([^\n#]*?)([ ]*(?:#.*)?)$", re.M
)

ODD_KEYS = [
    b"",
    b"<<",
    b"? x",
    b"&a x",
    b"*a",
    b"!!python/object:os.system",
    b"kind",
    b"id",
    b"at",
    b"secret",
    b"password",
    b"\xe2\x80\xae",
    b"k\x1bey",
    b"1",
    b"null",
    b"[a]",
]
# Input classes of issue 10 items that other helpers fixed on their branches: their
# values were left out of the pool until the fix was merged (a name here leaves its class
# out again, should a fix be reverted). Items 1 (huge integers) and 18 (positions after a
# CR-only line break) are merged (h/load): the set is empty.
KNOWN_OPEN: set[str] = set()
KNOWN_VALUES = {
    "item 1": [
        b"9" * 5000,
        b"0x" + b"f" * 5000,
        b"-9223372036854775809",
        b"18446744073709551616",
        b"99999999999999999999",
    ],
}
ODD_VALUES = [
    b"[1, 2]",
    b"{a: 1}",
    b"true",
    b"null",
    b'""',
    b"~",
    b"-1",
    b"0",
    b"4" * 18,  # big, within 64 bits
    b"1e999",
    b"-1e999",
    b".nan",
    b"-.inf",
    b"0o777",
    b"0b101",
    b"1_000",
    b"12:30:00",
    b"2024-01-01",
    b'"\x1b[31m"',
    b'"\\e[2J\\a"',
    b'"\\u202e"',
    b'"\\0"',
    b"a\tb",
    b"!!binary aGk=",
    b"*undefined",
    b"&x",
    b"'",
    b'"',
    b"|",
    b">-",
    b"- a",
    b"!!set {a}",
    b"!!omap [a: 1]",
    b"{{a: 1}: 2}",
    b"[[[[[[[[[[]]]]]]]]]]",
    b"env:X",
    b"file:../../../../etc/passwd",
    b"x" * 300,
    b"\xff\xfe",
    b"\x00",
    b"\r",
    b"\xc2\x85",
    b"\xe2\x80\xa8",
]
ODD_VALUES += [v for item, values in KNOWN_VALUES.items() if item not in KNOWN_OPEN for v in values]


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


class Case:
    """A damaged repository: ``base`` and every file; its repr names the changed files
    only (Hypothesis prints it with a failure; the files' bytes go to the notes)."""

    def __init__(self, base: str, files: dict[str, bytes], loader: str = "fast"):
        self.base, self.files, self.loader = base, files, loader

    def changed(self) -> dict[str, bytes]:
        return {rel: data for rel, data in self.files.items() if base(self.base).get(rel) != data}

    def __repr__(self) -> str:
        gone = sorted(set(base(self.base)) - set(self.files))
        return (
            f"Case({self.base!r}, changed={sorted(self.changed())}, dropped={gone}, "
            f"loader={self.loader!r})"
        )


@st.composite
def mutated(draw) -> Case:
    name = draw(st.sampled_from(BASES))
    files = dict(base(name))
    names = sorted(files)
    keys = sorted({m.group(2) for data in files.values() for m in _KEY_LINE.finditer(data)})
    for _ in range(draw(st.integers(1, 4))):
        rel = draw(st.sampled_from(names))
        data = files[rel]
        op = draw(
            st.sampled_from(
                [
                    "flip",
                    "insert",
                    "cut",
                    "delete",
                    "duplicate",
                    "rename",
                    "value",
                    "swap",
                    "reorder",
                    "move",
                    "copy",
                    "drop",
                ]
            )
        )
        note(f"{op} in {rel}")
        if op in ("flip", "insert", "cut") and data:
            at = draw(st.integers(0, len(data) - 1))
            if op == "flip":
                data = data[:at] + bytes([draw(st.integers(0, 255))]) + data[at + 1 :]
            elif op == "insert":
                data = data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]
            else:
                data = data[:at]
        elif op in ("delete", "duplicate"):
            lines = _lines(data)
            at = draw(st.integers(0, len(lines) - 1))
            lines[at : at + 1] = [] if op == "delete" else [lines[at], lines[at]]
            data = b"\n".join(lines)
        elif op == "rename":
            found = list(_KEY_LINE.finditer(data))
            if found:
                m = draw(st.sampled_from(found))
                new = draw(
                    st.one_of(
                        st.sampled_from(keys),
                        st.sampled_from(ODD_KEYS),
                        st.just(m.group(2)[:-1]),  # a near miss
                        st.just(m.group(2) + b"s"),
                    )
                )
                data = data[: m.start(2)] + new + data[m.end(2) :]
        elif op in ("value", "swap"):
            found = list(_VALUE_LINE.finditer(data))
            if found:
                m = draw(st.sampled_from(found))
                if op == "value":
                    new = draw(
                        st.one_of(
                            st.sampled_from(ODD_VALUES),
                            st.text(max_size=12).map(lambda t: t.encode("utf-8", "surrogatepass")),
                        )
                    )
                else:  # another line's value, of this file or another
                    other = files[draw(st.sampled_from(names))]
                    values = [v.group(2) for v in _VALUE_LINE.finditer(other)] or [b"x"]
                    new = draw(st.sampled_from(values))
                data = data[: m.start(2)] + new + data[m.end(2) :]
        elif op == "reorder":
            docs = re.split(rb"\n---\n", data)
            data = b"\n---\n".join(draw(st.permutations(docs)))
        elif op == "copy":  # a document twice: duplicate IDs, duplicate overrides...
            docs = re.split(rb"\n---\n", data)
            doc = docs[draw(st.integers(0, len(docs) - 1))]
            to = draw(st.sampled_from([*names, "copied.yaml"]))
            files[to] = files.get(to, b"").rstrip(b"\n") + b"\n---\n" + doc + b"\n"
            names = sorted(files)
            data = files[rel]
        elif op == "drop" and len(names) > 1:  # a whole file gone: dangling references
            del files[rel]
            names = sorted(files)
            continue
        elif op == "move":
            docs = re.split(rb"\n---\n", data)
            if len(docs) > 1:
                doc = docs.pop(draw(st.integers(0, len(docs) - 1)))
                data = b"\n---\n".join(docs)
                to = draw(st.sampled_from([*names, "moved/new.yaml"]))
                if to != rel:
                    files[to] = files.get(to, b"").rstrip(b"\n") + b"\n---\n" + doc + b"\n"
                    names = sorted(files)
        files[rel] = data
    return Case(name, files, draw(st.sampled_from(["fast", "ruamel"])))


def _known_position(place: dict, files: dict[str, bytes]) -> bool:
    """A position outside its file of a class KNOWN_OPEN lists (see there)."""
    data = files.get(place["file"], b"")
    lone_cr = re.search(rb"\r(?!\n)", data) is not None
    return "item 18" in KNOWN_OPEN and lone_cr and place["code"] in ("SNV101", "SNV102")


def _check(files: dict[str, bytes], loader: str = "fast") -> None:
    with tempfile.TemporaryDirectory(prefix="snavc-fuzz-") as tmp:
        repo = write_repo(Path(tmp) / "repo", files, defaults=False)
        run = snavc("validate", "--format", "json", "--loader", loader, repo).sane()
        assert run.code in (0, 1), run.stdout + run.stderr
        diags = run.diagnostics
        assert diags is not None, run.stdout
        note(f"diagnostics: {[(d['code'], d['file'], d['line'], d['column']) for d in diags]}")
        assert [p for p in positions_outside(repo, diags) if not _known_position(p, files)] == []
        assert snavc("validate", "--loader", loader, repo).sane().code == run.code
        if run.code == 0:
            built = snavc("build", "--loader", loader, repo, "-o", Path(tmp) / "out").sane()
            assert built.code == 0, built.stdout + built.stderr


@PROFILE
@given(mutated())
def _mutated_repository(case: Case):
    note(f"base {case.base}; changed files: {case.changed()!r}")
    _check(case.files, case.loader)


def test_mutated_repositories_get_diagnostics_never_crashes():
    rounds(_mutated_repository)
