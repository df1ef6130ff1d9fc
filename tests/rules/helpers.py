"""Shared pieces of the rule tests: the base estate every test starts from, and small
helpers to pick and pin diagnostics, query answers and effective values.

The base estate (``BASE``) is the seed's shape, small: a partner ``partner`` (François,
role ``admin``), a managed client ``client1`` with sites ``client1-site1`` and
``client1-site2``, a resale client ``client2`` with ``client2-site1``, users at each
level and one box per node. It holds no time period, contact, template or equipment:
each test writes the objects it is about, in a file of its own, so that the positions it
pins are its own.
"""

from __future__ import annotations

import textwrap

from snavc.diagnostics import Diagnostic

SNAV_YAML = """\
kind: Project
name: rules-test
default_user: francois
"""

PARTNER_YAML = """\
kind: Partner
id: partner
name: Partner
---
kind: Role
id: admin
permissions: [configure_equipment, configure_services, create_templates]
---
kind: Role
id: operator
permissions: [configure_equipment, configure_services]
---
kind: Role
id: equipment-only
permissions: [configure_equipment]
---
kind: Role
id: viewer
permissions: []
---
kind: User
id: francois
name: François
at: partner
role: admin
"""

CLIENTS_YAML = """\
kind: Client
id: client1
name: Client 1 infogérance
parent: partner
mode: managed
---
kind: Site
id: client1-site1
name: Client 1 Site 1
parent: client1
---
kind: Site
id: client1-site2
name: Client 1 Site 2
parent: client1
---
kind: Client
id: client2
name: Client 2 revente
parent: partner
mode: resale
---
kind: Site
id: client2-site1
name: Client 2 Site 1
parent: client2
"""

USERS_YAML = """\
kind: User
id: stephanie
name: Stéphanie
at: client1
role: operator
---
kind: User
id: sam
name: Sam (home is a site)
at: client1-site1
role: admin
---
kind: User
id: victor
name: Victor (console only)
at: client1
role: viewer
---
kind: User
id: rita
name: Rita (resale client)
at: client2
role: admin
"""

BOXES_YAML = """\
kind: Box
id: box-snm
at: partner
shared: true
---
kind: Box
id: box-lab
at: partner
---
kind: Box
id: box-c1
at: client1
---
kind: Box
id: box-c1s1
at: client1-site1
---
kind: Box
id: box-c1s2
at: client1-site2
---
kind: Box
id: box-c2
at: client2
---
kind: Box
id: box-c2s1
at: client2-site1
"""

BASE: dict[str, str] = {
    "snav.yaml": SNAV_YAML,
    "partner.yaml": PARTNER_YAML,
    "clients.yaml": CLIENTS_YAML,
    "users.yaml": USERS_YAML,
    "boxes.yaml": BOXES_YAML,
}

# A catalogue for Project.catalog (tests of P4, P5, P9, T6): one product period that
# is the default for check only (no product default for notification/availability),
# and two service templates. Tests that need more write their own.
SMALL_CATALOG = {
    "catalog/periods.yaml": """\
        kind: TimePeriod
        id: always
        name: Always
        ranges:
          monday: ["00:00-24:00"]
        default_for: [check]
        """,
    "catalog/templates.yaml": """\
        kind: ServiceTemplate
        id: cpu
        name: CPU
        criticality: 3
        availability_target: 99.5
        availability_period: always
        check_period: always
        check_interval: 300
        ---
        kind: ServiceTemplate
        id: ping
        name: Ping
        criticality: 4
        availability_target: 99.9
        availability_period: always
        check_period: always
        check_interval: 60
        """,
    "snav.yaml": """\
        kind: Project
        name: rules-test
        default_user: francois
        catalog: catalog
        """,
}


def dedent(text: str) -> str:
    return textwrap.dedent(text)


def pin(d: Diagnostic) -> tuple:
    """What a test pins of a diagnostic: severity, code, rule, file, line, column."""
    return (d.severity, d.code, d.rule, d.file, d.line, d.column)


def errors(result) -> list[Diagnostic]:
    return [d for d in result.diagnostics if d.severity == "error"]


def warnings(result) -> list[Diagnostic]:
    return [d for d in result.diagnostics if d.severity == "warning"]


def of(result, code: str) -> list[Diagnostic]:
    return [d for d in result.diagnostics if d.code == code]


def only(result, code: str | None = None) -> Diagnostic:
    """The one diagnostic (of ``code``) of a compile; fails, showing them all, if not one."""
    found = [d for d in result.diagnostics if code is None or d.code == code]
    assert len(found) == 1, [d.to_json() for d in result.diagnostics]
    return found[0]


def clean(result) -> None:
    """No diagnostic at all (errors or warnings)."""
    assert result.diagnostics == [], [d.to_json() for d in result.diagnostics]


def ids(items: list[dict]) -> list[str]:
    return [i["id"] for i in items]


def by_id(items: list[dict]) -> dict[str, dict]:
    return {i["id"]: i for i in items}


def period(entry: dict) -> tuple[str, str]:
    """``(id, from)`` of an effective period entry."""
    return entry["id"], entry["from"]


def service_values(
    service: dict,
    fields=(
        "criticality",
        "availability_target",
        "availability_period",
        "check_period",
        "check_interval",
        "notification_period",
    ),
) -> dict:
    return {f: service[f] for f in fields}


def service_origin(res, service: dict, field: str) -> list | None:
    """``[node, file, line]`` a unit service's field came from, in the effective
    configuration: the service's own explicit value, else its shared base's origin
    (``origin`` key into the build's ``origins`` table), or an inline ``origins``."""
    if field in service.get("explicit", ()):
        # explicit values: their origins are kept by equipment, in origins.json's `explicit`
        for eq_id, eq in res.equipment.items():
            for name, s in eq["services"].items():
                if s is service:
                    return res.resolver.explicit_origins[f"equipment/{eq_id}"][
                        f"services.{name}.{field}"
                    ]
    found = res.resolver.origins[service["origin"]].get(field)
    return list(found) if found is not None else None


def origin_nodes(res, service: dict) -> dict[str, str]:
    """field -> node the value came from ("product", a node ID), for every field set."""
    fields = (
        "criticality",
        "availability_target",
        "availability_period",
        "check_period",
        "check_interval",
        "notification_period",
    )
    out = {}
    for f in fields:
        o = service_origin(res, service, f)
        if o is not None:
            out[f] = o[0]
    return out
