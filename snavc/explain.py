"""Explain: where each resolved value comes from, step by step.

Re-runs the resolution of one object with tracing on (the build itself keeps only the
winner's origin), using the same functions as the build, so the explanation cannot
disagree with ``effective.json``. Like ``puppet lookup --explain``, for every field of an
object at once when no field is given.
"""

from __future__ import annotations

from .diagnostics import clean_text
from .model import ASPECTS, OVERRIDABLE, TEMPLATE_DEFAULTS
from .query import QueryError, Refused, find_object
from .query import node as find_node
from .query import user as find_user
from .resolve import Resolution
from .resolve.boxes import box_problem
from .resolve.objects import HOST_FIELDS, SERVICE_FIELDS, SERVICE_OWN
from .resolve.on_demand import effective_of
from .resolve.scope import cut_point, scope_path
from .resolve.templates import unit_service_specs
from .tree import equipment_template_field


def parse_spec(res: Resolution, spec: str) -> tuple[tuple, str | None]:
    """``OBJECT[.FIELD]`` -> (found object, field path or None). IDs may hold dots, so
    the longest prefix that names an object wins."""
    try:
        return find_object(res, spec), None
    except QueryError as first:
        error = first
    for i in range(len(spec) - 1, 0, -1):
        if spec[i] != ".":
            continue
        try:
            return find_object(res, spec[:i]), spec[i + 1 :]
        except QueryError:
            continue
    raise error


def _origin(where) -> dict | None:
    if where is None:
        return None
    node, file, line = where
    return {"node": node, "file": file, "line": line}


def _field(path: str, value, where, steps: list) -> dict:
    return {"path": path, "value": value, "origin": _origin(where), "steps": steps}


def explain(res: Resolution, spec: str, as_user: str | None = None, at: str | None = None) -> dict:
    """The explanation of ``spec`` (``OBJECT[.FIELD]``) as a JSON-ready dict."""
    (kind, obj, service), field = parse_spec(res, spec)
    if kind in ("Equipment", "UnitService", "UserService"):
        out = _configured(res, kind, obj, service)
    elif kind == "node":
        out = _node(res, obj)
    elif kind == "ServiceTemplate":
        out = _template(res, obj, as_user, at)
    else:
        target = res.tree.node_of(obj)
        loc = obj.doc.loc()
        out = {
            "object": obj.id,
            "kind": kind,
            "fields": [_field("defined_at", target.id, (target.id, loc.file, loc.line), [])],
        }
    if field is not None:
        fields = [
            f for f in out["fields"] if f["path"] == field or f["path"].startswith(field + ".")
        ]
        if not fields:
            known = ", ".join(f["path"] for f in out["fields"])
            raise QueryError(
                f"no field '{field}' on {spec[: len(spec) - len(field) - 1]}; fields: {known}"
            )
        out["fields"] = fields
    return out


def _configured(res: Resolution, kind: str, obj, service: str | None) -> dict:
    tree, scope = res.tree, res.ctx.scope
    user = scope.user(tree.configurer(obj))
    node = tree.nodes[obj.at]
    label = f"{obj.id}/{service}" if service else obj.id
    out = {
        "object": label,
        "kind": {"UnitService": "unit-service", "UserService": "user-service"}.get(
            kind, "equipment"
        ),
    }
    out["at"] = node.id
    out["configured_by"] = user.id if user else None
    home = scope.home(user)
    if home is None or not home.is_ancestor_or_self(node):
        out["resolved"] = False
        out["why"] = (
            f"user '{out['configured_by']}' cannot configure at '{node.id}' (V1): nothing is resolved"
        )
        out["fields"] = []
        return out
    top = scope.top(home, node)
    out["home"] = home.id
    out["scope_top"] = top.id
    out["scope"] = [n.id for n in scope_path(top, node)]
    fields: list[dict] = []
    doc = obj.doc
    explicit = lambda *p: (node.id, doc.file, doc.loc(*p).line)  # noqa: E731
    if kind == "Equipment":
        fields.append(_field("box", obj.box, explicit("box"), _box_steps(res, obj, home, node)))
        for i, tid in enumerate(obj.template_ids):
            path = obj.template_path(i)
            fields.append(_field("templates", tid, explicit(*path), []))
        for f in HOST_FIELDS:
            value = getattr(obj, f)
            if value is not None:
                fields.append(_field(f, value, explicit(f), []))
        if obj.parents:
            fields.append(
                _field(
                    "parents",
                    list(obj.parents),
                    explicit("parents"),
                    [{"result": "rule", "why": "H5: each parent is visible where the host is"}],
                )
            )
        if obj.labels:
            fields.append(_field("labels", _once(obj.labels), explicit("labels"), []))
        fields.append(_instructions(res, obj, explicit))
        if obj.accounts:
            fields.append(_field("accounts", _once(obj.accounts), explicit("accounts"), []))
    if kind in ("Equipment", "UserService"):
        fields += _periods(res, obj, top, node)
        for f in ("contacts", "groups"):
            value = getattr(obj.notification, f)
            if value:
                fields.append(
                    _field(f"notification.{f}", _once(value), explicit("notification", f), [])
                )
        policy = obj.notification  # A1, A2: what the policy adds, when set
        for f in ("notify_on", "confirmation_checks"):
            if getattr(policy, f) is not None:
                value = getattr(policy, f)
                value = _once(value) if isinstance(value, list) else value
                fields.append(_field(f"notification.{f}", value, explicit("notification", f), []))
        if not policy.enabled:
            fields.append(
                _field("notification.enabled", False, explicit("notification", "enabled"), [])
            )
        for i, e in enumerate(policy.escalations):
            who = [*_once(e.contacts), *_once(e.groups)]
            fields.append(
                _field(
                    f"notification.escalations.{e.level}",
                    who,
                    explicit("notification", "escalations", i),
                    [
                        {
                            "result": "rule",
                            "why": f"A1: after {e.after_checks} checks without acknowledgement",
                        }
                    ],
                )
            )
    if kind == "UserService":
        fields.append(_field("members", list(obj.members), explicit("members"), []))
        for i, c in enumerate(obj.components):  # U2
            if c.target is not None:
                fields.append(
                    _field(
                        f"components.{c.target[1]}",
                        c.impact,
                        explicit("components", i),
                        [
                            {
                                "result": "rule",
                                "why": f"U2: a {_WHAT[c.target[0]]} component, {c.impact}",
                            }
                        ],
                    )
                )
        for f in ("criticality", "availability_target", "hosting"):
            if getattr(obj, f) is not None:
                fields.append(_field(f, getattr(obj, f), explicit(f), []))
    if kind in ("Equipment", "UnitService"):
        for name, tid, spec, path in unit_service_specs(res.ctx, obj):
            if service is not None and name != service:
                continue
            fields += _service(
                res, obj, name, tid, spec, path, top, node, prefix=kind == "Equipment"
            )
    out["resolved"] = True
    out["fields"] = fields
    return out


_WHAT = {"Equipment": "host", "UnitService": "unit service", "UserService": "user service"}


def _instructions(res: Resolution, eq, explicit) -> dict:
    """I1: the host's own instructions, else its first template's that has one."""
    if eq.instructions is not None:
        return _field("instructions", eq.instructions, explicit("instructions"), [])
    steps = []
    for tid in eq.template_ids:
        value, tmpl = equipment_template_field(res.tree, tid, "instructions")
        if value is not None:
            loc = tmpl.doc.loc("instructions")
            where = (res.tree.node_of(tmpl).id, loc.file, loc.line)
            why = f"I1: from equipment template '{tmpl.id}' (the first of the host's templates that has one)"
            return _field("instructions", value, where, [{"result": "template", "why": why}])
        steps.append({"result": "none", "why": f"equipment template '{tid}' gives none"})
    return _field("instructions", None, None, steps)


def _box_steps(res: Resolution, eq, home, node) -> list[dict]:
    box = res.tree.get("Box", eq.box)
    if box is None:
        return []
    problem = box_problem(res.ctx, box, home, node)
    bnode = res.tree.node_of(box)
    if problem is None:
        why = f"box at '{bnode.id}' (shared: {str(box.shared).lower()}) may monitor '{node.id}' for a user whose home is '{home.id}' (B1-B3)"
        return [{"result": "ok", "why": why}]
    return [{"result": "refused", "rule": problem[1], "why": problem[2]}]


def _periods(res: Resolution, obj, top, node) -> list[dict]:
    fields = []
    for aspect in ASPECTS:
        explicit = getattr(obj.periods, aspect)
        if explicit is not None:
            loc = obj.doc.loc("periods", aspect)
            fields.append(
                _field(
                    f"periods.{aspect}",
                    explicit,
                    (node.id, loc.file, loc.line),
                    [
                        {
                            "result": "explicit",
                            "why": "set on the object itself (P7: must be selectable)",
                        }
                    ],
                )
            )
            continue
        fields.append(_walked(res, f"periods.{aspect}", aspect, top, node))
    return fields


def _walked(res: Resolution, path: str, aspect: str, top, node) -> dict:
    """A period from the default walk (P3-P5), with every step of the walk."""
    steps: list = []
    found = res.walk.walk(aspect, top, node, steps)
    where = res.resolver.default_origin(found) if found is not None else None
    return _field(path, found[0] if found else None, where, steps)


def _service(res: Resolution, eq, name, tid, spec, path, top, node, prefix: bool) -> list[dict]:
    steps: list = []
    values = res.templates.values(tid, top, node, steps)
    base = f"services.{name}." if prefix else ""
    fields = [_field(f"{base}template", tid, (node.id, eq.doc.file, eq.doc.loc(*path).line), [])]
    for f in SERVICE_FIELDS:
        value, where = values.get(f, (None, None))
        field_steps = steps
        if spec is not None and getattr(spec, f) is not None:
            value = getattr(spec, f)
            where = (node.id, eq.doc.file, eq.doc.loc(*path, f).line)
            field_steps = steps + [
                {
                    "result": "explicit",
                    "why": "set on the unit service itself: wins over the template",
                }
            ]
        elif f == "notification_period":
            field_steps = []
            found = res.walk.walk("notification", top, node, field_steps)
            field_steps.insert(
                0,
                {
                    "result": "rule",
                    "why": "P6: a unit service's notification period comes from the default walk at its equipment's node",
                },
            )
            value, where = None, None
            if found is not None:
                value, where = found[0], res.resolver.default_origin(found)
        fields.append(_field(base + f, value, where, field_steps))
    fields += _service_defaults(eq, name, spec, path, values, steps, base, node)
    service = ((effective_of(res, "Equipment", eq.id) or {}).get("services") or {}).get(name)
    if service is None:
        return fields
    fields += _service_own(eq, spec, path, service, base, node)
    return _kept_by_lock(service, tid, fields, base)


def _service_own(eq, spec, path, service: dict, base: str, node) -> list[dict]:
    """K1 and A1-A2 at the service level: its accounts (the equipment's, each protocol
    the service sets replaced) and its own notification policy, as the build made them."""
    here = lambda *p: (node.id, eq.doc.file, eq.doc.loc(*path, *p).line)  # noqa: E731
    out = []
    if "accounts" in service:
        step = {
            "result": "rule",
            "why": "K1: the equipment's accounts, each protocol the service sets replaced by its own",
        }
        out.append(_field(base + "accounts", service["accounts"], here("accounts"), [step]))
    for f, value in (service.get("notification") or {}).items():
        where = here("notification", f) if spec is not None else None
        out.append(_field(f"{base}notification.{f}", value, where, []))
    return out


def _once(values) -> list:
    """A list's items each once, as effective.json holds them (which also sorts them),
    in the order they are written (that of their origin lines)."""
    return list(dict.fromkeys(values))


def _kept_by_lock(service: dict, tid: str, fields: list, base: str) -> list:
    """T5: where the lock keeps the values the service was created with (its template
    changed since), those values, as effective.json has them, with the step that says
    why; the template's current values (worked out above) are not applied."""
    if "locked" not in service:
        return fields
    by_path = {f["path"]: f for f in fields}
    out = [f for f in fields]
    for f in (*OVERRIDABLE, *TEMPLATE_DEFAULTS):
        entry = by_path.get(base + f)
        current = entry["value"] if entry is not None else None
        kept = service.get(f)
        if kept == current:
            continue
        step = {
            "result": "locked",
            "why": f"T5: kept as the service was created (snav.lock, version "
            f"{service['locked']}); template '{tid}' now gives {current!r}, not applied: "
            f"`snavc build --reapply {tid}` applies it",
        }
        if entry is None:
            out.append(_field(base + f, kept, None, [step]))
            continue
        entry["value"], entry["origin"] = kept, None
        entry["steps"] = [*entry["steps"], step]
        if kept is None:  # (the version it was created with had none)
            out.remove(entry)
    return out


def _service_defaults(eq, name, spec, path, values, steps, base, node) -> list[dict]:
    """S1-S3, I1, H7: arguments, thresholds, instructions (template defaults, then the
    service's own), labels and servicenav_id (the service's own). A service the
    template gives takes its own values from ``service_settings``."""
    if spec is None and eq.service_settings and name in eq.service_settings:
        spec, path = eq.service_settings[name], ("service_settings", name)
    here = lambda *p: (node.id, eq.doc.file, eq.doc.loc(*path, *p).line)  # noqa: E731
    own = "set on the unit service itself: wins over the template (S3)"
    fields = []
    for f in TEMPLATE_DEFAULTS:
        value, where = values.get(f, (None, None))
        mine = getattr(spec, f, None) if spec is not None else None
        field_steps = steps
        if mine is not None:
            if f == "thresholds":
                mine = {**(value or {}), **mine.model_dump(exclude_none=True)}
            elif f == "arguments":
                mine = {**(value or {}), **mine}
            value, where = mine, here(f)
            field_steps = steps + [{"result": "explicit", "why": own}]
        if value is not None:
            fields.append(_field(base + f, value, where, field_steps))
    for f in SERVICE_OWN:
        mine = getattr(spec, f, None) if spec is not None else None
        if mine:
            fields.append(_field(base + f, mine, here(f), []))
    return fields


def _node(res: Resolution, node) -> dict:
    top = cut_point(node)
    fields = []
    for aspect in ASPECTS:
        fields.append(_walked(res, f"defaults.{aspect}", aspect, top, node))
    return {
        "object": node.id,
        "kind": "node",
        "why": "P10: the default a partner user gets at this node, per aspect",
        "scope_top": top.id,
        "fields": fields,
    }


def _template(res: Resolution, template, as_user: str | None, at: str | None) -> dict:
    tree, scope = res.tree, res.ctx.scope
    node = find_node(res, at) if at else tree.node_of(template)
    if as_user:
        user = find_user(res, as_user)
        top = scope.user_top(user, node)
        if top is None:
            home = scope.home(user)
            raise Refused(
                f"user '{as_user}' (home '{home.id if home else 'none'}') cannot configure at '{node.id}' (rule V1)"
            )
    else:
        top = cut_point(node)
    steps: list = []
    values = res.templates.values(template.id, top, node, steps)
    fields = []
    for f in OVERRIDABLE:
        value, where = values.get(f, (None, None))
        fields.append(_field(f, value, where, steps))
    return {
        "object": template.id,
        "kind": "service-template",
        "at": node.id,
        "scope_top": top.id,
        "fields": fields,
    }


def render_text(out: dict) -> str:
    """Human text: each value, its origin, then the steps (shared steps printed once)."""
    lines = []
    head = f"{out['kind']} {out['object']}"
    if out.get("at"):
        head += f" at {out['at']}"
    if out.get("configured_by"):
        head += f", configured by {out['configured_by']}"
    if out.get("home"):
        head += f" (home {out['home']})"
    lines.append(head)
    if out.get("scope"):
        lines.append(f"  scope (V2): {' -> '.join(out['scope'])}   [top: {out['scope_top']}]")
    elif out.get("scope_top"):
        lines.append(f"  scope top (V2): {out['scope_top']}")
    if out.get("why"):
        lines.append(f"  {out['why']}")
    last_steps = None
    for f in out["fields"]:
        origin = f["origin"]
        where = f"   <- {origin['node']} ({origin['file']}:{origin['line']})" if origin else ""
        value = f["value"]
        shown = (
            ", ".join(map(str, value))
            if isinstance(value, list)
            else ("(none)" if value is None else value)
        )
        lines.append(f"{f['path']} = {shown}{where}")
        steps = f["steps"]
        if steps and steps is not last_steps:
            for i, s in enumerate(steps, 1):
                lines.append("    " + _step_text(i, s))
        last_steps = steps
    # every line is built from the input's values (names, IDs): escaped as one, so that
    # no control character (nor a newline inside a value) reaches the terminal
    return "".join(clean_text(line) + "\n" for line in lines)


def _step_text(i: int, s: dict) -> str:
    loc = f"  ({s['file']}:{s['line']})" if s.get("file") else ""
    if s.get("step") == "template":
        sets = ", ".join(s["sets"]) or "nothing"
        return f"{i}. template '{s['template']}' at {s['node']} sets {sets}{loc}"
    if s.get("step") == "override":
        if s["result"] == "applied":
            return f"{i}. override at {s['node']}: applied, sets {', '.join(s['sets'])}{loc}"
        return f"{i}. override at {s['node']}: skipped: {s['why']}{loc}"
    if s.get("step") == "duplicate":
        return f"{i}. {s['why']}"
    node = f"{s['node']}: " if s.get("node") else ""
    return f"{i}. {node}{s['result']}: {s['why']}{loc}"
