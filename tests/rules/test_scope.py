"""Who sees what: the scope of a user at a node (V1, V1a, V2-V7).

Most tests use ``EVERYWHERE``: one object of every selectable kind at every node of the
base estate, and at a second partner, named ``<kind>-<node>``, so that an answer shows
at a glance which nodes it reaches.
"""

from __future__ import annotations

import json

import pytest

from snavc.query import QueryError, Refused, list_view, selectable
from snavc.resolve.scope import cut_point, scope_top

from .helpers import SMALL_CATALOG, by_id, clean, ids, only, pin

NODES = [
    "partner",
    "client1",
    "client1-site1",
    "client1-site2",
    "client2",
    "client2-site1",
    "partner2",
    "p2c",
]


def _everywhere() -> str:
    docs = [
        "kind: Partner\nid: partner2\nname: Partner 2\n",
        "kind: Client\nid: p2c\nname: Partner 2 client\nparent: partner2\nmode: managed\n",
        "kind: User\nid: admin2\nat: partner2\nrole: partner-admin\n",
    ]
    for n in NODES:
        # templates at the second partner are made by its own admin (V1)
        by = "configured_by: admin2\n" if n in ("partner2", "p2c") else ""
        docs.append(f"kind: Contact\nid: contact-{n}\nat: {n}\nname: Contact of {n}\n")
        docs.append(f"kind: ContactGroup\nid: group-{n}\nat: {n}\nmembers: [contact-{n}]\n")
        docs.append(
            f'kind: TimePeriod\nid: period-{n}\nat: {n}\nranges:\n  monday: ["08:00-09:00"]\n'
        )
        docs.append(f"kind: ServiceTemplate\nid: st-{n}\nat: {n}\nduplicate_of: ping\n{by}")
        docs.append(f"kind: EquipmentTemplate\nid: et-{n}\nat: {n}\nservices: [ping]\n{by}")
        docs.append(
            f"kind: MonitoringAccount\nid: account-{n}\nat: {n}\nprotocol: snmp\nsecret: env:S\n"
        )
    return "---\n".join(docs)


EVERYWHERE = {"everywhere.yaml": _everywhere()}
PRODUCT_PERIODS = ["24x7", "business-hours", "non-business-hours"]
PRODUCT_SERVICE_TEMPLATES = [
    "cpu",
    "disk",
    "dns",
    "http",
    "https-cert",
    "memory",
    "ntp",
    "ping",
    "snmp-interfaces",
    "ssh",
    "swap",
    "load",
    "windows-service",
]
PRODUCT_EQUIPMENT_TEMPLATES = ["linux-server", "network-switch", "web-server", "windows-server"]


@pytest.fixture
def world(compile_files):
    result, res = compile_files(EVERYWHERE)
    clean(result)
    return res


def of_nodes(items, prefix):
    return sorted(i["id"][len(prefix) + 1 :] for i in items if i["id"].startswith(prefix + "-"))


# -- V1, V1a ------------------------------------------------------------------------------


def test_V1_user_configures_only_at_home_or_below(compile_files):
    result, _ = compile_files(
        {
            "eq.yaml": """\
                kind: Equipment
                id: srv-01
                at: client2-site1
                box: box-c2s1
                configured_by: stephanie
                """
        }
    )
    d = only(result)
    assert pin(d) == ("error", "SNV401", "V1", "eq.yaml", 5, 16)
    assert d.message == (
        "user 'stephanie' (home 'client1') cannot configure at 'client2-site1': "
        "a user configures only at their home node or below it"
    )


def test_V1_default_user_outside_its_home_is_named_as_such(compile_files):
    result, _ = compile_files(
        {
            "snav.yaml": "kind: Project\nname: t\ndefault_user: sam\n",
            "eq.yaml": "kind: Equipment\nid: srv-01\nat: client1-site2\nbox: box-c1s2\n",
        }
    )
    d = only(result)
    assert pin(d) == ("error", "SNV401", "V1", "eq.yaml", 3, 5)
    assert d.message.endswith("(the project's default_user)")


def test_V1_site_user_cannot_configure_at_a_sibling_site_nor_at_the_client(world):
    with pytest.raises(
        Refused, match=r"user 'sam' \(home 'client1-site1'\) cannot configure at 'client1-site2'"
    ):
        selectable(world, "sam", "client1-site2", "contact")
    with pytest.raises(Refused, match=r"rule V1\)$"):
        selectable(world, "sam", "client1", "contact")
    assert selectable(world, "sam", "client1-site1", "contact")  # home itself


def test_V1_client_user_with_a_role_configures_like_anyone(compile_files):
    """Client users normally hold no configure role; with one, the same rules apply."""
    result, res = compile_files(
        {
            "eq.yaml": """\
                kind: Equipment
                id: srv-01
                at: client1-site2
                box: box-c1s2
                configured_by: stephanie
                """
        }
    )
    clean(result)
    assert res.equipment["srv-01"]["configured_by"] == "stephanie"


def test_V1a_role_without_configure_equipment_is_an_error(compile_files):
    result, res = compile_files(
        {
            "eq.yaml": """\
                kind: Equipment
                id: srv-01
                at: client1
                box: box-c1
                configured_by: victor
                """
        }
    )
    d = only(result)
    assert pin(d) == ("error", "SNV402", "V1a", "eq.yaml", 5, 16)
    assert d.message == "user 'victor' has role 'viewer', which does not grant configure_equipment"
    assert "srv-01" not in res.equipment


def test_V1a_user_service_needs_configure_services(compile_files):
    result, _ = compile_files(
        {
            "users2.yaml": "kind: User\nid: eddie\nat: client1\nrole: equipment-only\n",
            "us.yaml": """\
                kind: UserService
                id: shop
                at: client1
                configured_by: eddie
                """,
        }
    )
    d = only(result)
    assert pin(d) == ("error", "SNV402", "V1a", "us.yaml", 4, 16)
    assert (
        d.message
        == "user 'eddie' has role 'equipment-only', which does not grant configure_services"
    )


def test_V1a_unit_services_need_configure_services(compile_files):
    result, _ = compile_files(
        {
            "users2.yaml": "kind: User\nid: eddie\nat: client1\nrole: equipment-only\n",
            "eq.yaml": """\
                kind: Equipment
                id: srv-01
                at: client1
                box: box-c1
                configured_by: eddie
                services:
                  - template: ping
                """,
        }
    )
    d = only(result)
    assert (d.code, d.rule, d.line) == ("SNV402", "V1a", 5)
    assert "configure_services" in d.message


def test_V1a_query_selectable_checks_the_permission_of_the_action(world):
    assert selectable(world, "stephanie", "client1", "service-template", action="services")
    with pytest.raises(
        Refused,
        match=r"^user 'stephanie' has role 'operator', which does not grant create_templates \(rule V1a\)$",
    ):
        selectable(world, "stephanie", "client1", "service-template", action="templates")
    with pytest.raises(Refused, match="does not grant configure_equipment"):
        selectable(world, "victor", "client1", "contact")  # default action: equipment


def test_V1a_templates_need_create_templates(compile_files):
    result, _ = compile_files(
        {
            "t.yaml": """\
                kind: ServiceTemplateOverride
                template: cpu
                at: client1
                configured_by: stephanie
                criticality: 5
                ---
                kind: EquipmentTemplate
                id: et
                at: client1
                configured_by: stephanie
                services: [cpu]
                """
        }
    )
    assert [(d.code, d.rule, d.line) for d in result.diagnostics] == [
        ("SNV402", "V1a", 4),
        ("SNV402", "V1a", 10),
    ]


def test_V1_template_outside_the_users_home(compile_files):
    result, _ = compile_files(
        {
            "t.yaml": """\
                kind: ServiceTemplate
                id: t2
                at: client2
                duplicate_of: cpu
                configured_by: sam
                """
        }
    )
    assert [(d.code, d.rule, d.line) for d in result.diagnostics] == [("SNV401", "V1", 5)]


# -- V2 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "home, node, top",
    [
        ("partner", "client1-site1", "partner"),  # partner user, managed client: the partner
        ("partner", "client1", "partner"),
        ("partner", "client2-site1", "client2"),  # partner user, resale: company(N)
        ("partner", "client2", "client2"),
        ("client1", "client1-site2", "client1"),  # client user: their home
        ("client1-site1", "client1-site1", "client1-site1"),  # site user: the site
        ("client2", "client2-site1", "client2"),
        ("partner", "partner", "partner"),  # N is the partner
    ],
)
def test_V2_scope_top(world, home, node, top):
    nodes = world.tree.nodes
    assert scope_top(nodes[home], nodes[node]).id == top


def test_V2_cut_point(world):
    nodes = world.tree.nodes
    assert {n: cut_point(nodes[n]).id for n in NODES[:6]} == {
        "partner": "partner",
        "client1": "partner",
        "client1-site1": "partner",
        "client1-site2": "partner",
        "client2": "client2",
        "client2-site1": "client2",
    }


def test_V2_partner_user_at_managed_site_sees_up_to_the_partner(world):
    assert of_nodes(selectable(world, "francois", "client1-site1", "contact"), "contact") == [
        "client1",
        "client1-site1",
        "partner",
    ]


def test_V2_resale_cut_hides_partner_contacts(world):
    assert of_nodes(selectable(world, "francois", "client2-site1", "contact"), "contact") == [
        "client2",
        "client2-site1",
    ]
    assert of_nodes(selectable(world, "francois", "client2", "contact"), "contact") == ["client2"]


def test_V2_client_user_scope_stops_at_their_home(world):
    assert of_nodes(selectable(world, "stephanie", "client1-site2", "contact"), "contact") == [
        "client1",
        "client1-site2",
    ]
    assert of_nodes(selectable(world, "rita", "client2-site1", "contact"), "contact") == [
        "client2",
        "client2-site1",
    ]


def test_V2_site_user_sees_nothing_of_the_client_level(world):
    assert of_nodes(selectable(world, "sam", "client1-site1", "contact"), "contact") == [
        "client1-site1"
    ]
    assert of_nodes(selectable(world, "sam", "client1-site1", "time-period"), "period") == [
        "client1-site1"
    ]


def test_V2_at_the_partner_itself(world):
    assert of_nodes(selectable(world, "francois", "partner", "contact"), "contact") == ["partner"]


# -- V3, V4 ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind, prefix, product",
    [
        ("contact", "contact", []),
        ("contact-group", "group", []),
        ("monitoring-account", "account", []),
        ("time-period", "period", PRODUCT_PERIODS),
        ("service-template", "st", PRODUCT_SERVICE_TEMPLATES),
        ("equipment-template", "et", PRODUCT_EQUIPMENT_TEMPLATES),
    ],
)
def test_V3_selectable_is_path_top_to_node_plus_product_for_periods_and_templates(
    world, kind, prefix, product
):
    items = selectable(world, "francois", "client1-site2", kind)
    assert of_nodes(items, prefix) == ["client1", "client1-site2", "partner"]
    assert sorted(i["id"] for i in items if i["defined_at"] == "product") == sorted(product)
    assert ids(items) == sorted(ids(items))  # sorted by id (INTERFACE)


def test_V3_item_fields(world):
    items = by_id(selectable(world, "francois", "client1-site2", "time-period"))
    assert items["period-client1"] == {
        "id": "period-client1",
        "kind": "time-period",
        "defined_at": "client1",
        "editor": "Client 1 infogérance",
        "section": "Client 1 infogérance",
        "default_for": [],
    }


@pytest.mark.parametrize(
    "kind, prefix",
    [
        ("contact", "contact"),
        ("contact-group", "group"),
        ("time-period", "period"),
        ("service-template", "st"),
        ("equipment-template", "et"),
        ("monitoring-account", "account"),
    ],
)
def test_V4_nothing_of_a_sibling_branch_or_below_is_selectable(world, kind, prefix):
    # at client1: nothing of its sites (below), of client2 (sibling client), of partner2
    assert of_nodes(selectable(world, "francois", "client1", kind), prefix) == [
        "client1",
        "partner",
    ]
    # at client1-site1: nothing of client1-site2 (sibling site)
    assert "client1-site2" not in of_nodes(
        selectable(world, "francois", "client1-site1", kind), prefix
    )


def test_V4_sibling_site_contact_is_an_error(compile_files):
    result, _ = compile_files(
        {
            "c.yaml": "kind: Contact\nid: site1-facilities\nat: client1-site1\nname: Facilities\n",
            "eq.yaml": """\
                kind: Equipment
                id: srv-02
                at: client1-site2
                box: box-c1s2
                notification: {contacts: [site1-facilities]}
                """,
        }
    )
    d = only(result)
    assert pin(d) == ("error", "SNV403", "C3", "eq.yaml", 5, 27)
    assert d.message == (
        "Contact 'site1-facilities' (at 'client1-site1') is not selectable at 'client1-site2' "
        "for user 'francois'; selectable: none"
    )


def test_V4_object_of_another_partner_is_an_error(compile_files):
    result, _ = compile_files(
        {
            "p2.yaml": """\
                kind: Partner
                id: partner2
                name: Partner 2
                ---
                kind: MonitoringAccount
                id: snmp-p2
                at: partner2
                protocol: snmp
                secret: env:P2
                """,
            "eq.yaml": """\
                kind: Equipment
                id: srv-01
                at: client1
                box: box-c1
                accounts: [snmp-p2]
                """,
        }
    )
    d = only(result)
    assert pin(d) == ("error", "SNV403", "E1", "eq.yaml", 5, 12)
    assert "'snmp-p2' (defined at 'partner2') is not selectable at 'client1'" in d.message


# -- V5 ----------------------------------------------------------------------------------


def test_V5_list_without_subordinates_is_the_selectable_set(world):
    listed = list_view(world, "francois", "client1", "contact")
    assert [(i["id"], i["selectable"]) for i in listed] == [
        ("contact-client1", True),
        ("contact-partner", True),
    ]


def test_V5_with_subordinates_lists_objects_below_never_selectable(world):
    listed = list_view(world, "francois", "client1", "contact", with_subordinates=True)
    assert [(i["id"], i["defined_at"], i["selectable"]) for i in listed] == [
        ("contact-client1", "client1", True),
        ("contact-client1-site1", "client1-site1", False),
        ("contact-client1-site2", "client1-site2", False),
        ("contact-partner", "partner", True),
    ]


def test_V5_with_subordinates_changes_nothing_in_selectable(world):
    before = selectable(world, "francois", "client1", "contact")
    list_view(world, "francois", "client1", "contact", with_subordinates=True)
    assert selectable(world, "francois", "client1", "contact") == before
    assert ids(before) == ["contact-client1", "contact-partner"]


def test_V5_cli_query_list_with_and_without_subordinates(repo, cli):
    path = repo(EVERYWHERE)
    plain = json.loads(
        cli(
            "query",
            "list",
            path,
            "--as",
            "francois",
            "--at",
            "client1",
            "--kind",
            "contact-group",
            "--format",
            "json",
        ).output
    )
    wide = json.loads(
        cli(
            "query",
            "list",
            path,
            "--as",
            "francois",
            "--at",
            "client1",
            "--kind",
            "contact-group",
            "--with-subordinates",
            "--format",
            "json",
        ).output
    )
    assert [(i["id"], i["selectable"]) for i in plain] == [
        ("group-client1", True),
        ("group-partner", True),
    ]
    assert [(i["id"], i["selectable"]) for i in wide] == [
        ("group-client1", True),
        ("group-client1-site1", False),
        ("group-client1-site2", False),
        ("group-partner", True),
    ]
    sel = json.loads(
        cli(
            "query",
            "selectable",
            path,
            "--as",
            "francois",
            "--at",
            "client1",
            "--kind",
            "contact-group",
            "--format",
            "json",
        ).output
    )
    assert ids(sel) == ["group-client1", "group-partner"]


def test_V5_list_view_at_a_node_outside_home_is_refused(world):
    with pytest.raises(Refused, match="rule V1"):
        list_view(world, "stephanie", "client2", "contact")
    with pytest.raises(QueryError, match="unknown user 'nobody'"):
        list_view(world, "nobody", "client1", "contact")


# -- V6 ----------------------------------------------------------------------------------


def test_V6_unit_service_template_follows_the_scope(compile_files):
    result, _ = compile_files(
        {
            "t.yaml": "kind: ServiceTemplate\nid: site1-ping\nat: client1-site1\nduplicate_of: ping\n",
            "eq.yaml": """\
                kind: Equipment
                id: srv-02
                at: client1-site2
                box: box-c1s2
                services:
                  - template: site1-ping
                """,
        }
    )
    d = only(result)
    assert pin(d) == ("error", "SNV403", "V6", "eq.yaml", 6, 15)
    assert d.message.startswith(
        "ServiceTemplate 'site1-ping' (defined at 'client1-site1') is not selectable at 'client1-site2' for user 'francois'"
    )


def test_V6_user_service_follows_the_scope_of_its_configuring_user(compile_files):
    result, _ = compile_files(
        {
            "c.yaml": "kind: Contact\nid: noc\nat: partner\nname: NOC\n",
            "us.yaml": """\
                kind: UserService
                id: shop
                at: client1
                configured_by: stephanie
                notification: {contacts: [noc]}
                """,
        }
    )
    d = only(result)
    assert pin(d) == ("error", "SNV403", "C3", "us.yaml", 5, 27)
    assert "for user 'stephanie'" in d.message


def test_V6_equipment_follows_the_scope_of_its_configuring_user(compile_files):
    base = {
        "c.yaml": "kind: MonitoringAccount\nid: snmp-partner\nat: partner\nprotocol: snmp\nsecret: env:X\n",
        "eq.yaml": """\
            kind: Equipment
            id: srv-02
            at: client1-site2
            box: box-c1s2
            configured_by: {who}
            accounts: [snmp-partner]
            """,
    }
    ok, _ = compile_files({**base, "eq.yaml": base["eq.yaml"].replace("{who}", "francois")})
    clean(ok)
    bad, _ = compile_files({**base, "eq.yaml": base["eq.yaml"].replace("{who}", "stephanie")})
    assert pin(only(bad)) == ("error", "SNV403", "E1", "eq.yaml", 6, 12)


# -- V7 ----------------------------------------------------------------------------------

PARTNER_TEMPLATES = {
    "templates.yaml": """\
        kind: ServiceTemplate
        id: acme-http
        at: partner
        criticality: 5
        availability_target: 99.0
        availability_period: 24x7
        check_period: 24x7
        check_interval: 30
        ---
        kind: ServiceTemplate
        id: cpu-strict
        at: partner
        duplicate_of: cpu
        check_interval: 60
        ---
        kind: ServiceTemplateOverride
        template: disk
        at: partner
        criticality: 5
        ---
        kind: EquipmentTemplate
        id: acme-linux
        at: partner
        services: [ping, cpu]
        """
}


@pytest.mark.parametrize("node", ["client1", "client1-site1", "client1-site2"])
def test_V7_partner_templates_visible_at_every_managed_client(compile_files, node):
    result, res = compile_files(PARTNER_TEMPLATES)
    clean(result)
    st = by_id(selectable(res, "francois", node, "service-template"))
    assert {
        k: (st[k]["type"], st[k]["defined_at"]) for k in ("acme-http", "cpu-strict", "disk")
    } == {
        "acme-http": ("INHERITED", "partner"),
        "cpu-strict": ("INHERITED", "partner"),
        "disk": ("INHERITED", "partner"),
    }
    et = by_id(selectable(res, "francois", node, "equipment-template"))
    assert (et["acme-linux"]["type"], et["acme-linux"]["defined_at"]) == ("INHERITED", "partner")


@pytest.mark.parametrize("node", ["client2", "client2-site1"])
def test_V7_partner_templates_visible_at_no_resale_client(compile_files, node):
    _, res = compile_files(PARTNER_TEMPLATES)
    st = by_id(selectable(res, "francois", node, "service-template"))
    assert "acme-http" not in st and "cpu-strict" not in st
    assert (st["disk"]["type"], st["disk"]["defined_at"], st["disk"]["editor"]) == (
        "PRODUCT",
        "product",
        "Viadéis Services",
    )
    assert "acme-linux" not in ids(selectable(res, "francois", node, "equipment-template"))


def test_V7_partner_override_does_not_reach_resale_equipment(compile_files):
    result, res = compile_files(
        {
            **PARTNER_TEMPLATES,
            "eq.yaml": """\
                kind: Equipment
                id: sw-01
                at: client2-site1
                box: box-c2s1
                services:
                  - template: disk
                ---
                kind: Equipment
                id: srv-01
                at: client1-site1
                box: box-snm
                services:
                  - template: disk
                """,
        }
    )
    clean(result)
    assert res.equipment["sw-01"]["services"]["disk"]["criticality"] == 4  # product
    assert res.equipment["srv-01"]["services"]["disk"]["criticality"] == 5  # partner override


def test_V7_partner_template_under_resale_client_is_an_error(compile_files):
    result, _ = compile_files(
        {
            **PARTNER_TEMPLATES,
            "eq.yaml": """\
                kind: Equipment
                id: sw-01
                at: client2
                template: acme-linux
                box: box-c2
                """,
        }
    )
    d = only(result)
    assert pin(d) == ("error", "SNV403", "V3", "eq.yaml", 4, 11)
    assert d.message == (
        "EquipmentTemplate 'acme-linux' (defined at 'partner') is not selectable at 'client2' for user "
        "'francois' (partner objects are not visible under a resale client, V2/V7); selectable: "
        "linux-server, network-switch, web-server, windows-server"
    )


def test_V1a_list_view_without_the_permission_marks_nothing_selectable(world):
    listed = list_view(world, "victor", "client1", "contact")
    assert [(i["id"], i["selectable"]) for i in listed] == [("contact-client1", False)]


def test_V1_partner_user_cannot_configure_at_another_partner(world):
    with pytest.raises(
        Refused, match=r"user 'francois' \(home 'partner'\) cannot configure at 'p2c'"
    ):
        selectable(world, "francois", "p2c", "contact")


def test_V3_contacts_have_no_product_objects(compile_files):
    """A catalogue holds no contacts, groups or monitoring accounts: only periods and
    templates are offered from the product (and roles)."""
    result, _ = compile_files(
        {
            **SMALL_CATALOG,
            "catalog/contacts.yaml": "kind: Contact\nid: vendor-support\nname: Vendor support\n",
        }
    )
    d = only(result, "SNV201")
    assert (d.file, d.line, d.column) == ("catalog/contacts.yaml", 1, 7)
    assert d.message.startswith("unknown kind 'Contact' in a catalogue")
