"""Service and equipment templates: types, overrides, duplicates (T1-T4, T6-T9).

A service template's values at a node, for a scope top (T3): start from the template's
own fields (for a duplicate, T7, from its source as a partner user sees it at the
duplicate's node, then the duplicate's own fields); then each override on
path(top -> node), highest first, replaces the fields it sets (T3, T6). What you can
see is what you get: an override outside the configuring user's scope never applies.
Results are cached per (template, top, node).
"""

from __future__ import annotations

from functools import lru_cache

from ..model import OVERRIDABLE, TEMPLATE_DEFAULTS
from ..tree import Node, equipment_template_services, object_key
from .context import Context, Origin, origin
from .scope import cut_point, out_of_scope_hint

# field -> (value, origin)
Values = dict[str, tuple[object, Origin]]


class Templates:
    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.resolve = lru_cache(maxsize=None)(self._resolve)
        self._base = lru_cache(maxsize=None)(self._base_values)
        self._owns: dict[int, Values] = {}  # id(template or override) -> its own fields

    def _own(self, obj) -> Values:
        """The fields a template or an override sets itself, with their origins."""
        own = self._owns.get(id(obj))
        if own is None:
            tree = self.ctx.tree
            own = {
                f: (getattr(obj, f), origin(tree, obj, f))
                for f in OVERRIDABLE
                if getattr(obj, f) is not None
            }
            if obj.kind == "ServiceTemplate":  # S3/I1: defaults of its services
                for f in TEMPLATE_DEFAULTS:
                    value = getattr(obj, f)
                    if value is not None:
                        if f == "thresholds":
                            value = value.model_dump(exclude_none=True) or None
                        if value is not None:
                            own[f] = (value, origin(tree, obj, f))
            self._owns[id(obj)] = own
        return own

    def inputs(
        self, template_id: str, top: Node, node: Node, seen: frozenset = frozenset()
    ) -> list[str]:
        """The input objects a template's values at ``node`` depend on: the template, its
        duplicate sources (T7) and the overrides in scope (T3), as ``label/ID`` keys."""
        tree = self.ctx.tree
        template = tree.get("ServiceTemplate", template_id)
        if template is None or template_id in seen:
            return []
        keys = [object_key(template)]
        if template.duplicate_of is not None:
            tnode = tree.node_of(template)
            keys += self.inputs(
                template.duplicate_of, cut_point(tnode), tnode, seen | {template_id}
            )
        keys += [object_key(ov) for ov in self.ctx.scope.overrides_in_scope(template_id, top, node)]
        return keys

    def _base_values(self, template_id: str) -> Values:
        """A template before overrides: its own fields over its duplicate source (T7)."""
        return self.values(template_id, None, None, None, frozenset())

    def _resolve(self, template_id: str, top: Node, node: Node) -> Values:
        out = dict(self._base(template_id))
        for ov in self.ctx.scope.overrides_in_scope(template_id, top, node):
            out.update(self._own(ov))
        return out

    def values(
        self, template_id: str, top: Node, node: Node, trace: list | None, seen: frozenset
    ) -> Values:
        """T3/T6/T7: the resolved fields of a service template at ``node`` for ``top``
        (``node`` None: the template before any override).

        With ``trace``, appends the steps (base, duplicate source, overrides applied or
        out of scope) for ``explain``. The build uses the cached :attr:`resolve`.
        """
        tree = self.ctx.tree
        template = tree.get("ServiceTemplate", template_id)
        if template is None or template_id in seen:
            return {}
        tnode = tree.node_of(template)
        out: Values = {}
        if template.duplicate_of is not None:
            # T7: the source as a partner user sees it at the duplicate's node
            src_top = cut_point(tnode)
            if trace is not None:
                trace.append(
                    {
                        "step": "duplicate",
                        "node": tnode.id,
                        "why": f"'{template_id}' duplicates '{template.duplicate_of}': starts from it as seen "
                        f"at '{tnode.id}' by a partner user (T7)",
                    }
                )
            out.update(
                self.values(template.duplicate_of, src_top, tnode, trace, seen | {template_id})
            )
        own = self._own(template)
        out.update(own)
        if node is None:
            return out
        if trace is not None:
            trace.append(
                {
                    "step": "template",
                    "node": tnode.id,
                    "template": template_id,
                    "sets": sorted(own),
                    "file": template.doc.file,
                    "line": template.doc.line,
                }
            )
        by_at = tree.overrides.get(template_id, {})
        if trace is not None:
            in_scope = {n.id for n in node.path[top.depth :]}
            depth = {n.id: i for i, n in enumerate(node.path)}
            for at, ov in sorted(by_at.items(), key=lambda kv: (depth.get(kv[0], 99), kv[0])):
                if at not in in_scope:
                    trace.append(
                        {
                            "step": "override",
                            "node": at,
                            "result": "skipped",
                            "why": _outside_why(tree.nodes.get(at), top, node),
                            "file": ov.doc.file,
                            "line": ov.doc.line,
                        }
                    )
        for ov in self.ctx.scope.overrides_in_scope(template_id, top, node):
            sets = list(self._own(ov))
            out.update(self._own(ov))
            if trace is not None:
                trace.append(
                    {
                        "step": "override",
                        "node": ov.at,
                        "result": "applied",
                        "sets": sets,
                        "file": ov.doc.file,
                        "line": ov.doc.line,
                    }
                )
        return out

    def type_at(self, kind: str, template, top: Node, node: Node) -> tuple[str, Node]:
        """T1: the type of a template listed at ``node`` and the node that defines it
        (for an overridden template, its deepest override in scope)."""
        tree = self.ctx.tree
        tnode = tree.node_of(template)
        overrides = (
            self.ctx.scope.overrides_in_scope(template.id, top, node)
            if kind == "ServiceTemplate"
            else []
        )
        if overrides:
            deepest = tree.nodes[overrides[-1].at]
            return ("OVERRIDDEN" if deepest is node else "INHERITED"), deepest
        if tnode is node:
            return "CREATED", tnode
        if tnode.kind == "product":
            return "PRODUCT", tnode
        return "INHERITED", tnode


def _outside_why(at: Node | None, top: Node, node: Node) -> str:
    if at is None:
        return "outside the tree"
    if not at.is_ancestor_or_self(node):
        return f"'{at.id}' is not on the path to '{node.id}' (V4)"
    if at.kind == "partner" and node.mode == "resale":
        return "the client is in resale mode, the partner's overrides do not reach it (V2, T3)"
    return f"'{at.id}' is above the top of the configuring user's scope, '{top.id}' (V2, T3)"


def check_configurers(ctx: Context) -> None:
    """V1/V1a for templates and overrides: their configuring user must be able to
    configure at their node, with create_templates."""
    tree, scope = ctx.tree, ctx.scope
    objects = [
        t
        for kind in ("ServiceTemplate", "EquipmentTemplate")
        for t in tree.objects.get(kind, {}).values()
    ]
    objects += [o for by_at in tree.overrides.values() for o in by_at.values()]
    for obj in objects:
        node = tree.node_of(obj)
        user = scope.user(tree.configurer(obj))
        if node.kind == "product" or user is None or tree.get("Role", user.role) is None:
            continue  # the catalogue; or no user or role, reported by the tree stage
        problem = scope.configure_problem(user, node, "create_templates")
        if problem is not None:
            rule, message = problem
            via = "" if obj.configured_by else " (the project's default_user)"
            path = ("configured_by",) if obj.configured_by else ("at",)
            ctx.error("SNV401" if rule == "V1" else "SNV402", rule, message + via, obj, *path)


def check_templates(ctx: Context) -> None:
    """T2, T7, T9 and template periods, each from a partner user's view of the node."""
    check_configurers(ctx)
    tree, scope = ctx.tree, ctx.scope
    for by_at in tree.overrides.values():
        for ov in by_at.values():
            node = tree.nodes.get(ov.at)
            if node is None or tree.get("ServiceTemplate", ov.template) is None:
                continue
            if ov.template not in scope.partner_selectable("ServiceTemplate", node):
                ctx.error(
                    "SNV414",
                    "T2",
                    f"service template '{ov.template}' is not visible at '{node.id}', so it cannot be "
                    f"overridden there{out_of_scope_hint(tree, _at(tree, 'ServiceTemplate', ov.template), node)}; "
                    f"visible: {_names(scope.partner_selectable('ServiceTemplate', node))}",
                    ov,
                    "template",
                )
            _check_periods(ctx, ov, node)
    for kind in ("ServiceTemplate", "EquipmentTemplate"):
        for template in tree.objects.get(kind, {}).values():
            node = tree.node_of(template)
            if node.kind == "product":
                continue
            if (
                template.duplicate_of is not None
                and tree.get(kind, template.duplicate_of) is not None
            ):
                visible = scope.partner_selectable(kind, node)
                if template.duplicate_of not in visible:
                    ctx.error(
                        "SNV417",
                        "T7",
                        f"{kind} '{template.id}' duplicates '{template.duplicate_of}', which is not visible at "
                        f"'{node.id}'{out_of_scope_hint(tree, _at(tree, kind, template.duplicate_of), node)}; "
                        f"visible: {_names(visible, template.id)}",
                        template,
                        "duplicate_of",
                    )
            if kind == "ServiceTemplate":
                _check_periods(ctx, template, node)
            elif template.services:
                visible = scope.partner_selectable("ServiceTemplate", node)
                for i, sid in enumerate(template.services):
                    if tree.get("ServiceTemplate", sid) is not None and sid not in visible:
                        ctx.error(
                            "SNV416",
                            "T9",
                            f"service template '{sid}' is not selectable at '{node.id}', where equipment "
                            f"template '{template.id}' is defined; selectable: {_names(visible)}",
                            template,
                            "services",
                            i,
                        )


def _check_periods(ctx: Context, obj, node: Node) -> None:
    visible = ctx.scope.partner_selectable("TimePeriod", node)
    for f in ("check_period", "availability_period"):
        pid = getattr(obj, f)
        if pid is not None and ctx.tree.get("TimePeriod", pid) is not None and pid not in visible:
            ctx.error(
                "SNV419",
                "P7",
                f"time period '{pid}' is not selectable at '{node.id}'; selectable: {_names(visible)}",
                obj,
                f,
            )


def unit_service_specs(ctx: Context, equipment) -> list[tuple[str, str, object | None, tuple]]:
    """T9: ``(name, template ID, explicit service or None, path)`` of every unit service:
    the equipment template's first (named after their template), then its own."""
    out = [
        (tid, tid, None, path)
        for i, t in enumerate(equipment.template_ids)
        for path in (equipment.template_path(i),)
        for tid in template_services(ctx, t)
    ]
    for i, s in enumerate(equipment.services):
        out.append((s.name or s.template, s.template, s, ("services", i)))
    return out


def template_services(ctx: Context, template_id: str | None) -> tuple[str, ...]:
    cache = ctx.cache.setdefault("template_services", {})
    found = cache.get(template_id)
    if found is None:
        found = cache[template_id] = tuple(equipment_template_services(ctx.tree, template_id))
    return found


def _names(table, but: str | None = None) -> str:
    return ", ".join(sorted(i for i in table if i != but)) or "none"


def _at(tree, kind: str, ident: str) -> str:
    obj = tree.get(kind, ident)
    return (getattr(obj, "at", None) or "product") if obj is not None else "product"
