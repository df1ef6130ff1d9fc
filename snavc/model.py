"""The input language (INTERFACE §1) as pydantic v2 models, one per ``kind``.

Models are strict (no silent coercion of ``"60"`` to ``60``) and forbid unknown fields.
They check each document on its own; checks across documents (IDs, references, the
tree) belong to :mod:`snavc.tree`, and the rules of RULES.md to :mod:`snavc.resolve`.
Every model keeps the :class:`~snavc.load.Document` it came from (``obj.doc``) so that
any later stage can point at the line of any field.
"""

from __future__ import annotations

import re
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
    Field(json_schema_extra={"description": "ID: lowercase letters, digits, '.', '_', '-'"}),
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

_RANGE = re.compile(r"^([0-9]{2}):([0-9]{2})-([0-9]{2}):([0-9]{2})$")


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


def _check_range(text: str) -> str:
    parse_range(text)
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
    if not re.match(r"^(env:[A-Za-z_][A-Za-z0-9_]*|file:.+)$", value):
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

Criticality = Annotated[int, Field(ge=1, le=5, description="1 (lowest) to 5 (highest)")]
Percent = Annotated[
    float, Field(gt=0, le=100, allow_inf_nan=False, description="availability target, percent")
]
Seconds = Annotated[int, Field(ge=1, description="seconds")]


class TemplateFields(BaseModel):
    """The five fields of rule T2 (``OVERRIDABLE``): set by service templates, overrides
    and unit services."""

    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)
    criticality: Criticality | None = None
    availability_target: Percent | None = None
    availability_period: ID | None = None
    check_period: ID | None = None
    check_interval: Seconds | None = None


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


class ServiceNavSettings(BaseModel):
    """How the product's CSV exports are read and written (snavc/bridge/columns.py,
    docs/servicenav.md): the shipped column map's overrides and the value formats."""

    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)
    language: Literal["en", "fr"] | None = Field(
        default=None, description="UI language of the exports (default: from the header line)"
    )
    columns: dict[Literal["hosts", "services"], dict[str, str]] = Field(
        default_factory=dict, description="field -> header, over the shipped map"
    )
    categories: dict[str, str] = Field(
        default_factory=dict, description="category -> label in the export"
    )
    decimal: Literal[".", ","] | None = None
    list_separator: str | None = None
    check_interval_unit: Literal["minutes", "seconds"] | None = None


class Project(Obj):
    kind: Literal["Project"]
    name: str | None = None
    default_user: ID | None = None
    vendor_name: str = "Viadéis Services"
    catalog: str | None = Field(
        default=None, description="folder of catalogue YAML replacing the shipped one"
    )
    servicenav: ServiceNavSettings | None = Field(
        default=None, description="the bridge to ServiceNav's CSV exports (docs/servicenav.md)"
    )


class Partner(Obj):
    kind: Literal["Partner"]
    id: ID
    name: str


class Client(Obj):
    kind: Literal["Client"]
    id: ID
    name: str
    parent: ID
    mode: Mode
    crm_ref: str | None = None


class Site(Obj):
    kind: Literal["Site"]
    id: ID
    name: str
    parent: ID
    crm_ref: str | None = None


class Box(Obj):
    kind: Literal["Box"]
    id: ID
    name: str | None = None
    at: ID | None = None
    shared: bool = False


class Contact(Obj):
    kind: Literal["Contact"]
    id: ID
    name: str
    at: ID | None = None
    email: str | None = None
    phone: str | None = None
    enabled: bool = True


class ContactGroup(Obj):
    kind: Literal["ContactGroup"]
    id: ID
    name: str | None = None
    at: ID | None = None
    members: list[ID] = []


class TimePeriod(Obj):
    kind: Literal["TimePeriod"]
    id: ID
    name: str | None = None
    at: ID | None = None
    ranges: dict[Weekday, list[TimeRange]] = {}
    default_for: list[Aspect] = []


class ServiceTemplate(Obj, TemplateFields):
    kind: Literal["ServiceTemplate"]
    id: ID
    name: str | None = None
    at: ID | None = None
    duplicate_of: ID | None = None
    configured_by: ID | None = None


class ServiceTemplateOverride(Obj, TemplateFields):
    kind: Literal["ServiceTemplateOverride"]
    template: ID
    at: ID | None = None
    configured_by: ID | None = None


class EquipmentTemplate(Obj):
    kind: Literal["EquipmentTemplate"]
    id: ID
    name: str | None = None
    at: ID | None = None
    duplicate_of: ID | None = None
    configured_by: ID | None = None
    services: list[ID] | None = None


class MonitoringAccount(Obj):
    kind: Literal["MonitoringAccount"]
    id: ID
    name: str | None = None
    at: ID | None = None
    protocol: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]*$")]
    username: str | None = None
    secret: SecretRef


class Role(Obj):
    kind: Literal["Role"]
    id: ID
    name: str | None = None
    permissions: list[Permission] = []


class User(Obj):
    kind: Literal["User"]
    id: ID
    name: str | None = None
    at: ID | None = None
    role: ID


class Periods(BaseModel):
    """Explicit periods per aspect (P3-P7); a missing aspect takes the default walk."""

    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)
    check: ID | None = None
    notification: ID | None = None
    availability: ID | None = None


class Notification(BaseModel):
    """Notification policy: contacts and contact groups (C1-C3)."""

    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)
    contacts: list[ID] = []
    groups: list[ID] = []


class UnitService(TemplateFields):
    """A unit service declared on an equipment, beyond its template's (T9)."""

    name: ID | None = None
    template: ID
    notification_period: ID | None = None


class Equipment(Obj):
    kind: Literal["Equipment"]
    id: ID
    name: str | None = None
    at: ID | None = None
    address: str | None = None
    template: ID | None = None
    box: ID
    configured_by: ID | None = None
    accounts: list[ID] = []
    periods: Periods = Field(default_factory=Periods)
    notification: Notification = Field(default_factory=Notification)
    services: list[UnitService] = []


UnitServiceID = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]*/[a-z0-9][a-z0-9._-]*$", max_length=129),
    Field(json_schema_extra={"description": "unit service ID: <equipment id>/<service name>"}),
]


class UserService(Obj):
    kind: Literal["UserService"]
    id: ID
    name: str | None = None
    at: ID | None = None
    configured_by: ID | None = None
    members: list[UnitServiceID] = []
    periods: Periods = Field(default_factory=Periods)
    notification: Notification = Field(default_factory=Notification)


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
}
# Kinds the shipped catalogue may hold.
CATALOG_KINDS = ("TimePeriod", "ServiceTemplate", "EquipmentTemplate", "Role")
