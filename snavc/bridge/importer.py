"""`snavc import`: the product's hosts and unit-services exports -> a repository.

The repository is laid out as a partner keeps it (samples/seed): ``snav.yaml``, a folder
per partner, ``clients/<client>/`` per client and ``clients/<client>/<site>/`` per site,
each holding its node, its boxes and its equipment (``equipment.yaml``). Every equipment
and unit service keeps its product ID (``servicenav_id``) and is preceded by a comment
``# from hosts.csv:LINE`` naming the row it came from.

What the exports only name (companies, boxes, host and service templates, time slots,
labels) becomes a *stub*: an object with the product's name and what the rows tell of
it, to complete by hand; the import lists them. A row that cannot be mapped is reported
with its line, never dropped silently.

Decisions (docs/servicenav.md): companies form the tree from the "Parent company"
columns when the export has them (root -> partner, its children -> clients, theirs ->
sites; deeper sub-sites are attached to their site's client, with a warning), else every
company is a client of one partner; clients are ``managed`` (the export does not say);
templates, time slots and labels are defined at the partner; a box at the deepest node
above every host it monitors (a partner box monitoring client hosts is ``shared``);
host templates carry no services: each host lists its unit services, as the export does.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .. import diagnostics as dg
from ..diagnostics import Diagnostic, Location
from ..engine.faults import crash_point, sync_folder, temporary
from . import columns as cols
from .columns import ColumnMap, ValueError_
from .csvio import Table
from .ids import Names, slug

IMPORT_USER = "servicenav-import"
# the product's words for what the exports name, in messages
KIND_WORDS = {
    "node": "company",
    "box": "collector",
    "equipment-template": "host template",
    "service-template": "service template",
    "time-period": "time slot",
    "label": "label",
}
ASPECTS = ("check", "notification", "availability")
PERIOD_FIELDS = {
    "check": "check_period_id",
    "notification": "notification_period_id",
    "availability": "availability_period_id",
}
TEMPLATE_FIELDS = (
    "criticality",
    "availability_target",
    "availability_period",
    "check_period",
    "check_interval",
)
# Values a stub service template takes when no row gives one (listed as to complete).
STUB_DEFAULTS = {
    "criticality": 3,
    "availability_target": 99.0,
    "check_interval": 300,
}


@dataclass
class Catalog:
    """What the import needs of the shipped catalogue: IDs stubs may not take, and the
    product's default time periods (an equipment that uses one needs not name it)."""

    periods: set[str] = field(default_factory=set)
    service_templates: set[str] = field(default_factory=set)
    equipment_templates: set[str] = field(default_factory=set)
    defaults: dict[str, str] = field(default_factory=dict)

    @classmethod
    def shipped(cls, folder: Path | None = None) -> Catalog:
        from ..engine.pipeline import SHIPPED_CATALOG

        out = cls()
        for path in sorted((folder or SHIPPED_CATALOG).glob("*.yaml")):
            for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
                if not isinstance(doc, dict):
                    continue
                kind, ident = doc.get("kind"), str(doc.get("id"))
                if kind == "TimePeriod":
                    out.periods.add(ident)
                    for aspect in doc.get("default_for") or ():
                        out.defaults[aspect] = ident
                elif kind == "ServiceTemplate":
                    out.service_templates.add(ident)
                elif kind == "EquipmentTemplate":
                    out.equipment_templates.add(ident)
        return out


def new_names(catalog: Catalog) -> Names:
    """The naming of the product's objects, the same for import, export and drift: stub
    IDs avoid the catalogue's templates and the node ID ``product`` (SNV303); a time
    slot named like a catalogue period is that period."""
    return Names(
        reserved={
            "service-template": catalog.service_templates,
            "equipment-template": catalog.equipment_templates,
            "node": {"product"},
        },
        reuse={"time-period": catalog.periods},
    )


@dataclass
class Stub:
    kind: str  # Partner, Client, Site, Box, EquipmentTemplate, ServiceTemplate, TimePeriod, Label
    id: str
    name: str
    servicenav_id: str | None
    file: str = ""
    complete: str = ""  # what to complete by hand
    line: str = ""  # the first row that named it ("hosts.csv:12")

    def to_json(self) -> dict:
        return {
            "kind": self.kind,
            "id": self.id,
            "name": self.name,
            "servicenav_id": self.servicenav_id,
            "file": self.file,
            "complete": self.complete,
            "first_seen": self.line,
        }


@dataclass
class ImportResult:
    files: dict[str, str] = field(default_factory=dict)  # path in the repository -> text
    stubs: list[Stub] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    hosts: int = 0
    services: int = 0
    skipped: int = 0  # rows left out (each one has an error diagnostic)
    language: str = ""

    @property
    def ok(self) -> bool:
        return not dg.has_errors(self.diagnostics)


_PLAIN = re.compile(r"[a-z][a-z0-9._-]*")
_KEYWORDS = frozenset(("true", "false", "null", "yes", "no", "on", "off"))


def _q(value) -> str:
    """A YAML scalar: plain when it reads back as the same string, else double-quoted."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return _q_text(str(value))


@functools.lru_cache(maxsize=1 << 16)
def _q_text(text: str) -> str:
    if _PLAIN.fullmatch(text) and text not in _KEYWORDS:
        return text
    return json.dumps(text, ensure_ascii=False)


def _flow(items) -> str:
    return "[" + ", ".join(_q(i) for i in items) + "]"


class _Rows:
    """Diagnostics about rows, in the CSV's own coordinates."""

    def __init__(self, result: ImportResult):
        self.result = result

    def error(self, table: Table, line: int, code: str, message: str) -> None:
        self.result.diagnostics.append(dg.error(code, message, Location(table.name, line)))

    def warning(self, table: Table, line: int, code: str, message: str) -> None:
        self.result.diagnostics.append(dg.warning(code, message, Location(table.name, line)))


@dataclass
class Host:
    line: int
    pid: str
    name: str
    company: str  # product ID
    box: str  # product ID
    values: dict
    services: list = field(default_factory=list)
    id: str = ""


@dataclass
class Service:
    line: int
    pid: str
    name: str
    host: str  # product ID
    template: str  # product ID
    values: dict
    source: str = "services.csv"


def _required(
    cmap: ColumnMap, cells: list[str], related: tuple[str, str], problems: list[str]
) -> list[str]:
    """A row's ID, name and the two ``related`` ID cells, stripped; each empty one is a
    problem (the row cannot be mapped)."""
    values = [cmap.get(cells, f).strip() for f in ("id", "name", *related)]
    for what, value in zip(
        ("ID", "name", *(cmap.headers[f] for f in related)), values, strict=True
    ):
        if not value:
            problems.append(f"empty {what}: the row cannot be mapped")
    return values


def _read(problems: list[str], parse, *args):
    """``parse(*args)``, or None with why added to ``problems``: every cell of a row
    that cannot be read is reported, not only the first."""
    try:
        return parse(*args)
    except ValueError_ as e:
        problems.append(str(e))
        return None


def pairs_of(cmap: ColumnMap, text: str, shown: str) -> tuple:
    """``((product ID, name), ...)`` of a related-entity column pair (lists allowed):
    the cells ``text`` (IDs) and ``shown`` (names)."""
    if not text:
        return ()
    ids = cols.parse_list(text, cmap)
    if len(ids) == 1:  # one object: its name is the whole cell, separators and all
        return ((ids[0], shown.strip() or None),)
    names = cols.parse_list(shown, cmap)
    if len(names) != len(ids):  # a name holds the separator: names are only informational
        names = [None] * len(ids)
    return tuple(zip(ids, names, strict=True))


def _related(cmap: ColumnMap, entity: str):
    """``cells -> {ID field: pairs_of}`` of a table's related-entity columns; the same
    pair of cells, row after row (a company, a period, a template), is read once."""
    fields = [
        (f, cmap.positions[f], cmap.positions.get(n))
        for f, (n, _k) in cols.RELATED[entity].items()
        if cmap.has(f)
    ]
    known: dict[tuple, tuple] = {}

    def read(cells: list[str]) -> dict[str, tuple]:
        out = {}
        for f, i, j in fields:
            key = (f, cells[i], "" if j is None else cells[j])
            found = known.get(key)
            if found is None:
                found = known[key] = pairs_of(cmap, key[1], key[2])
            out[f] = found
        return out

    return read


def import_exports(
    hosts: Table,
    services: Table | None,
    settings: dict | None = None,
    partner_name: str = "Partner",
    project_name: str = "servicenav-import",
    catalog: Catalog | None = None,
) -> ImportResult:
    """Map the exports' rows to a repository (files as text; nothing is written)."""
    settings = settings or {}
    catalog = catalog or Catalog.shipped()
    result = ImportResult()
    rows = _Rows(result)
    hmap = cols.detect(hosts.header, settings, "hosts")
    smap = cols.detect(services.header, settings, "services") if services is not None else None
    result.language = hmap.language
    hmap.source = hosts.name
    if smap is not None and services is not None:
        smap.source = services.name
    for table in (hosts, services):
        if table is None:
            continue
        for line, message in table.problems:
            rows.error(table, line, "SNV803", f"row cannot be read: {message}")
            result.skipped += 1

    names = new_names(catalog)
    parent_of: dict[str, str] = {}
    parent_line: dict[str, int] = {}  # company -> the row that gave its parent
    roots: set[str] = set()
    first_seen: dict[tuple[str, str], str] = {}
    first_name: dict[tuple[str, str], tuple[str, str]] = {}  # -> (name, "file:line")
    told: set[tuple] = set()

    def seen(kind, pid, name, where, table=None, line=None, shown=None):
        """Record an object a row names. Rows that name one ID differently: the first
        name is kept, and each other name is a warning at the first row giving it."""
        key = (kind, pid)
        if key not in first_seen:
            first_seen[key] = where
            names.add(kind, pid, name)
        elif name and not names.names[kind].get(pid):
            names.add(kind, pid, name)
        shown = (name if shown is None else shown) or ""
        if not shown.strip() or table is None:
            return
        first = first_name.setdefault(key, (shown.strip(), where))
        if first[0] != shown.strip() and (key, shown.strip()) not in told:
            told.add((key, shown.strip()))
            rows.warning(
                table,
                line,
                "SNV811",
                f"{KIND_WORDS.get(kind, kind)} ID {pid} is named '{shown.strip()}' here and "
                f"'{first[0]}' on {first[1]}: the first name is kept",
            )

    # -- hosts ----------------------------------------------------------------------
    host_pairs = _related(hmap, "hosts")
    service_pairs = _related(smap, "services") if smap is not None else None
    host_list: list[Host] = []
    by_pid: dict[str, Host] = {}
    for rec in hosts.records:
        c, where = rec.cells, f"{hosts.name}:{rec.line}"
        problems: list[str] = []
        pid, name, company, box = _required(hmap, c, ("company_id", "collector_id"), problems)
        if pid and pid in by_pid:
            problems.append(f"host ID {pid} already on line {by_pid[pid].line}: one row per host")
        values = _host_values(hmap, c, problems)
        if problems:
            for message in problems:
                rows.error(hosts, rec.line, "SNV804", message)
            result.skipped += 1
            continue
        pairs = host_pairs(c)
        at = (hosts, rec.line)
        shown = hmap.get(c, "company")
        seen("node", company, shown or company, where, *at, shown)
        parent = pairs.get("parent_company_id") or []
        if parent:
            seen("node", parent[0][0], parent[0][1], where, *at)
            before = parent_of.setdefault(company, parent[0][0])
            parent_line.setdefault(company, rec.line)
            if before != parent[0][0] and (company, parent[0][0]) not in told:
                told.add((company, parent[0][0]))
                rows.warning(
                    hosts,
                    rec.line,
                    "SNV811",
                    f"company ID {company} has parent company ID {parent[0][0]} here and "
                    f"{before} on {hosts.name}:{parent_line[company]}: the first is kept",
                )
        elif hmap.has("parent_company_id"):
            roots.add(company)  # a company without a parent: the export's root
        shown = hmap.get(c, "collector")
        seen("box", box, shown or box, where, *at, shown)
        for kind, f in (
            ("equipment-template", "templates_id"),
            ("label", "labels_id"),
            ("time-period", "availability_period_id"),
            ("time-period", "check_period_id"),
            ("time-period", "notification_period_id"),
        ):
            for p, n in pairs.get(f, ()):
                seen(kind, p, n, where, *at)
        values["templates"] = [p for p, _ in pairs.get("templates_id", ())]
        values["labels"] = [p for p, _ in pairs.get("labels_id", ())]
        values["parents"] = [p for p, _ in pairs.get("parents_id", ())]
        for aspect, f in PERIOD_FIELDS.items():
            found = pairs.get(f)
            if found:
                values.setdefault("periods", {})[aspect] = found[0][0]
        host = Host(rec.line, pid, name, company, box, values)
        host_list.append(host)
        by_pid[pid] = host
        names.add("host", pid, name)

    # -- unit services --------------------------------------------------------------
    if services is not None and smap is not None:
        service_ids: dict[str, int] = {}
        for rec in services.records:
            c, where = rec.cells, f"{services.name}:{rec.line}"
            problems = []
            pid, name, host, template = _required(smap, c, ("host_id", "template_id"), problems)
            if pid and pid in service_ids:
                problems.append(
                    f"unit service ID {pid} already on line {service_ids[pid]}: one row per service"
                )
            if host and host not in by_pid:
                problems.append(
                    f"host ID {host} is in no row of {hosts.name}: export the hosts and the "
                    "unit services at the same time, from the same company"
                )
            values = _service_values(smap, c, problems)
            if problems:
                for message in problems:
                    rows.error(services, rec.line, "SNV804", message)
                result.skipped += 1
                continue
            pairs = service_pairs(c)
            service_ids[pid] = rec.line
            at = (services, rec.line)
            shown = smap.get(c, "template")
            seen("service-template", template, shown or template, where, *at, shown)
            for kind, f in (
                ("label", "labels_id"),
                ("time-period", "availability_period_id"),
                ("time-period", "check_period_id"),
                ("time-period", "notification_period_id"),
            ):
                for p, n in pairs.get(f, ()):
                    seen(kind, p, n, where, *at)
            values["labels"] = [p for p, _ in pairs.get("labels_id", ())]
            for aspect, f in PERIOD_FIELDS.items():
                found = pairs.get(f)
                if found:
                    values[f"{aspect}_period"] = found[0][0]
            by_pid[host].services.append(
                Service(rec.line, pid, name, host, template, values, services.name)
            )

    for h in host_list:
        for p in list(h.values.get("parents", ())):
            if p not in by_pid:
                rows.warning(
                    hosts,
                    h.line,
                    "SNV806",
                    f"parent host ID {p} is in no row of {hosts.name}: left out of 'parents'",
                )
                h.values["parents"].remove(p)

    # -- the tree ---------------------------------------------------------------------
    _break_cycles(names, parent_of, parent_line, rows, hosts)
    # a company that only appears as a parent (a client whose hosts are all on its
    # sites) has no row telling its own parent: below the export's one root, if one
    if len(roots) == 1:
        (root,) = roots
        for pid in names.names.get("node", {}):
            if pid != root and pid not in parent_of:
                parent_of[pid] = root
    tree = _tree(names, parent_of, partner_name, rows, hosts, host_list)
    for h in host_list:
        h.id = names.snavc_id("host", h.pid)
    return _emit(result, names, tree, host_list, catalog, first_seen, project_name, settings, hmap)


def _break_cycles(names: Names, parent_of: dict, parent_line: dict, rows, hosts: Table) -> None:
    """Companies whose parents lead back to themselves (rows exported at different
    times, or inconsistent): the product's companies form a tree, so the parent link
    given by the latest row of the cycle is left out, with a warning at that row, as
    other rows that disagree with earlier ones (SNV811). Cycles are found in the order
    of the rows, so the same exports always lose the same link."""
    for start in sorted(parent_of, key=lambda c: parent_line[c]):
        path, cur = [], start
        while cur in parent_of and cur not in path:
            path.append(cur)
            cur = parent_of[cur]
        if cur not in path:
            continue
        cycle = path[path.index(cur) :]
        child = max(cycle, key=lambda c: parent_line[c])
        i = cycle.index(child)
        loop = [*cycle[i:], *cycle[:i], child]
        shown = " -> ".join(f"'{names.name('node', c) or c}'" for c in loop)
        rows.warning(
            hosts,
            parent_line[child],
            "SNV811",
            f"parent companies form a cycle ({shown}); the product's companies form a tree, "
            f"so the parent of '{names.name('node', child) or child}' on this row is left "
            "out (the earlier rows are kept): check the tree after the import",
        )
        del parent_of[child]


def _host_values(cmap: ColumnMap, c: list[str], problems: list[str]) -> dict:
    v: dict = {}
    address = cmap.get(c, "address").strip()
    if address:
        v["address"] = address
    if cmap.has("category"):
        label = cmap.get(c, "category").strip()
        if label:
            value = cmap.category_value(label)
            if value is None:
                problems.append(
                    f"{cmap.headers['category']}: unknown category '{label}'; known: "
                    + ", ".join(cmap.categories.values())
                )
            else:
                v["category"] = value
    for f in ("function", "instructions"):
        text = cmap.get(c, f)
        if text.strip():
            v[f] = text
    _numbers(cmap, c, v, problems)
    return v


def _numbers(cmap: ColumnMap, c: list[str], v: dict, problems: list[str]) -> None:
    """A row's criticality, availability target and check interval into ``v``."""
    crit = _read(
        problems, cols.parse_criticality, cmap.get(c, "criticality"), cmap.headers["criticality"]
    )
    if crit is not None:
        v["criticality"] = crit
    target = _read(
        problems,
        cols.parse_target,
        cmap.get(c, "availability_target"),
        cmap.headers["availability_target"],
    )
    if target is not None:
        v["availability_target"] = target
    interval = _read(
        problems,
        cols.parse_interval,
        cmap.get(c, "check_interval"),
        cmap,
        cmap.headers["check_interval"],
    )
    if interval is not None:
        v["check_interval"] = interval


def _service_values(cmap: ColumnMap, c: list[str], problems: list[str]) -> dict:
    v: dict = {}
    _numbers(cmap, c, v, problems)
    thresholds = {}
    for f in ("warning", "critical"):
        text = cmap.get(c, f).strip()
        if text:
            thresholds[f] = text
    if thresholds:
        v["thresholds"] = thresholds
    if cmap.has("arguments"):
        args = _read(
            problems, cols.parse_arguments, cmap.get(c, "arguments"), cmap.headers["arguments"]
        )
        if args:
            v["arguments"] = args
    text = cmap.get(c, "instructions")
    if text.strip():
        v["instructions"] = text
    return v


@dataclass
class Node:
    pid: str
    id: str
    name: str
    kind: str  # Partner | Client | Site
    parent: str | None  # snavc ID
    folder: str


def _tree(
    names: Names, parent_of, partner_name, rows: _Rows, hosts: Table, host_list
) -> dict[str, Node]:
    """product company ID -> node. Roots are partners, their children clients, theirs
    sites; a deeper company is attached to its client (warning); without the parent
    columns every company is a client of one partner named ``partner_name``."""
    companies = names.names.get("node", {})
    out: dict[str, Node] = {}
    synthetic = not parent_of
    if synthetic:
        root_pid = "partner"
        while root_pid in companies:
            root_pid += "-root"
        names.add("node", root_pid, partner_name)

    def chain(pid: str) -> list[str]:
        path, cur = [pid], pid
        while True:
            nxt = root_pid if synthetic and cur != root_pid else parent_of.get(cur)
            if not nxt or nxt in path:
                return path[::-1]
            path.append(nxt)
            cur = nxt

    first_line = {}
    for h in host_list:
        first_line.setdefault(h.company, h.line)
    for pid in list(names.names.get("node", {})):
        path = chain(pid)
        depth = len(path) - 1
        sid = names.snavc_id("node", pid)
        name = names.name("node", pid) or pid
        if depth == 0:
            out[pid] = Node(pid, sid, name, "Partner", None, sid)
        elif depth == 1:
            out[pid] = Node(
                pid, sid, name, "Client", names.snavc_id("node", path[0]), f"clients/{sid}"
            )
        else:
            client = names.snavc_id("node", path[1])
            if depth > 2 and pid in first_line:
                rows.warning(
                    hosts,
                    first_line[pid],
                    "SNV805",
                    f"company '{name}' is a sub-site ({depth - 1} levels below its client): "
                    f"snavc's tree has one level of sites (rule N1); it becomes a site of '{client}'",
                )
            out[pid] = Node(pid, sid, name, "Site", client, f"clients/{client}/{sid}")
    return out


def _ancestors(tree_by_id: dict[str, Node], node_id: str) -> list[str]:
    out = []
    cur: str | None = node_id
    while cur is not None and cur not in out:
        out.append(cur)
        cur = tree_by_id[cur].parent if cur in tree_by_id else None
    return out


def _lca(tree_by_id: dict[str, Node], node_ids) -> str:
    paths = [list(reversed(_ancestors(tree_by_id, n))) for n in node_ids]
    common = paths[0]
    for p in paths[1:]:
        i = 0
        while i < min(len(common), len(p)) and common[i] == p[i]:
            i += 1
        common = common[:i]
    return common[-1] if common else paths[0][0]


def _emit(
    result, names, tree, host_list, catalog, first_seen, project_name, settings, hmap
) -> ImportResult:
    by_id = {n.id: n for n in tree.values()}
    partners = [n for n in tree.values() if n.kind == "Partner"]
    files: dict[str, list[str]] = {}

    def add(path: str, text: str) -> None:
        files.setdefault(path, []).append(text)

    def stub(kind, sid, name, pid, path, complete, key=None):
        result.stubs.append(
            Stub(kind, sid, name, pid, path, complete, first_seen.get(key or ("", ""), ""))
        )

    # users: one import user per partner (V1: its home must be above what it configures)
    users = {p.id: IMPORT_USER if len(partners) == 1 else f"{IMPORT_USER}-{p.id}" for p in partners}
    root_of = {n.id: _ancestors(by_id, n.id)[-1] for n in tree.values()}

    # -- nodes --------------------------------------------------------------------------
    for n in sorted(tree.values(), key=lambda n: n.folder):
        key = ("node", n.pid)
        if n.kind == "Partner":
            path = f"{n.folder}/partner.yaml"
            add(path, f"kind: Partner\nid: {_q(n.id)}\nname: {_q(n.name)}\n")
            add(
                path,
                "# the user `snavc import` configures everything as; rename it or set\n"
                "# configured_by to your own users\n"
                f"kind: User\nid: {users[n.id]}\nname: ServiceNav import\nat: {_q(n.id)}\nrole: partner-admin\n",
            )
            stub("Partner", n.id, n.name, n.pid if key in first_seen else None, path, "", key)
        elif n.kind == "Client":
            path = f"{n.folder}/client.yaml"
            add(
                path,
                f"kind: Client\nid: {_q(n.id)}\nname: {_q(n.name)}\nparent: {_q(n.parent)}\n"
                "mode: managed               # stub: the export does not say; check it (M1)\n",
            )
            stub("Client", n.id, n.name, n.pid, path, "mode (managed or resale), crm_ref", key)
        else:
            path = f"{n.folder}/site.yaml"
            add(path, f"kind: Site\nid: {_q(n.id)}\nname: {_q(n.name)}\nparent: {_q(n.parent)}\n")
            stub("Site", n.id, n.name, n.pid, path, "crm_ref", key)
    node_of = {pid: n.id for pid, n in tree.items()}

    # -- boxes: at the deepest node above every host they monitor (B1, B3) ------------
    # (the nodes in the order of the rows, not a set: with no common node, as for a box
    # monitoring hosts of two partners, the first row's decides, whatever the hash seed)
    box_nodes: dict[str, dict[str, None]] = {}
    for h in host_list:
        box_nodes.setdefault(h.box, {})[node_of[h.company]] = None
    for pid in sorted(box_nodes, key=lambda p: names.snavc_id("box", p)):
        at = _lca(by_id, box_nodes[pid])
        shared = by_id[at].kind == "Partner" and any(
            by_id[n].kind != "Partner" for n in box_nodes[pid]
        )
        sid, name = names.snavc_id("box", pid), names.name("box", pid) or pid
        path = f"{by_id[at].folder}/boxes.yaml"
        add(
            path,
            f"kind: Box\nid: {_q(sid)}\nname: {_q(name)}\nat: {_q(at)}\n"
            + ("shared: true                 # monitors hosts of clients (B3)\n" if shared else ""),
        )
        stub("Box", sid, name, pid, path, "check `at` and `shared`", ("box", pid))

    # -- time periods, labels, templates: at the partner ---------------------------
    def partner_of_first() -> Node:
        return partners[0]

    home = partner_of_first()
    for pid, name in sorted(
        names.names.get("time-period", {}).items(),
        key=lambda kv: names.snavc_id("time-period", kv[0]),
    ):
        sid = names.snavc_id("time-period", pid)
        if sid in catalog.periods:
            continue  # the product's own slot, in the shipped catalogue
        path = f"{home.folder}/periods.yaml"
        add(
            path,
            f"kind: TimePeriod\nid: {_q(sid)}\nname: {_q(name)}\nat: {_q(home.id)}\n"
            "ranges: {}                    # stub: copy the slot's days and hours from the product\n",
        )
        stub("TimePeriod", sid, name, pid, path, "ranges", ("time-period", pid))
    for pid, name in sorted(
        names.names.get("label", {}).items(), key=lambda kv: names.snavc_id("label", kv[0])
    ):
        sid = names.snavc_id("label", pid)
        path = f"{home.folder}/labels.yaml"
        add(path, f"kind: Label\nid: {_q(sid)}\nname: {_q(name)}\nat: {_q(home.id)}\n")
        stub("Label", sid, name, pid, path, "", ("label", pid))
    for pid, name in sorted(
        names.names.get("equipment-template", {}).items(),
        key=lambda kv: names.snavc_id("equipment-template", kv[0]),
    ):
        sid = names.snavc_id("equipment-template", pid)
        path = f"{home.folder}/templates.yaml"
        add(
            path,
            f"kind: EquipmentTemplate\nid: {_q(sid)}\nname: {_q(name)}\nat: {_q(home.id)}\n"
            f"configured_by: {users[home.id]}\n"
            "services: []                  # each host lists its unit services, as the export does\n",
        )
        stub(
            "EquipmentTemplate",
            sid,
            name,
            pid,
            path,
            "services, categories",
            ("equipment-template", pid),
        )

    # service templates: each field the value most of its services have; a service sets
    # only what differs (so an edit of the template in git reaches them all)
    by_template: dict[str, list[Service]] = {}
    for h in host_list:
        for s in h.services:
            by_template.setdefault(s.template, []).append(s)
    template_values: dict[str, dict] = {}
    for pid, name in sorted(
        names.names.get("service-template", {}).items(),
        key=lambda kv: names.snavc_id("service-template", kv[0]),
    ):
        sid = names.snavc_id("service-template", pid)
        members = by_template.get(pid, [])
        values, missing = {}, []
        for f in TEMPLATE_FIELDS:
            found = Counter(
                s.values[f] for s in members if s.values.get(f) is not None
            ).most_common()
            if found:
                top = max(c for _, c in found)
                values[f] = min((v for v, c in found if c == top), key=lambda v: (str(type(v)), v))
            elif f in STUB_DEFAULTS:
                values[f], _ = STUB_DEFAULTS[f], missing.append(f)
            else:
                values[f] = catalog.defaults.get("check" if f == "check_period" else "availability")
                missing.append(f)
        template_values[pid] = values
        arguments = sorted({a for s in members for a in (s.values.get("arguments") or {})})
        lines = [
            f"kind: ServiceTemplate\nid: {_q(sid)}\nname: {_q(name)}\nat: {_q(home.id)}\n",
            f"configured_by: {users[home.id]}\n",
        ]
        for f in TEMPLATE_FIELDS:
            v = values[f]
            if f.endswith("_period"):
                v = names.snavc_id("time-period", v) or v
            lines.append(
                f"{f}: {_q(v)}" + ("   # stub: no row gives it" if f in missing else "") + "\n"
            )
        if arguments:
            lines.append("arguments:\n" + "".join(f"  {_q(a)}: null\n" for a in arguments))
        path = f"{home.folder}/templates.yaml"
        add(path, "".join(lines))
        stub(
            "ServiceTemplate",
            sid,
            name,
            pid,
            path,
            "the check command" + (", " + ", ".join(missing) if missing else ""),
            ("service-template", pid),
        )

    # -- equipment ---------------------------------------------------------------
    for h in host_list:
        node = tree[h.company]
        at = node.id
        path = f"{node.folder}/equipment.yaml"
        add(
            path,
            _equipment(
                h, at, names, catalog, template_values, users, root_of, len(partners) > 1, hmap
            ),
        )
        result.hosts += 1
        result.services += len(h.services)

    # -- snav.yaml -------------------------------------------------------------------
    project = [
        "# Imported from ServiceNav exports by `snavc import` (docs/servicenav.md).\n",
        f"kind: Project\nname: {_q(project_name)}\n",
    ]
    if len(partners) == 1:
        project.append(f"default_user: {users[partners[0].id]}\n")
    sn = {k: v for k, v in settings.items() if k != "language"}
    project.append("servicenav:\n" + f"  language: {result.language}\n")
    for key, value in sn.items():
        project.append(f"  {key}: {json.dumps(value, ensure_ascii=False)}\n")
    files["snav.yaml"] = ["".join(project)]
    dropped: dict[str, int] = {}
    fitted = {}
    for path, docs in sorted(files.items()):
        kept = [d for d in (_fit(doc, dropped) for doc in docs) if d is not None]
        if kept:
            fitted[path] = "---\n".join(kept)
    result.files = fitted
    for what, count in sorted(dropped.items()):
        result.diagnostics.append(
            dg.warning(
                "SNV810",
                f"this snavc has no {what}: left out of {count} objects (the exports keep "
                "the values, and `snavc export` carries their cells over unchanged)",
                Location(hmap.source),
            )
        )
    result.stubs.sort(key=lambda s: (s.kind, s.id))
    return result


def _equipment(
    h: Host, at, names: Names, catalog, template_values, users, root_of, per_partner, hmap
) -> str:
    v = h.values
    out = [
        f"# from {hmap.source}:{h.line}\n",
        f"kind: Equipment\nid: {_q(h.id)}\nname: {_q(h.name)}\nservicenav_id: {json.dumps(h.pid)}\nat: {_q(at)}\n",
    ]
    if "address" in v:
        out.append(f"address: {_q(v['address'])}\n")
    if "category" in v:
        out.append(f"category: {v['category']}\n")
    templates = [names.snavc_id("equipment-template", p) for p in v.get("templates", ())]
    if len(templates) == 1:
        out.append(f"template: {_q(templates[0])}\n")
    elif templates:
        out.append(f"templates: {_flow(templates)}\n")
    out.append(f"box: {_q(names.snavc_id('box', h.box))}\n")
    if per_partner:
        out.append(f"configured_by: {users[root_of[at]]}\n")
    if "function" in v:
        out.append(f"function: {_q(v['function'])}\n")
    for f in ("criticality", "availability_target", "check_interval"):
        if f in v:
            out.append(f"{f}: {_q(v[f])}\n")
    periods = {
        a: names.snavc_id("time-period", p)
        for a, p in (v.get("periods") or {}).items()
        if names.snavc_id("time-period", p) != catalog.defaults.get(a)
    }
    if periods:
        out.append(
            "periods: {" + ", ".join(f"{a}: {_q(p)}" for a, p in sorted(periods.items())) + "}\n"
        )
    if v.get("parents"):
        out.append(f"parents: {_flow(names.snavc_id('host', p) or p for p in v['parents'])}\n")
    if v.get("labels"):
        out.append(f"labels: {_flow(names.snavc_id('label', p) for p in v['labels'])}\n")
    if "instructions" in v:
        out.append(f"instructions: {_q(v['instructions'])}\n")
    if h.services:
        out.append("services:\n")
        used: Counter = Counter(slug(s.name) or "service" for s in h.services)
        for s in h.services:
            base = slug(s.name) or "service"
            sname = base if used[base] == 1 else f"{base}-{slug(s.pid)}"
            out.append(_service(s, sname, names, catalog, template_values[s.template]))
    return "".join(out)


def _service(s: Service, sname: str, names: Names, catalog, tvalues: dict) -> str:
    v = s.values
    out = [
        f"  # from {s.source}:{s.line}\n",
        f"  - name: {_q(sname)}\n",
        f"    servicenav_id: {json.dumps(s.pid)}\n",
        f"    template: {_q(names.snavc_id('service-template', s.template))}\n",
    ]
    for f in TEMPLATE_FIELDS:
        if v.get(f) is None or v[f] == tvalues.get(f):
            continue
        value = names.snavc_id("time-period", v[f]) if f.endswith("_period") else v[f]
        out.append(f"    {f}: {_q(value)}\n")
    notify = v.get("notification_period")
    if notify is not None and names.snavc_id("time-period", notify) != catalog.defaults.get(
        "notification"
    ):
        out.append(f"    notification_period: {_q(names.snavc_id('time-period', notify))}\n")
    if v.get("arguments"):
        out.append(
            "    arguments: {"
            + ", ".join(f"{_q(k)}: {_q(x)}" for k, x in v["arguments"].items())
            + "}\n"
        )
    if v.get("thresholds"):
        out.append(
            "    thresholds: {"
            + ", ".join(f"{k}: {_q(x)}" for k, x in v["thresholds"].items())
            + "}\n"
        )
    if v.get("labels"):
        out.append(f"    labels: {_flow(names.snavc_id('label', p) for p in v['labels'])}\n")
    if "instructions" in v:
        out.append(f"    instructions: {_q(v['instructions'])}\n")
    return "".join(out)


class TargetError(Exception):
    """An output folder that is not empty."""


def write_repo(result: ImportResult, out: Path) -> None:
    """Write the imported repository into ``out``, which must be empty or absent.

    The files are written into a temporary sibling folder, flushed to the disk, and
    the folder renamed to ``out``: a full disk or a kill leaves no half repository
    (the temporary folder is removed, or swept by the next import)."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise TargetError(f"{out} exists and is not an empty folder: import into a new one")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary(out)
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        folders: set[Path] = set()
        for rel, text in result.files.items():
            path = tmp / rel
            if path.parent not in folders:
                path.parent.mkdir(parents=True, exist_ok=True)
                folders.add(path.parent)
            with open(path, "wb") as f:
                f.write(text.encode("utf-8"))
        tmp.mkdir(exist_ok=True)  # an import with no file at all
        # every file and folder flushed before the rename shows the repository: from
        # threads, whose flushes the file system joins into fewer journal commits (one
        # file after another, they were a fifth of a 100k import)
        folders |= {up for folder in folders for up in folder.parents if tmp in up.parents}
        synced = [tmp / rel for rel in result.files] + sorted(folders | {tmp}, reverse=True)
        with ThreadPoolExecutor(SYNC_THREADS) as pool:
            list(pool.map(_flush, synced))
        if out.exists():
            out.rmdir()  # empty, checked above
        crash_point("import")
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    sync_folder(out.parent)


SYNC_THREADS = 4


def _flush(path: Path) -> None:
    """Flush a file or a folder written just before to the disk (OSError if it cannot
    be opened, as the write itself would have said)."""
    if path.is_dir():
        sync_folder(path)
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_FROM = re.compile(r"^\s*# from (.+):(\d+)\s*$")


def origin_of(lines: list[str], line: int) -> tuple[str, int] | None:
    """The CSV row behind line ``line`` of an imported file: the nearest ``# from``
    comment above it (a unit service's own, else its equipment's)."""
    for i in range(min(line, len(lines)) - 1, -1, -1):
        m = _FROM.match(lines[i])
        if m:
            return m.group(1), int(m.group(2))
        if lines[i].startswith("---"):
            break
    return None


def check_imported(out: Path, result: ImportResult) -> list[Diagnostic]:
    """Validate the written repository; each problem is reported at the CSV row its
    object came from (SNV809), with the YAML place as a note: an equipment's or unit
    service's own row (its ``# from`` comment), or for a stub (a company, a box, a
    template...) the first row that named it. A problem with no row behind it keeps its
    YAML place, as a path from the current folder (``OUT/...``), as do the notes."""
    from ..engine.pipeline import compile_repo

    compiled, _ = compile_repo(out, keep=False, snapshot=False)
    texts: dict[str, list[str]] = {}
    stub_rows = {(s.file, s.kind, s.id): s.line for s in result.stubs if s.line}

    def here(loc: Location) -> Location:
        if loc.file is None or loc.file.startswith("<"):
            return loc
        return Location((Path(out) / loc.file).as_posix(), loc.line, loc.column, loc.message)

    found = []
    for d in compiled.diagnostics:
        origin = None
        if d.file is not None and d.line is not None and d.file in result.files:
            lines = texts.setdefault(d.file, result.files[d.file].splitlines())
            origin = origin_of(lines, d.line) or _stub_row(lines, d.line, d.file, stub_rows)
        if origin is None:
            from dataclasses import replace

            at = here(Location(d.file, d.line, d.column)) if d.file else None
            found.append(
                replace(
                    d,
                    file=at.file if at else d.file,
                    related=tuple(here(r) for r in d.related),
                )
            )
            continue
        make = dg.error if d.severity == "error" else dg.warning
        found.append(
            make(
                "SNV809",
                f"{d.message} [{d.code}{', rule ' + d.rule if d.rule else ''}]",
                Location(origin[0], origin[1]),
                related=(
                    here(Location(d.file, d.line, d.column, "in the imported repository")),
                    *(here(r) for r in d.related),
                ),
            )
        )
    return dg.sort(found)


def _stub_row(lines: list[str], line: int, file: str, stub_rows: dict) -> tuple[str, int] | None:
    """The row that first named the stub whose document holds line ``line``."""
    start = line - 1
    while start > 0 and not lines[start].startswith("---"):
        start -= 1
    end = line
    while end < len(lines) and not lines[end].startswith("---"):
        end += 1
    doc = lines[start:end]
    kind = next((x[6:].strip() for x in doc if x.startswith("kind: ")), None)
    ident = next((x[4:].strip().strip('"') for x in doc if x.startswith("id: ")), None)
    row = stub_rows.get((file, kind, ident))
    if not row:
        return None
    name, _, at = row.rpartition(":")
    return (name, int(at)) if at.isdigit() else None


def render_stubs(result: ImportResult) -> str:
    """The stubs to complete, by kind, as text."""
    if not result.stubs:
        return ""
    out = ["objects to complete (stubs made from what the exports name):"]
    kind = None
    counts = Counter(s.kind for s in result.stubs)
    for s in result.stubs:
        if s.kind != kind:
            kind = s.kind
            out.append(f"  {kind} ({counts[kind]})")
        sid = f" [ServiceNav ID {s.servicenav_id}]" if s.servicenav_id else ""
        todo = f": complete {s.complete}" if s.complete else ""
        out.append(f"    {s.id}{sid} '{s.name}' in {s.file}{todo}")
    return "\n".join(out) + "\n"


_KEY = re.compile(r"^( {4})?([a-z_]+):")
# The fields the import writes, per kind (beyond these, _fit has nothing to check).
EMITTED = {
    "Equipment": {
        "kind",
        "id",
        "name",
        "servicenav_id",
        "at",
        "address",
        "category",
        "template",
        "templates",
        "box",
        "configured_by",
        "function",
        "criticality",
        "availability_target",
        "check_interval",
        "periods",
        "parents",
        "labels",
        "instructions",
        "services",
    },
    "ServiceTemplate": {
        "kind",
        "id",
        "name",
        "at",
        "configured_by",
        "criticality",
        "availability_target",
        "availability_period",
        "check_period",
        "check_interval",
        "arguments",
    },
}
EMITTED_SERVICE = {
    "name",
    "servicenav_id",
    "template",
    "criticality",
    "availability_target",
    "availability_period",
    "check_period",
    "check_interval",
    "notification_period",
    "arguments",
    "thresholds",
    "labels",
    "instructions",
}


def _fit(doc: str, dropped: dict[str, int]) -> str | None:
    """A document without the fields (or the kind) the models of this snavc lack, so
    that the bridge works with whatever the product's objects snavc knows: each kind of
    loss is counted in ``dropped``."""
    from ..model import MODELS, UnitService

    m = re.search(r"^kind: (\w+)$", doc, re.M)
    kind = m.group(1) if m else None
    if kind not in MODELS:
        dropped[f"kind {kind}"] = dropped.get(f"kind {kind}", 0) + 1
        return None
    own, service = set(MODELS[kind].model_fields), set(UnitService.model_fields)
    if EMITTED.get(kind, set()) <= own and EMITTED_SERVICE <= service:
        return doc  # this snavc knows every field the import writes (the usual case)
    out, skipping, lost = [], False, set()
    for line in doc.splitlines(keepends=True):
        km = _KEY.match(line)
        if km:
            fields = service if km.group(1) else own
            skipping = km.group(2) not in fields and not line.startswith("  - ")
            if skipping:
                lost.add(f"field '{km.group(2)}' on {'unit services' if km.group(1) else kind}")
                continue
        elif skipping and line.startswith("  ") and not line.lstrip().startswith(("-", "#")):
            continue  # the block of a field left out
        else:
            skipping = False
        out.append(line)
    for what in lost:
        dropped[what] = dropped.get(what, 0) + 1
    return "".join(out)
