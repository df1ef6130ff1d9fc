"""The column maps: which header of the product's export holds which field.

The product does not publish its export's header list; it documents "Company Name",
"Collector name" (the box) and an ID column, and says that headers follow the UI
language. The shipped maps below are snavc's **assumption** for the other labels, for
the English and French UIs (docs/servicenav.md). A partner adjusts them from a real
export's header line in ``snav.yaml`` (``Project.servicenav``)::

    servicenav:
      columns:
        hosts: {address: "Adresse IP"}       # field -> header, over the shipped map
      categories: {server: "Serveur physique"}

A field is a snavc notion (``address``, ``collector_id``...); related entities come in
pairs, a name column (informational: the product ignores it on import) and an ID column
(the one the import reads).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..model import MAX_CHECK_INTERVAL

ENTITIES = ("hosts", "services")
LANGUAGES = ("en", "fr")

# field -> (English header, French header), in the order of the fabricated exports.
# Hosts and unit services share the company, the service-level fields and the tags.
_COMPANY = {
    "company": ("Company Name", "Nom de la société"),
    "company_id": ("Company ID", "ID de la société"),
}
_LEVELS = {
    "criticality": ("Criticality", "Criticité"),
    "availability_target": ("Target availability rate", "Taux de disponibilité cible"),
    "availability_period": ("Availability time slot", "Plage horaire de disponibilité"),
    "availability_period_id": (
        "Availability time slot ID",
        "ID de la plage horaire de disponibilité",
    ),
    "check_period": ("Control time slot", "Plage horaire de contrôle"),
    "check_period_id": ("Control time slot ID", "ID de la plage horaire de contrôle"),
    "notification_period": ("Notification time slot", "Plage horaire de notification"),
    "notification_period_id": (
        "Notification time slot ID",
        "ID de la plage horaire de notification",
    ),
    "check_interval": ("Check interval (min)", "Intervalle de contrôle (min)"),
}
_TAGS = {
    "labels": ("Labels", "Étiquettes"),
    "labels_id": ("Label IDs", "ID des étiquettes"),
    "instructions": ("Instructions", "Consignes"),
}

HOST_COLUMNS: dict[str, tuple[str, str]] = {
    "id": ("ID", "ID"),
    "name": ("Name", "Nom"),
    "address": ("IP address or DNS name", "Adresse IP ou nom DNS"),
    **_COMPANY,
    "parent_company": ("Parent company name", "Nom de la société parente"),
    "parent_company_id": ("Parent company ID", "ID de la société parente"),
    "collector": ("Collector name", "Nom du collecteur"),
    "collector_id": ("Collector ID", "ID du collecteur"),
    "category": ("Category", "Catégorie"),
    "templates": ("Host templates", "Modèles d'équipement"),
    "templates_id": ("Host template IDs", "ID des modèles d'équipement"),
    "function": ("Function", "Fonction"),
    **_LEVELS,
    "parents": ("Parent hosts", "Équipements parents"),
    "parents_id": ("Parent host IDs", "ID des équipements parents"),
    **_TAGS,
}

SERVICE_COLUMNS: dict[str, tuple[str, str]] = {
    "id": ("ID", "ID"),
    "name": ("Name", "Nom"),
    "host": ("Host name", "Nom de l'équipement"),
    "host_id": ("Host ID", "ID de l'équipement"),
    **_COMPANY,
    "template": ("Service template", "Modèle de service"),
    "template_id": ("Service template ID", "ID du modèle de service"),
    **_LEVELS,
    "warning": ("Warning threshold", "Seuil d'avertissement"),
    "critical": ("Critical threshold", "Seuil critique"),
    "arguments": ("Arguments", "Arguments"),
    **_TAGS,
}

SHIPPED = {"hosts": HOST_COLUMNS, "services": SERVICE_COLUMNS}

# Columns without which a file cannot be read as that entity.
REQUIRED = {
    "hosts": ("id", "name", "company", "company_id", "collector", "collector_id"),
    "services": ("id", "name", "host_id", "template", "template_id"),
}

# Related entities: ID column -> its name column, and the kind the IDs refer to.
RELATED = {
    "hosts": {
        "company_id": ("company", "node"),
        "parent_company_id": ("parent_company", "node"),
        "collector_id": ("collector", "box"),
        "templates_id": ("templates", "equipment-template"),
        "availability_period_id": ("availability_period", "time-period"),
        "check_period_id": ("check_period", "time-period"),
        "notification_period_id": ("notification_period", "time-period"),
        "parents_id": ("parents", "host"),
        "labels_id": ("labels", "label"),
    },
    "services": {
        "company_id": ("company", "node"),
        "host_id": ("host", "host"),
        "template_id": ("template", "service-template"),
        "availability_period_id": ("availability_period", "time-period"),
        "check_period_id": ("check_period", "time-period"),
        "notification_period_id": ("notification_period", "time-period"),
        "labels_id": ("labels", "label"),
    },
}

# The product's categories (docs: "Configure Hosts"), as snavc writes them -> labels.
CATEGORIES: dict[str, tuple[str, str]] = {
    "other": ("Other", "Autre"),
    "wifi-terminal": ("WiFi terminal", "Borne WiFi"),
    "camera": ("Camera", "Caméra"),
    "printer": ("Printer", "Imprimante"),
    "ups": ("UPS", "Onduleur"),
    "workstation": ("Workstation", "Poste de travail"),
    "router": ("Router", "Routeur"),
    "san-nas": ("SAN/NAS", "SAN/NAS"),
    "server": ("Server", "Serveur"),
    "linux-server": ("Linux server", "Serveur Linux"),
    "windows-server": ("Windows server", "Serveur Windows"),
    "windows-agent-server": ("Windows Agent server", "Serveur Windows Agent"),
    "switch": ("Switch", "Switch"),
    "telephone": ("Telephone", "Téléphone"),
}


class ColumnMapError(Exception):
    """A header line that matches no column map, or misses required columns."""


@dataclass
class ColumnMap:
    """One entity's map in one language: field <-> header, and the value formats."""

    entity: str
    language: str
    headers: dict[str, str]  # field -> header
    categories: dict[str, str]  # snavc category -> label
    decimal: str = "."  # the decimal separator of numbers
    list_separator: str = ","
    check_interval_unit: str = "minutes"  # or "seconds"
    positions: dict[str, int] = field(default_factory=dict)  # field -> column, once bound
    source: str = ""  # the file's name, once bound

    def bind(self, header: list[str]) -> list[str]:
        """Find each field's column in ``header``; the headers of required fields that
        are missing (an empty list when the file is usable)."""
        where: dict[str, int] = {}
        for i, h in enumerate(header):
            where.setdefault(_norm(h), i)
        self.positions = {f: where[_norm(h)] for f, h in self.headers.items() if _norm(h) in where}
        return [self.headers[f] for f in REQUIRED[self.entity] if f not in self.positions]

    def has(self, name: str) -> bool:
        return name in self.positions

    def get(self, cells: list[str], name: str) -> str:
        i = self.positions.get(name)
        return cells[i] if i is not None else ""

    def category_value(self, label: str) -> str | None:
        """A category label (or snavc value) -> the snavc value; None if unknown."""
        text = label.strip().casefold()
        for value, shown in self.categories.items():
            if text in (shown.casefold(), value):
                return value
        for value, pair in CATEGORIES.items():  # the other language's label
            if text in (p.casefold() for p in pair):
                return value
        return None


def _twice(header: list[str], cmap: ColumnMap) -> list[tuple[str, list[int]]]:
    """The headers of ``cmap``'s fields that ``header`` holds more than once, with their
    columns (1-based); a column snavc does not know may repeat (it is carried over)."""
    known = {_norm(h) for h in cmap.headers.values()}
    at: dict[str, list[int]] = {}
    for i, h in enumerate(header, 1):
        if _norm(h) in known:
            at.setdefault(_norm(h), []).append(i)
    return [(header[cols[0] - 1], cols) for cols in at.values() if len(cols) > 1]


def _norm(header: str) -> str:
    return " ".join(header.replace("\ufeff", "").split()).casefold()


def settings_of(project) -> dict:
    """The ``servicenav`` settings of a Project (a model or a mapping), as a dict."""
    if project is None:
        return {}
    value = (
        project.get("servicenav")
        if isinstance(project, dict)
        else getattr(project, "servicenav", None)
    )
    if value is None:
        return {}
    return value if isinstance(value, dict) else value.model_dump(exclude_none=True)


def column_map(entity: str, language: str, settings: dict | None = None) -> ColumnMap:
    """The shipped map of ``entity`` in ``language``, with the settings' overrides."""
    settings = settings or {}
    k = LANGUAGES.index(language)
    headers = {f: pair[k] for f, pair in SHIPPED[entity].items()}
    overrides = ((settings.get("columns") or {}).get(entity)) or {}
    for name, header in overrides.items():
        if name not in SHIPPED[entity]:
            raise ColumnMapError(
                f"servicenav.columns.{entity}: unknown field '{name}'; fields: "
                + ", ".join(SHIPPED[entity])
            )
        headers[name] = header
    categories = {v: pair[k] for v, pair in CATEGORIES.items()}
    categories.update(settings.get("categories") or {})
    return ColumnMap(
        entity,
        language,
        headers,
        categories,
        decimal=settings.get("decimal") or ("," if language == "fr" else "."),
        list_separator=settings.get("list_separator") or ",",
        check_interval_unit=settings.get("check_interval_unit") or "minutes",
    )


def detect(header: list[str], settings: dict | None = None, entity: str | None = None) -> ColumnMap:
    """The map (entity and language) that fits a header line best, bound to it.

    ``settings['language']`` forces the language; ``entity`` the entity. The entity is
    told apart by the services' host ID column. Raises :class:`ColumnMapError` naming
    the missing headers when no map fits.
    """
    settings = settings or {}
    languages = [settings["language"]] if settings.get("language") else list(LANGUAGES)
    entities = [entity] if entity else list(ENTITIES)
    best: tuple[int, int, ColumnMap, list[str]] | None = None
    for lang in languages:
        for ent in entities:
            cmap = column_map(ent, lang, settings)
            missing = cmap.bind(header)
            # a services file also has every host column a hosts file requires? No: the
            # collector columns are hosts-only, the host ID column services-only.
            score = (-len(missing), len(cmap.positions))
            if best is None or score > best[:2]:
                best = (*score, cmap, missing)
    assert best is not None
    cmap, missing = best[2], best[3]
    twice = _twice(header, cmap)
    if twice:
        raise ColumnMapError(
            "the header line names "
            + "; ".join(
                f"{h!r} {len(at)} times (columns {', '.join(map(str, at))})" for h, at in twice
            )
            + ": which column holds the value is unclear. Export again from the product, or "
            "rename the columns in the file"
        )
    if missing:
        raise ColumnMapError(
            f"the header line matches no {'/'.join(entities)} export: missing "
            + ", ".join(repr(m) for m in missing)
            + f" (closest: the {cmap.language} {cmap.entity} map). Adjust "
            "servicenav.columns in snav.yaml to the export's headers (docs/servicenav.md)"
        )
    return cmap


# -- cell values ------------------------------------------------------------------------
# The export's value formats are not published either: numbers with the UI language's
# decimal separator, lists split by ``list_separator``, arguments as ``name=value`` pairs
# split by ';' (a backslash escapes ';', '=' and itself), check intervals in minutes.


class ValueError_(ValueError):
    """A cell that does not hold the value its column wants."""


# The models' bounds (snavc.model: Criticality, Percent, Seconds): a cell outside them is
# a row that cannot be mapped (SNV804), found here rather than by a later `validate`.
CRITICALITY = (1, 5)
TARGET_MAX = 100.0


def parse_int(text: str, what: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:  # (also past int()'s 4,300 digits)
        raise ValueError_(f"{what}: '{_shown(text)}' is not a whole number") from None


def parse_number(text: str, what: str) -> float | None:
    text = text.strip()
    if not text:
        return None
    try:
        value = float(text.replace(",", ".").rstrip("%").strip())
    except ValueError:
        raise ValueError_(f"{what}: '{_shown(text)}' is not a number") from None
    if not math.isfinite(value):
        raise ValueError_(f"{what}: '{_shown(text)}' is not a number")
    return value


def parse_criticality(text: str, what: str) -> int | None:
    """A criticality cell: a whole number from 1 to 5."""
    value = parse_int(text, what)
    lo, hi = CRITICALITY
    if value is not None and not lo <= value <= hi:
        raise ValueError_(f"{what}: '{_shown(text.strip())}' is out of range: from {lo} to {hi}")
    return value


def parse_target(text: str, what: str) -> float | None:
    """An availability target cell: a percentage, more than 0 and at most 100."""
    value = parse_number(text, what)
    if value is not None and not 0 < value <= TARGET_MAX:
        raise ValueError_(
            f"{what}: '{_shown(text.strip())}' is out of range: more than 0, at most 100"
        )
    return value


def parse_interval(text: str, cmap: ColumnMap, what: str) -> int | None:
    """A check interval cell -> seconds, from 1 s to 31 days (the model's ``Seconds``)."""
    value = parse_number(text, what)
    if value is None:
        return None
    minutes = cmap.check_interval_unit == "minutes"
    seconds = value * 60 if minutes else value
    if seconds <= 0:
        raise ValueError_(f"{what}: '{text.strip()}' is not a whole, positive number of seconds")
    if seconds > MAX_CHECK_INTERVAL:  # (1e308 minutes: no float to round)
        most = f"{MAX_CHECK_INTERVAL // 60} minutes" if minutes else f"{MAX_CHECK_INTERVAL} seconds"
        raise ValueError_(
            f"{what}: '{_shown(text.strip())}' is out of range: at most {most} (31 days)"
        )
    if abs(seconds - round(seconds)) > 1e-6:
        raise ValueError_(f"{what}: '{text.strip()}' is not a whole, positive number of seconds")
    return int(round(seconds))


def render_number(value, decimal: str) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        text = f"{value:.1f}"
    else:
        text = repr(value) if isinstance(value, float) else str(value)
    return text.replace(".", decimal)


def _shown(text: str) -> str:
    return text if len(text) <= 24 else f"{text[:20]}... ({len(text):,} characters)"


def render_interval(seconds: int | None, cmap: ColumnMap) -> str:
    if seconds is None:
        return ""
    if cmap.check_interval_unit != "minutes":
        return str(seconds)
    if seconds % 60 == 0:
        return str(seconds // 60)
    return render_number(seconds / 60, cmap.decimal)


def parse_list(text: str, cmap: ColumnMap) -> list[str]:
    return [p.strip() for p in text.split(cmap.list_separator) if p.strip()]


def render_list(items, cmap: ColumnMap) -> str:
    return cmap.list_separator.join(items or [])


def parse_arguments(text: str, what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    if not text.strip():
        return out
    pairs, cur, i = [], [], 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            cur.append(text[i : i + 2])
            i += 2
            continue
        if ch == ";":
            pairs.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
        i += 1
    pairs.append("".join(cur))
    for pair in pairs:
        if not pair.strip():
            continue
        name, eq, value = _split_unescaped(pair)
        if not eq or not name.strip():
            raise ValueError_(f"{what}: '{pair.strip()}' is not name=value")
        out[_unescape(name.strip())] = _unescape(value)
    return out


def _split_unescaped(pair: str) -> tuple[str, str, str]:
    i = 0
    while i < len(pair):
        if pair[i] == "\\":
            i += 2
            continue
        if pair[i] == "=":
            return pair[:i], "=", pair[i + 1 :]
        i += 1
    return pair, "", ""


def _unescape(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(";", "\\;").replace("=", "\\=")


def render_arguments(arguments: dict | None) -> str:
    return ";".join(f"{_escape(k)}={_escape(v or '')}" for k, v in (arguments or {}).items())
