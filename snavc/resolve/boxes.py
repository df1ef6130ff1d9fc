"""ServiceNav boxes: which box may monitor which equipment, for which user (B1-B4).

- B1: a box at X monitors equipment at N only if X is N or an ancestor of N.
- B2: the configuring user's home must be X or an ancestor of X.
- B3: a partner box monitors client equipment only if shared (SNM type), and never
  under a resale client (decision); any partner box monitors equipment at the partner.
  ``shared`` on a client or site box means nothing: a warning.
"""

from __future__ import annotations

from functools import lru_cache

from ..tree import Node
from .context import Context


def box_problem(ctx: Context, box, home: Node, node: Node) -> tuple[str, str, str] | None:
    """``(code, rule, message)`` when ``box`` may not monitor equipment at ``node``
    configured by a user whose home is ``home``; None when it may."""
    bnode = ctx.tree.node_of(box)
    if not bnode.is_ancestor_or_self(node):
        return (
            "SNV410",
            "B1",
            f"box '{box.id}' at '{bnode.id}' cannot monitor equipment at '{node.id}': "
            "a box monitors its own node and the nodes below it",
        )
    if not home.is_ancestor_or_self(bnode):
        return (
            "SNV411",
            "B2",
            f"box '{box.id}' is at '{bnode.id}', above the user's home '{home.id}': "
            "a user may only use boxes at their home node or below",
        )
    if bnode.kind == "partner" and node is not bnode:
        if node.mode == "resale":
            return (
                "SNV412",
                "B3",
                f"box '{box.id}' belongs to the partner, which does not monitor resale client "
                f"'{node.company.id}'",
            )
        if not box.shared:
            return (
                "SNV412",
                "B3",
                f"box '{box.id}' at the partner is not shared (SNM): only shared partner boxes "
                "monitor client equipment",
            )
    return None


class Boxes:
    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.eligible = lru_cache(maxsize=None)(self._eligible)

    def _eligible(self, home: Node, node: Node) -> tuple[str, ...]:
        """B4: the IDs of the boxes a user with this home may pick at ``node``, sorted."""
        by_node = self.ctx.scope.defined_at.get("Box", {})
        ids = []
        for n in node.path[1:]:
            for box in by_node.get(n.id, ()):
                if box_problem(self.ctx, box, home, node) is None:
                    ids.append(box.id)
        return tuple(sorted(ids))


def check_boxes(ctx: Context, only=None, checked=None) -> None:
    """B3: ``shared`` only means something on a partner box (checked on the boxes of
    ``only``, ``KIND/ID`` labels, when given). ``checked``: see :func:`.engine`."""
    table = ctx.tree.objects.get("Box", {})
    for ident in table:
        if only is not None and f"Box/{ident}" not in only:
            continue
        if checked is not None:
            checked[f"Box/{ident}"] = len(ctx.diagnostics)
        box = table[ident]
        node = ctx.tree.node_of(box)
        if box.shared and node.kind in ("client", "site"):
            ctx.warning(
                "SNV413",
                "B3",
                f"'shared: true' on box '{box.id}' at {node.kind} '{node.id}' has no effect: "
                "only partner boxes can be shared (SNM type)",
                box,
                "shared",
            )
