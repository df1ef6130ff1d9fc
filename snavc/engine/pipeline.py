"""The pipeline: the library's front door (re-exported by :mod:`snavc`) over the
stages, load -> validate -> tree (snavc.engine.inputs) -> resolve (snavc.resolve) ->
emit (snavc.engine.emit).

``check`` and ``compile_repo`` run the stages in memory; ``quick_compile`` answers a
query from the snapshot cache; ``build`` writes a build, and is the one entry point
that decides how: warm (snavc.engine.incremental, from the state the last build left)
when it can, else cold. Each function takes a repository path and returns a result
holding every diagnostic met on the way; nothing here prints or exits.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from .. import diagnostics as dg
from .. import progress
from ..diagnostics import Diagnostic
from ..tree import build_tree
from ..validate import PROJECT_FILE, models_of_clean, validate
from . import cache, incremental, state
from .faults import crash_point
from .inputs import (  # noqa: F401 - the library's names, re-exported from here
    SHIPPED_CATALOG,
    SHIPPED_PREFIX,
    Leaves,
    Result,
    Timings,
    _check,
    _in_child,
    _inputs,
    check,
    fill_leaves,
    find_root,
    gc_paused,
    hashed_inputs,
    host_links,
    leaf_loader,
    load_catalog,
    load_settings,
    lock_ahead,
    project_of,
    read_lock,
    reported,
)
from .load import Document
from .state import Built


def compile_repo(
    repo: str | Path,
    backend: str = "fast",
    reapply=(),
    use_lock: bool = True,
    snapshot: bool = True,
    keep: bool = True,
    incumbent=None,
    sink=None,
    consume: bool = False,
):
    """:func:`check`, then every rule (snavc.resolve): the effective configuration.

    The lock (T5) of the repository applies unless ``use_lock`` is false; ``reapply``
    names templates whose current values replace the locked ones. Returns
    ``(result, resolution)``; ``resolution`` is None when the repository could not be
    linked into a tree. With ``snapshot`` (the default), a clean run leaves the snapshot
    cache for the next query (snavc.engine.cache); ``plan`` does not, leaving the working tree
    as it is. ``keep=False`` runs every rule but keeps no equipment (``validate``);
    ``sink(equipment_id, effective)`` gets each equipment instead of the resolution
    (``plan``: its text, not 20k dictionaries), and with ``consume`` each equipment's
    model leaves the tree once resolved, as in a build. ``incumbent`` tells the objects
    that were there before the change (snavc.tree.build_tree).
    """
    with gc_paused():
        return _compile(
            Path(repo), backend, reapply, use_lock, snapshot, keep, incumbent, sink, consume
        )


def _compile(
    repo: Path,
    backend: str,
    reapply,
    use_lock: bool,
    snapshot: bool = True,
    keep: bool = True,
    incumbent=None,
    sink=None,
    consume: bool = False,
):
    from ..resolve import engine, resolve_all
    from ..resolve.lock import LockState

    result = _check(repo, backend, incumbent)
    if result.tree is None or not result.catalog_ok:
        return result, None
    lock = (
        LockState(read_lock(Path(repo), result.diagnostics), frozenset(reapply))
        if use_lock
        else None
    )
    progress.stage("checking the rules")
    res = engine(result.tree, lock)
    if sink is not None:
        if hasattr(sink, "start"):  # what it needs of the models before they are consumed
            sink.start(result.tree)
        resolve_all(res, sink, consume=consume)
    elif keep:
        resolve_all(res)
    else:  # validate: every rule runs, nothing is kept (memory), on every core as a build
        from .shards import resolve_and_discard

        resolve_and_discard(res)
    result.diagnostics = dg.sort(
        result.diagnostics + reported(res.diagnostics, result.tree.project)
    )
    if snapshot:
        save_snapshot(result)
    return result, res


def validate_repo(repo: str | Path, backend: str = "fast") -> Result:
    """``validate``: every rule over ``repo``, nothing written. Checked from the state
    the last build left when there is one (:func:`check_warm`), else by
    :func:`compile_repo` in full."""
    checked = check_warm(repo, backend)
    if checked is not None:
        return checked.result
    result, _ = compile_repo(repo, backend=backend, keep=False)
    return result


def check_warm(repo: str | Path, backend: str = "fast") -> Built | None:
    """Every rule over ``repo`` from the state the last build left (an edit's objects
    resolved again, the others' diagnostics kept: the same diagnostics as a cold run,
    snavc.engine.incremental), nothing written but, when it is clean, the snapshot of
    what it checked, for the queries that follow; None when it cannot be (no state,
    an edit the warm build leaves to a cold one)."""
    if not cache.enabled():
        return None
    return incremental.rebuild(Path(repo), None, backend, locked=False, persist=True)


def save_snapshot(result: Result) -> tuple[str, dict] | None:
    """Leave the snapshot of a clean run for the next query (snavc.engine.cache): its key and
    the hashes it was made from (the lock's included), or None when none was written."""
    if result.snapshot is None or not result.ok or result.tree is None:
        return None
    root = result.repo.resolve()
    snap = result.snapshot
    if "packed" not in snap:  # (the build state's records: the snapshot's index is theirs)
        snap["packed"] = state.pack_leaves(snap["files"], snap["links"])
    packed = snap["packed"]
    state.keep_snapshot(root)  # (a warm build after this run reads the state's own)
    saved = cache.save(root, snap["hashes"], snap["config"], packed["where"], packed["members"])
    if saved is not None:
        cache.write_stats(root, snap["stats"], saved[1])
    return saved


def quick_compile(repo: str | Path, backend: str = "fast"):
    """``(result, resolution)`` from the snapshot cache when every input is unchanged
    since a clean run (else None): the models of the configuration objects are made and
    linked again, equipment and user services are read from their file when asked for.

    The inputs are found and hashed by a second process while this one reads the
    snapshot and makes its models (two cores: the query waits for the longer of the
    two, not for both); the snapshot is used only when its key is the inputs' key.
    """
    from ..resolve import engine
    from ..resolve.lock import LockState

    if not cache.enabled():
        return None
    repo = Path(repo)
    root = repo.resolve()
    with gc_paused():
        inputs = _in_child(lambda: _input_key(root, backend))
        snap = cache.read(root, None)
        diags: list[Diagnostic] = []
        _, settings_objs = load_settings(root, diags, backend)
        catalog_docs, _ = load_catalog(root, project_of(settings_objs), diags, backend)
        objects = None
        if snap is not None and not diags:
            try:
                split = cache.Split.read(snap)
                objects = models_of_clean([Document(*t) for t in split.config])
            except (KeyError, ValueError, TypeError):  # a snapshot out of step: compile in full
                objects = None
        found = inputs()
        if objects is None or found is None or found[0] != snap["key"] or found[1]:
            return None
        key, _, rels = found
        catalog = validate(catalog_docs, catalog=True, seal=False)
        tree = build_tree(list(settings_objs) + objects, catalog.objects, checks=False)
        if dg.has_errors(catalog.diagnostics + tree.diagnostics):
            return None  # cannot happen with an unchanged snapshot; compile in full to say why
        tree.objects.update(split.tables())
        # the equipment index is checked now (its hash), unmarshalled when first used:
        # a damaged one means a full compile, not "unknown object" for an equipment
        leaves = cache.read_payload(root / cache.CACHE_DIR / cache.LEAVES.format(key=key))
        if leaves is None:
            return None
        tree.leaf_index = cache.Lazy(lambda: cache.leaves_of(leaves, key))
        tree.unit_services = cache.UnitServiceNames(tree)
        tree.leaf_loader = leaf_loader(root, tree, backend)
        res = engine(tree, LockState(None, loader=lambda: _snapshot_lock(root)), checks=False)
        return Result(repo, tree, [], rels, len(objects)), res


def _input_key(root: Path, backend: str):
    """``(snapshot key, errors?, relative file names)`` of the repository's inputs as
    they are now (None when a file cannot be read)."""
    diags: list[Diagnostic] = []
    hashes: dict[str, str] = {}
    try:
        rels = hashed_inputs(root, diags, backend, hashes)[2]
    except OSError:
        return None
    return cache.fingerprint(hashes), dg.has_errors(diags), rels


def _snapshot_lock(root: Path):
    """The lock a snapshot was made with (its key holds the lock's size and time), read
    by looking up the few services a query needs (incremental.LockFile) rather than
    parsing a million; parsed whole if it is not in snavc's own layout."""
    try:
        return state.LockFile(root / "snav.lock")
    except (OSError, ValueError):
        return read_lock(root, [])


def build(
    repo: str | Path,
    out: str | Path,
    backend: str = "fast",
    reapply=(),
    locked: bool = False,
    incumbent=None,
    before_rules=None,
    persist: bool = True,
    state: dict | None = None,
    vouched: dict | None = None,
) -> Built:
    """Validate ``repo`` and write its effective configuration to ``out`` (INTERFACE §2).

    Equipment stream from the rules engine into a temporary folder beside ``out``,
    which replaces ``out`` only when the whole build succeeds; then ``snav.lock`` is
    rewritten if it changed (T5). Raises :class:`snavc.engine.emit.OutputError` when ``out``
    may not be replaced.

    For ``plan``: ``incumbent`` as for :func:`snavc.tree.build_tree`, and
    ``before_rules(tree)`` is called by a full build once the tree is linked, before the
    rules consume its equipment (what the plan keeps of the base); ``persist=False``
    for a build that no later build nor query follows (plan's head, whose folder goes
    next): it leaves neither the snapshot nor the state, read only by those; ``state``,
    the engine state to build from, as state.adopt_state hands it (else the one in
    ``repo/.snavc``); ``vouched``, the identity and content hash of input files the
    caller has just read (rel -> (size, mtime_ns, ctime_ns, inode, hash): cache.hash_files).
    """
    from .emit import check_output, recover_output

    repo = Path(repo)
    check_output(repo, Path(out))
    recover_output(Path(out))
    if not reapply and cache.enabled():
        built = incremental.rebuild(
            repo, Path(out), backend, locked, persist, state, vouched, incumbent
        )
        if built is not None:
            return built
    return _cold_build(repo, Path(out), backend, reapply, locked, incumbent, before_rules, persist)


def _cold_build(
    repo: Path,
    out: Path,
    backend: str,
    reapply,
    locked: bool,
    incumbent=None,
    before_rules=None,
    persist: bool = True,
) -> Built:
    """The build from scratch: every stage, every object (an empty cache)."""
    from ..resolve import engine, resolve_before_equipment
    from ..resolve.lock import LOCK_FILE, Lock, LockState
    from .emit import (
        BuildWriter,
        effective,
        input_hashes,
        lock_report,
        origins,
        write_atomic,
    )
    from .shards import resolve_and_write

    with gc_paused(), lock_ahead(repo) as ahead:
        result = _check(repo, backend, incumbent, defer=True, after_load=ahead.start)
        crash_point("load")
        if result.tree is None or not result.catalog_ok:
            return Built(result, None, "errors")
        unknown = [t for t in reapply if result.tree.get("ServiceTemplate", t) is None]
        if unknown:
            return Built(result, None, "reapply", unknown)
        timings = Timings()
        lock = LockState(
            read_lock(repo, result.diagnostics, locked, ahead.take()), frozenset(reapply)
        )
        timings("lock read")
        inputs = input_hashes(result.tree)  # before the build consumes the equipment
        if before_rules is not None:
            before_rules(result.tree)
        writer = BuildWriter(out)
        progress.stage("resolving and writing the equipment")
        try:
            res = engine(result.tree, lock)
            # whose check or resolution reported what (the state keeps it)
            owned = [(label, s, e) for label, (s, e) in res.checked.items() if e > s]
            ids = resolve_before_equipment(res, consume=True, owners=owned)
            # on every core (snavc.engine.shards), with the snapshot's equipment records
            leaves = Leaves(result.snapshot["shared"]) if result.snapshot is not None else None
            resolve_and_write(res, ids, writer, owned, leaves)
            if leaves is not None:
                fill_leaves(result.snapshot, leaves)
                leaves = None  # (100k entries: not held through the build's peak)
        except BaseException:
            writer.abort()
            raise
        timings("resolve and write")
        result.diagnostics = dg.sort(
            result.diagnostics + reported(res.diagnostics, result.tree.project)
        )
        if not result.ok:
            writer.abort()
            return Built(result, res, "errors")
        lock.finish(result.tree.unit_services)
        if locked and lock.changed:
            writer.abort()
            return Built(result, res, "lock")
        writer.finish(effective(res, inputs), result.diagnostics, origins(res), lock_report(lock))
        crash_point("swapped")
        if lock.changed:
            write_atomic(repo / LOCK_FILE, lock.new.to_json())
        crash_point("locked")
        counts = (
            res.resolver.equipment_count,
            res.resolver.unit_service_count,
            len(res.user_services),
        )
        # after the lock: the snapshot is keyed by it too
        saved = save_snapshot(result) if persist else None
        if saved is not None:
            key, hashes = saved
            state.save_state(
                repo.resolve(),
                Path(out),
                {
                    "hashes": hashes,
                    "files": [r for r in result.files if r != PROJECT_FILE],
                    "snapshot": key,
                    **result.snapshot["packed"],
                    "composed": result.snapshot["composed"],
                    "okeys": writer.okeys,
                    "lock_uses": dict(Counter((lock.new or Lock()).services.values())),
                    # what was said about the lock (SNV119) concerned the lock this
                    # build replaced: a build patched from this state reads the new one
                    "diagnostics": state.diagnostics_to_state(
                        [d for d in result.diagnostics if not lock.changed or d.file != LOCK_FILE],
                        {
                            id(res.diagnostics[i]): owner
                            for owner, start, end in owned
                            for i in range(start, end)
                        },
                    ),
                },
                writer.layouts,
                writer.digests,
                writer.blocks,
                writer.written,
            )
        timings("finish and lock")
        return Built(result, res, "written", lock_written=lock.changed, counts=counts)
