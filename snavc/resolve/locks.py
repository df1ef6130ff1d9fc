"""Edit locks: who may still modify an object (L1-L4, with V1 and B2).

L1 as decided in RULES.md: user U may modify object E at node N iff U may configure at
N (V1, with the permission the kind needs) and every object E refers to, explicitly or
through a resolved value (a period from the default walk, a template's period), is
selectable by U at N (V3); for the box, usable by U there (B1-B3). Product objects
never lock (L2). Group members and user service members are not references.
"""

from __future__ import annotations

from ..tree import LABELS, Node
from .boxes import box_problem
from .on_demand import effective_of
from .scope import ACTIONS, scope_path


def _reason(rule: str, message: str, ref: str | None = None, defined_at: str | None = None) -> dict:
    return {"rule": rule, "message": message, "ref": ref, "defined_at": defined_at}


def references_of(res, kind: str, obj, service: str | None = None) -> list[tuple[str, str]]:
    """``(kind, ID)`` of everything an equipment, unit service or user service refers to,
    resolved values included (L1 decision)."""
    refs: list[tuple[str, str]] = []
    if kind == "Equipment":
        eff = effective_of(res, "Equipment", obj.id)
        refs.append(("Box", obj.box))
        refs += [("EquipmentTemplate", t) for t in obj.template_ids]
        refs += [("Equipment", p) for p in obj.parents]  # H5: a parent host locks too
        refs += [("Label", label) for label in obj.labels]
        refs += [("MonitoringAccount", a) for a in obj.accounts]
        refs += _policy_refs(obj.notification)
        if eff is not None:
            refs += [("TimePeriod", p["id"]) for p in (eff["periods"] or {}).values()]
            for s in eff["services"].values():
                refs += _service_refs(s, res)
        return refs
    if kind == "UnitService":
        eff = effective_of(res, "Equipment", obj.id)
        refs.append(("Box", obj.box))
        if eff is not None and service in eff["services"]:
            refs += _service_refs(eff["services"][service], res)
        return refs
    if kind == "MaintenanceWindow":  # W3: its targets lock it like references (L1)
        refs += [("Equipment", t.partition("/")[0]) for t in obj.targets]
        refs += _policy_refs(obj.notify)
        return refs
    if kind == "UserService":
        eff = effective_of(res, "UserService", obj.id)
        refs += _policy_refs(obj.notification)
        if eff is not None:
            refs += [("TimePeriod", p["id"]) for p in (eff["periods"] or {}).values()]
        return refs
    return refs


def _policy_refs(policy) -> list[tuple[str, str]]:
    """Contacts and groups of a notification policy, escalation levels included (A1)."""
    refs = [("Contact", c) for c in policy.contacts]
    refs += [("ContactGroup", g) for g in policy.groups]
    for e in policy.escalations:
        refs += [("Contact", c) for c in e.contacts]
        refs += [("ContactGroup", g) for g in e.groups]
    return refs


def _service_refs(service: dict, res=None) -> list[tuple[str, str]]:
    return service_refs(service, res.resolver.origins if res is not None else {})


def service_refs(service: dict, origins: dict) -> list[tuple[str, str]]:
    """What a unit service refers to: its template, labels, the overrides that gave it
    values (L1 decision) and its periods (``origins``: the resolver's shared origins)."""
    refs = [("ServiceTemplate", service["template"])]
    policy = service.get("notification")
    if policy:  # the unit service's own policy (effective form)
        refs += [("Contact", c) for c in policy["contacts"]]
        refs += [("ContactGroup", g) for g in policy["groups"]]
        for e in policy.get("escalations", ()):
            refs += [("Contact", c) for c in e["contacts"]]
            refs += [("ContactGroup", g) for g in e["groups"]]
    refs += [("Label", label) for label in service.get("labels", ())]
    refs += [("MonitoringAccount", a) for a in service.get("accounts", ())]
    # the overrides that gave it its values are referred to through them (L1 decision)
    origins = origins.get(service.get("origin", ""), {})
    for key in origins.get("inputs", ()):
        label, _, ident = key.partition("/")
        if label == "service-template-override":
            refs.append(("ServiceTemplateOverride", ident))
    for f in ("check_period", "availability_period", "notification_period"):
        if service.get(f):
            refs.append(("TimePeriod", service[f]))
    return refs


def can_edit(
    res, user, kind: str, obj, service: str | None = None, permissions: frozenset[str] | None = None
) -> list[dict]:
    """Every reason ``user`` may not modify the object (empty list: editable).

    ``permissions`` replaces those the user's role has in ``res`` (``plan --as`` checks
    both versions with the rights of the deployed state).
    """
    tree, scope = res.tree, res.ctx.scope
    reasons: list[dict] = []
    node: Node = tree.node_of(obj)
    home = scope.home(user)
    if node.kind == "product":
        hint = "; override it (T2) or duplicate it (T7)" if kind == "ServiceTemplate" else ""
        return [
            _reason(
                "L2", f"{kind} '{obj.id}' is shipped with the product and cannot be modified{hint}"
            )
        ]
    permission = {
        "Equipment": ACTIONS["equipment"],
        "UnitService": ACTIONS["services"],
        "UserService": ACTIONS["services"],
        "ServiceTemplate": ACTIONS["templates"],
        "EquipmentTemplate": ACTIONS["templates"],
        "ServiceTemplateOverride": ACTIONS["templates"],
        "MaintenanceWindow": ACTIONS["equipment"],
    }.get(kind)
    if home is None or not home.is_ancestor_or_self(node):
        where = home.id if home else "none"
        return [
            _reason(
                "V1",
                f"user '{user.id}' (home '{where}') cannot configure at '{node.id}': a user configures only "
                "at their home node or below it",
                defined_at=node.id,
            )
        ]
    if permissions is None:
        permissions = scope.permissions(user)
    if permission is not None and permission not in permissions:
        reasons.append(
            _reason(
                "V1a", f"user '{user.id}' has role '{user.role}', which does not grant {permission}"
            )
        )
    top = scope.top(home, node)
    label = f"{obj.id}/{service}" if service else getattr(obj, "id", "")
    for ref_kind, ident in dict.fromkeys(references_of(res, kind, obj, service)):
        found = out_of_reach(res.ctx, user, home, top, node, ref_kind, ident, kind)
        if found is not None:
            reasons.append(
                _reason(found[0], found[1].replace("{label}", label), found[2], found[3])
            )
    return reasons


def out_of_reach(
    ctx,
    user,
    home: Node,
    top: Node,
    node: Node,
    ref_kind: str,
    ident: str,
    of_kind: str | None = None,
) -> tuple[str, str, str, str] | None:
    """L1 for one reference: ``(rule, message, ref, defined_at)`` when ``user`` (home
    ``home``, scope top ``top``) could not select it at ``node``; the message starts
    with ``'{label}'``, a placeholder for the object. None when it is in reach (or
    unknown). Shared by ``can_edit`` and the creator's check (L5), so they agree."""
    tree, scope = ctx.tree, ctx.scope
    if ref_kind == "ServiceTemplateOverride":
        template, _, at_id = ident.partition("@")
        target = tree.overrides.get(template, {}).get(at_id)
    else:
        target = tree.get(ref_kind, ident)
    if target is None:
        return None
    at = tree.node_of(target)
    if at.kind == "product":
        return None  # L2
    ref = f"{LABELS.get(ref_kind, ref_kind)}/{ident}"
    if ref_kind == "Box":
        problem = box_problem(ctx, target, home, node)
        if problem is None:
            return None
        _, rule, message = problem
        return (
            "B2" if rule == "B2" else "L1",
            f"'{{label}}' is monitored by box '{ident}' defined at '{at.id}'; {message}",
            ref,
            at.id,
        )
    if ref_kind == "Equipment" and of_kind == "MaintenanceWindow":
        visible = home.is_ancestor_or_self(at)  # W3: a target the user may configure
    elif ref_kind in ("ServiceTemplateOverride", "Equipment"):
        visible = at in scope_path(top, node)
    else:
        visible = ident in scope.selectable(ref_kind, top, node)
    if visible:
        return None
    above = at.is_ancestor_or_self(node) and not home.is_ancestor_or_self(at)
    where = (
        f"above the home of user '{user.id}' ('{home.id}')"
        if above
        else "outside the scope of this user"
    )
    message = (
        f"'{{label}}' takes values from the override of '{target.template}' at '{at.id}', {where}"
        if ref_kind == "ServiceTemplateOverride"
        else f"'{{label}}' refers to {ref_kind} '{ident}' defined at '{at.id}', {where}"
    )
    return "L1", message, ref, at.id
