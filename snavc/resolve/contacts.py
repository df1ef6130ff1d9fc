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


def check_groups(ctx: Context) -> None:
    """C2 and C4 on every contact group."""
    tree = ctx.tree
    for group in tree.objects.get("ContactGroup", {}).values():
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


def check_notification(ctx: Context, obj, top, node, who: str) -> None:
    """C1/C3 on an equipment's or user service's notification policy."""
    scope, tree = ctx.scope, ctx.tree
    for field, kind, rule in (("contacts", "Contact", "C3"), ("groups", "ContactGroup", "C3")):
        visible = scope.selectable(kind, top, node)
        for i, ident in enumerate(getattr(obj.notification, field)):
            target = tree.get(kind, ident)
            if target is None:
                continue
            if kind == "Contact" and not target.enabled:
                ctx.error(
                    "SNV404",
                    "C1",
                    f"contact '{ident}' is disabled and cannot be selected in a notification policy",
                    obj,
                    "notification",
                    field,
                    i,
                )
            elif ident not in visible:
                ctx.error(
                    "SNV403",
                    rule,
                    f"{kind} '{ident}' (at '{target.at}') is not selectable at '{node.id}' for {who}"
                    f"{out_of_scope_hint(tree, target.at, node)}; selectable: {enabled_ids(visible)}",
                    obj,
                    "notification",
                    field,
                    i,
                )
