"""Load: YAML files -> :class:`Document` objects that remember where every value came from.

First stage of the pipeline. It finds the repository's YAML files, parses each into
documents, and records the position of every key and value, so that every later
diagnostic can point at ``file:line:column``. It is the only stage that reads files.

Two parsers produce the same YAML node graph, and one function (:func:`_build`) turns
nodes into plain Python values plus a position tree:

- ``libyaml``: libyaml through PyYAML's C parser. ruamel.yaml's loaders are 5-10x
  slower; composing nodes in C and building values here is cheaper than even PyYAML's
  own ``CSafeLoader`` (docs/design.md).
- ``ruamel``: ruamel.yaml's pure-Python parser, the reference. Syntax errors are always
  reported through it, so the paths give the same diagnostics.

``fast`` (the default) first reads a file with the line scanner of
:mod:`snavc.engine.scan`, which knows the block-style subset estates are written in and
gives the very values and positions :func:`_build` would, in 0.6x the time; any other file,
and any file with a problem, goes to ``libyaml``.

Scalars are resolved with the YAML 1.2 core schema (``yes``/``on`` are strings, ``010``
is 10) whatever the parser, and keys are always strings.
"""

from __future__ import annotations

import errno
import hashlib
import json
import marshal
import os
import pickle
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import diagnostics as dg
from ..diagnostics import Diagnostic, Location
from . import hashing
from .faults import read_marshalled
from .scalars import INT_MAX, INT_MIN, MAX_NESTING, ScalarError, resolve_plain  # noqa: F401 (API)

MAX_FILE_BYTES = 16 * 1024 * 1024  # SNV108: larger files are refused unread
ALIAS_EXPANSION_FACTOR = 10  # SNV107: a document may expand to 10x its nodes (+ slack)
ALIAS_EXPANSION_SLACK = 10_000
RECURSIVE_ALIAS = "a recursive alias (a node that contains itself) cannot be expanded"
TOO_DEEP = f"document is nested too deeply: more than {MAX_NESTING} levels of mappings and lists"

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


def _positions(pos):
    return marshal.loads(pos) if isinstance(pos, bytes) else pos


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
            self.sealed_digest = hashlib.sha256(_canonical(self.data)).hexdigest()[:16]
        return self.sealed_digest

    def __eq__(self, other) -> bool:
        """Equal fields, the positions compared as values: kept marshalled (the C
        scanner's, a packed build's) or not is a matter of storage."""
        if not isinstance(other, Document):
            return NotImplemented
        return (
            self.file == other.file
            and self.index == other.index
            and self.line == other.line
            and self.column == other.column
            and self.data == other.data
            and self.catalog == other.catalog
            and self.sealed_digest == other.sealed_digest
            and _positions(self.pos) == _positions(other.pos)
        )

    __hash__ = None  # (mutable, as the dataclass made it)

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


# where orjson and json may write a float differently: 1e-05 / 0.00001, 1e-09 / 1e-9
# (searched for only where "e-" is: a regex over every document cost more than orjson)
_FLOAT_APART = re.compile(rb"[0-9]e-[0-9]")


def _canonical(data) -> bytes:
    """``data`` as sorted, compact JSON in UTF-8: the bytes of ``json.dumps(data,
    sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)``, made by
    orjson (ten times faster: the digest of every document was a third of the validate
    stage). For what a document holds (strings, 64-bit integers, floats, booleans,
    null, lists and mappings with string keys) both write the same bytes but for
    floats below 1e-4, found as ``0.0000`` or ``_FLOAT_APART`` (with the odd string
    that looks like one), and infinities and NaN, which no valid document holds (the models
    refuse them, and only a valid document is hashed); those documents, and any
    orjson refuses (an integer beyond 64 bits, a lone surrogate), go through json."""
    import orjson

    try:
        out = orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # orjson.JSONEncodeError
        out = None
    if out is None or b"0.0000" in out or (b"e-" in out and _FLOAT_APART.search(out) is not None):
        text = json.dumps(
            data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str
        )
        out = text.encode()
    return out


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
    (``Project.exclude``), matched against paths relative to the repository.

    The walk keeps its own stack (no recursion: a tree of any depth is walked), and
    nothing is skipped in silence: a folder it cannot list is an error (SNV111), a
    ``*.yaml`` that is not a regular file (a FIFO, a device, a socket) is one too
    (SNV115) and is never opened, since reading it could block or never end.
    """
    root = repo.resolve()
    excluded = {str(p.resolve()) for p in exclude}
    skip = _excluder(patterns)
    found: list[tuple[str, str, bool]] = []  # (path relative to root, absolute path, link?)
    diags: list[Diagnostic] = []
    top = str(root)
    folders = [top]
    while folders:
        folder = folders.pop()
        try:
            with os.scandir(folder) as listing:
                entries = list(listing)
        except OSError as e:
            diags.append(_unreadable_folder(root, folder, e))
            continue
        for entry in entries:
            name = entry.name
            if name.startswith("."):
                continue
            p = entry.path
            link = False
            try:
                link = entry.is_symlink()
                is_dir = entry.is_dir()  # follows a link
            except OSError as e:
                if not link or not (e.errno == errno.ELOOP or name.endswith((".yaml", ".yml"))):
                    diags.append(_unreadable_folder(root, p, e))
                    continue
                # a link that cannot be followed is no folder: one that loops points
                # nowhere, as a broken link does, and a `*.yaml` one is a file that
                # reading reports (SNV111 at 1:1), as it reports a broken link
                is_dir = False
            if is_dir:
                if p in excluded:
                    continue
                if skip is not None and skip(p[len(top) + 1 :].replace(os.sep, "/") + "/"):
                    continue
                if link:
                    # a link to a folder inside the repository is not walked: what it
                    # points at is walked under its own path
                    real = os.path.realpath(p)
                    if real not in excluded and not _inside(real, root):
                        diags.append(_outside(root, Path(p), folder=True))
                    continue
                if not os.path.exists(os.path.join(p, BUILD_MARKER)):
                    folders.append(p)
                continue
            if not name.endswith((".yaml", ".yml")):
                continue
            if skip is not None and skip(p[len(top) + 1 :].replace(os.sep, "/")):
                continue
            if link and not _inside(os.path.realpath(p), root):
                diags.append(_outside(root, Path(p)))
                continue
            special = _not_regular(p, entry, link)
            if special:
                diags.append(_special(special, Location(_printable(relpath(root, Path(p))), 1, 1)))
                continue
            rel = p[len(top) + 1 :].replace(os.sep, "/")  # p is below top
            if not rel.isascii() and not _utf8(rel):
                # the name, not the content: outputs (origins.json...) carry file names
                diags.append(
                    dg.error(
                        "SNV102",
                        "file name is not valid UTF-8: rename it (snavc's outputs name files in UTF-8)",
                        Location(_printable(rel), 1, 1),
                    )
                )
                continue
            found.append((rel, p, link))
    # A linked file is read once, under its own path when that is found too, else under
    # the link's. (Walked paths hold no link but their last part: only links need
    # resolving.)
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


def _utf8(name: str) -> bool:
    """False for a name the system gave with bytes that are not UTF-8 (Python keeps
    them as lone surrogates, which no UTF-8 output can carry)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _printable(name: str) -> str:
    """``name`` with each byte that is not UTF-8 shown as U+FFFD, as editors show it."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _inside(real: str, root: Path) -> bool:
    return Path(real).is_relative_to(root)


_FILE_TYPES = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISDIR, "a folder"),
)


def _file_type(mode: int) -> str | None:
    """What a file that is not a regular one is ("a named pipe (FIFO)"), else None."""
    if stat.S_ISREG(mode):
        return None
    return next((what for test, what in _FILE_TYPES if test(mode)), "a special file")


def _not_regular(p: str, entry, link: bool) -> str | None:
    """What ``p`` is when it is not a regular file; None for a regular file, and for a
    link that points nowhere (reading it reports SNV111)."""
    try:
        if not link and entry.is_file(follow_symlinks=False):
            return None  # the common case: no system call (scandir knows the type)
        mode = os.stat(p).st_mode
    except OSError:
        return None
    return _file_type(mode)


def _unreadable_folder(root: Path, folder: str, e: OSError) -> Diagnostic:
    return dg.error(
        "SNV111",
        f"cannot read folder: {e.strerror or e}; the files in it are not loaded",
        Location(_printable(relpath(root, Path(folder)))),
    )


def _outside(root: Path, p: Path, folder: bool = False) -> Diagnostic:
    # a file is pointed at as a whole (1:1), a folder has no position; the excerpt
    # would show a line of the file outside the repository: never printed
    return dg.warning(
        "SNV113",
        "symbolic link points outside the repository; not followed",
        Location(_printable(relpath(root, p)), *((None, None) if folder else (1, 1))),
        redact=True,
    )


def relpath(root: Path, p: Path) -> str:
    """``p`` relative to ``root``, with "/" (string work: pathlib's is slow on 10k files)."""
    top, path = str(root), str(p)
    if path.startswith(top) and path[len(top) : len(top) + 1] == os.sep:
        path = path[len(top) + 1 :]
    elif path == top:
        return "."
    return path.replace(os.sep, "/")


# -- scalars: YAML 1.2 core schema (scalars.py: the scanner reads them too) -------------


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
    def __init__(self, message, mark=None, code="SNV109"):
        super().__init__(message)
        self.mark = mark
        self.code = code


class _DuplicateKey(Exception):
    def __init__(self, key, first, second):
        self.key, self.first, self.second = key, first, second


def _build(node, depth: int = 0) -> tuple[Any, Pos]:
    """Node graph -> (value, position tree). Shared by both parsers.

    ``depth`` counts the mappings and lists around ``node``: past
    :data:`MAX_NESTING`, the document is refused at the collection that goes too deep
    (the parsers and every later stage then never recurse further).
    """
    cls = node.__class__.__name__
    if cls == "ScalarNode":
        tag = node.tag
        if tag == STR:
            return node.value, None
        try:
            if tag == PLAIN:
                return resolve_plain(node.value), None
            return _tagged(tag, node.value), None
        except _Unsupported as e:
            e.mark = node.start_mark
            raise
        except (ValueError, OverflowError) as e:  # any value Python cannot make: SNV114
            message = (
                str(e) if isinstance(e, ScalarError) else f"cannot read {node.value[:40]!r}: {e}"
            )
            raise _Unsupported(message, node.start_mark, "SNV114") from None
    if cls == "MappingNode":
        if depth >= MAX_NESTING:
            raise _Unsupported(TOO_DEEP, node.start_mark)
        if node.tag not in (MAP,):
            raise _Unsupported(f"tag {node.tag} is not supported", node.start_mark)
        data: dict = {}
        pos: dict = {}
        merged_at = None  # the mark of this mapping's `<<`
        for knode, vnode in node.value:
            if knode.__class__.__name__ != "ScalarNode":
                raise _Unsupported("mapping keys must be plain strings", knode.start_mark)
            k = knode.value
            km, vm = knode.start_mark, vnode.start_mark
            if k == "<<" and knode.tag == PLAIN:
                if merged_at is not None:
                    # a key like any other (SNV104); several mappings merge as `<<: [*a, *b]`
                    first = (merged_at.line + 1, merged_at.column + 1)
                    raise _DuplicateKey(k, first, (km.line + 1, km.column + 1))
                merged_at = km
                _merge(data, pos, vnode, depth + 1)
                continue
            first = pos.get(k)
            if first is not None:
                packed = first[0] if isinstance(first, tuple) else first
                if packed > 0:  # not a merged key, which an explicit one may replace
                    kl, kc, _, _ = _unpack4(packed)
                    raise _DuplicateKey(k, (kl, kc), (km.line + 1, km.column + 1))
            v, child = _build(vnode, depth + 1)
            data[k] = v
            packed = _pack(km.line + 1, km.column + 1, vm.line + 1, vm.column + 1)
            pos[k] = packed if child is None else (packed, child)
        return data, pos
    if cls == "SequenceNode":
        if depth >= MAX_NESTING:
            raise _Unsupported(TOO_DEEP, node.start_mark)
        if node.tag != SEQ:
            raise _Unsupported(f"tag {node.tag} is not supported", node.start_mark)
        items = []
        ipos = []
        for item in node.value:
            v, child = _build(item, depth + 1)
            items.append(v)
            m = item.start_mark
            packed = _pack(m.line + 1, m.column + 1)
            ipos.append(packed if child is None else (packed, child))
        return items, ipos
    raise _Unsupported(f"unexpected YAML node {cls}")


def _merge(data: dict, pos: dict, vnode, depth: int) -> None:
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
        value, spos = _build(src, depth)
        for k, v in value.items():
            if k not in pos:
                data[k] = v
                entry = spos[k]
                packed, child = entry if isinstance(entry, tuple) else (entry, None)
                packed = -abs(packed)
                pos[k] = packed if child is None else (packed, child)


def _alias_check(root) -> tuple[str, int | None] | None:
    """Refuse alias bombs and recursive aliases before expanding anything (SNV107):
    ``(message, limit)``, the limit on the expanded size for a bomb, None for a
    recursive alias; None when the document may be expanded.

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
            return RECURSIVE_ALIAS, None
        active.add(nid)
        unique += 1
        stack.append((node, True))
        cls = node.__class__.__name__
        if cls == "MappingNode":
            for k, v in node.value:
                for child in (k, v):
                    if id(child) in active:
                        return RECURSIVE_ALIAS, None
                    if id(child) not in size:
                        stack.append((child, False))
        elif cls == "SequenceNode":
            for v in node.value:
                if id(v) in active:
                    return RECURSIVE_ALIAS, None
                if id(v) not in size:
                    stack.append((v, False))
    limit = ALIAS_EXPANSION_FACTOR * unique + ALIAS_EXPANSION_SLACK
    if size[id(root)] > limit:
        return (
            f"aliases expand this document to {size[id(root)]:,} nodes from {unique:,} "
            f"written (limit {limit:,}): refused as an alias bomb"
        ), limit
    return None


def _alias_at(text: str, backend: str, index: int, limit: int | None):
    """The mark of the alias that gets document ``index`` of ``text`` refused (SNV107),
    found by replaying the parser's events (only for a document refused): with no
    ``limit``, the first alias to a collection still open (the node graph holds no
    alias, only the node it names: a node that contains itself); with one, the alias
    that takes the document's size, counted in reading order as :func:`_alias_check`
    counts it, past ``limit``. None if not found (the document's start is used)."""
    sizes: dict[str, int | None] = {}  # anchor -> size of the node it names (None: open)
    stack: list[list] = []  # the open collections: [anchor, size so far]
    total = 0
    last_alias = None
    document = -1
    for event in _events(text, backend):
        name = event.__class__.__name__
        if name == "DocumentStartEvent":
            document += 1
            continue
        if document < index:
            continue
        if document > index or name == "DocumentEndEvent":
            break
        anchor = getattr(event, "anchor", None)
        if name in ("MappingStartEvent", "SequenceStartEvent"):
            total += 1
            stack.append([anchor, 1])
            if anchor is not None:
                sizes[anchor] = None  # as the composers do: an alias to it now recurses
            continue
        if name in ("MappingEndEvent", "SequenceEndEvent"):
            anchor, size = stack.pop()
        elif name == "ScalarEvent":
            total += 1
            size = 1
        elif name == "AliasEvent":
            if anchor not in sizes:
                return None  # (a syntax error: reported before this is asked)
            size = sizes[anchor]
            if size is None:
                if limit is None:
                    return event.start_mark
                return None
            anchor = None
            total += size
            last_alias = event
        else:
            continue
        if anchor is not None:
            sizes[anchor] = size
        if stack:
            stack[-1][1] += size
        if limit is not None and total > limit and last_alias is not None:
            return last_alias.start_mark
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
    y.Scanner = _ruamel_scanner()
    return y


_SCANNER = None


def _ruamel_scanner():
    """ruamel.yaml's scanner, mended where it parts from libyaml (and YAML 1.2) on
    input it cannot read right; the text is never changed, so positions stay exact."""
    global _SCANNER
    if _SCANNER is not None:
        return _SCANNER
    from ruamel.yaml.error import MarkedYAMLError
    from ruamel.yaml.scanner import Scanner

    class DirectiveError(MarkedYAMLError):
        pass

    class SnavScanner(Scanner):
        def scan_yaml_directive_value(self, start_mark):
            # ruamel reads `%YAML 1.3` (or 1.0) and then fails an assertion on it (exit
            # 3); libyaml refuses it as it refuses 2.0: refused here too (SNV101)
            major, minor = super().scan_yaml_directive_value(start_mark)
            if major == 1 and minor not in (1, 2):
                raise DirectiveError(
                    problem=f"found incompatible YAML document (version {major}.{minor}: "
                    "snavc reads 1.1 and 1.2; write %YAML 1.2 or remove the directive)",
                    problem_mark=start_mark,
                )
            return major, minor

        def scan_to_next_token(self):
            # libyaml's rule (scanner.c, yaml_parser_scan_to_next_token), which YAML 1.2
            # follows: a tab separates tokens in a flow collection, and in block context
            # where no simple key may start (after a value, after `key:`); never where it
            # could be indentation. ruamel skips only spaces in block context, and
            # refused `name: X<TAB># c` and `name:<TAB>X`, which libyaml reads.
            peek, forward = self.reader.peek, self.reader.forward
            if self.reader.index == 0 and peek() == "\ufeff":
                forward()
            while True:
                ch = peek()
                while ch == " " or (ch == "\t" and (self.flow_level or not self.allow_simple_key)):
                    forward()
                    ch = peek()
                if ch == "#":
                    while peek() not in _LINE_END:
                        forward()
                if self.scan_line_break():
                    if not self.flow_level:
                        self.allow_simple_key = True
                else:
                    return

    _SCANNER = SnavScanner
    return _SCANNER


_LINE_END = "\0\r\n\x85\u2028\u2029"  # ruamel's _THE_END: where a comment stops


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


def _compose_ruamel(text: str) -> list:
    # YAML 1.2 lets an anchor be defined again, an alias naming the latest (3.2.2.2);
    # ruamel says so through the warnings module, which is not a diagnostic (printed
    # on standard error, or raised where warnings are errors). A file's documents, all
    # composed here: the filter holds while it is set
    import warnings

    from ruamel.yaml.error import ReusedAnchorWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReusedAnchorWarning)
        return list(_ruamel_parser().compose_all(text))


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
        # the bytes before the first bad one are valid UTF-8: counted as characters
        head = raw[: e.start].decode("utf-8")
        line, col = _line_column(head, len(head))
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
    if backend == "fast":
        # the block-style subset that estates are written in, read line by line; any
        # other file (and any file with a problem) is read by libyaml (snavc/engine/scan.py)
        from .scan import scan

        found = scan(text)
        if found is not None:
            return [
                Document(rel, index, line, column, value, pos)
                for index, (line, column, value, pos) in enumerate(found)
            ], []
        backend = "libyaml"
    if backend == "libyaml" and (not fast_available() or _UNICODE_BREAKS.search(text)):
        # libyaml counts U+2028, U+2029 and NEL as line breaks (YAML 1.1); ruamel and
        # editors do not: let the reference parser number the lines of those rare files
        backend = "ruamel"
    compose = _compose_fast if backend == "libyaml" else _compose_ruamel
    docs: list[Document] = []
    diags: list[Diagnostic] = []
    # What a document may hold is decided once per file: a test per document that
    # looked at the whole text made a file of n documents load in n² time.
    source = _Source(text)
    try:
        for index, node in enumerate(compose(text)):
            _document(rel, index, node, source, docs, diags, backend)
    except RecursionError:
        # ruamel's composer recurses once per nesting level
        return [], [_too_deep(rel, text, backend)]
    except Exception as e:  # a YAML error of either parser; anything else is a bug
        if not _is_yaml_error(e):
            raise
        if backend == "libyaml" and "maximum nesting depth" in str(e):
            # libyaml stops at 1000 levels; ruamel would take seconds to fail the same way.
            # Its scanner reads ahead (up to 1024 characters for a possible key): the
            # text before the failure is what its events may go through.
            mark = getattr(e, "problem_mark", None)
            upto = mark.index if mark is not None else len(text)
            return [], [_too_deep(rel, text[:upto], backend)]
        if backend == "libyaml":
            # report syntax errors through the reference parser: same text either way
            return load_text(rel, raw, backend="ruamel")
        return [], [_syntax_error(rel, e, text)]
    if not docs and not diags:
        diags.append(dg.warning("SNV110", "file holds no YAML document", where))
    return docs, diags


class _Source:
    """One file's text and what is known of it as a whole, computed once per file."""

    __slots__ = ("text", "may_alias", "may_escape", "_lines")

    def __init__(self, text: str):
        self.text = text
        self.may_alias = "*" in text  # no alias without a '*'
        self.may_escape = "\\u" in text or "\\U" in text  # no lone surrogate without one
        self._lines: list[str] | None = None

    @property
    def lines(self) -> list[str]:
        if self._lines is None:
            self._lines = _LINE_BREAK.split(self.text)  # as the parsers number lines
        return self._lines


def _document(rel, index, node, source: _Source, docs, diags, backend: str) -> None:
    m = node.start_mark
    where = Location(rel, m.line + 1, m.column + 1)
    if source.may_alias:
        problem = _alias_check(node)
        if problem:
            message, limit = problem
            alias = _alias_at(source.text, backend, index, limit)
            if alias is not None:
                where = Location(rel, alias.line + 1, alias.column + 1)
            diags.append(dg.error("SNV107", message, where))
            return
    try:
        value, pos = _build(node)
    except _DuplicateKey as e:
        first = Location(rel, e.first[0], e.first[1], "first set here")
        diags.append(
            dg.error(
                "SNV104",
                f"duplicate key '{e.key}': a key may appear once per mapping"
                + ("; merge several mappings with one `<<: [*a, *b]`" if e.key == "<<" else ""),
                Location(rel, *e.second),
                related=(first,),
            )
        )
        return
    except _Unsupported as e:
        if e.mark is not None:
            where = Location(rel, e.mark.line + 1, e.mark.column + 1)
        diags.append(dg.error(e.code, str(e), where))
        return
    if value is None:
        if node.__class__.__name__ == "ScalarNode" and node.value == "":
            where = _empty_document_at(rel, source.lines, m)
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
    elif source.may_escape and _has_surrogate(value):
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


def _too_deep(rel: str, text: str, backend: str) -> Diagnostic:
    """SNV109 when a parser gave up on the nesting (libyaml at 1000 levels, ruamel on
    Python's recursion limit): at the collection that opens level MAX_NESTING + 1, as
    :func:`_build` reports a document nested less deeply than the parsers' limits.
    ``text`` may stop short of the file (see the caller)."""
    mark = _too_deep_mark(text, backend)
    if mark is None:  # pragma: no cover - the parser failed before that level
        return dg.error("SNV109", TOO_DEEP, Location(rel, None, None))
    return dg.error("SNV109", TOO_DEEP, Location(rel, mark.line + 1, mark.column + 1))


def _too_deep_mark(text: str, backend: str):
    """The start of the first collection nested deeper than MAX_NESTING, from the
    parser's event stream (events are not nested: this never recurses)."""
    depth = 0
    for event in _events(text, backend):
        name = event.__class__.__name__
        if name in ("MappingStartEvent", "SequenceStartEvent"):
            depth += 1
            if depth > MAX_NESTING:
                return event.start_mark
        elif name in ("MappingEndEvent", "SequenceEndEvent"):
            depth -= 1
        elif name == "DocumentStartEvent":
            depth = 0
    return None


def _events(text: str, backend: str):
    """The parser's events of ``text`` (``backend``: "libyaml" or "ruamel", the one that
    composed it, so that marks are its own), up to a syntax error if there is one."""
    if backend == "libyaml":
        parser = _FAST(text)
        events = iter(lambda: parser.get_event() if parser.check_event() else None, None)
    else:
        events = _ruamel_parser().parse(text)
    try:
        yield from events
    except Exception as e:  # a syntax error past what the caller looks for
        if not _is_yaml_error(e):
            raise
    finally:
        if backend == "libyaml":
            parser.dispose()


_SHAPES = {list: "a list", str: "a string", int: "a number", float: "a number", bool: "a boolean"}


def _empty_document_at(rel: str, lines: list[str], mark) -> Location:
    """An empty document's ``---`` line: its (empty) node's mark is just past it, often at
    the next document's ``---`` or past the end of the file."""
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


def _line_column(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column (in characters) of ``text[offset]``, lines broken as
    the parsers break them (\\n, \\r\\n and a lone \\r)."""
    head = text[:offset]
    line = head.count("\n") + head.count("\r") - head.count("\r\n") + 1
    start = max(head.rfind("\n"), head.rfind("\r")) + 1
    return line, offset - start + 1


def _tab_indents(rel: str, text: str) -> list[Diagnostic]:
    out = []
    for n, line in enumerate(_LINE_BREAK.split(text), 1):
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
        line, column = _line_column(text, position)
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
    raw, problem = read_source(path, rel)
    if problem is not None:
        return [], [problem]
    if hashes is not None:
        hashes[rel] = content_hash(raw)
    return load_text(rel, raw, backend)


_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)


def read_source(path: Path | str, rel: str) -> tuple[bytes | None, Diagnostic | None]:
    """A file's bytes, or why they are not read: only a regular file within
    :data:`MAX_FILE_BYTES` is read (SNV115, SNV108), never more than the limit even if
    it grows meanwhile, and a failure of the system is SNV111. A problem with the file
    as a whole is reported at its line 1, column 1."""
    at = Location(rel, 1, 1)
    try:
        st = os.stat(path)  # before opening: opening a device may do something
        problem = _source_problem(st, at)
        if problem is not None:
            return None, problem
        # O_NONBLOCK: were it swapped for a FIFO meanwhile, opening would not wait
        fd = os.open(path, _OPEN_FLAGS)
        with open(fd, "rb", closefd=True) as f:
            problem = _source_problem(os.fstat(fd), at)
            if problem is not None:
                return None, problem
            raw = f.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        return None, dg.error("SNV111", f"cannot read file: {e.strerror or e}", at)
    if len(raw) > MAX_FILE_BYTES:  # it grew since it was measured
        return None, _too_large(None, at)
    return raw, None


def _source_problem(st: os.stat_result, at: Location) -> Diagnostic | None:
    special = _file_type(st.st_mode)
    if special:
        return _special(special, at)
    if st.st_size > MAX_FILE_BYTES:
        return _too_large(st.st_size, at)
    return None


def _special(what: str, at: Location) -> Diagnostic:
    return dg.error(
        "SNV115", f"file is {what}, not a regular file: only regular files are read", at
    )


def _too_large(size: int | None, at: Location) -> Diagnostic:
    what = f"file is {size:,} bytes, over" if size is not None else "file is over"
    return dg.error(
        "SNV108",
        f"{what} the {MAX_FILE_BYTES:,}-byte limit: split it into several files",
        at,
    )


# a top-level `kind:` or `id:` line of a document, plain or quoted
_IDENTITY_LINE = re.compile(
    r"""^\t*(kind|id)\s*:\s*(?:"([^"\n]*)"|'([^'\n]*)'|([^\s#'"][^#\n]*?))\s*(?:#.*)?$"""
)


def broken_identities(path: Path) -> set[tuple[str, str]]:
    """The ``(kind, ID)`` of each document of a file that failed to load, read from its
    top-level ``kind:`` and ``id:`` lines: those objects exist, broken (a reference to
    one is a consequence of the file's error, not an error of its own). A tab before
    ``kind:`` or ``id:`` (SNV103, the file's very error) does not hide them.

    >>> sorted(broken_identities(Path("client.yaml")))   # doctest: +SKIP
    [('Client', 'client1'), ('Contact', 'noc')]
    """
    raw, _ = read_source(path, str(path))  # never open a FIFO or a device
    if raw is None:
        return set()
    text = raw.decode("utf-8", errors="replace")
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
    return hashing.hexdigest(raw)


PARALLEL_MIN_BYTES = 4 * 1024 * 1024  # below this, a second process costs more than it saves


def load_files(
    root: Path,
    paths: list[Path],
    backend: str = "fast",
    hashes: dict | None = None,
    packed: bool = False,
    each=None,
) -> tuple[list[Document], list[Diagnostic]]:
    """Every document of ``paths`` (relative names from ``root``), in order.

    With ``packed``, each document's positions are kept marshalled (``Document.pos``
    as bytes, decoded by the first :meth:`Document.loc`): a quarter of their memory,
    and most documents of a build never need theirs (a cold build: 260 MiB less at
    100k equipment, for 2 % more loading time).

    With ``each``, the documents are handed to ``each(documents)`` in order, a few
    files' at a time, as they are loaded, and none is returned: the caller (a cold
    build, which validates them) works on the first files while the last are parsed.

    On a large repository the last files are parsed by a forked process while this one
    parses the first: parsing is most of a build, and handing the documents back
    (values and packed positions, through ``marshal``) costs less than parsing them.
    Without ``each``, this process parses 52 % of the bytes (:data:`OWN_SHARE`) and
    takes the child's documents once it is done; with ``each``, it parses a tenth
    (:data:`OWN_SHARE_EACH`) and hands on the child's documents chunk by chunk as the
    child writes them, so that what ``each`` does with them keeps pace with the
    parsing. Same documents, same order, same diagnostics either way.
    """
    sizes = []
    for p in paths:
        try:
            sizes.append(os.stat(p).st_size)
        except OSError:
            sizes.append(0)
    total = sum(sizes)
    if total < PARALLEL_MIN_BYTES or len(paths) < 2 or (os.cpu_count() or 1) < 2 or not _can_fork():
        return _load_chunk(root, paths, backend, hashes, packed, each)
    share = OWN_SHARE if each is None else OWN_SHARE_EACH
    mine, split = 0, len(paths)
    for i, size in enumerate(sizes):
        mine += size
        if mine >= total * share:
            split = i + 1
            break
    theirs = _Forked(
        root, paths[split:], backend, packed, sizes[split:] if each is not None else None
    )
    try:
        docs, diags = _load_chunk(root, paths[:split], backend, hashes, packed, each)
        if each is not None:
            return [], diags + theirs.hand_on(each, hashes)
    except BaseException:  # out of memory, interrupted: the child goes too
        theirs.stop()
        raise
    items, more, their_hashes = theirs.result()
    if items is None:
        # the child did not finish (out of memory, killed): its files are read here,
        # where a failure is the run's own and is reported as such
        more_docs, more = _load_chunk(root, paths[split:], backend, hashes, packed)
        return docs + more_docs, diags + more
    if hashes is not None:
        hashes.update(their_hashes)
    for file, index, line, column, data, pos in items:
        docs.append(Document(file, index, line, column, data, pos))
    return docs, diags + more


# the share of the bytes this process parses itself, the rest going to the forked one:
# a little more than half, as the child also marshals its documents (a seventh of their
# parsing) and writes them to a file: both are done at once with 52 % here (measured
# at 100k and 300k; this process then unmarshals the child's, docs/performance.md)
OWN_SHARE = 0.52
# the same when this process also validates every document as it comes (a cold build):
# validating them all takes it longer than the child takes to parse nine tenths, so it
# parses a tenth, and still hardly ever waits for a chunk (10k and 100k equipment,
# docs/performance.md)
OWN_SHARE_EACH = 0.1
# a streaming child writes its documents out every this many bytes of YAML parsed
CHUNK_BYTES = 256 * 1024


class _Forked:
    """A forked process loading files, its answer read through a pipe. Unlike a
    ``multiprocessing.Pool``, whose ``get`` waits forever for a worker that died, a
    child that dies (out of memory, killed) gives ``None``: the caller never hangs.

    The marshalled documents, most of the answer (about twice the YAML they come from:
    190 MB at 300k equipment), go to an unnamed temporary file that the child writes and
    this process maps, as the lock's reader does (inputs.LockAhead): not pickled and
    copied through the pipe (0.4 s of this process at 300k). Where no temporary file
    can be made, they take the pipe.

    ``sizes`` (the files' sizes): the child appends its documents to the file in chunks
    (:data:`CHUNK_BYTES` of YAML each) and says on the pipe where each chunk lies, so
    that this process can take them as they come (:meth:`hand_on`); the file, not the
    pipe, holds them, so that the child never waits for this process to read."""

    def __init__(
        self,
        root: Path,
        paths: list[Path],
        backend: str,
        packed: bool = False,
        sizes: list[int] | None = None,
    ):
        import multiprocessing
        import tempfile

        try:
            self.file = tempfile.TemporaryFile(prefix="snavc-load-")
        except OSError:
            self.file = None
        self.paths = paths
        self.root, self.backend, self.packed = root, backend, packed
        self.streamed = sizes is not None and self.file is not None
        context = multiprocessing.get_context("fork")
        self.reader, writer = context.Pipe(duplex=False)
        fd = None if self.file is None else self.file.fileno()
        self.process = context.Process(
            target=_load_chunks_to_file if self.streamed else _load_chunk_to_pipe,
            args=(writer, root, paths, backend, packed, fd) + ((sizes,) if self.streamed else ()),
            daemon=True,
        )
        self.process.start()
        writer.close()  # the child's end: EOF here once the child is gone

    def result(self) -> tuple[list | None, list[Diagnostic], dict[str, str]]:
        """``(documents as tuples, diagnostics, hashes)``, or ``(None, [], {})`` when the
        child did not answer."""
        try:
            blob, more, hashes = self.reader.recv()
            if blob is None:  # in the file
                return read_marshalled(self.file), more, hashes
            return marshal.loads(blob), more, hashes
        except (EOFError, OSError, ValueError, TypeError):
            return None, [], {}
        finally:
            self.stop()

    def hand_on(self, each, hashes: dict | None) -> list[Diagnostic]:
        """Hand the child's documents to ``each`` in order, chunk by chunk as it writes
        them (waiting for the next when there is none yet), its hashes into ``hashes``;
        returns its diagnostics. The files of a child that stopped before its last chunk
        are loaded here, from the first it did not hand back."""
        diags: list[Diagnostic] = []
        done = 0  # the child's files handed on
        try:
            if not self.streamed:
                items, more, their = self.result()
                if items is not None:
                    if hashes is not None:
                        hashes.update(their)
                    each([Document(*t) for t in items])
                    return more
            else:
                fd = self.file.fileno()
                while True:
                    try:
                        told = self.reader.recv()
                    except (EOFError, OSError):
                        break
                    if told is None:  # the end
                        return diags
                    offset, length, pickled, files = told
                    items, their = marshal.loads(os.pread(fd, length, offset))
                    if pickled:
                        diags.extend(pickle.loads(os.pread(fd, pickled, offset + length)))
                    if hashes is not None:
                        hashes.update(their)
                    each([Document(*t) for t in items])
                    done += files
        finally:
            self.stop()
        _, more = _load_chunk(self.root, self.paths[done:], self.backend, hashes, self.packed, each)
        return diags + more

    def stop(self) -> None:
        self.reader.close()
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        if self.file is not None:
            self.file.close()
            self.file = None


def _load_chunk_to_pipe(
    conn, root: Path, paths: list[Path], backend: str, packed: bool = False, fd=None
) -> None:
    try:
        blob, diags, hashes, docs = _load_chunk_marshalled(root, paths, backend, packed)
        if fd is not None:  # (the parent's file, shared by the fork)
            with os.fdopen(os.dup(fd), "wb") as f:
                f.write(blob)
            blob = None
        conn.send((blob, diags, hashes))
        conn.close()
    except BaseException:  # noqa: BLE001 - the parent reads these files again itself
        os._exit(1)  # no traceback: the parent's own run reports any failure
    # the process ends here, its documents with it: not freed one by one (a second at
    # 300k equipment) before the parent could go on
    os._exit(0)


def _load_chunks_to_file(
    conn, root: Path, paths: list[Path], backend: str, packed: bool, fd: int, sizes: list[int]
) -> None:
    """The streaming child of :class:`_Forked`: each chunk of files' documents and
    hashes appended to the file ``fd`` marshalled, then its diagnostics pickled (if
    any), and ``(offset, marshalled length, pickled length, files)`` said on the pipe;
    None at the end."""
    try:
        offset = 0
        with os.fdopen(os.dup(fd), "wb") as f:
            batch: list[tuple] = []
            diags: list[Diagnostic] = []
            hashes: dict[str, str] = {}
            size = files = 0
            for n, (p, bytes_) in enumerate(zip(paths, sizes, strict=True), 1):
                docs, more = _load_chunk(root, [p], backend, hashes, packed)
                batch += [(d.file, d.index, d.line, d.column, d.data, d.pos) for d in docs]
                diags.extend(more)
                files += 1
                size += bytes_
                if size >= CHUNK_BYTES or n == len(paths):
                    blob = marshal.dumps((batch, hashes))
                    said = pickle.dumps(diags) if diags else b""
                    f.write(blob)
                    f.write(said)
                    f.flush()  # (in the file before it is said to be)
                    conn.send((offset, len(blob), len(said), files))
                    offset += len(blob) + len(said)
                    batch, diags, hashes, size, files = [], [], {}, 0, 0
        conn.send(None)
        conn.close()
    except BaseException:  # noqa: BLE001 - the parent reads the rest again itself
        os._exit(1)
    os._exit(0)


def _can_fork() -> bool:
    import multiprocessing

    return "fork" in multiprocessing.get_all_start_methods()


def _load_chunk(
    root: Path,
    paths: list[Path],
    backend: str,
    hashes: dict | None = None,
    packed: bool = False,
    each=None,
) -> tuple[list[Document], list[Diagnostic]]:
    """The documents of ``paths`` and their diagnostics; with ``each``, each file's
    documents are handed to it instead of returned."""
    docs: list[Document] = []
    diags: list[Diagnostic] = []
    dumps = marshal.dumps
    for p in paths:
        d, dd = load_file(p, relpath(root, p), backend, hashes)
        if packed:
            for doc in d:
                if not isinstance(doc.pos, bytes):  # (the C scanner's come marshalled)
                    doc.pos = dumps(doc.pos)
        if each is None:
            docs.extend(d)
        elif d:
            each(d)
        diags.extend(dd)
    return docs, diags


def _load_chunk_marshalled(
    root: Path, paths: list[Path], backend: str, packed: bool = False
) -> tuple[bytes, list[Diagnostic], dict[str, str], list[Document]]:
    """The forked loader's answer (marshalled documents, diagnostics, hashes) and the
    documents themselves, which the caller frees or not."""
    hashes: dict[str, str] = {}
    docs, diags = _load_chunk(root, paths, backend, hashes, packed)
    blob = marshal.dumps([(d.file, d.index, d.line, d.column, d.data, d.pos) for d in docs])
    return blob, diags, hashes, docs


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

    Read as the loader reads (:func:`read_source`: a regular file within the size
    limit, else None). Split on YAML's line breaks only (\\n, \\r\\n, \\r), as the
    parsers number lines; ``str.splitlines`` would also split on form feeds, U+2028...
    and shift the excerpt.
    """
    raw, problem = read_source(repo / rel, rel)
    if raw is None:
        return None
    text = raw.decode("utf-8", errors="replace")
    return _LINE_BREAK.split(text.removesuffix("\n").removesuffix("\r")) if text else []


class GitError(Exception):
    """A repository that is not in git, or a revision git does not know."""


def _git(where: Path, *args: str, data: bytes | None = None) -> bytes:
    import subprocess

    try:
        done = subprocess.run(
            ["git", "-C", str(where), *args], input=data, capture_output=True, check=False
        )
    except FileNotFoundError:
        raise GitError("git is not installed") from None
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip().splitlines()
        raise GitError(message[-1] if message else f"git {' '.join(args)} failed")
    return done.stdout


def _safe_parts(name: bytes) -> list[str] | None:
    """A tree entry's path as parts, or None if it could leave the folder it is written to."""
    parts = os.fsdecode(name).split("/")
    if any(p in ("", ".", "..") or os.sep in p or "\0" in p for p in parts):
        return None
    return parts


def checkout_revision(
    repo: Path, ref: str, dest: Path, link_from: Path | None = None, never_link=frozenset()
) -> bool:
    """Write the files of ``repo`` as they are at git revision ``ref`` into ``dest``.

    Reads the revision's tree as it is stored (``git ls-tree`` and ``git cat-file
    --batch``): neither the working tree nor the index is touched, and unlike ``git
    archive`` no ``.gitattributes`` applies, so ``export-ignore`` drops no file and
    ``export-subst`` rewrites none (an unchanged repository plans to "no change").
    ``repo`` may be a folder inside the git repository; only that folder is written.
    Symbolic links are written as links; submodules are left out (as ``git archive``
    does). Returns False, leaving ``dest`` empty, when the folder does not exist at
    ``ref`` (the change that adds the estate).

    With ``link_from`` (a folder laid out as ``repo``: the working tree), a file whose
    bytes there are those of the revision's blob (its git object ID, computed) is
    hard-linked from it rather than written (``plan``: most files are the same in the
    working tree and the base; linking is the cheaper file system call); not the files
    named in ``never_link`` (relative paths), nor where links cannot be made.
    """
    prefix = _git(repo, "rev-parse", "--show-prefix").decode().strip()
    commit = _commit_of(repo, ref)
    tree = f"{commit}:{prefix}" if prefix else commit
    if prefix:
        try:
            _git(repo, "cat-file", "-e", f"{commit}:{prefix.rstrip('/')}")
        except GitError:
            dest.mkdir(parents=True, exist_ok=True)
            return False
    listing = _git(repo, "ls-tree", "-r", "-z", "--full-tree", tree)
    entries = []  # (mode, object, parts)
    for line in listing.split(b"\0"):
        if not line:
            continue
        meta, _, name = line.partition(b"\t")
        mode, kind, oid = meta.split(b" ")
        parts = _safe_parts(name)
        if kind != b"blob" or parts is None:
            continue  # submodules; a name git itself would refuse to check out
        entries.append((mode, oid, parts))
    dest.mkdir(parents=True, exist_ok=True)
    if link_from is not None:
        entries = _link_same(entries, link_from, dest, never_link)
    if not entries:
        return True
    out = _git(repo, "cat-file", "--batch", data=b"".join(oid + b"\n" for _, oid, _ in entries))
    pos = 0
    links = []
    for mode, oid, parts in entries:
        end = out.index(b"\n", pos)
        header = out[pos:end].split(b" ")
        if len(header) != 3 or header[0] != oid or header[1] != b"blob":
            raise GitError(f"git cat-file: cannot read object {oid.decode()}")
        size = int(header[2])
        body = out[end + 1 : end + 1 + size]
        pos = end + 1 + size + 1  # the blob and its trailing newline
        path = dest.joinpath(*parts)
        if mode == b"120000":
            links.append((path, os.fsdecode(body)))
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
        if mode == b"100755":
            path.chmod(0o755)
    # links last, so that no file is written through one
    for path, target in links:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, path)
    return True


def _link_same(entries: list, source: Path, dest: Path, never_link) -> list:
    """Link into ``dest`` the files of ``source`` whose bytes are those of their tree
    entry's blob (:func:`checkout_revision`); returns the entries left to write."""
    left, made = [], set()
    for i, (mode, oid, parts) in enumerate(entries):
        if mode != b"100644" or "/".join(parts) in never_link:
            left.append(entries[i])
            continue
        src = os.path.join(source, *parts)
        try:
            with open(src, "rb", opener=_no_follow) as f:
                seen = os.fstat(f.fileno())
                data = f.read() if stat.S_ISREG(seen.st_mode) else None
        except OSError:
            data = None
        if data is None or _blob_id(data, len(oid)) != oid:
            left.append(entries[i])
            continue
        folder = os.path.join(dest, *parts[:-1])
        target = os.path.join(folder, parts[-1])
        try:
            if folder not in made:
                os.makedirs(folder, exist_ok=True)
                made.add(folder)
            os.link(src, target)
            now = os.stat(target)
            if (now.st_ino, now.st_size, now.st_mtime_ns) != (
                seen.st_ino,
                seen.st_size,
                seen.st_mtime_ns,
            ):  # written to since it was read: the blob's bytes then
                os.unlink(target)
                left.append(entries[i])
        except OSError:  # another file system, a file of another user...: all written
            return left + entries[i:]
    return left


def _no_follow(path, flags):
    return os.open(path, flags | getattr(os, "O_NOFOLLOW", 0))


def _blob_id(data: bytes, width: int) -> bytes:
    """The git object ID of a blob of ``data`` (SHA-1, or SHA-256 for 64 digits)."""
    digest = hashlib.sha256() if width == 64 else hashlib.sha1()
    digest.update(b"blob %d\0" % len(data))
    digest.update(data)
    return digest.hexdigest().encode()


def _commit_of(repo: Path, ref: str) -> str:
    """The commit ``ref`` names; GitError("unknown revision ...") when none."""
    try:
        out = _git(
            repo, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"
        )
    except GitError:
        raise GitError(f"unknown revision '{ref}'") from None
    return out.decode().strip()


def revision_tree(repo: Path, ref: str) -> str | None:
    """The git tree ID of ``repo`` (a folder of a git repository) at revision ``ref``:
    what :func:`checkout_revision` writes is a function of it (``plan --base-state``
    keys a base's build by it). None when the folder does not exist at ``ref``;
    GitError("unknown revision ...") when ``ref`` names no commit."""
    prefix = _git(repo, "rev-parse", "--show-prefix").decode().strip().rstrip("/")
    commit = _commit_of(repo, ref)
    try:
        return (
            _git(
                repo,
                "rev-parse",
                "--verify",
                "--quiet",
                f"{commit}^{{tree}}" if not prefix else f"{commit}:{prefix}",
            )
            .decode()
            .strip()
        )
    except GitError:
        return None


def commit_files(repo: Path, present: bool = True) -> list[str]:
    """The files below ``repo`` a commit of everything would hold, as ``git status``
    sees them: tracked files still present and untracked files git does not ignore
    (paths relative to ``repo``, "/"-separated). ``present=False``: tracked files
    deleted from the working tree too (for a caller that looks at each file anyway)."""
    found = _git(repo, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    top = os.fspath(repo)
    out = []
    for name in sorted(set(found.split(b"\0"))):
        if name and (not present or os.path.lexists(os.path.join(top, os.fsdecode(name)))):
            out.append(os.fsdecode(name))
    return out


def ignored_files(repo: Path) -> list[str]:
    """The files below ``repo`` that git ignores (``.gitignore``, ``info/exclude``...)."""
    found = _git(repo, "ls-files", "-z", "--others", "--ignored", "--exclude-standard")
    return sorted(os.fsdecode(n) for n in found.split(b"\0") if n)
