"""Plan: review a change before deployment (the diff stage over two versions).

``plan(repo, base)`` builds git revision ``base`` of the repository (its tree read as
stored, without ``.gitattributes``: the working tree and the index are never touched)
and the working tree as a commit of it would hold it (tracked and untracked files, not
the files git ignores), diffs the two effective configurations, and runs the rules that only show across
two versions: M3 (a client's mode change, reported first and whatever else the working
tree breaks: it is the root cause) and, with ``as_user``, the delegation check
(every input object the change adds, modifies or removes must be editable by that user
in both versions: V1, L1-L4).
"""

from __future__ import annotations

import contextlib
import gc
import marshal
import os
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path

from .. import diagnostics as dg
from .. import progress
from ..engine import cache, hashing
from ..engine.emit import (
    _compact,
    dumps,
    effective,
    file_digest,
    input_hashes,
    iter_pieces,
    lock_report,
    origins,
)
from ..engine.faults import forked, read_exactly, readable
from ..engine.load import BUILD_MARKER, checkout_revision, commit_files, ignored_files
from ..engine.pipeline import Result, build, compile_repo
from ..model import NODE_KINDS
from ..resolve.locks import can_edit
from ..resolve.modes import check_mode_changes, equipment_per_node
from ..tree import Tree, build_tree, object_key
from .diff import Build, Report, diff, read_build
from .scratch import scratch


class PlanError(Exception):
    """Usage problems: not a git repository, unknown revision, unknown user."""


@dataclass
class Plan:
    report: Report
    base: Result | None
    head: Result
    # the errors of ``report.errors``, for the annotation formats (github, sarif...)
    diagnostics: list[dg.Diagnostic] = field(default_factory=list)
    # the folder does not exist at the base revision: planned against an empty estate
    base_empty: bool = False
    # what the plan says of how it went (a base state not used, saved), for stderr
    notes: list[str] = field(default_factory=list)
    # how the two versions were had: the base's build restored (--base-state), the
    # working tree's patched from the base's (snavc.engine.incremental)
    base_restored: bool = False
    head_incremental: bool = False


def _objects(tree: Tree) -> dict[str, object]:
    out = {}
    for table in tree.objects.values():
        for obj in table.values():
            if not obj.doc.catalog:
                out[object_key(obj)] = obj
    for by_at in tree.overrides.values():
        for obj in by_at.values():
            out[object_key(obj)] = obj
    return out


def plan(
    repo: str | Path,
    base: str,
    as_user: str | None = None,
    backend: str = "fast",
    base_state: str | Path | None = None,
) -> Plan:
    """Review the working tree of ``repo`` against git revision ``base`` (module doc).

    The base is built as ``build`` builds (equipment streamed to disk, with the state of
    the incremental build) and then let go; the working tree is derived from that state
    by the incremental build (only the changed files: snavc.engine.incremental), or
    built in full when the engine cannot patch; the two output folders are compared as
    bytes (snavc.review.diff). One build's memory, and with a one-file change about one
    build's time. ``base_state`` names a folder where the base's build is kept, keyed
    by the git tree of the estate at ``base``: a later plan against the same tree uses
    it instead of building the base (a CI cache; docs/review.md). With ``as_user``, the
    delegation check needs every input object of both versions: :func:`_plan_in_memory`.
    """
    repo = Path(repo)
    if as_user is not None:
        done = _plan_in_memory(repo, base, as_user, backend)
        if base_state is not None:
            done.notes.append("with --as, both versions are compiled in memory: no base state used")
        return done
    from ..engine.load import GitError, revision_tree

    try:
        tree_id = revision_tree(repo, base)
    except GitError as e:
        raise PlanError(_unreadable(base, e)) from None
    notes: list[str] = []
    keep = Path(base_state) if base_state is not None else None
    if keep is not None and not cache.enabled():
        notes.append("SNAVC_NO_CACHE is set: the base state is neither read nor saved")
        keep = None
    if keep is not None:
        check_base_folder(keep)
    # (the stack first out: the base's process, tidying its checkout, is waited for
    # before the folder goes; the folder goes in the background: scratch.scratch)
    with scratch() as tmp, contextlib.ExitStack() as later:
        # the head: the working tree's files, linked while the base's build is checked
        # (restore_base) and its engine state installed; when there is no state to
        # restore, the base's checkout becomes the head once built (_become_head)
        head = tmp / "head"
        restoring = keep is not None and (keep / MANIFEST).is_file()
        lock_in, linked = _linked_apart(repo, head) if restoring else (None, None)
        installed = vouched = None
        try:
            saved, note = (
                (None, None)
                if keep is None
                # effective.json and origins.json: checked by the head's incremental build
                # (below), while it hashes its inputs, not read whole twice
                else restore_base(keep, tree_id, backend, deferred=_engine_outputs())
            )
            if saved is not None and lock_in is None:  # (its manifest came meanwhile)
                lock_in, linked = _linked_apart(repo, head)
            if saved is not None and saved.engine:
                # (adopt_state compares the head's lock with the base's)
                installed = _install_state(saved, head, lock_in()) or False  # (tried)
        finally:
            if linked is not None:
                # (no thread is left running when the base's build forks)
                vouched = linked()
        if note:
            notes.append(note)
        found, base_result, facts = True, None, None
        ahead: list = []  # the working tree's files, hashed while the base builds

        def meanwhile(answered) -> None:
            ahead.append(_hash_ahead(repo, answered))

        if saved is not None:
            notes.append(f"the build of revision '{base}' is restored from {keep}")
            facts = saved.facts
        else:
            folder = keep if keep is not None and tree_id is not None else tmp / "base"
            found, base_result, facts, saved = _build_base_apart(
                repo,
                base,
                (folder, tmp / "checkout", backend, tree_id if folder == keep else None),
                meanwhile,
                later,
            )
            if saved is not None and saved.persistent:
                notes.append(f"the build of revision '{base}' is saved in {keep} (tree {tree_id})")
            if saved is not None:  # the base's checkout becomes the head (_become_head)
                head = tmp / "checkout"
                _become_head(repo, head, ahead[0] if ahead else None)
            else:  # (the checkout holds what the base's failed build left; the head's
                # folder may hold the working tree already, linked while a state was read)
                _copy_working_tree(repo, head, again=True)
        base_ok = saved is not None
        base_errors = (
            0
            if base_result is None
            else sum(d.severity == "error" for d in base_result.diagnostics)
        )
        # the head over the base's engine state, when there is one (a restored one is
        # installed above, while the working tree is linked)
        if saved is not None and saved.engine and installed is None:
            installed = _install_state(saved, head) or False
        fallback = base_result.tree if base_result is not None and facts is None else None
        incumbent = _incumbent_of(facts.known) if facts is not None else _incumbent(fallback)
        progress.stage("building the working tree")
        # (its folder goes next: no snapshot nor state for a build that none follows)
        built = build(
            head,
            tmp / "head-out",
            backend,
            incumbent=incumbent,
            persist=False,
            state=installed or None,
            vouched=vouched if installed else None,
        )
        head_result = built.result
        if saved is not None and saved.unchecked and not built.incremental:
            # the restored outputs, checked here when the incremental build did not
            if not _outputs_hold(saved):  # damaged: the base is built (the head stands)
                at = notes.index(f"the build of revision '{base}' is restored from {keep}")
                notes[at] = f"the base state in {keep} is damaged (its outputs changed): not used"
                found, base_result, facts, saved = _build_base_apart(
                    repo, base, (keep, tmp / "checkout", backend, tree_id), _nothing, later
                )
                if saved is not None and saved.persistent:
                    notes.append(
                        f"the build of revision '{base}' is saved in {keep} (tree {tree_id})"
                    )
                base_ok = saved is not None
                base_errors = sum(d.severity == "error" for d in base_result.diagnostics)
                fallback = base_result.tree if facts is None else None
        how = {"base_restored": base_result is None, "head_incremental": built.incremental}
        report = Report(base=base, head="working tree")
        # M3 first, whatever else the change breaks: a refused mode change is the root
        # cause of the errors it brings (partner objects no longer visible under a resale
        # client)
        modes = _mode_changes(base, facts, fallback, saved, head_result.tree)
        errors = [d for d in head_result.diagnostics if d.severity == "error"]
        if not base_ok:
            errors.append(_base_fails(base, base_errors))
        if errors or built.status != "written":
            report.not_compared = _why_not_compared(base, head_result, base_ok, base_errors)
            errors = dg.sort(modes) + dg.sort(errors)
            report.errors = [d.to_json() for d in errors]
            return Plan(report, base_result, head_result, errors, not found, notes, **how)
        built = None
        progress.stage("comparing")
        old, new = read_build(saved.folder / OUT), read_build(tmp / "head-out")
        old.name, new.name = base, "working tree"
        report = diff(old, new, check_modes=False)
        del old, new
    errors = dg.sort(modes)
    report.errors = [d.to_json() for d in errors]
    return Plan(report, base_result, head_result, errors, not found, notes, **how)


def _unreadable(base: str, e: Exception) -> str:
    hint = ""
    if str(e).startswith("unknown revision"):
        hint = " (unknown revision; in CI, fetch the whole history: `fetch-depth: 0`)"
    return f"cannot read revision '{base}': {e}{hint}"


def _base_fails(base: str, count: int) -> dg.Diagnostic:
    return dg.error(
        "SNV424",
        f"revision '{base}' does not build ({count} error{'s' if count != 1 else ''}): plan needs a "
        f"base that builds; see them with `git worktree add /tmp/base {base} && snavc validate "
        "/tmp/base`, or choose another base",
        dg.Location("."),
    )


# -- the base's build, kept --------------------------------------------------------------
#
# A folder (temporary, or ``plan --base-state DIR``) holds the base's build as plan uses
# it: OUT/ (effective.json, origins.json, lock-report.json, as `snavc build` writes
# them), ENGINE/ (the repository's .snavc/ after that build: the snapshot and the state
# the incremental build derives the head from) and MANIFEST (sealed: snavc.engine.cache),
# written last, which says which tree and which snavc made it, the outputs' content
# hashes and what the rules across versions need of the base (BaseFacts).

MANIFEST = "plan-base.marshal"
OUT = "out"
ENGINE = "engine"
OUTPUT_FILES = ("effective.json", "origins.json", "lock-report.json")


def check_base_folder(folder: Path) -> None:
    """Refuse a ``--base-state`` folder whose parts plan would replace (OUT, ENGINE,
    MANIFEST) hold something snavc did not write there: a base that is built again
    removes ENGINE and MANIFEST first, and the user's own files must never go with
    them (as ``build`` refuses an output folder that is not a build). Their other
    files are left alone. Raises :class:`PlanError` before anything is touched."""
    refuse = (
        "refusing to replace it: give --base-state an empty folder, or one that a plan "
        "with --base-state made"
    )
    keep = f"cannot keep the base's build in {folder}:"
    try:
        _check_base_parts(folder, keep, refuse)
    except OSError as e:  # (a folder that cannot be read)
        raise PlanError(f"{keep} {e.filename or folder}: {e.strerror}") from None


def _check_base_parts(folder: Path, keep: str, refuse: str) -> None:
    if os.path.lexists(folder) and not folder.is_dir():
        raise PlanError(f"{keep} it exists and is not a folder")
    engine, out, manifest = folder / ENGINE, folder / OUT, folder / MANIFEST
    if os.path.lexists(engine) and not (
        engine.is_dir()
        and not engine.is_symlink()
        and (not any(engine.iterdir()) or _tagged(engine))
    ):
        raise PlanError(
            f"{keep} {engine} is not the engine state a plan keeps (no snavc CACHEDIR.TAG); {refuse}"
        )
    if os.path.lexists(out) and not (
        out.is_dir() and (not any(out.iterdir()) or (out / BUILD_MARKER).is_file())
    ):
        raise PlanError(f"{keep} {out} is not a snavc build (no {BUILD_MARKER}); {refuse}")
    if os.path.lexists(manifest) and (manifest.is_symlink() or not manifest.is_file()):
        raise PlanError(f"{keep} {manifest} is not a file a plan wrote; {refuse}")


def _tagged(folder: Path) -> bool:
    """``folder`` is a cache folder snavc made (the tag it writes: cache.make_folder)."""
    try:
        return (folder / "CACHEDIR.TAG").read_text(encoding="utf-8") == cache.CACHEDIR_TAG
    except (OSError, UnicodeDecodeError):
        return False


def _manifest_key(backend: str) -> str:
    return f"snavc {cache.code()} plan base 1 {backend}"


@dataclass
class BaseFacts:
    """What plan needs of the base beyond its outputs, taken while its tree is whole
    (``build``'s ``before_rules``): the objects the head's tree asks ``incumbent``
    about, and for M3 the equipment per node, the clients' modes and the node objects
    (None when restored: made from the engine's snapshot when a client's mode changed)."""

    known: dict = field(default_factory=dict)  # (kind, ID) -> (file, digest)
    equipment_at: dict = field(default_factory=dict)  # node -> its equipment
    modes: dict = field(default_factory=dict)  # client -> mode
    nodes: list | None = None
    # in the forked child of _build_base_apart, which only hands them back: ``known``
    # (a key per object: 23 MB at 100k) waits in this file from take() to unpack(), not
    # held through the rules on top of the base build's peak (docs/performance.md,
    # "Peak memory of a sharded build")
    spill: Path | None = None

    def take(self, tree: Tree) -> None:
        self.known = _known(tree)
        if self.spill is not None:
            try:
                self.spill.write_bytes(marshal.dumps(self.known))
                self.known = {}
            except OSError:  # (a full disk: kept here)
                self.spill.unlink(missing_ok=True)
                self.spill = None
        self.equipment_at = equipment_per_node(tree)
        self.modes = {i: n.mode for i, n in tree.nodes.items() if n.kind == "client"}
        self.nodes = [n.obj for n in tree.nodes.values() if n.obj is not None]

    def unpack(self) -> None:
        """``known`` read back from the file :meth:`take` wrote (in the parent)."""
        if self.spill is not None:
            spill, self.spill = self.spill, None
            try:
                self.known = marshal.loads(spill.read_bytes())
            except (OSError, EOFError, ValueError, TypeError) as e:
                raise PlanError(f"the base's build cannot be read back: {e}") from None
            finally:
                spill.unlink(missing_ok=True)


@dataclass
class SavedBase:
    """A base's build that built (see MANIFEST above)."""

    folder: Path
    facts: BaseFacts
    digests: dict[str, str] | None  # OUTPUT_FILES -> content hash (emit.file_digest)
    lock: str | None  # the content hash of snav.lock as the base's build left it
    engine: bool  # ENGINE holds the engine's state: the head can be derived from it
    persistent: bool = False  # saved for a later plan (--base-state)
    # outputs whose content restore_base did not check: the head's incremental build
    # checks them (state.outputs_intact), or plan does when it did not run
    unchecked: tuple = ()


def _build_base_apart(repo: Path, base: str, where: tuple, meanwhile, later) -> tuple:
    """:func:`_build_base` (``where``: its other arguments) in a forked process, which
    ends once the build is on disk: its memory (a whole tree, its models, the rules'
    state) is given back at once and never freed object by object, and the head's build
    that follows runs in a process holding none of it, so that a plan's peak memory is
    one build's. ``meanwhile(answered)`` runs here while the base builds
    (``answered(seconds)`` waits at most that long for the child's answer and says
    whether it came); ``later`` (an ExitStack) waits for the child to end.

    The child sends back what :func:`_build_base` returns when the base builds (the
    Result without its tree, BaseFacts, SavedBase), pickled through a pipe. A base that
    does not build is built again here, as it was before the fork (the plan then needs
    its whole tree, and says why it does not build); that is a failing plan's cost.
    Whatever happens to the child, the parent never hangs (the pipe ends with it) and
    says what went wrong in one line: its errors (PlanError, MemoryError, an interrupt,
    a bug) are raised again here; a child killed without a word is a PlanError. Where
    processes cannot fork, all of it runs here."""
    if not hasattr(os, "fork") or os.environ.get("SNAVC_PLAN_NO_FORK"):
        meanwhile(lambda seconds: True)
        return _build_base(repo, base, *where)
    import pickle
    import signal

    # checked out before the fork: the links to the working tree's files are all made
    # before the head's (a link changes the change time _hash_ahead records)
    checkout = where[1]
    found = _checkout_base(repo, base, checkout)
    progress.stage(f"building revision '{base}'")

    def child(write: int) -> None:
        answer = _child_answer(repo, base, where, found)
        with os.fdopen(write, "wb") as f:
            f.write(pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL))

    pid, read = forked(child)

    def answered(seconds: float) -> bool:
        return readable(read, seconds)

    answer = None
    try:
        with os.fdopen(read, "rb") as f:
            meanwhile(answered)
            data = f.read()
        try:
            answer = pickle.loads(data) if data else None
        except Exception:  # noqa: BLE001 - a truncated answer: as if there were none
            answer = None
        if answer is None:
            _, status = os.waitpid(pid, 0)
            pid = 0
    finally:
        if pid and answer is None:  # this process is leaving (an interrupt, an error)
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except OSError:
                pass
    if answer is None:
        if os.WIFSIGNALED(status):
            how = f"was killed by signal {os.WTERMSIG(status)} ({signal.Signals(os.WTERMSIG(status)).name})"
            if os.WTERMSIG(status) == signal.SIGKILL:
                how += ", as the system does when memory runs out"
        else:
            how = f"stopped with exit code {os.waitstatus_to_exitcode(status)}"
        raise PlanError(f"the build of revision '{base}' {how}; nothing was changed")
    later.callback(_reap, pid)
    if answer[0] == "built":
        answer[3].unpack()  # (answer[4].facts: the same)
        _seal_base(answer[4], where[3], where[2])
        return answer[1:]
    if answer[0] == "fails":  # built again here, where its tree stays (module doc above)
        shutil.rmtree(where[1], ignore_errors=True)
        return _build_base(repo, base, *where)
    if answer[0] == "plan":
        raise PlanError(answer[1])
    raise answer[1]  # MemoryError, KeyboardInterrupt, a bug: as if raised here


def _started(work):
    """Run ``work()`` in a thread (file system calls, which let the interpreter run on);
    returns a function that waits for it and raises what it raised."""
    import threading

    box: list = [None]

    def run() -> None:
        try:
            work()
        except BaseException as e:  # noqa: BLE001 - raised again by the caller
            box[0] = e

    thread = threading.Thread(target=run, daemon=True)
    thread.start()

    def wait() -> None:
        thread.join()
        if box[0] is not None:
            raise box[0]

    return wait


def _seal_base(saved: SavedBase, tree_id, backend: str) -> None:
    """The base's outputs' digests, from the engine's state saved with it (its writer's),
    and, with ``tree_id``, the manifest that makes the build a later plan's
    (``--base-state``)."""
    from ..engine import state as engine_state

    folder = saved.folder
    if saved.engine:
        state = engine_state.read_moved(folder / ENGINE)
        if state is None:  # (not this snavc's: a full build of the head)
            saved.engine = False
            shutil.rmtree(folder / ENGINE, ignore_errors=True)
            saved.digests = {n: file_digest(folder / OUT / n) for n in OUTPUT_FILES}
        else:
            saved.digests = {n: state["digests"][n] for n in engine_state.OUTPUTS}
            saved.digests["lock-report.json"] = file_digest(folder / OUT / "lock-report.json")
        state = None
    if tree_id is not None and saved.engine:
        facts = saved.facts
        manifest = {
            "key": _manifest_key(backend),
            "tree": tree_id,
            "digests": saved.digests,
            "lock": saved.lock,
            "known": facts.known,
            "equipment_at": facts.equipment_at,
            "modes": facts.modes,
        }
        try:
            cache.write_sealed(folder / MANIFEST, marshal.dumps(manifest))
            saved.persistent = True
        except (OSError, ValueError):
            pass  # a read-only folder: this plan still has its base


def _read_digest(path: Path) -> str:
    """emit.file_digest of a file that is not a build output (the lock: 37 MB at 100k),
    read in pieces rather than mapped: a mapped file's pages count in the process's
    memory, and a plan's peak is to be a build's."""
    digest = hashing.hasher()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _checkout_base(repo: Path, base: str, checkout: Path) -> bool:
    """Revision ``base`` written into ``checkout``, its files that the working tree holds
    unchanged linked from it (load.checkout_revision; not the lock, which the build
    writes); whether the folder exists at the revision."""
    from ..engine.load import GitError

    try:
        return checkout_revision(repo, base, checkout, link_from=repo, never_link={"snav.lock"})
    except GitError as e:
        raise PlanError(_unreadable(base, e)) from None


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except OSError:
        pass


def _hash_ahead(repo: Path, answered):
    """``(files, stats, hashes)``: the files of the working tree a build reads
    (:func:`_head_files`), and the identity and content hash of each regular one, taken
    while the base builds, for the head's cache (cache.write_stats): the head's build
    then reads none of them again. A record is trusted only for files whose change time
    is cache.RACY_NS older than it, and the checkout has just linked the files: this
    waits that long first, unless the base's build ends before (then the head's build
    hashes them, as it always did; ``stats`` and ``hashes`` are None)."""
    import time

    from ..engine.load import content_hash

    files = _head_files(repo)
    if not cache.enabled():
        return files, None, None
    trusted = time.time_ns() + cache.RACY_NS + 50_000_000
    if answered((trusted - time.time_ns()) / 1e9):
        return files, None, None
    rels = [rel for rel in files if rel != "snav.lock" and not os.path.islink(repo / rel)]
    stats = cache.stat_files([repo / rel for rel in rels], rels)
    hashes = {}
    for rel in stats["files"]:
        try:
            with open(repo / rel, "rb") as f:
                hashes[rel] = content_hash(f.read())
        except OSError:
            continue  # the head's build says what cannot be read
    return files, stats, hashes


def _become_head(repo: Path, head: Path, ahead) -> None:
    """Make the base's checkout ``head`` the working tree's, as :func:`_copy_working_tree`
    would make it, changing only what differs: the files the checkout linked from the
    working tree are those files already. What the base has and the working tree does
    not (files a build reads, symbolic links, build markers) goes; every other file of
    the working tree is linked in (the lock copied, as the base's build may have
    rewritten it). One folder made and deleted rather than two: 2,200 files and 200
    folders at 10k equipment, on a disk where deleting is slow. ``ahead``: what
    :func:`_hash_ahead` took, recorded in the head's cache."""
    import stat as stat_

    files = ahead[0] if ahead is not None else _head_files(repo)
    wanted = set(files)
    for folder, dirs, names in os.walk(head):
        at = os.path.relpath(folder, head).replace(os.sep, "/")
        at = "" if at == "." else at + "/"
        for name in [*names, *(d for d in dirs if os.path.islink(os.path.join(folder, d)))]:
            rel, path = at + name, os.path.join(folder, name)
            if rel not in wanted and (
                _read_by_build(rel) or name == BUILD_MARKER or os.path.islink(path)
            ):
                os.unlink(path)
        dirs[:] = [
            d for d in dirs if not d.startswith(".") and not os.path.islink(os.path.join(folder, d))
        ]
    for rel in files:
        src, dst = repo / rel, head / rel
        try:
            mine = os.lstat(src)
        except FileNotFoundError:
            continue
        try:
            there = os.lstat(dst)
        except FileNotFoundError:
            there = None
        if not (stat_.S_ISREG(mine.st_mode) or stat_.S_ISLNK(mine.st_mode)):
            # (a folder where git has a file: the base's file goes, as nothing is copied)
            if there is not None and not stat_.S_ISDIR(there.st_mode):
                os.unlink(dst)
            continue
        if (
            there is not None
            and rel != "snav.lock"
            and stat_.S_ISREG(mine.st_mode)
            and os.path.samestat(mine, there)
        ):
            continue  # linked by the checkout
        _clear_way(head, rel)
        if stat_.S_ISLNK(mine.st_mode):
            os.symlink(os.readlink(src), dst)
        elif rel == "snav.lock":
            shutil.copyfile(src, dst)
        else:
            _link_or_copy(src, dst)
    if ahead is not None and ahead[1] is not None:
        cache.write_stats(head, ahead[1], ahead[2])


def _clear_way(root: Path, rel: str) -> None:
    """Make room for file ``rel`` below ``root``: its folders made, whatever is in the
    way (a file or a link where a folder goes, a folder where the file goes) removed."""
    parts = rel.split("/")
    at = root
    for part in parts[:-1]:
        at = at / part
        if os.path.islink(at) or (os.path.lexists(at) and not at.is_dir()):
            os.unlink(at)
        if not at.exists():
            at.mkdir()
    target = root / rel
    if os.path.islink(target) or target.is_file():
        target.unlink()
    elif target.exists():
        shutil.rmtree(target)


def _child_answer(repo: Path, base: str, where: tuple, found: bool) -> tuple:
    """What the child of :func:`_build_base_apart` sends back."""
    try:
        found, result, facts, saved = _build_base(repo, base, *where, let_go=False, found=found)
        if saved is None:
            return ("fails",)
        result.snapshot = None  # (the engine's, saved with it: not needed by the plan)
        return ("built", found, result, facts, saved)
    except PlanError as e:
        return ("plan", str(e))
    except BaseException as e:  # noqa: BLE001 - raised again by the parent
        if os.environ.get("SNAVC_DEBUG"):
            import traceback

            traceback.print_exc()
        if not isinstance(e, (Exception, KeyboardInterrupt)):
            e = RuntimeError(f"{type(e).__name__}: {e}")
        try:
            import pickle

            pickle.loads(pickle.dumps(e))
        except Exception:  # noqa: BLE001 - an exception that does not travel: its text does
            e = RuntimeError(f"{type(e).__name__}: {e}")
        return ("raise", e)


def _build_base(
    repo: Path,
    base: str,
    folder: Path,
    checkout: Path,
    backend: str,
    tree_id,
    let_go: bool = True,
    found: bool | None = None,
):
    """Build revision ``base`` into ``folder`` (saved for later plans when ``tree_id``
    is given), checked out in ``checkout`` (unless ``found`` says it is already:
    :func:`_checkout_base`). Returns ``(found, result, facts, saved)``: whether the
    folder exists at the revision, the build's Result (its tree let go when it built,
    unless ``let_go`` is False: a process that ends next), BaseFacts (None when the
    rules did not run) and the SavedBase (None when it does not build)."""
    from ..engine.emit import OutputError

    if found is None:
        found = _checkout_base(repo, base, checkout)
    try:  # a build being replaced is never taken for the new one
        (folder / MANIFEST).unlink(missing_ok=True)
        shutil.rmtree(folder / ENGINE, ignore_errors=True)
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise PlanError(f"cannot write the base state in {folder}: {e.strerror}") from None
    progress.stage(f"building revision '{base}'")
    # a child hands them back: what the plan needs of the base's objects waits in a file
    facts = BaseFacts(spill=None if let_go else checkout.parent / "base-facts.marshal")
    try:
        built = build(checkout, folder / OUT, backend, before_rules=facts.take)
    except OutputError as e:  # --base-state names a folder holding something else
        raise PlanError(f"cannot keep the base's build in {folder}: {e}") from None
    result = built.result
    if not found:  # an empty estate: "holds no YAML document" is no news there
        result.diagnostics = [d for d in result.diagnostics if d.code != "SNV110"]
    if built.status != "written" or not result.ok:
        taken = facts.nodes is not None  # the rules ran (take() was called)
        return found, result, facts if taken else None, None
    built = None
    result.tree = None  # (the base's models: not needed any more)
    if let_go:
        gc.collect()
    from ..engine import state as engine_state

    # the state's digests are read by _seal_base (in the parent when forked: unmarshalled
    # here, the state would come on top of this process's peak, the base's tree not
    # being freed)
    build_dir = checkout / cache.CACHE_DIR / "build"
    engine = cache.enabled() and (build_dir / engine_state.STATE).is_file()
    digests = None
    if engine:
        for name in engine_state.OUTPUTS:  # links to OUT's files: not kept twice
            (build_dir / name).unlink(missing_ok=True)
        shutil.move(checkout / cache.CACHE_DIR, folder / ENGINE)
    else:
        digests = {n: file_digest(folder / OUT / n) for n in OUTPUT_FILES}
    lock = checkout / "snav.lock"
    saved = SavedBase(
        folder, facts, digests, _read_digest(lock) if lock.is_file() else None, engine
    )
    if let_go:
        _seal_base(saved, tree_id, backend)
    return found, result, facts, saved


def restore_base(folder: Path, tree_id: str | None, backend: str, deferred=()):
    """``(SavedBase, None)`` for the base build saved in ``folder`` when it was made by
    this snavc from git tree ``tree_id`` and its outputs are intact (content hashes; of
    the outputs named in ``deferred``, checked by the caller later: SavedBase.unchecked);
    else ``(None, why)`` (``why`` None when there is nothing there): the base is built."""
    path = folder / MANIFEST
    if not path.exists():
        return None, None
    manifest = cache.read_sealed(path)
    if not isinstance(manifest, dict) or manifest.get("key") != _manifest_key(backend):
        return None, f"the base state in {folder} is damaged or made by another snavc: not used"
    if tree_id is None or manifest.get("tree") != tree_id:
        return None, (
            f"the base state in {folder} is that of git tree {manifest.get('tree')}, not of the "
            f"base's ({tree_id}): not used"
        )
    try:
        intact = (
            all(
                file_digest(folder / OUT / n) == manifest["digests"][n]
                for n in OUTPUT_FILES
                if n not in deferred
            )
            and all(isinstance(manifest["digests"][n], str) for n in deferred)
            and all((folder / OUT / n).is_file() for n in deferred)
            and (folder / ENGINE / "build").is_dir()
        )
    except (OSError, KeyError, TypeError):
        intact = False
    if not intact:
        return None, f"the base state in {folder} is damaged (its outputs changed): not used"
    facts = BaseFacts(manifest["known"], manifest["equipment_at"], manifest["modes"])
    saved = SavedBase(folder, facts, manifest["digests"], manifest["lock"], True, True)
    saved.unchecked = tuple(deferred)
    return saved, None


def _engine_outputs() -> tuple[str, ...]:
    from ..engine import state as engine_state

    return engine_state.OUTPUTS


def _outputs_hold(saved: SavedBase) -> bool:
    """Whether the outputs restore_base left unchecked hold what the manifest says."""
    try:
        return all(file_digest(saved.folder / OUT / n) == saved.digests[n] for n in saved.unchecked)
    except OSError:
        return False


def _nothing(answered) -> None:
    pass


def _install_state(saved: SavedBase, head: Path, lock_digest: str | None = None) -> dict | None:
    """Put the base's engine state into ``head/.snavc`` (hard links where the file
    system allows: nothing writes a cache file in place) and make it ``head``'s
    (engine_state.adopt_state): the state, handed to the head's build rather than
    written back for it to read (30 MB each way at 100k equipment). None when it cannot
    be used: the head is built in full. ``lock_digest``: that of ``head/snav.lock``
    when its copier hashed it."""
    from ..engine import state as engine_state

    dest = head / cache.CACHE_DIR
    engine = saved.folder / ENGINE
    hashed = (dest / cache.STATS).exists()  # _hash_ahead's: the head's files' own

    def ignore(folder, names) -> list[str]:
        return [cache.STATS] if hashed and Path(folder) == engine else []

    try:
        shutil.copytree(
            engine, dest, copy_function=_link_or_copy, dirs_exist_ok=True, ignore=ignore
        )
        for name in engine_state.OUTPUTS:
            _link_or_copy(saved.folder / OUT / name, dest / "build" / name)
        lock = head / "snav.lock"
        same = (
            saved.lock is not None
            and lock.is_file()
            and (lock_digest or _read_digest(lock)) == saved.lock
        )
        # the outputs' content: read whole by restore_base, or written by the base's
        # build that has just ended (its digests are its writer's); those restore_base
        # left unchecked are checked by the incremental build (state.outputs_intact)
        adopted = engine_state.adopt_state(
            head, saved.digests, same, checked=not saved.unchecked, keep=False
        )
        if adopted is not None:
            return adopted
    except OSError:
        pass
    shutil.rmtree(dest, ignore_errors=True)
    return None


def _link_or_copy(src, dst) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _mode_changes(base: str, facts, fallback, saved, head: Tree | None) -> list[dg.Diagnostic]:
    """M3 over the base's nodes: those BaseFacts kept (or the snapshot's, restored), or
    the base's whole tree when the rules did not run on it (``fallback``)."""
    name = f"revision '{base}'"
    if head is None:
        return []
    if facts is None:
        return check_mode_changes(fallback, head, name) if fallback is not None else []
    if not any(
        n.kind == "client" and i in facts.modes and facts.modes[i] != n.mode
        for i, n in head.nodes.items()
    ):
        return []  # no client changes mode: nothing for M3 to check
    nodes = facts.nodes if facts.nodes is not None else _snapshot_nodes(saved)
    if nodes is None:
        return []
    tree = build_tree(nodes, [], checks=False)
    return check_mode_changes(tree, head, name, equipment_at=facts.equipment_at)


def _snapshot_nodes(saved: SavedBase) -> list | None:
    """The base's node objects, made from its engine snapshot."""
    from ..engine.load import Document
    from ..validate import models_of_clean

    data = cache.read_sealed(saved.folder / ENGINE / cache.SNAPSHOT)
    if not isinstance(data, dict):
        return None
    docs = [Document(*t) for t in data["config"] if t[4].get("kind") in NODE_KINDS]
    return models_of_clean(docs)


def _why_not_compared(base: str, head_result, base_ok: bool, base_errors: int) -> str:
    """Why the plan made no comparison: which version does not build, with its error
    count (a report saying "no change" there would read as "nothing changed")."""
    why = []
    head = sum(d.severity == "error" for d in head_result.diagnostics)
    if head or base_ok:
        why.append(f"the working tree does not build ({head} error{'s' if head != 1 else ''})")
    if not base_ok:
        why.append(
            f"revision '{base}' does not build ({base_errors} error{'s' if base_errors != 1 else ''})"
        )
    return " and ".join(why)


def _head_files(repo: Path, present: bool = True) -> list[str]:
    """The files of the working tree a build reads and a commit would hold (tracked and
    untracked, not those git ignores: :func:`_working_tree`), relative to ``repo``
    (``present=False``: and those deleted since the last commit: load.commit_files)."""
    from ..engine.load import GitError

    try:
        return [rel for rel in commit_files(repo, present) if _read_by_build(rel)]
    except GitError as e:
        raise PlanError(f"cannot list the working tree's files: {e}") from None


def _copy_hashed(src: Path, dst: Path) -> str:
    """Copy ``src`` to ``dst``; :func:`_read_digest` of what was copied."""
    digest = hashing.hasher()
    with open(src, "rb") as f, open(dst, "wb") as out:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def _linked_apart(repo: Path, dest: Path):
    """:func:`_copy_working_tree` in a forked process, while this one checks and
    installs the base's state: 11,000 links at 100k equipment, and a thread doing it
    would wait for the interpreter's lock after each one while this process unmarshals
    the state. Once that is done, this process links files too, from the last one
    back to where the child has come (0.5 s of a restored plan's 1.7 s at 100k were
    spent waiting for the child). Returns ``(lock_in, done)``: ``lock_in()`` waits
    until ``snav.lock`` is in ``dest`` as a commit would hold it (or is not to be) and
    returns the content hash of the lock copied (None: not known); ``done()`` waits
    until every file is there and returns the records of the files the build reads,
    hashed as they were linked (cache.hash_files's ``vouched``: the head's build then
    reads none of them again; None when not known); where the child failed, ``done()``
    links what is left here, raising what that raises. Where processes cannot fork, a
    thread does it."""
    records: dict = {}
    if not hasattr(os, "fork") or os.environ.get("SNAVC_PLAN_NO_FORK"):
        event = threading.Event()
        told: list = [None]

        def tell(digest) -> None:
            told[0] = digest
            event.set()

        def wait():
            event.wait()
            return told[0]

        linking = _started(lambda: _copy_working_tree(repo, dest, tell, records=records))

        def joined():
            linking()
            return records

        return wait, joined

    def work(write: int) -> None:
        # the lock's digest first, in 32 bytes ("-" * 32: none), then the records
        def tell(digest) -> None:
            os.write(write, (digest or "-" * 32).encode())

        _copy_working_tree(repo, dest, tell, records=records)
        data = memoryview(marshal.dumps(records))
        while data:
            data = data[os.write(write, data) :]

    # (a child that stops: done() links what is left here, and says why)
    pid, read = forked(work)
    answer: list = []
    # the files this process links its part of (below), listed by git meanwhile: the
    # child lists them too, as it starts (its list is not handed over: 400 KB at 100k
    # would fill the pipe and stop the child until this process reads it)
    files: list = []
    listing = _started(lambda: files.append(_head_files(repo, present=False)))

    def lock_in():
        if not answer:  # (b"" or short if the child died first)
            answer.append(read_exactly(read, 32).decode("ascii", "replace"))
        return answer[0] if len(answer[0]) == 32 and answer[0] != "-" * 32 else None

    def done():
        lock_in()
        # this process's part, from the last file back to where the child has come
        mine: dict = {}
        chunks = []
        try:
            listing()
            _copy_working_tree(repo, dest, records=mine, files=files[0], backward=True)
        finally:  # (the child is waited for, whatever happened here)
            while chunk := os.read(read, 1 << 20):
                chunks.append(chunk)
            os.close(read)
            _, status = os.waitpid(pid, 0)
        if status != 0:  # (a bug, a full disk...): what is left, linked here
            _copy_working_tree(repo, dest, again=True)
            return None
        try:
            theirs = marshal.loads(b"".join(chunks))
        except (EOFError, ValueError, TypeError):
            return None
        return {**theirs, **mine}

    return lock_in, done


def _copy_working_tree(
    repo: Path,
    dest: Path,
    lock_in=None,
    again: bool = False,
    records: dict | None = None,
    files: list[str] | None = None,
    backward: bool = False,
) -> None:
    """The files of the working tree a build reads and a commit would hold (tracked
    and untracked, not those git ignores: :func:`_working_tree`), put into ``dest``:
    the folder the head is built in, beside the base's engine state.
    ``lock_in(digest)`` is called once ``snav.lock`` is there (the first file put), or
    this gave up, with the content hash of the lock copied (:func:`_read_digest`) or
    None. ``again``: files already there are left (a child that stopped half-way).
    ``records``: filled with rel -> (size, mtime_ns, ctime_ns, inode, content hash) of
    each file a build reads but the lock, read once linked (cache.hash_files).
    ``files``: those files (:func:`_head_files`) when the caller has them.

    Two processes may share the work (:func:`_linked_apart`): one goes through the
    files from the first, the other from the last (``backward``, the lock left to the
    first). A file is claimed by putting it there (a link, a symbolic link or a copy is
    made only where nothing is: ``EEXIST`` otherwise), so each stops at the first file
    it finds there: the other has been through the rest.

    Hard links where the file system allows (a copy of 86 MB at 100k equipment was
    a tenth of a restored plan's time at 10k): a build never writes an input in place,
    and the one file it writes at all, ``snav.lock``, is copied (a build replaces it by
    a rename, but a user's lock is never shared with a folder that is thrown away).
    """
    import stat as stat_

    from ..engine.load import content_hash

    digest = None  # the lock's, hashed as it is copied (the plan compares it with the base's)
    try:
        keep = list(files) if files is not None else _head_files(repo, present=False)
        dest.mkdir(parents=True, exist_ok=True)
        locked = "snav.lock" in keep
        if locked:
            keep.remove("snav.lock")
        if locked and not backward:
            src, lock = repo / "snav.lock", dest / "snav.lock"
            if again and os.path.lexists(lock):
                pass
            elif os.path.islink(src):
                os.symlink(os.readlink(src), lock)
            elif src.is_file():
                digest = _copy_hashed(src, lock)
    finally:
        if lock_in is not None:
            lock_in(digest)
    # 11,000 files at 100k equipment: strings, one lstat and one link each
    top, out_top = os.fspath(repo), os.fspath(dest)
    made = {out_top}
    link = True
    for rel in reversed(keep) if backward else keep:
        src, out = os.path.join(top, rel), os.path.join(out_top, rel)
        try:
            mode = os.lstat(src).st_mode
        except OSError:  # deleted since the last commit (or a file where a folder was)
            continue
        if not (stat_.S_ISREG(mode) or stat_.S_ISLNK(mode)) or (again and os.path.lexists(out)):
            continue
        parent = os.path.dirname(out)
        if parent not in made:
            os.makedirs(parent, exist_ok=True)
            made.add(parent)
        try:
            if stat_.S_ISLNK(mode):
                os.symlink(os.readlink(src), out)
                continue
            if link:
                try:
                    os.link(src, out)
                except FileExistsError:
                    raise
                except OSError:  # another file system, a file of another user...: copies
                    link = False
                    _copy_new(src, out)
            else:
                _copy_new(src, out)
        except FileExistsError:  # put there by the process coming from the other end
            break
        if records is not None and _read_by_build(rel):
            # (the identity taken before the read: a write since moves it, and the
            # build then reads the file itself)
            with open(out, "rb") as f:
                records[rel] = (*cache.identity(f.fileno()), content_hash(f.read()))


def _copy_new(src: str, out: str) -> None:
    """Copy ``src`` to ``out``, which must not exist (FileExistsError)."""
    with open(src, "rb") as f, open(out, "xb") as copy:
        shutil.copyfileobj(f, copy, 1 << 20)


def _plan_in_memory(repo: Path, base: str, as_user: str | None, backend: str) -> Plan:
    """The plan with the delegation check (``as_user``), which reads every input object
    of both versions: both compiled in memory, each equipment kept as its line of text."""
    from ..engine.load import GitError

    with scratch() as tmp:
        try:
            found = checkout_revision(repo, base, Path(tmp) / "base")
        except GitError as e:
            raise PlanError(_unreadable(base, e)) from None
        progress.stage(f"building revision '{base}'")
        # Memory: a plan holds two versions where a build holds one. Each equipment goes
        # to its line of text as it is resolved (no dictionaries kept) and, unless the
        # delegation check needs them, its model leaves the tree (as in a build); the
        # base is turned into text before the head is compiled. What the head's tree
        # (incumbent) and M3 need of the base's equipment is taken before that.
        consume = as_user is None
        base_lines = EquipmentLines(incumbent=True)
        base_result, base_res = compile_repo(
            Path(tmp) / "base", backend, snapshot=False, sink=base_lines, consume=consume
        )
        base_build = _build(base_res, base, base_lines) if base_res is not None else None
        if consume:  # the rules' state of the base: not needed any more
            base_res = None
            gc.collect()  # the pipeline pauses the collector; its cycles (the tree) go now
        if not found:  # an empty estate: "holds no YAML document" is no news there
            base_result.diagnostics = [d for d in base_result.diagnostics if d.code != "SNV110"]
        incumbent = base_lines.incumbent
        if incumbent is None:  # the rules did not run on the base: its tree is whole
            incumbent = _incumbent(base_result.tree)
        progress.stage("building the working tree")
        head_lines = EquipmentLines()
        head_result, head_res = compile_repo(
            _working_tree(repo, Path(tmp) / "head"),
            backend,
            snapshot=False,
            incumbent=incumbent,
            sink=head_lines,
            consume=consume,
        )
    report = Report(base=base, head="working tree")
    # M3 first, whatever else the change breaks: a refused mode change is the root cause
    # of the errors it brings (partner objects no longer visible under a resale client)
    modes = (
        check_mode_changes(
            base_result.tree,
            head_result.tree,
            f"revision '{base}'",
            # the rules ran on the base (so its equipment models may be gone): their counts
            equipment_at=base_lines.at if base_lines.inputs is not None else None,
        )
        if base_result.tree is not None and head_result.tree is not None
        else []
    )
    errors = [d for d in head_result.diagnostics if d.severity == "error"]
    base_ok = base_build is not None and base_result.ok
    base_errors = sum(d.severity == "error" for d in base_result.diagnostics)
    if not base_ok:
        errors.append(_base_fails(base, base_errors))
    if errors or head_res is None:
        report.not_compared = _why_not_compared(base, head_result, base_ok, base_errors)
        errors = dg.sort(modes) + dg.sort(errors)
        report.errors = [d.to_json() for d in errors]
        return Plan(report, base_result, head_result, errors, not found)

    progress.stage("comparing")
    head_build = _build(head_res, "working tree", head_lines)
    if consume:
        head_res = None
        gc.collect()
    report = diff(base_build, head_build, check_modes=False)
    errors = delegation(base_res, head_res, as_user, base) if as_user is not None else []
    errors = dg.sort(modes) + dg.sort(errors)
    report.errors = [d.to_json() for d in errors]
    return Plan(report, base_result, head_result, errors, not found)


def _incumbent(base: Tree | None):
    """``incumbent(obj)`` for the working tree's tree (snavc.tree.build_tree): whether
    ``obj`` was there at the base revision, defined in the same file or with the same
    text, so that of two definitions of one ID the one the change adds is in error."""
    return None if base is None else _incumbent_of(_known(base))


def _known(base: Tree) -> dict[tuple[str, str], tuple[str, str]]:
    """``(kind, ID) -> (file, content hash)`` of the base's objects (not the catalogue's)."""
    known: dict[tuple[str, str], tuple[str, str]] = {}
    for kind, table in base.objects.items():
        for ident, obj in table.items():
            if not obj.doc.catalog:
                known[(kind, ident)] = (obj.doc.file, obj.doc.digest)
    return known


def _incumbent_of(known: dict):
    def incumbent(obj) -> bool:
        there = known.get((obj.kind, getattr(obj, "id", None)))
        return there is not None and (there[0] == obj.doc.file or there[1] == obj.doc.digest)

    return incumbent


def _read_by_build(rel: str) -> bool:
    """Whether a build reads the file (discovery: visible YAML files, and the lock)."""
    if rel.startswith(".") or "/." in rel:  # (a hidden file or folder on its path)
        return False
    return rel == "snav.lock" or rel.endswith((".yaml", ".yml"))


def _working_tree(repo: Path, dest: Path) -> Path:
    """The folder to build as the working tree: what a commit of it would hold.

    **Decision** (issue 10): the plan shows what the commit or pull request would
    contain, as ``git status`` does: tracked files and untracked files, not the files
    git ignores. When git ignores no file a build would read, that is the repository
    itself; otherwise a copy of the files a commit would hold, in ``dest``.
    """
    from ..engine.load import GitError

    try:
        if not any(_read_by_build(rel) for rel in ignored_files(repo)):
            return repo
        keep = commit_files(repo)
    except GitError as e:
        raise PlanError(f"cannot list the working tree's files: {e}") from None
    for rel in keep:
        src, out = repo / rel, dest / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        if os.path.islink(src):
            os.symlink(os.readlink(src), out)
        elif src.is_file():
            shutil.copyfile(src, out)
    dest.mkdir(parents=True, exist_ok=True)
    return dest


class EquipmentLines:
    """A sink for the rules engine (``resolve_all``): each equipment as its line of
    effective.json, in ID order, instead of a dictionary kept in the resolution (a plan
    holds two builds: 20k equipment as dictionaries took 1.6 GB)."""

    def __init__(self, incumbent: bool = False):
        self.lines: list[str] = []
        self.at: dict[str, int] = {}  # node -> equipment at it (M3: equipment_per_node)
        self.inputs: dict[str, str] | None = None
        self.want_incumbent = incumbent
        self.incumbent = None

    def start(self, tree) -> None:
        """Before the rules run, while every model is there: the input hashes, and (for
        the base) what the head's tree needs to know of its objects (:func:`_incumbent`)."""
        self.inputs = input_hashes(tree)
        if self.want_incumbent:
            self.incumbent = _incumbent(tree)

    def __call__(self, eq_id: str, effective: dict) -> None:
        self.lines.append(f"{_compact(eq_id)}:{_compact(effective)}")
        self.at[effective["at"]] = self.at.get(effective["at"], 0) + 1


def _build(res, name: str, equipment: EquipmentLines) -> Build:
    """The build ``res`` would write, in memory: the bytes of :func:`dumps` of the
    effective document (equipment first, as their section sorts first)."""
    document = effective(res, equipment.inputs)
    assert not document["equipment"], "the equipment went to the sink"
    rest = iter_pieces({k: v for k, v in document.items() if k != "equipment"})
    next(rest)  # its "{", written with the equipment
    # one buffer, each line freed as it is copied in: a join of 20k long lines would
    # hold the text three or four times over
    lines, equipment.lines = equipment.lines, []
    buf = bytearray(b"{\n")
    if lines:
        buf += b'"equipment":{\n'
        last = len(lines) - 1
        for i in range(len(lines)):
            buf += lines[i].encode()
            buf += b",\n" if i < last else b"\n"
            lines[i] = None
        buf += b"},\n"
    else:
        buf += b'"equipment":{},\n'
    del lines
    for _kind, _key, data in rest:
        buf += data
    build = Build(bytes(buf), name)
    del buf
    build.attach_origins(dumps(origins(res)))
    build.lock_report = lock_report(res.lock)
    return build


def delegation(base_res, head_res, user_id: str, base_name: str) -> list[dg.Diagnostic]:
    """V1, L1-L4 across versions: every input object added, modified or removed by the
    change must be editable by ``user_id`` in each version where it exists."""
    head_user = head_res.tree.get("User", user_id)
    base_user = base_res.tree.get("User", user_id)
    if head_user is None and base_user is None:
        raise PlanError(f"unknown user '{user_id}'")
    if base_user is None:
        return [
            dg.error(
                "SNV420",
                f"user '{user_id}' does not exist in revision '{base_name}': a change is checked with the "
                "rights its author has in the deployed state, and a new user has none yet",
                head_user.doc.loc(),
                rule="V1",
            )
        ]
    # Decision: the author acts with the identity of the deployed state (home node, role
    # and that role's permissions in the base), whatever the change does to them: a
    # change cannot grant its own author more rights.
    permissions = base_res.ctx.scope.permissions(base_user)
    before, after = _objects(base_res.tree), _objects(head_res.tree)
    out = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old is not None and new is not None and old.doc.digest == new.doc.digest:
            continue
        problems: dict[str, dict] = {}
        for res, obj, version in (
            (base_res, old, f"in revision '{base_name}'"),
            (head_res, new, "in the working tree"),
        ):
            if obj is None:
                continue
            for reason in _reasons(res, base_user, obj, permissions):
                problems.setdefault(reason["message"], {**reason, "version": version})
        shown = new if new is not None else old
        op = "adds" if old is None else "removes" if new is None else "modifies"
        for reason in problems.values():
            ref = (
                f" (refers to {reason['ref']}, defined at '{reason['defined_at']}')"
                if reason.get("ref")
                else ""
            )
            out.append(
                dg.error(
                    "SNV420",
                    f"the change {op} {key}, which user '{user_id}' may not edit {reason['version']}: "
                    f"{reason['message']}{ref}",
                    shown.doc.loc(),
                    rule=reason["rule"],
                )
            )
    return out


def _reasons(res, user, obj, permissions: frozenset[str]) -> list[dict]:
    """Why ``user`` may not edit ``obj`` (can_edit, plus organisation objects)."""
    tree = res.tree
    home = tree.nodes.get(user.at)
    kind = obj.kind
    if kind in (
        "Equipment",
        "UserService",
        "ServiceTemplate",
        "EquipmentTemplate",
        "ServiceTemplateOverride",
        "Contact",
        "ContactGroup",
        "TimePeriod",
        "Box",
        "MonitoringAccount",
    ):
        return can_edit(res, user, kind, obj, permissions=permissions)
    # Decision: organisation objects. Roles apply everywhere: partner users only. A node
    # is edited from its partner. A user is edited from their home node or above, never
    # by themselves, and only given a role whose permissions the editor has (V1a).
    if kind == "Role":
        ok = home is not None and home.kind == "partner"
        return [] if ok else [{"rule": "V1", "message": "roles are managed by partner users only"}]
    target = tree.nodes.get(
        obj.id if kind in ("Partner", "Client", "Site") else getattr(obj, "at", None)
    )
    if kind in ("Partner", "Client", "Site"):
        ok = (
            home is not None
            and target is not None
            and (home.kind == "partner" and home.is_ancestor_or_self(target))
        )
        why = f"nodes are managed from their partner; '{user.id}' is at '{user.at}'"
    else:  # User
        reasons = []
        if obj.id == user.id:
            reasons.append("nobody edits their own user (home node and role)")
        if home is None or target is None or not home.is_ancestor_or_self(target):
            reasons.append(
                f"a user is managed from their home node or above; '{user.id}' is at '{user.at}'"
            )
        granted = res.ctx.scope.permissions(obj)
        if not granted <= permissions:
            extra = ", ".join(sorted(granted - permissions))
            reasons.append(f"role '{obj.role}' grants {extra}, which '{user.id}' does not have")
        return [{"rule": "V1", "message": why} for why in reasons]
    return [] if ok else [{"rule": "V1", "message": why}]
