"""Contacts and contact groups (C1-C4).

- C1: a disabled contact cannot be selected in a group or a notification policy.
- C2: a group holds enabled contacts only.
- C3: selectable contacts and groups follow the scope (V2-V4): see :mod:`.scope`.
- C4 (decision): a group's members must be selectable from the group's own node, as a
  partner user sees it.
"""

from __future__ import annotations

from .context import Context
from .scope import enabled_ids, out_of_scope_hint


def check_groups(ctx: Context, only=None) -> None:
    """C2 and C4 on every contact group (of ``only``, ``KIND/ID`` labels, when given)."""
    tree = ctx.tree
    table = tree.objects.get("ContactGroup", {})
    for ident in table:  # (by ID: a warm build's groups are made when read, cache.LazyKind)
        if only is not None and f"ContactGroup/{ident}" not in only:
            continue
        group = table[ident]
        node = tree.node_of(group)
        visible = ctx.scope.partner_selectable("Contact", node)
        for i, cid in enumerate(group.members):
            contact = tree.get("Contact", cid)
            if contact is None:
                continue  # dangling: reported by the tree stage
            if not contact.enabled:
                ctx.error(
                    "SNV405",
                    "C2",
                    f"contact '{cid}' is disabled: a contact group holds enabled contacts only",
                    group,
                    "members",
                    i,
                )
            if cid not in visible:
                ctx.error(
                    "SNV406",
                    "C4",
                    f"contact '{cid}' (at '{contact.at}') is not selectable at '{node.id}', where group "
                    f"'{group.id}' is defined{out_of_scope_hint(tree, contact.at, node)}; "
                    f"selectable: {enabled_ids(visible)}",
                    group,
                    "members",
                    i,
                )


def check_notification(ctx: Context, obj, top, node, who: str, policy=None, at=("notification",)):
    """C1/C3 on a notification policy (an equipment's, a user service's, or a unit
    service's at ``at``), its escalation levels included; A1, A2."""
    policy = obj.notification if policy is None else policy
    lists = [(at, policy.contacts, policy.groups)]
    if policy.escalations:
        check_escalations(ctx, obj, policy, at)
        lists += [
            (at + ("escalations", i), e.contacts, e.groups)
            for i, e in enumerate(policy.escalations)
        ]
    if policy.notify_on:
        check_notify_on(ctx, obj, policy, at)
    scope, tree = ctx.scope, ctx.tree
    for path, contacts, groups in lists:
        for field, kind, idents in (
            ("contacts", "Contact", contacts),
            ("groups", "ContactGroup", groups),
        ):
            if not idents:
                continue
            visible = scope.selectable(kind, top, node)
            for i, ident in enumerate(idents):
                target = tree.get(kind, ident)
                if target is None:
                    continue
                if kind == "Contact" and not target.enabled:
                    ctx.error(
                        "SNV404",
                        "C1",
                        f"contact '{ident}' is disabled and cannot be selected in a notification policy",
                        obj,
                        *path,
                        field,
                        i,
                    )
                elif ident not in visible:
                    ctx.error(
                        "SNV403",
                        "C3",
                        f"{kind} '{ident}' (at '{target.at}') is not selectable at '{node.id}' for {who}"
                        f"{out_of_scope_hint(tree, target.at, node)}; selectable: {enabled_ids(visible)}",
                        obj,
                        *path,
                        field,
                        i,
                    )


def check_escalations(ctx: Context, obj, policy, at: tuple) -> None:
    """A1: levels 1 to 3, each once, in order, each after more checks than the one
    before, and each notifying someone."""
    previous = None
    for i, e in enumerate(policy.escalations):
        problem = None
        if e.level != i + 1:
            problem = (
                f"escalation {i + 1} has level {e.level}: list levels 1, 2, 3 in order, each once"
            )
        elif previous is not None and e.after_checks <= previous:
            problem = (
                f"level {e.level} escalates after {e.after_checks} checks, not more than level "
                f"{e.level - 1} ({previous}): each level comes after more checks"
            )
        elif not e.contacts and not e.groups:
            problem = f"level {e.level} notifies no contact nor group"
        if problem is not None:
            ctx.error("SNV444", "A1", problem, obj, *at, "escalations", i)
            return
        previous = e.after_checks


HOST_STATUS = frozenset(
    {"up", "down", "unreachable", "flapping", "recovery", "acknowledgement", "maintenance"}
)
SERVICE_STATUS = frozenset(
    {
        "ok",
        "warning",
        "critical",
        "unknown",
        "flapping",
        "recovery",
        "acknowledgement",
        "maintenance",
    }
)


def check_notify_on(ctx: Context, obj, policy, at: tuple) -> None:
    """A2: a host notifies host status changes, a (unit or user) service service ones."""
    host = obj.kind == "Equipment" and at == ("notification",)
    allowed = HOST_STATUS if host else SERVICE_STATUS
    for i, status in enumerate(policy.notify_on):
        if status not in allowed:
            what = "a host" if host else "a service"
            ctx.error(
                "SNV445",
                "A2",
                f"'{status}' is not a status change of {what}; "
                f"{what} has: {', '.join(sorted(allowed))}",
                obj,
                *at,
                "notify_on",
                i,
            )
