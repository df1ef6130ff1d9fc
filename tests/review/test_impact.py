"""Impact: for each input object that changed, the effective objects it changed.

The report's ``inputs`` entries: ``counts`` per kind (exact) and ``objects`` (the first
20, as kind/ID) of the effective objects the input CHANGED; ``affects`` and ``affected``
(the first 20, sorted) of every effective object that USES it, changed or not. The
seed's cpu overrides are locked (T5), so tests that want an override to reach existing
services build with ``--reapply``.
"""

from __future__ import annotations

import json

from .helpers import (
    CLIENT1_OVERRIDE,
    SITE1_EQ,
    SITE2_EQ,
    append,
    edit,
    equipment_yaml,
    input_entry,
    report_of,
    snav,
    take_document,
)


def attributed(report: dict, key: str) -> set[str]:
    return set(input_entry(report, key)["objects"])


def test_override_change_lists_the_unit_services_it_changed_T3_T4(builds):
    report = builds(
        lambda repo: edit(repo, CLIENT1_OVERRIDE, "criticality: 4", "criticality: 2"),
        "--reapply",
        "cpu",
    )
    entry = input_entry(report, "service-template-override/cpu@client1")
    assert entry["op"] == "changed"
    # client1's override reaches srv-web-01 (François) and srv-file-02 (Stéphanie, T3),
    # not srv-db-01 (cpu-strict, a duplicate made at the partner) nor partner-vpn-01
    assert entry["counts"] == {"equipment": 0, "unit-service": 2, "user-service": 0, "node": 0}
    assert entry["objects"] == ["unit-service/srv-file-02/cpu", "unit-service/srv-web-01/cpu"]
    assert entry["lock"] == {
        "template": "cpu",
        "services": 4,
        "new": 0,
        "not_applied": 0,
        "reapplied": 2,
    }
    assert [(c["id"], c["path"], c["old"], c["new"]) for c in report["changes"]] == [
        ("srv-file-02/cpu", "criticality", 4, 2),
        ("srv-web-01/cpu", "criticality", 4, 2),
    ]


def test_partner_override_change_reaches_the_duplicate_T7(builds):
    """cpu-strict duplicates cpu as the partner sees it: the partner's override of cpu
    changes cpu-strict's services too, and the impact says so."""

    def change(repo):
        edit(
            repo, "partner/templates.yaml", "availability_target: 99.9", "availability_target: 99.0"
        )

    report = builds(change, "--reapply", "cpu", "--reapply", "cpu-strict")
    objects = attributed(report, "service-template-override/cpu@partner")
    assert "unit-service/srv-db-01/cpu" in objects  # template cpu-strict
    assert "unit-service/partner-vpn-01/cpu" in objects
    assert "unit-service/srv-web-01/cpu" in objects
    assert "unit-service/srv-file-02/cpu" not in objects  # Stéphanie's scope stops at client1


def test_impact_counts_are_exact_beyond_the_listed_objects(small, built):
    equipment = "\n---\n".join(equipment_yaml(f"srv-{i:02d}", "c1-s1", "box-c1") for i in range(25))
    repo = small(
        {
            "c1/equipment.yaml": equipment,
            "c1/templates.yaml": """\
                kind: ServiceTemplateOverride
                template: cpu
                at: c1
                criticality: 4
                """,
        }
    )
    old = built(repo)
    edit(repo, "c1/templates.yaml", "criticality: 4", "criticality: 1")
    new = built(repo, "--reapply", "cpu")
    entry = input_entry(report_of("diff", old, new), "service-template-override/cpu@c1")
    assert entry["counts"]["unit-service"] == 25
    assert len(entry["objects"]) == 20
    assert entry["objects"][0] == "unit-service/srv-00/cpu"


NO_COUNTS = {"equipment": 0, "unit-service": 0, "user-service": 0, "node": 0}


def test_contact_change_lists_the_equipment_notifying_it_C3(builds):
    """Contacts are not in effective.json: a new email changes no effective value, but
    the report says who notifies the contact (affects/affected)."""
    report = builds(
        lambda repo: edit(
            repo, "partner/contacts.yaml", "noc@partner.example", "noc-24x7@partner.example"
        )
    )
    assert report["changes"] == []
    entry = input_entry(report, "contact/noc")
    assert (entry["op"], entry["counts"], entry["objects"], entry["lock"]) == (
        "changed",
        NO_COUNTS,
        [],
        None,
    )
    # srv-db-01 notifies the group noc-oncall, of which noc is a member
    assert entry["affects"] == {"equipment": 3, "unit-service": 0, "user-service": 1}
    assert entry["affected"] == [
        "equipment/partner-vpn-01",
        "equipment/srv-db-01",
        "equipment/srv-web-01",
        "user-service/webshop",
    ]
    text = snav("diff", report["base"], report["head"]).stdout
    assert text.endswith(
        "\nInputs changed:\n"
        "  ~ contact/noc: changed 0 equipment, 0 unit services, 0 user services; "
        "used by 3 equipment, 0 unit services, 1 user service\n"
    )
    md = snav("diff", report["base"], report["head"], "--format", "markdown").stdout
    assert "\nNo change to the effective configuration. · 1 input changed\n" in md
    assert "| `contact/noc` | changed | none | 3 equipment, 1 user service |  |\n" in md


def test_contact_change_reaches_the_equipment_notifying_its_groups_C3(builds):
    report = builds(
        lambda repo: edit(
            repo, "partner/contacts.yaml", "noc@partner.example", "noc-24x7@partner.example"
        )
    )
    assert "equipment/srv-db-01" in input_entry(report, "contact/noc")["affected"]


def test_group_change_lists_the_objects_notifying_it(builds):
    report = builds(
        lambda repo: edit(
            repo, "partner/contacts.yaml", "members: [noc, noc-manager]", "members: [noc]"
        )
    )
    assert report["changes"] == []
    entry = input_entry(report, "contact-group/noc-oncall")
    assert entry["affected"] == ["equipment/partner-vpn-01", "equipment/srv-db-01"]


def test_affects_counts_every_user_of_a_template_changed_or_not(builds):
    """client1's cpu override is used by the cpu services it reaches (srv-web-01's and
    Stéphanie's srv-file-02's, T3), locked or not; not by srv-db-01's cpu (cpu-strict,
    the partner's duplicate) nor by the partner's partner-vpn-01."""
    report = builds(lambda repo: edit(repo, CLIENT1_OVERRIDE, "criticality: 4", "criticality: 2"))
    entry = input_entry(report, "service-template-override/cpu@client1")
    assert (entry["counts"], entry["objects"]) == (NO_COUNTS, [])  # locked: nothing changed
    assert entry["affects"] == {"equipment": 2, "unit-service": 2, "user-service": 0}
    assert entry["affected"] == [
        "equipment/srv-file-02",
        "equipment/srv-web-01",
        "unit-service/srv-file-02/cpu",
        "unit-service/srv-web-01/cpu",
    ]


def test_affected_lists_twenty_and_counts_all(small, built):
    equipment = "\n---\n".join(
        equipment_yaml(f"srv-{i:02d}", "c1-s1", "box-c1").rstrip(" ")
        + "        notification: {contacts: [desk]}\n"
        for i in range(25)
    )
    repo = small(
        {
            "c1/equipment.yaml": equipment,
            "c1/contacts.yaml": """\
                kind: Contact
                id: desk
                at: c1
                name: Desk
                email: desk@c1.example
                """,
        }
    )
    old = built(repo)
    edit(repo, "c1/contacts.yaml", "desk@c1.example", "helpdesk@c1.example")
    entry = input_entry(report_of("diff", old, built(repo)), "contact/desk")
    assert entry["affects"] == {"equipment": 25, "unit-service": 0, "user-service": 0}
    assert entry["affected"] == [f"equipment/srv-{i:02d}" for i in range(20)]


def test_a_removed_input_lists_its_users_in_the_old_build(builds):
    def change(repo):
        take_document(repo, "clients/client1/site1/contacts.yaml", "id: site1-facilities")
        edit(repo, SITE1_EQ, "contacts: [noc, site1-facilities]", "contacts: [noc]")

    report = builds(change)
    entry = input_entry(report, "contact/site1-facilities")
    assert entry["op"] == "removed"
    assert entry["counts"]["equipment"] == 1
    assert entry["affected"] == ["equipment/srv-web-01"]


def test_an_equipment_input_is_used_by_its_own_equipment_only(builds):
    """An equipment's definition is used by that equipment (not by its unit services,
    which come from templates); a node, a user or a role by nothing."""

    def change(repo):
        edit(repo, SITE2_EQ, "10.1.2.10", "10.1.2.11")
        edit(repo, "clients/client1/client.yaml", "name: Client 1 infogérance", "name: C1")
        edit(repo, "clients/client1/users.yaml", "name: Stéphanie", "name: Stéphanie M.")
        edit(repo, "clients/client1/user-services.yaml", "name: Webshop", "name: Web shop")

    report = builds(change)
    used = {i["input"]: (i["affects"], i["affected"]) for i in report["inputs"]}
    assert used == {
        "equipment/srv-file-02": (
            {"equipment": 1, "unit-service": 0, "user-service": 0},
            ["equipment/srv-file-02"],
        ),
        "user-service/webshop": (
            {"equipment": 0, "unit-service": 0, "user-service": 1},
            ["user-service/webshop"],
        ),
        "node/client1": ({"equipment": 0, "unit-service": 0, "user-service": 0}, []),
        "user/stephanie": ({"equipment": 0, "unit-service": 0, "user-service": 0}, []),
    }


def test_contacts_changed_on_an_equipment_are_attributed_to_it(builds):
    report = builds(
        lambda repo: edit(
            repo,
            "clients/client1/site1/equipment.yaml",
            "contacts: [noc, site1-facilities]",
            "contacts: [site1-facilities]",
        )
    )
    assert attributed(report, "equipment/srv-web-01") == {"equipment/srv-web-01"}
    assert [i["input"] for i in report["inputs"]] == ["equipment/srv-web-01"]


def test_default_period_change_lists_the_equipment_whose_period_came_from_it_P3(builds):
    """site1-production-hours stops being client1-site1's check default: the equipment of
    that site now take the partner's (P3), and the impact names them."""
    report = builds(
        lambda repo: edit(
            repo, "clients/client1/site1/periods.yaml", "default_for: [check] ", "default_for: [] "
        )
    )
    entry = input_entry(report, "time-period/site1-production-hours")
    assert entry["objects"] == [
        "node/client1-site1",
        "equipment/srv-db-01",
        "equipment/srv-web-01",
    ]
    assert entry["counts"] == {"equipment": 2, "unit-service": 0, "user-service": 0, "node": 1}
    check = sorted(
        (c["id"], c["old"], c["new"]) for c in report["changes"] if c["path"] == "periods.check"
    )
    assert check == [
        (
            "srv-db-01",
            {"id": "site1-production-hours", "from": "client1-site1"},
            {"id": "partner-extended-hours", "from": "partner"},
        ),
        (
            "srv-web-01",
            {"id": "site1-production-hours", "from": "client1-site1"},
            {"id": "partner-extended-hours", "from": "partner"},
        ),
    ]


def test_notification_default_change_lists_unit_services_P6(builds):
    """A unit service's notification period comes from the default walk at its equipment's
    node (P6), not from the lock: removing client1's notification default reaches them."""
    report = builds(
        lambda repo: edit(
            repo, "clients/client1/periods.yaml", "default_for: [notification]", "default_for: []"
        )
    )
    entry = input_entry(report, "time-period/client1-notify-hours")
    unit = [c for c in report["changes"] if c["kind"] == "unit-service"]
    assert unit and all(c["path"] == "notification_period" for c in unit)
    assert entry["counts"]["unit-service"] == len({c["id"] for c in unit})
    assert entry["counts"]["equipment"] == 3  # srv-web-01, srv-db-01, srv-file-02
    assert entry["counts"]["user-service"] == 1  # webshop
    listed = set(entry["objects"])
    assert "equipment/sw-core-01" not in listed and "equipment/partner-vpn-01" not in listed


def test_new_input_object_is_reported_added(builds):
    report = builds(
        lambda repo: append(
            repo,
            "clients/client1/contacts.yaml",
            """\
            kind: Contact
            id: client1-night
            at: client1
            name: Night desk
            email: night@client1.example
            """,
        )
    )
    assert report["changes"] == []
    entry = input_entry(report, "contact/client1-night")
    assert (entry["op"], entry["objects"], entry["lock"]) == ("added", [], None)


def test_a_parent_hosts_change_lists_its_children_H4(builds):
    """fw-client2-01 is sw-core-01's parent (seed): a change of the firewall reaches the
    switch, which depends on it (a CRITICAL parent makes its children UNKNOWN)."""
    report = builds(
        lambda repo: edit(
            repo,
            "clients/client2/site1/equipment.yaml",
            "fw01.client2.example",
            "fw02.client2.example",
        )
    )
    entry = input_entry(report, "equipment/fw-client2-01")
    assert entry["affected"] == ["equipment/fw-client2-01", "equipment/sw-core-01"]
    assert entry["objects"] == ["equipment/fw-client2-01"]


def test_a_maintenance_windows_change_lists_its_targets_W3(builds):
    report = builds(
        lambda repo: edit(
            repo,
            "clients/client2/site1/maintenance.yaml",
            "end: 2026-12-21T02:00+01:00",
            "end: 2026-12-21T04:00+01:00",
        )
    )
    entry = input_entry(report, "maintenance-window/mw-firewall-upgrade")
    assert entry["affected"] == ["equipment/fw-client2-01", "unit-service/fw-client2-01/ping"]
    assert entry["affects"] == {"equipment": 1, "unit-service": 1, "user-service": 0}


def test_the_search_for_many_inputs_finds_what_one_alternative_each_finds():
    """The impact search writes its inputs' IDs as a trie (review/diff._alternatives):
    it must find, in any text, exactly what the plain alternation of the same IDs finds
    (the longest ID where several match), and stay linear in the number of IDs."""
    import random
    import re

    from snavc.review.diff import _alternatives

    rng = random.Random(14)
    alphabet = "ab-0é"
    for _ in range(300):
        ids = {
            "".join(rng.choices(alphabet, k=rng.randint(0, 6))) for _ in range(rng.randint(1, 12))
        }
        plain = re.compile(
            ('"(' + "|".join(sorted(map(re.escape, ids), key=len, reverse=True)) + ')"').encode()
        )
        trie = _alternatives(ids, '"', '"')
        for _ in range(20):
            text = '"'.join(
                rng.choice([*ids, "".join(rng.choices(alphabet, k=3))]) for _ in range(6)
            ).encode()
            assert trie.findall(text) == plain.findall(text), (ids, text)
    assert _alternatives([], '"', '"') is None
    deep = ["x" * n for n in range(1, 1500)]  # nested past the recursion limit: still right
    assert _alternatives(deep, '"', '"').findall(b'"xxx"') == [b"xxx"]


def test_a_parent_is_found_anywhere_in_its_childrens_lists_H4():
    """The search for the children of changed hosts looks inside every "parents" list,
    at any place in it, and only there: an ID named elsewhere (a label of the same
    name) or a longer ID that starts with it is no child."""
    from snavc.review.diff import Build, _dependents

    def eq(**fields) -> str:
        return json.dumps({"box": "b", "services": {}, **fields}, separators=(",", ":"))

    lines = {
        "a": eq(),
        "b": eq(),
        "c1": eq(parents=["b", "a"]),  # second in its list
        "c2": eq(parents=["a"]),
        "c3": eq(labels=["a"], parents=["b"]),  # "a" is a label here
        "c4": eq(parents=["a-2", "b"]),  # another host whose ID starts with "a"
        "c5": eq(parents=["b", "c", "a"]),  # last of three
    }
    text = '{\n"equipment":{\n' + ",\n".join(f'"{k}":{v}' for k, v in lines.items())
    users, _ = _dependents(Build(text + '\n},\n"format":1\n}\n'), ["equipment/a"])
    assert sorted(users["equipment/a"]["equipment"]) == ["a", "c1", "c2", "c5"]
