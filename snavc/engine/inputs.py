"""Inputs: repository files -> documents -> validated objects -> the linked tree.

The front of the engine, below both ways of building (snavc.engine.pipeline, cold;
snavc.engine.incremental, warm): it finds and reads the repository (``snav.yaml``
first, then the catalogue and the other files, each hashed as it is read), validates
the documents and links the tree (:func:`check`). What a clean run leaves for the next
one (the snapshot, snavc.engine.cache) is gathered here too, as is the lock (T5) that
the rules read. Nothing here prints or exits.
"""

from __future__ import annotations

import gc
import marshal
import os
import resource
import signal
import sys
import tempfile
import time
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from pathlib import Path

from .. import diagnostics as dg
from .. import progress
from ..diagnostics import Diagnostic, Location
from ..model import CONFIGURED_KINDS, Obj, Project
from ..tree import Tree, build_tree, reference_keys
from ..validate import PROJECT_FILE, Validated, validate
from . import cache
from .faults import forked, read_marshalled, readable
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


def _check(
    repo: Path, backend: str, incumbent=None, defer: bool = False, after_load=None
) -> Result:
    """Load, validate and link a repository: every problem found before the rules.
    (:func:`check` is the public entry; this runs it with the collector paused.)

    With ``defer`` (a cold build), the snapshot's record of each equipment of the tree
    is left to the process that resolves it (:class:`Leaves`): its file's list holds
    its ID in its place until :func:`fill_leaves`. ``after_load()`` is called once the
    files are loaded (a cold build starts its lock's reader then, :func:`lock_ahead`).

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
    progress.stage(f"reading and validating {len(paths):,} files")
    # validated as they are loaded: the first files while the last are parsed
    repo_objs = Validated([], [], set())
    config: list[tuple] = []  # the snapshot's configuration documents
    count = 0

    def each(loaded: list[Document]) -> None:
        nonlocal count
        count += len(loaded)
        if cache.enabled():
            # kept before validation drops their data; positions packed apart
            # (Document.pos): a query decodes those of a few documents
            config.extend(
                (d.file, d.index, d.line, d.column, d.data, d.pos)
                for d in loaded
                if d.kind not in cache.LEAF_KINDS
            )
        got = validate(loaded)
        repo_objs.objects.extend(got.objects)
        repo_objs.diagnostics.extend(got.diagnostics)
        repo_objs.rejected.update(got.rejected)

    _, more = load_files(root, paths, backend, hashes, packed=True, each=each)
    diags.extend(more)
    timings("load and validate")
    if after_load is not None:
        after_load()
    objects: list[Obj] = list(settings_objs)
    objects += repo_objs.objects
    diags += repo_objs.diagnostics
    catalog = validate(catalog_docs, catalog=True)
    catalog_files = {d.file for d in catalog_docs}
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
    if not project_docs and not count:
        diags.append(
            dg.warning("SNV110", "the repository holds no YAML document", Location(".", None, None))
        )
    catalog_ok = not dg.has_errors(catalog.diagnostics) and not any(
        d.code == "SNV213" for d in diags
    )
    catalog_ok = catalog_ok and not any(
        d.file in catalog_files for d in diags if d.severity == "error"
    )
    result = Result(
        repo,
        tree,
        dg.sort(reported(diags, tree.project)),
        rels,
        len(project_docs) + count,
        catalog_ok,
    )
    if cache.enabled():
        files: dict[str, list] = {}  # file -> its leaves (leaf_entry)
        shared: dict = {}  # one tuple (string) per distinct list of names, refs (memory)
        table = tree.objects.get("Equipment", {}) if defer else {}
        for o in repo_objs.objects:
            if o.kind in cache.LEAF_KINDS:
                if o.kind == "Equipment" and table.get(o.id) is o:
                    entry = o.id  # made as it is resolved (Leaves)
                else:
                    names = tuple(tree.unit_services.get(o.id, ()))
                    entry = leaf_entry(o, names, tree, shared)
                files.setdefault(o.doc.file, []).append(entry)
        result.snapshot = {
            "hashes": hashes,
            "config": config,
            "files": files,
            "stats": stats,
            "links": host_links(repo_objs.objects),
            "shared": shared,
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
        timings("snapshot records")
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


def read_lock(repo: Path, diags: list[Diagnostic], locked: bool = False, read=None):
    """The repository's ``snav.lock`` (T5), or None when it has none (or it cannot be
    used: SNV112, at the line and column of the fault where there is one). ``read``:
    the lock as :func:`lock_ahead` read it, else None (it is read here).

    A version whose content does not match its key (the lock was edited by hand) is
    not trusted: SNV119, a warning (its services are locked again with their
    templates' current values, and the build rewrites the lock), an error under
    ``build --locked`` (``locked``), where the committed lock must be snavc's own."""
    from ..resolve.lock import LOCK_FILE, Lock, LockError
    from .load import read_json

    path = Path(repo) / LOCK_FILE
    lock = read if read is not None else _lock_in_pieces(path)
    if lock is None:  # not as snavc writes it, or not valid: read whole, what is wrong said
        data, more = read_json(path, LOCK_FILE, "SNV112", LOCK_FILE)
        diags.extend(replace(d, rule="T5") for d in more)
        if data is None:
            return None
        try:
            lock = Lock.from_json(data)
        except LockError as e:
            diags.append(_lock_invalid(path, e))
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


# below this size, snav.lock is read here in less time than a process costs (a 10k
# estate's lock, 3.7 MB, in 0.07 s; a 100k estate's, 37 MB, in 0.9 s)
LOCK_AHEAD_BYTES = 8 << 20


@contextmanager
def lock_ahead(repo: Path):
    """A cold build's ``snav.lock``, read by a forked process while this one validates
    the repository and links its tree (a million services: 0.9 s of one core, of which
    taking the child's lock costs this process about half, docs/performance.md). Gives
    a :class:`LockAhead`: its ``start`` once the files are loaded (their loading keeps
    both cores busy already), its ``take`` for the lock. A child not waited for is
    stopped when the block ends."""
    ahead = LockAhead(Path(repo))
    try:
        yield ahead
    finally:
        ahead.stop()


class LockAhead:
    """The reader of :func:`lock_ahead`: a forked process that parses the lock
    (:func:`_lock_in_pieces`), writes it marshalled to an unnamed temporary file and
    ends (its pages are this process's again at once: no copy-on-write while this one
    validates); the build maps the file and unmarshals it. None from :meth:`take` when
    the lock is absent, not as snavc writes it or not valid, or when the child failed
    (:func:`read_lock` then reads it here, and says what is wrong); a small lock, or
    none, is read here without a child, as is any lock when no core is idle for the
    child (snavc.engine.shards.jobs: the load average, ``SNAVC_JOBS=1``)."""

    def __init__(self, repo: Path):
        from ..resolve.lock import LOCK_FILE

        self.path = repo / LOCK_FILE
        self.pid: int | None = None
        self.file = None

    def start(self) -> None:
        from .shards import jobs

        try:
            if self.path.stat().st_size < LOCK_AHEAD_BYTES or jobs() < 2:
                return  # (small; or no core idle, SNAVC_JOBS=1, no fork: all read here)
            self.file = tempfile.TemporaryFile(prefix="snavc-lock-")
        except OSError:
            return
        path, fd = self.path, self.file.fileno()

        def work(_pipe: int) -> None:
            lock = _lock_in_pieces(path)
            value = None if lock is None else (lock.versions, lock.services, lock.edited)
            with os.fdopen(os.dup(fd), "wb") as f:
                marshal.dump(value, f)

        try:
            self.pid, pipe = forked(work)
            os.close(pipe)  # (nothing comes through it: the file holds the lock)
        except OSError:  # no process left for it: read here
            self.pid = None

    def take(self):
        from ..resolve.lock import Lock

        if self.pid is None:
            return None
        _, status = os.waitpid(self.pid, 0)
        self.pid = None
        try:
            if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
                return None
            value = read_marshalled(self.file)
        except (OSError, ValueError, EOFError, TypeError):
            return None
        finally:
            self.file.close()
            self.file = None
        return None if value is None else Lock(*value)

    def stop(self) -> None:
        if self.pid is not None:  # (the build stopped before its lock: not waited for)
            with suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            self.pid = None
        if self.file is not None:
            self.file.close()
            self.file = None


def _lock_in_pieces(path: Path):
    """The lock at ``path`` when it is valid and laid out as snavc writes it, its
    services parsed in pieces (:meth:`snavc.resolve.lock.Lock.read`: a build's peak
    memory); else None (absent, unreadable, hand-formatted, invalid)."""
    from ..resolve.lock import Lock

    if not path.is_file():  # absent, or not a file: said by read_json
        return None
    try:
        raw = path.read_bytes()
    except OSError:  # unreadable: said by read_json
        return None
    return Lock.read(raw)


def _lock_invalid(path: Path, e):
    """SNV112 for a lock that parses but is not a valid lock (LockError ``e``)."""
    from ..resolve.lock import LOCK_FILE

    return dg.error(
        "SNV112",
        f"{LOCK_FILE} is not a valid lock: {e}; restore it from git, or delete it to lock "
        "every unit service again with its current values",
        Location(LOCK_FILE, *_lock_position(path, e)),
        rule="T5",
    )


def _lock_position(path: Path, error) -> tuple[int | None, int | None]:
    from ..resolve.lock import position

    try:
        return position(path.read_text(encoding="utf-8", errors="replace"), error)
    except OSError:
        return None, None


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


def _in_child(work):
    """Run ``work()`` in a forked process; returns a function that waits for its value
    (marshalled back through a pipe; None if the child failed), whose ``ready()`` tells
    whether the value is there. Runs it here, now, where processes cannot fork."""
    if not hasattr(os, "fork"):
        value = work()
        return _done(value)
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

    # (the child writes its answer in one piece as it ends: readable, it is about done)
    wait.ready = lambda: readable(read)
    return wait


def _done(value):
    """A function that waits for ``value`` (:func:`_in_child`'s), which is there."""

    def wait():
        return value

    wait.ready = lambda: True
    return wait


# below ~2,000 files, finding and hashing them takes less than a fork costs
AHEAD_BYTES = 200_000


def hashed_inputs_ahead(root: Path, backend: str, vouched=None):
    """:func:`hashed_inputs`, its files found and hashed in a forked process (they are
    11,000 at 100k equipment: 0.24 s) while this one goes on (a warm build reads its
    state meanwhile: snavc.engine.incremental). ``snav.yaml`` and the catalogue are
    read here first (the catalogue's folder and the project's exclusions say which
    files to find). Returns a function that waits for the files and gives
    ``(diagnostics, hashes, and what hashed_inputs returns)``; OSError when a file
    cannot be read. A child that failed or met any problem (a diagnostic) is done again
    here, in this process, which then reports what there is to report; so are the files
    of a small repository (:data:`AHEAD_BYTES` of records of the last run's files).
    ``vouched``: records of the files the caller has just read (cache.hash_files)."""
    diags: list[Diagnostic] = []
    hashes: dict[str, str] = {}
    project_docs, settings_objs = load_settings(root, diags, backend, hashes)
    project = project_of(settings_objs)
    catalog_docs, catalog_dir = load_catalog(root, project, diags, backend, hashes)
    exclude = project.exclude if project else ()

    def find_and_hash():
        found, more = discover_files(root, [catalog_dir] if catalog_dir else [], exclude)
        if more:
            return None
        rels = [rel for rel, _ in found]
        paths = [p for rel, p in found if rel != PROJECT_FILE]
        files = [rel for rel in rels if rel != PROJECT_FILE]
        mine: dict[str, str] = {}
        cache.hash_files(root, paths, files, mine, vouched)
        cache.lock_hash(root, mine)
        return rels, paths, files, mine

    try:  # (the last run's record of the files, ~110 bytes a file, says how many)
        many = (root / cache.CACHE_DIR / cache.STATS).stat().st_size >= AHEAD_BYTES
    except OSError:
        many = False
    many = many or bool(vouched)
    child = _in_child(find_and_hash) if many and not diags else _done(None)

    def wait():
        found = child()
        if found is None:  # (a problem, or no child): found here, with its diagnostics
            more: list[Diagnostic] = []
            mine: dict[str, str] = {}
            got = hashed_inputs(root, more, backend, mine)
            return more, mine, got
        rels, paths, files, mine = found
        return diags, {**hashes, **mine}, (settings_objs, catalog_docs, rels, paths, files)

    wait.ready = child.ready  # (not ready: the caller may do other work meanwhile)
    return wait


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


# the kinds an equipment or user service can read through a reference: configuration
# objects (a reference to another equipment or unit service is a link, kept apart)
_CONFIG_TARGETS = frozenset(
    {
        "Box",
        "Contact",
        "ContactGroup",
        "EquipmentTemplate",
        "Label",
        "MonitoringAccount",
        "Role",
        "ServiceTemplate",
        "TimePeriod",
        "User",
    }
)


def config_refs(obj, tree: Tree, shared: dict | None = None) -> tuple:
    """``KIND/ID`` of every configuration object ``obj`` refers to by ID, its
    configuring user included (``configured_by``, else the project's ``default_user``):
    the first step of its dependency record (snavc.engine.incremental follows the
    configuration's own references from there). Sorted, one tuple shared per distinct
    set when ``shared`` is given (100k equipment, a few hundred distinct strings)."""
    refs = set(reference_keys(obj, _CONFIG_TARGETS))
    if obj.kind in CONFIGURED_KINDS:
        user = tree.configurer(obj)
        if user is not None:
            refs.add(f"User/{user}")
    out = tuple(sorted(refs))
    return out if shared is None else _shared_refs(out, shared)


def _shared_refs(refs: tuple, shared: dict) -> tuple:
    known = shared.get(refs)  # (most are: its strings are shared already)
    if known is not None:
        return known
    refs = tuple(shared.setdefault(r, r) for r in refs)
    return shared.setdefault(refs, refs)


def leaf_entry(obj, names, tree: Tree, shared: dict | None = None) -> tuple:
    """What the state keeps of an equipment or user service: (kind, ID, at, extra, refs),
    where extra is its unit service names or its members' equipment, and refs the
    configuration objects it refers to (:func:`config_refs`; :class:`Leaves` makes an
    equipment's the same)."""
    if obj.kind == "Equipment":
        return _equipment_record(obj, *_found(obj, names, tree, shared))
    refs = config_refs(obj, tree, shared)
    members = {m.partition("/")[0] for m in obj.members}
    for c in obj.components:  # U2: its hosts and unit services' equipment too
        if c.host is not None or c.service is not None:
            members.add((c.host or c.service).partition("/")[0])
    return ("UserService", obj.id, obj.at, tuple(sorted(members)), refs)


def _found(obj, names, tree: Tree, shared: dict | None) -> tuple[tuple, tuple]:
    """What an equipment's record holds beyond where it is: ``(unit service names,
    configuration referred to)``, found where its model is (:class:`Leaves`)."""
    refs = config_refs(obj, tree, shared)
    names = tuple(names)
    if shared is not None:
        names = shared.setdefault(names, names)
    return names, refs


def _equipment_record(obj, names: tuple, refs: tuple) -> tuple:
    return ("Equipment", obj.id, obj.at, names, refs)


class Leaves(dict):
    """Equipment ID -> its record (:func:`leaf_entry`), for a cold build's snapshot.

    What a record costs, the walk of an equipment's model for the configuration it
    refers to (:func:`config_refs`: 1.5 s of one core at 100k equipment,
    docs/performance.md) and its unit service names, is found by the process that
    resolves the equipment (snavc.engine.shards), before its model leaves the tree,
    rather than for all of them here before the rules. A shard hands back these two
    tuples per equipment (a few hundred distinct ones, pickled once each), and the
    build makes each record of its own strings: the models of a shard's equipment stay
    in its tree. ``shared`` is the snapshot's own (:func:`_check`): the records share
    their strings and tuples as one process's."""

    def __init__(self, shared: dict):
        super().__init__()
        self.shared = shared

    def found(self, tree: Tree, ids: list[str]) -> list[tuple]:
        """``(unit service names, configuration referred to)`` of the equipment ``ids``
        of ``tree``, in that order."""
        table = tree.objects.get("Equipment", {})
        services = tree.unit_services
        return [_found(table[i], services.get(i, ()), tree, self.shared) for i in ids]

    def record(self, tree: Tree, ids: list[str]) -> None:
        """The records of the equipment ``ids`` of ``tree``, found in this process:
        their tuples are the shared ones already (:meth:`take` is for a shard's)."""
        table = tree.objects.get("Equipment", {})
        services = tree.unit_services
        for i in ids:
            obj = table[i]
            self[i] = _equipment_record(obj, *_found(obj, services.get(i, ()), tree, self.shared))

    def take(self, tree: Tree, ids: list[str], found: list[tuple]) -> None:
        """The records of the equipment ``ids`` of ``tree``, of what :meth:`found` gave."""
        table = tree.objects.get("Equipment", {})
        shared = self.shared
        mine: dict[int, tuple] = {}  # id() of a tuple of ``found`` -> the shared one
        for i, (names, refs) in zip(ids, found, strict=True):
            obj = table[i]
            n = mine.get(id(names))
            if n is None:
                n = mine[id(names)] = shared.setdefault(names, names)
            r = mine.get(id(refs))
            if r is None:
                r = mine[id(refs)] = _shared_refs(refs, shared)
            self[i] = _equipment_record(obj, n, r)


def fill_leaves(snapshot: dict, leaves: Leaves) -> None:
    """Put in ``snapshot``'s files (:func:`_check` with ``defer``) the records of the
    equipment in ``leaves`` in place of their IDs, each file's leaves in their order."""
    for items in snapshot["files"].values():
        for k, item in enumerate(items):
            if type(item) is str:
                items[k] = leaves[item]
