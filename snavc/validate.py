"""Validate: documents -> typed models (snavc.model), one document at a time.

Second stage. Each document is checked against the model of its ``kind``; every
pydantic error becomes a :class:`~snavc.diagnostics.Diagnostic` at the key or value it
concerns, with a message written for people ("unknown field 'nmae' in Contact 'noc';
did you mean 'name'?"). Checks that need several documents are in :mod:`snavc.tree`.
"""

from __future__ import annotations

import datetime
import typing
from dataclasses import dataclass, field

from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticCustomError

from . import diagnostics as dg
from .diagnostics import Diagnostic
from .engine.load import Document
from .model import (
    AT_KINDS,
    CATALOG_KINDS,
    CHANNEL_NEEDS,
    MODELS,
    MONTHS,
    OVERRIDABLE,
    Obj,
    parse_datetime,
    parse_range,
)

PROJECT_FILE = "snav.yaml"


@dataclass(slots=True)
class Validated:
    objects: list[Obj]
    diagnostics: list[Diagnostic]
    # (kind, ID) of documents refused for errors of their own: a reference to one of
    # them is not "dangling", it points at a broken object
    rejected: set[tuple[str, str]] = field(default_factory=set)


def did_you_mean(word: str, candidates) -> str:
    """``"; did you mean 'name'?"`` or ``""``: the closest candidate (rapidfuzz's
    normalised Indel similarity, the measure difflib's ratio approximates, at 60% or
    more), one C pass over the candidates however many (difflib took 27 s of a 48 s
    run over a 20k estate with errors: issue 11)."""
    if not isinstance(word, str):
        return ""
    candidates = candidates if isinstance(candidates, (list, tuple)) else list(candidates)
    if word in candidates:
        return ""
    lower = word.lower()
    slips = [c for c in candidates if c.lower() == lower]
    if slips:  # a case slip first: the surest guess
        return f"; did you mean '{min(slips)}'?"
    from rapidfuzz import fuzz, process  # here: only a run with a slip pays its import

    found = process.extract(word, candidates, scorer=fuzz.ratio, score_cutoff=60, limit=None)
    if not found:
        return ""
    # of equally close candidates, the first in sorted order: the same guess whatever
    # order they come in (a warm build lists them otherwise than a cold one)
    best = max(score for _c, score, _i in found)
    return f"; did you mean '{min(c for c, score, _i in found if score == best)}'?"


def validate(documents: list[Document], catalog: bool = False, seal: bool = True) -> Validated:
    """Check every document; return the valid ones as models, and all diagnostics.

    ``catalog=True`` checks catalogue documents: no ``at`` (they live at the product)
    and only the kinds a catalogue holds.
    """
    objects: list[Obj] = []
    diags: list[Diagnostic] = []
    rejected: set[tuple[str, str]] = set()
    for doc in documents:
        obj = validate_document(doc, diags, catalog)
        if obj is not None:
            objects.append(obj)
            if seal:
                doc.seal()  # the model holds the data now
        elif isinstance(doc.data.get("kind"), str) and isinstance(doc.data.get("id"), str):
            rejected.add((doc.data["kind"], doc.data["id"]))
    return Validated(objects, diags, rejected)


def models_of_clean(documents: list[Document]) -> list[Obj]:
    """The models of documents a clean run validated before, unchanged since (the
    snapshot cache): their checks beyond the models cannot fail again, so only the
    models are made. Any surprise raises: the caller compiles in full."""
    objects = []
    checks = {}  # kind -> its model's validator (model_validate without its wrapper)
    for doc in documents:
        data = doc.data
        check = checks.get(data["kind"])
        if check is None:
            check = checks[data["kind"]] = MODELS[
                data["kind"]
            ].__pydantic_validator__.validate_python
        obj = check(data)
        obj.attach(doc)
        objects.append(obj)
    return objects


def validate_document(doc: Document, diags: list[Diagnostic], catalog: bool = False) -> Obj | None:
    data = doc.data
    kind = data.get("kind")
    if "kind" not in data:
        diags.append(
            dg.error(
                "SNV202", "missing field 'kind': every document must say what it is", doc.loc()
            )
        )
        return None
    if not isinstance(kind, str):
        diags.append(dg.error("SNV204", "field 'kind' must be a string", doc.loc("kind")))
        return None
    model = MODELS.get(kind)
    allowed = CATALOG_KINDS if catalog else MODELS
    if model is None or kind not in allowed:
        hint = did_you_mean(kind, allowed)
        where = "in a catalogue" if catalog and model is not None else ""
        diags.append(
            dg.error(
                "SNV201",
                f"unknown kind '{kind}'{' ' + where if where else ''}{hint}"
                + ("" if hint else f" (known kinds: {', '.join(sorted(allowed))})"),
                doc.loc("kind"),
            )
        )
        return None

    before = len(diags)
    if kind == "Site" and "mode" in data:
        diags.append(
            dg.error(
                "SNV209",
                f"a site cannot set 'mode': sites inherit the mode of their client; set it on Client '{data.get('parent')}'",
                doc.loc("mode", key=True),
                rule="M2",
            )
        )
        data = {k: v for k, v in data.items() if k != "mode"}
    if kind == "Project" and doc.file != PROJECT_FILE:
        diags.append(
            dg.error(
                "SNV211",
                f"a Project document belongs in {PROJECT_FILE} at the repository root",
                doc.loc("kind"),
            )
        )
    if kind == "TimePeriod":
        _check_overlaps(doc, data.get("ranges"), diags)
    try:
        obj = model.model_validate(data)
    except ValidationError as e:
        for err in e.errors(include_url=False):
            diags.append(_from_pydantic(doc, model, err))
        return None
    obj.attach(doc)
    share_fields_set(obj)
    _after(obj, doc, diags, catalog)
    return obj if len(diags) == before else None


# the distinct sets of field names models were given: one frozenset each, shared
_FIELDS_SETS: dict[frozenset, frozenset] = {}
# model class -> its fields that can hold models: (name, 0 a model, 1 a list, 2 a dict)
_NESTED: dict[type, tuple[tuple[str, int], ...]] = {}


def share_fields_set(obj: BaseModel) -> None:
    """Make ``obj`` and the models inside it share one frozenset per distinct set of
    fields given (pydantic's ``model_fields_set``), instead of a set each: a set is 200
    to 700 bytes, a third of an equipment's models, and an estate has a few tens of
    distinct ones (20 MiB at 10k equipment). snavc never assigns to a model once made
    (which would add to the set: a frozenset makes that fail loudly) and never dumps
    with ``exclude_unset``, the one reader of the set."""
    fields = frozenset(obj.__pydantic_fields_set__)
    object.__setattr__(obj, "__pydantic_fields_set__", _FIELDS_SETS.setdefault(fields, fields))
    nested = _NESTED.get(type(obj))
    if nested is None:
        nested = _NESTED[type(obj)] = _nested_fields(type(obj))
    if not nested:
        return
    values = obj.__dict__
    for name, shape in nested:
        value = values[name]
        if not value:
            continue
        if shape == 0:
            if isinstance(value, BaseModel):
                share_fields_set(value)
        else:
            for item in value if shape == 1 else value.values():
                if isinstance(item, BaseModel):
                    share_fields_set(item)


def _nested_fields(model: type[BaseModel]) -> tuple[tuple[str, int], ...]:
    out = []
    for name, f in model.model_fields.items():
        if _inner_model(f.annotation) is None:
            continue
        shapes = {typing.get_origin(t) for t in (f.annotation, *typing.get_args(f.annotation))}
        out.append((name, 2 if dict in shapes else 1 if list in shapes else 0))
    return tuple(out)


def _after(obj: Obj, doc: Document, diags: list[Diagnostic], catalog: bool) -> None:
    """Checks of one document that its model cannot express."""
    kind = obj.kind
    if kind in AT_KINDS:
        at = obj.at
        if catalog and at is not None:
            diags.append(
                dg.error(
                    "SNV203",
                    f"unknown field 'at' in {_ident(doc)}: catalogue objects live at the product and have no 'at'",
                    doc.loc("at", key=True),
                )
            )
        elif not catalog and at is None:
            diags.append(
                dg.error(
                    "SNV202",
                    f"missing field 'at' in {_ident(doc)}: the node where it is defined",
                    doc.loc(),
                )
            )
        elif at == "product":
            diags.append(
                dg.error(
                    "SNV212",
                    f"{_ident(doc)} cannot be defined at the product: the product holds only the shipped catalogue "
                    "(set Project.catalog to replace it)",
                    doc.loc("at"),
                )
            )
    if kind == "ServiceTemplate" and obj.duplicate_of is None:
        for name in OVERRIDABLE:
            if getattr(obj, name) is None:
                diags.append(
                    dg.error(
                        "SNV202",
                        f"missing field '{name}' in {_ident(doc)}: required unless the template sets duplicate_of",
                        doc.loc(),
                        rule="T7",
                    )
                )
    if kind == "EquipmentTemplate" and obj.duplicate_of is None and obj.services is None:
        diags.append(
            dg.error(
                "SNV202",
                f"missing field 'services' in {_ident(doc)}: required unless the template sets duplicate_of",
                doc.loc(),
                rule="T9",
            )
        )
    if kind == "Equipment" and obj.templates is not None and obj.template is not None:
        diags.append(
            dg.error(
                "SNV216",
                f"{_ident(doc)} sets both 'template' and 'templates': write the one template "
                "in 'templates' (a list of one or more)",
                doc.loc("templates", key=True),
                rule="H2",
                related=(doc.loc("template", key=True, message="'template' here"),),
            )
        )
    if kind == "Contact" and obj.channels:
        for i, channel in enumerate(obj.channels):
            need = CHANNEL_NEEDS.get(channel)
            if need is not None and getattr(obj, need) is None:
                diags.append(
                    dg.error(
                        "SNV222",
                        f"{_ident(doc)} is notified by {channel} but has no '{need}'",
                        doc.loc("channels", i),
                        rule="C6",
                    )
                )
    if kind == "MaintenanceWindow" and not _after_start(obj.start, obj.end):
        diags.append(
            dg.error(
                "SNV224",
                f"{_ident(doc)} ends ({obj.end}) before it starts ({obj.start}): the end must be "
                "after the start",
                doc.loc("end"),
                rule="W1",
                related=(doc.loc("start", message="start"),),
            )
        )
    if kind == "UserService":
        first: dict[tuple, int] = {}
        for i, c in enumerate(obj.components):
            if c.target is None:
                diags.append(
                    dg.error(
                        "SNV225",
                        f"{_ident(doc)}: component {i + 1} must name exactly one of 'host', "
                        "'service' (EQUIPMENT/NAME) or 'user_service'",
                        doc.loc("components", i),
                        rule="U2",
                    )
                )
                continue
            what = f"{c.target[0]} '{c.target[1]}'"
            if c.target in first:  # two impacts for one object: which holds?
                diags.append(
                    dg.error(
                        "SNV205",
                        f"{_ident(doc)}: components {first[c.target] + 1} and {i + 1} both name "
                        f"{what}: list it once, with one impact",
                        doc.loc("components", i),
                        rule="U2",
                        related=(doc.loc("components", first[c.target], message="first"),),
                    )
                )
            first.setdefault(c.target, i)
    if kind == "TimePeriod" and obj.exceptions:
        _check_exceptions(obj, doc, diags)
    if kind == "Equipment" and obj.templates:
        first: dict[str, int] = {}
        for i, tid in enumerate(obj.templates):
            if tid in first:  # (once, not once per unit service it would give twice)
                diags.append(
                    dg.error(
                        "SNV205",
                        f"equipment template '{tid}' is listed twice in templates of {_ident(doc)}",
                        doc.loc("templates", i),
                        rule="H2",
                        related=(doc.loc("templates", first[tid], message="listed first"),),
                    )
                )
            first.setdefault(tid, i)
    if kind == "TimePeriod":
        seen = set()
        for i, aspect in enumerate(obj.default_for):
            if aspect in seen:
                diags.append(
                    dg.error(
                        "SNV205",
                        f"'{aspect}' is listed twice in default_for of {_ident(doc)}",
                        doc.loc("default_for", i),
                    )
                )
            seen.add(aspect)


def _after_start(start: str, end: str) -> bool:
    """W1: ``end`` after ``start``; when one has no UTC offset, both are read as local
    times (the box's), as written."""
    a, b = parse_datetime(start), parse_datetime(end)
    if (a.tzinfo is None) != (b.tzinfo is None):
        a, b = a.replace(tzinfo=None), b.replace(tzinfo=None)
    return b > a


def _check_exceptions(period, doc: Document, diags: list[Diagnostic]) -> None:
    """X1: each exception has one form and names days that exist; X2: two exceptions
    of one form never name the same day (the priority is between forms only)."""
    seen: dict[tuple, int] = {}
    for i, ex in enumerate(period.exceptions):
        form = ex.type
        if form is None:
            diags.append(
                dg.error(
                    "SNV218",
                    f"{_ident(doc)}: exception {i + 1} has no single form: write 'date' (YYYY-MM-DD), "
                    "'day' and 'month' (every year), 'day' (every month), or 'weekday' and 'nth' "
                    "(optionally with 'month')",
                    doc.loc("exceptions", i),
                    rule="X1",
                )
            )
            continue
        where, problem = _missing_day(ex)
        if problem is not None:
            diags.append(
                dg.error(
                    "SNV217",
                    f"{_ident(doc)}: exception {i + 1}: {problem}",
                    doc.loc("exceptions", i, where),
                    rule="X1",
                )
            )
            continue
        key = (form, ex.date, ex.day, ex.month, ex.weekday, ex.nth)
        first, why = seen.get(key), "name the same days: merge their ranges into one"
        if first is None and form == "nth-weekday":
            first, why = _same_weekday(period.exceptions, seen, ex)
        if first is not None:
            diags.append(
                dg.error(
                    "SNV219",
                    f"{_ident(doc)}: exceptions {first + 1} and {i + 1} {why}",
                    doc.loc("exceptions", i),
                    rule="X2",
                    related=(doc.loc("exceptions", first, message="first exception"),),
                )
            )
            continue
        seen[key] = i
        _check_overlaps(doc, {i: ex.ranges}, diags, ("exceptions", i, "ranges"))


def _same_weekday(exceptions: list, seen: dict, ex) -> tuple[int | None, str]:
    """The first Nth-weekday exception before ``ex`` that can name one of its days (the
    same weekday, in the same month or in every month: no ``month``; the same Nth, or
    the fifth and the last), and why; ``(None, "")`` when none: which of two such
    exceptions applies would be the list's order, which X2 does not give."""
    for key, j in seen.items():
        other = exceptions[j]
        if key[0] != "nth-weekday" or other.weekday != ex.weekday:
            continue
        if not (other.month is None or ex.month is None or other.month == ex.month):
            continue
        if other.nth == ex.nth:
            return j, "name the same days: merge their ranges into one, or give both a month"
        if {other.nth, ex.nth} == {5, -1}:
            return j, (
                f"can name the same day (the fifth {ex.weekday} of a month that has one is its "
                "last): keep one of them"
            )
    return None, ""


_MONTH_DAYS = dict(zip(MONTHS, (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31), strict=True))


# the patterns of snavc.model that are not IDs -> what a value of them is, for SNV205
_PATTERN_WORDS = {
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$": "a date: YYYY-MM-DD",
    r"^[a-z]{2}$": "a two-letter language code (ISO 639-1: fr, en...)",
    r"^[A-Za-z_][A-Za-z0-9_.-]*$": "an argument name: letters, digits, '_', '.' and '-'",
}


def _missing_day(ex) -> tuple[str, str | None]:
    """(field, why) when an exception names a day that does not exist."""
    if ex.nth == 0:
        return "nth", "'nth: 0' names no day: 1-5 for the Nth weekday, -1 for the last"
    if ex.date is not None:
        try:
            datetime.date.fromisoformat(ex.date)
        except ValueError:
            return "date", f"the date {ex.date} does not exist"
    if ex.day is not None and ex.month is not None and ex.day > _MONTH_DAYS[ex.month]:
        return "day", f"{ex.month} has no day {ex.day}"
    return "", None


def _check_overlaps(doc: Document, ranges, diags: list[Diagnostic], path=None) -> None:
    """No two ranges of one day may overlap; checked on the raw data so that it is
    reported beside any malformed range of the same period. ``path``: where the lists
    of ``ranges`` are (an exception's, X1), else ``ranges.DAY``."""
    if not isinstance(ranges, dict):
        return
    for day, items in ranges.items():
        where = path if path is not None else ("ranges", day)
        label = f"exception {day + 1}" if path is not None else day
        if not isinstance(items, list):
            continue
        spans = []
        for i, text in enumerate(items):
            try:
                spans.append((parse_range(text), i))
            except (PydanticCustomError, TypeError):
                continue  # reported by the model
        spans.sort()
        # compare each range with the one reaching furthest so far, not only with its
        # neighbour: in 08-12, 09-10, 11-15 both later ranges overlap 08-12
        reach: tuple[int, int] | None = None  # (end, index) of that range
        for cur, ci in spans:
            if reach is not None and cur[0] < reach[0]:
                pi = reach[1]
                diags.append(
                    dg.error(
                        "SNV207",
                        f"{_ident(doc)}: time range '{items[ci]}' overlaps '{items[pi]}' on {label}",
                        doc.loc(*where, ci),
                        related=(doc.loc(*where, pi, message="overlapped range"),),
                    )
                )
            if reach is None or cur[1] > reach[0]:
                reach = (cur[1], ci)


def _ident(doc: Document) -> str:
    data = doc.data
    kind = data.get("kind", "document")
    ident = data.get("id")
    if ident is None and kind == "ServiceTemplateOverride":
        return f"override of '{data.get('template')}' at '{data.get('at')}'"
    return f"{kind} '{ident}'" if isinstance(ident, str) else str(kind)


def _path_text(loc) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _model_at(model: type[BaseModel], loc) -> type[BaseModel] | None:
    """The (sub)model that owns the last part of ``loc``, for "did you mean"."""
    current: typing.Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        f = current.model_fields.get(part)
        if f is None:
            return None
        current = _inner_model(f.annotation)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _inner_model(tp):
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return tp
    for arg in typing.get_args(tp):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


_TYPE_NAMES = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "float_type": "a number",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "none_required": "null",
}


def _shown(value) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    text = str(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"a string ('{text}')"


def _from_pydantic(doc: Document, model: type[BaseModel], err: dict) -> Diagnostic:
    loc = tuple(err["loc"])
    kind = err["type"]
    ident = _ident(doc)
    # dict-key errors end with "[key]": point at the key itself
    if loc and loc[-1] == "[key]":
        loc = loc[:-1]
        return dg.error(
            "SNV205",
            f"invalid key '{loc[-1]}' in {_path_text(loc[:-1])} of {ident}: {_literal_hint(err, loc[-1])}",
            doc.loc(*loc, key=True),
        )
    field = _path_text(loc)
    if kind == "missing":
        rule = "M1" if model.__name__ == "Client" and loc == ("mode",) else None
        hint = ": managed or resale" if rule else ""
        return dg.error(
            "SNV202", f"missing field '{field}' in {ident}{hint}", doc.loc(*loc[:-1]), rule=rule
        )
    if kind == "extra_forbidden":
        name = loc[-1]
        if model.__name__ == "ServiceTemplateOverride" and len(loc) == 1:
            return dg.error(
                "SNV210",
                f"an override cannot set '{name}': only {', '.join(OVERRIDABLE)} can be overridden"
                f"{did_you_mean(name, OVERRIDABLE)}",
                doc.loc(*loc, key=True),
                rule="T2",
            )
        owner = _model_at(model, loc)
        fields = [f for f in owner.model_fields if f != "kind"] if owner else []
        return dg.error(
            "SNV203",
            f"unknown field '{field}' in {ident}{did_you_mean(str(name), fields)}",
            doc.loc(*loc, key=True),
        )
    if kind == "literal_secret":
        return dg.error("SNV208", f"{ident}: {err['msg']}", doc.loc(*loc), redact=True)
    if loc == ("secret",) and model.__name__ == "MonitoringAccount" and kind != "missing":
        # a secret of the wrong type (a number, a list...) is still never echoed
        value = err.get("input")
        code = "SNV204" if isinstance(value, dict | list) else "SNV208"
        return dg.error(
            code,
            f"{ident}: 'secret' must be a string that refers to the secret (env:NAME or file:path), "
            f"not {'a mapping' if isinstance(value, dict) else 'a list' if isinstance(value, list) else 'a literal value'}",
            doc.loc(*loc),
            redact=True,
        )
    if kind == "time_range":
        return dg.error("SNV206", f"{ident}: {err['msg']}", doc.loc(*loc))
    if kind in _CUSTOM:
        code, rule = _CUSTOM[kind]
        return dg.error(code, f"{ident}: '{field}': {err['msg']}", doc.loc(*loc), rule=rule)
    if kind == "string_pattern_mismatch":
        value = err.get("input")
        pattern = str(err.get("ctx", {}).get("pattern", ""))
        if "/" in pattern:
            what = "a unit service ID: <equipment id>/<service name>"
        elif loc and loc[-1] == "protocol":
            what = "a lowercase word such as snmp, ssh or wmi"
        elif pattern in _PATTERN_WORDS:
            what = _PATTERN_WORDS[pattern]
        else:
            what = "an ID: lowercase letters, digits, '.', '_' and '-', starting with a letter or digit"
        return dg.error(
            "SNV205",
            f"invalid value '{value}' for '{field}' in {ident}: expected {what}",
            doc.loc(*loc),
        )
    if kind == "too_short" and isinstance(err.get("input"), list):
        return dg.error(
            "SNV205", f"'{field}' in {ident} is empty: name at least one", doc.loc(*loc)
        )
    if kind == "string_too_long":
        return dg.error(
            "SNV205", f"'{field}' in {ident} is too long: {err['msg'].lower()}", doc.loc(*loc)
        )
    if kind == "literal_error":
        return dg.error(
            "SNV205",
            f"invalid value '{err.get('input')}' for '{field}' in {ident}: {_literal_hint(err, err.get('input'))}",
            doc.loc(*loc),
            rule="M1" if model.__name__ == "Client" and loc == ("mode",) else None,
        )
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        return dg.error(
            "SNV205",
            f"invalid value {err.get('input')} for '{field}' in {ident}: {err['msg'].lower()}",
            doc.loc(*loc),
        )
    if kind in _TYPE_NAMES:
        return dg.error(
            "SNV204",
            f"'{field}' in {ident} must be {_TYPE_NAMES[kind]}, not {_shown(err.get('input'))}",
            doc.loc(*loc),
        )
    return dg.error(
        "SNV205", f"invalid value for '{field}' in {ident}: {err['msg']}", doc.loc(*loc)
    )


# custom error types of snavc.model -> (code, rule)
_CUSTOM = {
    "address": ("SNV214", "H1"),
    "threshold": ("SNV215", "S2"),
    "phone": ("SNV220", "C5"),
    "url": ("SNV221", "C5"),
    "datetime": ("SNV223", "W1"),
}


def _literal_hint(err: dict, value) -> str:
    expected = err.get("ctx", {}).get("expected", "")
    choices = [c.strip().strip("'") for c in expected.replace(" or ", ", ").split(",") if c.strip()]
    hint = did_you_mean(str(value), choices)
    return f"expected one of {', '.join(choices)}{hint}"
