"""A generator of large, realistic estates, deterministic from a seed.

``python -m snavc.bench generate --equipment N OUT`` writes a repository that validates
clean: N/100 clients (one in ten in resale mode), N/10 sites, ten equipment per site,
each with ~10 unit services; contacts, groups, boxes, accounts and periods at every
level, defaults at some levels, overrides of product and partner templates at all
levels, partner and client templates, users of both kinds and user services. One file
per site (its equipment), per client and per partner, as a partner would keep it.
"""

from __future__ import annotations

import random
from pathlib import Path

EQUIPMENT_PER_SITE = 10
SITES_PER_CLIENT = 10


def _doc(lines: list[str]) -> str:
    return "\n".join(lines) + "\n"


def _by(docs: list[str], user: str) -> list[str]:
    """Templates and overrides are configured by a user allowed to (V1, V1a)."""
    return [
        d + f"configured_by: {user}\n"
        if d.startswith(("kind: ServiceTemplate", "kind: EquipmentTemplate"))
        else d
        for d in docs
    ]


def _partner(p: str, r: random.Random) -> list[str]:
    docs = [
        _doc(["kind: Partner", f"id: {p}", f"name: Partner {p.upper()}"]),
        _doc(
            [
                "kind: User",
                f"id: {p}-admin",
                f"name: Admin of {p}",
                f"at: {p}",
                "role: partner-admin",
            ]
        ),
    ]
    for i in range(5):
        docs.append(
            _doc(
                [
                    "kind: Contact",
                    f"id: {p}-noc-{i}",
                    f"name: NOC {i} of {p}",
                    f"at: {p}",
                    f"email: noc{i}@{p}.example.net",
                    f"enabled: {'false' if i == 4 else 'true'}",
                    f"phone: '+33 1 40 00 00 0{i}'",  # C5
                    "channels: [email, sms]",  # C6
                    "language: fr",
                ]
            )
        )
    docs.append(
        _doc(
            [
                "kind: ContactGroup",
                f"id: {p}-oncall",
                f"at: {p}",
                f"members: [{p}-noc-0, {p}-noc-1, {p}-noc-2]",
            ]
        )
    )
    docs.append(
        _doc(
            [
                "kind: TimePeriod",
                f"id: {p}-extended",
                f"name: Extended hours of {p}",
                f"at: {p}",
                "ranges:",
                *[
                    f'  {d}: ["07:00-20:00"]'
                    for d in ("monday", "tuesday", "wednesday", "thursday", "friday")
                ],
                '  saturday: ["08:00-12:00"]',
                "default_for: [check]",
                "exceptions:",  # X1, X2
                "  - {date: '2026-12-24', ranges: ['07:00-13:00']}",
                "  - {day: 25, month: december, ranges: []}",
                "  - {day: 1, month: january, ranges: []}",
                "  - {weekday: monday, nth: 1, ranges: ['09:00-20:00']}",
            ]
        )
    )
    docs.append(
        _doc(
            [
                "kind: TimePeriod",
                f"id: {p}-weekend",
                f"at: {p}",
                "ranges:",
                '  saturday: ["00:00-24:00"]',
                '  sunday: ["00:00-24:00"]',
            ]
        )
    )
    for i in range(2):
        docs.append(
            _doc(
                [
                    "kind: Box",
                    f"id: {p}-snm-{i}",
                    f"name: Shared box {i}",
                    f"at: {p}",
                    "shared: true",
                ]
            )
        )
    docs.append(_doc(["kind: Box", f"id: {p}-lab", f"at: {p}", "shared: false"]))
    docs.append(
        _doc(
            [
                "kind: MonitoringAccount",
                f"id: {p}-ssh",
                f"at: {p}",
                "protocol: ssh",
                "username: monitor",
                f"secret: env:{p.upper()}_SSH_KEY",
            ]
        )
    )
    docs.append(
        _doc(
            [
                "kind: ServiceTemplateOverride",
                "template: cpu",
                f"at: {p}",
                "availability_target: 99.9",
                "check_interval: 120",
            ]
        )
    )
    docs.append(
        _doc(["kind: ServiceTemplateOverride", "template: ping", f"at: {p}", "check_interval: 30"])
    )
    docs.append(
        _doc(
            [
                "kind: ServiceTemplate",
                f"id: {p}-cpu-strict",
                f"at: {p}",
                "duplicate_of: cpu",
                "criticality: 5",
                "check_interval: 60",
            ]
        )
    )
    docs.append(
        _doc(
            [
                "kind: ServiceTemplate",
                f"id: {p}-app",
                f"name: Application probe of {p}",
                f"at: {p}",
                "criticality: 3",
                "availability_target: 99.0",
                "availability_period: 24x7",
                f"check_period: {p}-extended",
                "check_interval: 300",
                "arguments: {url: /health, timeout: '10'}",  # S1
                "thresholds: {warning: '2', critical: '5'}",  # S2, S3
                f"instructions: https://wiki.{p}.example/app-probe",  # I1
            ]
        )
    )
    docs.append(
        _doc(
            [
                "kind: ServiceTemplateOverride",
                "template: " + f"{p}-app",
                f"at: {p}",
                "criticality: 4",
            ]
        )
    )
    docs.append(
        _doc(
            [
                "kind: EquipmentTemplate",
                f"id: {p}-linux",
                f"name: Linux server of {p}",
                f"at: {p}",
                f"services: [ping, cpu, memory, disk, swap, load, ntp, ssh, {p}-app]",
                "categories: [linux-server, server]",  # H3
                "instructions: Reboot only in the maintenance slot",  # I1
            ]
        )
    )
    docs.append(_doc(["kind: Label", f"id: {p}-prod", f"at: {p}", "name: Production"]))  # H7
    return _by(docs, f"{p}-admin")


def _client(p: str, c: str, resale: bool, r: random.Random) -> list[str]:
    mode = "resale" if resale else "managed"
    docs = [
        _doc(
            [
                "kind: Client",
                f"id: {c}",
                f"name: Client {c}",
                f"parent: {p}",
                f"mode: {mode}",
                "crm_ref: null",
            ]
        ),
        _doc(["kind: User", f"id: {c}-operator", f"at: {c}", "role: client-operator"]),
    ]
    for i in range(3):
        docs.append(
            _doc(
                [
                    "kind: Contact",
                    f"id: {c}-contact-{i}",
                    f"name: Contact {i} of {c}",
                    f"at: {c}",
                    f"email: c{i}@{c}.example.com",
                ]
            )
        )
    docs.append(
        _doc(
            [
                "kind: ContactGroup",
                f"id: {c}-team",
                f"at: {c}",
                f"members: [{c}-contact-0, {c}-contact-1]",
            ]
        )
    )
    docs.append(
        _doc(
            [
                "kind: TimePeriod",
                f"id: {c}-office",
                f"at: {c}",
                "ranges:",
                *[
                    f'  {d}: ["08:00-12:00", "13:30-18:00"]'
                    for d in ("monday", "tuesday", "wednesday", "thursday", "friday")
                ],
                "default_for: [notification, check]" if resale else "default_for: [notification]",
            ]
        )
    )
    docs.append(_doc(["kind: Box", f"id: {c}-box", f"at: {c}"]))
    docs.append(
        _doc(
            [
                "kind: MonitoringAccount",
                f"id: {c}-snmp",
                f"at: {c}",
                "protocol: snmp",
                f"secret: env:SNMP_{c.upper().replace('-', '_')}",
            ]
        )
    )
    docs.append(
        _doc(
            [
                "kind: ServiceTemplateOverride",
                "template: cpu",
                f"at: {c}",
                f"criticality: {r.randint(2, 5)}",
            ]
        )
    )
    docs.append(
        _doc(["kind: ServiceTemplateOverride", "template: disk", f"at: {c}", "check_interval: 900"])
    )
    if not resale:
        docs.append(
            _doc(
                [
                    "kind: ServiceTemplateOverride",
                    "template: " + f"{p}-app",
                    f"at: {c}",
                    "check_interval: 120",
                ]
            )
        )
    docs.append(
        _doc(
            [
                "kind: ServiceTemplate",
                f"id: {c}-web",
                f"at: {c}",
                "duplicate_of: http",
                "check_interval: 45",
            ]
        )
    )
    return _by(docs, f"{p}-admin")


CATEGORY = {
    "linux-server": "linux-server",
    "windows-server": "windows-server",
    "web-server": "server",
}


def _site(
    p: str, c: str, s: str, resale: bool, first_eq: int, r: random.Random
) -> tuple[list[str], list[str]]:
    docs = [
        _doc(["kind: Site", f"id: {s}", f"name: Site {s}", f"parent: {c}"]),
        _doc(
            [
                "kind: Contact",
                f"id: {s}-desk",
                f"name: Desk of {s}",
                f"at: {s}",
                "phone: '+33 1 00 00 00 00'",
            ]
        ),
        _doc(["kind: Box", f"id: {s}-box", f"at: {s}"]),
    ]
    if r.random() < 0.3:
        docs.append(
            _doc(
                [
                    "kind: TimePeriod",
                    f"id: {s}-hours",
                    f"at: {s}",
                    "ranges:",
                    '  monday: ["06:00-22:00"]',
                    "default_for: [check]",
                ]
            )
        )
    if r.random() < 0.2:
        docs.append(
            _doc(
                ["kind: ServiceTemplateOverride", "template: memory", f"at: {s}", "criticality: 2"]
            )
        )
    members = []
    for k in range(EQUIPMENT_PER_SITE):
        e = f"eq-{first_eq + k:06d}"
        delegated = not resale and k == EQUIPMENT_PER_SITE - 1  # L4: one per site for the client
        if delegated:
            box, template, by = f"{s}-box", "linux-server", f"{c}-operator"
            contacts, groups, accounts = (
                [f"{c}-contact-0", f"{s}-desk"],
                [f"{c}-team"],
                [f"{c}-snmp"],
            )
        elif resale:
            box = r.choice([f"{c}-box", f"{s}-box"])
            template, by = r.choice(["linux-server", "windows-server", "web-server"]), f"{p}-admin"
            contacts, groups, accounts = (
                [f"{c}-contact-{k % 3}", f"{s}-desk"],
                [f"{c}-team"],
                [f"{c}-snmp"],
            )
        else:
            box = r.choice([f"{p}-snm-0", f"{p}-snm-1", f"{c}-box", f"{s}-box"])
            template, by = r.choice([f"{p}-linux", f"{p}-linux", "windows-server"]), f"{p}-admin"
            contacts, groups = (
                [f"{p}-noc-{k % 4}", f"{c}-contact-{k % 3}"],
                [f"{p}-oncall", f"{c}-team"],
            )
            accounts = [f"{p}-ssh", f"{c}-snmp"]
        lines = [
            "kind: Equipment",
            f"id: {e}",
            f"name: Server {first_eq + k}",
            f"at: {s}",
            f"address: 10.{(first_eq + k) // 65536 % 256}.{(first_eq + k) // 256 % 256}.{(first_eq + k) % 256}",
            f"template: {template}",
            f"box: {box}",
            f"configured_by: {by}",
            f"accounts: [{', '.join(accounts)}]",
            "notification:",
            f"  contacts: [{', '.join(contacts)}]",
            f"  groups: [{', '.join(groups)}]",
            "services:",
            "  - name: http-front",
            f"    template: {c}-web",
            f"    check_interval: {r.choice([30, 60, 90])}",
            "  - name: cert-expiry",
            "    template: https-cert",
            "    criticality: 2",
        ]
        # the product's fields (docs/rules/hosts.md), without drawing from `r`: the
        # estate's other values are those of the generator before them
        n = first_eq + k
        lines += [
            f"servicenav_id: 'H{n}'",  # H6: every host imported from the product
            f"category: {CATEGORY.get(template, 'linux-server')}",  # H3
        ]
        if k % 5 == 3:
            lines.append(f"parents: [eq-{first_eq + 1:06d}]")  # H4, H5: the site's gateway
        if k % 7 == 0 and not resale and not delegated:  # A1, A2: an escalating policy
            at = lines.index("services:")
            lines[at:at] = [
                "  notify_on: [down, unreachable, recovery]",
                "  confirmation_checks: 2",
                "  escalations:",
                f"    - {{level: 1, after_checks: 4, contacts: [{p}-noc-0]}}",
                f"    - {{level: 2, after_checks: 8, groups: [{p}-oncall]}}",
            ]
        if k % 3 == 0:  # S2 on one of its own services
            lines[lines.index("  - name: http-front") + 2 : 0] = [
                "    thresholds: {warning: '1', critical: '3'}"
            ]
        if k % 4 == 2 and not resale and not delegated:
            lines.append(f"labels: [{p}-prod]")  # H7
        if k % 10 == 0:
            lines.append(f"instructions: https://wiki.example/hosts/{e}")  # I1
        if r.random() < 0.1:
            lines += ["periods:", "  check: 24x7", "  availability: 24x7"]  # H8: covers
        docs.append(_doc(lines))
        members.append(f"{e}/http-front")
    return _by(docs, f"{p}-admin"), members


def generate(out: Path, equipment: int, seed: int = 1) -> dict:
    """Write an estate of about ``equipment`` equipment into ``out``; returns counts."""
    r = random.Random(seed)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    clients = max(1, equipment // (EQUIPMENT_PER_SITE * SITES_PER_CLIENT))
    partners = max(1, clients // 200)
    (out / "snav.yaml").write_text(
        _doc(["kind: Project", "name: generated-estate", "default_user: p0-admin"])
    )
    (out / "roles.yaml").write_text(
        _doc(
            [
                "kind: Role",
                "id: client-operator",
                "name: Client operator",
                "permissions: [configure_equipment, configure_services]",
            ]
        )
    )
    counts = {"partners": partners, "clients": clients, "sites": 0, "equipment": 0, "files": 2}
    eq = 0
    for ci in range(clients):
        p = f"p{ci % partners}"
        if ci < partners:
            pdir = out / p
            pdir.mkdir(exist_ok=True)
            (pdir / "partner.yaml").write_text("---\n".join(_partner(p, r)))
            counts["files"] += 1
        c = f"{p}-c{ci:05d}"
        resale = ci % 10 == 9
        cdir = out / p / c
        cdir.mkdir(parents=True, exist_ok=True)
        docs = _client(p, c, resale, r)
        site_members = []
        for si in range(SITES_PER_CLIENT):
            s = f"{c}-s{si:02d}"
            sdocs, members = _site(p, c, s, resale, eq, r)
            eq += EQUIPMENT_PER_SITE
            site_members += members[:2]
            (cdir / f"{s}.yaml").write_text("---\n".join(sdocs))
            counts["sites"] += 1
            counts["files"] += 1
        by = f"{p}-admin"
        last_site = eq - EQUIPMENT_PER_SITE  # its hosts: targets and components below
        docs.append(
            _doc(
                [
                    "kind: UserService",
                    f"id: {c}-portal",
                    f"name: Portal of {c}",
                    f"at: {c}",
                    f"configured_by: {by}",
                    f"members: [{', '.join(site_members)}]",
                    "components:",  # U2
                    f"  - {{host: eq-{last_site:06d}}}",
                    f"  - {{service: eq-{last_site + 1:06d}/http-front, impact: degrading}}",
                    "criticality: 4",
                    "availability_target: 99.5",
                    "hosting: cloud" if ci % 2 else "hosting: internal",
                    "notification:",
                    f"  groups: [{c}-team]",
                ]
            )
        )
        docs.append(
            _doc(
                [
                    "kind: MaintenanceWindow",  # W1-W3
                    f"id: {c}-mw",
                    f"at: {c}",
                    f"configured_by: {by}",
                    f"targets: [eq-{last_site + 2:06d}, eq-{last_site + 3:06d}/http-front]",
                    "start: 2026-12-20T22:00+01:00",
                    "end: 2026-12-21T02:00+01:00",
                    f"planner: {by}",
                    "description: Firmware upgrade",
                    f"notify: {{groups: [{c}-team]}}",
                    "requester: client",
                    "counts_in_availability: false",
                ]
            )
        )
        (cdir / "client.yaml").write_text("---\n".join(docs))
        counts["files"] += 1
    counts["equipment"] = eq
    return counts
