"""Monitoring accounts and "configure high" (E1); user services (U1)."""

from __future__ import annotations

from snavc.query import selectable

from .helpers import clean, ids, only, pin

ACCOUNTS = {
    "accounts.yaml": """\
        kind: MonitoringAccount
        id: ssh-partner
        at: partner
        protocol: ssh
        secret: env:SSH_PARTNER
        ---
        kind: MonitoringAccount
        id: ssh-c1
        at: client1
        protocol: ssh
        secret: env:SSH_C1
        ---
        kind: MonitoringAccount
        id: snmp-s1
        at: client1-site1
        protocol: snmp
        secret: env:SNMP_S1
        ---
        kind: MonitoringAccount
        id: snmp-c2
        at: client2
        protocol: snmp
        secret: file:/etc/snav/c2
        """
}


def equipment(eq_id: str, at: str, box: str, by: str = "francois", extra: str = "") -> str:
    return f"kind: Equipment\nid: {eq_id}\nat: {at}\nbox: {box}\nconfigured_by: {by}\n{extra}"


def test_E1_accounts_defined_at_the_company_are_inherited_by_its_sites(compile_files):
    result, res = compile_files(ACCOUNTS)
    clean(result)
    assert ids(selectable(res, "francois", "client1-site2", "monitoring-account")) == [
        "ssh-c1",
        "ssh-partner",
    ]
    assert ids(selectable(res, "francois", "client1-site1", "monitoring-account")) == [
        "snmp-s1",
        "ssh-c1",
        "ssh-partner",
    ]
    assert ids(selectable(res, "stephanie", "client1-site1", "monitoring-account")) == [
        "snmp-s1",
        "ssh-c1",
    ]
    assert ids(selectable(res, "sam", "client1-site1", "monitoring-account")) == ["snmp-s1"]
    assert ids(selectable(res, "francois", "client2-site1", "monitoring-account")) == ["snmp-c2"]


def test_E1_partner_account_under_a_resale_client_is_an_error(compile_files):
    result, _ = compile_files(
        {
            **ACCOUNTS,
            "eq.yaml": equipment(
                "sw", "client2-site1", "box-c2", extra="accounts: [snmp-c2, ssh-partner]\n"
            ),
        }
    )
    d = only(result)
    assert pin(d) == ("error", "SNV403", "E1", "eq.yaml", 6, 21)
    assert d.message == (
        "MonitoringAccount 'ssh-partner' (defined at 'partner') is not selectable at 'client2-site1' for user "
        "'francois' (partner objects are not visible under a resale client, V2/V7); selectable: snmp-c2"
    )


def test_E1_sibling_site_account_is_an_error(compile_files):
    result, _ = compile_files(
        {
            **ACCOUNTS,
            "eq.yaml": equipment("srv", "client1-site2", "box-c1", extra="accounts: [snmp-s1]\n"),
        }
    )
    d = only(result)
    assert pin(d) == ("error", "SNV403", "E1", "eq.yaml", 6, 12)
    assert d.message.endswith("selectable: ssh-c1, ssh-partner")


def test_E1_secrets_never_appear_in_the_effective_configuration(repo, cli, tmp_path):
    path = repo(
        {
            **ACCOUNTS,
            "eq.yaml": equipment(
                "srv", "client1-site1", "box-c1", extra="accounts: [ssh-c1, snmp-s1]\n"
            ),
        }
    )
    cli("build", path, "-o", tmp_path / "out")
    text = (tmp_path / "out" / "effective.json").read_text(encoding="utf-8")
    assert "SSH_C1" not in text and "/etc/snav" not in text
    assert '"accounts":["snmp-s1","ssh-c1"]' in text.replace(" ", "").replace("\n", "")


def test_E1_configured_high_inherited_low(compile_files):
    """A period default, a contact and an override at the partner reach every equipment
    of a managed client a partner user configures, at every level."""
    result, res = compile_files(
        {
            "high.yaml": """\
                kind: TimePeriod
                id: partner-hours
                at: partner
                default_for: [check]
                ---
                kind: Contact
                id: noc
                at: partner
                name: NOC
                ---
                kind: ServiceTemplateOverride
                template: ping
                at: partner
                check_interval: 15
                """,
            "eq.yaml": "---\n".join(
                equipment(
                    f"e-{n}",
                    n,
                    "box-snm",
                    extra="notification: {contacts: [noc]}\nservices:\n  - template: ping\n",
                )
                for n in ("client1", "client1-site1", "client1-site2")
            ),
        }
    )
    clean(result)
    for e in res.equipment.values():
        assert e["periods"]["check"]["from"] == "partner"
        assert e["services"]["ping"]["check_interval"] == 15


# -- U1 ----------------------------------------------------------------------------------

USERS_SERVICES_EQUIPMENT = {
    "eq.yaml": "---\n".join(
        [
            equipment("web-c1", "client1", "box-c1", extra="services:\n  - template: http\n"),
            equipment(
                "web-s1", "client1-site1", "box-c1s1", extra="services:\n  - template: http\n"
            ),
            equipment(
                "web-s2", "client1-site2", "box-c1s2", extra="services:\n  - template: http\n"
            ),
            equipment(
                "web-c2", "client2-site1", "box-c2s1", extra="services:\n  - template: http\n"
            ),
            equipment("vpn", "partner", "box-lab", extra="services:\n  - template: ping\n"),
        ]
    )
}


def test_U1_members_at_the_node_or_below(compile_files):
    result, res = compile_files(
        {
            **USERS_SERVICES_EQUIPMENT,
            "us.yaml": """\
                kind: UserService
                id: shop
                at: client1
                members: [web-c1/http, web-s1/http, web-s2/http]
                ---
                kind: UserService
                id: everything
                at: partner
                members: [vpn/ping, web-s1/http]
                """,
        }
    )
    clean(result)
    assert res.user_services["shop"]["members"] == ["web-c1/http", "web-s1/http", "web-s2/http"]
    assert res.user_services["everything"]["members"] == ["vpn/ping", "web-s1/http"]


def test_U1_partner_user_service_takes_no_member_of_a_resale_client(compile_files):
    """Decision of the code (not written in RULES.md U1, which says 'the same partner'):
    the partner does not monitor resale clients (M1)."""
    result, _ = compile_files(
        {
            **USERS_SERVICES_EQUIPMENT,
            "us.yaml": "kind: UserService\nid: everything\nat: partner\nmembers: [vpn/ping, web-c2/http]\n",
        }
    )
    d = only(result)
    assert pin(d) == ("error", "SNV418", "U1", "us.yaml", 4, 21)
    assert d.message == (
        "unit service 'web-c2/http' is on equipment of resale client 'client2': a user service at the partner "
        "cannot include it, the partner does not monitor resale clients (M1)"
    )


def test_U1_member_outside_the_node_is_an_error(compile_files):
    result, _ = compile_files(
        {
            **USERS_SERVICES_EQUIPMENT,
            "us.yaml": """\
                kind: UserService
                id: site1-shop
                at: client1-site1
                members:
                  - web-s1/http
                  - web-s2/http
                  - web-c1/http
                  - web-c2/http
                """,
        }
    )
    assert [pin(d) for d in result.diagnostics] == [
        ("error", "SNV418", "U1", "us.yaml", 6, 5),
        ("error", "SNV418", "U1", "us.yaml", 7, 5),
        ("error", "SNV418", "U1", "us.yaml", 8, 5),
    ]
    assert result.diagnostics[0].message == (
        "unit service 'web-s2/http' is on equipment at 'client1-site2', outside 'client1-site1': a user service's "
        "members are unit services of equipment at its node or below"
    )


def test_U1_member_of_another_client_is_an_error(compile_files):
    result, _ = compile_files(
        {
            **USERS_SERVICES_EQUIPMENT,
            "us.yaml": "kind: UserService\nid: shop\nat: client1\nmembers: [web-c2/http]\n",
        }
    )
    assert pin(only(result)) == ("error", "SNV418", "U1", "us.yaml", 4, 11)


def test_U1_member_must_exist(compile_files):
    result, _ = compile_files(
        {
            **USERS_SERVICES_EQUIPMENT,
            "us.yaml": "kind: UserService\nid: shop\nat: client1\nmembers: [web-c1/https]\n",
        }
    )
    d = only(result)
    assert (d.code, d.line, d.column) == ("SNV302", 4, 11)
    assert "(equipment 'web-c1' has http)" in d.message


def test_U1_periods_and_notification_like_an_equipment(compile_files):
    result, res = compile_files(
        {
            **USERS_SERVICES_EQUIPMENT,
            "x.yaml": """\
                kind: TimePeriod
                id: c1-notify
                at: client1
                default_for: [notification]
                ---
                kind: Contact
                id: old
                at: client1
                name: Old
                enabled: false
                """,
            "us.yaml": """\
                kind: UserService
                id: shop
                at: client1-site1
                periods: {availability: non-business-hours}
                members: [web-s1/http]
                """,
        }
    )
    clean(result)
    periods = res.user_services["shop"]["periods"]
    assert {a: (p["id"], p["from"]) for a, p in periods.items()} == {
        "check": ("business-hours", "product"),
        "notification": ("c1-notify", "client1"),
        "availability": ("non-business-hours", "explicit"),
    }
