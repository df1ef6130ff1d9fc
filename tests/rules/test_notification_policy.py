"""Notification policy (A1, A2) and contact channels (C5, C6), with C1/C3 on the
new references: docs/rules/notification-policy.md."""

from __future__ import annotations

import pytest

from snavc.query import can_edit

from .helpers import clean, only, pin

CONTACTS = {
    "contacts.yaml": """\
        kind: Contact
        id: noc
        name: NOC
        at: partner
        email: noc@partner.example
        phone: "+33 1 23 45 67 89"
        channels: [email, sms]
        language: fr
        ---
        kind: Contact
        id: it
        name: Client 1 IT
        at: client1
        teams_webhook: https://example.webhook.office.com/hook/abc
        channels: [teams]
        ---
        kind: Contact
        id: gone
        name: Former admin
        at: client1
        enabled: false
        ---
        kind: ContactGroup
        id: oncall
        at: client1
        members: [it]
        """
}


def host(policy: str, at: str = "client1-site1", box: str = "box-c1s1") -> dict:
    return {
        **CONTACTS,
        "hosts.yaml": f"kind: Equipment\nid: h\nat: {at}\nbox: {box}\nnotification:\n{policy}",
    }


FULL = """\
  contacts: [noc]
  notify_on: [down, recovery]
  confirmation_checks: 2
  escalations:
    - {level: 1, after_checks: 3, contacts: [it]}
    - {level: 2, after_checks: 6, groups: [oncall]}
"""


def test_A1_A2_the_policy_reaches_effective(compile_files):
    result, res = compile_files(host(FULL))
    clean(result)
    assert res.equipment["h"]["notification"] == {
        "contacts": ["noc"],
        "groups": [],
        "notify_on": ["down", "recovery"],
        "confirmation_checks": 2,
        "escalations": [
            {"level": 1, "after_checks": 3, "contacts": ["it"], "groups": []},
            {"level": 2, "after_checks": 6, "contacts": [], "groups": ["oncall"]},
        ],
    }


def test_A2_a_disabled_policy_says_so(compile_files):
    result, res = compile_files(host("  enabled: false\n"))
    clean(result)
    assert res.equipment["h"]["notification"]["enabled"] is False


@pytest.mark.parametrize(
    ("escalations", "message"),
    [
        ("    - {level: 2, after_checks: 3, contacts: [it]}\n", "escalation 1 has level 2"),
        (
            "    - {level: 1, after_checks: 3, contacts: [it]}\n"
            "    - {level: 2, after_checks: 3, contacts: [it]}\n",
            "level 2 escalates after 3 checks, not more than level 1 (3)",
        ),
        ("    - {level: 1, after_checks: 3}\n", "level 1 notifies no contact nor group"),
    ],
)
def test_A1_escalation_levels_are_1_to_3_in_order(compile_files, escalations, message):
    result, _ = compile_files(host("  escalations:\n" + escalations))
    d = only(result, "SNV444")
    assert d.rule == "A1" and message in d.message


def test_A1_a_fourth_level_is_an_error(compile_files):
    result, _ = compile_files(host("  escalations:\n    - {level: 4, after_checks: 3}\n"))
    assert pin(only(result, "SNV205"))[3:] == ("hosts.yaml", 7, 15)


def test_A2_a_service_status_on_a_host_is_an_error(compile_files):
    result, _ = compile_files(host("  notify_on: [down, critical]\n"))
    d = only(result, "SNV445")
    assert pin(d) == ("error", "SNV445", "A2", "hosts.yaml", 6, 21)


def test_C1_a_disabled_contact_in_an_escalation_is_an_error(compile_files):
    policy = "  escalations:\n    - {level: 1, after_checks: 2, contacts: [gone]}\n"
    result, _ = compile_files(host(policy))
    d = only(result, "SNV404")
    assert pin(d) == ("error", "SNV404", "C1", "hosts.yaml", 7, 46)


def test_C3_an_escalation_contact_must_be_selectable(compile_files):
    policy = "  escalations:\n    - {level: 1, after_checks: 2, contacts: [it]}\n"
    result, _ = compile_files(host(policy, at="client2-site1", box="box-c2s1"))
    assert only(result, "SNV403").rule == "C3"


def test_L1_an_escalation_contact_above_the_users_home_locks(compile_files):
    result, res = compile_files(host(FULL))
    clean(result)
    reasons = can_edit(res, "stephanie", "h")["reasons"]
    assert [(r["rule"], r["ref"]) for r in reasons] == [("L1", "contact/noc")]
    policy = "  escalations:\n    - {level: 1, after_checks: 2, contacts: [noc]}\n"
    result, res = compile_files(host(policy))
    assert [r["ref"] for r in can_edit(res, "stephanie", "h")["reasons"]] == ["contact/noc"]


def test_A1_a_unit_services_own_policy(compile_files):
    files = host("  contacts: [it]\n")
    files["hosts.yaml"] += (
        "services:\n  - template: ping\n    notification:\n      notify_on: [critical]\n"
        "      contacts: [gone]\n"
    )
    result, _ = compile_files(files)
    assert pin(only(result, "SNV404"))[3:] == ("hosts.yaml", 11, 18)


@pytest.mark.parametrize("phone", ["01 23 45 67 89", "+0 123456789", "+33 1", "33123456789"])
def test_C5_a_phone_not_in_international_form_is_an_error(compile_files, phone):
    files = {"c.yaml": f"kind: Contact\nid: x\nname: X\nat: client1\nphone: '{phone}'\n"}
    result, _ = compile_files(files)
    assert pin(only(result, "SNV220")) == ("error", "SNV220", "C5", "c.yaml", 5, 8)


def test_C5_a_teams_webhook_must_be_an_https_url(compile_files):
    files = {"c.yaml": "kind: Contact\nid: x\nname: X\nat: client1\nteams_webhook: http://x\n"}
    result, _ = compile_files(files)
    assert pin(only(result, "SNV221")) == ("error", "SNV221", "C5", "c.yaml", 5, 16)


def test_C6_a_channel_needs_its_address(compile_files):
    files = {"c.yaml": "kind: Contact\nid: x\nname: X\nat: client1\nchannels: [email, sms]\n"}
    result, _ = compile_files(files)
    found = [pin(d) for d in result.diagnostics]
    assert found == [
        ("error", "SNV222", "C6", "c.yaml", 5, 12),
        ("error", "SNV222", "C6", "c.yaml", 5, 19),
    ]


def test_A1_K1_explain_shows_a_unit_services_own_policy_and_accounts(compile_files):
    """explain knew no `SERVICE.notification.*` nor `SERVICE.accounts` ("no field"), and
    showed a host's notify_on with its duplicates, which effective.json drops."""
    from snavc.explain import explain

    files = host("  contacts: [it]\n  notify_on: [down, recovery, down]\n")
    files["hosts.yaml"] += (
        "services:\n  - template: ping\n    notification:\n      notify_on: [critical]\n"
        "      contacts: [it]\n"
    )
    result, res = compile_files(files)
    clean(result)
    fields = {f["path"]: f for f in explain(res, "h")["fields"]}
    assert fields["notification.notify_on"]["value"] == ["down", "recovery"]
    own = fields["services.ping.notification.notify_on"]
    assert (
        own["value"]
        == ["critical"]
        == res.equipment["h"]["services"]["ping"]["notification"]["notify_on"]
    )
    assert own["origin"]["line"] == 11
    assert fields["services.ping.notification.contacts"]["value"] == ["it"]
