"""Load: YAML files -> :class:`Document` objects that remember where every value came from.

First stage of the pipeline. It finds the repository's YAML files, parses each into
documents, and records the position of every key and value, so that every later
diagnostic can point at ``file:line:column``. It is the only stage that reads files.

Two parsers produce the same YAML node graph, and one function (:func:`_build`) turns
nodes into plain Python values plus a position tree:

- ``fast`` (default): libyaml through PyYAML's C parser. ruamel.yaml's loaders are
  5-10x slower; composing nodes in C and building values here is cheaper than even
  PyYAML's own ``CSafeLoader`` (docs/design.md).
- ``ruamel``: ruamel.yaml's pure-Python parser, the reference. Syntax errors are always
  reported through it, so the two paths give the same diagnostics.

Scalars are resolved with the YAML 1.2 core schema (``yes``/``on`` are strings, ``010``
is 10) whatever the parser, and keys are always strings.
"""

from __future__ import annotations

import hashlib
import json
import marshal
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import diagnostics as dg
from .diagnostics import Diagnostic, Location

MAX_FILE_BYTES = 16 * 1024 * 1024  # SNV108: larger files are refused unread
ALIAS_EXPANSION_FACTOR = 10  # SNV107: a document may expand to 10x its nodes (+ slack)
ALIAS_EXPANSION_SLACK = 10_000

STR = "tag:yaml.org,2002:str"
SEQ = "tag:yaml.org,2002:seq"
MAP = "tag:yaml.org,2002:map"
INT = "tag:yaml.org,2002:int"
FLOAT = "tag:yaml.org,2002:float"
BOOL = "tag:yaml.org,2002:bool"
NULL = "tag:yaml.org,2002:null"
PLAIN = "?"  # tag given by our resolvers to plain scalars without an explicit tag
_UNICODE_BREAKS = re.compile("[\u2028\u2029\x85]")
_LINE_BREAK = re.compile("\r\n|\r|\n")

# A position tree mirrors the value tree:
#   mapping:  {key: P or (P, child)}, P = key line, key column, value line and value
#             column packed in one int (see _pack), negative for a merged (<<) key
#   sequence: [Q or (Q, child), ...], Q = value line and column packed
#   scalar:   no entry of its own
# Lines and columns are 1-based. One int per key instead of a 5-tuple: positions are a
# third of what a 100k-equipment estate keeps in memory.
Pos = Any
_W = 32
_M = (1 << _W) - 1


def _pack(*numbers: int) -> int:
    out = 0
    for n in numbers:
        out = (out << _W) | n
    return out


def _unpack4(p: int) -> tuple[int, int, int, int]:
    return p >> 3 * _W, (p >> 2 * _W) & _M, (p >> _W) & _M, p & _M


@dataclass(slots=True)
class Document:
    """One YAML document: a mapping with a ``kind``, and where it came from."""

    file: str  # path relative to the repository, with "/" separators
    index: int  # 0-based position of the document in its file
    line: int
    column: int
    data: dict | None
    pos: dict | bytes = field(repr=False)  # bytes: marshalled, as the snapshot keeps it
    catalog: bool = False  # from the product catalogue (shipped or Project.catalog)
    sealed_digest: str | None = None  # kept when `seal` drops the data

    @property
    def digest(self) -> str:
        """A hash of the document's content (not of its text: comments do not count)."""
        if self.sealed_digest is None:
            text = json.dumps(
                self.data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str
            )
            self.sealed_digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        return self.sealed_digest

    def seal(self) -> None:
        """Keep the content hash and drop the raw data once a model holds it (memory)."""
        if self.data is not None:
            self.digest  # noqa: B018 - computed before the data goes
            self.data = None

    @property
    def kind(self) -> str | None:
        k = self.data.get("kind") if self.data is not None else None
        return k if isinstance(k, str) else None

    def loc(self, *path, key: bool = False, message: str = "") -> Location:
        """Location of the value at ``path`` (or of its key with ``key=True``).

        A path that does not exist (a missing field) falls back to its deepest existing
        parent: a missing field is reported at the mapping that lacks it.
        """
        line, col = self.line, self.column
        pos: Pos = self.pos
        if isinstance(pos, bytes):  # from the snapshot cache: decoded on first use
            pos = self.pos = marshal.loads(pos)
        for i, part in enumerate(path):
            entry = None
            if isinstance(pos, dict):
                entry = pos.get(part)
                if entry is not None:
                    packed, pos = entry if isinstance(entry, tuple) else (entry, None)
                    kl, kc, vl, vc = _unpack4(abs(packed))
                    line, col = (kl, kc) if key and i == len(path) - 1 else (vl, vc)
            elif isinstance(pos, list) and isinstance(part, int) and 0 <= part < len(pos):
                entry = pos[part]
                packed, pos = entry if isinstance(entry, tuple) else (entry, None)
                line, col = packed >> _W, packed & _M
            if entry is None:
                break
        return Location(self.file, line, col, message)


@dataclass(slots=True)
class Loaded:
    """What the load stage hands on: documents and the diagnostics met on the way."""

    documents: list[Document]
    diagnostics: list[Diagnostic]
    files: list[str]


# -- discovery ------------------------------------------------------------------------

BUILD_MARKER = ".snavc-build"


def discover(repo: Path, exclude: list[Path] = ()) -> tuple[list[Path], list[Diagnostic]]:
    """Every ``*.yaml``/``*.yml`` below ``repo``, sorted, per INTERFACE §1.

    Skips hidden paths, folders holding a ``.snavc-build`` marker and ``exclude``;
    symbolic links are followed only while they stay inside the repository.
    """
    found, diags = discover_files(repo, exclude)
    return [Path(p) for _, p in found], diags


def discover_files(
    repo: Path, exclude: list[Path] = (), patterns: list[str] = ()
) -> tuple[list[tuple[str, str]], list[Diagnostic]]:
    """:func:`discover` as ``(path relative to the repository, path)`` strings: what
    every run starts with, without 10k pathlib objects. ``patterns`` are gitignore-style
    (``Project.exclude``), matched against paths relative to the repository."""
    root = repo.resolve()
    excluded = {str(p.resolve()) for p in exclude}
    skip = _excluder(patterns)
    found: list[tuple[str, str, bool]] = []  # (path relative to root, absolute path, link?)
    diags: list[Diagnostic] = []
    top = str(root)
    for dirpath, dirnames, filenames in os.walk(top, followlinks=False):
        keep = []
        for d in sorted(dirnames):
            p = os.path.join(dirpath, d)
            if d.startswith(".") or p in excluded:
                continue
            if skip is not None and skip(p[len(top) + 1 :].replace(os.sep, "/") + "/"):
                continue
            if os.path.islink(p):
                real = os.path.realpath(p)
                if real in excluded:
                    continue
                if not Path(real).is_relative_to(root):
                    diags.append(_outside(root, Path(p)))
                    continue
            if os.path.exists(os.path.join(p, BUILD_MARKER)):
                continue
            keep.append(d)
        dirnames[:] = keep
        for f in filenames:
            if f.startswith(".") or not f.endswith((".yaml", ".yml")):
                continue
            p = os.path.join(dirpath, f)
            if skip is not None and skip(p[len(top) + 1 :].replace(os.sep, "/")):
                continue
            link = os.path.islink(p)
            if link and not Path(os.path.realpath(p)).is_relative_to(root):
                diags.append(_outside(root, Path(p)))
                continue
            found.append((p[len(top) + 1 :].replace(os.sep, "/"), p, link))  # p is below top
    # Symbolic links to folders inside the repository are not walked (os.walk does not
    # follow them): what they point at is walked under its own path. A linked file is
    # read once, under its own path when that is found too, else under the link's.
    # (Walked paths hold no link but their last part: only links need resolving.)
    found.sort(key=lambda f: (f[2], f[0]))
    seen: set[str] = set()
    unique = []
    for rel, p, link in found:
        real = os.path.realpath(p) if link else p
        if real not in seen:
            seen.add(real)
            unique.append((rel, p))
    unique.sort()
    return unique, diags


def _excluder(patterns: list[str]):
    """``match(relative path) -> bool`` for gitignore-style patterns (a folder's path
    ends with ``/``), or None when there are none."""
    if not patterns:
        return None
    import pathspec  # git's own pattern rules: `!`, `**`, anchoring, folders

    return pathspec.GitIgnoreSpec.from_lines(patterns).match_file


def _outside(root: Path, p: Path) -> Diagnostic:
    return dg.warning(
        "SNV113",
        "symbolic link points outside the repository; not followed",
        Location(relpath(root, p)),
    )


def relpath(root: Path, p: Path) -> str:
    """``p`` relative to ``root``, with "/" (string work: pathlib's is slow on 10k files)."""
    top, path = str(root), str(p)
    if path.startswith(top) and path[len(top) : len(top) + 1] == os.sep:
        path = path[len(top) + 1 :]
    elif path == top:
        return "."
    return path.replace(os.sep, "/")


# -- scalars: YAML 1.2 core schema ----------------------------------------------------

_INT = re.compile(r"[-+]?[0-9]+\Z")
_OCT = re.compile(r"0o[0-7]+\Z")
_HEX = re.compile(r"0x[0-9a-fA-F]+\Z")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?\Z")
_INF = re.compile(r"[-+]?\.(inf|Inf|INF)\Z")
_NAN = re.compile(r"\.(nan|NaN|NAN)\Z")
_NULLS = {"", "~", "null", "Null", "NULL"}
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}


def resolve_plain(v: str) -> Any:
    """The value of a plain (unquoted, untagged) scalar, YAML 1.2 core schema."""
    if not v:
        return None
    c = v[0]
    if c in "-+.0123456789":
        if _INT.match(v):
            return int(v)
        if _FLOAT.match(v):
            return float(v)
        if _INF.match(v):
            return -math.inf if c == "-" else math.inf
        if _NAN.match(v):
            return math.nan
        if _OCT.match(v):
            return int(v[2:], 8)
        if _HEX.match(v):
            return int(v[2:], 16)
        return v
    if c in "nN~":
        return None if v in _NULLS else v
    if c in "tTfF":
        return _BOOLS.get(v, v)
    return v


def _tagged(tag: str, v: str) -> Any:
    """A scalar with an explicit core tag (``!!str 5``)."""
    if tag == STR:
        return v
    if tag not in (INT, FLOAT, BOOL, NULL):
        raise _Unsupported(f"tag {tag} is not supported (only YAML core tags such as !!str)")
    r = resolve_plain(v)
    if tag == INT and type(r) is int:
        return r
    if tag == FLOAT and type(r) in (int, float):
        return float(r)
    if tag == BOOL and type(r) is bool:
        return r
    if tag == NULL and r is None:
        return None
    raise _Unsupported(f"value {v!r} does not match its tag {tag}")


# -- nodes -> values + positions ------------------------------------------------------


class _Unsupported(Exception):
    def __init__(self, message, mark=None):
        super().__init__(message)
        self.mark = mark


class _DuplicateKey(Exception):
    def __init__(self, key, first, second):
        self.key, self.first, self.second = key, first, second


def _build(node) -> tuple[Any, Pos]:
    """Node graph -> (value, position tree). Shared by both parsers."""
    cls = node.__class__.__name__
    if cls == "ScalarNode":
        tag = node.tag
        if tag == PLAIN:
            return resolve_plain(node.value), None
        if tag == STR:
            return node.value, None
        try:
            return _tagged(tag, node.value), None
        except _Unsupported as e:
            e.mark = node.start_mark
            raise
    if cls == "MappingNode":
        if node.tag not in (MAP,):
            raise _Unsupported(f"tag {node.tag} is not supported", node.start_mark)
        data: dict = {}
        pos: dict = {}
        for knode, vnode in node.value:
            if knode.__class__.__name__ != "ScalarNode":
                raise _Unsupported("mapping keys must be plain strings", knode.start_mark)
            k = knode.value
            km, vm = knode.start_mark, vnode.start_mark
            if k == "<<" and knode.tag == PLAIN:
                _merge(data, pos, vnode)
                continue
            first = pos.get(k)
            if first is not None:
                packed = first[0] if isinstance(first, tuple) else first
                if packed > 0:  # not a merged key, which an explicit one may replace
                    kl, kc, _, _ = _unpack4(packed)
                    raise _DuplicateKey(k, (kl, kc), (km.line + 1, km.column + 1))
            v, child = _build(vnode)
            data[k] = v
            packed = _pack(km.line + 1, km.column + 1, vm.line + 1, vm.column + 1)
            pos[k] = packed if child is None else (packed, child)
        return data, pos
    if cls == "SequenceNode":
        if node.tag != SEQ:
            raise _Unsupported(f"tag {node.tag} is not supported", node.start_mark)
        items = []
        ipos = []
        for item in node.value:
            v, child = _build(item)
            items.append(v)
            m = item.start_mark
            packed = _pack(m.line + 1, m.column + 1)
            ipos.append(packed if child is None else (packed, child))
        return items, ipos
    raise _Unsupported(f"unexpected YAML node {cls}")


def _merge(data: dict, pos: dict, vnode) -> None:
    """YAML merge key ``<<: *base``: keys of the merged mapping(s) that are not set here.

    Merged keys get a negative packed position so that a later explicit key may replace
    them without being a duplicate; their positions point at the anchor's text.
    """
    sources = vnode.value if vnode.__class__.__name__ == "SequenceNode" else [vnode]
    for src in sources:
        if src.__class__.__name__ != "MappingNode":
            raise _Unsupported(
                "a merge key (<<) takes a mapping or a list of mappings", src.start_mark
            )
        value, spos = _build(src)
        for k, v in value.items():
            if k not in pos:
                data[k] = v
                entry = spos[k]
                packed, child = entry if isinstance(entry, tuple) else (entry, None)
                packed = -abs(packed)
                pos[k] = packed if child is None else (packed, child)


def _alias_check(root) -> str | None:
    """Refuse alias bombs and recursive aliases before expanding anything (SNV107).

    Walks the node graph once (shared nodes visited once) and computes the size the
    document would expand to; linear in the document's own size.
    """
    size: dict[int, int] = {}
    unique = 0
    stack = [(root, False)]
    active: set[int] = set()
    while stack:
        node, done = stack.pop()
        nid = id(node)
        if done:
            active.discard(nid)
            total = 1
            cls = node.__class__.__name__
            if cls == "MappingNode":
                for k, v in node.value:
                    total += size[id(k)] + size[id(v)]
            elif cls == "SequenceNode":
                for v in node.value:
                    total += size[id(v)]
            size[nid] = total
            continue
        if nid in size:
            continue
        if nid in active:
            return "a recursive alias (a node that contains itself) cannot be expanded"
        active.add(nid)
        unique += 1
        stack.append((node, True))
        cls = node.__class__.__name__
        if cls == "MappingNode":
            for k, v in node.value:
                for child in (k, v):
                    if id(child) in active:
                        return "a recursive alias (a node that contains itself) cannot be expanded"
                    if id(child) not in size:
                        stack.append((child, False))
        elif cls == "SequenceNode":
            for v in node.value:
                if id(v) in active:
                    return "a recursive alias (a node that contains itself) cannot be expanded"
                if id(v) not in size:
                    stack.append((v, False))
    limit = ALIAS_EXPANSION_FACTOR * unique + ALIAS_EXPANSION_SLACK
    if size[id(root)] > limit:
        return (
            f"aliases expand this document to {size[id(root)]:,} nodes from {unique:,} "
            f"written (limit {limit:,}): refused as an alias bomb"
        )
    return None


# -- parsers --------------------------------------------------------------------------


def _fast_parser():
    import yaml
    from yaml.nodes import ScalarNode

    base = yaml._yaml.CParser  # libyaml; ImportError/AttributeError when not built

    class FastParser(base):
        def resolve(self, kind, value, implicit):
            if kind is ScalarNode:
                return PLAIN if implicit[0] else STR
            return SEQ if kind.__name__ == "SequenceNode" else MAP

        # path resolvers are not used: keep the composer's hooks cheap no-ops
        def descend_resolver(self, parent, index):
            pass

        def ascend_resolver(self):
            pass

    return FastParser


def _ruamel_parser():
    from ruamel.yaml import YAML
    from ruamel.yaml.nodes import ScalarNode
    from ruamel.yaml.resolver import VersionedResolver
    from ruamel.yaml.tag import Tag

    class PlainResolver(VersionedResolver):
        def resolve(self, kind, value, implicit):
            if kind is ScalarNode and implicit[0]:
                return Tag(suffix=PLAIN)
            return super().resolve(kind, value, implicit)

    y = YAML(typ="safe", pure=True)
    y.Resolver = PlainResolver
    return y


_FAST = None


def fast_available() -> bool:
    global _FAST
    if _FAST is None:
        try:
            _FAST = _fast_parser()
        except (ImportError, AttributeError):
            _FAST = False
    return _FAST is not False


def _compose_fast(text: str):
    parser = _FAST(text)
    try:
        while parser.check_node():
            yield parser.get_node()
    finally:
        parser.dispose()


def _compose_ruamel(text: str):
    return _ruamel_parser().compose_all(text)


# -- one file -------------------------------------------------------------------------


def load_text(
    rel: str, raw: bytes, backend: str = "fast"
) -> tuple[list[Document], list[Diagnostic]]:
    """Parse one file's bytes into documents; never raises on bad input."""
    where = Location(rel, 1, 1)
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        col = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        return [], [
            dg.error(
                "SNV102",
                f"file is not valid UTF-8 (byte 0x{raw[e.start]:02x}); save it as UTF-8",
                Location(rel, line, col),
            )
        ]
    if "\t" in text:
        tabs = _tab_indents(rel, text)
        if tabs:
            return [], tabs
    if backend == "fast" and (not fast_available() or _UNICODE_BREAKS.search(text)):
        # libyaml counts U+2028, U+2029 and NEL as line breaks (YAML 1.1); ruamel and
        # editors do not: let the reference parser number the lines of those rare files
        backend = "ruamel"
    compose = _compose_fast if backend == "fast" else _compose_ruamel
    docs: list[Document] = []
    diags: list[Diagnostic] = []
    may_alias = "*" in text
    try:
        for index, node in enumerate(compose(text)):
            _document(rel, index, node, may_alias, docs, diags, text)
    except RecursionError:
        # ruamel's composer recurses once per nesting level
        return [], [_too_deep(rel)]
    except Exception as e:  # a YAML error of either parser; anything else is a bug
        if not _is_yaml_error(e):
            raise
        if backend == "fast" and "maximum nesting depth" in str(e):
            # libyaml stops at 1000 levels; ruamel would take seconds to fail the same way
            return [], [_too_deep(rel)]
        if backend == "fast":
            # report syntax errors through the reference parser: same text either way
            return load_text(rel, raw, backend="ruamel")
        return [], [_syntax_error(rel, e, text)]
    if not docs and not diags:
        diags.append(dg.warning("SNV110", "file holds no YAML document", where))
    return docs, diags


def _document(rel, index, node, may_alias, docs, diags, text="") -> None:
    m = node.start_mark
    where = Location(rel, m.line + 1, m.column + 1)
    if may_alias:
        problem = _alias_check(node)
        if problem:
            diags.append(dg.error("SNV107", problem, where))
            return
    try:
        value, pos = _build(node)
    except _DuplicateKey as e:
        first = Location(rel, e.first[0], e.first[1], "first set here")
        diags.append(
            dg.error(
                "SNV104",
                f"duplicate key '{e.key}': a key may appear once per mapping",
                Location(rel, *e.second),
                related=(first,),
            )
        )
        return
    except _Unsupported as e:
        if e.mark is not None:
            where = Location(rel, e.mark.line + 1, e.mark.column + 1)
        diags.append(dg.error("SNV109", str(e), where))
        return
    except RecursionError:
        diags.append(dg.error("SNV109", "document is nested too deeply", where))
        return
    if value is None:
        if node.__class__.__name__ == "ScalarNode" and node.value == "":
            where = _empty_document_at(rel, text, m)
        diags.append(
            dg.error(
                "SNV105", "empty document: every document must be an object with a 'kind'", where
            )
        )
    elif not isinstance(value, dict):
        what = _SHAPES.get(type(value), "a scalar")
        diags.append(
            dg.error(
                "SNV106",
                f"document is {what}, not a mapping: every document must be an object with a 'kind'",
                where,
            )
        )
    elif "\\u" in text.lower() and _has_surrogate(value):
        # only a \uD800-style escape in a quoted scalar can make one: UTF-8 text cannot
        diags.append(
            dg.error(
                "SNV109",
                "a string holds a lone surrogate (an escape such as \\ud800): not valid Unicode",
                where,
            )
        )
    else:
        docs.append(Document(rel, index, m.line + 1, m.column + 1, value, pos))


def _too_deep(rel: str) -> Diagnostic:
    return dg.error("SNV109", "document is nested too deeply to load", Location(rel, None, None))


_SHAPES = {list: "a list", str: "a string", int: "a number", float: "a number", bool: "a boolean"}


def _empty_document_at(rel: str, text: str, mark) -> Location:
    """An empty document's ``---`` line: its (empty) node's mark is just past it, often at
    the next document's ``---`` or past the end of the file."""
    lines = text.split("\n")
    n = mark.line
    if n >= len(lines) or (mark.column == 0 and lines[n].startswith(("---", "..."))):
        n -= 1
    while n >= 0 and not lines[n].startswith("---"):
        n -= 1
    if n < 0:
        return Location(rel, mark.line + 1, mark.column + 1)
    return Location(rel, n + 1, 1)


def _has_surrogate(value) -> bool:
    if isinstance(value, str):
        return any("\ud800" <= c <= "\udfff" for c in value)
    if isinstance(value, dict):
        return any(_has_surrogate(k) or _has_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_surrogate(v) for v in value)
    return False


def _tab_indents(rel: str, text: str) -> list[Diagnostic]:
    out = []
    for n, line in enumerate(text.split("\n"), 1):
        stripped = line.lstrip(" \t")
        indent = line[: len(line) - len(stripped)]
        if "\t" in indent and stripped and not stripped.startswith("#"):
            col = indent.index("\t") + 1
            out.append(
                dg.error(
                    "SNV103",
                    "tab character in indentation: YAML indents with spaces only",
                    Location(rel, n, col),
                )
            )
    return out


def _is_yaml_error(e: Exception) -> bool:
    return any(c.__name__ in ("YAMLError", "MarkedYAMLError") for c in type(e).__mro__)


def _syntax_error(rel: str, e, text: str = "") -> Diagnostic:
    mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
    problem = getattr(e, "problem", None) or str(e).split("\n")[0]
    position = getattr(e, "position", None)  # a reader error (a control character)
    if mark is None and isinstance(position, int) and 0 <= position <= len(text):
        line = text.count("\n", 0, position) + 1
        column = position - (text.rfind("\n", 0, position) + 1) + 1
        return dg.error("SNV101", f"YAML syntax error: {problem}", Location(rel, line, column))
    context = getattr(e, "context", None)
    message = f"YAML syntax error: {problem}"
    if context:
        message += f" ({context})"
    related = ()
    cmark = getattr(e, "context_mark", None)
    if cmark is not None and mark is not None and cmark is not mark and context:
        related = (Location(rel, cmark.line + 1, cmark.column + 1, context),)
    if mark is None:
        return dg.error("SNV101", message, Location(rel, None, None))
    return dg.error(
        "SNV101", message, Location(rel, mark.line + 1, mark.column + 1), related=related
    )


def load_file(
    path: Path, rel: str, backend: str = "fast", hashes: dict | None = None
) -> tuple[list[Document], list[Diagnostic]]:
    """One file's documents. ``hashes`` collects ``rel -> content hash`` of the bytes
    parsed (the cache keys its snapshot with them: exactly what was read)."""
    try:
        size = os.stat(path).st_size
        if size > MAX_FILE_BYTES:
            return [], [
                dg.error(
                    "SNV108",
                    f"file is {size:,} bytes, over the {MAX_FILE_BYTES:,}-byte limit: split it into several files",
                    Location(rel, None, None),
                )
            ]
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        return [], [
            dg.error("SNV111", f"cannot read file: {e.strerror}", Location(rel, None, None))
        ]
    if hashes is not None:
        hashes[rel] = content_hash(raw)
    return load_text(rel, raw, backend)


# a top-level `kind:` or `id:` line of a document, plain or quoted
_IDENTITY_LINE = re.compile(
    r"""^(kind|id)\s*:\s*(?:"([^"\n]*)"|'([^'\n]*)'|([^\s#'"][^#\n]*?))\s*(?:#.*)?$"""
)


def broken_identities(path: Path) -> set[tuple[str, str]]:
    """The ``(kind, ID)`` of each document of a file that failed to load, read from its
    top-level ``kind:`` and ``id:`` lines: those objects exist, broken (a reference to
    one is a consequence of the file's error, not an error of its own).

    >>> sorted(broken_identities(Path("client.yaml")))   # doctest: +SKIP
    [('Client', 'client1'), ('Contact', 'noc')]
    """
    try:
        with open(path, "rb") as f:
            text = f.read(MAX_FILE_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return set()
    found: set[tuple[str, str]] = set()
    kind = ident = None
    for line in text.split("\n") + ["---"]:
        if line.startswith(("---", "...")):
            if kind and ident:
                found.add((kind, ident))
            kind = ident = None
            continue
        m = _IDENTITY_LINE.match(line.rstrip("\r"))
        if m:
            value = m.group(2) if m.group(2) is not None else m.group(3) or m.group(4)
            if m.group(1) == "kind":
                kind = value
            else:
                ident = value
    return found


def content_hash(raw: bytes) -> str:
    return hashlib.blake2b(raw, digest_size=16).hexdigest()


PARALLEL_MIN_BYTES = 4 * 1024 * 1024  # below this, a second process costs more than it saves


def load_files(
    root: Path, paths: list[Path], backend: str = "fast", hashes: dict | None = None
) -> tuple[list[Document], list[Diagnostic]]:
    """Every document of ``paths`` (relative names from ``root``), in order.

    On a large repository the second half of the files (by size) is parsed by a forked
    process while this one parses the first: parsing is most of a build, and handing
    the documents back (values and packed positions, through ``marshal``) costs a tenth
    of parsing them. Same documents, same order, same diagnostics either way.
    """
    sizes = []
    for p in paths:
        try:
            sizes.append(os.stat(p).st_size)
        except OSError:
            sizes.append(0)
    total = sum(sizes)
    if total < PARALLEL_MIN_BYTES or len(paths) < 2 or (os.cpu_count() or 1) < 2 or not _can_fork():
        return _load_chunk(root, paths, backend, hashes)
    half, split = 0, len(paths)
    for i, size in enumerate(sizes):
        half += size
        if half * 2 >= total:
            split = i + 1
            break
    import multiprocessing

    with multiprocessing.get_context("fork").Pool(1) as pool:
        pending = pool.apply_async(_load_chunk_marshalled, (root, paths[split:], backend))
        docs, diags = _load_chunk(root, paths[:split], backend, hashes)
        blob, more, their_hashes = pending.get()
    import marshal

    if hashes is not None:
        hashes.update(their_hashes)
    for file, index, line, column, data, pos in marshal.loads(blob):
        docs.append(Document(file, index, line, column, data, pos))
    return docs, diags + more


def _can_fork() -> bool:
    import multiprocessing

    return "fork" in multiprocessing.get_all_start_methods()


def _load_chunk(
    root: Path, paths: list[Path], backend: str, hashes: dict | None = None
) -> tuple[list[Document], list[Diagnostic]]:
    docs: list[Document] = []
    diags: list[Diagnostic] = []
    for p in paths:
        d, dd = load_file(p, relpath(root, p), backend, hashes)
        docs.extend(d)
        diags.extend(dd)
    return docs, diags


def _load_chunk_marshalled(
    root: Path, paths: list[Path], backend: str
) -> tuple[bytes, list[Diagnostic], dict[str, str]]:
    import marshal

    hashes: dict[str, str] = {}
    docs, diags = _load_chunk(root, paths, backend, hashes)
    return (
        marshal.dumps([(d.file, d.index, d.line, d.column, d.data, d.pos) for d in docs]),
        diags,
        hashes,
    )


def load_repo(repo: Path, exclude: list[Path] = (), backend: str = "fast") -> Loaded:
    """Every document of the repository, in file order then document order."""
    root = repo.resolve()
    files, diags = discover(root, exclude)
    docs, more = load_files(root, files, backend)
    return Loaded(docs, diags + more, [relpath(root, p) for p in files])


def _json_loads(raw: bytes):
    try:  # orjson parses the 40 MB lock of a 100k estate three times faster
        import orjson

        return orjson.loads(raw)
    except ImportError:  # pragma: no cover
        return json.loads(raw.decode("utf-8"))


def read_json(path: Path, rel: str, code: str, what: str) -> tuple[dict | None, list[Diagnostic]]:
    """A JSON document snavc itself wrote (the lock, a build); None when absent."""

    if not path.is_file():
        return None, []
    try:
        data = _json_loads(path.read_bytes())
    except (OSError, UnicodeDecodeError, ValueError) as e:
        return None, [
            dg.error(code, f"{what} cannot be read ({e}); delete it to start afresh", Location(rel))
        ]
    if not isinstance(data, dict):
        return None, [
            dg.error(code, f"{what} is not a JSON object; delete it to start afresh", Location(rel))
        ]
    return data, []


def read_texts(paths: list[Path]) -> list[str]:
    """Files as text, for commands that print sources (``snavc catalog --format yaml``)."""
    return [p.read_text(encoding="utf-8", errors="replace") for p in paths]


def read_lines(repo: Path, rel: str) -> list[str] | None:
    """A file's lines, for diagnostic excerpts (None when unreadable or not text).

    Split on YAML's line breaks only (\\n, \\r\\n, \\r), as the parsers number lines;
    ``str.splitlines`` would also split on form feeds, U+2028... and shift the excerpt.
    """
    try:
        text = (repo / rel).read_bytes().decode("utf-8", errors="replace")
    except OSError:
        return None
    return _LINE_BREAK.split(text.removesuffix("\n").removesuffix("\r")) if text else []


class GitError(Exception):
    """A repository that is not in git, or a revision git does not know."""


def checkout_revision(repo: Path, ref: str, dest: Path) -> bool:
    """Write the files of ``repo`` as they are at git revision ``ref`` into ``dest``.

    Uses ``git archive``: neither the working tree nor the index is touched. ``repo``
    may be a folder inside the git repository; only that folder is extracted. Returns
    False, leaving ``dest`` empty, when the folder does not exist at ``ref`` (the change
    that adds the estate).
    """
    import io
    import subprocess
    import tarfile

    def git(*args: str, where: Path = repo) -> bytes:
        try:
            done = subprocess.run(
                ["git", "-C", str(where), *args], capture_output=True, check=False
            )
        except FileNotFoundError:
            raise GitError("git is not installed") from None
        if done.returncode != 0:
            message = done.stderr.decode(errors="replace").strip().splitlines()
            raise GitError(message[-1] if message else f"git {' '.join(args)} failed")
        return done.stdout

    prefix = git("rev-parse", "--show-prefix").decode().strip()
    top = Path(git("rev-parse", "--show-toplevel").decode().strip())
    try:
        git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except GitError:
        raise GitError(f"unknown revision '{ref}'") from None
    tree = f"{ref}:{prefix}" if prefix else ref
    if prefix:
        try:
            git("cat-file", "-e", f"{ref}:{prefix.rstrip('/')}")
        except GitError:
            dest.mkdir(parents=True, exist_ok=True)
            return False
    # from the top: run in a subfolder, git archive would also filter by that folder
    data = git("archive", "--format=tar", tree, where=top)
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(dest, filter="data")
        else:  # pragma: no cover - Python < 3.11.4
            tar.extractall(dest)
    return True
