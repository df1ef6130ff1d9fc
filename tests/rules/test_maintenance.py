"""Maintenance windows (W1-W3): docs/rules/maintenance.md."""

from __future__ import annotations

from snavc.query import can_edit

from .helpers import clean, only, pin

HOSTS = """\
kind: Equipment
id: web
at: client1-site1
box: box-c1s1
services:
  - template: ping
---
kind: Equipment
id: other-site
at: client1-site2
box: box-c1s2
---
kind: Equipment
id: resale-host
at: client2-site1
box: box-c2s1
---
kind: Contact
id: noc
name: NOC
at: partner
---
kind: Contact
id: gone
name: Gone
at: client1
enabled: false
"""


def window(extra: str = "", at: str = "client1-site1", targets: str = "[web, web/ping]") -> dict:
    return {
        "hosts.yaml": HOSTS,
        "mw.yaml": (
            f"kind: MaintenanceWindow\nid: mw1\nat: {at}\ntargets: {targets}\n"
            "start: 2026-12-20T22:00\nend: 2026-12-21T02:00+01:00\n" + extra
        ),
    }


def test_W1_W3_a_window_reaches_effective(compile_files):
    extra = (
        "planner: francois\ndescription: Kernel update\nnotify: {contacts: [noc]}\n"
        "requester: client\ncounts_in_availability: true\n"
    )
    result, res = compile_files(window(extra))
    clean(result)
    assert res.maintenance_windows["mw1"] == {
        "at": "client1-site1",
        "name": None,
        "configured_by": "francois",
        "targets": ["web", "web/ping"],
        "start": "2026-12-20T22:00",
        "end": "2026-12-21T02:00+01:00",
        "planner": "francois",
        "description": "Kernel update",
        "notify": {"contacts": ["noc"], "groups": []},
        "requester": "client",
        "counts_in_availability": True,
    }


def test_W1_a_window_that_ends_before_it_starts_is_an_error(compile_files):
    files = window()
    files["mw.yaml"] = files["mw.yaml"].replace("2026-12-21T02:00+01:00", "2026-12-20T21:00")
    result, _ = compile_files(files)
    d = only(result, "SNV224")
    assert pin(d) == ("error", "SNV224", "W1", "mw.yaml", 6, 6)
    assert d.related[0].line == 5


def test_W1_a_date_that_does_not_exist_is_an_error(compile_files):
    files = window()
    files["mw.yaml"] = files["mw.yaml"].replace("2026-12-20T22:00", "2026-02-30T22:00")
    result, _ = compile_files(files)
    assert pin(only(result, "SNV223")) == ("error", "SNV223", "W1", "mw.yaml", 5, 8)


def test_W2_a_target_outside_the_windows_node_is_an_error(compile_files):
    result, _ = compile_files(window(targets="[web, other-site]"))
    d = only(result, "SNV446")
    assert pin(d) == ("error", "SNV446", "W2", "mw.yaml", 4, 16)


def test_W2_a_window_with_no_target_is_an_error(compile_files):
    """targets is required (absent: SNV202): an empty list, a window over nothing, too."""
    result, _ = compile_files(window(targets="[]"))
    d = only(result, "SNV205")
    assert pin(d)[1:4] == ("SNV205", None, "mw.yaml") and "is empty" in d.message


def test_W2_a_partner_window_does_not_reach_a_resale_client(compile_files):
    result, _ = compile_files(window(at="partner", targets="[web, resale-host]"))
    assert "resale client 'client2'" in only(result, "SNV446").message


def test_W2_a_dangling_target_is_reported(compile_files):
    result, _ = compile_files(window(targets="[web, web/pong, nothing]"))
    assert [pin(d)[3:] for d in result.diagnostics] == [("mw.yaml", 4, 16), ("mw.yaml", 4, 26)]
    assert {d.code for d in result.diagnostics} == {"SNV302"}


def test_C1_a_window_notifies_active_contacts_only(compile_files):
    result, _ = compile_files(window("notify: {contacts: [gone]}\n"))
    assert only(result, "SNV404").rule == "C1"


def test_L1_a_window_locks_for_a_user_who_cannot_select_what_it_refers_to(compile_files):
    result, res = compile_files(window(at="client1", targets="[web]"))
    clean(result)
    assert can_edit(res, "stephanie", "maintenance-window/mw1")["editable"] is True
    assert [r["rule"] for r in can_edit(res, "sam", "maintenance-window/mw1")["reasons"]] == ["V1"]
    result, res = compile_files(window("notify: {contacts: [noc]}\n", at="client1"))
    reasons = can_edit(res, "stephanie", "maintenance-window/mw1")["reasons"]
    assert [(r["rule"], r["ref"]) for r in reasons] == [("L1", "contact/noc")]
