"""Reports of `snavc diff` and `snavc plan`: the report data, rendered by jinja2.

The shipped templates (``snavc/templates/*.j2``) render text and markdown; ``--template
FILE`` renders a user's own template in jinja2's sandbox, with the report data (the
JSON of docs/review.md, plus ``groups``) as its only input.
"""

from __future__ import annotations

import json
from pathlib import Path

import jinja2
import jinja2.sandbox

TEMPLATES = Path(__file__).parent / "templates"
SHIPPED = {"text": "report.txt.j2", "markdown": "report.md.j2"}


class TemplateError(Exception):
    """A user template that cannot be read or rendered."""


def show(value, width: int = 80) -> str:
    """A value in one short line (JSON for lists and mappings)."""
    if value is None:
        return "(none)"
    text = (
        value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False)
    )
    return text if len(text) <= width else text[: width - 1] + "…"


def md(value) -> str:
    """Safe inside a markdown table cell."""
    return str(value).replace("|", "\\|").replace("\n", " ")


def change(c: dict) -> str:
    """One change in a few words: ``30 → 15``, ``−a +b`` for lists, ``id (from)`` for periods."""
    old, new = c.get("old"), c.get("new")
    if isinstance(old, list) or isinstance(new, list):
        a, b = old or [], new or []
        parts = [f"−{x}" for x in a if x not in b] + [f"+{x}" for x in b if x not in a]
        return " ".join(parts) or "reordered"
    return f"{_value(old)} → {_value(new)}"


def _value(v) -> str:
    if isinstance(v, dict) and set(v) == {"id", "from"}:
        return f"{v['id']} ({v['from']})"
    return show(v, 40)


def added(c: dict) -> str:
    """What an added or removed object is, in a few words."""
    obj = c.get("new") if c["op"] == "added" else c.get("old")
    if not isinstance(obj, dict):
        return c["op"]
    if c["kind"] == "equipment":
        n = len(obj.get("services") or {})
        made = (
            f"{obj['template']} on {obj.get('box')}"
            if obj.get("template")
            else f"on {obj.get('box')}"
        )
        return f"{c['op']}: {made}, {n} unit service{'s' if n != 1 else ''}"
    if c["kind"] == "unit-service":
        return f"{c['op']}: template {obj.get('template')}"
    return c["op"]


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def grouped(changes: list[dict], names: dict | None = None) -> list[dict]:
    """partner -> client -> site -> object -> changes, every level sorted.

    An object at the partner itself has no client level; one at a client no site level.
    """
    names = names or {}
    tree: dict = {}
    for c in changes:
        partner, client, site = c.get("partner") or "", c.get("client") or "", c.get("site") or ""
        objects = tree.setdefault(partner, {}).setdefault(client, {}).setdefault(site, {})
        objects.setdefault((c["kind"], c["id"]), []).append(c)
    out = []
    for partner in sorted(tree):
        clients = []
        for client in sorted(tree[partner]):
            sites = []
            ops: dict[str, int] = {}
            for site in sorted(tree[partner][client]):
                objs = []
                for (kind, ident), items in sorted(tree[partner][client][site].items()):
                    kinds = {i["op"] for i in items}
                    op = next((o for o in ("added", "removed", "moved") if o in kinds), "changed")
                    ops[op] = ops.get(op, 0) + 1
                    objs.append({"kind": kind, "id": ident, "op": op, "changes": items})
                sites.append({"site": site, "name": names.get(site, site), "objects": objs})
            count = sum(len(s["objects"]) for s in sites)
            order = ("added", "changed", "removed", "moved")  # as in the headline
            summary = ", ".join(f"{ops[op]} {op}" for op in order if op in ops)
            clients.append(
                {
                    "client": client,
                    "name": names.get(client, client),
                    "sites": sites,
                    "count": count,
                    "ops": summary,
                }
            )
        out.append({"partner": partner, "name": names.get(partner, partner), "clients": clients})
    return out


def data(report) -> dict:
    """The report data templates get: a copy (a template cannot change the report, nor
    so the exit code), with ``groups`` for partner -> client -> site rendering."""
    out = json.loads(json.dumps(report.to_json()))
    out["groups"] = grouped(out["changes"], report.names)
    out["names"] = dict(report.names)
    return out


def _env(sandboxed: bool, loader) -> jinja2.Environment:
    # a user's template: jinja2's immutable sandbox (it cannot even change its copy of
    # the data); shipped and user templates alike trim the newline after a block tag
    cls = jinja2.sandbox.ImmutableSandboxedEnvironment if sandboxed else jinja2.Environment
    env = cls(
        loader=loader,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["show"] = show
    env.filters["md"] = md
    env.filters["change"] = change
    env.filters["added"] = added
    env.globals["plural"] = plural
    env.trim_blocks = True
    env.lstrip_blocks = True
    return env


def render(report, fmt: str) -> str:
    """Render with a shipped template (``text`` or ``markdown``) or as JSON."""
    if fmt == "json":
        return json.dumps(report.to_json(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    env = _env(False, jinja2.FileSystemLoader(TEMPLATES))
    return env.get_template(SHIPPED[fmt]).render(report=data(report))


def render_user(report, template: Path) -> str:
    """Render a user's template in the sandbox: it sees the report data and nothing else."""
    try:
        source = Path(template).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise TemplateError(f"cannot read template {template}: {e}") from None
    env = _env(True, None)
    try:
        return env.from_string(source).render(report=data(report))
    except jinja2.TemplateError as e:
        where = f" (line {e.lineno})" if getattr(e, "lineno", None) else ""
        raise TemplateError(f"template {template}{where}: {e.message or e}") from None
    except Exception as e:  # the template's own fault (an include, a bad filter call...)
        raise TemplateError(f"template {template}: {type(e).__name__}: {e}") from None
