"""Monitoring accounts at the service level (K1, K2), beside E1's node and host levels."""

from __future__ import annotations

from .helpers import clean, only, pin

ACCOUNTS = """\
kind: MonitoringAccount
id: ssh-c1
at: client1
protocol: ssh
secret: env:SSH_C1
---
kind: MonitoringAccount
id: snmp-c1
at: client1
protocol: snmp
secret: env:SNMP_C1
---
kind: MonitoringAccount
id: ssh-s1
at: client1-site1
protocol: ssh
secret: env:SSH_S1
---
kind: MonitoringAccount
id: ssh-s2
at: client1-site2
protocol: ssh
secret: env:SSH_S2
"""


def host(service_accounts: str) -> dict:
    return {
        "accounts.yaml": ACCOUNTS,
        "hosts.yaml": (
            "kind: Equipment\nid: h\nat: client1-site1\nbox: box-c1s1\n"
            "accounts: [ssh-c1, snmp-c1]\nservices:\n  - template: ping\n"
            f"    accounts: {service_accounts}\n"
        ),
    }


def test_K1_a_services_account_replaces_the_hosts_of_its_protocol(compile_files):
    result, res = compile_files(host("[ssh-s1]"))
    clean(result)
    assert res.equipment["h"]["services"]["ping"]["accounts"] == ["snmp-c1", "ssh-s1"]
    assert res.equipment["h"]["accounts"] == ["snmp-c1", "ssh-c1"]  # the host keeps its own


def test_K1_E1_a_service_account_must_be_selectable(compile_files):
    result, _ = compile_files(host("[ssh-s2]"))
    d = only(result, "SNV403")
    assert pin(d) == ("error", "SNV403", "E1", "hosts.yaml", 8, 16)


def test_K2_two_accounts_of_one_protocol_on_a_service_is_an_error(compile_files):
    result, _ = compile_files(host("[ssh-s1, ssh-c1]"))
    assert pin(only(result, "SNV447")) == ("error", "SNV447", "K2", "hosts.yaml", 8, 24)


def test_K1_every_host_account_of_another_protocol_is_kept_whatever_the_order(compile_files):
    """An equipment may hold two accounts of one protocol (K2 is about a service): a
    service that sets another protocol keeps both, in whatever order the host lists
    them (the first of each protocol was kept, the other dropped)."""
    for listed in ("[ssh-c1, ssh-s1, snmp-c1]", "[ssh-s1, ssh-c1, snmp-c1]"):
        files = host("[snmp-c1]")
        files["hosts.yaml"] = files["hosts.yaml"].replace("[ssh-c1, snmp-c1]", listed)
        result, res = compile_files(files)
        clean(result)
        assert res.equipment["h"]["services"]["ping"]["accounts"] == ["snmp-c1", "ssh-c1", "ssh-s1"]


def test_K2_one_account_listed_twice_is_said_so(compile_files):
    result, _ = compile_files(host("[ssh-s1, ssh-s1]"))
    assert only(result, "SNV447").message.endswith("account 'ssh-s1' is listed twice")


def test_K1_explain_shows_a_services_accounts_as_the_build_does(compile_files):
    from snavc.explain import explain

    result, res = compile_files(host("[ssh-s1]"))
    clean(result)
    fields = {f["path"]: f for f in explain(res, "h/ping")["fields"]}
    assert fields["accounts"]["value"] == ["snmp-c1", "ssh-s1"]
    assert fields["accounts"]["steps"][0]["why"].startswith("K1:")
