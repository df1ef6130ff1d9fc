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
from .scope import ACTIONS, scope_path


def _reason(rule: str, message: str, ref: str | None = None, defined_at: str | None = None) -> dict:
    return {"rule": rule, "message": message, "ref": ref, "defined_at": defined_at}


def references_of(res, kind: str, obj, service: str | None = None) -> list[tuple[str, str]]:
    """``(kind, ID)`` of everything an equipment, unit service or user service refers to,
    resolved values included (L1 decision)."""
    refs: list[tuple[str, str]] = []
    from . import effective_of

    if kind == "Equipment":
        eff = effective_of(res, "Equipment", obj.id)
        refs.append(("Box", obj.box))
        refs += [("EquipmentTemplate", t) for t in obj.template_ids]
        refs += [("Equipment", p) for p in obj.parents]  # H5: a parent host locks too
        refs += [("Label", label) for label in obj.labels]
        refs += [("MonitoringAccount", a) for a in obj.accounts]
        refs += [("Contact", c) for c in obj.notification.contacts]
        refs += [("ContactGroup", g) for g in obj.notification.groups]
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
    if kind == "UserService":
        eff = effective_of(res, "UserService", obj.id)
        refs += [("Contact", c) for c in obj.notification.contacts]
        refs += [("ContactGroup", g) for g in obj.notification.groups]
        if eff is not None:
            refs += [("TimePeriod", p["id"]) for p in (eff["periods"] or {}).values()]
        return refs
    return refs


def _service_refs(service: dict, res=None) -> list[tuple[str, str]]:
    refs = [("ServiceTemplate", service["template"])]
    refs += [("Label", label) for label in service.get("labels", ())]
    # the overrides that gave it its values are referred to through them (L1 decision)
    origins = res.resolver.origins.get(service.get("origin", ""), {}) if res is not None else {}
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
    seen = set()
    for ref_kind, ident in references_of(res, kind, obj, service):
        if (ref_kind, ident) in seen:
            continue
        seen.add((ref_kind, ident))
        if ref_kind == "ServiceTemplateOverride":
            template, _, at_id = ident.partition("@")
            target = tree.overrides.get(template, {}).get(at_id)
        else:
            target = tree.get(ref_kind, ident)
        if target is None:
            continue
        at = tree.node_of(target)
        if at.kind == "product":
            continue  # L2
        ref = f"{LABELS.get(ref_kind, ref_kind)}/{ident}"
        if ref_kind == "Box":
            problem = box_problem(res.ctx, target, home, node)
            if problem is not None:
                code, rule, message = problem
                reasons.append(
                    _reason(
                        "B2" if rule == "B2" else "L1",
                        f"'{label}' is monitored by box '{ident}' defined at '{at.id}'; {message}",
                        ref,
                        at.id,
                    )
                )
            continue
        if ref_kind in ("ServiceTemplateOverride", "Equipment"):
            visible = at in scope_path(top, node)
        else:
            visible = ident in scope.selectable(ref_kind, top, node)
        if not visible:
            above = at.is_ancestor_or_self(node) and not home.is_ancestor_or_self(at)
            where = (
                f"above the home of user '{user.id}' ('{home.id}')"
                if above
                else "outside the scope of this user"
            )
            reasons.append(
                _reason(
                    "L1",
                    (
                        f"'{label}' takes values from the override of '{target.template}' at '{at.id}', {where}"
                        if ref_kind == "ServiceTemplateOverride"
                        else f"'{label}' refers to {ref_kind} '{ident}' defined at '{at.id}', {where}"
                    ),
                    ref,
                    at.id,
                )
            )
    return reasons
