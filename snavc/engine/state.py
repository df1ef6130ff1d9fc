"""The build state: what a successful build leaves in ``REPO/.snavc/build/`` for the
next one, and what a build returns.

A build (cold or warm) ends by saving its state (:func:`save_state`): hard links to its
outputs, their layout and content hashes, the hash of every input, where each
equipment and user service is defined, and what the incremental build reads to
re-resolve only what an edit reaches (snavc.engine.incremental). :class:`LockFile`
reads and writes ``snav.lock`` entry by entry through the same layout.
"""

from __future__ import annotations

import marshal
import os
import time
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from ..diagnostics import Diagnostic, Location
from . import cache
from .faults import crash_point
from .inputs import Result

STATE = "build.marshal"
CHECK = "outputs.marshal"  # what checking the linked outputs needs (read_check)
OUTPUTS = ("effective.json", "origins.json")


@dataclass(slots=True)
class Built:
    """The outcome of :func:`build`."""

    result: Result
    resolution: object | None
    # "written"; "errors" (nothing written); "checked" (validate: nothing to write, no
    # error); "lock" (--locked and the lock would change);
    # "reapply" (an unknown template in ``reapply``: see ``unknown``)
    status: str
    unknown: list[str] = field(default_factory=list)
    lock_written: bool = False
    # (equipment, unit services, user services) written
    counts: tuple[int, int, int] = (0, 0, 0)
    incremental: bool = False  # patched from the previous build (snavc.engine.incremental)


KEPT = "snapshot-{key}.marshal"  # keep_snapshot's copies, in the state's folder


def keep_snapshot(root: Path) -> None:
    """Before a run that is not a build replaces the snapshot (a query or ``validate``
    after an edit): keep the snapshot of the state's build beside the state (a hard
    link, ``build/snapshot-KEY.marshal``), which the next warm build reads
    (:func:`state_snapshot`); else it would build cold. Only the first such run keeps
    one: until then the snapshot in place is the state's (a build leaves its own, and
    removes the copies of any other, save_state)."""
    folder = root / cache.CACHE_DIR / "build"
    if not (folder / STATE).is_file() or any(folder.glob(KEPT.format(key="*"))):
        return
    key = cache.snapshot_key(root)
    if key is None:
        return
    try:
        os.link(root / cache.CACHE_DIR / cache.SNAPSHOT, folder / KEPT.format(key=key))
    except OSError:  # no snapshot, no hard links here: the next build is cold
        pass


def state_snapshot(root: Path, key: str) -> dict | None:
    """The snapshot the state's build made (its ``key``): the one in place, else the
    one :func:`keep_snapshot` kept."""
    return cache.read(root, key) or cache.read(root, key, f"build/{KEPT}")


def save_state(
    root: Path,
    out: Path,
    state: dict,
    layouts: dict | None = None,
    digests: dict | None = None,
    blocks: dict | None = None,
    written: dict | None = None,
    packed: bytes | None = None,
) -> None:
    """Link the build's outputs into the cache and store ``state`` beside them, with
    the outputs' layout (emit.Lines; found by reading them when not given) and content
    hashes (emit.output_digest, with ``blocks``, the blocks it is made of; idem),
    checked before the next build patches them. On any failure (read-only repository,
    OUT on another file system, a full disk) leave no state.

    ``written``: file name -> (size, mtime_ns, inode) (cache.as_written) of the outputs
    as the caller knows them to hold ``digests`` and vouches that a write after it gives
    them another modification time: it wrote them in its own folder and set their time
    back from their last stamp (emit.backdate), or has just checked them and their last
    write is older than the file system's time stamps can confuse (:func:`settled`).
    When the files still have them, the state vouches for their content with their
    identities (``verified``): the next build does not read them again while they keep
    those identities, as git trusts its index. Any write since moves the modification
    time, even one with its times set back the change time (a link, as here, moves
    only the latter).

    ``packed``: ``marshal.dumps(state)``, made ahead by the caller (a patched build
    packs it while its outputs are written)."""
    from .emit import Lines, output_blocks

    folder = root / cache.CACHE_DIR / "build"
    target = folder / STATE
    out = Path(out).resolve()  # through a symbolic link, as the build wrote it
    try:
        cache.make_folder(root)
        folder.mkdir(exist_ok=True)
        target.unlink(missing_ok=True)  # no state while the links change
        for kept in folder.glob(KEPT.format(key="*")):  # (keep_snapshot's, of other states)
            if kept.name != KEPT.format(key=state.get("snapshot")):
                kept.unlink(missing_ok=True)
        if layouts is None:
            layouts = {}
            for name in OUTPUTS:
                lines = Lines.open(out / name)
                layouts[name] = lines.sections
                lines.close()
        if digests is None or blocks is None:
            made = {name: output_blocks(out / name) for name in OUTPUTS}
            digests = {name: made[name][0] for name in OUTPUTS}
            blocks = {name: made[name][1] for name in OUTPUTS}
        stats = {}
        for name in OUTPUTS:
            # unlinked, then linked: a rename over the old link would make ext4 flush the
            # new file there and then (auto_da_alloc), 0.1-0.2 s for 300 MB; no state
            # names the links meanwhile
            (folder / name).unlink(missing_ok=True)
            os.link(out / name, folder / name)
            crash_point("state")
            stats[name] = cache.identity(folder / name)
        vouched = written is not None and all(
            cache.as_written(s) == written.get(n) for n, s in stats.items()
        )
        check = {
            "key": _key(),
            "outputs": stats,
            "digests": {n: digests[n] for n in OUTPUTS},
            "blocks": {n: blocks[n] for n in OUTPUTS},
            "verified": dict(stats) if vouched else None,  # (a copy: marshal would share it)
        }
        # (before the state: a state is never newer than its outputs' check)
        cache.write_sealed(folder / CHECK, marshal.dumps(check))
        if packed is None:
            packed = marshal.dumps(state)
        cache.write_sealed(target, *_with(packed, {**check, "layouts": layouts}))
    except (OSError, ValueError):
        target.unlink(missing_ok=True)


def _with(packed: bytes, more: dict) -> tuple:
    """``packed`` (a marshalled dict) with the items of ``more`` added, as pieces whose
    bytes together read as ``marshal.dumps({**loads(packed), **more})``: a dict is
    marshalled as its pairs then a null, and pairs marshalled in version 2 (which
    shares no object, so refers to none of ``packed``'s) may go before it. The
    outputs' part of a state is added once they are written; the rest, 30 MB at 100k
    equipment, is packed while they are, and not copied again."""
    if packed[-1:] != b"0" or packed[:1] not in (b"{", b"\xfb"):
        raise ValueError("not a marshalled dict")
    pairs = b"".join(marshal.dumps(k, 2) + marshal.dumps(v, 2) for k, v in more.items())
    return memoryview(packed)[:-1], pairs, b"0"


SETTLED_NS = 50_000_000  # time stamps in nanoseconds: a tick (1-10 ms) and a margin


def settled(mtime_ns: int, now: int | None = None) -> bool:
    """Whether a write after ``now`` (default: now) is sure to give a file last
    written at ``mtime_ns`` another modification time: the stamp is older than the
    coarsest tick of a file system with fine time stamps, or (whole seconds or
    milliseconds: a file system that keeps no finer, or a stamp set by hand) than
    :data:`cache.RACY_NS`."""
    if now is None:
        now = time.time_ns()
    margin = cache.RACY_NS if mtime_ns % 1_000_000 == 0 else SETTLED_NS
    return mtime_ns < now - margin


def read_state(root: Path) -> dict | None:
    """The state the last build left, or None: absent, damaged (cache.read_sealed), made
    by other code, or its linked outputs changed since (size, times, inode; their
    content is checked by :func:`outputs_intact` before they are patched)."""
    folder = root / cache.CACHE_DIR / "build"
    state = cache.read_sealed(folder / STATE)
    try:
        if not isinstance(state, dict) or state.get("key") != _key():
            return None
        for name in OUTPUTS:
            if cache.identity(folder / name) != state["outputs"][name]:
                return None  # the linked output was changed in place
    except (OSError, ValueError, TypeError, KeyError):
        return None
    return state


def read_check(root: Path) -> dict | None:
    """What :func:`outputs_intact` needs of the state the last build left (its
    outputs' identities, digests and blocks), from the small file written beside it
    (``CHECK``, 10 kB at 100k equipment against 30 MB): a warm build starts checking the
    outputs' content with it before the state is read, and uses that check only when the
    state then read says the same (:func:`same_check`). None when absent, damaged, made by
    other code, or the linked outputs changed since."""
    folder = root / cache.CACHE_DIR / "build"
    check = cache.read_sealed(folder / CHECK)
    try:
        if not isinstance(check, dict) or check.get("key") != _key():
            return None
        if any(cache.identity(folder / name) != check["outputs"][name] for name in OUTPUTS):
            return None
    except (OSError, ValueError, TypeError, KeyError):
        return None
    return check


def same_check(check: dict, state: dict) -> bool:
    """Whether ``check`` (:func:`read_check`) is that of ``state``: the same outputs,
    digests and blocks, and the same identities vouched for (``verified``, set by
    :func:`save_state` and :func:`adopt_state`)."""
    return all(check.get(k) == state.get(k) for k in ("outputs", "digests", "blocks", "verified"))


def read_moved(folder: Path) -> dict | None:
    """The state in ``folder/build`` (a cache folder moved away from its repository, its
    output links removed: ``plan``'s saved base) when it is this snavc's, else None."""
    state = cache.read_sealed(Path(folder) / "build" / STATE)
    return state if isinstance(state, dict) and state.get("key") == _key() else None


def adopt_state(
    root: Path, digests: dict[str, str], lock_same: bool, checked: bool = False, keep: bool = True
) -> dict | None:
    """Make the state copied into ``root/.snavc/`` from another folder this folder's
    (``plan``: a base revision's build, restored from a CI cache): the records of its
    linked outputs' size, times and inode are taken again from the copies, and so is the
    lock's when ``lock_same`` (the caller compared ``root/snav.lock`` with the lock of
    the build that left the state, by content); a lock not known to be the same stays
    a changed lock, which means a full build. Only when the state is this snavc's and
    ``digests``, the content hashes of the linked outputs as the caller checked them
    (emit.file_digest), are those the state records. Returns the state adopted, or
    None. With ``keep`` false it is not written back: the caller hands it to the one
    build that uses it (pipeline.build's ``state``), which then neither writes nor
    reads 30 MB at 100k equipment.

    ``checked``: the caller knows the outputs hold ``digests`` (it has just read them
    whole, or the build that wrote them has just ended): the state says so with their
    identities (``verified``), and :func:`outputs_intact` does not read them again
    while they keep those identities (a restored plan read 36 MB twice at 10k
    equipment)."""
    folder = root / cache.CACHE_DIR / "build"
    target = folder / STATE
    state = cache.read_sealed(target)
    try:
        if not isinstance(state, dict) or state.get("key") != _key():
            return None
        if any(state["digests"][name] != digests.get(name) for name in OUTPUTS):
            return None
        stats = {name: cache.identity(folder / name) for name in OUTPUTS}
        hashes = dict(state["hashes"])
        if lock_same:
            cache.lock_hash(root, hashes)
        adopted = {**state, "outputs": stats, "hashes": hashes, "verified": None}
        if checked:
            adopted["verified"] = stats
        if not keep:
            target.unlink()  # (a state no longer this folder's)
            return adopted
        if not checked:  # its outputs' check, so that the next build starts reading them at once
            check = {"key": _key(), "outputs": stats}
            check.update((k, {n: state[k][n] for n in OUTPUTS}) for k in ("digests", "blocks"))
            cache.write_sealed(folder / CHECK, marshal.dumps(check))  # (before the state)
        cache.write_sealed(target, marshal.dumps(adopted))
    except (OSError, ValueError, TypeError, KeyError):
        target.unlink(missing_ok=True)
        return None
    return adopted


def outputs_intact(root: Path, state: dict) -> bool:
    """Whether the linked outputs hold, byte for byte, what the build that left
    ``state`` wrote (their content hashes, block by block: emit.blocks_intact): an edit
    with its times restored, or a flipped bit, means a full build instead of a patch of
    a wrong file. The blocks are then known good: a patch takes the digests of those it
    copies whole (emit.HashingFile). Outputs checked by whoever adopted the state
    (:func:`adopt_state`), with the identities they had then, are not read again (the
    same bytes make the same blocks)."""
    from .emit import blocks_intact

    folder = root / cache.CACHE_DIR / "build"
    verified = state.get("verified")
    if verified and all(cache.identity(folder / n) == verified.get(n) for n in OUTPUTS):
        return True
    return all(
        blocks_intact(folder / name, state["digests"][name], state["blocks"][name])
        for name in OUTPUTS
    )


def _key() -> str:
    return f"snavc {cache.code()} build state 6"


def diagnostics_to_state(diags: list[Diagnostic], owner_of: dict | None = None) -> list[tuple]:
    """The diagnostics as the state keeps them, each with its owner: ``KIND/ID`` of the
    equipment, user service or maintenance window whose resolution reported it
    (``owner_of``: ``id(diagnostic) -> owner``, from ``resolve_all``'s ``owners``) or of
    the box or node a shared check reported it about (``Resolution.checked``), else
    None (the configuration's: load, validation, the tree, the other shared checks). A
    warm build drops those of the objects it resolves or checks again."""
    owner_of = owner_of or {}
    return [
        (
            d.severity,
            d.code,
            d.message,
            d.file,
            d.line,
            d.column,
            d.rule,
            tuple((r.file, r.line, r.column, r.message) for r in d.related),
            d.redact,
            owner_of.get(id(d)),
        )
        for d in diags
    ]


def diagnostics_from_state(rows: list[tuple]) -> list[Diagnostic]:
    return [
        Diagnostic(s, c, m, f, li, co, ru, tuple(Location(*r) for r in rel), red)
        for s, c, m, f, li, co, ru, rel, red, _owner in rows
    ]


class LockFile:
    """snav.lock (T5) as the incremental build reads and patches it: only the entries
    of the dirty services are looked up (emit.Lines: the lock is written by
    ``emit.dumps``, one line per service), not a million of them parsed."""

    def __init__(self, path: Path, layout: dict | None = None):
        """``layout``: the lock's (emit.Lines), as the build that last read or wrote
        it kept it in its state; else (or when it does not fit) found by reading the
        lock through, 37 MB at 100k equipment."""
        from .emit import Lines

        try:
            self.lines = Lines.open(path, layout)
        except ValueError:
            if layout is None:
                raise
            self.lines = Lines.open(path)
        self.layout = dict(self.lines.sections)  # (as read: patches add sections)
        self.services = _Entries(self.lines, b"services")
        self.versions = {
            k.decode(): orjson.loads(line[len(k) + 3 :])
            for k, line in self.lines.entries(b"versions").items()
        }

    def patch(self, lock, gone: list[str], present: dict[str, list], uses: dict) -> tuple:
        """Write into the lock's lines what ``lock.finish_part`` (T5, the rule
        ``LockState.finish`` applies to every service) says changes: the entries of the
        services ``gone`` (the dirty equipment's, before) and ``present`` now, the
        versions that come or go (``uses``: version -> services, updated). Returns
        whether the lock changes, and how many of its entries go. The bytes are those
        ``emit.dumps`` gives the lock ``finish`` makes (the cold build's)."""
        from .emit import _compact, entry

        entries, versions = lock.finish_part(gone, present, uses)
        for sid, version in entries.items():
            line = entry(sid, _compact(version)) if version is not None else None
            self.lines.set(b"services", sid.encode(), line)
        for version, content in versions.items():
            line = entry(version, _compact(content)) if content is not None else None
            self.lines.set(b"versions", version.encode(), line)
        return lock.changed, lock.removed


class _Entries:
    """``get`` of one section of a mapped file (emit.Lines), by binary search."""

    def __init__(self, lines, section: bytes):
        self.lines, self.section = lines, section
        self._seen: dict = {}  # key -> value (None: absent): a patch asks thrice per service

    def get(self, key: str, default=None):
        value = self._seen.get(key, self)
        if value is self:
            k = key.encode()
            line = self.lines.get(self.section, k)
            value = self._seen[key] = orjson.loads(line[len(k) + 3 :]) if line is not None else None
        return default if value is None else value


# -- the dependency records, kept per file -------------------------------------------
#
# A warm build reads the records of the files an edit reaches, not the 100k of them
# (13 MB of marshal read and written again on every build at 100k equipment, walked
# whole). Each file's records are marshalled apart (``leaves``: file -> bytes, which
# marshal reads and writes as one copy), beside the indexes that say which files to
# read: the configuration objects the records name (``refs``: KIND/ID -> files), the
# nodes they are at (``at``: node -> files), where each equipment is (``where``: ID ->
# file), each user service's file and members' equipment (``members``), the equipment's
# parents and maintenance windows' targets (``parents``, H4/W2) and product IDs
# (``snids``, H6), and the counts a build reports. A warm build rewrites the parts of
# the files it resolved again (:func:`update_leaves`).


def pack_leaves(files: dict[str, list], links: dict[str, tuple]) -> dict:
    """The state's records of a cold build: ``files`` (file -> its leaves, as
    inputs.leaf_entry makes them) and ``links`` (inputs.host_links of every equipment
    and maintenance window), as the fields :func:`update_leaves` keeps."""
    leaves: dict[str, bytes] = {}
    refs: dict[str, list] = {}
    at: dict[str, list] = {}
    where: dict[str, str] = {}
    members: dict[str, tuple] = {}
    counts = [0, 0, 0]
    for file, items in files.items():
        labels: set = set()
        nodes: set = set()
        mine = {}
        for kind, ident, node, extra, named in items:
            labels.update(named)
            nodes.add(node)
            if kind == "Equipment":
                counts[0] += 1
                counts[1] += len(extra)
                where[ident] = file
                v = links.get(ident)
                if v:
                    mine[ident] = v
            else:
                counts[2] += 1
                members[ident] = (file, extra)
        leaves[file] = marshal.dumps((items, mine))
        for index, names in ((refs, labels), (at, nodes)):
            for name in names:
                found = index.get(name)
                if found is None:
                    index[name] = [file]
                else:
                    found.append(file)
    return {
        "leaves": leaves,
        "refs": {k: tuple(v) for k, v in refs.items()},
        "at": {k: tuple(v) for k, v in at.items()},
        "where": cache.pack(where),
        "members": members,
        "parents": {i: t for i, (t, _s) in links.items() if t},
        "snids": cache.pack({s: i for i, (_t, s) in links.items() if s is not None}),
        "counts": counts,
    }


def update_leaves(
    state: dict, redone: dict[str, list], links: dict[str, tuple], resolved: set
) -> dict:
    """The record fields of ``state`` with the files of ``redone`` (file -> its leaves
    now, empty when it has none or is gone) replacing what they held, the indexes
    brought up to date for those files only. ``links``: inputs.host_links of the
    maintenance windows and of the equipment ``resolved`` again (the others of a file
    keep theirs). ``state``'s own fields are not changed (its copies are)."""
    records = Records(state)
    packed = {
        "leaves": dict(state["leaves"]),
        "refs": dict(state["refs"]),
        "at": dict(state["at"]),
        "where": _Overlay(cache.unpack(state["where"])),
        "members": dict(state["members"]),
        "parents": {i: t for i, t in state["parents"].items() if not i.startswith(WINDOW)},
        "snids": _Overlay(cache.unpack(state["snids"])),
        "counts": list(state["counts"]),
    }
    packed["parents"].update((i, t) for i, (t, _s) in links.items() if i.startswith(WINDOW) and t)
    keys: set = set()
    for file in redone:  # (all taken out first: an equipment may move between files)
        if file in records.blobs:
            old, old_links = records.of(file)
            _index(packed, file, old, -1, keys)
            for ident, (_t, snid) in old_links.items():
                packed["parents"].pop(ident, None)
                if snid is not None and packed["snids"].get(snid) == ident:
                    del packed["snids"][snid]
            if not redone[file]:
                del packed["leaves"][file]
    for file, items in redone.items():
        old_links = records.of(file)[1] if file in records.blobs else {}
        if items:
            mine = {}
            for kind, ident, *_ in items:
                if kind == "Equipment":
                    v = links.get(ident) if ident in resolved else old_links.get(ident)
                    if v:
                        mine[ident] = v
            packed["leaves"][file] = marshal.dumps((items, mine))
            _index(packed, file, items, 1, keys)
            for ident, (targets, snid) in mine.items():
                if targets:
                    packed["parents"][ident] = targets
                if snid is not None:
                    packed["snids"][snid] = ident
    _tuples(packed, keys)
    packed["where"] = packed["where"].packed()
    packed["snids"] = packed["snids"].packed()
    return packed


class _Overlay(MutableMapping):
    """Changes to a packed mapping (cache.PackedMap), kept apart: :meth:`packed` makes
    it again only when they change something (an equipment added, removed or moved, a
    product ID changed), not for an edit of values."""

    _GONE = object()

    def __init__(self, base: Mapping):
        self.base, self.changes = base, {}

    def __getitem__(self, key):
        value = self.changes.get(key, self)
        if value is self:
            return self.base[key]
        if value is self._GONE:
            raise KeyError(key)
        return value

    def __setitem__(self, key, value) -> None:
        self.changes[key] = value

    def __delitem__(self, key) -> None:
        if key not in self:
            raise KeyError(key)
        self.changes[key] = self._GONE

    def _whole(self) -> dict:
        base = self.base
        whole = base.to_dict() if isinstance(base, cache.PackedMap) else dict(base)
        for key, value in self.changes.items():
            if value is self._GONE:
                whole.pop(key, None)
            else:
                whole[key] = value
        return whole

    def __iter__(self):
        return iter(self._whole())

    def __len__(self) -> int:
        return len(self._whole())

    def packed(self):
        """The marshallable form (cache.pack) of the mapping with its changes."""
        missing = object()
        if all(
            (key not in self.base) if value is self._GONE else self.base.get(key, missing) == value
            for key, value in self.changes.items()
        ):
            return cache.pack(self.base)
        return cache.pack(self._whole())


WINDOW = "maintenance-window:"


def _index(packed: dict, file: str, items: list, sign: int, keys: set) -> None:
    """Add (``sign`` 1) or take out (-1) ``file``'s leaves in the indexes of ``packed``;
    ``keys`` collects the entries of ``refs`` and ``at`` made lists (:func:`_tuples`
    makes them tuples again)."""
    labels: set = set()
    nodes: set = set()
    counts = packed["counts"]
    for kind, ident, at, extra, refs in items:
        labels.update(refs)
        nodes.add(at)
        if kind == "Equipment":
            counts[0] += sign
            counts[1] += sign * len(extra)
            if sign > 0:
                packed["where"][ident] = file
            elif packed["where"].get(ident) == file:
                del packed["where"][ident]
        else:
            counts[2] += sign
            if sign > 0:
                packed["members"][ident] = (file, extra)
            elif packed["members"].get(ident, (None,))[0] == file:
                del packed["members"][ident]
    for table, names in (("refs", labels), ("at", nodes)):
        index = packed[table]
        for name in names:
            files = index.get(name, ())
            if (table, name) not in keys:
                files = index[name] = list(files)
                keys.add((table, name))
            if sign > 0:
                files.append(file)
            elif file in files:
                files.remove(file)


def _tuples(packed: dict, keys: set) -> None:
    for table, name in keys:
        files = packed[table][name]
        if files:
            packed[table][name] = tuple(files)
        else:
            del packed[table][name]


class Records:
    """The dependency records of a state (:func:`pack_leaves`), each file's read when
    first asked for."""

    def __init__(self, state: dict):
        self.blobs: dict[str, bytes] = state["leaves"]
        self.where: Mapping[str, str] = cache.unpack(state["where"])
        self._read: dict[str, tuple] = {}

    def of(self, file: str) -> tuple[list, dict]:
        """``(leaves, links)`` of a file: its records (inputs.leaf_entry) and its
        equipment's parents and product IDs (inputs.host_links)."""
        found = self._read.get(file)
        if found is None:
            found = self._read[file] = marshal.loads(self.blobs[file])
        return found
