"""The Nagios 4 object configuration equivalent to a generated estate: the bench's peer.

``write_nagios(estate, out)`` writes what a Nagios administrator would keep for the same
estate, one ``.cfg`` file per YAML file (``out/objects/...``), and ``main_cfg(out)`` a
minimal ``nagios.cfg`` for ``nagios4 -v``. Inheritance is Nagios's own (``use``), not
snavc's resolved values:

- a time period, contact and contact group per snavc one (exceptions of periods as
  Nagios date exceptions); a host group per partner, client and site;
- a service template per service template (``register 0``), and one per override,
  ``T@NODE``, that ``use``s the override of the nearest ancestor or ``T`` itself, as
  a hand-kept Nagios configuration layers a partner's and a client's changes; a
  ``duplicate_of`` template ``use``s what it duplicates as seen from its node;
- a host template per equipment template; a host per equipment (address, parents,
  check and notification periods resolved from the node defaults as Nagios has no
  tree, contacts, groups, host groups, escalations as ``hostescalation``), and a
  service per unit service (the template's services and the equipment's own), each
  ``use``-ing the most specific template of its site; a user service is a service
  group of its members.

snavc's fields that Nagios has no directive for (criticality, availability, box,
accounts, product IDs...) are custom variables (``_CRITICALITY``), so Nagios parses as
much as snavc does. Users, roles, boxes and accounts as objects, labels and maintenance
windows have no Nagios object and are left out. Same counts as the estate's build:
hosts = equipment, services = unit services, contacts, time periods (the catalog's
three included). ``tests/test_bench.py`` checks them against a build and ``nagios4 -v``.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
from pathlib import Path

import yaml

WRITER_VERSION = "1"
CATALOG = Path(__file__).resolve().parent.parent / "catalog"
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
NOTIFY = {"down": "d", "unreachable": "u", "recovery": "r", "flapping": "f", "downtime": "s"}

COMMON = """\
define command {
    command_name    check-host-alive
    command_line    /bin/true $HOSTADDRESS$
}
define command {
    command_name    check_probe
    command_line    /bin/true $HOSTADDRESS$ $ARG1$ $_SERVICEWARNING$ $_SERVICECRITICAL$
}
define command {
    command_name    notify-host-by-email
    command_line    /bin/true $CONTACTEMAIL$ $HOSTNAME$ $HOSTSTATE$
}
define command {
    command_name    notify-service-by-email
    command_line    /bin/true $CONTACTEMAIL$ $HOSTNAME$ $SERVICEDESC$ $SERVICESTATE$
}
define contact {
    name                            generic-contact
    host_notification_period        24x7
    service_notification_period     24x7
    host_notification_options       d,u,r,f,s
    service_notification_options    w,u,c,r,f,s
    host_notification_commands      notify-host-by-email
    service_notification_commands   notify-service-by-email
    register                        0
}
define host {
    name                    generic-host
    check_command           check-host-alive
    max_check_attempts      3
    check_interval          300
    retry_interval          60
    notification_interval   3600
    notification_options    d,u,r
    register                0
}
define service {
    name                    generic-service
    check_period            {check}
    max_check_attempts      3
    check_interval          300
    retry_interval          60
    notification_interval   3600
    notification_options    w,u,c,r
    register                0
}
"""


def _define(kind: str, fields: list[tuple[str, object]]) -> str:
    lines = [f"define {kind} {{"]
    for key, value in fields:
        if value is None or value == [] or value == "":
            continue
        if isinstance(value, list):
            value = ",".join(str(v) for v in value)
        elif isinstance(value, bool):
            value = int(value)
        text = " ".join(str(value).split())  # one line
        lines.append(f"    {key:<30}{text}")
    lines.append("}\n")
    return "\n".join(lines)


def _load(path: Path) -> list[dict]:
    return [
        d for d in yaml.load_all(path.read_bytes(), Loader=yaml.CSafeLoader) if isinstance(d, dict)
    ]


def _ranges(ranges: list) -> str:
    return ",".join(ranges) if ranges else "00:00-00:00"


def _timeperiod(doc: dict) -> str:
    fields: list[tuple[str, object]] = [
        ("timeperiod_name", doc["id"]),
        ("alias", doc.get("name", doc["id"])),
    ]
    for day in DAYS:
        if day in (doc.get("ranges") or {}):
            fields.append((day, _ranges(doc["ranges"][day])))
    for x in doc.get("exceptions") or []:
        if "date" in x:
            when = str(x["date"])
        elif "weekday" in x:
            when = f"{x['weekday']} {x['nth']}" + (f" {x['month']}" if "month" in x else "")
        else:
            when = f"{x['month']} {x['day']}"
        fields.append((when, _ranges(x.get("ranges") or [])))
    return _define("timeperiod", fields)


def _contact(doc: dict) -> str:
    enabled = doc.get("enabled", True)
    return _define(
        "contact",
        [
            ("contact_name", doc["id"]),
            ("use", "generic-contact"),
            ("alias", doc.get("name", doc["id"])),
            ("email", doc.get("email")),
            ("pager", doc.get("phone")),
            ("host_notifications_enabled", enabled),
            ("service_notifications_enabled", enabled),
            ("_CHANNELS", doc.get("channels")),
            ("_LANGUAGE", doc.get("language")),
        ],
    )


class Writer:
    """One pass over the estate's files, configuration files first (a node's defaults
    and overrides are known before its equipment)."""

    def __init__(self) -> None:
        self.parent: dict[str, str | None] = {}
        self.defaults: dict[str, dict[str, str]] = {}  # node -> aspect -> period
        self.overrides: set[tuple[str, str]] = set()  # (template, node)
        self.equipment_templates: dict[str, list[str]] = {}
        self.counts = dict.fromkeys(
            (
                "hosts",
                "services",
                "contacts",
                "contactgroups",
                "timeperiods",
                "hostgroups",
                "servicegroups",
                "files",
            ),
            0,
        )

    def chain(self, node: str | None) -> list[str]:
        out = []
        while node is not None:
            out.append(node)
            node = self.parent.get(node)
        return out

    def default(self, node: str, aspect: str) -> str | None:
        for n in [*self.chain(node), "product"]:
            if aspect in self.defaults.get(n, {}):
                return self.defaults[n][aspect]
        return None

    def template_at(self, template: str, node: str | None) -> str:
        """The Nagios template a service of ``template`` uses at ``node``."""
        for n in self.chain(node):
            if (template, n) in self.overrides:
                return f"{template}@{n}"
        return template

    def objects(self, docs: list[dict]) -> str:
        """The configuration documents of one file (not its equipment)."""
        out = []
        for d in docs:
            kind = d.get("kind")
            at = d.get("at")
            if kind in ("Partner", "Client", "Site"):
                self.parent[d["id"]] = d.get("parent")
                out.append(
                    _define(
                        "hostgroup",
                        [("hostgroup_name", d["id"]), ("alias", d.get("name", d["id"]))],
                    )
                )
                self.counts["hostgroups"] += 1
            elif kind == "TimePeriod":
                for aspect in d.get("default_for") or []:
                    self.defaults.setdefault(at or "product", {})[aspect] = d["id"]
                out.append(_timeperiod(d))
                self.counts["timeperiods"] += 1
            elif kind == "Contact":
                out.append(_contact(d))
                self.counts["contacts"] += 1
            elif kind == "ContactGroup":
                out.append(
                    _define(
                        "contactgroup",
                        [
                            ("contactgroup_name", d["id"]),
                            ("alias", d.get("name", d["id"])),
                            ("members", d.get("members")),
                        ],
                    )
                )
                self.counts["contactgroups"] += 1
            elif kind == "ServiceTemplate":
                base = d.get("duplicate_of")
                use = self.template_at(base, at) if base else "generic-service"
                out.append(self.service_template(d["id"], use, d))
            elif kind == "ServiceTemplateOverride":
                t = d["template"]
                use = self.template_at(t, self.parent.get(at))
                self.overrides.add((t, at))
                out.append(self.service_template(f"{t}@{at}", use, d))
            elif kind == "EquipmentTemplate":
                self.equipment_templates[d["id"]] = list(d.get("services") or [])
                out.append(
                    _define(
                        "host",
                        [
                            ("name", d["id"]),
                            ("use", "generic-host"),
                            ("display_name", d.get("name")),
                            ("notes", d.get("instructions")),
                            ("_CATEGORIES", d.get("categories")),
                            ("register", 0),
                        ],
                    )
                )
        return "".join(out)

    def service_template(self, name: str, use: str, d: dict) -> str:
        args = d.get("arguments") or {}
        thresholds = d.get("thresholds") or {}
        return _define(
            "service",
            [
                ("name", name),
                ("use", use),
                ("display_name", d.get("name")),
                ("check_command", f"check_probe!{d['id']}" if "id" in d else None),
                ("check_period", d.get("check_period")),
                ("check_interval", d.get("check_interval")),
                ("notes", d.get("instructions")),
                ("_CRITICALITY", d.get("criticality")),
                ("_AVAILABILITY_TARGET", d.get("availability_target")),
                ("_AVAILABILITY_PERIOD", d.get("availability_period")),
                *((f"_ARG_{k}", v) for k, v in sorted(args.items())),
                ("_WARNING", thresholds.get("warning")),
                ("_CRITICAL", thresholds.get("critical")),
                ("register", 0),
            ],
        )

    def equipment(self, d: dict) -> str:
        e, site = d["id"], d["at"]
        note = d.get("notification") or {}
        periods = d.get("periods") or {}
        out = [
            _define(
                "host",
                [
                    ("host_name", e),
                    ("use", d["template"]),
                    ("alias", d.get("name", e)),
                    ("address", d.get("address")),
                    ("parents", d.get("parents")),
                    ("hostgroups", self.chain(site)),
                    ("check_period", periods.get("check") or self.default(site, "check")),
                    (
                        "notification_period",
                        periods.get("notification") or self.default(site, "notification"),
                    ),
                    ("contacts", note.get("contacts")),
                    ("contact_groups", note.get("groups")),
                    ("notification_options", [NOTIFY[x] for x in note.get("notify_on") or []]),
                    ("max_check_attempts", note.get("confirmation_checks")),
                    ("notes_url", d.get("instructions")),
                    ("_SERVICENAV_ID", d.get("servicenav_id")),
                    ("_CATEGORY", d.get("category")),
                    ("_BOX", d.get("box")),
                    ("_ACCOUNTS", d.get("accounts")),
                    ("_LABELS", d.get("labels")),
                    ("_CONFIGURED_BY", d.get("configured_by")),
                    (
                        "_AVAILABILITY_PERIOD",
                        periods.get("availability") or self.default(site, "availability"),
                    ),
                ],
            )
        ]
        self.counts["hosts"] += 1
        for x in note.get("escalations") or []:
            out.append(
                _define(
                    "hostescalation",
                    [
                        ("host_name", e),
                        ("first_notification", x["after_checks"]),
                        ("last_notification", 0),
                        ("notification_interval", 3600),
                        ("contacts", x.get("contacts")),
                        ("contact_groups", x.get("groups")),
                    ],
                )
            )
        for t in self.equipment_templates.get(d["template"], []):
            out.append(
                _define(
                    "service",
                    [
                        ("host_name", e),
                        ("service_description", t),
                        ("use", self.template_at(t, site)),
                    ],
                )
            )
            self.counts["services"] += 1
        for s in d.get("services") or []:
            thresholds = s.get("thresholds") or {}
            out.append(
                _define(
                    "service",
                    [
                        ("host_name", e),
                        ("service_description", s["name"]),
                        ("use", self.template_at(s["template"], site)),
                        ("check_interval", s.get("check_interval")),
                        ("_CRITICALITY", s.get("criticality")),
                        ("_WARNING", thresholds.get("warning")),
                        ("_CRITICAL", thresholds.get("critical")),
                    ],
                )
            )
            self.counts["services"] += 1
        return "".join(out)

    def user_service(self, d: dict) -> str:
        members = []
        for m in d.get("members") or []:
            members += m.split("/", 1)
        self.counts["servicegroups"] += 1
        return _define(
            "servicegroup",
            [
                ("servicegroup_name", d["id"]),
                ("alias", d.get("name", d["id"])),
                ("members", members),
                # a service group has no custom variables
                (
                    "notes",
                    f"criticality {d.get('criticality')}, "
                    f"availability target {d.get('availability_target')}",
                ),
            ],
        )


def _order(path: Path) -> tuple:
    """Configuration files before site files, parents before children."""
    docs_first = path.name in ("partner.yaml", "client.yaml", "snav.yaml", "roles.yaml")
    return (not docs_first, len(path.parts), str(path))


def write_nagios(estate: Path, out: Path) -> dict:
    """Write the Nagios objects of ``estate`` into ``out/objects``; returns counts."""
    estate, out = Path(estate), Path(out)
    objects = out / "objects"
    shutil.rmtree(objects, ignore_errors=True)
    objects.mkdir(parents=True)
    w = Writer()
    catalog = [d for p in sorted(CATALOG.glob("*.yaml")) for d in _load(p)]
    text = w.objects(catalog)  # product periods, templates
    check = w.defaults["product"]["check"]
    (objects / "common.cfg").write_text(COMMON.replace("{check}", check) + text)
    files = sorted((p.relative_to(estate) for p in estate.rglob("*.yaml")), key=_order)
    for rel in files:
        docs = _load(estate / rel)
        parts = [w.objects(docs)]
        parts += [w.equipment(d) for d in docs if d.get("kind") == "Equipment"]
        parts += [w.user_service(d) for d in docs if d.get("kind") == "UserService"]
        target = objects / rel.with_suffix(".cfg")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("".join(parts))
        w.counts["files"] += 1
    return w.counts


def main_cfg(out: Path) -> Path:
    """A minimal ``nagios.cfg`` over ``out/objects`` (absolute paths: written at each
    run, so that a moved folder still validates)."""
    out = Path(out).resolve()
    var = out / "var"
    (var / "spool").mkdir(parents=True, exist_ok=True)
    cfg = out / "nagios.cfg"
    cfg.write_text(
        "\n".join(
            [
                f"log_file={var}/nagios.log",
                f"cfg_dir={out}/objects",
                f"object_cache_file={var}/objects.cache",
                f"precached_object_file={var}/objects.precache",
                f"status_file={var}/status.dat",
                f"command_file={var}/nagios.cmd",
                f"check_result_path={var}/spool",
                f"lock_file={var}/nagios.lock",
                f"temp_file={var}/nagios.tmp",
                f"temp_path={var}",
                # the paths above are this user's: Nagios checks them as nagios_user
                f"nagios_user={pwd.getpwuid(os.getuid()).pw_name}",
                f"nagios_group={grp.getgrgid(os.getgid()).gr_name}",
                "illegal_macro_output_chars=`~$&|'\"<>",
                "interval_length=1",  # intervals in seconds, as snavc's
                "enable_notifications=1",
                "check_external_commands=0",
                "",
            ]
        )
    )
    return cfg


def checked(output: str) -> dict[str, int]:
    """What ``nagios4 -v`` says it checked: ``{"services": 950, "hosts": 100, ...}``
    and its ``Total Errors``."""
    import re

    counts = {}
    for m in re.finditer(r"Checked (\d+) ([a-z ]+?)\.?$", output, re.M):
        counts[m.group(2).strip()] = int(m.group(1))
    m = re.search(r"Total Errors:\s+(\d+)", output)
    if m:
        counts["errors"] = int(m.group(1))
    return counts


def verify(nagios: str, cfg: Path) -> subprocess.CompletedProcess:
    return subprocess.run([nagios, "-v", str(cfg)], capture_output=True, text=True)
