"""`snavc export`: a build -> the product's bulk-import CSVs, in a reference's layout.

The product imports a file whose columns and headers are exactly those of its own export,
in the language it was exported in; an empty cell clears a field, and related entities
(a box, a time slot, a label) are read from their ID columns only. So every file is
written *like* a reference export (``--like``): its header line, its column order, its
separator, quoting, line endings and BOM. A row of the reference whose object the build
has is written back byte for byte when no known field changed, and otherwise with only
the changed cells replaced (a cell whose value is unchanged keeps its text, "99,5" stays
"99,5"); columns snavc does not know are carried over from the reference row, so nothing
is cleared by accident. Objects new in the build get a row without an ID. Objects the
product has and the build lacks are never written (the import cannot delete): they are
listed.

The same field-by-field comparison serves `snavc drift` (:mod:`snavc.bridge.drift`).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .. import diagnostics as dg
from ..diagnostics import Diagnostic, Location
from ..engine.emit import line_key
from ..engine.faults import temporary
from ..review.diff import BuildError, json_type, shape_problem
from . import columns as cols
from .columns import ColumnMap
from .csvio import Table
from .ids import Names, slug
from .importer import Catalog, new_names, pairs_of

try:
    import orjson

    _loads = orjson.loads
except ImportError:  # pragma: no cover
    import json

    _loads = json.loads

MODES = ("both", "update", "create")
ASPECT_OF = {
    "availability_period_id": "availability",
    "check_period_id": "check",
    "notification_period_id": "notification",
}


class Unresolved(str):
    """A build's reference (a snavc ID) that no product ID is known for."""

    kind: str = ""


def _unresolved(kind: str, ident: str) -> Unresolved:
    u = Unresolved(ident)
    u.kind = kind
    return u


# The export's fields that hold an input field of the models; a snavc whose models lack
# one neither compares nor writes it (its cells are carried over from the reference).
MODEL_FIELDS = {
    "hosts": {
        "id": "servicenav_id",
        "address": "address",
        "category": "category",
        "templates_id": "templates",
        "function": "function",
        "criticality": "criticality",
        "availability_target": "availability_target",
        "check_interval": "check_interval",
        "parents_id": "parents",
        "labels_id": "labels",
        "instructions": "instructions",
    },
    "services": {
        "id": "servicenav_id",
        "warning": "thresholds",
        "critical": "thresholds",
        "arguments": "arguments",
        "labels_id": "labels",
        "instructions": "instructions",
    },
}


def _unsupported(entity: str) -> set[str]:
    from ..model import Equipment, UnitService

    fields = set((Equipment if entity == "hosts" else UnitService).model_fields)
    return {f for f, name in MODEL_FIELDS[entity].items() if name not in fields}


# -- reading the build -------------------------------------------------------------


class Equipment(Mapping):
    """``ID -> equipment`` of a build, each parsed when asked for and not kept: the
    build stays mapped, so an export holds one equipment at a time (as dicts, the 100k
    estate's equipment were 3.9 GB). Iteration is in ID order, as the build's lines are.

    An equipment that is not what ``snavc build`` writes (not an object, a field of
    another type) raises :class:`~snavc.review.diff.BuildError` naming the file, the
    equipment and the field, when it is read."""

    def __init__(self, build, path: str = "effective.json", inline: dict | None = None):
        self._data, self._at, self._path = build.data, {}, path
        self._checked: set[str] = set()  # (an export reads each equipment three times)
        self._inline = inline  # a section the file holds on one line (not snavc's layout)
        if inline is not None:
            self._at = dict.fromkeys(sorted(inline))
            return
        pos, end = build.spans.get("equipment", (0, 0))
        data = self._data
        try:
            while pos < end:
                nl = data.find(b"\n", pos, end)
                nl = end if nl < 0 else nl
                key = line_key(data[pos : data.find(b'":', pos, nl) + 2])
                self._at[key.decode()] = (pos, nl)
                pos = nl + 1
        except (ValueError, UnicodeDecodeError):
            raise _bad(
                path, f"a line of 'equipment' is not '\"ID\":{{...}}' (byte {pos})"
            ) from None

    def __getitem__(self, eq_id: str) -> dict:
        if self._inline is not None:
            value = self._inline[eq_id]
        else:
            start, end = self._at[eq_id]
            line = self._data[start:end]
            raw = line[line.index(b'":') + 2 :]
            try:
                value = _loads(raw[:-1] if raw.endswith(b",") else raw)
            except ValueError:
                raise _bad(self._path, f"equipment '{eq_id}' is not valid JSON") from None
        if eq_id not in self._checked:
            check_equipment(eq_id, value, self._path)
            self._checked.add(eq_id)
        return value

    def __iter__(self):
        return iter(self._at)

    def __len__(self) -> int:
        return len(self._at)


def _bad(path: str, what: str):
    return BuildError(f"{path} is not a snavc build: {what} (build it again with `snavc build`)")


def check_equipment(eq_id: str, eq, path: str = "effective.json") -> None:
    """Raise BuildError unless ``eq`` has the shape a build's equipment has (the
    review's table of it: review.diff.SHAPES)."""
    problem = shape_problem("equipment", eq)
    if problem is not None:
        raise _bad(path, f"equipment '{eq_id}' {problem}")


@dataclass
class Estate:
    """The build's equipment (parsed when read, in ID order), nodes, and unit services."""

    equipment: Mapping[str, dict]
    nodes: dict[str, dict]
    origins: object = None  # the build's origins.json (a review.diff.Build), if it has one
    _summary: tuple | None = field(default=None, init=False, repr=False, compare=False)

    def summary(self) -> tuple[dict[str, str | None], set]:
        """``(equipment -> its servicenav_id, the boxes the equipment use)``, read in one
        pass over the equipment and kept: both files' codecs need them."""
        if self._summary is None:
            pids, boxes = {}, set()
            for eq_id, eq in self.equipment.items():
                pids[eq_id] = eq.get("servicenav_id")
                boxes.add(eq.get("box"))
            self._summary = pids, boxes
        return self._summary

    def place(self, eq_id: str, path: str) -> tuple[str, int] | None:
        """Where in the repository the build took field ``path`` of equipment ``eq_id``
        from (``services.NAME.servicenav_id``...): ``(file, line)``, relative to the
        repository; None when the build does not say."""
        if self.origins is None:
            return None
        try:
            line = self.origins.line("explicit", f"equipment/{eq_id}")
            found = _loads(line[line.index(b'":') + 2 :].rstrip(b",")).get(path) if line else None
        except (ValueError, AttributeError):
            return None
        if isinstance(found, list) and len(found) == 3 and isinstance(found[2], int):
            return str(found[1]), found[2]
        return None


def read_estate(build_dir: str | Path) -> Estate:
    """The build in ``build_dir``; BuildError when it is missing or not a snavc build
    (a top level that is not an object, no 'equipment' or 'nodes' object, an equipment
    or a node of another shape)."""
    from ..review.diff import EFFECTIVE, read_build

    path = Path(build_dir) / EFFECTIVE
    shown = path.as_posix()
    _check_top(path, shown)
    build = read_build(build_dir)
    sections = {}
    for name in ("equipment", "nodes"):
        if name in build.spans:
            sections[name] = None  # one line per entry, as snavc writes it
        elif name not in build.small:
            raise _bad(shown, f"no '{name}' object")
        elif not isinstance(build.small[name], dict):
            raise _bad(shown, f"'{name}' is {json_type(build.small[name])}, not an object")
        else:
            sections[name] = build.small[name]
    equipment = Equipment(build, shown, sections["equipment"])
    if sections["nodes"] is not None:
        nodes = sections["nodes"]
    else:
        try:
            nodes = {k: _loads(v) for k, v in build.raw("nodes").items()}
        except ValueError:
            raise _bad(shown, "a line of 'nodes' is not valid JSON") from None
    for node_id, node in nodes.items():
        problem = shape_problem("nodes", node)
        if problem is not None:
            raise _bad(shown, f"node '{node_id}' {problem}")
        if node["kind"] not in ("partner", "client", "site"):
            raise _bad(shown, f"node '{node_id}': 'kind' is '{node['kind']}'")
    return Estate(equipment, nodes, build.origins)


def _check_top(path: Path, shown: str) -> None:
    """A top level that is not an object (``[]``, ``5``) is no build (read_build is
    left to report a missing or unreadable file)."""
    try:
        with open(path, "rb") as f:
            head = f.read(4096).lstrip(b" \t\r\n\xef\xbb\xbf")
    except OSError:
        return
    if not head.startswith(b"{"):
        raise _bad(shown, "its top level is not a JSON object")


# -- the codec: one field, three forms (cell text, canonical value, snavc value) ------


def names_of(tables: list[tuple[Table, ColumnMap]], catalog: Catalog | None = None) -> Names:
    """Every related object the exports name, as the import saw them."""
    names = new_names(catalog or Catalog.shipped())
    for table, cmap in tables:
        related = [
            (id_field, name_field, kind)
            for id_field, (name_field, kind) in cols.RELATED[cmap.entity].items()
            if kind != "host" and cmap.has(id_field)
        ]
        seen: set[tuple] = set()  # (the same company, period, template on row after row)
        for rec in table.records:
            c = rec.cells
            if cmap.entity == "hosts":
                names.add("host", cmap.get(c, "id"), cmap.get(c, "name"))
            for id_field, name_field, kind in related:
                cells = (id_field, cmap.get(c, id_field), cmap.get(c, name_field))
                if cells in seen:
                    continue  # (Names.add again would change nothing: the first name wins)
                seen.add(cells)
                for pid, name in pairs_of(cmap, cells[1], cells[2]):  # (as the import reads them)
                    names.add(kind, pid, name)
    return names


class Codec:
    """Cells of one entity's export <-> canonical values, for the product's rows and
    for the build's objects. Related objects are canonical as product IDs."""

    def __init__(self, cmap: ColumnMap, names: Names, estate: Estate, catalog: Catalog):
        self.cmap, self.names, self.estate, self.catalog = cmap, names, estate, catalog
        self._reverse: dict[str, dict[str, str]] = {}
        self.host_pid = estate.summary()[0]
        self.skip = _unsupported(cmap.entity)
        self._known_hosts: set[str] | None = None
        self._known: dict[str, set] | None = None  # (renamed) the build's nodes and boxes
        self._parsers: dict = {}  # field -> its cells' reader (parse)

    @functools.cached_property
    def host_of_pid(self) -> dict:
        """servicenav_id -> equipment (the reverse of ``host_pid``)."""
        return {pid: eid for eid, pid in self.host_pid.items()}

    def pid(self, kind: str, ident: str | None):
        if ident is None:
            return None
        if kind not in self._reverse:
            self._reverse[kind] = self.names.reverse(kind)
        found = self._reverse[kind].get(ident)
        return found if found is not None else _unresolved(kind, ident)

    # the company and the box of a host, told by their names (the build holds no product
    # ID of theirs): a row whose own company or box goes by a name the build has no
    # node or box of, while the build's maps to another product object, is a rename in
    # the product (and maybe a new object under the old name), not a move in git
    _RENAMES = (
        ("company_id", "node", "company", "at"),
        ("collector_id", "box", "collector", "box"),
    )

    def renamed(self, cells: list[str], values: dict, eq) -> str | None:
        """Why the row of ``cells`` cannot be paired with the build's ``values`` (of the
        equipment ``eq``) by the names of its company and box (a rename in the product),
        or None."""
        if self.cmap.entity != "hosts":
            return None
        if self._known is None:
            self._known = {"node": set(self.estate.nodes), "box": self.estate.summary()[1]}
        known = self._known
        for f, kind, word, held in self._RENAMES:
            if f not in self.cmap.positions:
                continue
            theirs = self.cmap.get(cells, f).strip()
            ours = values.get(f)
            if not theirs or isinstance(ours, Unresolved) or ours in (None, theirs):
                continue
            sid = self.names.snavc_id(kind, theirs)
            if sid in known[kind]:
                continue  # a node or box of the build: a move git asks for
            return (
                f"its {word} in the product is {theirs} '{self.names.name(kind, theirs)}', which "
                f"the build has no {kind} of, and the build's {kind} '{eq.get(held)}' now "
                f"names the product's {word} {ours} '{self.names.name(kind, ours)}': renamed in the "
                f"product? Rename the {kind} in the repository (or import the export again) "
                "rather than move the host"
            )
        return None

    # the product's side
    def product(self, cells: list[str], problems: list[str] | None = None) -> dict:
        """A row's canonical values; a cell that cannot be read is ``("?", text)`` (it
        differs from anything snavc gives), and why is added to ``problems``."""
        m, out = self.cmap, {}
        for f in m.positions:
            text = cells[m.positions[f]]
            try:
                out[f] = self.parse(f, text)
            except cols.ValueError_ as e:
                out[f] = ("?", text)
                if problems is not None:
                    problems.append(str(e))
        return out

    def parse(self, f: str, text: str):
        """The canonical value of field ``f``'s cell ``text``; cols.ValueError_ when it
        cannot be read."""
        parser = self._parsers.get(f)
        if parser is None:
            parser = self._parsers[f] = self._parser(f)
        return parser(text)

    def _parser(self, f: str):
        """Field ``f``'s cell text -> its canonical value. Those of the fields that
        repeat the same few texts down a column (periods, templates, numbers) remember
        their answers: an export reads each of its million cells."""
        m = self.cmap
        what = m.headers.get(f, f)
        if f in ("id", "warning", "critical", "address") or f.endswith("_id") and f not in _LISTS:
            return _stripped
        if f == "name" and m.entity == "services":
            return lambda text: slug(text) or None
        if f == "criticality":
            read = functools.partial(cols.parse_criticality, what=what)
        elif f == "availability_target":
            read = functools.partial(cols.parse_target, what=what)
        elif f == "check_interval":
            read = functools.partial(cols.parse_interval, cmap=m, what=what)
        elif f == "category":
            read = lambda text: m.category_value(text) if text.strip() else None  # noqa: E731
        elif f == "arguments":
            read = lambda text: tuple(sorted(cols.parse_arguments(text, what).items()))  # noqa: E731
        elif f in ("labels_id", "parents_id"):  # sets: their order means nothing
            read = lambda text: tuple(sorted(cols.parse_list(text, m)))  # noqa: E731
        elif f == "templates_id":  # in order (H2)
            read = lambda text: tuple(cols.parse_list(text, m))  # noqa: E731
        else:
            return _as_text
        known: dict = {}

        def remembered(text: str):
            value = known.get(text, known)
            if value is known:
                value = known[text] = read(text)  # (a cell that cannot be read raises)
            return value

        return remembered

    # the build's side
    def host(self, eq_id: str, eq: dict) -> dict:
        out: dict = {}
        at = eq.get("at")
        templates = eq.get("templates")
        if templates is None:
            templates = [eq["template"]] if eq.get("template") else []
        periods = eq.get("periods") or {}
        out["id"] = eq.get("servicenav_id")
        out["name"] = eq.get("name") or eq_id
        out["address"] = eq.get("address")
        out["company_id"] = self.pid("node", at)
        # the parent company columns only tell the import the tree: a company's place in
        # the product's tree is not a host's field, so they are carried over unchanged
        out["collector_id"] = self.pid("box", eq.get("box"))
        out["category"] = eq.get("category")
        out["templates_id"] = tuple(self.pid("equipment-template", t) for t in templates)
        out["function"] = eq.get("function")
        out["criticality"] = eq.get("criticality")
        out["availability_target"] = eq.get("availability_target")
        for f, aspect in ASPECT_OF.items():
            p = periods.get(aspect) or {}
            out[f] = self.pid("time-period", p.get("id")) if p.get("id") else None
        out["check_interval"] = eq.get("check_interval")
        out["parents_id"] = tuple(
            sorted(self.host_pid.get(p) or _unresolved("host", p) for p in eq.get("parents") or ())
        )
        out["labels_id"] = tuple(sorted(self.pid("label", x) for x in eq.get("labels") or ()))
        out["instructions"] = eq.get("instructions")
        return {k: v for k, v in out.items() if k not in self.skip}

    def service(self, eq_id: str, eq: dict, name: str, s: dict) -> dict:
        thresholds = s.get("thresholds") or {}
        out = {
            "id": s.get("servicenav_id"),
            "name": name,
            "host_id": eq.get("servicenav_id") or _unresolved("host", eq_id),
            "company_id": self.pid("node", eq.get("at")),
            "template_id": self.pid("service-template", s.get("template")),
            "criticality": s.get("criticality"),
            "availability_target": s.get("availability_target"),
            "availability_period_id": self.pid("time-period", s.get("availability_period")),
            "check_period_id": self.pid("time-period", s.get("check_period")),
            "notification_period_id": self.pid("time-period", s.get("notification_period")),
            "check_interval": s.get("check_interval"),
            "warning": thresholds.get("warning"),
            "critical": thresholds.get("critical"),
            "arguments": tuple(
                sorted((k, v) for k, v in (s.get("arguments") or {}).items() if v is not None)
            ),
            "labels_id": tuple(sorted(self.pid("label", x) for x in s.get("labels") or ())),
            "instructions": s.get("instructions"),
        }
        return {k: v for k, v in out.items() if k not in self.skip}

    def carried(self, f: str, product, git):
        """``git``, with the parent host IDs of the product's row that neither the build
        nor the exports know carried over: import left them out (SNV806, the parent is
        in no row), so the build cannot hold them, and writing the row without them
        would clear them in the product."""
        if f != "parents_id" or not isinstance(product, tuple) or product[:1] == ("?",):
            return git
        if self._known_hosts is None:
            self._known_hosts = {p for p in self.host_pid.values() if p} | set(
                self.names.names.get("host", {})
            )
        unknown = [p for p in product if p not in self._known_hosts]
        return tuple(sorted({*git, *unknown})) if unknown else git

    def same(self, f: str, product, git, eq: dict | None = None) -> bool:
        if isinstance(product, tuple) and product[:1] == ("?",):
            return False  # a cell that cannot be read (Codec.product)
        if f in ASPECT_OF and self.cmap.entity == "hosts" and product is None and eq is not None:
            # a period the build takes from a default, where the product shows none
            p = (eq.get("periods") or {}).get(ASPECT_OF[f]) or {}
            if p.get("from") != "explicit":
                return True
        if (
            product is None
            and eq is not None
            and self.cmap.entity == "services"
            and f in TEMPLATE_FIELD
            and TEMPLATE_FIELD[f] not in eq.get("explicit", (TEMPLATE_FIELD[f],))
        ):
            return True  # the product shows none where the service takes its template's
        if isinstance(product, float) or isinstance(git, float):
            return product is not None and git is not None and float(product) == float(git)
        if f in ("function", "instructions") and not product and not git:
            return True
        if f == "name" and self.cmap.entity == "services" and isinstance(git, str) and product:
            # two services of one name on a host were told apart with their product ID
            return git == product or git.startswith(f"{product}-")
        return product == git

    def render(self, f: str, value, estate_name: str | None = None) -> str:
        m = self.cmap
        if value is None:
            return ""
        if f == "criticality":
            return str(value)
        if f == "availability_target":
            return cols.render_number(float(value), m.decimal)
        if f == "check_interval":
            return cols.render_interval(value, m)
        if f == "category":
            return m.categories.get(value, value)
        if f == "arguments":
            return cols.render_arguments(dict(value))
        if isinstance(value, tuple):
            return cols.render_list(value, m)
        return str(value)

    def render_like(self, f: str, value, text: str) -> str:
        """:meth:`render`, the arguments in the order of the product's cell ``text`` (those
        the build adds after them): one changed argument changes one pair of the cell,
        not its order."""
        if f != "arguments" or not value:
            return self.render(f, value)
        try:
            order = list(cols.parse_arguments(text, f))
        except cols.ValueError_:
            return self.render(f, value)
        ours = dict(value)
        keys = [k for k in order if k in ours] + sorted(k for k in ours if k not in order)
        return cols.render_arguments({k: ours[k] for k in keys})

    def name_cell(self, id_field: str, value) -> str:
        """The informational name column of a related ID column."""
        name_field, kind = cols.RELATED[self.cmap.entity][id_field]
        if value is None:
            return ""
        if kind == "node":
            return self.names.name("node", value) or self._node_name(value)
        if kind == "host":
            if isinstance(value, tuple):
                return cols.render_list([self.names.name("host", v) or v for v in value], self.cmap)
            return self.names.name("host", value) or value
        if isinstance(value, tuple):
            return cols.render_list([self.names.name(kind, v) or v for v in value], self.cmap)
        return self.names.name(kind, value) or value

    def _node_name(self, pid: str) -> str:
        return pid


# -- the export ---------------------------------------------------------------------


@dataclass
class FileResult:
    name: str
    entity: str
    data: bytes = b""
    unchanged: int = 0
    updated: int = 0
    created: int = 0
    left_out: list[dict] = field(default_factory=list)  # in the product, not in the build


@dataclass
class ExportResult:
    files: list[FileResult] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not dg.has_errors(self.diagnostics)


class BindError(Exception):
    """Exports that cannot be used together: ``diagnostics`` (SNV802) says why."""

    def __init__(self, diagnostics: list[Diagnostic]):
        super().__init__("; ".join(d.message for d in diagnostics))
        self.diagnostics = diagnostics


def bind(tables: list[Table], settings: dict | None) -> list[tuple[Table, ColumnMap]]:
    """Each table with its column map. Raises :class:`BindError` listing every table whose
    header matches no map, or that is a second export of an entity (SNV802, at line 1):
    two hosts exports would claim the same objects, as import refuses them."""
    out, problems, first = [], [], {}
    for t in tables:
        try:
            cmap = cols.detect(t.header, settings)
        except cols.ColumnMapError as e:
            problems.append(dg.error("SNV802", str(e), Location(t.name, 1)))
            continue
        if cmap.entity in first:
            problems.append(
                dg.error(
                    "SNV802",
                    f"a second {cmap.entity} export (the first is {first[cmap.entity]}): "
                    "give one of each",
                    Location(t.name, 1),
                )
            )
            continue
        first[cmap.entity] = t.name
        cmap.source = t.name
        out.append((t, cmap))
    if problems:
        raise BindError(problems)
    return out


def repeated_ids(table: Table, cmap: ColumnMap) -> list[Diagnostic]:
    """SNV804 for each row whose ID repeats an earlier row's, as import reports it: two
    rows for one object would be matched once, and the other one mistaken for an
    object the build lacks."""
    what = "host" if cmap.entity == "hosts" else "unit service"
    first: dict[str, int] = {}
    out = []
    for rec in table.records:
        rid = cmap.get(rec.cells, "id").strip()
        if not rid:
            continue
        if rid in first:
            out.append(
                dg.error(
                    "SNV804",
                    f"{what} ID {rid} already on line {first[rid]}: one row per {what}",
                    Location(table.name, rec.line),
                )
            )
        else:
            first[rid] = rec.line
    return out


# a unit service's columns that its template gives when the service sets none -> that
# field (the effective service's "explicit" names those set on the service itself)
TEMPLATE_FIELD = {
    "criticality": "criticality",
    "availability_target": "availability_target",
    "check_interval": "check_interval",
    "availability_period_id": "availability_period",
    "check_period_id": "check_period",
    "warning": "thresholds",
    "critical": "thresholds",
    "arguments": "arguments",
    "instructions": "instructions",
}


# the related fields that hold lists (Codec._parser)
_LISTS = ("labels_id", "parents_id", "templates_id")


def _stripped(text: str):
    return text.strip() or None


def _as_text(text: str):
    return text if text.strip() else None


def git_rows(codec: Codec, estate: Estate):
    """``(key, name shown, canonical values, equipment)`` of every build object of the
    codec's entity, in ID order (unit services by equipment, then name)."""
    for eq_id, eq in estate.equipment.items():
        # what is kept of the equipment for later: its node and periods (not its services)
        kept = {"at": eq.get("at"), "periods": eq.get("periods"), "box": eq.get("box")}
        if codec.cmap.entity == "hosts":
            yield eq_id, codec.host(eq_id, eq), kept
        else:
            for name, s in (eq.get("services") or {}).items():
                own = {**kept, "explicit": s.get("explicit") or ()}
                yield f"{eq_id}/{name}", codec.service(eq_id, eq, name, s), own


def match(codec: Codec, table: Table, estate: Estate):
    """Pair the build's objects with the reference rows: by ServiceNav ID, else (an
    object created since, whose ID git does not hold yet) by name where the row's name
    and company (host) are the same and no other object claims the row.

    Returns ``(pairs, git_only, product_only)``: pairs ``(key, values, eq, record)``.
    """
    m = codec.cmap
    by_id = {}
    for rec in table.records:
        by_id.setdefault(m.get(rec.cells, "id").strip(), rec)
    pairs, git_only, claimed = [], [], set()
    pending = []
    for key, values, eq in git_rows(codec, estate):
        sid = values.get("id")
        if sid and sid in by_id:
            pairs.append((key, values, eq, by_id[sid]))
            claimed.add(sid)
        else:
            pending.append((key, values, eq))
    if pending:
        scope = "company_id" if m.entity == "hosts" else "host_id"
        by_name: dict[tuple, list] = {}
        for rec in table.records:
            rid = m.get(rec.cells, "id").strip()
            if rid in claimed:
                continue
            name = codec.parse("name", m.get(rec.cells, "name"))
            by_name.setdefault((name, m.get(rec.cells, scope).strip()), []).append(rec)
        for key, values, eq in pending:
            found = by_name.get((values["name"], values.get(scope)), [])
            if not values.get("id") and len(found) == 1:
                pairs.append((key, values, eq, found[0]))
                claimed.add(m.get(found[0].cells, "id").strip())
                found.clear()
            else:
                git_only.append((key, values, eq))
    product_only = [rec for rec in table.records if m.get(rec.cells, "id").strip() not in claimed]
    return pairs, git_only, product_only


def export(
    build_dir: str | Path,
    references: list[Table],
    settings: dict | None = None,
    mode: str = "both",
    changed_only: bool = False,
    catalog: Catalog | None = None,
    estate: Estate | None = None,
) -> ExportResult:
    """One CSV per reference table, laid out like it (nothing is written here)."""
    catalog = catalog or Catalog.shipped()
    estate = estate or read_estate(build_dir)
    bound = bind(references, settings)
    names = names_of(bound, catalog)
    result = ExportResult()
    for table in references:
        for line, message in table.problems:
            result.diagnostics.append(
                dg.error(
                    "SNV803",
                    f"row cannot be read: {message}; the export would lose it, so nothing is "
                    "written: fix the reference (export it again from the product)",
                    Location(table.name, line),
                )
            )
    repeated = [d for table, cmap in bound for d in repeated_ids(table, cmap)]
    if repeated:  # (matching would mistake a repeated row for one the build lacks)
        result.diagnostics += repeated
        return result
    for table, cmap in bound:
        result.files.append(
            _export_one(table, cmap, names, estate, catalog, mode, result, changed_only)
        )
    return result


def _export_one(
    table, cmap, names, estate, catalog, mode, result, changed_only=False
) -> FileResult:
    from . import csvio

    codec = Codec(cmap, names, estate, catalog)
    out = FileResult(table.name, cmap.entity)
    pairs, git_only, product_only = match(codec, table, estate)
    kind = "equipment" if cmap.entity == "hosts" else "unit-service"
    rows: list = []
    updates = {id(rec): (key, values, eq) for key, values, eq, rec in pairs}
    for rec in table.records:
        found = updates.get(id(rec))
        if found is None:
            m = cmap
            out.left_out.append(
                {
                    "id": m.get(rec.cells, "id"),
                    "name": m.get(rec.cells, "name"),
                    "line": rec.line,
                }
            )
            continue
        if mode == "create":
            continue
        key, values, eq = found
        why = codec.renamed(rec.cells, values, eq)
        if why is not None:
            result.diagnostics.append(
                dg.error("SNV804", f"{kind} '{key}': {why}", Location(table.name, rec.line))
            )
            continue
        cells, changed = _cells(codec, rec.cells, values, eq, key, kind, table, result)
        if cells is None:
            continue
        if changed:
            rows.append(cells)
            out.updated += 1
        else:
            if not changed_only:
                rows.append(rec.raw)
            out.unchanged += 1
    if mode != "update":
        width = len(table.header)
        parents = _parent_companies(cmap, table)
        for key, values, eq in git_only:
            if values.get("id"):
                # no row of the file is about it: the place is the file, and the note
                # the line of the repository that gives the ID, when the build says
                eq_id, _, name = key.partition("/")
                field = f"services.{name}.servicenav_id" if name else "servicenav_id"
                place = estate.place(eq_id, field)
                result.diagnostics.append(
                    dg.warning(
                        "SNV808",
                        f"{kind} '{key}' has servicenav_id {values['id']}, which is in no row of "
                        f"{table.name}: left out (deleted in the product? export again, or clear "
                        "its servicenav_id to create it anew)",
                        Location(table.name),
                        related=(
                            (Location(place[0], place[1], None, "in the repository built"),)
                            if place
                            else ()
                        ),
                    )
                )
                continue
            cells, _ = _cells(codec, [""] * width, values, eq, key, kind, table, result, new=True)
            if cells is not None:
                _parent_company_like(cmap, parents, cells)
                rows.append(cells)
                out.created += 1
    for item in out.left_out:
        result.diagnostics.append(
            dg.warning(
                "SNV808",
                f"{kind} {item['id']} '{item['name']}' is in the product, not in the build: not "
                "written (the import cannot delete; delete it in the product if it must go)",
                Location(table.name, item["line"]),
            )
        )
    out.data = csvio.write(table.layout, table.header_raw, rows)
    return out


def _cells(codec: Codec, ref: list[str], values: dict, eq, key, kind, table, result, new=False):
    """The row's cells with the build's values where they differ from the reference's;
    ``(None, False)`` when the build refers to an object the product has no ID for."""
    m = codec.cmap
    cells = list(ref)
    changed = False
    missing, unreadable = [], []
    for f, i in m.positions.items():
        if f == "id" or f not in values:
            continue
        if not new:
            try:
                product = codec.parse(f, ref[i])
            except cols.ValueError_ as e:
                unreadable.append(str(e))
                continue
        else:
            product = None
        if f in cols.RELATED[m.entity] or f.endswith("_id"):
            git = values[f]
            bad = [
                v for v in (git if isinstance(git, tuple) else (git,)) if isinstance(v, Unresolved)
            ]
            if bad:
                missing += [(v.kind, str(v)) for v in bad]
                continue
        git = codec.carried(f, product, values[f])
        if not new and product == git:  # (most cells: what Codec.same says of equal values)
            continue
        try:
            same = not new and codec.same(f, product, git, eq)
        except TypeError:
            same = False
        if same:
            continue
        cells[i] = codec.render(f, git) if new else codec.render_like(f, git, ref[i])
        changed = True
        name_field = cols.RELATED[m.entity].get(f, (None,))[0]
        if name_field and name_field in m.positions:
            cells[m.positions[name_field]] = codec.name_cell(f, git)
    if unreadable:
        # replacing a cell snavc cannot read could lose what the product holds
        result.diagnostics.append(
            dg.error(
                "SNV804",
                "; ".join(unreadable) + ": the export would replace a cell it cannot read, "
                "so nothing is written (fix the reference, or the servicenav settings)",
                Location(table.name, _line_of(table, ref)),
            )
        )
        return None, False
    if missing:
        what = ", ".join(f"{k} '{i}'" for k, i in sorted(set(missing)))
        result.diagnostics.append(
            dg.error(
                "SNV807",
                f"{kind} '{key}' refers to {what}, which no row of the reference exports "
                "names: the product has no ID for it. Create it in the product (or import "
                "the hosts first), export again, then run `snavc export`",
                Location(table.name, None if new else _line_of(table, ref)),
            )
        )
        return None, False
    return cells, changed


_PARENT_COLUMNS = ("parent_company", "parent_company_id")


def _parent_companies(cmap, table: Table) -> dict[str, list[str]]:
    """Company ID -> the parent-company cells of its first reference row (hosts only),
    for new hosts' rows: the tree's columns are no host's field, so the build has none,
    and left empty the new row would be the only one of its company without them."""
    wanted = [cmap.positions[f] for f in _PARENT_COLUMNS if f in cmap.positions]
    if cmap.entity != "hosts" or "company_id" not in cmap.positions or not wanted:
        return {}
    out: dict[str, list[str]] = {}
    for rec in table.records:
        out.setdefault(cmap.get(rec.cells, "company_id").strip(), [rec.cells[i] for i in wanted])
    return out


def _parent_company_like(cmap, parents: dict, cells: list[str]) -> None:
    """Fill a new host's empty parent-company cells from ``parents`` (_parent_companies)."""
    wanted = [cmap.positions[f] for f in _PARENT_COLUMNS if f in cmap.positions]
    found = parents.get(cells[cmap.positions["company_id"]].strip()) if parents else None
    if found is not None and not any(cells[i] for i in wanted):
        for i, text in zip(wanted, found, strict=True):
            cells[i] = text


def _line_of(table: Table, cells: list[str]) -> int | None:
    for rec in table.records:
        if rec.cells is cells:
            return rec.line
    return None


def write_files(result: ExportResult, out: Path) -> list[Path]:
    """Write every file of ``result`` into ``out``, all or none: each is written to its
    temporary (``.NAME.PID`` beside it) first, and only when all are written are they
    renamed into place. A file that cannot be written (a full disk, a folder where the
    file goes) replaces nothing; the OSError raised names the target, not the temporary.
    """
    import errno
    import os

    out.mkdir(parents=True, exist_ok=True)
    staged: list[tuple[Path, Path]] = []
    try:
        for f in result.files:
            path = out / f.name
            if path.is_dir():  # os.replace would fail only after the others were renamed
                raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
            tmp = temporary(path)
            staged.append((tmp, path))
            try:
                with open(tmp, "wb") as fh:
                    fh.write(f.data)
            except OSError as e:
                raise type(e)(e.errno, e.strerror, str(path)) from None
        for tmp, path in staged:
            try:
                os.replace(tmp, path)
            except OSError as e:
                raise type(e)(e.errno, e.strerror, str(path)) from None
    finally:
        for tmp, _path in staged:
            tmp.unlink(missing_ok=True)  # (renamed ones are gone already)
    return [path for _tmp, path in staged]
