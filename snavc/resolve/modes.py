"""Modes across two versions: a client's mode may change only when nothing binds it (M3).

M1 (every client has a mode) is the model's; M2 (sites inherit it and set none) is
checked by validate and :attr:`snavc.tree.Node.mode`. M3 needs the deployed state:
``snavc plan`` gives it the tree of the base revision.
"""

from __future__ import annotations

from ..diagnostics import Diagnostic, error
from ..tree import Tree


def equipment_per_node(tree: Tree) -> dict[str, int]:
    """Node ID -> the number of equipment defined at it (what M3 needs of a base's
    equipment: ``plan`` takes it before the build consumes their models)."""
    counts: dict[str, int] = {}
    for eq in tree.objects.get("Equipment", {}).values():
        counts[eq.at] = counts.get(eq.at, 0) + 1
    return counts


def check_mode_changes(
    base: Tree, head: Tree, base_name: str, equipment_at: dict[str, int] | None = None
) -> list[Diagnostic]:
    """M3: a client whose mode differs from the base's, while the base had equipment on
    it or its sites, or a CRM reference on it or its sites. ``equipment_at`` gives the
    base's :func:`equipment_per_node` when its equipment models are gone."""
    out = []
    if equipment_at is None:
        equipment_at = equipment_per_node(base)
    for client_id, node in sorted(head.nodes.items()):
        before = base.nodes.get(client_id)
        if (
            node.kind != "client"
            or before is None
            or before.kind != "client"
            or before.mode == node.mode
        ):
            continue
        scope = [before, *before.children]
        count = sum(equipment_at.get(n.id, 0) for n in scope)
        crm = [n.id for n in scope if getattr(n.obj, "crm_ref", None)]
        reasons = []
        if count:
            reasons.append(f"{count} equipment on it or its sites")
        if crm:
            reasons.append(f"a CRM reference (crm_ref) on {', '.join(crm)}")
        if not reasons:
            continue
        out.append(
            error(
                "SNV422",
                f"client '{client_id}' changes mode from {before.mode} to {node.mode}, but {base_name} has "
                f"{' and '.join(reasons)}: the mode may change only when there is none. In two steps: "
                "first remove the equipment and clear crm_ref, deploy; then change the mode",
                node.obj.doc.loc("mode"),
                rule="M3",
            )
        )
    return out
