"""Queries over a resolved tree: what a user may select, list, or still edit.

Answers ``snavc query selectable``, ``query list`` and ``query can-edit`` with the very
functions the build uses for its own checks (snavc.resolve), so the two cannot
disagree. Lookup failures raise :class:`QueryError` (a usage error for the CLI).
"""

from __future__ import annotations

from .resolve import Resolution
from .resolve.locks import can_edit as _can_edit
from .resolve.scope import ACTIONS, KIND_NAMES
from .tree import LABELS, PRODUCT, Node
from .validate import did_you_mean

# Kinds `OBJECT` may name, beyond those of KIND_NAMES.
OBJECT_KINDS = {
    **KIND_NAMES,
    "equipment": "Equipment",
    "unit-service": "UnitService",
    "user-service": "UserService",
    "user": "User",
    "node": "node",
    "service-template-override": "ServiceTemplateOverride",
    "maintenance-window": "MaintenanceWindow",
}


class QueryError(Exception):
    """A user, node or object that does not exist: a usage error (exit 2)."""


class Refused(Exception):
    """The asking user may not configure there (V1): exit 1."""


def user(res: Resolution, user_id: str):
    u = res.tree.get("User", user_id)
    if u is None:
        raise QueryError(
            f"unknown user '{user_id}'{did_you_mean(user_id, res.tree.objects.get('User', {}))}"
        )
    if res.ctx.scope.home(u) is None:
        raise QueryError(f"user '{user_id}' has no home node in the tree")
    return u


def node(res: Resolution, node_id: str) -> Node:
    n = res.tree.nodes.get(node_id)
    if n is None or n.kind == "product":
        known = [k for k in res.tree.nodes if k != PRODUCT]
        raise QueryError(f"unknown node '{node_id}'{did_you_mean(node_id, known)}")
    return n


def find_object(res: Resolution, spec: str) -> tuple[str, object, str | None]:
    """``KIND/ID``, or an ID unique across kinds, or ``equipment/service`` -> (kind, object,
    unit service name or None)."""
    tree = res.tree
    head, sep, rest = spec.partition("/")
    if sep and head in OBJECT_KINDS:
        kind = OBJECT_KINDS[head]
        if kind == "UnitService":
            return find_object(res, rest)
        if kind == "node":
            return "node", node(res, rest), None
        if kind == "ServiceTemplateOverride":
            template, _, at = rest.partition("@")
            obj = tree.overrides.get(template, {}).get(at)
            if obj is None:
                raise QueryError(
                    f"no override of '{template}' at '{at}' (write service-template-override/TEMPLATE@NODE)"
                )
            return kind, obj, None
        obj = tree.get(kind, rest)
        if obj is None:
            raise QueryError(
                f"unknown {head} '{rest}'{did_you_mean(rest, tree.objects.get(kind, {}))}"
            )
        return kind, obj, None
    if sep:
        eq = tree.get("Equipment", head)
        if eq is not None:
            names = tree.unit_services.get(head, [])
            if rest in names:
                return "UnitService", eq, rest
            raise QueryError(
                f"equipment '{head}' has no unit service '{rest}'{did_you_mean(rest, names)}"
                f" (it has: {', '.join(names) or 'none'})"
            )
        raise QueryError(
            f"unknown object '{spec}': write KIND/ID with KIND one of {', '.join(sorted(OBJECT_KINDS))}, "
            "or an equipment's unit service as EQUIPMENT/SERVICE"
        )
    if spec in tree.leaf_index:  # an equipment or user service not read yet (snapshot)
        tree.get(tree.leaf_index[spec][0], spec)
    found = [(k, t[spec]) for k, t in tree.objects.items() if spec in t and k not in ("Role",)]
    if spec in tree.nodes and spec != PRODUCT:
        found = [(k, o) for k, o in found if k not in ("Partner", "Client", "Site")]
        found.append(("node", tree.nodes[spec]))
    if not found and spec == PRODUCT:  # the root of the tree: nothing defines it
        raise QueryError(
            f"'{spec}' is the root of the tree, defined by no file: `snavc catalog` shows "
            "what the product brings, and `snavc explain PARTNER` what a partner takes of it"
        )
    if not found:
        every = [i for k, t in tree.objects.items() for i in t]
        raise QueryError(f"unknown object '{spec}'{did_you_mean(spec, every)}")
    if len(found) > 1:
        kinds = ", ".join(f"{_label(k)}/{spec}" for k, _ in found)
        raise QueryError(f"'{spec}' names several objects; say which: {kinds}")
    return found[0][0], found[0][1], None


def _label(kind: str) -> str:
    return LABELS.get(kind, kind.lower())  # "node" for a node, as OBJECT arguments write it


def _entry(res: Resolution, kind: str, obj, defined: Node, home: Node) -> dict:
    scope = res.ctx.scope
    item = {
        "id": obj.id,
        "kind": _label(kind),
        "defined_at": defined.id,
        "editor": scope.editor(defined, home),
    }
    if kind == "TimePeriod":
        item["section"] = scope.editor(defined, home)  # P8
        item["default_for"] = list(obj.default_for)
    if kind == "Box":
        item["shared"] = obj.shared
    if kind == "Contact":
        item["enabled"] = obj.enabled
    return item


def selectable(
    res: Resolution, user_id: str, node_id: str, kind_name: str, action: str = "equipment"
) -> list[dict]:
    """What ``user_id`` can select at ``node_id`` (V1-V7, C1, P1, P8, T1, T8, B1-B4).

    Raises :class:`Refused` when the user may not configure there (V1).
    """
    u, n = user(res, user_id), node(res, node_id)
    kind = KIND_NAMES.get(kind_name)
    if kind is None:
        raise QueryError(f"unknown kind '{kind_name}'{did_you_mean(kind_name, KIND_NAMES)}")
    scope = res.ctx.scope
    problem = scope.configure_problem(u, n, ACTIONS[action])
    if problem is not None:
        raise Refused(f"{problem[1]} (rule {problem[0]})")
    home = scope.home(u)
    top = scope.top(home, n)
    items = []
    if kind == "Box":
        for box_id in res.boxes.eligible(home, n):
            box = res.tree.get("Box", box_id)
            items.append(_entry(res, kind, box, res.tree.node_of(box), home))
    else:
        for obj in scope.selectable(kind, top, n).values():
            if kind == "Contact" and not obj.enabled:
                continue  # C1: listed, never selectable
            items.append(_item(res, kind, obj, top, n, home))
    return sorted(items, key=lambda i: i["id"])


def _item(res: Resolution, kind: str, obj, top: Node, n: Node, home: Node) -> dict:
    """One row of a list: templates typed (T1) and placed at their deepest override."""
    if kind in ("ServiceTemplate", "EquipmentTemplate"):
        ttype, defined = res.templates.type_at(kind, obj, top, n)
        item = _entry(res, kind, obj, defined, home)
        item["type"] = ttype
        return item
    return _entry(res, kind, obj, res.tree.node_of(obj), home)


def list_view(
    res: Resolution,
    user_id: str,
    node_id: str,
    kind_name: str,
    with_subordinates: bool = False,
    action: str = "equipment",
) -> list[dict]:
    """V5: the list view at a node. The same objects as :func:`selectable` (disabled
    contacts included, marked), each with ``selectable`` (false for all when the user's
    role does not grant ``action``, V1a); ``with_subordinates`` adds the objects defined
    below the node (never selectable there)."""
    u, n = user(res, user_id), node(res, node_id)
    kind = KIND_NAMES.get(kind_name)
    if kind is None:
        raise QueryError(f"unknown kind '{kind_name}'{did_you_mean(kind_name, KIND_NAMES)}")
    scope = res.ctx.scope
    home = scope.home(u)
    if not home.is_ancestor_or_self(n):
        raise Refused(
            f"user '{u.id}' (home '{home.id}') cannot see '{n.id}', which is not at or below their home (rule V1)"
        )
    top = scope.top(home, n)
    allowed = ACTIONS[action] in scope.permissions(u)
    if kind == "Box":
        # the boxes of path(top -> N), as every other kind (V2): under a resale client the
        # partner's boxes are not listed, not even as not selectable
        eligible = set(res.boxes.eligible(home, n))
        shown = [
            b for p in n.path[top.depth :] for b in scope.defined_at.get("Box", {}).get(p.id, ())
        ]
        shown = [
            b for b in shown if home.is_ancestor_or_self(res.tree.node_of(b)) or b.id in eligible
        ]
    else:
        eligible = None
        shown = list(scope.selectable(kind, top, n).values())
    items = []
    for obj in shown:
        item = _item(res, kind, obj, top, n, home)
        ok = obj.id in eligible if eligible is not None else getattr(obj, "enabled", True)
        item["selectable"] = ok and allowed
        items.append(item)
    if with_subordinates:
        below = [d for d in res.tree.nodes.values() if d is not n and n.is_ancestor_or_self(d)]
        for d in below:
            for obj in scope.defined_at.get(kind, {}).get(d.id, ()):
                item = _entry(res, kind, obj, d, home)
                item["selectable"] = False
                items.append(item)
    return sorted(items, key=lambda i: (i["id"], i["defined_at"]))


def can_edit(res: Resolution, user_id: str, spec: str) -> dict:
    """L1-L4: ``{"editable": bool, "reasons": [...]}`` for ``user_id`` on an object."""
    u = user(res, user_id)
    kind, obj, service = find_object(res, spec)
    if kind in ("node", "User", "Role"):
        raise QueryError(f"can-edit answers for configuration objects, not a {_label(kind)}")
    reasons = _can_edit(res, u, kind, obj, service)
    return {"editable": not reasons, "reasons": reasons}
