"""Equipment, unit services and user services: every rule applied to each (V1, V3, V6,
B1-B3, C1-C3, P3-P7, T3, T9, E1, U1), giving their effective configuration.

Each object is resolved from the point of view of the user who configures it
(``configured_by``, else ``Project.default_user``): that user's scope decides what may be
selected, which defaults apply and which overrides reach it.
"""

from __future__ import annotations

from functools import lru_cache
from itertools import islice

from ..model import ASPECTS, OVERRIDABLE, TEMPLATE_DEFAULTS
from ..tree import Node, equipment_template_field, services_unknown
from ..validate import did_you_mean
from .boxes import box_problem
from .contacts import check_notification
from .context import Context
from .coverage import Coverage
from .lock import LockState
from .locks import out_of_reach, service_refs
from .periods import DefaultWalk, check_explicit
from .scope import ACTIONS, enabled_ids, out_of_scope_hint
from .templates import Templates, template_services, unit_service_specs

SERVICE_FIELDS = (*OVERRIDABLE, "notification_period")
# fields of a unit service set on it only (never by a template): S1-S3, H7
SERVICE_OWN = ("servicenav_id", "labels")
# host-level values of an equipment (H-rules), emitted as they are set
OVERRIDABLE_HOST = ("criticality", "availability_target", "check_interval")
HOST_FIELDS = ("servicenav_id", "address", "category", "function", *OVERRIDABLE_HOST)


class Resolver:
    """Resolves equipment and user services over one tree."""

    def __init__(
        self, ctx: Context, walk: DefaultWalk, templates: Templates, lock: LockState | None = None
    ):
        self.ctx = ctx
        self.lock = lock
        self.walk = walk
        self.templates = templates
        self._services: dict[tuple, dict] = {}  # (template, top, node) -> base
        self._by_signature: dict[tuple, dict] = {}  # what a base's values depend on -> base
        self._blocks: dict[tuple, tuple | None] = {}
        # a unit service's values -> (kind, ID, node) of what it refers to (L5)
        self._reach: dict[tuple, tuple] = {}
        self.equipment_count = 0  # resolved so far (a build does not keep them)
        self.unit_service_count = 0
        # origin key -> field -> [node, file, line], for every shared unit service base
        self.origins: dict[str, dict] = {}
        self.default_origin = lru_cache(maxsize=None)(self._default_origin)
        # "equipment/ID" or "user-service/ID" -> field path -> [node, file, line] of every
        # value set on the object itself (the rest of provenance is in `origins`)
        self.explicit_origins: dict[str, dict[str, list]] = {}
        # equipment ID -> its node, for the parents of a build that consumes the tree (H5)
        self.parent_at: dict[str, str] = {}
        self.coverage = Coverage(ctx.tree)  # H8, per (check, availability) pair

    # -- shards (snavc.engine.shards) ----------------------------------------------------

    def mark(self) -> tuple[int, int, int, int]:
        """Where this resolver's records stand, for :meth:`records_since`."""
        return (
            len(self.origins),
            len(self.explicit_origins),
            self.equipment_count,
            self.unit_service_count,
        )

    def records_since(self, mark: tuple[int, int, int, int]) -> tuple:
        """What this resolver recorded since :meth:`mark` (plain data): what a shard of
        the equipment, resolved in another process, hands back. Records are only ever
        added (an origin key or an object's explicit origins are made once), so they are
        the entries after the mark's counts."""
        origins, explicit, equipment, services = mark
        return (
            list(islice(self.origins.items(), origins, None)),
            list(islice(self.explicit_origins.items(), explicit, None)),
            self.equipment_count - equipment,
            self.unit_service_count - services,
        )

    def absorb(self, records: tuple) -> None:
        """Take in what a shard recorded (:meth:`records_since`), resolved after what
        this resolver did: the records are then those of one process resolving both,
        in the same order."""
        origins, explicit, equipment, services = records
        for okey, where in origins:
            self.origins.setdefault(okey, where)  # the same base made on both sides
        self.explicit_origins.update(explicit)
        self.equipment_count += equipment
        self.unit_service_count += services

    # -- shared steps ------------------------------------------------------------------

    def configurer(self, obj, permissions: list[str]):
        """V1/V1a: the configuring user, their home and scope top, or None (reported)."""
        ctx = self.ctx
        user_id = ctx.tree.configurer(obj)
        user = ctx.scope.user(user_id)
        node = ctx.tree.nodes.get(obj.at)
        if user is None or node is None or ctx.tree.get("Role", user.role) is None:
            return None  # missing or dangling user, node or role: reported by the tree stage
        path = ("configured_by",) if obj.configured_by else ("at",)
        for permission in permissions:
            problem = ctx.scope.configure_problem(user, node, permission)
            if problem is not None:
                rule, message = problem
                via = "" if obj.configured_by else " (the project's default_user)"
                ctx.error("SNV401" if rule == "V1" else "SNV402", rule, message + via, obj, *path)
                return None
        home = ctx.scope.home(user)
        return user, home, ctx.scope.top(home, node), node

    def periods(self, obj, top: Node, node: Node, who: str) -> dict | None:
        """P3-P5, P7: each aspect explicit (and selectable) or from the default walk."""
        out = {}
        ok = True
        for aspect in ASPECTS:
            explicit = getattr(obj.periods, aspect)
            if explicit is not None:
                check_explicit(self.ctx, obj, ("periods", aspect), explicit, top, node, who)
                loc = obj.doc.loc("periods", aspect)
                key = f"{'equipment' if obj.kind == 'Equipment' else 'user-service'}/{obj.id}"
                self.explicit_origins.setdefault(key, {})[f"periods.{aspect}"] = [
                    node.id,
                    loc.file,
                    loc.line,
                ]
                out[aspect] = {"id": explicit, "from": "explicit"}
                continue
            found = self.walk.find(aspect, top, node)
            if found is None:
                ok = False
                self.ctx.error(
                    "SNV408",
                    "P5",
                    f"no {aspect} period for {obj.kind} '{obj.id}': none set, no default from '{node.id}' up "
                    f"to '{top.id}', none in the product; set periods.{aspect} or define a default",
                    obj,
                    "id",
                )
                continue
            out[aspect] = {"id": found[0], "from": found[1]}
        return out if ok else None

    def _default_origin(self, found: tuple[str, str]) -> tuple[str, str, int | None]:
        """(node, file, line) of the default a walk found: its ``default_for``."""
        pid, src = found
        loc = self.ctx.tree.get("TimePeriod", pid).doc.loc("default_for")
        return (src, loc.file, loc.line)

    def selectable_ref(
        self, obj, path, kind: str, ident: str, top: Node, node: Node, rule: str, who: str
    ) -> None:
        """V3/V4 for one reference."""
        visible = self.ctx.scope.selectable(kind, top, node)
        if ident in visible or self.ctx.tree.get(kind, ident) is None:
            return
        target = self.ctx.tree.get(kind, ident)
        at = getattr(target, "at", None) or "product"
        hint = out_of_scope_hint(self.ctx.tree, at, node)
        self.ctx.error(
            "SNV403",
            rule,
            f"{kind} '{ident}' (defined at '{at}') is not selectable at '{node.id}' for {who}{hint}; "
            f"selectable: {enabled_ids(visible)}",
            obj,
            *path,
        )

    # -- equipment ---------------------------------------------------------------------

    def equipment(self, eq, boxes) -> dict | None:
        ctx = self.ctx
        needs = [ACTIONS["equipment"]] + ([ACTIONS["services"]] if eq.services else [])
        found = self.configurer(eq, needs)
        if found is None:
            return None
        user, home, top, node = found
        who = f"user '{user.id}'"
        errors_before = len(ctx.diagnostics)
        template_ids = eq.template_ids
        for i, tid in enumerate(template_ids):
            self.selectable_ref(
                eq, eq.template_path(i), "EquipmentTemplate", tid, top, node, "V3", who
            )
        if eq.category is not None and template_ids:
            self._check_categories(eq, template_ids)
        box = ctx.tree.get("Box", eq.box)
        if box is not None:
            problem = box_problem(ctx, box, home, node)
            if problem is not None:
                code, rule, message = problem
                allowed = boxes.eligible(home, node)
                ctx.error(
                    code,
                    rule,
                    f"{message}; boxes {user.id} may pick at '{node.id}': {', '.join(allowed) or 'none'}",
                    eq,
                    "box",
                )
        for i, account in enumerate(eq.accounts):
            self.selectable_ref(
                eq, ("accounts", i), "MonitoringAccount", account, top, node, "E1", who
            )
        if eq.parents:
            self._check_parents(eq, top, node, who)
        for i, label in enumerate(eq.labels):
            self.selectable_ref(eq, ("labels", i), "Label", label, top, node, "H7", who)
        check_notification(ctx, eq, top, node, who)
        periods = self.periods(eq, top, node, who)
        if periods is not None:
            self._check_coverage(eq, periods)
        services = self.unit_services(eq, top, node, who)
        self.equipment_count += 1
        self.unit_service_count += len(services)
        instructions = eq.instructions
        if instructions is None and template_ids:
            instructions = self._template_instructions(eq, template_ids, node)
        elif instructions is not None:
            self._explicit(eq, node, "instructions", ("instructions",))
        for f in HOST_FIELDS:
            if f != "address" and getattr(eq, f) is not None:  # (address: as before)
                self._explicit(eq, node, f, (f,))
        out = {
            "at": eq.at,
            "name": eq.name,
            "address": eq.address,
            "box": eq.box,
            "configured_by": user.id,
            "template": template_ids[0] if template_ids else None,
            "accounts": sorted(set(eq.accounts)),
            "periods": periods,
            "notification": _notification(eq),
            "services": services,
        }
        # the fields of the H-rules appear only when set: a build of an estate that
        # uses none of them is byte for byte what it was (and `diff` shows no change)
        if len(template_ids) > 1:
            out["templates"] = list(template_ids)
        for f in ("servicenav_id", "category", "function", *OVERRIDABLE_HOST):
            v = getattr(eq, f)
            if v is not None:
                out[f] = v
        if eq.parents:
            out["parents"] = list(dict.fromkeys(eq.parents))
        if eq.labels:
            out["labels"] = sorted(set(eq.labels))
        if instructions is not None:
            out["instructions"] = instructions
        if not any(d.severity == "error" for d in ctx.diagnostics[errors_before:]):
            self.check_creator_can_edit(eq, services, user, home, top, node)
        return out

    def _check_coverage(self, eq, periods: dict) -> None:
        """H8: the check period equals or covers the availability period (per weekday,
        exceptions aside; one computation per pair of IDs, :class:`.coverage.Coverage`)."""
        if periods["availability"]["from"] == "product":  # nobody chose it: the product's
            return  # defaults themselves (business-hours, 24x7) do not cover (hosts.md, H8)
        check, availability = periods["check"]["id"], periods["availability"]["id"]
        gaps = self.coverage.gaps(check, availability)
        if not gaps:
            return
        related = []
        for aspect, pid in (("check", check), ("availability", availability)):
            found = periods[aspect]["from"]
            target = self.ctx.tree.get("TimePeriod", pid)
            if found == "explicit":
                related.append(
                    eq.doc.loc(
                        "periods", aspect, message=f"the {aspect} period '{pid}' is set here"
                    )
                )
            elif target.at is None:
                related.append(
                    target.doc.loc(message=f"the {aspect} period '{pid}' is the product's default")
                )
            else:
                note = f"the {aspect} period '{pid}' is the {aspect} default at '{found}'"
                related.append(target.doc.loc("default_for", message=note))
        shown = ", ".join(gaps[:3]) + (f" (and {len(gaps) - 3} more)" if len(gaps) > 3 else "")
        self.ctx.warning(
            "SNV448",
            "H8",
            f"the check period '{check}' of equipment '{eq.id}' does not cover its availability "
            f"period '{availability}': not checked {shown}; the control slot must equal or cover "
            "the availability slot. Choose a check period that covers it",
            eq,
            *next(
                (
                    ("periods", a)
                    for a in ("check", "availability")
                    if periods[a]["from"] == "explicit"
                ),
                ("id",),
            ),
            related=tuple(related),
        )

    def check_creator_can_edit(self, eq, services: dict, user, home, top, node) -> None:
        """L5: the configuring user should be able to edit what they create. When an
        equipment raised no error, its own references were all in the user's reach (V3,
        B1-B3, C1, P7, H5, H7; its periods from the default walk stop at the top of the
        user's scope); what a unit service takes from its template may not be: a period
        or an override a duplicated template brings (T7, seen from a partner's view).
        Each unit service with such a value gets a warning at its entry, naming the value
        and where it is defined; ``query can-edit`` would answer no with the same reasons
        (L1, :func:`.locks.out_of_reach`). What a service refers to is memoised per
        values (unit services share them); the test per service is then a few ancestor
        checks."""
        tree = self.ctx.tree
        out: dict[str, tuple] = {}
        depth, node_path = top.depth, node.path
        for name, s in services.items():
            key = (
                s["template"],
                s.get("origin"),
                s["check_period"],
                s["availability_period"],
                s["notification_period"],
                tuple(s.get("labels", ())),
            )
            refs = self._reach.get(key)
            if refs is None:
                refs = self._reach[key] = self._service_ref_nodes(s)
            # in reach: defined on path(top -> node) (or in the product, L2: not in refs)
            for _, _, at in refs:
                if not (at.depth >= depth and node_path[at.depth] is at):
                    break
            else:
                continue
            found = tuple(
                (kind, ident, why)
                for kind, ident, _ in refs
                if (why := out_of_reach(self.ctx, user, home, top, node, kind, ident)) is not None
            )
            if found:
                out[name] = found
        if not out:
            return
        paths = {}
        for name, _, explicit, path in unit_service_specs(self.ctx, eq):
            paths.setdefault(name, path + ("template",) if explicit is not None else path)
        for service, found in out.items():
            related = []
            for kind, ident, (_, _, _, at_id) in found:
                if kind == "ServiceTemplateOverride":
                    target = tree.overrides.get(ident.partition("@")[0], {}).get(at_id)
                    note = f"the override of '{target.template}' at '{at_id}'"
                else:
                    target = tree.get(kind, ident)
                    note = f"{kind} '{ident}'"
                related.append(target.doc.loc(message=f"{note} is defined here"))
            reasons = "; ".join(m.replace("'{label}'", "it") for _, _, (_, m, _, _) in found)
            self.ctx.warning(
                "SNV425",
                "L5",
                f"user '{user.id}' configures unit service '{eq.id}/{service}' but could not edit it "
                f"afterwards: {reasons}. Have a user who can select these configure it, or use a "
                f"template that brings nothing from above '{home.id}'",
                eq,
                *paths.get(service, ("id",)),
                related=tuple(related),
            )

    def _service_ref_nodes(self, service: dict) -> tuple:
        """``(kind, ID, node)`` of what a unit service refers to (L1), product objects and
        unknown IDs left out (they never lock)."""
        tree = self.ctx.tree
        out = []
        for kind, ident in dict.fromkeys(service_refs(service, self.origins)):
            if kind == "ServiceTemplateOverride":
                template, _, at_id = ident.partition("@")
                target = tree.overrides.get(template, {}).get(at_id)
            else:
                target = tree.get(kind, ident)
            if target is not None and (at := tree.node_of(target)).kind != "product":
                out.append((kind, ident, at))
        return tuple(out)

    def _explicit(self, obj, node: Node, path: str, at: tuple) -> None:
        """Record where a value set on the object itself is written (origins.json)."""
        loc = obj.doc.loc(*at)
        key = f"{'equipment' if obj.kind == 'Equipment' else 'user-service'}/{obj.id}"
        self.explicit_origins.setdefault(key, {})[path] = [node.id, loc.file, loc.line]

    def _template_instructions(self, eq, template_ids, node: Node):
        """I1: an equipment without instructions takes its first template's that has one."""
        for tid in template_ids:
            value, tmpl = equipment_template_field(self.ctx.tree, tid, "instructions")
            if value is not None:
                loc = tmpl.doc.loc("instructions")
                where = self.ctx.tree.node_of(tmpl).id
                self.explicit_origins.setdefault(f"equipment/{eq.id}", {})["instructions"] = [
                    where,
                    loc.file,
                    loc.line,
                ]
                return value
        return None

    def _service_accounts(self, eq, spec, path, top, node, who) -> list[str]:
        """K1: a unit service's accounts: the equipment's, each protocol the service sets
        replaced by its own (a value set lower is kept); E1: each selectable; K2: one
        account per protocol on one object."""
        tree = self.ctx.tree
        own: dict[str, int] = {}
        for i, a in enumerate(spec.accounts):
            self.selectable_ref(
                eq, path + ("accounts", i), "MonitoringAccount", a, top, node, "E1", who
            )
            acc = tree.get("MonitoringAccount", a)
            if acc is None:
                continue
            if acc.protocol in own:
                first = spec.accounts[own[acc.protocol]]
                self.ctx.error(
                    "SNV447",
                    "K2",
                    f"account '{a}' is listed twice"
                    if first == a
                    else f"accounts '{first}' and '{a}' are both {acc.protocol} accounts: a "
                    "service uses one account per protocol",
                    eq,
                    *path,
                    "accounts",
                    i,
                )
                continue
            own[acc.protocol] = i
        # the equipment's accounts of the other protocols, every one of them (an
        # equipment may hold two of one protocol: K2 is about a service)
        kept = [spec.accounts[i] for i in own.values()]
        for a in eq.accounts:
            acc = tree.get("MonitoringAccount", a)
            if acc is not None and acc.protocol not in own:
                kept.append(a)
        return sorted(set(kept))

    def _check_categories(self, eq, template_ids) -> None:
        """H3: an equipment template that lists categories is for those hosts only."""
        for i, tid in enumerate(template_ids):
            allowed, _tmpl = equipment_template_field(self.ctx.tree, tid, "categories")
            if allowed and eq.category not in allowed:
                self.ctx.error(
                    "SNV440",
                    "H3",
                    f"equipment template '{tid}' is for hosts of category {', '.join(allowed)}; "
                    f"Equipment '{eq.id}' has category '{eq.category}'",
                    eq,
                    *eq.template_path(i),
                    related=(eq.doc.loc("category", message="the host's category"),),
                )

    def _check_parents(self, eq, top: Node, node: Node, who: str) -> None:
        """H5: a parent host must be visible to the configuring user where the child is:
        defined on path(top -> node) (V3, V4, V6); H4: not the host itself."""
        tree = self.ctx.tree
        seen: set[str] = set()
        for i, pid in enumerate(eq.parents):
            if pid in seen:
                self.ctx.error(
                    "SNV441",
                    "H5",
                    f"parent '{pid}' is listed twice in Equipment '{eq.id}'",
                    eq,
                    "parents",
                    i,
                )
                continue
            seen.add(pid)
            at = self.parent_at.get(pid)
            if at is None:
                parent = tree.get("Equipment", pid)
                if parent is None:
                    continue  # dangling: reported by the tree stage
                at = parent.at
            pnode = tree.nodes.get(at)
            if pnode is None:
                continue
            if not (top.is_ancestor_or_self(pnode) and pnode.is_ancestor_or_self(node)):
                hint = out_of_scope_hint(tree, pnode.id, node)
                self.ctx.error(
                    "SNV441",
                    "H5",
                    f"parent host '{pid}' (at '{pnode.id}') is not visible at '{node.id}' for {who}{hint}: "
                    f"a parent must be defined at the host's node or above it, within '{top.id}' (V3, V4)",
                    eq,
                    "parents",
                    i,
                )

    def unit_services(self, eq, top: Node, node: Node, who: str) -> dict:
        """T9, T3, P6: every unit service of an equipment, resolved at its node.

        The services an equipment template gives are the same for every equipment made
        from it at one node by users of one scope: when they raise no problem, they are
        resolved once per (template, top, node) and shared (a "block").
        """
        out: dict[str, dict] = {}
        first_at: dict[str, tuple] = {}
        specs = unit_service_specs(self.ctx, eq)
        block = self._block(tuple(eq.template_ids), top, node)
        if block:
            for name, tid, base in block:
                out[name] = self._locked(eq, ("template",), name, tid, base)
                first_at[name] = ("template",)
            specs = specs[len(block) :]  # the template's services come first
        for name, tid, explicit, path in specs:
            self._unit_service(eq, name, tid, explicit, path, top, node, who, out, first_at)
        if eq.service_settings:
            unknown = services_unknown(self.ctx.tree, eq)
            for name, settings in eq.service_settings.items():
                path = ("service_settings", name)
                if name not in out and unknown:
                    continue  # its broken template may give it: that template's errors say why
                if name not in out:
                    self.ctx.error(
                        "SNV443",
                        "S4",
                        f"service_settings names '{name}', which is not a unit service of Equipment "
                        f"'{eq.id}' (it has {', '.join(out) or 'none'}){did_you_mean(name, out)}",
                        eq,
                        *path,
                        key=True,
                    )
                    continue
                if name in {s.name or s.template for s in eq.services}:
                    self.ctx.error(
                        "SNV443",
                        "S4",
                        f"unit service '{name}' is declared in 'services': set its values there, "
                        "not in service_settings",
                        eq,
                        *path,
                        key=True,
                    )
                    continue
                out[name] = self._settings(eq, name, out[name], settings, path, top, node, who)
        return out

    def _settings(self, eq, name, service, spec, path, top, node, who) -> dict:
        """S1-S4, H7, I1: what is set on one unit service itself (in 'services' or
        'service_settings') over what its template gives (and the lock keeps)."""
        ctx = self.ctx
        service = dict(service)
        set_here: dict[str, list] = {}

        def here(f: str, *sub) -> None:
            set_here[f"services.{name}.{f}"] = [
                node.id,
                eq.doc.file,
                eq.doc.loc(*path, f, *sub).line,
            ]

        if spec.arguments is not None:
            declared = self.templates.resolve(service["template"], top, node).get("arguments")
            declared = declared[0] if declared else {}
            args = dict(service.get("arguments") or {})
            for arg, value in spec.arguments.items():
                if arg not in declared:
                    ctx.error(
                        "SNV442",
                        "S1",
                        f"argument '{arg}' is not declared by service template '{service['template']}' "
                        f"(it declares {', '.join(sorted(declared)) or 'none'}){did_you_mean(arg, declared)}",
                        eq,
                        *path,
                        "arguments",
                        arg,
                        key=True,
                    )
                    continue
                args[arg] = value
            service["arguments"] = dict(sorted(args.items()))
            here("arguments")
        if spec.thresholds is not None:
            own = spec.thresholds.model_dump(exclude_none=True)
            if own:
                service["thresholds"] = {**(service.get("thresholds") or {}), **own}
                here("thresholds")
        if spec.instructions is not None:
            service["instructions"] = spec.instructions
            here("instructions")
        if spec.labels:
            for i, label in enumerate(spec.labels):
                self.selectable_ref(eq, path + ("labels", i), "Label", label, top, node, "H7", who)
            service["labels"] = sorted(set(spec.labels))
            here("labels")
        if spec.servicenav_id is not None:
            service["servicenav_id"] = spec.servicenav_id
            here("servicenav_id")
        if spec.accounts:
            service["accounts"] = self._service_accounts(eq, spec, path, top, node, who)
            here("accounts")
        if spec.notification is not None:
            check_notification(ctx, eq, top, node, who, spec.notification, path + ("notification",))
            service["notification"] = _notification(eq, spec.notification)
            here("notification")
        if set_here:
            fields = [p.rpartition(".")[2] for p in set_here]
            service["explicit"] = sorted({*service.get("explicit", ()), *fields})
            self.explicit_origins.setdefault(f"equipment/{eq.id}", {}).update(set_here)
        return service

    def _block(self, template_ids: tuple[str, ...], top: Node, node: Node) -> tuple | None:
        """The templates' unit services at ``node`` for ``top`` if none of them raises a
        problem (else None: each equipment then reports its own)."""
        key = (template_ids, top, node)
        if key in self._blocks:
            return self._blocks[key]
        tids = tuple(t for tid in template_ids for t in template_services(self.ctx, tid))
        visible = self.ctx.scope.selectable("ServiceTemplate", top, node)
        block: tuple | None = ()
        for tid in tids:
            if tid in visible and self.ctx.tree.get("ServiceTemplate", tid) is not None:
                base = self.service_base(tid, top, node)
                if base["notification_period"] is not None and all(tid != b[0] for b in block):
                    block += ((tid, tid, base),)
                    continue
            block = None
            break
        self._blocks[key] = block
        return block

    def _locked(self, eq, path: tuple, name: str, tid: str, service: dict) -> dict:
        """T5: the service with the values the lock keeps for it."""
        if self.lock is None:
            return service
        service = self.lock.apply(f"{eq.id}/{name}", tid, service, service)
        if "locked" in service:
            self._check_locked(eq, path, name, service)
        return service

    def _unit_service(self, eq, name, tid, explicit, path, top, node, who, out, first_at) -> None:
        ctx = self.ctx
        if name in out:
            ctx.error(
                "SNV415",
                "T9",
                f"two unit services named '{name}' on equipment '{eq.id}': give one a distinct 'name'",
                eq,
                *path,
                related=(eq.doc.loc(*first_at[name], message="first unit service of that name"),),
            )
            return
        first_at[name] = path
        if ctx.tree.get("ServiceTemplate", tid) is None:
            return  # dangling: reported by the tree stage
        tpath = path + ("template",) if explicit is not None else path
        self.selectable_ref(eq, tpath, "ServiceTemplate", tid, top, node, "V6", who)
        service = self._locked(eq, path, name, tid, self.service_base(tid, top, node))
        if explicit is not None:
            service = dict(service)
            set_here = {}
            for f in SERVICE_FIELDS:
                v = getattr(explicit, f)
                if v is not None:
                    if f.endswith("_period"):
                        check_explicit(ctx, eq, path + (f,), v, top, node, who)
                    service[f] = v
                    set_here[f"services.{name}.{f}"] = [
                        node.id,
                        eq.doc.file,
                        eq.doc.loc(*path, f).line,
                    ]
            if set_here:
                service["explicit"] = sorted(p.rpartition(".")[2] for p in set_here)
                self.explicit_origins.setdefault(f"equipment/{eq.id}", {}).update(set_here)
            if (
                explicit.arguments is not None
                or explicit.thresholds is not None
                or explicit.instructions is not None
                or explicit.labels
                or explicit.servicenav_id is not None
                or explicit.notification is not None
                or explicit.accounts
            ):
                service = self._settings(eq, name, service, explicit, path, top, node, who)
        if service["notification_period"] is None:
            ctx.error(
                "SNV408",
                "P5",
                f"no notification period for unit service '{eq.id}/{name}': none set, no default from "
                f"'{node.id}' up to '{top.id}', none in the product (P6); set its notification_period "
                "or define a default",
                eq,
                *path,
            )
        out[name] = service

    def shared_services(self):
        """The unit service bases, each shared by every service of its (template, top, node)."""
        return self._by_signature.values()

    def _check_locked(self, eq, path: tuple, name: str, service: dict) -> None:
        """T5: a locked value may name a time period deleted since; say how to move on."""
        for f in ("check_period", "availability_period"):
            pid = service.get(f)
            if pid is not None and self.ctx.tree.get("TimePeriod", pid) is None:
                self.ctx.error(
                    "SNV421",
                    "T5",
                    f"unit service '{eq.id}/{name}' keeps {f} '{pid}' from the lock, but that time period "
                    f"no longer exists: run `snavc build --reapply {service['template']}`",
                    eq,
                    *path,
                )

    def service_base(self, tid: str, top: Node, node: Node) -> dict:
        """A unit service made from template ``tid`` at ``node`` for ``top``, before its
        own explicit values: T3 for the template's fields, P6 for the notification period.

        Its values depend only on the template, the scope top, the overrides in scope and
        the notification default found: every (template, top, node) with the same of
        those shares one base, never mutated, whose origins are stored once in
        :attr:`origins` under its ``origin`` key. A million unit services of 100k
        equipment have a few thousand.
        """
        key = (tid, top, node)
        service = self._services.get(key)
        if service is not None:
            return service
        overrides = self.ctx.scope.overrides_in_scope(tid, top, node)
        found = self.walk.find("notification", top, node)
        signature = (tid, top.id, tuple(o.at for o in overrides), found)
        service = self._by_signature.get(signature)
        if service is None:
            service = self._make_base(tid, top, node, overrides, found)
            self._by_signature[signature] = service
        self._services[key] = service
        return service

    def _make_base(self, tid: str, top: Node, node: Node, overrides, found) -> dict:
        values = dict(self.templates.resolve(tid, top, node))
        if found is not None:
            values["notification_period"] = (found[0], self.default_origin(found))
        # readable and unique: template, scope top, overrides applied, notification default
        okey = (
            f"{tid}@{top.id}"
            + "".join(f"+{o.at}" for o in overrides)
            + f"/{found[1] if found else 'none'}"
        )
        service = {"template": tid}
        origins = {}
        for f in SERVICE_FIELDS:
            v, where = values.get(f, (None, None))
            service[f] = v
            if where is not None:
                origins[f] = where  # the (node, file, line) tuple its template shares
        for f in TEMPLATE_DEFAULTS:  # S3/I1: only when the template gives one
            v, where = values.get(f, (None, None))
            if v is not None:
                service[f] = v
                origins[f] = where
        service["origin"] = okey
        inputs = self.templates.inputs(tid, top, node)
        inputs += [
            f"time-period/{service[f]}"
            for f in ("check_period", "availability_period", "notification_period")
            if service[f]
        ]
        # what these values depend on, for the impact analysis of `snavc diff`
        origins["inputs"] = sorted(set(inputs))
        self.origins[okey] = origins
        return service

    # -- user services -----------------------------------------------------------------

    def user_service(self, us) -> dict | None:
        """U1 (members at the node or below), P3-P5 and C1-C3 like an equipment."""
        ctx = self.ctx
        found = self.configurer(us, [ACTIONS["services"]])
        if found is None:
            return None
        user, home, top, node = found
        who = f"user '{user.id}'"
        reach = [
            (("members", i), m.partition("/")[0], "unit service", m)
            for i, m in enumerate(us.members)
        ]
        for i, c in enumerate(us.components):
            target = c.target
            if target is None:
                continue
            kind, ident = target
            if kind == "UserService":
                other = ctx.tree.get("UserService", ident)
                o_node = ctx.tree.nodes.get(other.at) if other is not None else None
                if o_node is not None and not node.is_ancestor_or_self(o_node):
                    ctx.error(
                        "SNV418",
                        "U2",
                        f"user service '{ident}' is at '{o_node.id}', outside '{node.id}': a user "
                        "service's components are at its node or below",
                        us,
                        "components",
                        i,
                        "user_service",
                    )
                continue
            field = "host" if kind == "Equipment" else "service"
            what = "host" if kind == "Equipment" else "unit service"
            reach.append((("components", i, field), ident.partition("/")[0], what, ident))
        for path, eq_id, what, member in reach:
            eq = ctx.tree.get("Equipment", eq_id)
            eq_node = ctx.tree.nodes.get(eq.at) if eq is not None else None
            if eq_node is not None and node.kind == "partner" and eq_node.mode == "resale":
                ctx.error(
                    "SNV418",
                    "U1",
                    f"{what} '{member}' is on equipment of resale client '{eq_node.company.id}': a user "
                    "service at the partner cannot include it, the partner does not monitor resale clients (M1)",
                    us,
                    *path,
                )
            elif eq_node is not None and not node.is_ancestor_or_self(eq_node):
                ctx.error(
                    "SNV418",
                    "U1",
                    f"{what} '{member}' is on equipment at '{eq_node.id}', outside '{node.id}': a user "
                    f"service's members are unit services of equipment at its node or below",
                    us,
                    *path,
                )
        check_notification(ctx, us, top, node, who)
        periods = self.periods(us, top, node, who)
        out = {
            "at": us.at,
            "name": us.name,
            "configured_by": user.id,
            "members": sorted(set(us.members)),
            "periods": periods,
            "notification": _notification(us),
        }
        if us.components:  # U2: only when it has some, as the other new fields
            out["components"] = sorted(
                (
                    {_COMPONENT[c.target[0]]: c.target[1], "impact": c.impact}
                    for c in us.components
                    if c.target is not None
                ),
                key=lambda c: (next(iter(c)), next(iter(c.values())), c["impact"]),
            )
        for f in ("criticality", "availability_target", "hosting"):
            if getattr(us, f) is not None:
                out[f] = getattr(us, f)
        if not us.weather:
            out["weather"] = False
        return out


_COMPONENT = {"Equipment": "host", "UnitService": "service", "UserService": "user_service"}


def maintenance_window(resolver: Resolver, mw) -> dict | None:
    """W2: a maintenance window's targets are equipment (or their unit services) at its
    node or below, never under a resale client for a window at the partner (M1), like
    a user service's members (U1); V1/V1a for its configuring user; C1/C3 for whom it
    notifies."""
    ctx = resolver.ctx
    found = resolver.configurer(mw, [ACTIONS["equipment"]])
    if found is None:
        return None
    user, _home, top, node = found
    who = f"user '{user.id}'"
    for i, target in enumerate(mw.targets):
        eq_id, _, name = target.partition("/")
        eq = ctx.tree.get("Equipment", eq_id)
        eq_node = ctx.tree.nodes.get(eq.at) if eq is not None else None
        if eq_node is None:
            continue  # dangling: reported by the tree stage
        if not node.is_ancestor_or_self(eq_node) or (
            node.kind == "partner" and eq_node.mode == "resale"
        ):
            why = (
                f"is under resale client '{eq_node.company.id}', which the partner does not monitor (M1)"
                if node.is_ancestor_or_self(eq_node)
                else f"is at '{eq_node.id}', outside '{node.id}'"
            )
            ctx.error(
                "SNV446",
                "W2",
                f"maintenance target '{target}' {why}: a maintenance window at '{node.id}' targets "
                "equipment at its node or below",
                mw,
                "targets",
                i,
            )
    check_notification(ctx, mw, top, node, who, mw.notify, ("notify",))
    out = {
        "at": mw.at,
        "name": mw.name,
        "configured_by": user.id,
        "targets": sorted(set(mw.targets)),
        "start": mw.start,
        "end": mw.end,
        "planner": mw.planner,
        "description": mw.description,
        "notify": _notification(mw, mw.notify),
        "requester": mw.requester,
        "counts_in_availability": mw.counts_in_availability,
    }
    return out


def _notification(obj, policy=None) -> dict:
    """The notification policy, its lists sorted: their order in YAML means nothing.
    What A1-A2 add appears only when set (a policy without it is as it was)."""
    policy = obj.notification if policy is None else policy
    out = {
        "contacts": sorted(set(policy.contacts)),
        "groups": sorted(set(policy.groups)),
    }
    if not policy.enabled:
        out["enabled"] = False
    if policy.notify_on is not None:
        out["notify_on"] = sorted(set(policy.notify_on))
    if policy.confirmation_checks is not None:
        out["confirmation_checks"] = policy.confirmation_checks
    if policy.escalations:
        out["escalations"] = [
            {
                "level": e.level,
                "after_checks": e.after_checks,
                "contacts": sorted(set(e.contacts)),
                "groups": sorted(set(e.groups)),
            }
            for e in policy.escalations
        ]
    return out
