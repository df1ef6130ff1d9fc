"""Fabricated ServiceNav exports (hosts and unit services), realistic and deterministic.

``python -m snavc.bench servicenav --hosts N --language fr OUT`` writes ``OUT/hosts.csv``
and ``OUT/services.csv`` as the product's Configuration > Hosts > List and Services >
List exports might look, with the column labels of snavc's shipped map
(snavc/bridge/columns.py) plus columns snavc does not know (carried over by `export`).
The partner is the root company; clients and their sites below it; a shared partner
collector, a collector per client and some per site; several host templates per host,
service templates with arguments and thresholds, time slots, labels, parents. Names
repeat across clients (two "Site Lyon"), carry accents, commas, quotes and line breaks,
so that the bridge meets what a real export holds. The French file uses ';', quotes
every field and '\\n'; the English one ',', minimal quoting and '\\r\\n'; both a BOM.
"""

from __future__ import annotations

import csv
import io
import random
from pathlib import Path

from ..bridge.columns import CATEGORIES, HOST_COLUMNS, SERVICE_COLUMNS

HOST_EXTRA = {"status": ("Status", "Statut"), "created": ("Creation date", "Date de création")}
SERVICE_EXTRA = {"status": ("Status", "Statut"), "command": ("Check command", "Commande")}

SERVICE_TEMPLATES = [
    # (name, criticality, target, interval minutes, arguments, warning, critical)
    ("Ping", 4, 99.9, 1, {}, "100", "500"),
    ("CPU", 3, 99.5, 5, {"cores": "all"}, "80", "95"),
    ("Memory", 3, 99.5, 5, {}, "85", "95"),
    ("Disk C:", 4, 99.5, 10, {"drive": "C:", "unit": "%"}, "~:90", "~:95"),
    ("HTTP", 4, 99.9, 2, {"url": "/health", "port": "443"}, "1", "5"),
    ("Interface traffic", 2, 99.0, 5, {"interface": "Gi0/1"}, "70:", "@90:100"),
    ("Windows service", 3, 99.0, 5, {"service": "Spooler;W32Time"}, "", "1"),
    ("SSH", 2, 99.0, 5, {"port": "22"}, "", ""),
    ("Load", 2, 99.0, 5, {}, "4", "8"),
    ("Swap", 2, 99.0, 10, {}, "~:50", "~:80"),
    ("NTP", 2, 99.0, 15, {"server": "pool.ntp.org"}, "0.5", "1"),
    ("Disk /", 4, 99.5, 10, {"path": "/"}, "~:90", "~:95"),
    ("Disk /var", 3, 99.5, 10, {"path": "/var"}, "~:90", "~:95"),
    ("Disk D:", 3, 99.5, 10, {"drive": "D:", "unit": "%"}, "~:90", "~:95"),
    ("Uptime", 1, 99.0, 15, {}, "", ""),
    ("HTTPS certificate", 3, 99.0, 60, {"port": "443", "days": "30"}, "30:", "7:"),
    ("Interface errors", 2, 99.0, 5, {"interface": "Gi0/1"}, "10", "100"),
]
HOST_TEMPLATES = {
    "linux": (
        "Linux server base",
        ["Ping", "CPU", "Memory", "SSH", "Load", "Swap", "NTP", "Disk /", "Disk /var"],
    ),
    "windows": (
        "Windows server base",
        ["Ping", "CPU", "Memory", "Disk C:", "Disk D:", "Windows service", "NTP", "Uptime"],
    ),
    "web": ("Web frontend", ["HTTP", "HTTPS certificate"]),
    "switch": ("Switch SNMP", ["Ping", "Interface traffic", "Interface errors", "Uptime"]),
}
CATEGORY_OF = {"linux": "linux-server", "windows": "windows-server", "switch": "switch"}
CITIES = ["Lyon", "Paris", "Lille", "Nantes", "Brest", "Grenoble", "Orléans", "Nîmes"]


def _fmt(value: float, lang: str) -> str:
    text = repr(float(value))
    return text.replace(".", ",") if lang == "fr" else text


def fabricate(hosts: int, language: str = "en", seed: int = 1) -> tuple[bytes, bytes]:
    """``(hosts.csv, services.csv)`` bytes for an estate of about ``hosts`` hosts."""
    r = random.Random(seed)
    k = 0 if language == "en" else 1
    slots = [
        ("1", "24x7"),
        ("2", "Business hours" if k == 0 else "Heures ouvrées"),
        ("3", "Nuit & week-end"),
    ]
    labels = [("41", "Production"), ("42", "Recette"), ("43", "Critique, métier")]
    next_id = iter(range(10_000_000)).__next__
    companies = [("100", "Partenaire Infogérance" if k else "Acme Managed Services", "")]
    n_clients = max(2, hosts // 40)
    sites: list[tuple[str, str, str]] = []
    for c in range(n_clients):
        cid = str(200 + c)
        companies.append(
            (
                cid,
                f'Client {c + 1:03d} "{r.choice(CITIES)}"' if c % 7 == 3 else f"Client {c + 1:03d}",
                "100",
            )
        )
        for s in range(2 + c % 2):
            sid = str(10_000 + c * 10 + s)
            name = f"Site {CITIES[(c + s) % len(CITIES)]}"  # repeats across clients
            companies.append((sid, name, cid))
            sites.append((sid, name, cid))
    company = {cid: (name, parent) for cid, name, parent in companies}
    boxes = {"500": "SNM mutualisée 1" if k else "Shared SNM 1"}
    client_box = {}
    for cid, _name, parent in companies:
        if parent == "100":
            client_box[cid] = str(100_000 + len(client_box))
            boxes[client_box[cid]] = f"Box {company[cid][0]}"
    site_box = {}
    for sid, name, _client in sites[::5]:
        site_box[sid] = str(200_000 + len(site_box))
        boxes[site_box[sid]] = f"Box {name}"
    ht_ids = {key: str(300 + i) for i, key in enumerate(HOST_TEMPLATES)}
    st_ids = {t[0]: str(400 + i) for i, t in enumerate(SERVICE_TEMPLATES)}
    st = {t[0]: t for t in SERVICE_TEMPLATES}

    hcols = list(HOST_COLUMNS) + list(HOST_EXTRA)
    hhead = [(HOST_COLUMNS | HOST_EXTRA)[c][k] for c in hcols]
    scols = list(SERVICE_COLUMNS) + list(SERVICE_EXTRA)
    shead = [(SERVICE_COLUMNS | SERVICE_EXTRA)[c][k] for c in scols]
    hrows, srows = [], []
    host_ids: list[str] = []
    hrows_name: dict[str, str] = {}
    hosts_at: dict[str, list[str]] = {}
    for i in range(hosts):
        pid = str(20_000 + i)
        where = r.random()
        if where < 0.03:
            cid = "100"
        elif where < 0.15:
            cid = r.choice([c for c, _n, p in companies if p == "100"])
        else:
            cid = r.choice(sites)[0]
        name, parent = company[cid]
        client = cid if parent == "100" else (parent if parent else None)
        if cid == "100":
            box = "500"
        elif cid in site_box and r.random() < 0.5:
            box = site_box[cid]
        elif r.random() < 0.3:
            box = "500"
        else:
            box = client_box[client]
        kind = r.choice(list(HOST_TEMPLATES))
        templates = [kind] + (["web"] if kind == "linux" and r.random() < 0.4 else [])
        city = CITIES[i % len(CITIES)].lower().replace("î", "i").replace("é", "e")
        host_name = f"{'srv' if kind != 'switch' else 'sw'}-{city}-{i:05d}"
        if i % 97 == 5:
            host_name = f"srv-lyon-{i - 1:05d}"  # two hosts, one name
        periods = {
            a: r.choice(slots) if r.random() < 0.2 else slots[0 if a != "check" else 1]
            for a in ("availability", "check", "notification")
        }
        host_labels = r.sample(labels, r.randint(0, 2))
        # a parent is at the host's company or above it (rule H5)
        above = hosts_at.get(cid, []) + hosts_at.get(parent, []) + hosts_at.get("100", [])
        parents = [r.choice(above)] if above and r.random() < 0.1 else []
        category = CATEGORY_OF.get(kind, "other")
        v = {
            "id": pid,
            "name": host_name,
            "address": f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}"
            if i % 11
            else f"{host_name}.example.net",
            "company": name,
            "company_id": cid,
            "parent_company": company[parent][0] if parent else "",
            "parent_company_id": parent,
            "collector": boxes[box],
            "collector_id": box,
            "category": CATEGORIES[category][k],
            "templates": ",".join(HOST_TEMPLATES[t][0] for t in templates),
            "templates_id": ",".join(ht_ids[t] for t in templates),
            "function": r.choice(
                ["", "Serveur de fichiers, impression" if k else "File server, printing", "ERP"]
            ),
            "criticality": str(r.randint(1, 5)) if r.random() < 0.5 else "",
            "availability_target": _fmt(r.choice([99.0, 99.5, 99.9]), language)
            if r.random() < 0.3
            else "",
            "availability_period": periods["availability"][1],
            "availability_period_id": periods["availability"][0],
            "check_period": periods["check"][1],
            "check_period_id": periods["check"][0],
            "notification_period": periods["notification"][1],
            "notification_period_id": periods["notification"][0],
            "check_interval": str(r.choice([1, 5, 10])) if r.random() < 0.4 else "",
            "parents": ",".join(hrows_name[p] for p in parents) if parents else "",
            "parents_id": ",".join(parents),
            "labels": ",".join(n for _, n in host_labels),
            "labels_id": ",".join(i for i, _ in host_labels),
            "instructions": r.choice(
                [
                    "",
                    "https://wiki.example.net/runbook",
                    'Appeler l\'astreinte\n"NOC" 24/7' if k else 'Call the "NOC"\nthen the on-call',
                ]
            ),
            "status": r.choice(["Enabled", "Disabled"])
            if k == 0
            else r.choice(["Activé", "Désactivé"]),
            "created": f"2024-0{r.randint(1, 9)}-1{r.randint(0, 9)} 10:0{r.randint(0, 9)}",
        }
        hrows_name[pid] = host_name
        host_ids.append(pid)
        hosts_at.setdefault(cid, []).append(pid)
        hrows.append([v[c] for c in hcols])
        names = []
        for t in templates:
            names += [n for n in HOST_TEMPLATES[t][1] if n not in names]
        for sname in names:
            tname, crit, target, minutes, args, warn, critical = st[sname]
            if r.random() < 0.1:
                crit = r.randint(1, 5)
            if r.random() < 0.05:
                minutes = r.choice([1, 15])
            args = dict(args)
            if "port" in args and r.random() < 0.2:
                args["port"] = str(r.choice([8080, 8443]))
            period = slots[0] if r.random() < 0.9 else slots[1]
            notify = slots[0] if r.random() < 0.8 else slots[2]
            service_labels = r.sample(labels, r.randint(0, 1))
            sv = {
                "id": str(1_000_000 + next_id()),
                "name": sname,
                "host": host_name,
                "host_id": pid,
                "company": name,
                "company_id": cid,
                "template": tname,
                "template_id": st_ids[tname],
                "criticality": str(crit),
                "availability_target": _fmt(target, language),
                "availability_period": slots[0][1],
                "availability_period_id": slots[0][0],
                "check_period": period[1],
                "check_period_id": period[0],
                "notification_period": notify[1],
                "notification_period_id": notify[0],
                "check_interval": str(minutes),
                "warning": warn,
                "critical": critical,
                "arguments": ";".join(
                    f"{a}={x.replace(';', chr(92) + ';')}" for a, x in args.items()
                ),
                "labels": ",".join(n for _, n in service_labels),
                "labels_id": ",".join(i for i, _ in service_labels),
                "instructions": ""
                if r.random() < 0.9
                else "Redémarrer le service"
                if k
                else "Restart the service",
                "status": "OK",
                "command": f"check_{tname.split()[0].lower()} -H $HOSTADDRESS$",
            }
            srows.append([sv[c] for c in scols])
    return _write(hhead, hrows, language), _write(shead, srows, language)


def _write(header: list[str], rows: list[list[str]], language: str) -> bytes:
    out = io.StringIO()
    if language == "fr":
        w = csv.writer(out, delimiter=";", quoting=csv.QUOTE_ALL, lineterminator="\n")
    else:
        w = csv.writer(out, delimiter=",", quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    w.writerow(header)
    w.writerows(rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def write_exports(out: Path, hosts: int, language: str = "en", seed: int = 1) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    h, s = fabricate(hosts, language, seed)
    (out / "hosts.csv").write_bytes(h)
    (out / "services.csv").write_bytes(s)
    return out / "hosts.csv", out / "services.csv"
