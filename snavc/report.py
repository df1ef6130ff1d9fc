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


def grouped(changes: list[dict]) -> list[dict]:
    """partner -> client -> site -> object -> changes, every level sorted."""
    tree: dict = {}
    for c in changes:
        partner = c.get("partner") or "(none)"
        client = c.get("client") or "(partner level)"
        site = c.get("site") or "(client level)"
        objects = tree.setdefault(partner, {}).setdefault(client, {}).setdefault(site, {})
        objects.setdefault((c["kind"], c["id"]), []).append(c)
    out = []
    for partner in sorted(tree):
        clients = []
        for client in sorted(tree[partner]):
            sites = []
            for site in sorted(tree[partner][client]):
                objs = []
                for (kind, ident), items in sorted(tree[partner][client][site].items()):
                    ops = {i["op"] for i in items}
                    op = next((o for o in ("added", "removed", "moved") if o in ops), "changed")
                    objs.append({"kind": kind, "id": ident, "op": op, "changes": items})
                sites.append({"site": site, "objects": objs})
            count = sum(len(s["objects"]) for s in sites)
            clients.append({"client": client, "sites": sites, "count": count})
        out.append({"partner": partner, "clients": clients})
    return out


def data(report) -> dict:
    out = report.to_json()
    out["groups"] = grouped(report.changes)
    return out


def _env(sandboxed: bool, loader) -> jinja2.Environment:
    cls = jinja2.sandbox.SandboxedEnvironment if sandboxed else jinja2.Environment
    env = cls(
        loader=loader,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["show"] = show
    env.filters["md"] = md
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
