"""`snavc drift`: what differs between a build (git) and the product (its exports).

The real pre-deployment diff: objects in git and not in the product (``added``: the
next export creates them), in the product and not in git (``removed``: the import cannot
delete them; delete them in the product or import them into git), and field-by-field
differences of the objects both have (``changed``: old is the product's value, new is
git's). Objects are matched as :func:`snavc.bridge.exporter.match` does: by ServiceNav
ID, else by name within the same company (host). The report is a
:class:`snavc.review.diff.Report`, so it renders and exits as `snavc diff` does.
"""

from __future__ import annotations

from pathlib import Path

from ..review.diff import Report
from . import columns as cols
from .csvio import Table
from .exporter import (
    Codec,
    Estate,
    Unresolved,
    bind,
    match,
    names_of,
    read_estate,
    repeated_ids,
)
from .importer import Catalog

# canonical field of the export -> the field of effective.json it compares with
HOST_PATHS = {
    "name": "name",
    "address": "address",
    "company_id": "at",
    "collector_id": "box",
    "category": "category",
    "templates_id": "templates",
    "function": "function",
    "criticality": "criticality",
    "availability_target": "availability_target",
    "availability_period_id": "periods.availability",
    "check_period_id": "periods.check",
    "notification_period_id": "periods.notification",
    "check_interval": "check_interval",
    "parents_id": "parents",
    "labels_id": "labels",
    "instructions": "instructions",
}
SERVICE_PATHS = {
    "name": "name",
    "template_id": "template",
    "criticality": "criticality",
    "availability_target": "availability_target",
    "availability_period_id": "availability_period",
    "check_period_id": "check_period",
    "notification_period_id": "notification_period",
    "check_interval": "check_interval",
    "warning": "thresholds.warning",
    "critical": "thresholds.critical",
    "arguments": "arguments",
    "labels_id": "labels",
    "instructions": "instructions",
}
KINDS = {
    "company_id": "node",
    "collector_id": "box",
    "templates_id": "equipment-template",
    "template_id": "service-template",
    "availability_period_id": "time-period",
    "check_period_id": "time-period",
    "notification_period_id": "time-period",
    "labels_id": "label",
}


def drift(
    build_dir: str | Path,
    exports: list[Table],
    settings: dict | None = None,
    catalog: Catalog | None = None,
    estate: Estate | None = None,
) -> Report:
    catalog = catalog or Catalog.shipped()
    estate = estate or read_estate(build_dir)
    bound = bind(exports, settings)
    names = names_of(bound, catalog)
    report = Report(
        base="ServiceNav (" + ", ".join(t.name for t, _ in bound) + ")", head=str(build_dir)
    )
    for t in exports:
        for line, message in t.problems:
            report.errors.append(
                {
                    "severity": "error",
                    "code": "SNV803",
                    "rule": None,
                    "message": f"row cannot be read: {message}",
                    "file": t.name,
                    "line": line,
                    "column": None,
                    "related": [],
                }
            )
    for t, cmap in bound:
        report.errors += [d.to_json() for d in repeated_ids(t, cmap)]
    node_of_pid = {}
    for t, cmap in bound:
        codec = Codec(cmap, names, estate, catalog)
        for nid in estate.nodes:
            pid = codec.pid("node", nid)
            if not isinstance(pid, Unresolved):
                node_of_pid[pid] = nid
        _compare(report, codec, t, estate, node_of_pid)
    for node_id, node in estate.nodes.items():
        report.names[node_id] = node.get("name") or node_id
    report.changes.sort(key=lambda c: (c["kind"], c["id"], c["path"] or ""))
    return report


def _where(estate: Estate, node_id: str | None) -> dict:
    out = {"partner": None, "client": None, "site": None}
    seen = set()
    while node_id and node_id in estate.nodes and node_id not in seen:
        seen.add(node_id)
        node = estate.nodes[node_id]
        out[node["kind"]] = node_id
        node_id = node.get("parent")
    return out


def _compare(report: Report, codec: Codec, table: Table, estate: Estate, node_of_pid) -> None:
    m = codec.cmap
    hosts = m.entity == "hosts"
    kind = "equipment" if hosts else "unit-service"
    paths = HOST_PATHS if hosts else SERVICE_PATHS
    pairs, git_only, product_only = match(codec, table, estate)

    def add(op, key, at, path=None, old=None, new=None):
        entry = {"op": op, "kind": kind, "id": key, "path": path, "old": old, "new": new}
        entry.update(_where(estate, at))
        report.changes.append(entry)

    for key, values, eq in git_only:
        add("added", key, eq.get("at"), None, None, _show_all(codec, values, paths))

    def unreadable(rec, problems):
        for message in problems:
            report.errors.append(
                {
                    "severity": "error",
                    "code": "SNV804",
                    "rule": None,
                    "message": message,
                    "file": table.name,
                    "line": rec.line,
                    "column": None,
                    "related": [],
                }
            )

    for rec in product_only:
        problems: list[str] = []
        product = codec.product(rec.cells, problems)
        unreadable(rec, problems)
        at = node_of_pid.get(product.get("company_id"))
        pid, name = m.get(rec.cells, "id"), m.get(rec.cells, "name")
        label = f"{codec.names.snavc_id('host', pid) or pid}" if hosts else name
        if not hosts:
            host = codec.names.snavc_id("host", m.get(rec.cells, "host_id"))
            label = f"{host or m.get(rec.cells, 'host_id')}/{product.get('name') or name}"
        shown = _show_all(codec, product, paths)
        shown["servicenav_id"] = pid
        shown["line"] = f"{table.name}:{rec.line}"
        add("removed", label, at, None, shown, None)
    for key, values, eq, rec in pairs:
        problems = []
        product = codec.product(rec.cells, problems)
        why = codec.renamed(rec.cells, values, eq)
        if why is not None:  # not a move git asks for: the names no longer say
            problems.append(f"{kind} '{key}': {why}")
        unreadable(rec, problems)
        if why is not None:
            continue
        if "id" in values and not values["id"]:
            add("changed", key, eq.get("at"), "servicenav_id", m.get(rec.cells, "id"), None)
        for f, path in paths.items():
            if f not in m.positions or f not in values:
                continue
            git = codec.carried(f, product.get(f), values.get(f))
            if isinstance(git, tuple) and any(isinstance(v, Unresolved) for v in git):
                same = False
            elif isinstance(git, Unresolved):
                same = False
            else:
                same = codec.same(f, product.get(f), git, eq)
            if not same:
                add(
                    "changed",
                    key,
                    eq.get("at"),
                    path,
                    _show(codec, f, product.get(f), True),
                    _show(codec, f, git, False),
                )


def _show(codec: Codec, f: str, value, from_product: bool):
    """A value in snavc's terms: related objects by snavc ID, intervals in seconds."""
    if value is None:
        return None
    if isinstance(value, tuple) and value[:1] == ("?",):
        return value[1]  # a cell the export holds that is not a valid value
    if f == "arguments":
        return dict(value)
    kind = KINDS.get(f)
    if f == "parents_id":
        ids = codec.host_of_pid
        return [ids.get(v) or codec.names.snavc_id("host", v) or v for v in value]
    if kind is None:
        return list(value) if isinstance(value, tuple) else value

    def one(v):
        if isinstance(v, Unresolved):
            return str(v)
        return codec.names.snavc_id(kind, v) or v

    return [one(v) for v in value] if isinstance(value, tuple) else one(value)


def _show_all(codec: Codec, values: dict, paths: dict) -> dict:
    out = {}
    for f, path in paths.items():
        if f in codec.cmap.positions and values.get(f) not in (None, (), ""):
            out[path] = _show(codec, f, values[f], False)
    if values.get("id"):
        out["servicenav_id"] = values["id"]
    return out


__all__ = ["drift", "cols"]
