"""The input language (INTERFACE §1) as pydantic v2 models, one per ``kind``.

Models are strict (no silent coercion of ``"60"`` to ``60``) and forbid unknown fields.
They check each document on its own; checks across documents (IDs, references, the
tree) belong to :mod:`snavc.tree`, and the rules of RULES.md to :mod:`snavc.resolve`.
Every model keeps the :class:`~snavc.engine.load.Document` it came from (``obj.doc``) so that
any later stage can point at the line of any field.
"""

# (no `from __future__ import annotations`: annotations evaluated as the classes are
# made, where pydantic would evaluate their strings again, 0.01 s of every run)
import ipaddress
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
)
from pydantic_core import PydanticCustomError

ID_PATTERN = r"^[a-z0-9][a-z0-9._-]*$"
ID = Annotated[
    str,
    StringConstraints(pattern=ID_PATTERN, max_length=64),
    # a description, not json_schema_extra: a field's own description must win
    Field(description="ID: lowercase letters, digits, '.', '_', '-'"),
]

Mode = Literal["managed", "resale"]  # M1
Aspect = Literal["check", "notification", "availability"]  # P2
Permission = Literal["configure_equipment", "configure_services", "create_templates"]  # V1a
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
ASPECTS: tuple[str, ...] = ("check", "notification", "availability")
WEEKDAYS: tuple[str, ...] = Weekday.__args__

# The five fields of rule T2: the only ones an override may set.
OVERRIDABLE: tuple[str, ...] = (
    "criticality",
    "availability_target",
    "availability_period",
    "check_period",
    "check_interval",
)

# S3/I1: what a service template gives its unit services beyond the five, snapshot by
# the lock (T5) like them, but never overridden (T2).
TEMPLATE_DEFAULTS: tuple[str, ...] = ("arguments", "thresholds", "instructions")

# (Python's "$" also matches before a final newline: "\Z" ends these patterns, so that
# "08:00-12:00\n" or "10.0.0.1\n" is refused, not kept with its newline)
_RANGE = re.compile(r"^([0-9]{2}):([0-9]{2})-([0-9]{2}):([0-9]{2})\Z")


def parse_range(text: str) -> tuple[int, int]:
    """``"08:00-18:00"`` -> minutes ``(480, 1080)``; ``24:00`` only as an end."""
    m = _RANGE.match(text)
    if not m:
        raise PydanticCustomError(
            "time_range",
            "invalid time range '{text}': write HH:MM-HH:MM, e.g. 08:00-18:00",
            {"text": text},
        )
    h1, m1, h2, m2 = map(int, m.groups())
    if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2 != 0):
        raise PydanticCustomError(
            "time_range",
            "invalid time range '{text}': hours 00-23 (24:00 only as an end), minutes 00-59",
            {"text": text},
        )
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if start >= end:
        raise PydanticCustomError(
            "time_range",
            "invalid time range '{text}': the end must be after the start",
            {"text": text},
        )
    return start, end


_GOOD_RANGES: set[str] = set()  # ranges checked already: a few distinct texts, 40k uses


def _check_range(text: str) -> str:
    if text not in _GOOD_RANGES:
        parse_range(text)
        if len(_GOOD_RANGES) < 10_000:
            _GOOD_RANGES.add(text)
    return text


TimeRange = Annotated[
    str,
    AfterValidator(_check_range),
    Field(
        json_schema_extra={
            "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9]-(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$"
        }
    ),
]


def _check_secret(value: str) -> str:
    if not re.match(r"^(env:[A-Za-z_][A-Za-z0-9_]*|file:.+)\Z", value):
        # never echo the value: it may be the secret itself
        raise PydanticCustomError(
            "literal_secret",
            "a monitoring account's secret must be a reference (env:NAME or file:path), never the secret itself",
        )
    return value


SecretRef = Annotated[
    str,
    AfterValidator(_check_secret),
    Field(json_schema_extra={"pattern": r"^(env:[A-Za-z_][A-Za-z0-9_]*|file:.+)$"}),
]

# A list field's empty default: a new list per object, as ``default=[]`` gives, but
# from ``list()``: pydantic deep-copies a ``[]`` default for every object it makes (a
# Python call each: 70,000 at 10k equipment). The schema still says the default is [].
NO_ITEMS = {"default_factory": list, "json_schema_extra": {"default": []}}

# H1: a host's address: an IPv4 or IPv6 address, or a DNS name (RFC 1123 labels).
_DNS_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)\Z")
# A dotted IPv4 address as ipaddress takes it (0-255, no leading zero): most hosts'
# address, checked in one match instead of ipaddress's 10 µs (a tenth of an
# equipment's validation); anything else still goes to ipaddress.
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}", re.ASCII)


def check_address(value: str) -> str:
    """H1: ``value`` is an IP address (v4 or v6) or a DNS name; else a custom error."""
    if _IPV4.fullmatch(value):
        return value
    try:
        ipaddress.ip_address(value)
        return value
    except ValueError:
        pass
    name = value[:-1] if value.endswith(".") else value
    labels = name.split(".")
    numeric = all(p.isdigit() for p in labels)  # 10.0.0.300 is a bad IP, not a name
    if (
        0 < len(name) <= 253
        and not numeric
        and not labels[-1].isdigit()
        and all(_DNS_LABEL.match(p) for p in labels)
    ):
        return value
    raise PydanticCustomError(
        "address",
        "invalid address '{text}': expected an IPv4 address (192.0.2.10), an IPv6 address "
        "(2001:db8::10) or a DNS name (srv-web-01.example.net)",
        {"text": value},
    )


Address = Annotated[
    str,
    AfterValidator(check_address),
    Field(description="IPv4 or IPv6 address, or DNS name (rule H1)"),
]

# S2: Nagios threshold ranges (https://nagios-plugins.org/doc/guidelines.html#THRESHOLDFORMAT)
_NUMBER = r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
_THRESHOLD = re.compile(rf"^(@)?(?:({_NUMBER}|~):)?({_NUMBER})?\Z")


def parse_threshold(text: str) -> tuple[bool, float, float]:
    """``"@10:20"`` -> (inside, start, end) of a Nagios range (S2).

    ``10`` is 0..10, ``10:`` 10..inf, ``~:10`` -inf..10, ``10:20`` 10..20; ``@`` alerts
    inside the range instead of outside. Start must not exceed end.
    """
    m = _THRESHOLD.match(text)
    if not m or text in ("", "@") or (m.group(2) is None and m.group(3) is None):
        raise PydanticCustomError(
            "threshold",
            "invalid threshold '{text}': write a Nagios range: 10, 10:, ~:10, 10:20 or @10:20",
            {"text": text},
        )
    inside, start_text, end_text = m.group(1) is not None, m.group(2), m.group(3)
    if start_text is None and ":" in text:
        start_text = "0"
    if ":" not in text:  # "10": 0..10
        start, end = 0.0, float(end_text)
    else:
        start = float("-inf") if start_text == "~" else float(start_text)
        end = float("inf") if end_text is None else float(end_text)
    if start > end:
        raise PydanticCustomError(
            "threshold",
            "invalid threshold '{text}': the start ({start}) is greater than the end ({end})",
            {"text": text, "start": start_text, "end": end_text},
        )
    return inside, start, end


def _check_threshold(value: str | int | float) -> str:
    text = value if isinstance(value, str) else repr(value)
    parse_threshold(text)
    return text


ThresholdRange = Annotated[
    str | int | float,
    AfterValidator(_check_threshold),
    Field(
        description="Nagios range: 10 (0..10), 10: (>= 10), ~:10 (<= 10), 10:20, @10:20 "
        "(alert inside); a number is read as its text (rule S2)"
    ),
]


class Thresholds(BaseModel):
    """S2: warning and critical thresholds of a unit service, Nagios ranges."""

    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)
    warning: ThresholdRange | None = Field(
        None, description="warning threshold, a Nagios range (S2)"
    )
    critical: ThresholdRange | None = Field(
        None, description="critical threshold, a Nagios range (S2)"
    )


ArgumentName = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_.-]*$", max_length=64),
    Field(json_schema_extra={"description": "argument name: letters, digits, '_', '.', '-'"}),
]
Instructions = Annotated[
    str,
    StringConstraints(min_length=1, max_length=4000),
    Field(
        description="operational instruction ('consigne'): a URL or a text, shown in "
        "notifications (rule I1)"
    ),
]
ServiceNavID = Annotated[
    str,
    StringConstraints(min_length=1, max_length=128),
    Field(description="the ServiceNav product's own ID of this object (kept by import/export)"),
]

# H3: the product's host categories (they filter which host templates may be chosen).
Category = Literal[
    "other",
    "wifi-terminal",
    "camera",
    "printer",
    "ups",
    "workstation",
    "router",
    "san-nas",
    "server",
    "linux-server",
    "windows-server",
    "windows-agent-server",
    "switch",
    "telephone",
]
CATEGORIES: tuple[str, ...] = Category.__args__

Criticality = Annotated[int, Field(ge=1, le=5, description="1 (lowest) to 5 (highest)")]
Percent = Annotated[
    float, Field(gt=0, le=100, allow_inf_nan=False, description="availability target, percent")
]
MAX_CHECK_INTERVAL = 31 * 24 * 3600  # a month: longer is a typo, not a monitoring interval
Seconds = Annotated[
    int, Field(ge=1, le=MAX_CHECK_INTERVAL, description="seconds, 1 to 2678400 (31 days)")
]


def _check_folder(value: str) -> str:
    if "\0" in value:  # no file system takes one; os would raise on it
        raise PydanticCustomError("folder_path", "a folder path cannot hold a NUL character")
    return value


FolderPath = Annotated[str, AfterValidator(_check_folder)]


def _check_pattern(pattern: str) -> str:
    import pathspec  # gitignore semantics, as git itself reads them (pyproject.toml)

    try:
        pathspec.GitIgnoreSpec.from_lines([pattern])
    except (ValueError, TypeError) as e:
        raise PydanticCustomError(
            "exclude_pattern",
            "invalid pattern '{pattern}': {why}",
            {"pattern": pattern, "why": str(e)},
        ) from None
    return pattern


def _check_ignored_code(code: str) -> str:
    from .diagnostics import CODES

    if code not in CODES:
        raise PydanticCustomError(
            "unknown_code",
            "unknown diagnostic code '{code}': write a code of docs/diagnostics.md, e.g. SNV409",
            {"code": code},
        )
    return code


class TemplateFields(BaseModel):
    """The five fields of rule T2 (``OVERRIDABLE``): set by service templates, overrides
    and unit services."""

    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)
    criticality: Criticality | None = Field(
        None, description="criticality, 1 (lowest) to 5 (highest) (T2)"
    )
    availability_target: Percent | None = Field(
        None, description="availability target, percent: > 0 and <= 100 (T2)"
    )
    availability_period: ID | None = Field(
        None, description="ID of the TimePeriod over which availability is measured (T2, P6)"
    )
    check_period: ID | None = Field(
        None, description="ID of the TimePeriod during which checks run (T2, P6)"
    )
    check_interval: Seconds | None = Field(
        None, description="seconds between two checks, >= 1 (T2)"
    )


class Obj(BaseModel):
    """Base of every document model: strict, closed, and remembers its document."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=False, defer_build=True)

    # The document is kept beside the fields, in the instance's __dict__ under a name no
    # field can have: a pydantic private attribute costs a hook on every validation
    # (half a second for 100k objects).
    @property
    def doc(self):
        return self.__dict__.get("snavc:doc")

    def attach(self, doc) -> None:
        self.__dict__["snavc:doc"] = doc


# The fields of the bridge's column maps (snavc/bridge/columns.py keeps the headers of
# each; tests/bridge/test_columns.py checks that both list the same fields): a field name
# that no map has would be silently ignored, so the model refuses it where it is written.
HostColumn = Literal[
    "id",
    "name",
    "address",
    "company",
    "company_id",
    "parent_company",
    "parent_company_id",
    "collector",
    "collector_id",
    "category",
    "templates",
    "templates_id",
    "function",
    "criticality",
    "availability_target",
    "availability_period",
    "availability_period_id",
    "check_period",
    "check_period_id",
    "notification_period",
    "notification_period_id",
    "check_interval",
    "parents",
    "parents_id",
    "labels",
    "labels_id",
    "instructions",
]
ServiceColumn = Literal[
    "id",
    "name",
    "host",
    "host_id",
    "company",
    "company_id",
    "template",
    "template_id",
    "criticality",
    "availability_target",
    "availability_period",
    "availability_period_id",
    "check_period",
    "check_period_id",
    "notification_period",
    "notification_period_id",
    "check_interval",
    "warning",
    "critical",
    "arguments",
    "labels",
    "labels_id",
    "instructions",
]


def _check_export_text(value: str) -> str:
    # an empty header matches no column; an empty category label would write an empty
    # cell, which clears the host's category in the product
    if not value.strip():
        raise PydanticCustomError(
            "blank_text", "a header or a label as the export shows it cannot be blank"
        )
    return value


def _check_list_separator(value: str) -> str:
    if not value:
        raise PydanticCustomError(
            "blank_text", "the list separator cannot be empty (the default is ',')"
        )
    return value


ExportText = Annotated[
    str,
    StringConstraints(max_length=256),
    AfterValidator(_check_export_text),
    Field(
        description="a header or a label as the product's export shows it (not blank)",
        json_schema_extra={"pattern": r"\S"},  # what _check_export_text checks, for editors
    ),
]


class ServiceNavColumns(BaseModel):
    """The column map's overrides, per entity: field -> header."""

    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)
    hosts: dict[HostColumn, ExportText] | None = Field(
        None, description="hosts export: field -> header, over the shipped map"
    )
    services: dict[ServiceColumn, ExportText] | None = Field(
        None, description="unit-services export: field -> header, over the shipped map"
    )


class ServiceNavSettings(BaseModel):
    """How the product's CSV exports are read and written (snavc/bridge/columns.py,
    docs/servicenav.md): the shipped column map's overrides and the value formats."""

    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)
    language: Literal["en", "fr"] | None = Field(
        default=None, description="UI language of the exports (default: from the header line)"
    )
    columns: ServiceNavColumns | None = Field(
        default=None, description="per entity (hosts, services): field -> header"
    )
    categories: dict[Category, ExportText] = Field(
        default_factory=dict, description="category -> label in the export"
    )
    decimal: Literal[".", ","] | None = Field(
        None, description="the decimal separator of the product's CSV exports: '.' or ','"
    )
    list_separator: (
        Annotated[str, StringConstraints(max_length=8), AfterValidator(_check_list_separator)]
        | None
    ) = Field(
        None,
        description="the separator of lists inside a CSV cell (not empty)",
        json_schema_extra={"minLength": 1},
    )
    check_interval_unit: Literal["minutes", "seconds"] | None = Field(
        None, description="the unit of check intervals in the CSV exports: minutes or seconds"
    )


class Project(Obj):
    kind: Literal["Project"] = Field(
        description="Project: the repository's settings, in snav.yaml only"
    )
    name: str | None = Field(None, description="display name of the repository")
    default_user: ID | None = Field(
        None,
        description="ID of the User who configures every object that has no configured_by (V1)",
    )
    vendor_name: str = Field(
        "Viadéis Services",
        description="section title of the product's periods for partner users (P8)",
    )
    catalog: FolderPath | None = Field(
        default=None, description="folder of catalogue YAML replacing the shipped one"
    )
    exclude: list[Annotated[str, AfterValidator(_check_pattern)]] = Field(
        default_factory=list,
        description="files and folders snavc does not read: gitignore-style patterns, "
        "relative to the repository (e.g. mkdocs.yml, ansible/)",
    )
    ignore: list[Annotated[str, AfterValidator(_check_ignored_code)]] = Field(
        default_factory=list,
        description="codes of warnings not to report (e.g. SNV409); errors are always reported",
    )
    servicenav: ServiceNavSettings | None = Field(
        default=None, description="the bridge to ServiceNav's CSV exports (docs/servicenav.md)"
    )


class Partner(Obj):
    kind: Literal["Partner"] = Field(description="Partner: a node under the product (N1)")
    id: ID = Field(description="node ID (N1)")
    name: str = Field(
        description="display name; the section title of product periods for its client users (P8, T8)"
    )


class Client(Obj):
    kind: Literal["Client"] = Field(description="Client: a node under a partner (N1)")
    id: ID = Field(description="node ID (N1)")
    name: str = Field(description="display name")
    parent: ID = Field(description="ID of its Partner (N1)")
    mode: Mode = Field(
        description="managed ('infogérance': the partner monitors it) or resale ('revente') (M1, V2)"
    )
    crm_ref: str | None = Field(
        None, description="'Société dans le CRM'; while set, the mode may not change (M3)"
    )


class Site(Obj):
    kind: Literal["Site"] = Field(description="Site: a node under a client (N1)")
    id: ID = Field(description="node ID (N1)")
    name: str = Field(description="display name")
    parent: ID = Field(description="ID of its Client (N1)")
    crm_ref: str | None = Field(None, description="'Société dans le CRM' (M3)")


class Box(Obj):
    kind: Literal["Box"] = Field(description="Box: a monitoring box that runs the checks (B1-B3)")
    id: ID = Field(description="ID of the box")
    name: str | None = Field(None, description="display name")
    at: ID | None = Field(
        None,
        description="node ID where it is defined (required in a repository; catalogue documents have none) (B1)",
    )
    shared: bool = Field(
        False,
        description="a shared ('SNM') partner box: may monitor the equipment of managed clients (B3)",
    )


def _check_phone(value: str) -> str:
    digits = re.sub(r"[ .\-]", "", value)
    if not re.match(r"^\+[1-9][0-9]{7,14}\Z", digits):
        raise PydanticCustomError(
            "phone",
            "invalid phone number '{text}': write it in international form, '+' then the "
            "country code and the number, 8 to 15 digits (E.164), e.g. +33 6 12 34 56 78",
            {"text": value},
        )
    return value


def _check_url(value: str) -> str:
    if not re.match(r"^https://[A-Za-z0-9.-]+(:[0-9]+)?(/[^\s]*)?\Z", value):
        raise PydanticCustomError(
            "url", "invalid URL '{text}': expected https://HOST/PATH", {"text": value}
        )
    return value


Phone = Annotated[
    str,
    AfterValidator(_check_phone),
    Field(description="international form (E.164): +, country code, number; spaces allowed (C5)"),
]
HttpsURL = Annotated[str, AfterValidator(_check_url), Field(description="an https:// URL (C5)")]
Channel = Literal["email", "sms", "push", "teams", "voice", "syslog"]
# C6: what each channel needs on the contact
CHANNEL_NEEDS = {
    "email": "email",
    "sms": "phone",
    "voice": "phone",
    "teams": "teams_webhook",
    "push": "user",
}


class Contact(Obj):
    kind: Literal["Contact"] = Field(description="Contact: someone notified (C1-C3)")
    id: ID = Field(description="ID of the contact")
    name: str = Field(description="display name")
    at: ID | None = Field(
        None,
        description="node ID where it is defined (required in a repository; catalogue documents have none) (C3)",
    )
    email: str | None = Field(None, description="email address")
    phone: Phone | None = Field(
        None,
        description="phone number in international form (+33 6 12 34 56 78, C5); quote it: "
        "unquoted digits are a number",
    )
    enabled: bool = Field(
        True,
        description="a disabled contact cannot be selected in a group or a notification policy (C1, C2)",
    )
    teams_webhook: HttpsURL | None = Field(
        default=None, description="Microsoft Teams incoming webhook URL (C5)"
    )
    language: (
        Annotated[
            str,
            StringConstraints(pattern=r"^[a-z]{2}$"),
            Field(description="notification language, ISO 639-1 (fr, en...)"),
        ]
        | None
    ) = Field(None, description="notification language, ISO 639-1 (fr, en...)")
    user: ID | None = Field(
        default=None, description="the User this contact belongs to (push notifications)"
    )
    channels: list[Channel] | None = Field(
        default=None,
        description="how the contact is notified (C6: each channel needs its address); "
        "absent: by email when it has one",
    )


class ContactGroup(Obj):
    kind: Literal["ContactGroup"] = Field(
        description="ContactGroup: contacts notified together (C2, C4)"
    )
    id: ID = Field(description="ID of the group")
    name: str | None = Field(None, description="display name")
    at: ID | None = Field(
        None,
        description="node ID where it is defined (required in a repository; catalogue documents have none) (C3)",
    )
    members: list[ID] = Field([], description="IDs of its Contacts (C2, C4)")


Month = Literal[
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
MONTHS: tuple[str, ...] = Month.__args__
# X2: the product's priority between exception types, highest first
EXCEPTION_TYPES: tuple[str, ...] = ("date", "day-of-year", "day-of-month", "nth-weekday")


class TimeException(BaseModel):
    """X1: an exception that replaces a time period's ranges on some days. One form:
    ``date`` (a calendar date); ``day`` + ``month`` (every year); ``day`` (every month);
    ``weekday`` + ``nth`` (the Nth weekday of every month, or of ``month``)."""

    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)
    date: (
        Annotated[
            str,
            StringConstraints(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"),
            Field(description="a calendar date, YYYY-MM-DD"),
        ]
        | None
    ) = Field(None, description="a calendar date, YYYY-MM-DD")
    day: Annotated[int, Field(ge=1, le=31, description="day of the month")] | None = Field(
        None, description="day of the month, 1-31"
    )
    month: Month | None = Field(None, description="month of the year")
    weekday: Weekday | None = Field(None, description="day of the week")
    nth: (
        Annotated[
            int, Field(ge=-1, le=5, description="1-5: the Nth weekday of the month; -1: the last")
        ]
        | None
    ) = Field(None, description="1-5: the Nth weekday of the month; -1: the last")
    ranges: list[TimeRange] = Field(
        **NO_ITEMS, description="the ranges of those days; empty: none (closed all day)"
    )
    description: str | None = Field(
        None, description="what the exception is for (a holiday, a closure...)"
    )

    @property
    def type(self) -> str | None:
        """X1: the exception's form, or None when its fields make none (or several)."""
        d, m, w, n = (
            self.day is not None,
            self.month is not None,
            self.weekday is not None,
            self.nth is not None,
        )
        if self.date is not None:
            return "date" if not (d or m or w or n) else None
        if w or n:
            return "nth-weekday" if w and n and not d else None
        if d:
            return "day-of-year" if m else "day-of-month"
        return None


class TimePeriod(Obj):
    kind: Literal["TimePeriod"] = Field(description="TimePeriod: weekly time ranges (P1-P8)")
    id: ID = Field(description="ID of the period")
    name: str | None = Field(None, description="display name")
    at: ID | None = Field(
        None,
        description="node ID where it is defined (required in a repository; catalogue documents have none) (P1)",
    )
    ranges: dict[Weekday, list[TimeRange]] = Field(
        {},
        description='weekday -> list of "HH:MM-HH:MM" ranges it covers; days not listed are not covered',
    )
    default_for: list[Aspect] = Field(
        [],
        description="aspects (check, notification, availability) it is the default of, at its node (P2, P3)",
    )
    exceptions: list[TimeException] = Field(
        **NO_ITEMS,
        description="days whose ranges differ (rules X1, X2): a calendar date wins over a "
        "day and month, which wins over a day of the month, which wins over an Nth weekday",
    )


class ServiceTemplate(Obj, TemplateFields):
    kind: Literal["ServiceTemplate"] = Field(
        description="ServiceTemplate: the values a unit service is created with (T1-T9)"
    )
    id: ID = Field(description="ID of the template (T1)")
    name: str | None = Field(None, description="display name")
    at: ID | None = Field(
        None,
        description="node ID where it is defined (required in a repository; catalogue documents have none) (T1)",
    )
    duplicate_of: ID | None = Field(
        None,
        description="ID of the ServiceTemplate it duplicates, as a partner user sees it at this node (T7)",
    )
    configured_by: ID | None = Field(
        None,
        description="ID of the User who configures it (default: Project.default_user; V1, V1a)",
    )
    arguments: dict[ArgumentName, str | None] | None = Field(
        default=None,
        description="the arguments a unit service of this template may set (rule S1): "
        "name -> default value, or null for no default",
    )
    thresholds: Thresholds | None = Field(
        default=None,
        description="default warning/critical thresholds of its unit services (S2, S3)",
    )
    instructions: Instructions | None = Field(
        default=None, description="default operational instruction of its unit services (I1)"
    )


class ServiceTemplateOverride(Obj, TemplateFields):
    kind: Literal["ServiceTemplateOverride"] = Field(
        description="ServiceTemplateOverride: changes some fields of a template at a node and below (T2, T3)"
    )
    template: ID = Field(description="ID of the ServiceTemplate it overrides (T2)")
    at: ID | None = Field(None, description="node ID where the override applies, and below (T3)")
    configured_by: ID | None = Field(
        None,
        description="ID of the User who configures it (default: Project.default_user; V1, V1a)",
    )


class EquipmentTemplate(Obj):
    kind: Literal["EquipmentTemplate"] = Field(
        description="EquipmentTemplate: the unit services an equipment starts with (T9)"
    )
    id: ID = Field(description="ID of the template (T1)")
    name: str | None = Field(None, description="display name")
    at: ID | None = Field(
        None,
        description="node ID where it is defined (required in a repository; catalogue documents have none) (T1)",
    )
    duplicate_of: ID | None = Field(
        None, description="ID of the EquipmentTemplate it duplicates (T7)"
    )
    configured_by: ID | None = Field(
        None,
        description="ID of the User who configures it (default: Project.default_user; V1, V1a)",
    )
    services: list[ID] | None = Field(
        None,
        description="IDs of the ServiceTemplates of the unit services it gives, each named after its template (T9)",
    )
    categories: list[Category] | None = Field(
        default=None,
        description="host categories this template may be used with (rule H3); absent: any",
    )
    instructions: Instructions | None = Field(
        default=None, description="default operational instruction of its equipment (I1)"
    )


class MonitoringAccount(Obj):
    kind: Literal["MonitoringAccount"] = Field(
        description="MonitoringAccount: credentials a box uses (E1)"
    )
    id: ID = Field(description="ID of the account")
    name: str | None = Field(None, description="display name")
    at: ID | None = Field(
        None,
        description="node ID where it is defined (required in a repository; catalogue documents have none) (E1, V3)",
    )
    protocol: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]*$")] = Field(
        description="protocol, a lowercase word: snmp, ssh, wmi..."
    )
    username: str | None = Field(None, description="user name")
    secret: SecretRef = Field(
        description="where the deployment finds the secret: env:NAME or file:PATH, never the secret itself"
    )


class Role(Obj):
    kind: Literal["Role"] = Field(description="Role: what a user may do (V1a)")
    id: ID = Field(description="ID of the role")
    name: str | None = Field(None, description="display name")
    permissions: list[Permission] = Field(
        [],
        description="what a user with this role may do: configure_equipment, configure_services, create_templates (V1, V1a)",
    )


class User(Obj):
    kind: Literal["User"] = Field(description="User: a person who configures objects (V1, V2)")
    id: ID = Field(description="ID of the user")
    name: str | None = Field(None, description="display name")
    at: ID | None = Field(
        None, description="node ID of the user's home node ('société de rattachement') (V1, V2)"
    )
    role: ID = Field(description="ID of the user's Role (V1a)")


class Periods(BaseModel):
    """Explicit periods per aspect (P3-P7); a missing aspect takes the default walk."""

    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)
    check: ID | None = Field(None, description="ID of the TimePeriod for checks (P3-P7)")
    notification: ID | None = Field(
        None, description="ID of the TimePeriod for notifications (P3-P7)"
    )
    availability: ID | None = Field(
        None, description="ID of the TimePeriod for availability (P3-P7)"
    )


StatusChange = Literal[
    "up",
    "down",
    "unreachable",
    "ok",
    "warning",
    "critical",
    "unknown",
    "flapping",
    "recovery",
    "acknowledgement",
    "maintenance",
]


class Escalation(BaseModel):
    """A1: an escalation level: who is notified when an alert is not acknowledged
    after ``after_checks`` more checks."""

    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)
    level: Annotated[int, Field(ge=1, le=3, description="1 to 3")]
    after_checks: Annotated[int, Field(ge=1, description="checks without acknowledgement")]
    contacts: list[ID] = Field([], description="IDs of the Contacts notified at this level (C1)")
    groups: list[ID] = Field([], description="IDs of the ContactGroups notified at this level")


class Notification(BaseModel):
    """Notification policy: contacts and contact groups (C1-C3); whether it is on,
    which status changes notify, confirmation checks and escalation (A1-A3). Its time
    slot is the object's notification period (``periods.notification``, P3-P7)."""

    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)
    contacts: list[ID] = Field([], description="IDs of the Contacts notified (C1, C3)")
    groups: list[ID] = Field([], description="IDs of the ContactGroups notified (C2, C3)")
    enabled: bool = Field(default=True, description="false: nothing is notified (A2)")
    notify_on: list[StatusChange] | None = Field(
        default=None, description="the status changes that notify (A2); absent: all"
    )
    confirmation_checks: Annotated[int, Field(ge=0, le=10)] | None = Field(
        default=None, description="extra checks confirming a status before the first notification"
    )
    escalations: list[Escalation] = Field(
        **NO_ITEMS, description="escalation levels 1-3 (A1), contacts active only (C1)"
    )


class UnitService(TemplateFields):
    """A unit service declared on an equipment, beyond its template's (T9)."""

    name: ID | None = Field(
        None, description="its name, unique within the equipment (default: the template's ID) (T9)"
    )
    template: ID = Field(description="ID of its ServiceTemplate (T3, V6)")
    notification_period: ID | None = Field(
        None,
        description="ID of the TimePeriod for its notifications (default: the walk from the equipment's node) (P6)",
    )
    servicenav_id: ServiceNavID | None = Field(
        None, description="the product's ID of this unit service"
    )
    arguments: dict[ArgumentName, str] | None = Field(
        default=None, description="argument values, names the template declares (rule S1)"
    )
    thresholds: Thresholds | None = Field(
        default=None, description="warning/critical thresholds, Nagios ranges (rule S2)"
    )
    instructions: Instructions | None = Field(
        None,
        description="operational instruction ('consigne'), a URL or a text (default: the template's) (I1)",
    )
    labels: list[ID] = Field(**NO_ITEMS, description="Label IDs (rule H7)")
    notification: Notification | None = Field(
        default=None, description="the unit service's own notification policy (C1, C3, A1-A3)"
    )
    accounts: list[ID] = Field(
        **NO_ITEMS,
        description="monitoring accounts of this service: each replaces the equipment's of "
        "its protocol (K1)",
    )


class ServiceSettings(BaseModel):
    """Settings of a unit service an equipment template gives (T9): what an equipment
    sets on it without declaring the service again (``service_settings.NAME``)."""

    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)
    servicenav_id: ServiceNavID | None = Field(
        None, description="the product's ID of this unit service"
    )
    arguments: dict[ArgumentName, str] | None = Field(
        None, description="argument values, names the template declares (S1)"
    )
    thresholds: Thresholds | None = Field(
        None, description="warning/critical thresholds, Nagios ranges (S2)"
    )
    instructions: Instructions | None = Field(
        None, description="operational instruction ('consigne'), a URL or a text (I1)"
    )
    labels: list[ID] = Field([], description="Label IDs (H7)")
    notification: Notification | None = Field(
        None, description="the unit service's own notification policy (C1, C3, A1-A3)"
    )
    accounts: list[ID] = Field(
        [],
        description="monitoring accounts of this service: each replaces the equipment's of "
        "its protocol (K1)",
    )


class Equipment(Obj):
    kind: Literal["Equipment"] = Field(description="Equipment: a monitored device (B1-B3, T9)")
    id: ID = Field(description="ID of the equipment")
    name: str | None = Field(None, description="display name")
    at: ID | None = Field(
        None,
        description="node ID where it is defined (required in a repository; catalogue documents have none) (V6)",
    )
    servicenav_id: ServiceNavID | None = Field(
        default=None, description="the product's ID of this host; unique (rule H6)"
    )
    address: Address | None = Field(None, description="network address or host name")
    category: Category | None = Field(
        default=None, description="host category (rule H3); absent: 'other', not filtered"
    )
    template: ID | None = Field(default=None, description="one equipment template (T9, H2)")
    templates: list[ID] | None = Field(
        default=None, description="several equipment templates, in order (H2); not with 'template'"
    )
    function: str | None = Field(default=None, description="the host's function, free text")
    box: ID = Field(description="ID of the Box that monitors it (B1-B3)")
    configured_by: ID | None = Field(
        None,
        description="ID of the User who configures it (default: Project.default_user; V1, V1a)",
    )
    criticality: Criticality | None = Field(
        None, description="the host's criticality, 1 (lowest) to 5 (highest)"
    )
    availability_target: Percent | None = Field(
        None, description="the host's availability target, percent: > 0 and <= 100"
    )
    check_interval: Seconds | None = Field(
        None, description="seconds between two checks of the host, >= 1"
    )
    parents: list[ID] = Field(
        **NO_ITEMS,
        description="parent hosts (rule H4, H5): a CRITICAL parent makes this host UNKNOWN",
    )
    labels: list[ID] = Field(**NO_ITEMS, description="Label IDs (rule H7)")
    instructions: Instructions | None = Field(
        None,
        description="operational instruction ('consigne'), a URL or a text (default: its first template's) (I1)",
    )
    accounts: list[ID] = Field([], description="IDs of the MonitoringAccounts it uses (E1)")
    periods: Periods = Field(
        default_factory=Periods,
        description="periods set explicitly per aspect; an aspect not set takes the default walk (P3-P7)",
    )
    notification: Notification = Field(
        default_factory=Notification,
        description="notification policy: contacts and contact groups (C1, C3)",
    )
    services: list[UnitService] = Field([], description="unit services beyond the template's (T9)")
    service_settings: dict[ID, ServiceSettings] | None = Field(
        default=None,
        description="per unit service its templates give (by name): servicenav_id, arguments, "
        "thresholds, instructions, labels (S1-S3)",
    )

    @property
    def template_ids(self) -> list[str]:
        """H2: the equipment templates, ``templates`` or the one ``template``."""
        if self.templates is not None:
            return self.templates
        return [self.template] if self.template is not None else []

    def template_path(self, i: int) -> tuple:
        """Where the ``i``-th template is written."""
        return ("templates", i) if self.templates is not None else ("template",)


_DATETIME = re.compile(
    r"^([0-9]{4}-[0-9]{2}-[0-9]{2})[T ]([0-9]{2}:[0-9]{2}(:[0-9]{2})?)(Z|[+-][0-9]{2}:[0-9]{2})?\Z"
)


def parse_datetime(text: str):
    """W1: ``2026-12-20T22:00`` (seconds and a UTC offset optional) -> datetime."""
    import datetime

    m = _DATETIME.match(text)
    try:
        if not m:
            raise ValueError
        value = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise PydanticCustomError(
            "datetime",
            "invalid date and time '{text}': write YYYY-MM-DDTHH:MM, with a day and a time "
            "that exist (e.g. 2026-12-20T22:00, optionally +01:00)",
            {"text": text},
        ) from None
    return value


def _check_datetime(value: str) -> str:
    parse_datetime(value)
    return value


DateTime = Annotated[
    str,
    AfterValidator(_check_datetime),
    Field(description="YYYY-MM-DDTHH:MM[:SS][Z|+HH:MM]; without an offset: the box's local time"),
]
MaintenanceTarget = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]*(/[a-z0-9][a-z0-9._-]*)?$", max_length=129),
    Field(description="an equipment ID, or a unit service ID <equipment id>/<service name>"),
]


class MaintenanceWindow(Obj):
    """W1-W3: a planned maintenance of hosts and unit services: notifications stop,
    monitoring goes on."""

    kind: Literal["MaintenanceWindow"] = Field(
        description="MaintenanceWindow: notifications stop on its targets (W1-W3)"
    )
    id: ID = Field(description="ID of the maintenance window")
    name: str | None = Field(None, description="display name")
    at: ID | None = Field(None, description="node ID where it is defined (W2)")
    configured_by: ID | None = Field(
        None,
        description="ID of the User who configures it (default: Project.default_user; V1, L1)",
    )
    targets: list[MaintenanceTarget] = Field(
        min_length=1, description="equipment and unit services (W2): at least one"
    )
    start: DateTime
    end: DateTime = Field(description="after start (W1)")
    planner: ID | None = Field(default=None, description="the User who plans it")
    description: str | None = Field(None, description="what the maintenance is for")
    notify: Notification = Field(
        default_factory=Notification, description="contacts and groups told of it (C1, C3)"
    )
    requester: Literal["partner", "client"] | None = Field(
        default=None, description="who asked for it"
    )
    counts_in_availability: bool = Field(
        default=False, description="true: its time counts in the availability rate"
    )


class Label(Obj):
    """A named tag on hosts and unit services (rule H7)."""

    kind: Literal["Label"] = Field(description="Label: a named tag on hosts and unit services (H7)")
    id: ID
    name: str | None = Field(None, description="display name")
    at: ID | None = Field(None, description="node ID where it is defined (H7)")


UnitServiceID = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]*/[a-z0-9][a-z0-9._-]*$", max_length=129),
    Field(description="unit service ID: <equipment id>/<service name>"),
]


class Component(BaseModel):
    """U2: one component of a user service: a host, a unit service or another user
    service (exactly one), whose failure blocks or degrades it."""

    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)
    host: ID | None = Field(None, description="ID of an Equipment (a host)")
    service: UnitServiceID | None = Field(
        None, description="a unit service, as <equipment id>/<service name>"
    )
    user_service: ID | None = Field(None, description="ID of another UserService (U3: no cycle)")
    impact: Literal["blocking", "degrading"] = Field(
        default="blocking", description="blocking: its failure stops the user service"
    )

    @property
    def target(self) -> tuple[str, str] | None:
        """``(kind, ID)`` of the one thing it names, or None (none, or several)."""
        set_ = [
            (k, v)
            for k, v in (
                ("Equipment", self.host),
                ("UnitService", self.service),
                ("UserService", self.user_service),
            )
            if v is not None
        ]
        return set_[0] if len(set_) == 1 else None


class UserService(Obj):
    kind: Literal["UserService"] = Field(
        description="UserService: a service made of unit services of several equipment"
    )
    id: ID = Field(description="ID of the user service")
    name: str | None = Field(None, description="display name")
    at: ID | None = Field(
        None,
        description="node ID where it is defined (required in a repository; catalogue documents have none)",
    )
    configured_by: ID | None = Field(
        None,
        description="ID of the User who configures it (default: Project.default_user; V1, V1a)",
    )
    members: list[UnitServiceID] = Field(
        [], description="its unit services, as <equipment id>/<service name> (blocking components)"
    )
    components: list[Component] = Field(
        **NO_ITEMS,
        description="hosts, unit services and user services it is made of, each blocking or "
        "degrading (U2, U3: no cycle); `members` are blocking unit services",
    )
    criticality: Criticality | None = Field(None, description="criticality, 1 to 5 (U2)")
    availability_target: Percent | None = Field(
        None, description="target availability rate, in percent (U2)"
    )
    weather: bool = Field(default=True, description="shown in the service weather")
    hosting: Literal["internal", "cloud"] | None = Field(None, description="internal or cloud (U2)")
    periods: Periods = Field(
        default_factory=Periods,
        description="periods set explicitly per aspect; an aspect not set takes the default walk (P3-P7)",
    )
    notification: Notification = Field(
        default_factory=Notification,
        description="notification policy: contacts and contact groups (C1, C3), escalation (A1-A3)",
    )


MODELS: dict[str, type[Obj]] = {
    m.__name__: m
    for m in (
        Project,
        Partner,
        Client,
        Site,
        Box,
        Contact,
        ContactGroup,
        TimePeriod,
        ServiceTemplate,
        ServiceTemplateOverride,
        EquipmentTemplate,
        MonitoringAccount,
        Role,
        User,
        Equipment,
        UserService,
        Label,
        MaintenanceWindow,
    )
}

NODE_KINDS = ("Partner", "Client", "Site")
# Kinds placed at a node with `at` (in the repository; catalogue documents have none).
AT_KINDS = tuple(k for k, m in MODELS.items() if "at" in m.model_fields)
# Kinds configured by a user (V1a): the permission each needs.
CONFIGURED_KINDS = {
    "Equipment": "configure_equipment",
    "UserService": "configure_services",
    "ServiceTemplate": "create_templates",
    "ServiceTemplateOverride": "create_templates",
    "EquipmentTemplate": "create_templates",
    "MaintenanceWindow": "configure_equipment",
}
# Kinds the shipped catalogue may hold.
CATALOG_KINDS = ("TimePeriod", "ServiceTemplate", "EquipmentTemplate", "Role")


def _complete_models() -> bool:
    """Complete the models from the cache of an earlier run (engine.prebuilt); True when
    they came from it."""
    from .engine import prebuilt

    models = [
        v
        for v in globals().values()
        if isinstance(v, type) and issubclass(v, BaseModel) and v.__module__ == __name__
    ]
    return prebuilt.complete(models, Path(__file__))


FROM_CACHE = _complete_models()
