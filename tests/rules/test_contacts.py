"""Contacts and contact groups (C1-C4)."""

from __future__ import annotations

import json

from snavc.query import list_view, selectable

from .helpers import by_id, clean, ids, only, pin

CONTACTS = {
    "contacts.yaml": """\
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
        kind: Contact
        id: former-admin
        at: client1
        name: Former admin
        enabled: false
        ---
        kind: Contact
        id: site1-facilities
        at: client1-site1
        name: Site 1 facilities
        ---
        kind: Contact
        id: site2-facilities
        at: client1-site2
        name: Site 2 facilities
        ---
        kind: Contact
        id: c2-ops
        at: client2
        name: Client 2 ops
        """
}


def test_C1_disabled_contact_in_equipment_notification_is_an_error(compile_files):
    result, _ = compile_files(
        {
            **CONTACTS,
            "eq.yaml": """\
                kind: Equipment
                id: srv-01
                at: client1-site1
                box: box-c1s1
                notification: {contacts: [it, former-admin]}
                """,
        }
    )
    d = only(result)
    assert pin(d) == ("error", "SNV404", "C1", "eq.yaml", 5, 31)
    assert (
        d.message
        == "contact 'former-admin' is disabled and cannot be selected in a notification policy"
    )


def test_C1_disabled_contact_in_user_service_notification_is_an_error(compile_files):
    result, _ = compile_files(
        {
            **CONTACTS,
            "us.yaml": """\
                kind: UserService
                id: shop
                at: client1
                notification:
                  contacts:
                    - former-admin
                """,
        }
    )
    assert pin(only(result)) == ("error", "SNV404", "C1", "us.yaml", 6, 7)


def test_C1_disabled_contact_is_not_selectable_but_listed_marked(compile_files):
    result, res = compile_files(CONTACTS)
    clean(result)
    assert ids(selectable(res, "francois", "client1", "contact")) == ["it", "noc"]
    assert ids(selectable(res, "stephanie", "client1", "contact")) == ["it"]
    listed = by_id(list_view(res, "francois", "client1", "contact"))
    assert listed["former-admin"]["enabled"] is False
    assert listed["former-admin"]["selectable"] is False
    assert (listed["it"]["enabled"], listed["it"]["selectable"]) == (True, True)


def test_C1_cli_list_marks_disabled_contact(repo, cli):
    path = repo(CONTACTS)
    listed = json.loads(
        cli(
            "query",
            "list",
            path,
            "--as",
            "stephanie",
            "--at",
            "client1",
            "--kind",
            "contact",
            "--format",
            "json",
        ).output
    )
    assert [(i["id"], i["enabled"], i["selectable"]) for i in listed] == [
        ("former-admin", False, False),
        ("it", True, True),
    ]
    text = cli(
        "query", "list", path, "--as", "stephanie", "--at", "client1", "--kind", "contact"
    ).output
    assert "former-admin" in text
    sel = cli(
        "query", "selectable", path, "--as", "stephanie", "--at", "client1", "--kind", "contact"
    ).output
    assert "former-admin" not in sel and "it" in sel


def test_C2_group_holds_enabled_contacts_only(compile_files):
    result, _ = compile_files(
        {
            **CONTACTS,
            "groups.yaml": """\
                kind: ContactGroup
                id: oncall
                at: client1
                members: [noc, former-admin]
                """,
        }
    )
    d = only(result)
    assert pin(d) == ("error", "SNV405", "C2", "groups.yaml", 4, 16)
    assert (
        d.message
        == "contact 'former-admin' is disabled: a contact group holds enabled contacts only"
    )


def test_C3_group_of_another_client_is_not_selectable(compile_files):
    result, _ = compile_files(
        {
            **CONTACTS,
            "groups.yaml": "kind: ContactGroup\nid: oncall\nat: client1\nmembers: [it]\n",
            "eq.yaml": """\
                kind: Equipment
                id: sw-01
                at: client2-site1
                box: box-c2s1
                notification: {groups: [oncall]}
                """,
        }
    )
    d = only(result)
    assert pin(d) == ("error", "SNV403", "C3", "eq.yaml", 5, 25)
    assert d.message == (
        "ContactGroup 'oncall' (at 'client1') is not selectable at 'client2-site1' for user 'francois'; "
        "selectable: none"
    )


def test_C3_partner_contact_under_resale_client_is_not_selectable(compile_files):
    result, _ = compile_files(
        {
            **CONTACTS,
            "eq.yaml": """\
                kind: Equipment
                id: sw-01
                at: client2-site1
                box: box-c2s1
                notification: {contacts: [noc]}
                """,
        }
    )
    d = only(result)
    assert (d.code, d.rule, d.line) == ("SNV403", "C3", 5)
    assert d.message.endswith("selectable: c2-ops")


def test_C3_selectable_groups_follow_the_scope(compile_files):
    result, res = compile_files(
        {
            **CONTACTS,
            "groups.yaml": """\
                kind: ContactGroup
                id: noc-oncall
                at: partner
                members: [noc]
                ---
                kind: ContactGroup
                id: c1-oncall
                at: client1
                members: [it]
                ---
                kind: ContactGroup
                id: s1-oncall
                at: client1-site1
                members: [site1-facilities]
                """,
        }
    )
    clean(result)
    assert ids(selectable(res, "francois", "client1-site1", "contact-group")) == [
        "c1-oncall",
        "noc-oncall",
        "s1-oncall",
    ]
    assert ids(selectable(res, "stephanie", "client1-site2", "contact-group")) == ["c1-oncall"]
    assert ids(selectable(res, "francois", "client2", "contact-group")) == []


def test_C4_group_members_must_be_selectable_at_the_groups_node(compile_files):
    result, _ = compile_files(
        {
            **CONTACTS,
            "groups.yaml": """\
                kind: ContactGroup
                id: s1-oncall
                at: client1-site1
                members: [site1-facilities, site2-facilities, it, noc]
                """,
        }
    )
    d = only(result)
    assert pin(d) == ("error", "SNV406", "C4", "groups.yaml", 4, 29)
    assert d.message.startswith(
        "contact 'site2-facilities' (at 'client1-site2') is not selectable at 'client1-site1', where group "
        "'s1-oncall' is defined; selectable: "
    )


def test_C4_hint_lists_enabled_contacts_only(compile_files):
    result, _ = compile_files(
        {
            **CONTACTS,
            "groups.yaml": "kind: ContactGroup\nid: s1-oncall\nat: client1-site1\nmembers: [site2-facilities]\n",
        }
    )
    assert only(result).message.endswith("; selectable: it, noc, site1-facilities")


def test_C4_partner_contact_in_a_resale_client_group_is_an_error(compile_files):
    result, _ = compile_files(
        {
            **CONTACTS,
            "groups.yaml": "kind: ContactGroup\nid: c2-oncall\nat: client2\nmembers: [c2-ops, noc]\n",
        }
    )
    d = only(result)
    assert pin(d) == ("error", "SNV406", "C4", "groups.yaml", 4, 19)


def test_C4_client_group_may_hold_partner_contacts(compile_files):
    """The group's scope is a partner user's (C4), not that of the user who uses it."""
    result, res = compile_files(
        {
            **CONTACTS,
            "groups.yaml": "kind: ContactGroup\nid: c1-oncall\nat: client1\nmembers: [it, noc]\n",
            "eq.yaml": """\
                kind: Equipment
                id: srv-02
                at: client1-site2
                box: box-c1s2
                configured_by: stephanie
                notification: {groups: [c1-oncall]}
                """,
        }
    )
    clean(result)
    assert res.equipment["srv-02"]["notification"] == {"contacts": [], "groups": ["c1-oncall"]}
