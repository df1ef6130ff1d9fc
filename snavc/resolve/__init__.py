"""Resolve: the rules of RULES.md applied to a whole tree (fourth stage).

One module per rule family, each naming its rule IDs:

    scope       V1, V1a, V2, V3, V4, V6, V7   who sees what, from where
    periods     P1-P10                         defaults and the default walk
    contacts    C1-C4                          contacts and groups
    boxes       B1-B4                          which box monitors what
    templates   T1-T4, T6-T9                   overrides, duplicates, types
    objects     E1, U1 (+ the above)           equipment, unit and user services
    locks       L1-L4                          who may still edit what
    lock        T5                             services keep their creation values

``resolve(tree)`` runs the checks of the shared objects, then resolves every equipment
and user service; the result holds the effective configuration, the diagnostics, and the
context that queries and ``explain`` reuse.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..diagnostics import Diagnostic
from ..tree import Tree
from .boxes import Boxes, check_boxes
from .contacts import check_groups
from .context import Context
from .lock import LockState
from .objects import Resolver, maintenance_window
from .on_demand import effective_of
from .periods import DefaultWalk, check_nodes, collect_defaults
from .templates import Templates, check_templates

__all__ = [
    "Resolution",
    "effective_of",
    "engine",
    "resolve",
    "resolve_all",
    "resolve_before_equipment",
    "resolve_equipment",
]


@dataclass(slots=True)
class Resolution:
    tree: Tree
    ctx: Context
    walk: DefaultWalk
    templates: Templates
    boxes: Boxes
    resolver: Resolver
    nodes: dict[str, dict]
    equipment: dict[str, dict]
    user_services: dict[str, dict]
    diagnostics: list[Diagnostic]
    lock: LockState | None = None
    maintenance_windows: dict[str, dict] = field(default_factory=dict)  # W1-W3
    nodes_under: set | None = None  # engine's: the nodes summarised, below these (all: None)
    # KIND/ID -> (start, end) of each object a shared check that may warn (B3, P9)
    # examined: diagnostics[start:end] are about it. The build state keeps them as
    # that object's, and a warm build that checks it again replaces them
    checked: dict[str, tuple[int, int]] = field(default_factory=dict)


SHARED_CHECKS = frozenset({"groups", "boxes", "templates", "nodes"})


def engine(
    tree: Tree, lock: LockState | None = None, checks=True, only=None, nodes_under=None
) -> Resolution:
    """The rules engine over ``tree``, shared objects checked, nothing resolved yet.

    ``checks`` is True (every shared check), False (none: a query over a snapshot known
    to be clean, snavc.engine.cache) or the names of those to run, of
    :data:`SHARED_CHECKS` (a warm build runs those whose objects an edit touched).
    ``only`` (``KIND/ID`` labels) narrows the checks of groups and boxes to those
    (a warm build: the ones an edit reached; the others passed them unchanged), and
    ``nodes_under`` (node IDs) the nodes' summaries to those at or below them (a warm
    build: the nodes a period default's edit reaches)."""
    run = SHARED_CHECKS if checks is True else frozenset(checks or ())
    ctx = Context(tree)
    collect_defaults(ctx)  # P2
    walk = DefaultWalk(ctx)
    templates = Templates(ctx)
    boxes = Boxes(ctx)
    nodes: dict = {}
    checked: dict[str, tuple[int, int]] = {}
    if "groups" in run:
        check_groups(ctx, only)  # C2, C4
    if "boxes" in run:
        _by_object(ctx, checked, lambda starts: check_boxes(ctx, only, starts))  # B3
    if "templates" in run:
        check_templates(ctx)  # T2, T7, T9
    if "nodes" in run:
        nodes = _by_object(  # P9, P10
            ctx, checked, lambda starts: check_nodes(ctx, walk, nodes_under, starts)
        )
    return Resolution(
        tree,
        ctx,
        walk,
        templates,
        boxes,
        Resolver(ctx, walk, templates, lock),
        nodes,
        {},
        {},
        ctx.diagnostics,
        lock,
        nodes_under=nodes_under,
        checked=checked,
    )


def _by_object(ctx: Context, checked: dict, check):
    """Run ``check(starts)``, which records in ``starts`` each object it examines
    (``KIND/ID -> len(ctx.diagnostics)`` then), and put in ``checked`` the range of the
    diagnostics each one got. Returns what the check returns."""
    starts: dict[str, int] = {}
    found = check(starts)
    if not starts:
        return found
    begins = list(starts.values())
    # (each object's diagnostics end where the next one's begin; the last, at the end)
    for label, start, end in zip(starts, begins, begins[1:] + [len(ctx.diagnostics)], strict=True):
        checked[label] = (start, end)
    return found


def resolve(tree: Tree, lock: LockState | None = None) -> Resolution:
    """Every rule over the whole tree: the effective configuration and its diagnostics.

    With ``lock`` (T5), unit services keep the template values they were created with.
    """
    res = engine(tree, lock)
    resolve_all(res)
    return res


def resolve_all(res: Resolution, sink=None, consume: bool = False, owners=None) -> None:
    """Resolve every user service and every equipment (in ID order) of ``res``.

    With ``sink(equipment_id, effective)``, each equipment goes there instead of into
    ``res.equipment``: a build streams them to its output instead of holding 100k of
    them in memory. With ``consume``, each equipment's model also leaves the tree once
    resolved (the build's last use of it), so its memory serves what comes next. With
    ``owners`` (a list), ``(KIND/ID, start, end)`` is appended for each object whose
    resolution reported something: ``res.diagnostics[start:end]`` are its own (the
    build state keeps them with their object, snavc.engine.state).

    It is :func:`resolve_before_equipment`, then :func:`resolve_equipment` of every
    equipment: a cold build runs the two itself, the second in shards on every core
    (snavc.engine.shards).
    """
    ids = resolve_before_equipment(res, consume, owners)
    resolve_equipment(res, ids, sink, consume, owners)


def resolve_before_equipment(res: Resolution, consume: bool = False, owners=None) -> list[str]:
    """Resolve every user service and maintenance window of ``res`` (in ID order), as
    :func:`resolve_all` does; returns the IDs of the equipment left to resolve, sorted."""
    tree = res.tree
    diags = res.diagnostics
    for us_id in sorted(tree.objects.get("UserService", {})):
        start = len(diags)
        effective = res.resolver.user_service(tree.objects["UserService"][us_id])
        _owned(owners, diags, "UserService", us_id, start)
        if effective is not None:
            res.user_services[us_id] = effective
    for mw_id in sorted(tree.objects.get("MaintenanceWindow", {})):  # before equipment go
        start = len(diags)
        effective = maintenance_window(res.resolver, tree.objects["MaintenanceWindow"][mw_id])
        _owned(owners, diags, "MaintenanceWindow", mw_id, start)
        if effective is not None:
            res.maintenance_windows[mw_id] = effective
    table = tree.objects.get("Equipment", {})
    if consume:  # H5 asks where each parent is, after the parent may have left the tree
        res.resolver.parent_at = {
            p: table[p].at for eq in table.values() for p in eq.parents if p in table
        }
    return sorted(table)


def resolve_equipment(res: Resolution, ids, sink=None, consume: bool = False, owners=None) -> None:
    """Resolve the equipment ``ids`` of ``res``, in that order (``sink``, ``consume`` and
    ``owners`` as for :func:`resolve_all`)."""
    table = res.tree.objects.get("Equipment", {})
    diags = res.diagnostics
    resolver, boxes = res.resolver, res.boxes
    for eq_id in ids:
        start = len(diags)
        effective = resolver.equipment(table[eq_id], boxes)
        _owned(owners, diags, "Equipment", eq_id, start)
        if consume:
            del table[eq_id]
        if effective is not None:
            if sink is None:
                res.equipment[eq_id] = effective
            else:
                sink(eq_id, effective)


def _owned(owners, diags: list, kind: str, ident: str, start: int) -> None:
    if owners is not None and len(diags) > start:
        owners.append((f"{kind}/{ident}", start, len(diags)))
