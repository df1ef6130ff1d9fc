"""Load, fast path: the block-style YAML that estates are written in, read line by line.

Part of the load stage (:mod:`snavc.engine.load`). Most files of an estate use a small
part of YAML: block mappings and lists, one-line scalars, one-line flow lists and
mappings. For such a file this module gives the very documents the libyaml path gives
(the same values, with the YAML 1.2 core schema of :func:`~snavc.engine.load.resolve_plain`,
and the same packed position tree, mark for mark) in 0.6x the time: it reads each line
with a few regular expressions instead of building a node graph and walking it.

It is conservative: anything outside that subset (an anchor, an alias, a tag, a merge
key, a block or multi-line scalar, an escape, a duplicate key, a null in a list, a key
that is not a plain word, a line it does not know...) makes :func:`scan` return None,
and the file is read by the libyaml path, which also reports every diagnostic. So a
file that has a problem never gets here with it: diagnostics come from one place.

The same scanner exists in C (``_scan.c``, used when it is built: below); this module
is its reference and its fallback.

Why not a third-party parser (rapidyaml, yaml-rs): their Python bindings give values
without positions, and a build needs positions of most documents, not only for
diagnostics: ``origins.json`` records the line of every value set on an equipment
(docs/performance.md, "Loading").
"""

from __future__ import annotations

import os
import re
from functools import cache
from sys import intern

from .scalars import MAX_NESTING, resolve_plain

# a plain key: a word of letters, digits and _ . / - (no quotes, no spaces), then ':'
# and a space or the end of the line
_KEY = re.compile(r"([A-Za-z0-9_][A-Za-z0-9_./-]*):(?: +|$)")
# characters that start something other than a plain scalar (YAML's indicators)
_INDICATORS = frozenset("-?:,[]{}#&*!|>'\"%@`")


# a file may hold only printable characters that libyaml and ruamel read alike; the
# line breaks are \n only (\r and the Unicode breaks are left to the libyaml path)
@cache
def _unusual() -> re.Pattern:
    """Compiled when first used (6 ms): the C scanner tests these characters itself."""
    return re.compile(
        "[^\n\x20-\x7e\u00a0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
    )


_FLOW_PLAIN_END = re.compile(r"[,\[\]{}]")
# the common cases, read in one match: a plain scalar of words that starts with a letter,
# a digit or one of _ . / + ~ and holds no ':' and no '#' (so no comment, no key); a flow
# list of such single words separated by ", "
_SIMPLE = re.compile(r"([A-Za-z0-9_./+~][^:#]*?) *\Z")
_KEY_SIMPLE = re.compile(r"([A-Za-z0-9_][A-Za-z0-9_./-]*): +([A-Za-z0-9_./+~][^:#]*?) *\Z")
_WORD = r"[A-Za-z0-9_.+~][A-Za-z0-9_./+~-]*"
_SIMPLE_LIST = re.compile(rf"\[({_WORD}(?:, {_WORD})*)\] *\Z")


def _simple_list(m: re.Match, number: int) -> tuple[list, list]:
    items = m.group(1).split(", ")
    values = []
    pos = []
    p = m.start(1) + 1
    base = number << 32
    for item in items:
        values.append(intern(item) if item[0] in _TEXT else resolve_plain(item))
        pos.append(base | p)
        p += len(item) + 2
    return values, pos


# the first characters of a plain scalar that resolve_plain returns as it is (not a
# number, a null or a boolean): a shortcut taken for most values
_TEXT = frozenset(c for c in map(chr, range(128)) if c not in "-+.0123456789nN~tTfF")
_DEPTH = MAX_NESTING - 10  # deeper documents are read (and refused) by the libyaml path

# Keys and plain words are interned (sys.intern): an estate repeats a few tens of
# thousands of distinct strings (field names, IDs, template names) in half a million
# places, and the models keep the very string objects the scanner made. One string per
# distinct text is 28 MiB less at 10k equipment, and marshal (the forked loader's
# answer, the snapshot) writes an interned string once and reads it back interned.


# The same scanner in C (_scan.c, written line for line after this module, 4-5x faster),
# built at install when a C compiler is there; the Python scanner otherwise. Both give
# the same documents (tests/test_scan.py); SNAVC_SCANNER=python picks the Python one.
# A module built from another version of _scan.c (an editable install not built again
# after a pull: `make` builds it again) is not used.
_ABI = 5
_native = None
if os.environ.get("SNAVC_SCANNER") != "python":
    try:
        from . import _scan
    except ImportError:
        pass
    else:
        if getattr(_scan, "ABI", None) == _ABI:
            _native = _scan.scan


class _Fallback(Exception):
    """Outside the subset: the file goes to the libyaml path."""


def scan(text: str) -> list[tuple[int, int, dict, dict | bytes]] | None:
    """``[(line, column, value, positions), ...]`` for each document of ``text``, as
    :func:`~snavc.engine.load._build` makes them (the positions marshalled when the C
    scanner read them), or None when the file is outside the subset (then nothing is
    known of it: read it with the libyaml path).

    >>> [(line, column, value) for line, column, value, _ in scan("kind: Site\\nid: s1\\n")]
    [(1, 1, {'kind': 'Site', 'id': 's1'})]
    >>> scan("kind: Site\\nid: &a s1\\n") is None
    True
    """
    if _native is not None:
        return scan_native(text)  # (which tests _unusual()'s characters itself)
    if _unusual().search(text):
        return None
    return scan_python(text)


def scan_native(text: str) -> list[tuple[int, int, dict, bytes]] | None:
    """:func:`scan` by ``_scan.c`` (which must be built). Each document's positions
    come marshalled (as :class:`~snavc.engine.load.Document` keeps them):
    ``marshal.loads`` of them is what :func:`scan_python` returns."""
    return _native(text, resolve_plain, _DEPTH)


def scan_python(text: str) -> list[tuple[int, int, dict, dict]] | None:
    """:func:`scan` by the Python scanner below, the reference of ``_scan.c``; ``text``
    has passed the ``_unusual()`` test."""
    try:
        return _Scanner(text).documents()
    except (_Fallback, ValueError, OverflowError, IndexError, RecursionError):
        # a scalar Python cannot convert (SNV114) is reported, at its position, by libyaml
        return None


class _Scanner:
    __slots__ = ("lines", "indents", "docs", "n")

    def __init__(self, text: str):
        # the content lines: (1-based line number, indent, line), and the index of each
        # document's first content line; blank and comment-only lines are left out
        lines: list[tuple[int, int, str]] = []
        starts: list[int] = []
        opened = False  # a `---` met and no content since
        for number, line in enumerate(text.split("\n"), 1):
            body = line.lstrip(" ")
            if not body or body[0] == "#":
                continue
            if line.startswith(("---", "...")):
                if line.rstrip(" ") != "---" or opened:
                    # `--- value`, `...`, or an empty document (SNV105 from libyaml's path)
                    raise _Fallback
                opened = True
                continue
            if opened or not starts:
                starts.append(len(lines))
                opened = False
            lines.append((number, len(line) - len(body), line))
        if opened or not starts:
            raise _Fallback  # a trailing empty document, or none at all (SNV110)
        self.lines = lines
        self.docs = starts
        self.n = len(lines)

    def documents(self) -> list[tuple[int, int, dict, dict]]:
        out = []
        bounds = self.docs + [self.n]
        for d in range(len(self.docs)):
            first, end = bounds[d], bounds[d + 1]
            number, indent, line = self.lines[first]
            if indent != 0 or not _KEY.match(line):
                raise _Fallback  # a document that is not a block mapping
            value, pos, nxt = self.mapping(first, 0, end, 0)
            if nxt != end:
                raise _Fallback
            out.append((number, 1, value, pos))
        return out

    # -- block collections ----------------------------------------------------------

    def mapping(self, i: int, col: int, end: int, depth: int):
        """The block mapping whose first key is at column ``col`` (0-based) of content
        line ``i``; returns (value, positions, index of the line after it)."""
        if depth > _DEPTH:
            raise _Fallback
        data: dict = {}
        pos: dict = {}
        lines = self.lines
        number, _, line = lines[i]
        while True:
            m = _KEY_SIMPLE.match(line, col)
            if m is not None:
                # the common case, `key: plain words` (see _SIMPLE), in one match
                key, text = m.groups()
                if key in data:
                    raise _Fallback  # a duplicate key: SNV104 from the libyaml path
                key = intern(key)
                data[key] = intern(text) if text[0] in _TEXT else resolve_plain(text)
                pos[key] = (number << 96) | ((col + 1) << 64) | (number << 32) | (m.start(2) + 1)
                i += 1
                if i >= end:
                    return data, pos, i
                number, indent, line = lines[i]
                if indent == col:
                    if line[col] == "-":
                        return data, pos, i  # see the end of the loop
                    continue
                if indent < col:
                    return data, pos, i
                raise _Fallback  # a plain scalar continued on the next line
            m = _KEY.match(line, col)
            if m is None:
                raise _Fallback
            key = intern(m.group(1))
            if key in data:
                raise _Fallback  # a duplicate key: SNV104 from the libyaml path
            at = m.end()
            if (flow := _SIMPLE_LIST.match(line, at)) is not None:
                value, child = _simple_list(flow, number)
                vl, vc = number, at + 1
                i += 1
                if i < end and lines[i][1] > col:
                    raise _Fallback
            elif at == len(line) or line[at] == "#":
                # a nested collection on the next lines, or a null
                nxt = i + 1
                if nxt < end and (
                    lines[nxt][1] > col or (lines[nxt][1] == col and _is_entry(lines[nxt][2], col))
                ):
                    nnumber, nindent, nline = lines[nxt]
                    if _is_entry(nline, nindent):
                        value, child, i = self.sequence(nxt, nindent, end, depth + 1, col)
                    elif _KEY.match(nline, nindent):
                        value, child, i = self.mapping(nxt, nindent, end, depth + 1)
                    else:
                        raise _Fallback  # a scalar on the lines below its key
                    vl, vc = nnumber, nindent + 1
                else:
                    # a null: its mark is just past the ':'
                    value, child, vl, vc = None, None, number, col + len(key) + 2
                    i = nxt
            else:
                vcol = at
                value, child, after = self.inline(line, vcol, depth + 1, number)
                _end_of_line(line, after)
                vl, vc = number, vcol + 1
                i += 1
                if i < end and lines[i][1] > col:
                    raise _Fallback  # a plain scalar continued on the next line
            data[key] = value
            packed = (number << 96) | ((col + 1) << 64) | (vl << 32) | vc
            pos[key] = packed if child is None else (packed, child)
            if i >= end:
                return data, pos, i
            number, indent, line = lines[i]
            if indent < col:
                return data, pos, i
            if indent > col:
                raise _Fallback
            if line[col] == "-":
                # the end of an indentless list's item mapping (the list reads the
                # line), or no key: what reads the line next finds out which
                return data, pos, i

    def sequence(self, i: int, col: int, end: int, depth: int, parent_col: int):
        """The block list whose first ``-`` is at column ``col`` of content line ``i``
        (``parent_col``: the column of the key it is the value of; equal for a list
        written at its key's indentation)."""
        if depth > _DEPTH:
            raise _Fallback
        items: list = []
        ipos: list = []
        lines = self.lines
        number, _, line = lines[i]
        while True:
            # line[col] is "-", followed by a space (see _is_entry)
            icol = col + 1
            while icol < len(line) and line[icol] == " ":
                icol += 1
            if icol >= len(line) or line[icol] == "#":
                raise _Fallback  # `-` alone: a null item or an item on the next lines
            if line.startswith("- ", icol) or line[icol:] == "-":
                raise _Fallback  # a list in a list written on one line
            simple = _SIMPLE.match(line, icol)
            if simple is not None:
                text = simple.group(1)
                value, child = intern(text) if text[0] in _TEXT else resolve_plain(text), None
                i += 1
                if i < end and lines[i][1] > col:
                    raise _Fallback
            elif _KEY.match(line, icol):
                value, child, i = self.mapping(i, icol, end, depth + 1)
            else:
                value, child, after = self.inline(line, icol, depth + 1, number)
                _end_of_line(line, after)
                i += 1
                if i < end and lines[i][1] > col:
                    raise _Fallback
            packed = (number << 32) | (icol + 1)
            ipos.append(packed if child is None else (packed, child))
            items.append(value)
            if i >= end:
                return items, ipos, i
            number, indent, line = lines[i]
            if indent < col:
                return items, ipos, i
            if indent > col:
                raise _Fallback
            if not _is_entry(line, indent):
                if col == parent_col:
                    return items, ipos, i  # an indentless list ends at its parent's next key
                raise _Fallback

    # -- one-line values ------------------------------------------------------------

    def inline(self, line: str, p: int, depth: int, number: int):
        """The value starting at ``line[p]`` on this line: (value, positions, index
        just past it)."""
        c = line[p]
        if c == "[" or c == "{":
            return self.flow(line, p, depth, number)
        if c == "'" or c == '"':
            value, after = _quoted(line, p)
            return value, None, after
        if c in _INDICATORS and not (c == "-" and line[p + 1 : p + 2] not in ("", " ")):
            raise _Fallback  # an anchor, an alias, a tag, a block scalar...
        hash_at = line.find(" #", p)
        text = line[p:] if hash_at < 0 else line[p:hash_at]
        text = text.rstrip(" ")
        if text.endswith(":") or ": " in text:
            raise _Fallback
        return resolve_plain(text), None, p + len(text)

    def flow(self, line: str, p: int, depth: int, number: int):
        """A flow list or mapping that opens and closes on this line."""
        if depth > _DEPTH:
            raise _Fallback
        closing = "]" if line[p] == "[" else "}"
        is_map = closing == "}"
        data: dict | list = {} if is_map else []
        pos: dict | list = {} if is_map else []
        p = _skip(line, p + 1)
        if line[p] == closing:
            return data, pos, p + 1
        while True:
            if is_map:
                m = _KEY.match(line, p)
                if m is None or m.end() == len(line):
                    raise _Fallback
                key = intern(m.group(1))
                if key in data:
                    raise _Fallback
                kp = p
                p = m.end()
            vp = p
            c = line[p]
            if c == "[" or c == "{":
                value, child, p = self.flow(line, p, depth + 1, number)
            elif c == "'" or c == '"':
                value, p = _quoted(line, p)
                child = None
            else:
                if c in _INDICATORS and not (c == "-" and line[p + 1] not in " ,[]{}"):
                    raise _Fallback
                m = _FLOW_PLAIN_END.search(line, p)
                if m is None:
                    raise _Fallback
                text = line[p : m.start()].rstrip(" ")
                if not text or ":" in text or "#" in text:
                    raise _Fallback
                value, child = resolve_plain(text), None
                p += len(text)
            if is_map:
                packed = (number << 96) | ((kp + 1) << 64) | (number << 32) | (vp + 1)
                data[key] = value
            else:
                packed = (number << 32) | (vp + 1)
                data.append(value)
            if is_map:
                pos[key] = packed if child is None else (packed, child)
            else:
                pos.append(packed if child is None else (packed, child))
            p = _skip(line, p)
            c = line[p]
            if c == ",":
                p = _skip(line, p + 1)
                if line[p] in "]}":
                    raise _Fallback  # a trailing comma
                continue
            if c == closing:
                return data, pos, p + 1
            raise _Fallback


def _is_entry(line: str, col: int) -> bool:
    """Whether ``line`` holds a list entry (``-`` then a space or the end) at ``col``."""
    return line.startswith("-", col) and (len(line) == col + 1 or line[col + 1] == " ")


def _skip(line: str, p: int) -> int:
    while line[p] == " ":
        p += 1
    return p


# the escapes of a double-quoted scalar read here (YAML 1.2, 5.7), each one character;
# the others (\x, \u, \U, \N, \_, \L, \P, a line break) are left to libyaml
_ESCAPES = {
    "\\": "\\",
    '"': '"',
    "/": "/",
    " ": " ",
    "n": "\n",
    "t": "\t",
    "\t": "\t",
    "r": "\r",
    "0": "\0",
    "a": "\a",
    "b": "\b",
    "v": "\v",
    "f": "\f",
    "e": "\x1b",
}


def _quoted(line: str, p: int) -> tuple[str, int]:
    """A one-line quoted scalar: (its text, index past its closing quote). A double-
    quoted one may hold the escapes of ``_ESCAPES`` (imported repositories write
    ``"Call the \\"NOC\\"\\nthen..."``, and one such value sent a whole file to libyaml)."""
    q = line[p]
    close = line.find(q, p + 1)
    if close < 0:
        raise _Fallback  # continued on the next line
    text = line[p + 1 : close]
    if q == '"' and "\\" in text:
        return _escaped(line, p)
    if q == "'" and line.startswith("'", close + 1):
        raise _Fallback  # '' inside single quotes
    return text, close + 1


def _escaped(line: str, p: int) -> tuple[str, int]:
    """The double-quoted scalar at ``p`` that holds a backslash, its escapes read."""
    out = []
    k, end = p + 1, len(line)
    while k < end:
        c = line[k]
        if c == '"':
            return "".join(out), k + 1
        if c == "\\":
            if k + 1 >= end or line[k + 1] not in _ESCAPES:
                raise _Fallback  # the end of the line, or an escape left to libyaml
            out.append(_ESCAPES[line[k + 1]])
            k += 2
            continue
        out.append(c)
        k += 1
    raise _Fallback  # continued on the next line


def _end_of_line(line: str, p: int) -> None:
    """Nothing but spaces and a comment may follow a value on its line."""
    rest = line[p:]
    if rest.strip(" ") and not (rest[0] == " " and rest.lstrip(" ")[0] == "#"):
        raise _Fallback
