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
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from ..diagnostics import Diagnostic, Location
from . import cache
from .faults import crash_point, temporary
from .inputs import Result

STATE = "build.marshal"
OUTPUTS = ("effective.json", "origins.json")


@dataclass(slots=True)
class Built:
    """The outcome of :func:`build`."""

    result: Result
    resolution: object | None
    # "written"; "errors" (nothing written); "lock" (--locked and the lock would change);
    # "reapply" (an unknown template in ``reapply``: see ``unknown``)
    status: str
    unknown: list[str] = field(default_factory=list)
    lock_written: bool = False
    # (equipment, unit services, user services) written
    counts: tuple[int, int, int] = (0, 0, 0)
    incremental: bool = False  # patched from the previous build (snavc.engine.incremental)


def save_state(
    root: Path,
    out: Path,
    state: dict,
    layouts: dict | None = None,
    digests: dict | None = None,
) -> None:
    """Link the build's outputs into the cache and store ``state`` beside them, with
    the outputs' layout (emit.Lines; found by reading them when not given) and content
    hashes (emit.file_digest; idem), checked before the next build patches them. On any
    failure (read-only repository, OUT on another file system, a full disk) leave no
    state."""
    from .emit import Lines, file_digest

    folder = root / cache.CACHE_DIR / "build"
    target = folder / STATE
    out = Path(out).resolve()  # through a symbolic link, as the build wrote it
    try:
        cache.make_folder(root)
        folder.mkdir(exist_ok=True)
        target.unlink(missing_ok=True)  # no state while the links change
        if layouts is None:
            layouts = {}
            for name in OUTPUTS:
                lines = Lines.open(out / name)
                layouts[name] = lines.sections
                lines.close()
        if digests is None:
            digests = {name: file_digest(out / name) for name in OUTPUTS}
        stats = {}
        for name in OUTPUTS:
            tmp = temporary(folder / name)
            try:
                os.link(out / name, tmp)
                os.replace(tmp, folder / name)
            finally:
                tmp.unlink(missing_ok=True)
            crash_point("state")
            stats[name] = cache.identity(folder / name)
        state = {
            **state,
            "key": _key(),
            "outputs": stats,
            "digests": {n: digests[n] for n in OUTPUTS},
            "layouts": layouts,
        }
        cache.write_sealed(target, marshal.dumps(state))
    except (OSError, ValueError):
        target.unlink(missing_ok=True)


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


def adopt_state(
    root: Path, digests: dict[str, str], lock_same: bool, checked: bool = False
) -> bool:
    """Make the state copied into ``root/.snavc/`` from another folder this folder's
    (``plan``: a base revision's build, restored from a CI cache): the records of its
    linked outputs' size, times and inode are taken again from the copies, and so is the
    lock's when ``lock_same`` (the caller compared ``root/snav.lock`` with the lock of
    the build that left the state, by content); a lock not known to be the same stays
    a changed lock, which means a full build. Only when the state is this snavc's and
    ``digests``, the content hashes of the linked outputs as the caller checked them
    (emit.file_digest), are those the state records. Returns whether it was adopted.

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
            return False
        if any(state["digests"][name] != digests.get(name) for name in OUTPUTS):
            return False
        stats = {name: cache.identity(folder / name) for name in OUTPUTS}
        hashes = dict(state["hashes"])
        if lock_same:
            cache.lock_hash(root, hashes)
        adopted = {**state, "outputs": stats, "hashes": hashes, "verified": None}
        if checked:
            adopted["verified"] = stats
        cache.write_sealed(target, marshal.dumps(adopted))
    except (OSError, ValueError, TypeError, KeyError):
        target.unlink(missing_ok=True)
        return False
    return True


def outputs_intact(root: Path, state: dict) -> bool:
    """Whether the linked outputs hold, byte for byte, what the build that left
    ``state`` wrote (their content hashes): an edit with its times restored, or a
    flipped bit, means a full build instead of a patch of a wrong file. Outputs read
    whole by whoever adopted the state (:func:`adopt_state`), with the identities they
    had then, are not read again."""
    from .emit import file_digest

    folder = root / cache.CACHE_DIR / "build"
    verified = state.get("verified")
    if verified and all(cache.identity(folder / n) == verified.get(n) for n in OUTPUTS):
        return True
    return all(file_digest(folder / name) == state["digests"][name] for name in OUTPUTS)


def _key() -> str:
    return f"snavc {cache.code()} build state 4"


def diagnostics_to_state(diags: list[Diagnostic], owner_of: dict | None = None) -> list[tuple]:
    """The diagnostics as the state keeps them, each with its owner: ``KIND/ID`` of the
    equipment, user service or maintenance window whose resolution reported it
    (``owner_of``: ``id(diagnostic) -> owner``, from ``resolve_all``'s ``owners``), else
    None (the configuration's: load, validation, the tree, the shared checks). A warm
    build drops those of the objects it resolves again."""
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

    def __init__(self, path: Path):
        from .emit import Lines

        self.lines = Lines.open(path)
        self.services = _Entries(self.lines, b"services")
        self.versions = {
            k.decode(): orjson.loads(line[len(k) + 3 :])
            for k, line in self.lines.entries(b"versions").items()
        }

    def patch(self, lock, gone: list[str], present: dict[str, list], uses: dict) -> bool:
        """Patch the lock as ``LockState.finish`` would make it anew: less the services
        ``gone`` (the dirty equipment's, before), plus those ``present`` now, with the
        versions still in use (``uses``: version -> services, updated). Returns
        whether the lock changes, and how many of its entries go."""
        from .emit import _compact, entry

        patch: dict[str, str | None] = {}
        for sid in gone:
            version = self.services.get(sid)
            if version is not None:
                uses[version] -= 1
                patch[sid] = None
        for eq, names in present.items():
            for name in names:
                sid = f"{eq}/{name}"
                version = lock.changes.get(sid) or self.services.get(sid)
                if version is not None:
                    uses[version] = uses.get(version, 0) + 1
                    patch[sid] = version
        if all(v == self.services.get(sid) for sid, v in patch.items()):
            return False, 0
        for sid, version in patch.items():
            line = entry(sid, _compact(version)) if version is not None else None
            self.lines.set(b"services", sid.encode(), line)
        for version in [v for v, n in uses.items() if n == 0]:
            del uses[version]
            self.lines.set(b"versions", version.encode(), None)
        for version in uses:
            if version not in self.versions:
                content = lock.content_of(version)
                self.lines.set(b"versions", version.encode(), entry(version, _compact(content)))
        return True, sum(1 for v in patch.values() if v is None)


class _Entries:
    """``get`` of one section of a mapped file (emit.Lines), by binary search."""

    def __init__(self, lines, section: bytes):
        self.lines, self.section = lines, section

    def get(self, key: str, default=None):
        k = key.encode()
        line = self.lines.get(self.section, k)
        return orjson.loads(line[len(k) + 3 :]) if line is not None else default
