"""Load stage (snavc.engine.load): files -> documents with positions, and every way a file can
be malformed (SNV1xx). Each malformed case runs through both parsers (``fast``: libyaml,
``ruamel``: the reference) and pins the exact diagnostics; both must agree.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import pytest

import snavc.engine.load as loadmod
from snavc.diagnostics import Location
from snavc.engine.load import Document, discover, fast_available, load_file, load_repo, load_text

BACKENDS = ["fast", "ruamel"]
SYNTAX = "YAML syntax error: "
NOT_A_MAPPING = "not a mapping: every document must be an object with a 'kind'"
EMPTY = "empty document: every document must be an object with a 'kind'"
RECURSIVE = "a recursive alias (a node that contains itself) cannot be expanded"
TOO_DEEP = "document is nested too deeply: more than 100 levels of mappings and lists"
YAML_VERSION = (
    "found incompatible YAML document (version {}: snavc reads 1.1 and 1.2; "
    "write %YAML 1.2 or remove the directive)"
)


def load(raw: str | bytes, backend: str = "fast", rel: str = "f.yaml"):
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    return load_text(rel, raw, backend)


def summary(diags) -> list[tuple]:
    """What each case pins: severity, code, line, column, exact message, related places."""
    return [
        (
            d.severity,
            d.code,
            d.line,
            d.column,
            d.message,
            [(r.line, r.column, r.message) for r in d.related],
        )
        for d in diags
    ]


def billion_laughs(levels: int) -> str:
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_libyaml_is_available():
    """The ``fast`` backend silently falls back to ruamel without libyaml: then every
    "both backends" test below would compare ruamel with itself."""
    assert fast_available()


# -- malformed input: (id, file bytes, expected diagnostics) --------------------------------

E, W = "error", "warning"

MALFORMED = [
    # SNV101: YAML syntax
    (
        "syntax-unclosed-flow",
        "kind: Partner\nid: [a, b\nname: x\n",
        [
            (
                E,
                "SNV101",
                3,
                5,
                SYNTAX + "expected ',' or ']', but got ':' (while parsing a flow sequence)",
                [(2, 5, "while parsing a flow sequence")],
            ),
        ],
    ),
    (
        "syntax-bad-indent",
        "kind: Partner\n  id: x\n",
        [(E, "SNV101", 2, 5, SYNTAX + "mapping values are not allowed here", [])],
    ),
    (
        "syntax-undefined-alias",
        "kind: Partner\nname: *nope\n",
        [(E, "SNV101", 2, 7, SYNTAX + "found undefined alias 'nope'", [])],
    ),
    (
        "syntax-stream-end-crlf",
        b"kind: P\r\nid: x\r\nname: [a, \r\n",
        [
            (
                E,
                "SNV101",
                4,
                1,
                SYNTAX
                + "expected the node content, but found '<stream end>' (while parsing a flow node)",
                [],
            )
        ],
    ),
    (
        "syntax-control-character",
        b"kind: Partner\nname: a\x00b\n",
        [
            (
                E,
                "SNV101",
                2,
                8,
                SYNTAX + "unacceptable character #x0000: special characters are not allowed",
                [],
            )
        ],
    ),
    # directives: a %YAML version other than 1.1 and 1.2 is refused as libyaml refuses
    # it (ruamel failed an assertion on it: exit 3); others are read as YAML says
    (
        "yaml-directive-1.3",
        "%YAML 1.3\n---\nkind: Project\nname: x\n",
        [(E, "SNV101", 1, 1, SYNTAX + YAML_VERSION.format("1.3"), [])],
    ),
    (
        "yaml-directive-1.0",
        "%YAML 1.0\n---\nkind: Project\nname: x\n",
        [(E, "SNV101", 1, 1, SYNTAX + YAML_VERSION.format("1.0"), [])],
    ),
    (
        "yaml-directive-1.3-second-document",
        "kind: Partner\n...\n%YAML 1.3\n---\nkind: Site\n",
        [(E, "SNV101", 3, 1, SYNTAX + YAML_VERSION.format("1.3"), [])],
    ),
    (
        "yaml-directive-2.0",
        "%YAML 2.0\n---\nkind: Project\n",
        [
            (
                E,
                "SNV101",
                1,
                1,
                SYNTAX + "found incompatible YAML document (version 1.* is required)",
                [],
            )
        ],
    ),
    (
        "yaml-directive-twice",
        "%YAML 1.2\n%YAML 1.2\n---\nkind: Project\n",
        [(E, "SNV101", 2, 1, SYNTAX + "found duplicate YAML directive", [])],
    ),
    (
        "yaml-directive-extra-word",
        "%YAML 1.2 extra\n---\nkind: Project\n",
        [
            (
                E,
                "SNV101",
                1,
                11,
                SYNTAX
                + "expected a comment or a line break, but found 'e' (while scanning a directive)",
                [(1, 1, "while scanning a directive")],
            )
        ],
    ),
    (
        "tag-directive-twice",
        "%TAG !e! tag:a:\n%TAG !e! tag:b:\n---\nkind: Project\n",
        [(E, "SNV101", 2, 1, SYNTAX + "duplicate tag handle '!e!'", [])],
    ),
    # SNV102: encoding
    (
        "latin-1",
        b"kind: Contact\nname: caf\xe9\n",
        [(E, "SNV102", 2, 10, "file is not valid UTF-8 (byte 0xe9); save it as UTF-8", [])],
    ),
    (
        "utf-16",
        "kind: Contact\n".encode("utf-16"),
        [(E, "SNV102", 1, 1, "file is not valid UTF-8 (byte 0xff); save it as UTF-8", [])],
    ),
    # SNV103: tabs, one diagnostic per indented line, at the first tab
    (
        "tab-indent",
        "kind: TimePeriod\nranges:\n\tmonday: []\n  \ttuesday: []\n",
        [
            (E, "SNV103", 3, 1, "tab character in indentation: YAML indents with spaces only", []),
            (E, "SNV103", 4, 3, "tab character in indentation: YAML indents with spaces only", []),
        ],
    ),
    # SNV104: duplicate keys point at the second, with the first as related location
    (
        "duplicate-key",
        "kind: Contact\nid: a\nname: x\nid: b\n",
        [
            (
                E,
                "SNV104",
                4,
                1,
                "duplicate key 'id': a key may appear once per mapping",
                [(2, 1, "first set here")],
            )
        ],
    ),
    (
        "duplicate-key-nested",
        "kind: Equipment\nperiods:\n  check: a\n  notification: b\n  check: c\n",
        [
            (
                E,
                "SNV104",
                5,
                3,
                "duplicate key 'check': a key may appear once per mapping",
                [(3, 3, "first set here")],
            )
        ],
    ),
    (
        "duplicate-key-quoted",
        'kind: Contact\n"name": x\nname: y\n',
        [
            (
                E,
                "SNV104",
                3,
                1,
                "duplicate key 'name': a key may appear once per mapping",
                [(2, 1, "first set here")],
            )
        ],
    ),
    (
        "duplicate-key-after-merge",
        "base: &b {x: 1}\n<<: *b\nx: 2\nx: 3\n",
        [
            (
                E,
                "SNV104",
                4,
                1,
                "duplicate key 'x': a key may appear once per mapping",
                [(3, 1, "first set here")],
            )
        ],
    ),
    (
        "duplicate-merge-key",
        "kind: ServiceTemplateOverride\n<<: {criticality: 2}\nname: x\n"
        "<<: {criticality: 3, check_interval: 77}\n",
        [
            (
                E,
                "SNV104",
                4,
                1,
                "duplicate key '<<': a key may appear once per mapping; "
                "merge several mappings with one `<<: [*a, *b]`",
                [(2, 1, "first set here")],
            )
        ],
    ),
    (
        "duplicate-merge-key-nested-aliases",
        "a: &a {x: 1}\nb: &b {y: 2}\nc:\n  <<: *a\n  <<: *b\n",
        [
            (
                E,
                "SNV104",
                5,
                3,
                "duplicate key '<<': a key may appear once per mapping; "
                "merge several mappings with one `<<: [*a, *b]`",
                [(4, 3, "first set here")],
            )
        ],
    ),
    # SNV105: empty documents, reported at their `---`
    ("empty-between", "kind: Partner\n---\n---\nkind: Site\n", [(E, "SNV105", 2, 1, EMPTY, [])]),
    ("empty-trailing", "kind: Partner\n---\n", [(E, "SNV105", 2, 1, EMPTY, [])]),
    (
        "empty-with-comment",
        "kind: Partner\n--- # nothing here\n# nor here\n---\nkind: Site\n",
        [(E, "SNV105", 2, 1, EMPTY, [])],
    ),
    ("empty-explicit-null", "kind: Partner\n---\n~\n", [(E, "SNV105", 3, 1, EMPTY, [])]),
    # SNV106: not a mapping
    (
        "list",
        "- kind: Contact\n- kind: Contact\n",
        [(E, "SNV106", 1, 1, "document is a list, " + NOT_A_MAPPING, [])],
    ),
    (
        "string",
        "kind: Partner\n---\njust words\n",
        [(E, "SNV106", 3, 1, "document is a string, " + NOT_A_MAPPING, [])],
    ),
    ("number", "5\n", [(E, "SNV106", 1, 1, "document is a number, " + NOT_A_MAPPING, [])]),
    ("boolean", "true\n", [(E, "SNV106", 1, 1, "document is a boolean, " + NOT_A_MAPPING, [])]),
    # SNV107: aliases, at the alias that recurses or that expands the document past the
    # limit (the first that does, in reading order)
    ("recursive-alias", "kind: Contact\nx: &x [*x]\n", [(E, "SNV107", 2, 8, RECURSIVE, [])]),
    (
        "recursive-alias-mapping",
        "kind: Contact\nx: &x {self: *x}\n",
        [(E, "SNV107", 2, 14, RECURSIVE, [])],
    ),
    (
        "recursive-alias-block",
        "kind: Contact\nid: x1\nat: client1\nname: X\nfoo: &a\n  bar: *a\n",
        [(E, "SNV107", 6, 8, RECURSIVE, [])],
    ),
    (
        "recursive-alias-deeper",
        "kind: Contact\nx: &x {a: [1, {b: *x}]}\n",
        [(E, "SNV107", 2, 19, RECURSIVE, [])],
    ),
    (
        "recursive-alias-after-an-anchor-defined-again",
        "kind: Contact\nx: &x [a]\ny: &x [b, *x]\n",
        [(E, "SNV107", 3, 11, RECURSIVE, [])],
    ),
    (
        "alias-bomb-second-document",
        "kind: Partner\n---\n" + billion_laughs(10),
        [
            (
                E,
                "SNV107",
                7,
                10,
                "aliases expand this document to 4,412,961,516 nodes from 30 written (limit 10,300): "
                "refused as an alias bomb",
                [],
            ),
        ],
    ),
    # SNV109: what the input language does not use
    (
        "local-tag",
        "kind: !custom Partner\n",
        [
            (
                E,
                "SNV109",
                1,
                7,
                "tag !custom is not supported (only YAML core tags such as !!str)",
                [],
            )
        ],
    ),
    (
        "binary-tag",
        "kind: Partner\nid: !!binary aGVsbG8=\n",
        [
            (
                E,
                "SNV109",
                2,
                5,
                "tag tag:yaml.org,2002:binary is not supported (only YAML core tags such as !!str)",
                [],
            )
        ],
    ),
    (
        "set-tag",
        "kind: Partner\nx: !!set {a, b}\n",
        [(E, "SNV109", 2, 4, "tag tag:yaml.org,2002:set is not supported", [])],
    ),
    (
        "python-tag",
        "kind: Partner\nx: !!python/object:os.system {}\n",
        [(E, "SNV109", 2, 4, "tag tag:yaml.org,2002:python/object:os.system is not supported", [])],
    ),
    (
        "tag-mismatch",
        "kind: Partner\nenabled: !!bool yes\n",
        [(E, "SNV109", 2, 10, "value 'yes' does not match its tag tag:yaml.org,2002:bool", [])],
    ),
    (
        "non-scalar-key",
        "kind: Partner\n[a, b]: 1\n",
        [(E, "SNV109", 2, 1, "mapping keys must be plain strings", [])],
    ),
    (
        "merge-of-a-list",
        "a: &a [1]\nc:\n  <<: *a\n",
        [(E, "SNV109", 1, 8, "a merge key (<<) takes a mapping or a list of mappings", [])],
    ),
    # past libyaml's limit of 1000 levels (ruamel fails on its recursion limit): at the
    # mapping that opens level 101
    (
        "deep-block-nesting",
        "".join("  " * i + "a:\n" for i in range(1_100)),
        [(E, "SNV109", 101, 201, TOO_DEEP, [])],
    ),
    # SNV110: nothing at all (a warning)
    ("empty-file", "", [(W, "SNV110", 1, 1, "file holds no YAML document", [])]),
    (
        "comments-only",
        "# nothing yet\n\n# still nothing\n",
        [(W, "SNV110", 1, 1, "file holds no YAML document", [])],
    ),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("raw", "expected"), [pytest.param(r, e, id=i) for i, r, e in MALFORMED])
def test_malformed_input(raw, expected, backend):
    docs, diags = load(raw, backend)
    assert summary(diags) == expected
    assert docs == [] or expected[0][1] in ("SNV105", "SNV106", "SNV107")
    assert all(d.file == "f.yaml" for d in diags)
    assert all(r.file == "f.yaml" for d in diags for r in d.related)


@pytest.mark.parametrize(
    "raw", [pytest.param(r, id=i) for i, r, _ in MALFORMED if not i.startswith("deep-")]
)
def test_malformed_input_same_diagnostics_from_both_backends(raw):
    assert load(raw, "fast") == load(raw, "ruamel")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "directives",
    ["%YAML 1.1\n", "%YAML 1.2\n", "%TAG !e! tag:example.net,2025:\n", "%FOO bar baz\n"],
)
def test_directives_yaml_reads_are_read(directives, backend):
    """%YAML 1.1 and 1.2, %TAG, and a directive YAML reserves (ignored, as YAML says):
    the document loads the same with either loader (scalars by the core schema)."""
    docs, diags = load(directives + "---\nkind: Project\nname: x\non: yes\n", backend)
    assert diags == []
    assert [(d.line, d.data) for d in docs] == [(3, {"kind": "Project", "name": "x", "on": "yes"})]
    assert docs[0].loc("name") == Location("f.yaml", 4, 7)


def test_deep_flow_nesting_is_refused_quickly():
    """SNV109, not a RecursionError: 10,000 nested ``[`` (libyaml refuses past 1000
    levels; the ruamel backend gets there too, but its scanner takes seconds)."""
    start = time.perf_counter()
    docs, diags = load("a: " + "[" * 10_000 + "]" * 10_000 + "\n", "fast")
    assert time.perf_counter() - start < 1.0
    assert docs == []
    assert summary(diags) == [(E, "SNV109", 1, 103, TOO_DEEP, [])]


def test_good_documents_beside_a_bad_one_still_load():
    """One bad document does not hide the others of the file (collect, then report all)."""
    docs, diags = load("kind: Partner\nid: p\n---\n- a list\n---\nkind: Site\nid: s\n")
    assert [(d.index, d.line, d.data["kind"]) for d in docs] == [(0, 1, "Partner"), (2, 6, "Site")]
    assert [(d.code, d.line) for d in diags] == [("SNV106", 4)]


def test_a_utf8_byte_order_mark_is_accepted():
    docs, diags = load(b"\xef\xbb\xbfkind: Partner\nid: p\n")
    assert diags == []
    assert docs[0].data == {"kind": "Partner", "id": "p"}
    assert docs[0].loc("id") == Location("f.yaml", 2, 5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_alias_bomb_is_refused_fast(backend):
    """SNV107: a billion-laughs document of 10 levels (3.4e9 strings once expanded) is
    refused before anything is expanded."""
    raw = billion_laughs(10)
    start = time.perf_counter()
    docs, diags = load(raw, backend)
    elapsed = time.perf_counter() - start
    assert docs == []
    # at the first alias the limit is passed at: l4's first *l3 (7,381 nodes each)
    assert [(d.code, d.line, d.column) for d in diags] == [("SNV107", 5, 10)]
    assert "refused as an alias bomb" in diags[0].message
    assert elapsed < 2.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_ordinary_aliases_are_expanded(backend):
    docs, diags = load("kind: Contact\nx: &common [a, b]\ny: *common\n", backend)
    assert diags == []
    assert docs[0].data == {"kind": "Contact", "x": ["a", "b"], "y": ["a", "b"]}


@pytest.mark.parametrize("backend", BACKENDS)
def test_file_over_the_size_limit_is_refused_unread(tmp_path, monkeypatch, backend):
    """SNV108: the limit is checked on the file's size, before reading it; a problem
    with the file as a whole is reported at its line 1, column 1."""
    monkeypatch.setattr(loadmod, "MAX_FILE_BYTES", 10)
    big = tmp_path / "big.yaml"
    big.write_text("kind: Partner\nid: p\n", encoding="utf-8")
    docs, diags = load_file(big, "big.yaml", backend)
    assert docs == []
    assert summary(diags) == [
        (
            E,
            "SNV108",
            1,
            1,
            "file is 20 bytes, over the 10-byte limit: split it into several files",
            [],
        )
    ]
    small = tmp_path / "small.yaml"
    small.write_text("kind: P\n", encoding="utf-8")
    assert load_file(small, "small.yaml", backend)[1] == []


def test_unreadable_file_is_reported(tmp_path):
    """SNV111: a file that cannot be read (here: a dangling symbolic link inside the repo)."""
    (tmp_path / "gone.yaml").symlink_to(tmp_path / "missing.yaml")
    loaded = load_repo(tmp_path)
    assert [(d.code, d.file, d.line, d.column) for d in loaded.diagnostics] == [
        ("SNV111", "gone.yaml", 1, 1)
    ]
    assert loaded.diagnostics[0].message.startswith("cannot read file: ")


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links")
def test_a_symbolic_link_that_loops_is_an_unreadable_file(tmp_path):
    """SNV111 at 1:1, as for a broken link: a ``*.yaml`` link to itself (or a loop of
    two) was reported as a folder, with no position. A loop with another name points
    nowhere, as a broken link does: not a YAML file, not read."""
    (tmp_path / "self.yaml").symlink_to("self.yaml")
    (tmp_path / "a.yml").symlink_to("b.yml")
    (tmp_path / "b.yml").symlink_to("a.yml")
    (tmp_path / "clients").symlink_to("clients")
    (tmp_path / "ok.yaml").write_text("kind: Partner\nid: p\n", encoding="utf-8")
    loaded = load_repo(tmp_path)
    loops = "cannot read file: Too many levels of symbolic links"
    assert [(d.code, d.file, d.line, d.column, d.message) for d in loaded.diagnostics] == [
        ("SNV111", "a.yml", 1, 1, loops),
        ("SNV111", "b.yml", 1, 1, loops),
        ("SNV111", "self.yaml", 1, 1, loops),
    ]
    assert [d.file for d in loaded.documents] == ["ok.yaml"]


# -- YAML 1.2 core schema ---------------------------------------------------------------

SCALARS = """\
yes_: yes
no_: No
on_: on
off_: off
y_: y
true_: true
false_: False
octal_like: 010
octal: 0o17
hex: 0x1f
int_: -42
plus: +7
float_: 1.5
exp: 1e3
inf_: .inf
ninf: -.Inf
tilde: ~
null_: null
Null_: Null
NULL_: NULL
empty:
quoted_int: '010'
quoted_null: "null"
time_like: 08:00
sexagesimal: 1:30
date_like: 2024-01-01
str_tag: !!str 5
int_tag: !!int '7'
float_tag: !!float 1
"""

SCALAR_VALUES = {
    "yes_": "yes",
    "no_": "No",
    "on_": "on",
    "off_": "off",
    "y_": "y",
    "true_": True,
    "false_": False,
    "octal_like": 10,
    "octal": 15,
    "hex": 31,
    "int_": -42,
    "plus": 7,
    "float_": 1.5,
    "exp": 1000.0,
    "inf_": math.inf,
    "ninf": -math.inf,
    "tilde": None,
    "null_": None,
    "Null_": None,
    "NULL_": None,
    "empty": None,
    "quoted_int": "010",
    "quoted_null": "null",
    "time_like": "08:00",
    "sexagesimal": "1:30",
    "date_like": "2024-01-01",
    "str_tag": "5",
    "int_tag": 7,
    "float_tag": 1.0,
}


@pytest.mark.parametrize("backend", BACKENDS)
def test_scalars_follow_yaml_1_2_core_schema(backend):
    """yes/on stay strings, 010 is ten (not octal 8), no sexagesimals, no dates."""
    docs, diags = load(SCALARS, backend)
    assert diags == []
    data = docs[0].data
    assert data == SCALAR_VALUES
    # bool is an int subclass: pin the types, not only the values
    assert {k: type(v) for k, v in data.items()} == {k: type(v) for k, v in SCALAR_VALUES.items()}


@pytest.mark.parametrize("backend", BACKENDS)
def test_nan(backend):
    docs, _ = load("x: .nan\n", backend)
    assert math.isnan(docs[0].data["x"])


@pytest.mark.parametrize("backend", BACKENDS)
def test_keys_are_always_strings(backend):
    docs, diags = load("1: a\ntrue: b\nnull: c\n~: d\n", backend)
    assert diags == []
    assert docs[0].data == {"1": "a", "true": "b", "null": "c", "~": "d"}


# -- merge keys ---------------------------------------------------------------------------

MERGE = """\
kind: Equipment
services:
  - &web
    template: http
    check_interval: 30
  - <<: *web
    name: http-alt
    check_interval: 60
  - <<: [*web, {criticality: 5, template: never}]
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_merge_keys(backend):
    """``<<`` merges keys not set in the mapping itself; later sources do not override
    earlier ones; an explicit key after the merge wins without being a duplicate."""
    docs, diags = load(MERGE, backend)
    assert diags == []
    doc = docs[0]
    assert doc.data["services"] == [
        {"template": "http", "check_interval": 30},
        {"template": "http", "check_interval": 60, "name": "http-alt"},
        {"template": "http", "check_interval": 30, "criticality": 5},
    ]
    # explicit keys point at themselves; merged keys at the anchor's text
    assert doc.loc("services", 1, "check_interval") == Location("f.yaml", 8, 21)
    assert doc.loc("services", 1, "template") == Location("f.yaml", 4, 15)
    assert doc.loc("services", 1, "template", key=True) == Location("f.yaml", 4, 5)
    assert doc.loc("services", 2, "criticality", key=True) == Location("f.yaml", 9, 17)
    assert doc.loc("services", 2, "criticality") == Location("f.yaml", 9, 30)


# -- documents and positions --------------------------------------------------------------

MULTI = """\
# leading comment
kind: Partner
id: partner
---
kind: Client   # after a comment

---
# a comment first

kind: Site
id: s1
...
---
  kind: Box
  id: indented
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_multiple_documents_per_file(backend):
    """Document.line/column is where the document's mapping starts (its first key)."""
    docs, diags = load(MULTI, backend)
    assert diags == []
    assert [(d.index, d.line, d.column, d.kind) for d in docs] == [
        (0, 2, 1, "Partner"),
        (1, 5, 1, "Client"),
        (2, 10, 1, "Site"),
        (3, 14, 3, "Box"),
    ]
    assert docs[3].loc("id") == Location("f.yaml", 15, 7)


NESTED = """\
kind: Equipment
id: srv-web-01
periods: {check: office-hours}
notification:
  contacts: [noc, support]
  groups:
    - oncall
services:
  - name: http-frontend
    template: http
  -   template: cpu
      check_interval: 30
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_document_loc(backend):
    """Document.loc: values by default, keys with key=True, list items, and the deepest
    existing parent for a path that does not exist (where a missing field is reported)."""
    doc = load(NESTED, backend)[0][0]
    loc = doc.loc
    cases = {
        (): (1, 1),
        ("id",): (2, 5),
        ("periods",): (3, 10),
        ("periods", "check"): (3, 18),
        ("notification",): (5, 3),
        ("notification", "contacts"): (5, 13),
        ("notification", "contacts", 0): (5, 14),
        ("notification", "contacts", 1): (5, 19),
        ("notification", "groups", 0): (7, 7),
        ("services", 0): (9, 5),
        ("services", 0, "template"): (10, 15),
        ("services", 1): (11, 7),
        ("services", 1, "check_interval"): (12, 23),
        # missing: the deepest parent that exists
        ("name",): (1, 1),
        ("services", 1, "name"): (11, 7),
        ("services", 7, "name"): (9, 3),
        ("notification", "contacts", 5): (5, 13),
    }
    for path, (line, col) in cases.items():
        assert loc(*path) == Location("f.yaml", line, col), path
    keys = {
        ("id",): (2, 1),
        ("periods", "check"): (3, 11),
        ("notification", "groups"): (6, 3),
        ("services", 1, "check_interval"): (12, 7),
        # a list index has no key: key=True gives the item itself
        ("notification", "contacts", 1): (5, 19),
    }
    for path, (line, col) in keys.items():
        assert loc(*path, key=True) == Location("f.yaml", line, col), path
    assert loc("id", message="here") == Location("f.yaml", 2, 5, "here")


# -- both backends agree on real files --------------------------------------------------

REALISTIC = """\
# Client 1: everything a client folder holds, in one file.
kind: Client
id: client1
name: "Client 1 infogérance"
parent: partner
mode: managed
crm_ref: null
---
kind: TimePeriod
id: office-hours
at: client1
name: 'Office hours — Mon–Fri'
ranges: &weekdays
  monday: ["08:00-12:00", "14:00-18:00"]
  tuesday:
    - 08:00-12:00
    - "14:00-18:00"
default_for: [check]
---
kind: ServiceTemplate
id: cpu-strict
at: client1
duplicate_of: cpu
criticality: 5
availability_target: 99.95
check_interval: 60
---
kind: Contact
id: noc
at: client1
name: >-
  Network operations
  centre
email: noc@example.net
enabled: yes
---
kind: Equipment
id: srv-web-01
at: client1
box: box-1
accounts: [snmp-ro]
periods: {check: office-hours, notification: ~}
notification:
  contacts: [noc]
services:
  - {name: http-frontend, template: http, check_interval: 30}
  - name: "disk-data"
    template: disk
    criticality: 0x4
description: |
  Line one
    indented line
  Line three
"""


@pytest.mark.parametrize("crlf", [False, True], ids=["lf", "crlf"])
def test_backends_agree_on_a_realistic_file(crlf):
    raw = REALISTIC.replace("\n", "\r\n") if crlf else REALISTIC
    fast, fast_diags = load(raw, "fast")
    ref, ref_diags = load(raw, "ruamel")
    assert fast_diags == ref_diags == []
    assert fast == ref  # data, position trees, lines, columns, indexes
    assert [(d.kind, d.line) for d in fast] == [
        ("Client", 2),
        ("TimePeriod", 9),
        ("ServiceTemplate", 20),
        ("Contact", 28),
        ("Equipment", 37),
    ]
    eq = fast[4]
    assert eq.data["services"][1] == {"name": "disk-data", "template": "disk", "criticality": 4}
    assert eq.loc("services", 1, "criticality") == Location("f.yaml", 49, 18)
    assert eq.loc("services", 0, "check_interval", key=True) == Location("f.yaml", 46, 43)
    assert eq.data["periods"] == {"check": "office-hours", "notification": None}
    assert fast[3].data["enabled"] == "yes"
    assert fast[3].data["name"] == "Network operations centre"
    assert fast[1].data["ranges"]["tuesday"] == ["08:00-12:00", "14:00-18:00"]
    assert eq.data["description"] == "Line one\n  indented line\nLine three\n"


SAMPLES = Path(__file__).resolve().parent.parent / "samples"
SAMPLE_FILES = sorted(p for p in SAMPLES.rglob("*.y*ml")) if SAMPLES.is_dir() else []


@pytest.mark.skipif(not SAMPLE_FILES, reason="no samples/ yet")
def test_backends_agree_on_every_sample_file():
    """Same documents, same positions, same diagnostics, for every file under samples/."""
    for path in SAMPLE_FILES:
        raw = path.read_bytes()
        rel = path.relative_to(SAMPLES).as_posix()
        assert load_text(rel, raw, "fast") == load_text(rel, raw, "ruamel"), rel


@pytest.mark.parametrize("sep", ["\u2028", "\u2029", "\x85"], ids=["LS", "PS", "NEL"])
def test_unicode_line_separators_do_not_shift_lines(sep):
    """Lines are numbered as editors and ruamel number them: U+2028, U+2029 and NEL
    inside a string are not line breaks (libyaml counts them; such files go to ruamel)."""
    raw = f'kind: Contact\nname: "a{sep}b"\nemail: x@example.net\n'
    assert load(raw, "fast") == load(raw, "ruamel")
    doc = load(raw, "fast")[0][0]
    assert doc.loc("email") == Location("f.yaml", 3, 8)


TABS_BETWEEN_TOKENS = [
    # (text, the value of `name`, its line and column): a tab where YAML 1.2 (and
    # libyaml) let white space separate tokens, which ruamel's scanner refused
    ("kind: Contact\nname: X\t# c\n", "X", 2, 7),
    ("kind: Contact\nname:\tX\n", "X", 2, 7),
    ("kind: Contact\nname:\t\tX \t\n", "X", 2, 8),
    ("kind: Contact\nname: 'X'\t# c\n", "X", 2, 7),
    ("kind: Contact\nname\t: X\n", "X", 2, 8),
    ("kind: Contact\nname: [a,\tb]\t# c\n", ["a", "b"], 2, 7),
    ("kind: Contact\nname:\n- X\t\n", ["X"], 3, 1),
    ("kind: Contact\nname:\t&n X\nalias: *n\t\n", "X", 2, 7),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("raw", "value", "line", "column"), TABS_BETWEEN_TOKENS)
def test_a_tab_between_tokens_is_white_space(raw, value, line, column, backend):
    """YAML 1.2 reads a tab as white space between tokens (never in indentation:
    SNV103); the fast loader did, the ruamel loader refused it (SNV101). Positions
    count the tab as one column, as editors' columns in characters do."""
    docs, diags = load(raw, backend)
    assert diags == []
    assert docs[0].data["name"] == value
    assert docs[0].loc("name") == Location("f.yaml", line, column)
    assert load(raw, "fast") == load(raw, "ruamel")


@pytest.mark.parametrize(
    "raw",
    [
        "kind: Contact\nl:\n-\tx\n",  # after `-`: where a key may start, as libyaml says
        "kind: Contact\nname:\ty: z\n",
        "kind: Contact\nl:\n  - x\n\t\n",
    ],
)
def test_a_tab_where_a_key_may_start_is_refused_alike(raw):
    """Where a key or an entry may start, a tab is not white space (it could be read as
    indentation): SNV101 from both loaders."""
    fast = load(raw, "fast")
    assert fast == load(raw, "ruamel")
    assert [d.code for d in fast[1]] == ["SNV101"]


def _known_difference(raw: str, reason: str):
    return pytest.param(raw, marks=pytest.mark.xfail(strict=True, reason=reason))


@pytest.mark.parametrize(
    "raw",
    [
        _known_difference(
            "kind: Contact\nname: a\tb\n",
            "ruamel's scanner refuses a tab inside a plain scalar, which YAML 1.2 and libyaml allow",
        ),
        _known_difference(
            "kind: Contact\n  \t# a comment\n",
            "ruamel refuses a tab before a comment; libyaml accepts it and SNV103 skips comment lines",
        ),
        _known_difference(
            "kind: Contact\nname: |\t\n  X\n",
            "ruamel refuses a tab after a block scalar's indicator (`|<TAB>`); libyaml accepts it",
        ),
        _known_difference(
            "kind: Contact\nname: !!str\tX\n",
            "ruamel refuses a tab after a tag (`!!str<TAB>X`); libyaml accepts it",
        ),
    ],
)
def test_backends_agree_on_tabs_the_known_differences(raw):
    """The documented differences (docs/input-language.md): strict, so that one that
    goes away is noticed."""
    assert load(raw, "fast") == load(raw, "ruamel")


# -- discovery (INTERFACE §1) --------------------------------------------------------------


def files_of(root: Path) -> list[str]:
    found, _ = discover(root)
    return [p.relative_to(root.resolve()).as_posix() for p in found]


def touch(root: Path, *rels: str) -> None:
    for rel in rels:
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("kind: Partner\n", encoding="utf-8")


def test_discovery_takes_yaml_and_yml_sorted(tmp_path):
    touch(tmp_path, "b.yaml", "a.yml", "sub/c.yaml", "sub/deeper/d.yml", "z.yaml")
    touch(tmp_path, "notes.txt", "data.json", "x.yaml.bak", "README.md", "yaml")
    assert files_of(tmp_path) == ["a.yml", "b.yaml", "sub/c.yaml", "sub/deeper/d.yml", "z.yaml"]


def test_discovery_skips_hidden_paths(tmp_path):
    touch(
        tmp_path, "a.yaml", ".hidden.yaml", ".git/config.yaml", ".snavc/lock.yaml", "sub/.x/y.yaml"
    )
    assert files_of(tmp_path) == ["a.yaml"]


def test_discovery_skips_build_outputs(tmp_path):
    """A folder holding a ``.snavc-build`` marker (written by ``build``) is skipped whole."""
    touch(tmp_path, "a.yaml", "out/effective.yaml", "out/sub/more.yaml", "other/b.yaml")
    (tmp_path / "out" / ".snavc-build").write_text("", encoding="utf-8")
    assert files_of(tmp_path) == ["a.yaml", "other/b.yaml"]


def test_discovery_skips_excluded_folders(tmp_path):
    touch(tmp_path, "a.yaml", "catalog/t.yaml")
    found, _ = discover(tmp_path, [tmp_path / "catalog"])
    assert [p.name for p in found] == ["a.yaml"]


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links")
def test_discovery_does_not_follow_symlinks_out_of_the_repo(tmp_path):
    repo, outside = tmp_path / "repo", tmp_path / "outside"
    touch(repo, "a.yaml")
    touch(outside, "secret.yaml", "dir/b.yaml")
    (repo / "link.yaml").symlink_to(outside / "secret.yaml")
    (repo / "linked-dir").symlink_to(outside / "dir")
    found, diags = discover(repo)
    assert [p.name for p in found] == ["a.yaml"]
    outside_msg = "symbolic link points outside the repository; not followed"
    assert sorted((d.severity, d.code, d.file, d.line, d.message) for d in diags) == [
        ("warning", "SNV113", "link.yaml", 1, outside_msg),
        ("warning", "SNV113", "linked-dir", None, outside_msg),
    ]
    loaded = load_repo(repo)
    assert [d.data["kind"] for d in loaded.documents] == ["Partner"]
    assert loaded.files == ["a.yaml"]


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links")
def test_discovery_reads_a_linked_file_once(tmp_path):
    """A symbolic link to a file (or folder) inside the repository does not load that
    file twice: that would report its IDs as duplicates of themselves."""
    touch(tmp_path, "real/c.yaml")
    (tmp_path / "alias.yaml").symlink_to(tmp_path / "real" / "c.yaml")
    (tmp_path / "linked-dir").symlink_to(tmp_path / "real")
    found, diags = discover(tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in found] == ["real/c.yaml"]
    assert diags == []


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links")
def test_discovery_reads_a_file_linked_from_a_hidden_folder(tmp_path):
    touch(tmp_path, ".shared/c.yaml")
    (tmp_path / "c.yaml").symlink_to(tmp_path / ".shared" / "c.yaml")
    found, _ = discover(tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in found] == ["c.yaml"]


def test_load_repo_reports_every_file(tmp_path):
    (tmp_path / "a.yaml").write_text("kind: Partner\nid: p\n---\nkind: Site\n", encoding="utf-8")
    (tmp_path / "b.yml").write_text("- not a mapping\n", encoding="utf-8")
    (tmp_path / "c.yaml").write_bytes(b"name: \xff\n")
    loaded = load_repo(tmp_path)
    assert loaded.files == ["a.yaml", "b.yml", "c.yaml"]
    assert [(d.file, d.index, d.line) for d in loaded.documents] == [
        ("a.yaml", 0, 1),
        ("a.yaml", 1, 4),
    ]
    assert [(d.code, d.file) for d in loaded.diagnostics] == [
        ("SNV106", "b.yml"),
        ("SNV102", "c.yaml"),
    ]


def test_document_kind_property():
    doc = Document("f.yaml", 0, 1, 1, {"kind": 5}, {})
    assert doc.kind is None
    assert Document("f.yaml", 0, 1, 1, {"kind": "Box"}, {}).kind == "Box"


@pytest.mark.parametrize("backend", ["fast", "libyaml", "ruamel"])
def test_an_anchor_defined_again_names_the_latest(backend):
    """YAML 1.2 (3.2.2.2) lets an anchor be defined again, an alias naming the latest:
    the file loads the same with every loader, with no Python warning (ruamel's
    ReusedAnchorWarning was raised where warnings are errors: an internal error found
    by the fuzzer)."""
    raw = b"kind: Contact\nid: &x first\nname: *x\nemail: &x second\nphone: *x\n"
    docs, diags = load_text("a.yaml", raw, backend)
    assert diags == []
    (doc,) = docs
    assert doc.data["name"] == "first" and doc.data["phone"] == "second"
    assert [(d.line, d.data) for d in load_text("a.yaml", raw, "ruamel")[0]] == [(1, doc.data)]
