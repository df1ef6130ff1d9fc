"""Property-based tests of the scope (V2-V4, B1-B3) over random estates.

Random trees (partners, clients in random modes, sites), users at random homes and
objects of every selectable kind at random nodes. For every user and every node they
may configure at, ``query selectable`` must never offer anything of another partner, of
a sibling branch, of a node below the selected one, or of the partner under a resale
client (V2-V4); it must offer everything on path(top -> node) (V3); and the build's own
checks of an equipment must agree with it, reference by reference.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snavc.engine.pipeline import compile_repo
from snavc.query import selectable

KINDS = {
    "contact": "Contact",
    "contact-group": "ContactGroup",
    "time-period": "TimePeriod",
    "service-template": "ServiceTemplate",
    "equipment-template": "EquipmentTemplate",
    "monitoring-account": "MonitoringAccount",
    "box": "Box",
}


@st.composite
def estates(draw):
    nodes = {}  # id -> (kind, parent, mode)
    for p in range(draw(st.integers(1, 2))):
        pid = f"p{p}"
        nodes[pid] = ("partner", None, None)
        for c in range(draw(st.integers(1, 3))):
            cid = f"{pid}c{c}"
            nodes[cid] = ("client", pid, draw(st.sampled_from(["managed", "resale"])))
            for s in range(draw(st.integers(0, 2))):
                nodes[f"{cid}s{s}"] = ("site", cid, None)
    ids = sorted(nodes)
    homes = draw(st.lists(st.sampled_from(ids), min_size=1, max_size=4, unique=True))
    objects = []
    for label, kind in KINDS.items():
        for i in range(draw(st.integers(0, 3))):
            at = draw(st.sampled_from(ids))
            extra = {}
            if kind == "Box":
                extra["shared"] = draw(st.booleans())
            if kind == "Contact":
                extra["enabled"] = draw(st.booleans())
            objects.append((kind, f"{label}-{i}", at, extra))
    return nodes, homes, objects


def _path(nodes, n):
    out = [n]
    while nodes[out[-1]][1] is not None:
        out.append(nodes[out[-1]][1])
    return out[::-1]  # partner first


def _mode(nodes, n):
    kind, parent, mode = nodes[n]
    if kind == "site":
        return nodes[parent][2]
    return mode


def _expected_top(nodes, home, n):
    """V2 from the rule text: the deeper of the user's home and the cut point."""
    path = _path(nodes, n)
    if nodes[n][0] == "partner" or _mode(nodes, n) == "managed":
        cut = path[0]
    else:
        cut = path[1]  # company(n): the client
    return home if path.index(home) >= path.index(cut) else cut


def _write(root: Path, nodes, homes, objects, equipment) -> None:
    docs = ["kind: Project\ndefault_user: u0\n"]
    (root / "snav.yaml").write_text(docs[0])
    out = []
    for nid, (kind, parent, mode) in sorted(nodes.items()):
        lines = [f"kind: {kind.capitalize()}", f"id: {nid}", f"name: Node {nid}"]
        if parent:
            lines.append(f"parent: {parent}")
        if mode:
            lines.append(f"mode: {mode}")
        out.append("\n".join(lines))
    for i, home in enumerate(homes):
        out.append(f"kind: User\nid: u{i}\nat: {home}\nrole: partner-admin")
    for kind, oid, at, extra in objects:
        lines = [f"kind: {kind}", f"id: {oid}", f"at: {at}"]
        if kind == "Contact":
            lines.append(f"name: Contact {oid}")
        if kind == "ServiceTemplate":
            lines.append("duplicate_of: cpu")
        if kind == "EquipmentTemplate":
            lines.append("services: [ping]")
        if kind == "MonitoringAccount":
            lines += ["protocol: snmp", "secret: env:SNMP"]
        lines += [f"{k}: {str(v).lower()}" for k, v in extra.items()]
        out.append("\n".join(lines))
    (root / "estate.yaml").write_text("\n---\n".join(out) + "\n")
    for name, text in equipment.items():
        (root / f"{name}.yaml").write_text(text)


# The line of each reference in an equipment file written by _equipment().
LINES = {
    "Box": 4,
    "MonitoringAccount": 6,
    "Contact": 8,
    "ContactGroup": 9,
    "EquipmentTemplate": 10,
    "TimePeriod": 11,
}
CODES = {"SNV403", "SNV404", "SNV410", "SNV411", "SNV412"}


def _equipment(name, at, user, refs) -> str:
    return (
        f"kind: Equipment\nid: {name}\nat: {at}\n"
        f"box: {refs['Box']}\n"
        f"configured_by: {user}\n"
        f"accounts: [{refs['MonitoringAccount']}]\n"
        f"notification:\n  contacts: [{refs['Contact']}]\n  groups: [{refs['ContactGroup']}]\n"
        f"template: {refs['EquipmentTemplate']}\n"
        f"periods: {{check: {refs['TimePeriod']}}}\n"
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(estates(), st.randoms(use_true_random=False))
def test_scope_never_leaks_and_build_agrees_V2_V3_V4(estate, rnd):
    nodes, homes, objects = estate
    at_of = {oid: at for _, oid, at, _ in objects}
    by_kind = {k: [o for kk, o, _, _ in objects if kk == k] for k in KINDS.values()}
    # one equipment per (user, node they may configure at), referring to random objects
    equipment = {}
    plans = {}
    for i, home in enumerate(homes):
        for n in sorted(nodes):
            if home not in _path(nodes, n):
                continue
            refs = {k: rnd.choice(v) if v else None for k, v in by_kind.items() if k in LINES}
            if any(v is None for v in refs.values()):
                continue
            name = f"eq-u{i}-{n}"
            equipment[name] = _equipment(name, n, f"u{i}", refs)
            plans[name] = (f"u{i}", home, n, refs)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        _write(root, nodes, homes, objects, equipment)
        result, res = compile_repo(root)
    assert res is not None
    for i, home in enumerate(homes):
        for n in sorted(nodes):
            if home not in _path(nodes, n):
                continue
            top = _expected_top(nodes, home, n)
            path = _path(nodes, n)
            allowed = set(path[path.index(top) :])
            for label, kind in KINDS.items():
                items = selectable(res, f"u{i}", n, label)
                for item in items:
                    where = item["defined_at"]
                    if where == "product":
                        assert kind in ("TimePeriod", "ServiceTemplate", "EquipmentTemplate")
                        continue
                    if kind == "Box":
                        # B1: at or above the node; B2: at or below the home; B3: partner boxes
                        assert where in path and home in _path(nodes, where)
                        if nodes[where][0] == "partner" and n != where:
                            assert _mode(nodes, n) == "managed"
                        continue
                    # V3/V4: on path(top -> n), never elsewhere (other partner, sibling, below)
                    assert where in allowed, (kind, item, top, n)
                if kind != "Box":
                    offered = {i["id"] for i in items}
                    expected = {
                        oid
                        for k, oid, at, extra in objects
                        if k == kind and at in allowed and extra.get("enabled", True)
                    }
                    own = {i["id"] for i in items if i["defined_at"] != "product"}
                    assert own == expected  # V3: everything on the path, nothing else
                    assert offered >= expected
    # the build's checks agree with `query selectable`, reference by reference
    errors = {}
    for d in result.diagnostics:
        if d.code in CODES:
            errors.setdefault(d.file.removesuffix(".yaml"), set()).add(d.line)
    for name, (user, _home, n, refs) in plans.items():
        for kind, ref in refs.items():
            label = next(lbl for lbl, k in KINDS.items() if k == kind)
            offered = {i["id"] for i in selectable(res, user, n, label)}
            refused = LINES[kind] in errors.get(name, set())
            assert refused == (ref not in offered), (name, kind, ref, at_of[ref], offered)
