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
        self._bases: dict[str, Values] = {}  # template ID -> its values before overrides
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

    def chain(self, template_id: str) -> list:
        """The template and its duplicate sources (T7), nearest first. The walk stops at
        a missing source or at one already on it (a ``duplicate_of`` cycle, reported by
        the tree stage as SNV304). Iterative: a chain of any length."""
        table = self.ctx.tree.objects.get("ServiceTemplate", {})
        out, seen = [], set()
        cur = table.get(template_id)
        while cur is not None and cur.id not in seen:
            out.append(cur)
            seen.add(cur.id)
            cur = table.get(cur.duplicate_of) if cur.duplicate_of is not None else None
        return out

    def _viewpoints(self, chain: list, top: Node | None, node: Node | None) -> list:
        """Where each template of ``chain`` is seen from: the first from (top, node),
        each source by a partner user at the node of the duplicate that copies it (T7)."""
        out = [(top, node)]
        for dup in chain[:-1]:
            tnode = self.ctx.tree.node_of(dup)
            out.append((cut_point(tnode), tnode))
        return out

    def inputs(self, template_id: str, top: Node, node: Node) -> list[str]:
        """The input objects a template's values at ``node`` depend on: the template, its
        duplicate sources (T7) and the overrides in scope (T3), as ``label/ID`` keys."""
        chain = self.chain(template_id)
        keys = [object_key(t) for t in chain]
        views = self._viewpoints(chain, top, node)
        for t, (t_top, t_node) in reversed(list(zip(chain, views, strict=True))):
            keys += [
                object_key(ov) for ov in self.ctx.scope.overrides_in_scope(t.id, t_top, t_node)
            ]
        return keys

    def _base(self, template_id: str) -> Values:
        """A template before overrides: its own fields over its duplicate source as a
        partner user sees it at the duplicate's node (T7).

        Memoised per template and built from the far end of the chain, each base once:
        linear in the length of the chain, with no recursion. The members of a
        ``duplicate_of`` cycle (an error, SNV304) start from their own fields only.
        """
        found = self._bases.get(template_id)
        if found is not None:
            return found
        chain = self.chain(template_id)
        if not chain:
            return {}
        for i, t in enumerate(chain):
            if t.id in self._bases:
                chain = chain[: i + 1]
                break
        else:
            last = chain[-1]
            ids = [t.id for t in chain]
            start = ids.index(last.duplicate_of) if last.duplicate_of in ids else len(chain) - 1
            for t in chain[start:]:
                self._bases[t.id] = dict(self._own(t))
            chain = chain[: start + 1]
        views = self._viewpoints(chain, None, None)
        out = self._bases[chain[-1].id]
        for i in range(len(chain) - 2, -1, -1):
            src_top, src_node = views[i + 1]
            out = dict(out)
            for ov in self.ctx.scope.overrides_in_scope(chain[i + 1].id, src_top, src_node):
                out.update(self._own(ov))
            out.update(self._own(chain[i]))
            self._bases[chain[i].id] = out
        return out

    def _resolve(self, template_id: str, top: Node, node: Node) -> Values:
        out = dict(self._base(template_id))
        for ov in self.ctx.scope.overrides_in_scope(template_id, top, node):
            out.update(self._own(ov))
        return out

    def values(self, template_id: str, top: Node, node: Node | None, trace: list | None) -> Values:
        """T3/T6/T7: the resolved fields of a service template at ``node`` for ``top``
        (``node`` None: the template before any override).

        With ``trace``, appends the steps (base, duplicate source, overrides applied or
        out of scope) for ``explain``. The build uses the cached :attr:`resolve`.
        Iterative over the duplicate chain (:meth:`chain`), farthest source first.
        """
        tree = self.ctx.tree
        chain = self.chain(template_id)
        if trace is not None:
            for t in chain:
                if t.duplicate_of is not None:
                    trace.append(
                        {
                            "step": "duplicate",
                            "node": tree.node_of(t).id,
                            "why": f"'{t.id}' duplicates '{t.duplicate_of}': starts from it as seen "
                            f"at '{tree.node_of(t).id}' by a partner user (T7)",
                        }
                    )
        out: Values = {}
        views = self._viewpoints(chain, top, node)
        for template, (t_top, t_node) in reversed(list(zip(chain, views, strict=True))):
            own = self._own(template)
            out.update(own)
            if t_node is not None:
                self._apply_overrides(template, own, t_top, t_node, out, trace)
        return out

    def _apply_overrides(self, template, own, top: Node, node: Node, out: Values, trace) -> None:
        tree = self.ctx.tree
        if trace is not None:
            trace.append(
                {
                    "step": "template",
                    "node": tree.node_of(template).id,
                    "template": template.id,
                    "sets": sorted(own),
                    "file": template.doc.file,
                    "line": template.doc.line,
                }
            )
            by_at = tree.overrides.get(template.id, {})
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
        for ov in self.ctx.scope.overrides_in_scope(template.id, top, node):
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
    return tuple(
        equipment_template_services(
            ctx.tree, template_id, ctx.cache.setdefault("template_services", {})
        )
    )


def _names(table, but: str | None = None) -> str:
    return ", ".join(sorted(i for i in table if i != but)) or "none"


def _at(tree, kind: str, ident: str) -> str:
    obj = tree.get(kind, ident)
    return (getattr(obj, "at", None) or "product") if obj is not None else "product"
