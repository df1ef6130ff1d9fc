"""Edit locks: who may still modify an equipment, unit service or user service (L1-L4).

The seed's own cases (L3, L4) are in test_seed.py; these build small estates.
"""

from __future__ import annotations

import pytest

from snavc.query import QueryError, can_edit

from .helpers import clean

SHARED = {
    "shared.yaml": """\
        kind: Contact
        id: noc
        at: partner
        name: NOC
        ---
        kind: Contact
        id: it
        at: client1
        name: Client 1 IT
        ---
        kind: ContactGroup
        id: c1-oncall
        at: client1
        members: [it, noc]
        ---
        kind: TimePeriod
        id: partner-hours
        at: partner
        default_for: [check]
        ---
        kind: TimePeriod
        id: c1-hours
        at: client1
        ---
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
        kind: ServiceTemplate
        id: cpu-strict
        at: partner
        duplicate_of: cpu
        criticality: 5
        """
}


def equipment(eq_id: str, at: str, box: str, by: str = "francois", extra: str = "") -> str:
    return f"kind: Equipment\nid: {eq_id}\nat: {at}\nbox: {box}\nconfigured_by: {by}\n{extra}"


def answer(res, user, spec):
    out = can_edit(res, user, spec)
    return out["editable"], [(r["rule"], r["ref"], r["defined_at"]) for r in out["reasons"]]


# Every equipment below is at client1-site2 on a client1 box, with periods explicit
# (c1-hours) unless the test is about the default walk.
C1 = "periods: {check: c1-hours}\n"


@pytest.fixture
def locks(compile_files):
    result, res = compile_files(
        {
            **SHARED,
            "eq.yaml": "---\n".join(
                [
                    equipment(
                        "by-contact",
                        "client1-site2",
                        "box-c1",
                        extra=C1 + "notification: {contacts: [noc]}\n",
                    ),
                    equipment(
                        "by-group",
                        "client1-site2",
                        "box-c1",
                        extra=C1 + "notification: {groups: [c1-oncall]}\n",
                    ),
                    equipment("by-default", "client1-site2", "box-c1"),
                    equipment(
                        "by-account",
                        "client1-site2",
                        "box-c1",
                        extra=C1 + "accounts: [ssh-partner]\n",
                    ),
                    equipment(
                        "by-service",
                        "client1-site2",
                        "box-c1",
                        extra=C1 + "services:\n  - template: cpu-strict\n  - template: ping\n",
                    ),
                    equipment(
                        "clean",
                        "client1-site2",
                        "box-c1",
                        extra=C1 + "accounts: [ssh-c1]\nnotification: {contacts: [it]}\n",
                    ),
                    equipment(
                        "product-only",
                        "client1-site2",
                        "box-c1s2",
                        extra="template: linux-server\nperiods: {check: non-business-hours}\n",
                    ),
                ]
            ),
            "us.yaml": """\
                kind: UserService
                id: shop
                at: client1
                periods: {check: c1-hours}
                notification: {contacts: [noc]}
                members: [by-service/ping]
                """,
        }
    )
    clean(result)
    return res


def test_L1_reference_above_the_users_home_locks(locks):
    out = can_edit(locks, "stephanie", "by-contact")
    assert out == {
        "editable": False,
        "reasons": [
            {
                "rule": "L1",
                "message": "'by-contact' refers to Contact 'noc' defined at 'partner', above the home of user "
                "'stephanie' ('client1')",
                "ref": "contact/noc",
                "defined_at": "partner",
            }
        ],
    }


def test_L1_resolved_values_count_as_references(locks):
    """No period is set: the check period comes from the partner's default (francois's
    walk), which Stéphanie cannot see."""
    assert locks.equipment["by-default"]["periods"]["check"]["id"] == "partner-hours"
    assert answer(locks, "stephanie", "by-default") == (
        False,
        [("L1", "time-period/partner-hours", "partner")],
    )


@pytest.mark.parametrize(
    "eq, refs",
    [
        ("by-account", [("L1", "monitoring-account/ssh-partner", "partner")]),
        ("by-service", [("L1", "service-template/cpu-strict", "partner")]),
    ],
)
def test_L1_every_kind_of_reference_locks(locks, eq, refs):
    assert answer(locks, "stephanie", eq) == (False, refs)


def test_L1_group_members_are_not_references(locks):
    """c1-oncall holds the partner's noc; the equipment refers to the group, which is at
    client1: Stéphanie may edit it."""
    assert answer(locks, "stephanie", "by-group") == (True, [])


def test_L1_unit_service_and_user_service(locks):
    assert answer(locks, "stephanie", "by-service/cpu-strict") == (
        False,
        [("L1", "service-template/cpu-strict", "partner")],
    )
    assert answer(locks, "stephanie", "by-service/ping") == (True, [])
    assert answer(locks, "stephanie", "shop") == (False, [("L1", "contact/noc", "partner")])
    assert answer(locks, "stephanie", "user-service/shop") == (
        False,
        [("L1", "contact/noc", "partner")],
    )


def test_L1_the_user_must_be_able_to_configure_there(locks):
    editable, reasons = answer(locks, "rita", "clean")
    assert (editable, reasons) == (False, [("V1", None, "client1-site2")])
    out = can_edit(locks, "rita", "clean")
    assert out["reasons"][0]["message"] == (
        "user 'rita' (home 'client2') cannot configure at 'client1-site2': a user configures only at their home "
        "node or below it"
    )
    editable, reasons = answer(locks, "victor", "clean")
    assert not editable and reasons[0][0] in ("V1", "V1a")
    assert (
        "does not grant configure_equipment"
        in can_edit(locks, "victor", "clean")["reasons"][0]["message"]
    )


def test_L1_site_user_is_locked_out_by_a_client_box(locks):
    out = can_edit(locks, "sam", "clean")
    assert out["editable"] is False
    assert "V1" in [r["rule"] for r in out["reasons"]]  # sam's home is client1-site1, not site2


def test_L1_partner_user_edits_everything_below(locks):
    for eq in (
        "by-contact",
        "by-group",
        "by-default",
        "by-account",
        "by-service",
        "clean",
        "product-only",
    ):
        assert answer(locks, "francois", eq) == (True, []), eq


def test_L1_unknown_user_or_object(locks):
    with pytest.raises(QueryError, match="unknown user 'nobody'"):
        can_edit(locks, "nobody", "clean")
    with pytest.raises(QueryError, match="unknown object 'nothing'"):
        can_edit(locks, "stephanie", "nothing")


def test_the_product_node_is_named_not_guessed(locks):
    """'product', the root of the tree, is no object a file defines: said so, rather
    than a did-you-mean towards an object whose ID looks like it ('production')."""
    with pytest.raises(QueryError, match="'product' is the root of the tree") as caught:
        can_edit(locks, "stephanie", "product")
    assert "did you mean" not in str(caught.value)


def test_L2_product_objects_never_lock(locks):
    """linux-server, its product service templates, non-business-hours and the product's
    notification/availability defaults are all product objects."""
    assert answer(locks, "stephanie", "product-only") == (True, [])
    assert answer(locks, "stephanie", "product-only/cpu") == (True, [])


def test_L2_product_template_itself_cannot_be_modified(locks):
    out = can_edit(locks, "francois", "service-template/cpu")
    assert out == {
        "editable": False,
        "reasons": [
            {
                "rule": "L2",
                "message": "ServiceTemplate 'cpu' is shipped with the product and cannot be modified; override it "
                "(T2) or duplicate it (T7)",
                "ref": None,
                "defined_at": None,
            }
        ],
    }


def test_L4_delegated_equipment_stays_editable_by_the_client_user(locks):
    assert answer(locks, "stephanie", "clean") == (True, [])


def test_L4_delegation_is_lost_when_a_partner_object_is_referenced(compile_files):
    base = {**SHARED}
    ok, res = compile_files(
        {**base, "eq.yaml": equipment("e", "client1-site2", "box-c1s2", extra=C1)}
    )
    clean(ok)
    assert answer(res, "stephanie", "e") == (True, [])
    ko, res = compile_files(
        {
            **base,
            "eq.yaml": equipment(
                "e", "client1-site2", "box-c1s2", extra=C1 + "notification: {contacts: [noc]}\n"
            ),
        }
    )
    clean(ko)
    assert answer(res, "stephanie", "e") == (False, [("L1", "contact/noc", "partner")])


def test_L1_cli_can_edit_exit_codes(repo, cli):
    path = repo(
        {
            **SHARED,
            "eq.yaml": equipment(
                "e", "client1-site2", "box-c1s2", extra=C1 + "notification: {contacts: [noc]}\n"
            ),
        }
    )
    out = cli("query", "can-edit", path, "--as", "stephanie", "e", exit_code=1).output
    assert "stephanie may not edit e:" in out
    assert "refers to Contact 'noc' defined at 'partner'" in out and "(rule L1)" in out
    cli("query", "can-edit", path, "--as", "francois", "equipment/e", exit_code=0)
    cli("query", "can-edit", path, "--as", "ghost", "e", exit_code=2)
    cli("query", "can-edit", path, "--as", "stephanie", "equipment/nope", exit_code=2)


def test_L1_override_a_unit_service_takes_values_from_locks(compile_files):
    """The unit service's values come from the partner's override of ping, which
    Stéphanie cannot see: a reference like the template itself."""
    result, res = compile_files(
        {
            **SHARED,
            "ov.yaml": "kind: ServiceTemplateOverride\ntemplate: ping\nat: partner\ncheck_interval: 15\n",
            "eq.yaml": equipment(
                "e", "client1-site2", "box-c1s2", extra=C1 + "services:\n  - template: ping\n"
            ),
        }
    )
    clean(result)
    assert res.equipment["e"]["services"]["ping"]["check_interval"] == 15
    assert answer(res, "stephanie", "e/ping") == (
        False,
        [("L1", "service-template-override/ping@partner", "partner")],
    )
    assert answer(res, "stephanie", "e") == (
        False,
        [("L1", "service-template-override/ping@partner", "partner")],
    )
