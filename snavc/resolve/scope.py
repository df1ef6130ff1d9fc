"""Who sees what: the scope of a user at a node (rules V1, V1a, V2, V3, V4, V6, V7).

Every rule that asks "may this be selected here?" (contacts, groups, periods, templates,
monitoring accounts; boxes add B1-B3 in :mod:`.boxes`) goes through :class:`Scope`, so the
kinds cannot drift apart. Results are cached per (top, node): a 100k-equipment estate
has few distinct pairs, so the walks are done once per node and user home, not once per
object.
"""

from __future__ import annotations

from functools import lru_cache

from ..model import Obj
from ..names import ACTIONS, KIND_NAMES  # noqa: F401 - (re-exported: query, rules)
from ..tree import PRODUCT, Node, Tree

# V3/P1: these kinds also offer the product's shipped objects; the others have none.
WITH_PRODUCT = frozenset({"TimePeriod", "ServiceTemplate", "EquipmentTemplate"})


def cut_point(node: Node) -> Node:
    """V2: the highest node a partner user sees from ``node``.

    The partner for a node under a managed client (and for the partner itself); the
    client (``company(node)``) under a resale client: the partner does not monitor it.
    """
    if node.kind in ("product", "partner"):
        return node
    return node.partner if node.mode == "managed" else node.company


def scope_top(home: Node, node: Node) -> Node:
    """V2: the top of the scope of a user whose home is ``home``, at ``node``.

    The deeper of the user's home and the cut point. ``home`` must be ``node`` or one
    of its ancestors (V1); callers check that first.
    """
    cut = cut_point(node)
    return home if home.depth >= cut.depth else cut


def scope_path(top: Node, node: Node) -> tuple[Node, ...]:
    """N3: path(top -> node), both included."""
    return node.path[top.depth :]


class Scope:
    """Scope computations over one tree, cached (V1-V4, V6, V7)."""

    def __init__(self, tree: Tree):
        self.tree = tree
        # kind -> node ID -> objects defined there ("product" for the catalogue)
        self.defined_at: dict[str, dict[str, list[Obj]]] = {}
        for kind, table in tree.objects.items():
            if kind in ("Partner", "Client", "Site", "User", "Role", "Equipment", "UserService"):
                continue
            if hasattr(table, "by_node"):  # a snapshot's lazy table (snavc.engine.cache)
                self.defined_at[kind] = table.by_node()
                continue
            by_node = self.defined_at.setdefault(kind, {})
            for obj in table.values():
                at = getattr(obj, "at", None) or PRODUCT
                by_node.setdefault(at, []).append(obj)
        self.selectable = lru_cache(maxsize=None)(self._selectable)
        self.top = lru_cache(maxsize=None)(scope_top)

    # -- users -------------------------------------------------------------------------

    def user(self, user_id: str | None):
        return self.tree.get("User", user_id) if user_id else None

    def home(self, user) -> Node | None:
        return self.tree.nodes.get(user.at) if user is not None else None

    def permissions(self, user) -> frozenset[str]:
        role = self.tree.get("Role", user.role) if user is not None else None
        return frozenset(role.permissions) if role is not None else frozenset()

    def configure_problem(self, user, node: Node, permission: str) -> tuple[str, str] | None:
        """V1: why ``user`` may not configure at ``node`` with ``permission``, or None.

        Returns ``(rule, message)``.
        """
        home = self.home(user)
        if home is None:
            return "V1", f"user '{user.id}' has no home node in the tree"
        if not home.is_ancestor_or_self(node):
            return (
                "V1",
                f"user '{user.id}' (home '{home.id}') cannot configure at '{node.id}': "
                f"a user configures only at their home node or below it",
            )
        if permission not in self.permissions(user):
            return (
                "V1a",
                f"user '{user.id}' has role '{user.role}', which does not grant {permission}",
            )
        return None

    def user_top(self, user, node: Node) -> Node | None:
        """V2 for a user at a node, or None when the user may not be there (V1)."""
        home = self.home(user)
        if home is None or not home.is_ancestor_or_self(node):
            return None
        return self.top(home, node)

    # -- selectable objects ------------------------------------------------------------

    def _selectable(self, kind: str, top: Node, node: Node) -> dict[str, Obj]:
        """V3/V4: ID -> object of ``kind`` defined on path(top -> node), plus the product's
        own (P1) for periods and templates. Nothing of a sibling branch or below ``node``.
        """
        by_node = self.defined_at.get(kind, {})
        out: dict[str, Obj] = {}
        if kind in WITH_PRODUCT:
            for obj in by_node.get(PRODUCT, ()):
                out[obj.id] = obj
        for n in scope_path(top, node):
            for obj in by_node.get(n.id, ()):
                out[obj.id] = obj
        return out

    def partner_top(self, node: Node) -> Node:
        """The top of a partner user's scope at ``node`` (C4, T2, T7, T9 decisions)."""
        return cut_point(node)

    def partner_selectable(self, kind: str, node: Node) -> dict[str, Obj]:
        return self.selectable(kind, cut_point(node), node)

    def overrides_in_scope(self, template_id: str, top: Node, node: Node) -> list[Obj]:
        """T3: the overrides of a template on path(top -> node), highest first."""
        by_at = self.tree.overrides.get(template_id)
        if not by_at:
            return []
        return [by_at[n.id] for n in scope_path(top, node) if n.id in by_at]

    def editor(self, defined_at: Node, asking_home: Node | None) -> str:
        """T8/P8: display name of the defining node; product objects show a section
        title that depends on who asks (vendor for partner users, partner for clients)."""
        if defined_at.kind != "product":
            return defined_at.name
        if asking_home is None or asking_home.kind in ("partner", "product"):
            return self.tree.project.vendor_name
        return asking_home.partner.name


def out_of_scope_hint(tree: Tree, defined_at: str, node: Node) -> str:
    """Why something defined at ``defined_at`` is out of reach at ``node``, when the
    reason is the resale cut (V2): partner objects never reach a resale client."""
    at = tree.nodes.get(defined_at)
    if at is not None and at.kind == "partner" and node.mode == "resale":
        return " (partner objects are not visible under a resale client, V2/V7)"
    return ""


def enabled_ids(table: dict[str, Obj]) -> str:
    """The selectable IDs of a table, for messages: disabled contacts are not (C1)."""
    return ", ".join(sorted(i for i, o in table.items() if getattr(o, "enabled", True))) or "none"
