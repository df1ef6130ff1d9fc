"""The snapshot cache (part of the load stage): queries without re-reading the estate.

A run that compiles a repository without error leaves in ``REPO/.snavc/`` a snapshot of
its configuration documents (everything but equipment and user services: the few tens
of thousands of objects scope and rules are made of), where each equipment and user
service is defined (a second file, read only when a query is about one of them). The snapshot is keyed by the content hash of
every YAML file it was made from (the repository's and the catalogue's), by the size,
modification and change times and inode of ``snav.lock`` (which only snavc rewrites) and
by snavc's version: a query first hashes the files again and uses the snapshot only when
every byte is the same, so it is never stale. Every file here is *sealed* (:func:`seal`):
it starts with the hash of its content, checked whenever it is read, so that a damaged
file is never used (the run compiles in full instead). It is safe to delete.

With a snapshot, ``query`` and ``explain`` make the models of the configuration objects
again (without the checks they passed) and link them, and read the one equipment they
are about from its own file: on a 100k-equipment estate, a second instead of a full
compile. ``stats.marshal`` spares hashing files whose stat is unchanged
(:func:`hash_files`); ``build/`` holds the state of the incremental build
(snavc.engine.incremental). Set ``SNAVC_NO_CACHE=1`` to neither read nor write any of it.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import marshal
import mmap
import os
import time
from array import array
from collections.abc import Mapping
from itertools import accumulate
from pathlib import Path

from ..version import __version__
from . import hashing
from .faults import crash_point
from .hashing import SEAL, unseal, write_sealed  # noqa: F401 (API)
from .load import content_hash

CACHE_DIR = ".snavc"
SNAPSHOT = "snapshot.marshal"  # the configuration documents
LEAVES = "leaves-{key}.marshal"  # where each equipment and user service is defined
FORMAT = 5  # 2: positions marshalled apart in the snapshot; 3: sealed files (seal);
# 4: the equipment index as the build state keeps it; 5: the lazy kinds file by file (Split)
LEAF_KINDS = ("Equipment", "UserService")


def enabled() -> bool:
    return not os.environ.get("SNAVC_NO_CACHE")


@functools.cache
def code() -> str:
    """This snavc: its version and the content of each of its source files, so that a
    cache made by other code (an edited checkout, an upgrade) is not used.

    The content, not the files' times: an install of the same snavc (a CI job's fresh
    virtual environment) writes the same sources at another time, and a cache restored
    there (``plan --base-state``) must be usable. 700 kB of sources: 2 ms."""
    h = hashlib.blake2b(digest_size=8)
    h.update(f"{__version__} {FORMAT}".encode())
    package = Path(__file__).parent.parent  # the whole snavc package
    for path in sorted(package.rglob("*")):
        if path.suffix in (".py", ".yaml"):
            data = path.read_bytes()
            h.update(f"{path.relative_to(package).as_posix()} {len(data)}\n".encode())
            h.update(data)
    return h.hexdigest()


def fingerprint(hashes: dict[str, str]) -> str:
    """One key for ``rel -> content hash`` of every input file, and this snavc."""
    h = hashlib.blake2b(digest_size=16)
    h.update(f"snavc {code()} snapshot\n".encode())
    for rel in sorted(hashes):
        h.update(f"{rel}\0{hashes[rel]}\n".encode())
    return h.hexdigest()


STATS = "stats.marshal"  # rel -> (size, mtime, ctime, inode, content hash) of each file
RACY_NS = 2_000_000_000  # a file changed this close to its record may change unseen


def identity(path) -> tuple[int, int, int, int]:
    """(size, mtime_ns, ctime_ns, inode) of ``path`` (or of an open file's descriptor):
    what changes when a file is written, even with its times set back (git's index
    takes the same)."""
    st = os.stat(path)
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


def as_written(identity: tuple) -> tuple[int, int, int]:
    """(size, mtime_ns, inode) of an :func:`identity`: what a write changes, but not a
    new hard link to the file, which moves its change time only (state.save_state)."""
    return (identity[0], identity[1], identity[3])


def stat_files(paths: list[Path], rels: list[str]) -> dict:
    """``{"at": now, "files": rel -> (size, mtime_ns, ctime_ns, inode)}``, taken
    *before* the files are read, for :func:`write_stats`."""
    at = time.time_ns()
    files = {}
    for p, rel in zip(paths, rels, strict=True):
        try:
            files[rel] = identity(p)
        except OSError:
            continue
    return {"at": at, "files": files}


def write_stats(root: Path, stats: dict, hashes: dict[str, str]) -> None:
    """Record each file's stat with the hash of its content, for :func:`hash_files`."""
    files = {r: (*st, hashes[r]) for r, st in stats["files"].items() if r in hashes}
    _write(root, STATS, {"key": code(), "at": stats["at"], "files": files})


def hash_files(
    root: Path, paths: list[Path], rels: list[str], into: dict[str, str], vouched=None
) -> None:
    """Content hashes of files read but not parsed (the quick paths: queries, the
    incremental build), and their stats recorded for the next run.

    A file whose size, modification and change times and inode are those recorded with
    its hash keeps that hash unread, as git's index does: the change time cannot be
    set back by a user, and a record taken within :data:`RACY_NS` of the file's last
    change is not trusted (the file may have changed again within the same tick).
    ``vouched``: rel -> (size, mtime_ns, ctime_ns, inode, hash) that this run's caller
    took by reading the files after their last change (``plan``, which has just linked
    them into its folder): trusted while the file has that identity, racy or not.
    """
    known = _read(root, STATS)
    if known is None or known.get("key") != code():
        known = {"at": 0, "files": {}}
    trust_before = known["at"] - RACY_NS
    old = known["files"]
    vouched = vouched or {}
    stats = stat_files(paths, rels)
    read_any = len(stats["files"]) != len(old)
    for p, rel in zip(paths, rels, strict=True):
        st = stats["files"].get(rel)
        rec = old.get(rel)
        sure = vouched.get(rel)
        if st is not None and sure is not None and sure[:4] == st:
            into[rel] = sure[4]
        elif (
            st is not None
            and rec is not None
            and rec[:4] == st
            and st[1] < trust_before
            and st[2] < trust_before
        ):
            into[rel] = rec[4]
        else:
            with open(p, "rb") as f:
                into[rel] = content_hash(f.read())
            read_any = True
    if read_any:  # recorded again: racy files are trusted next time if unchanged
        write_stats(root, stats, into)


def lock_hash(root: Path, into: dict[str, str]) -> None:
    """The lock by size, modification and change times (ns) and inode: it is 40 MB at
    100k equipment, only snavc rewrites it, and reading it is what a query avoids. Any
    write to it changes its change time, which a user cannot set back (an edit with the
    modification time restored is seen)."""
    path = root / "snav.lock"
    try:
        st = path.stat()
        into["snav.lock"] = f"{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino}"
    except OSError:
        into["snav.lock"] = "none"


# A cache folder says what it is to the tools that walk a repository: git ignores it
# (its own .gitignore, so no repository needs a line for it) and backup tools skip it
# (https://bford.info/cachedir/).
CACHEDIR_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by snavc.\n"
    "# For information about cache directory tags, see https://bford.info/cachedir/\n"
)


def make_folder(root: Path) -> Path:
    """``root/.snavc``, created with its ``.gitignore`` (``*``) and ``CACHEDIR.TAG``
    when missing. OSError when it cannot be written."""
    folder = root / CACHE_DIR
    folder.mkdir(exist_ok=True)
    for name, text in (
        (".gitignore", "# written by snavc: a cache, never committed\n*\n"),
        ("CACHEDIR.TAG", CACHEDIR_TAG),
    ):
        path = folder / name
        if not path.exists():
            path.write_text(text, encoding="utf-8")
    return folder


def write(root: Path, key: str, config, where: dict, members: dict) -> bool:
    """Store a snapshot; False (nothing written) when the repository is not writable.

    Two files under one key: the configuration (every query) and the equipment index
    (only a query about an equipment or user service reads it): ``where`` (equipment ID
    -> file, packed: :func:`pack`) and ``members`` (user service ID -> (file, ...)), the
    build state's own (snavc.engine.state.pack_leaves), marshalled as they are.
    ``config``: the configuration documents (tuples, in order), or a :class:`Split`.
    """
    split = config if isinstance(config, Split) else Split.whole(config)
    try:
        folder = make_folder(root)
        for old in folder.glob(LEAVES.format(key="*")):
            old.unlink()
        # the index first, named by its key: a valid snapshot always has its index
        for name, payload in (
            (LEAVES.format(key=key), {"equipment": where, "members": members}),
            (SNAPSHOT, split.payload()),
        ):
            if name == SNAPSHOT:
                crash_point("snapshot")
            write_sealed(folder / name, marshal.dumps({"key": key, **payload}))
    except OSError:
        return False  # a read-only checkout, a full disk: queries will compile in full
    return True


# -- sealed files: every cache file carries the hash of its content ---------------------

# (the seal: engine.hashing's, re-exported here where the caches' callers find it)
DIGEST = hashing.SIZE


def read_sealed(path: Path):
    """The marshalled value of the sealed file ``path``; None when it is absent,
    damaged (its hash does not match) or not readable by this Python.

    Read through a mapping of the file, not into a bytes object: the pages are the
    page cache's, where a 30 MB buffer costs 7,000 page faults of fresh memory (0.02 s
    of a warm build at 100k equipment, which reads 40 MB so), and freeing it raises
    glibc's threshold for mapping large blocks apart (faults.read_marshalled). snavc
    replaces its cache files by renaming, never rewrites one in place: a mapped file
    keeps its content (git maps its index and packs the same way)."""
    try:
        with open(path, "rb") as f:
            if os.fstat(f.fileno()).st_size == 0:
                return None  # (a file of nothing cannot be mapped)
            mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError):
        return None
    with mapped:
        payload = unseal(mapped)
        if payload is None:
            return None
        try:
            return marshal.loads(payload)
        except (ValueError, EOFError, TypeError):
            return None
        finally:
            payload.release()  # (the mapping closes only once no view is left)


def read_payload(path: Path) -> memoryview | None:
    """The checked payload of a sealed file, not yet unmarshalled (None: absent or
    damaged), for :func:`leaves_of`."""
    try:
        return unseal(path.read_bytes())
    except OSError:
        return None


def leaves_of(payload: memoryview, key: str) -> Mapping:
    """The equipment index of a checked payload (:func:`read_payload`) made with
    ``key`` (:class:`LeafIndex`); ValueError if it is not (it was checked, and named by
    its key)."""
    data = marshal.loads(payload)
    if not isinstance(data, dict) or data.get("key") != key:
        raise ValueError("the snapshot's equipment index is not the snapshot's")
    return LeafIndex(unpack(data["equipment"]), data["members"])


class LeafIndex(Mapping):
    """``ID -> [kind, file]`` of each equipment and user service (``Tree.leaf_index``),
    over the build state's ``where`` (equipment ID -> file) and ``members`` (user
    service ID -> (file, members)); an equipment first when both kinds have an ID."""

    def __init__(self, where: Mapping, members: Mapping):
        self.where, self.members = where, members

    def __getitem__(self, ident):
        file = self.where.get(ident)
        if file is not None:
            return ["Equipment", file]
        return ["UserService", self.members[ident][0]]

    def __contains__(self, ident) -> bool:
        return ident in self.where or ident in self.members

    def __iter__(self):
        yield from self.where
        yield from (i for i in self.members if i not in self.where)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _read(root: Path, name: str) -> dict | None:
    data = read_sealed(root / CACHE_DIR / name)
    return data if isinstance(data, dict) else None


def _write(root: Path, name: str, data: dict) -> bool:
    try:
        folder = make_folder(root)
        write_sealed(folder / name, marshal.dumps(data))
    except OSError:
        return False
    return True


def save(
    root: Path, hashes: dict[str, str], config, where: dict, members: dict
) -> tuple[str, dict] | None:
    """Store the snapshot of a clean run's inputs: ``hashes`` (the files'), its
    configuration documents, and where each equipment and user service is (``where``,
    ``members``: the build state's, snavc.engine.state.pack_leaves). Returns ``(key,
    hashes with the lock's)``, or None when the repository is not writable."""
    hashes = dict(hashes)
    lock_hash(root, hashes)
    key = fingerprint(hashes)
    return (key, hashes) if write(root, key, config, where, members) else None


def snapshot_key(root: Path) -> str | None:
    """The key of the snapshot in place, from the name of its equipment index (written
    first, :func:`write`; the one file of that name), without reading the snapshot."""
    prefix, suffix = LEAVES.split("{key}")
    keys = [
        p.name[len(prefix) : -len(suffix)] for p in (root / CACHE_DIR).glob(LEAVES.format(key="*"))
    ]
    return keys[0] if len(keys) == 1 else None


def read(root: Path, key: str | None, name: str = SNAPSHOT) -> dict | None:
    """The snapshot file made from exactly these inputs, or None. With ``key`` None, the
    snapshot there is, whatever its key (the caller compares it with the inputs')."""
    if name == SNAPSHOT and key is None:
        data = _read(root, SNAPSHOT)
        if data is None or not isinstance(data.get("key"), str):
            return None
        key = data["key"]
        return data if (root / CACHE_DIR / LEAVES.format(key=key)).is_file() else None
    if name == SNAPSHOT and not (root / CACHE_DIR / LEAVES.format(key=key)).is_file():
        return None  # its equipment index is gone: not a usable snapshot
    # absent, damaged, or written by another Python: compile in full
    data = read_sealed(root / CACHE_DIR / name.format(key=key))
    if not isinstance(data, dict) or data.get("key") != key:
        return None
    return data


class Split:
    """A snapshot's configuration documents (tuples: file, index, line, column, data,
    positions) in two parts: ``config``, those of the kinds made at once, in order; and
    those of the kinds made when first read (:data:`LAZY_KINDS`, 27,000 of the 49,000 at
    100k equipment), marshalled file by file (``blobs``, the files in order) and decoded
    only for the files asked for (:meth:`of`), with ``ids`` (file -> ``(kind, ID, node)``
    of each of its documents) for the tables of their models (:meth:`tables`). An edit
    of a period then decodes no contact, and writes back the other files' bytes as they
    were read."""

    def __init__(self, config: list, blobs: dict[str, bytes], ids: dict[str, list]):
        self.config, self.blobs, self.ids = config, blobs, ids
        self._decoded: dict[str, list] = {}
        self._index: dict[str, dict] = {}  # file -> (kind, ID) -> its document
        self._eager: dict[str, list] | None = None  # file -> its documents of ``config``

    @classmethod
    def whole(cls, config: list) -> Split:
        """The split of ``config`` (every document, in order)."""
        return cls.updated(cls([], {}, {}), list(dict.fromkeys(t[0] for t in config)), config)

    @classmethod
    def updated(cls, old: Split, files: list[str], now: list) -> Split:
        """``old`` with the documents ``now`` (tuples, in order) in place of those of
        their files: the files of ``files``, in that order (the others are gone). Those
        of the other files stay as they are, their bytes not marshalled again."""
        fresh: dict[str, list] = {}
        for t in now:
            fresh.setdefault(t[0], []).append(t)
        eager: list = []
        blobs: dict[str, bytes] = {}
        ids: dict[str, list] = {}
        for file in files:
            if file in fresh:
                lazy = [t for t in fresh[file] if t[4].get("kind") in LAZY_KINDS]
                eager += [t for t in fresh[file] if t[4].get("kind") not in LAZY_KINDS]
                if lazy:
                    blobs[file] = marshal.dumps(lazy)
                    ids[file] = [(t[4]["kind"], t[4]["id"], t[4].get("at")) for t in lazy]
            else:
                eager += old.eager_of(file)
                if file in old.blobs:
                    blobs[file], ids[file] = old.blobs[file], old.ids[file]
        return cls(eager, blobs, ids)

    def eager_of(self, file: str) -> list:
        """The documents of ``config`` of ``file``."""
        if self._eager is None:
            self._eager = {}
            for t in self.config:
                self._eager.setdefault(t[0], []).append(t)
        return self._eager.get(file, [])

    def documents_of(self, file: str) -> list:
        """Every configuration document of ``file`` (those of ``config`` first)."""
        return self.eager_of(file) + self.of(file)

    @classmethod
    def read(cls, data: dict) -> Split:
        """The split of a snapshot's data (:func:`read`); KeyError, ValueError or
        TypeError when it is not one."""
        blobs = dict(data["lazy"])
        if blobs.keys() != data["ids"].keys():
            raise ValueError("a snapshot's lazy documents and their IDs differ")
        return cls(data["config"], blobs, data["ids"])

    def payload(self) -> dict:
        return {"config": self.config, "lazy": list(self.blobs.items()), "ids": self.ids}

    def of(self, file: str) -> list:
        """The documents of the lazy kinds of ``file`` (none when it has none)."""
        found = self._decoded.get(file)
        if found is None:
            blob = self.blobs.get(file)
            found = self._decoded[file] = [] if blob is None else marshal.loads(blob)
        return found

    def tables(
        self, skip=frozenset(), made: list = (), every: bool = False, drop=frozenset()
    ) -> dict:
        """The :class:`LazyKind` of each lazy kind that has documents (``every``: of
        each lazy kind): those of the files but those in ``skip`` and the ``(kind, ID)``
        in ``drop``, with the models ``made`` (a warm build's, of the files it read)."""
        entries: dict[str, list] = {}
        for file, found in self.ids.items():
            if file not in skip:
                for kind, ident, at in found:
                    if (kind, ident) not in drop:
                        entries.setdefault(kind, []).append((ident, at, file))
        mine: dict[str, list] = {}
        for obj in made:
            mine.setdefault(obj.kind, []).append(obj)
        return {
            kind: LazyKind(kind, entries.get(kind, []), self._document, mine.get(kind, ()))
            for kind in LAZY_KINDS
            if every or kind in entries or kind in mine
        }

    def _document(self, kind: str, ident: str, file: str):
        from .load import Document

        index = self._index.get(file)
        if index is None:
            index = self._index[file] = {(t[4]["kind"], t[4]["id"]): t for t in self.of(file)}
        return Document(*index[kind, ident])


class UnitServiceNames(Mapping):
    """``equipment -> unit service names`` of a snapshot's tree, worked out for the
    equipment a query asks about (reading it) instead of stored for all of them."""

    def __init__(self, tree):
        self.tree = tree

    def __getitem__(self, eq_id: str) -> list[str]:
        from ..tree import unit_service_names

        eq = self.tree.get("Equipment", eq_id)
        if eq is None:
            raise KeyError(eq_id)
        return unit_service_names(self.tree, eq)

    def __iter__(self):
        index = self.tree.leaf_index
        return (i for i in index if index[i][0] == "Equipment")

    def __len__(self) -> int:
        return sum(1 for _ in self)


class Lazy(Mapping):
    """A mapping read from the snapshot's equipment index on first use."""

    def __init__(self, load):
        self._load, self._data = load, None

    def _get(self) -> dict:
        if self._data is None:
            self._data = self._load()
        return self._data

    def __getitem__(self, key):
        return self._get()[key]

    def __iter__(self):
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())


class PackedMap(Mapping):
    """A ``str -> str`` mapping of 100k entries (where each equipment is, which
    equipment holds each product ID) kept as one bytes object of sorted ``key NUL value
    NUL`` records and the array of their offsets: marshal reads and writes it as two
    copies, where a dict takes 100k strings made and hashed each way (0.1 s of a warm
    build at 100k equipment). Looked up by binary search. :func:`pack` makes it (a
    plain dict when a key or value holds a NUL), :func:`unpack` reads either."""

    __slots__ = ("blob", "starts")

    def __init__(self, blob: bytes, starts: bytes):
        self.blob = blob
        self.starts = array("I")
        self.starts.frombytes(starts)

    def _index(self, key: str) -> int:
        """The index of ``key``'s record, or -1."""
        k = key.encode()
        blob, starts = self.blob, self.starts
        lo, hi = 0, len(starts)
        while lo < hi:
            mid = (lo + hi) // 2
            at = starts[mid]
            found = blob[at : blob.index(b"\0", at)]
            if found < k:
                lo = mid + 1
            elif found > k:
                hi = mid
            else:
                return mid
        return -1

    def __getitem__(self, key):
        i = self._index(key) if isinstance(key, str) else -1
        if i < 0:
            raise KeyError(key)
        at = self.blob.index(b"\0", self.starts[i]) + 1
        return self.blob[at : self.blob.index(b"\0", at)].decode()

    def __contains__(self, key) -> bool:
        return isinstance(key, str) and self._index(key) >= 0

    def __iter__(self):
        return (k.decode() for k in self.blob.split(b"\0")[0:-1:2])

    def __len__(self) -> int:
        return len(self.starts)

    def to_dict(self) -> dict[str, str]:
        parts = self.blob.decode().split("\0")
        return dict(zip(parts[0:-1:2], parts[1::2], strict=True))


def pack(mapping: Mapping[str, str]):
    """The marshallable form of ``mapping`` for :class:`PackedMap`: ``(bytes, offsets)``,
    or the mapping as a dict when a key or value holds a NUL (a product ID may)."""
    if isinstance(mapping, PackedMap):
        return (mapping.blob, mapping.starts.tobytes())
    items = sorted(mapping.items())  # (code point order: that of their UTF-8 bytes)
    text = "".join([f"{k}\0{v}\0" for k, v in items])
    blob = text.encode()
    if blob.count(b"\0") != 2 * len(items):
        return dict(mapping)
    if len(blob) == len(text):  # (ASCII: a character is a byte)
        sizes = [len(k) + len(v) + 2 for k, v in items]
    else:
        sizes = [len(k.encode()) + len(v.encode()) + 2 for k, v in items]
    starts = array("I", accumulate(sizes, initial=0))
    starts.pop()
    return (blob, starts.tobytes())


def unpack(packed) -> Mapping[str, str]:
    """The mapping :func:`pack` gave ``packed`` for."""
    return packed if isinstance(packed, dict) else PackedMap(*packed)


# Kinds a snapshot's tree makes models of on first use: a query needs the contacts and
# boxes of the nodes on its path, not the 24,000 of a 100k estate, nor its 3,000
# groups, accounts and users, which rules look up by ID (none of them in a catalogue).
LAZY_KINDS = ("Contact", "Box", "ContactGroup", "MonitoringAccount", "User")


class LazyKind(Mapping):
    """``ID -> model`` of one kind in a snapshot's tree, each model made when first
    asked for (its document passed every check when the snapshot was made), from its
    document, decoded then (:class:`Split`). :meth:`by_node` gives them by node for
    ``Scope.defined_at``, made per node."""

    def __init__(self, kind: str, entries: list, document, made: list = ()):
        """``entries``: ``(ID, node, file)`` of each document; ``document(kind, ID,
        file)`` gives one; ``made``: models already made (a warm build's)."""
        self.kind = kind
        self._file = {ident: file for ident, _at, file in entries}
        self._at = {ident: at for ident, at, _file in entries}
        self._document = document
        self._made: dict = {}
        for obj in made:
            self._file[obj.id] = None
            self._made[obj.id] = obj
            self._at[obj.id] = obj.at
        # an ID given twice (a new document with an unchanged one's: the build is cold)
        self.duplicated = len(self._file) < len(entries) + len(made)

    def _doc(self, ident: str):
        return self._document(self.kind, ident, self._file[ident])

    def documents(self):
        """``(ID, document, model or None)`` of each: the model when it is made, else
        the document, whose data is there (snavc.engine.incremental reads references
        from it)."""
        for ident in self._file:
            made = self._made.get(ident)
            yield ident, (made.doc if made is not None else self._doc(ident)), made

    def __getitem__(self, ident):
        obj = self._made.get(ident)
        if obj is None:
            from ..validate import models_of_clean

            if ident not in self._file:
                raise KeyError(ident)
            obj = self._made[ident] = models_of_clean([self._doc(ident)])[0]
        return obj

    def __iter__(self):
        return iter(self._file)

    def __len__(self) -> int:
        return len(self._file)

    def __contains__(self, ident) -> bool:
        return ident in self._file

    def taking(self, objects) -> LazyKind:
        """This table with ``objects`` (models of its kind whose IDs it does not hold)
        as made: tree.build_tree's, the definitions a warm build indexed itself."""
        view = copy.copy(self)
        view._file, view._at, view._made = dict(self._file), dict(self._at), dict(self._made)
        for obj in objects:
            view._file[obj.id], view._at[obj.id], view._made[obj.id] = None, obj.at, obj
        return view

    def placed_at(self, nodes) -> list[str]:
        """The IDs of the objects placed at one of ``nodes`` (IDs)."""
        return [i for i, at in self._at.items() if at in nodes]

    def placed(self, nodes: Mapping) -> LazyKind:
        """This table without the objects whose node is not in ``nodes``: the tree keeps
        an object placed nowhere out, as it keeps out any other (tree.build_tree). An
        edited document's may be placed nowhere, and so may an unchanged one whose node
        an edit put in error (its subtree is out of the tree: the clean build that left
        the document had it)."""
        out = {i for i, at in self._at.items() if at is not None and at not in nodes}
        if not out:
            return self
        view = copy.copy(self)
        view._file = {i: f for i, f in self._file.items() if i not in out}
        view._at = {i: at for i, at in self._at.items() if i not in out}
        view._made = {i: o for i, o in self._made.items() if i not in out}
        return view

    def by_node(self) -> Mapping:
        ids: dict[str, list[str]] = {}
        for ident, at in self._at.items():
            ids.setdefault(at or "product", []).append(ident)
        return _ByNode(self, ids)


class _ByNode(Mapping):
    def __init__(self, table: LazyKind, ids: dict[str, list[str]]):
        self._table, self._ids, self._made = table, ids, {}

    def __getitem__(self, node_id: str) -> list:
        found = self._made.get(node_id)
        if found is None:
            found = self._made[node_id] = [self._table[i] for i in self._ids[node_id]]
        return found

    def __iter__(self):
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)
