"""The pipeline, stage after stage: load -> validate -> tree (-> resolve -> emit).

The library's front door (re-exported by :mod:`snavc`). Each function takes a
repository path and returns a result holding every diagnostic met on the way; nothing
here prints or exits.
"""

from __future__ import annotations

import gc
import marshal
import os
import resource
import sys
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from .. import diagnostics as dg
from .. import progress
from ..diagnostics import Diagnostic, Location
from ..model import Obj, Project
from ..tree import Tree, build_tree
from ..validate import PROJECT_FILE, models_of_clean, validate
from . import cache
from .faults import crash_point
from .load import (
    Document,
    broken_identities,
    discover,
    discover_files,
    load_file,
    load_files,
    relpath,
)

SHIPPED_CATALOG = Path(__file__).parent.parent / "catalog"


class Timings:
    """Stage durations, printed to stderr when SNAVC_TIMINGS is set (docs/performance.md)."""

    def __init__(self):
        self.on = bool(os.environ.get("SNAVC_TIMINGS"))
        self.last = time.perf_counter()

    def __call__(self, stage: str) -> None:
        if self.on:
            now = time.perf_counter()
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
            print(
                f"snavc: {stage:<22} {now - self.last:7.2f} s   peak RSS {rss:,} MiB",
                file=sys.stderr,
            )
            self.last = now


@contextmanager
def gc_paused():
    """Pause Python's cyclic garbage collector for one run of the pipeline.

    A build allocates millions of small containers and frees almost none of them until
    it ends; the collector's repeated passes over them took half of a 10k-equipment
    build (docs/performance.md). The pipeline makes no garbage cycles worth collecting.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


SHIPPED_PREFIX = "<catalog>"


@dataclass(slots=True)
class Result:
    """What a run of the pipeline gives: the tree (when it could be built) and diagnostics."""

    repo: Path
    tree: Tree | None
    diagnostics: list[Diagnostic]
    files: list[str] = field(default_factory=list)
    documents: int = 0
    # False when the catalogue could not be read: the rules would only cascade
    catalog_ok: bool = True
    # what a clean run leaves in the snapshot cache (snavc.engine.cache)
    snapshot: dict | None = None

    @property
    def ok(self) -> bool:
        return not dg.has_errors(self.diagnostics)


def load_catalog(
    repo: Path,
    project: Project | None,
    diags: list[Diagnostic],
    backend: str,
    hashes: dict | None = None,
) -> tuple[list[Document], Path | None]:
    """The catalogue's documents: the shipped one, or the folder ``Project.catalog`` names."""
    if project is not None and project.catalog:
        folder = (repo / project.catalog).resolve()
        if not folder.is_dir() or not folder.is_relative_to(repo.resolve()):
            diags.append(
                dg.error(
                    "SNV213",
                    f"catalog folder '{project.catalog}' does not exist inside the repository",
                    project.doc.loc("catalog"),
                )
            )
            return [], None
        files, more = discover(folder)
        diags.extend(more)
        docs = []
        for p in files:
            d, dd = load_file(p, relpath(repo.resolve(), p), backend, hashes)
            docs.extend(d)
            diags.extend(dd)
        for d in docs:
            d.catalog = True
        return docs, folder
    docs = []
    for p in sorted(SHIPPED_CATALOG.glob("*.yaml")):
        d, dd = load_file(p, f"{SHIPPED_PREFIX}/{p.name}", backend, hashes)
        docs.extend(d)
        diags.extend(dd)
    for d in docs:
        d.catalog = True
    return docs, None


def load_settings(
    root: Path, diags: list[Diagnostic], backend: str = "fast", hashes: dict | None = None
) -> tuple[list[Document], list[Obj]]:
    """``snav.yaml``'s documents and valid objects (read first: Project.catalog decides
    which folder is the catalogue rather than part of the repository)."""
    settings = root / PROJECT_FILE
    if not settings.is_file():
        return [], []
    docs, more = load_file(settings, PROJECT_FILE, backend, hashes)
    diags.extend(more)
    checked = validate(docs)
    diags.extend(checked.diagnostics)
    return docs, checked.objects


def project_of(objects: list[Obj]) -> Project | None:
    return next((o for o in objects if o.kind == "Project"), None)


def reported(diags: list[Diagnostic], project: Project | None) -> list[Diagnostic]:
    """``diags`` without the warnings whose code ``Project.ignore`` lists (errors are
    always reported: a build with errors has no output to trust)."""
    ignore = set(project.ignore) if project is not None else ()
    if not ignore:
        return diags
    return [d for d in diags if d.severity == "error" or d.code not in ignore]


def find_root(folder: str | Path) -> Path:
    """The repository ``folder`` belongs to: itself when it holds ``snav.yaml``, else
    the nearest folder above it that does (as git finds ``.git`` and ruff its
    configuration), not looking above the top of a git repository; ``folder`` when none
    does (``snav.yaml`` is optional).

    >>> find_root("samples/seed/clients")                        # doctest: +SKIP
    PosixPath('/…/samples/seed')
    """
    folder = Path(folder)
    start = folder.resolve()
    for candidate in (start, *start.parents):
        if (candidate / PROJECT_FILE).is_file():
            return folder if candidate == start else candidate
        if (candidate / ".git").exists():
            break
    return folder


def check(repo: str | Path, backend: str = "fast") -> Result:
    with gc_paused():
        return _check(Path(repo), backend)


def _inputs(root: Path, diags: list[Diagnostic], backend: str, hashes: dict[str, str]):
    """What a run reads, before the repository's own files: ``snav.yaml`` (its
    documents and objects), the catalogue's documents, the relative name of every file
    found, and the files to load (all but ``snav.yaml``, already read)."""
    project_docs, settings_objs = load_settings(root, diags, backend, hashes)
    project = project_of(settings_objs)
    catalog_docs, catalog_dir = load_catalog(root, project, diags, backend, hashes)
    found, more = discover_files(
        root, [catalog_dir] if catalog_dir else [], project.exclude if project else ()
    )
    diags.extend(more)
    rels = [rel for rel, _ in found]
    paths = [p for rel, p in found if rel != PROJECT_FILE]
    return project_docs, settings_objs, catalog_docs, rels, paths


def _check(repo: Path, backend: str, incumbent=None) -> Result:
    """Load, validate and link a repository: every problem found before the rules.
    (:func:`check` is the public entry; this runs it with the collector paused.)

    >>> result = check("samples/seed")            # doctest: +SKIP
    >>> result.ok, len(result.diagnostics)        # doctest: +SKIP
    (True, 0)
    """
    repo = Path(repo)
    diags: list[Diagnostic] = []
    root = repo.resolve()
    hashes: dict[str, str] = {}

    project_docs, settings_objs, catalog_docs, rels, paths = _inputs(root, diags, backend, hashes)
    timings = Timings()
    # each file's stat before it is read: a later query trusts it to skip hashing
    files = [rel for rel in rels if rel != PROJECT_FILE]  # those of `paths`, in order
    stats = cache.stat_files(paths, files) if cache.enabled() else None
    progress.stage(f"reading {len(paths):,} files")
    loaded, more = load_files(root, paths, backend, hashes)
    docs = list(project_docs) + loaded
    diags.extend(more)
    timings("load")
    # the snapshot's configuration documents, kept before validation drops their data;
    # positions packed apart (Document.pos): a query decodes those of a few documents
    config = (
        [
            (d.file, d.index, d.line, d.column, d.data, marshal.dumps(d.pos))
            for d in loaded
            if d.kind not in cache.LEAF_KINDS
        ]
        if cache.enabled()
        else []
    )

    progress.stage(f"validating {len(docs):,} documents")
    objects: list[Obj] = list(settings_objs)
    repo_objs = validate(docs[len(project_docs) :])
    objects += repo_objs.objects
    diags += repo_objs.diagnostics
    catalog = validate(catalog_docs, catalog=True)
    catalog_files = {d.file for d in catalog_docs}
    timings("validate")
    diags += catalog.diagnostics

    # the objects of a file that failed to load exist, broken: references to them are
    # consequences of that file's error, not errors of their own (no cascade)
    unloaded = {d.file for d in more if d.severity == "error" and d.file}
    broken = set().union(*(broken_identities(root / f) for f in sorted(unloaded)))
    rejected = repo_objs.rejected | catalog.rejected | broken
    if any(d.severity == "error" and d.file == PROJECT_FILE for d in diags):
        # snav.yaml is broken: its default_user is unknown, not missing (no SNV305)
        rejected |= {("Project", PROJECT_FILE)}
    tree = build_tree(objects, catalog.objects, rejected, incumbent=incumbent)
    timings("tree")
    diags += tree.diagnostics
    tree.diagnostics = []
    if not docs:
        diags.append(
            dg.warning("SNV110", "the repository holds no YAML document", Location(".", None, None))
        )
    catalog_ok = not dg.has_errors(catalog.diagnostics) and not any(
        d.code == "SNV213" for d in diags
    )
    catalog_ok = catalog_ok and not any(
        d.file in catalog_files for d in diags if d.severity == "error"
    )
    result = Result(repo, tree, dg.sort(reported(diags, tree.project)), rels, len(docs), catalog_ok)
    if cache.enabled():
        from .incremental import leaf_entry

        files: dict[str, list] = {}  # file -> its leaves (snavc.engine.incremental.leaf_entry)
        shared: dict[tuple, tuple] = {}  # one tuple per distinct list of names (memory)
        for o in repo_objs.objects:
            if o.kind in cache.LEAF_KINDS:
                names = tuple(tree.unit_services.get(o.id, ()))
                names = shared.setdefault(names, names)
                files.setdefault(o.doc.file, []).append(leaf_entry(o, names))
        result.snapshot = {
            "hashes": hashes,
            "config": config,
            "files": files,
            "stats": stats,
            "links": host_links(repo_objs.objects),
            # U3: user services that are a component of another, or have one
            "composed": sorted(
                {
                    i
                    for o in repo_objs.objects
                    if o.kind == "UserService"
                    for c in o.components
                    if c.user_service is not None
                    for i in (o.id, c.user_service)
                }
            ),
        }
    return result


def host_links(objects) -> dict[str, tuple]:
    """``equipment -> (parents, servicenav_id)`` of the equipment that have either (H4-H6),
    and ``maintenance-window:ID -> (targets, None)`` (W2): what an incremental
    build checks its dirty equipment against."""
    links = {
        o.id: (tuple(o.parents), o.servicenav_id)
        for o in objects
        if o.kind == "Equipment" and (o.parents or o.servicenav_id is not None)
    }
    for o in objects:  # W2: a maintenance window's targets are tied to it the same way
        if o.kind == "MaintenanceWindow":
            links[f"maintenance-window:{o.id}"] = (tuple(sorted(set(o.targets))), None)
    return links


def read_lock(repo: Path, diags: list[Diagnostic], locked: bool = False):
    """The repository's ``snav.lock`` (T5), or None when it has none (or it cannot be
    used: SNV112, at the line and column of the fault where there is one).

    A version whose content does not match its key (the lock was edited by hand) is
    not trusted: SNV119, a warning (its services are locked again with their
    templates' current values, and the build rewrites the lock), an error under
    ``build --locked`` (``locked``), where the committed lock must be snavc's own."""
    from ..resolve.lock import LOCK_FILE, Lock, LockError
    from .load import read_json

    path = Path(repo) / LOCK_FILE
    data, more = read_json(path, LOCK_FILE, "SNV112", LOCK_FILE)
    diags.extend(replace(d, rule="T5") for d in more)
    if data is None:
        return None
    try:
        lock = Lock.from_json(data)
    except LockError as e:
        diags.append(
            dg.error(
                "SNV112",
                f"{LOCK_FILE} is not a valid lock: {e}; restore it from git, or delete it to lock "
                "every unit service again with its current values",
                Location(LOCK_FILE, *_lock_position(path, e)),
                rule="T5",
            )
        )
        return None
    for version, services in lock.edited.items():
        where = Location(LOCK_FILE, *_lock_position(path, LockError("", "versions", version)))
        n = len(services)
        what = f"{n} unit service{'s' if n != 1 else ''}"
        if locked:
            diags.append(
                dg.error(
                    "SNV119",
                    f"version '{version}' of {LOCK_FILE} does not match its content: the lock was "
                    f"edited by hand; run `snavc build` without --locked to lock its {what} again "
                    f"with their templates' current values, and commit {LOCK_FILE}",
                    where,
                    rule="T5",
                )
            )
        else:
            diags.append(
                dg.warning(
                    "SNV119",
                    f"version '{version}' of {LOCK_FILE} does not match its content: the lock was "
                    f"edited by hand and is not trusted; its {what} take their templates' current "
                    "values, and `snavc build` locks them again",
                    where,
                    rule="T5",
                    # no excerpt: a build prints it after rewriting the lock, whose line
                    # there is then another one
                    redact=True,
                )
            )
    return lock


def _lock_position(path: Path, error) -> tuple[int | None, int | None]:
    from ..resolve.lock import position

    try:
        return position(path.read_text(encoding="utf-8", errors="replace"), error)
    except OSError:
        return None, None


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
    else:  # validate: every rule runs, nothing is kept (memory)
        resolve_all(res, lambda _id, _effective: None, consume=True)
    result.diagnostics = dg.sort(
        result.diagnostics + reported(res.diagnostics, result.tree.project)
    )
    if snapshot:
        save_snapshot(result)
    return result, res


def save_snapshot(result: Result) -> tuple[str, dict] | None:
    """Leave the snapshot of a clean run for the next query (snavc.engine.cache): its key and
    the hashes it was made from (the lock's included), or None when none was written."""
    if result.snapshot is None or not result.ok or result.tree is None:
        return None
    root = result.repo.resolve()
    snap = result.snapshot
    saved = cache.save(root, snap["hashes"], snap["config"], snap["files"])
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
        lazy: dict[str, list[Document]] = {kind: [] for kind in cache.LAZY_KINDS}
        if snap is not None and not diags:
            eager = []
            for t in snap["config"]:
                doc = Document(*t)
                lazy.get(t[4].get("kind"), eager).append(doc)
            try:
                objects = models_of_clean(eager)
            except (KeyError, ValueError):  # a snapshot out of step: compile in full
                objects = None
        found = inputs()
        if objects is None or found is None or found[0] != snap["key"] or found[1]:
            return None
        key, _, rels = found
        catalog = validate(catalog_docs, catalog=True, seal=False)
        tree = build_tree(list(settings_objs) + objects, catalog.objects, checks=False)
        if dg.has_errors(catalog.diagnostics + tree.diagnostics):
            return None  # cannot happen with an unchanged snapshot; compile in full to say why
        for kind, docs in lazy.items():
            if docs:
                tree.objects[kind] = cache.LazyKind(docs)
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


def hashed_inputs(root: Path, diags: list[Diagnostic], backend: str, hashes: dict[str, str]):
    """:func:`_inputs` and the content hash of every file found (unchanged files are
    not read again: cache.hash_files) and of the lock: what the snapshot and the build
    state are keyed by. Returns ``(settings objects, catalogue documents, relative
    names of the files found, paths of the files to load, their relative names)``;
    OSError when a file cannot be read."""
    _, settings_objs, catalog_docs, rels, paths = _inputs(root, diags, backend, hashes)
    files = [rel for rel in rels if rel != PROJECT_FILE]  # those of `paths`, in order
    cache.hash_files(root, paths, files, hashes)
    cache.lock_hash(root, hashes)
    return settings_objs, catalog_docs, rels, paths, files


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


def _in_child(work):
    """Run ``work()`` in a forked process; returns a function that waits for its value
    (marshalled back through a pipe; None if the child failed). Runs it here, now,
    where processes cannot fork."""
    if not hasattr(os, "fork"):
        value = work()
        return lambda: value
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: no exception may escape into the parent's code
        try:
            data = marshal.dumps(work())
        except BaseException:
            data = b""
        try:
            with os.fdopen(write, "wb") as f:
                f.write(data)
        finally:
            os._exit(0)
    os.close(write)

    def wait():
        with os.fdopen(read, "rb") as f:
            data = f.read()
        os.waitpid(pid, 0)
        try:
            return marshal.loads(data) if data else None
        except (ValueError, EOFError, TypeError):
            return None

    return wait


def _snapshot_lock(root: Path):
    """The lock a snapshot was made with (its key holds the lock's size and time), read
    by looking up the few services a query needs (incremental.LockFile) rather than
    parsing a million; parsed whole if it is not in snavc's own layout."""
    from .incremental import LockFile

    try:
        return LockFile(root / "snav.lock")
    except (OSError, ValueError):
        return read_lock(root, [])


def leaf_loader(root: Path, tree: Tree, backend: str):
    """``Tree.leaf_loader`` for a tree without its equipment and user services: reads
    one from the file ``tree.leaf_index`` names when it is asked for."""
    from ..validate import validate_document

    def load_leaf(kind: str, ident: str):
        rel = tree.leaf_index[ident][1]
        found, _ = load_file(root / rel, rel, backend)
        for doc in found:
            if doc.kind == kind and doc.data.get("id") == ident:
                return validate_document(doc, [])
        return None

    return load_leaf


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


def build(
    repo: str | Path,
    out: str | Path,
    backend: str = "fast",
    reapply=(),
    locked: bool = False,
    incumbent=None,
    before_rules=None,
) -> Built:
    """Validate ``repo`` and write its effective configuration to ``out`` (INTERFACE §2).

    Equipment stream from the rules engine into a temporary folder beside ``out``,
    which replaces ``out`` only when the whole build succeeds; then ``snav.lock`` is
    rewritten if it changed (T5). Raises :class:`snavc.engine.emit.OutputError` when ``out``
    may not be replaced.

    For ``plan``: ``incumbent`` as for :func:`snavc.tree.build_tree`, and
    ``before_rules(tree)`` is called by a full build once the tree is linked, before the
    rules consume its equipment (what the plan keeps of the base).
    """
    from ..resolve import engine, resolve_all
    from ..resolve.lock import LOCK_FILE, Lock, LockState
    from . import incremental
    from .emit import (
        BuildWriter,
        check_output,
        dumps,
        effective,
        input_hashes,
        lock_report,
        origins,
        recover_output,
        write_atomic,
    )

    repo = Path(repo)
    check_output(repo, Path(out))
    recover_output(Path(out))
    if not reapply and cache.enabled():
        built = incremental.rebuild(repo, Path(out), backend, locked)
        if built is not None:
            return built
    with gc_paused():
        result = _check(repo, backend, incumbent)
        crash_point("load")
        if result.tree is None or not result.catalog_ok:
            return Built(result, None, "errors")
        unknown = [t for t in reapply if result.tree.get("ServiceTemplate", t) is None]
        if unknown:
            return Built(result, None, "reapply", unknown)
        lock = LockState(read_lock(repo, result.diagnostics, locked), frozenset(reapply))
        timings = Timings()
        inputs = input_hashes(result.tree)  # before the build consumes the equipment
        if before_rules is not None:
            before_rules(result.tree)
        writer = BuildWriter(out)
        progress.stage("resolving and writing the equipment")
        try:
            res = engine(result.tree, lock)
            resolve_all(res, writer.equipment, consume=True)
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
            write_atomic(repo / LOCK_FILE, dumps(lock.new.to_json()))
        crash_point("locked")
        counts = (
            res.resolver.equipment_count,
            res.resolver.unit_service_count,
            len(res.user_services),
        )
        saved = save_snapshot(result)  # after the lock: the snapshot is keyed by it too
        if saved is not None:
            key, hashes = saved
            incremental.save_state(
                repo.resolve(),
                Path(out),
                {
                    "hashes": hashes,
                    "files": [r for r in result.files if r != PROJECT_FILE],
                    "snapshot": key,
                    "leaves": result.snapshot["files"],
                    "links": result.snapshot["links"],
                    "composed": result.snapshot["composed"],
                    "okeys": writer.okeys,
                    "lock_uses": dict(Counter((lock.new or Lock()).services.values())),
                    # what was said about the lock (SNV119) concerned the lock this
                    # build replaced: a build patched from this state reads the new one
                    "diagnostics": incremental.diagnostics_to_state(
                        [d for d in result.diagnostics if not lock.changed or d.file != LOCK_FILE]
                    ),
                },
                writer.layouts,
                writer.digests,
            )
        timings("finish and lock")
        return Built(result, res, "written", lock_written=lock.changed, counts=counts)
