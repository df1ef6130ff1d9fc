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

import gc
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .. import diagnostics as dg
from .. import progress
from ..engine.emit import _compact, dumps, effective, input_hashes, iter_lines, lock_report, origins
from ..engine.load import checkout_revision, commit_files, ignored_files
from ..engine.pipeline import Result, compile_repo
from ..resolve.locks import can_edit
from ..resolve.modes import check_mode_changes
from ..tree import Tree, object_key
from .diff import Build, Report, diff


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


def plan(repo: str | Path, base: str, as_user: str | None = None, backend: str = "fast") -> Plan:
    from ..engine.load import GitError

    repo = Path(repo)
    with tempfile.TemporaryDirectory(prefix="snavc-base-") as tmp:
        try:
            found = checkout_revision(repo, base, Path(tmp) / "base")
        except GitError as e:
            hint = ""
            if str(e).startswith("unknown revision"):
                hint = " (unknown revision; in CI, fetch the whole history: `fetch-depth: 0`)"
            raise PlanError(f"cannot read revision '{base}': {e}{hint}") from None
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
    if base_build is None or not base_result.ok:
        count = sum(d.severity == "error" for d in base_result.diagnostics)
        errors.append(
            dg.error(
                "SNV424",
                f"revision '{base}' does not build ({count} error{'s' if count != 1 else ''}): plan needs a "
                f"base that builds; see them with `git worktree add /tmp/base {base} && snavc validate "
                "/tmp/base`, or choose another base",
                dg.Location("."),
            )
        )
    if errors or head_res is None:
        report.not_compared = _not_compared(base, head_result, base_build, base_result)
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


def _not_compared(base: str, head_result, base_build, base_result) -> str:
    """Why the plan made no comparison: which version does not build, with its error
    count (a report saying "no change" there would read as "nothing changed")."""
    why = []
    head = sum(d.severity == "error" for d in head_result.diagnostics)
    if head or base_build is not None and base_result.ok:
        why.append(f"the working tree does not build ({head} error{'s' if head != 1 else ''})")
    if base_build is None or not base_result.ok:
        count = sum(d.severity == "error" for d in base_result.diagnostics)
        why.append(f"revision '{base}' does not build ({count} error{'s' if count != 1 else ''})")
    return " and ".join(why)


def _incumbent(base: Tree | None):
    """``incumbent(obj)`` for the working tree's tree (snavc.tree.build_tree): whether
    ``obj`` was there at the base revision, defined in the same file or with the same
    text, so that of two definitions of one ID the one the change adds is in error."""
    if base is None:
        return None
    known: dict[tuple[str, str], tuple[str, str]] = {}
    for kind, table in base.objects.items():
        for ident, obj in table.items():
            if not obj.doc.catalog:
                known[(kind, ident)] = (obj.doc.file, obj.doc.digest)

    def incumbent(obj) -> bool:
        there = known.get((obj.kind, getattr(obj, "id", None)))
        return there is not None and (there[0] == obj.doc.file or there[1] == obj.doc.digest)

    return incumbent


def _read_by_build(rel: str) -> bool:
    """Whether a build reads the file (discovery: visible YAML files, and the lock)."""
    parts = rel.split("/")
    if any(p.startswith(".") for p in parts):
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
    rest = iter_lines({k: v for k, v in document.items() if k != "equipment"})
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
    for line in rest:
        buf += line.encode()
        buf += b"\n"
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
