"""Tree stage (snavc.tree): what only shows across documents. Duplicate IDs (SNV301),
dangling references (SNV302), the tree's shape (SNV303, rule N1), duplicate_of cycles
(SNV304, T7), objects nobody configures (SNV305), two overrides of one template at one
node (SNV306, T2); and the settings: Project placement (SNV211) and Project.catalog
(SNV213). Tests that involve the catalogue give the repository its own (Project.catalog),
so that they do not depend on the shipped one.
"""

from __future__ import annotations

import pytest
from conftest import diagnostics, only, where

from snavc.engine.pipeline import check
from snavc.tree import PRODUCT, equipment_template_services, references

CONTACT = "kind: Contact\nid: noc\nname: NOC\nat: partner\n"

CATALOG_PROJECT = "kind: Project\ndefault_user: francois\ncatalog: catalog\n"
CATALOG = """\
kind: TimePeriod
id: always
ranges: {monday: ["00:00-24:00"]}
default_for: [check, notification, availability]
---
kind: ServiceTemplate
id: cpu
criticality: 3
availability_target: 99.5
availability_period: always
check_period: always
check_interval: 300
---
kind: ServiceTemplate
id: ping
criticality: 4
availability_target: 99.9
availability_period: always
check_period: always
check_interval: 60
---
kind: EquipmentTemplate
id: linux
services: [ping, cpu]
---
kind: Role
id: admin
permissions: [configure_equipment, configure_services, create_templates]
"""
# the catalogue defines the role `admin`: the partner file must not define it again
PARTNER_ONLY = "kind: Partner\nid: partner\nname: Partner\n---\nkind: User\nid: francois\nat: partner\nrole: admin\n"


def with_catalog(files: dict) -> dict:
    return {
        "snav.yaml": CATALOG_PROJECT,
        "catalog/product.yaml": CATALOG,
        "partner.yaml": PARTNER_ONLY,
        **files,
    }


def related(d) -> list[tuple]:
    return [(r.file, r.line, r.column, r.message) for r in d.related]


# -- the good path ------------------------------------------------------------------------


TREE = """\
kind: Client
id: client1
name: Client 1
parent: partner
mode: managed
---
kind: Client
id: client2
name: Client 2
parent: partner
mode: resale
---
kind: Site
id: site-b
name: Site B
parent: client1
---
kind: Site
id: site-a
name: Site A
parent: client1
"""


def test_tree_shape_and_paths_N1_N2_N3(make_repo):
    result = check(make_repo(with_catalog({"clients.yaml": TREE})))
    assert result.diagnostics == []
    tree = result.tree
    assert sorted(tree.nodes) == ["client1", "client2", "partner", "product", "site-a", "site-b"]
    product, partner = tree.product, tree.nodes["partner"]
    site = tree.nodes["site-a"]
    assert product.id == PRODUCT and product.kind == "product" and product.parent is None
    assert [n.id for n in site.path] == ["product", "partner", "client1", "site-a"]
    assert [n.id for n in partner.children] == ["client1", "client2"]
    assert [n.id for n in tree.nodes["client1"].children] == ["site-a", "site-b"]  # sorted
    assert (site.depth, site.kind, site.name, site.company.id, site.partner.id) == (
        3,
        "site",
        "Site A",
        "client1",
        "partner",
    )
    assert (site.mode, tree.nodes["client2"].mode, partner.mode) == ("managed", "resale", None)
    assert partner.is_ancestor_or_self(site) and site.is_ancestor_or_self(site)
    assert not site.is_ancestor_or_self(partner)
    assert not tree.nodes["client2"].is_ancestor_or_self(site)


def test_the_catalogue_lives_at_the_product(make_repo):
    tree = check(make_repo(with_catalog({}))).tree
    cpu = tree.get("ServiceTemplate", "cpu")
    assert cpu.doc.catalog and cpu.doc.file == "catalog/product.yaml"
    assert tree.node_of(cpu) is tree.product
    assert tree.node_of(tree.get("User", "francois")) is tree.nodes["partner"]
    assert sorted(tree.objects["Role"]) == ["admin"]  # the shipped catalogue is replaced whole


def test_configurer_defaults_to_the_project_default_user(make_repo):
    repo = make_repo(
        with_catalog(
            {
                "eq.yaml": """\
                kind: Box
                id: box
                at: partner
                ---
                kind: User
                id: anne
                at: partner
                role: admin
                ---
                kind: Equipment
                id: a
                at: partner
                box: box
                ---
                kind: Equipment
                id: b
                at: partner
                box: box
                configured_by: anne
                """
            }
        )
    )
    tree = check(repo).tree
    assert tree.configurer(tree.get("Equipment", "a")) == "francois"
    assert tree.configurer(tree.get("Equipment", "b")) == "anne"


UNIT_SERVICES = """\
kind: EquipmentTemplate
id: linux-web
at: partner
duplicate_of: linux
---
kind: Box
id: box
at: partner
---
kind: Equipment
id: srv
at: partner
box: box
template: linux-web
services:
  - template: cpu
    name: cpu-2
  - template: ping
    name: ping-gw
---
kind: Equipment
id: bare
at: partner
box: box
"""


def test_unit_services_T9(make_repo):
    """Template services (through duplicate_of, T7) then the equipment's own, by name."""
    tree = check(make_repo(with_catalog({"eq.yaml": UNIT_SERVICES}))).tree
    assert tree.unit_services == {"srv": ["ping", "cpu", "cpu-2", "ping-gw"], "bare": []}
    assert equipment_template_services(tree, "linux-web") == ["ping", "cpu"]
    assert equipment_template_services(tree, None) == []


def test_references_of_an_object(make_repo):
    tree = check(make_repo(with_catalog({"eq.yaml": UNIT_SERVICES}))).tree
    assert list(references(tree.get("Equipment", "srv"))) == [
        (("at",), "node", "partner"),
        (("template",), "EquipmentTemplate", "linux-web"),
        (("box",), "Box", "box"),
        (("services", 0, "template"), "ServiceTemplate", "cpu"),
        (("services", 1, "template"), "ServiceTemplate", "ping"),
    ]


def test_overrides_are_indexed_by_template_and_node(make_repo):
    repo = make_repo(
        with_catalog(
            {
                "o.yaml": "kind: ServiceTemplateOverride\ntemplate: cpu\nat: partner\ncriticality: 5\n"
            }
        )
    )
    result = check(repo)
    assert result.diagnostics == []
    assert {t: sorted(by_at) for t, by_at in result.tree.overrides.items()} == {"cpu": ["partner"]}
    assert result.tree.overrides["cpu"]["partner"].criticality == 5


# -- SNV301 duplicate IDs -----------------------------------------------------------------


def test_duplicate_id_across_files_points_at_both(make_repo):
    d = only(make_repo({"a.yaml": CONTACT, "z/b.yaml": "# the same contact again\n" + CONTACT}))
    assert where(d) == ("SNV301", None, "z/b.yaml", 3, 5)
    assert d.message == "duplicate ID: Contact 'noc' is already defined"
    assert related(d) == [("a.yaml", 2, 5, "first defined here")]


def test_nodes_share_one_id_space(make_repo):
    """A Client and a Site (or a Partner) cannot have the same ID: they are all nodes."""
    repo = make_repo(
        {
            "c.yaml": "kind: Client\nid: acme\nname: ACME\nparent: partner\nmode: managed\n---\n"
            "kind: Site\nid: acme\nname: ACME HQ\nparent: acme\n"
        }
    )
    d = only(repo)
    assert where(d) == ("SNV301", None, "c.yaml", 8, 5)
    assert d.message == "duplicate ID: Site 'acme' is already defined as a Client"
    assert related(d) == [("c.yaml", 2, 5, "first defined here")]


def test_a_client_cannot_reuse_the_partner_id(make_repo):
    # z.yaml sorts after partner.yaml: the Partner is the first definition
    d = only(
        make_repo(
            {"z.yaml": "kind: Client\nid: partner\nname: P\nparent: partner\nmode: managed\n"}
        )
    )
    assert where(d) == ("SNV301", None, "z.yaml", 2, 5)
    assert d.message == "duplicate ID: Client 'partner' is already defined as a Partner"
    assert related(d) == [("partner.yaml", 2, 5, "first defined here")]


def test_other_kinds_have_their_own_id_space(make_repo):
    """A Contact, a Box and a ContactGroup may share an ID; so may a ServiceTemplate and an
    EquipmentTemplate."""
    repo = make_repo(
        with_catalog(
            {
                "a.yaml": CONTACT
                + "---\nkind: Box\nid: noc\nat: partner\n---\nkind: ContactGroup\nid: noc\nat: partner\nmembers: [noc]\n"
                "---\nkind: ServiceTemplate\nid: web\nat: partner\nduplicate_of: cpu\n"
                "---\nkind: EquipmentTemplate\nid: web\nat: partner\nduplicate_of: linux\n"
            }
        )
    )
    assert diagnostics(repo) == []


def test_repository_template_clashing_with_the_catalogue(make_repo):
    repo = make_repo(
        with_catalog(
            {"t.yaml": "kind: ServiceTemplate\nid: cpu\nat: partner\nduplicate_of: ping\n"}
        )
    )
    d = only(repo)
    assert where(d) == ("SNV301", None, "t.yaml", 2, 5)
    assert d.message == (
        "duplicate ID: ServiceTemplate 'cpu' is already defined by the product catalogue; "
        "use a ServiceTemplateOverride to change it"
    )
    assert related(d) == [("catalog/product.yaml", 7, 5, "first defined in the product catalogue")]


def test_repository_period_clashing_with_the_catalogue(make_repo):
    d = only(make_repo(with_catalog({"p.yaml": "kind: TimePeriod\nid: always\nat: partner\n"})))
    assert where(d) == ("SNV301", None, "p.yaml", 2, 5)
    assert (
        d.message == "duplicate ID: TimePeriod 'always' is already defined by the product catalogue"
    )


def test_catalogue_folder_is_not_part_of_the_repository(make_repo):
    """Project.catalog's folder is read as the catalogue only, not twice."""
    result = check(make_repo(with_catalog({})))
    assert result.diagnostics == []
    assert "catalog/product.yaml" not in result.files


def test_duplicate_project(make_repo):
    d = only(
        make_repo(
            {
                "snav.yaml": "kind: Project\ndefault_user: francois\n---\nkind: Project\nname: again\n"
            }
        )
    )
    assert where(d) == ("SNV301", None, "snav.yaml", 4, 7)
    assert d.message == "duplicate Project: a repository has one, in snav.yaml"
    assert related(d) == [("snav.yaml", 1, 7, "first Project")]


# -- SNV302 dangling references -------------------------------------------------------------


def test_dangling_reference_with_did_you_mean(make_repo):
    repo = make_repo(
        {
            "g.yaml": CONTACT
            + "---\nkind: ContactGroup\nid: oncall\nat: partner\nmembers: [noc, nco]\n"
        }
    )
    d = only(repo)
    assert where(d) == ("SNV302", None, "g.yaml", 9, 16)
    assert (
        d.message
        == "ContactGroup 'oncall' refers to Contact 'nco', which does not exist; did you mean 'noc'?"
    )


def test_dangling_reference_names_the_kind_that_has_the_id(make_repo):
    repo = make_repo(
        {
            "g.yaml": CONTACT
            + "---\nkind: ContactGroup\nid: oncall\nat: partner\nmembers: [francois]\n"
        }
    )
    d = only(repo)
    assert where(d) == ("SNV302", None, "g.yaml", 9, 11)
    assert (
        d.message
        == "ContactGroup 'oncall' refers to Contact 'francois', which does not exist (there is a User 'francois')"
    )


def test_dangling_node(make_repo):
    d = only(make_repo({"c.yaml": "kind: Contact\nid: noc\nname: NOC\nat: partnr\n"}))
    assert where(d) == ("SNV302", None, "c.yaml", 4, 5)
    assert (
        d.message
        == "Contact 'noc' refers to node 'partnr', which does not exist; did you mean 'partner'?"
    )


def test_dangling_parent_is_reported_once(make_repo):
    """The client is out of the tree; what hangs below it is not reported again."""
    repo = make_repo(
        {
            "c.yaml": "kind: Client\nid: c1\nname: C\nparent: parnter\nmode: managed\n---\n"
            "kind: Site\nid: s1\nname: S\nparent: c1\n---\nkind: Contact\nid: x\nname: x\nat: s1\n"
        }
    )
    d = only(repo)
    assert where(d) == ("SNV302", None, "c.yaml", 4, 9)
    assert (
        d.message
        == "Client 'c1' refers to node 'parnter', which does not exist; did you mean 'partner'?"
    )


def test_dangling_default_user(make_repo):
    d = only(make_repo({"snav.yaml": "kind: Project\ndefault_user: francios\n"}))
    assert where(d) == ("SNV302", None, "snav.yaml", 2, 15)
    assert (
        d.message
        == "Project refers to User 'francios', which does not exist; did you mean 'francois'?"
    )


def test_dangling_references_in_nested_fields(make_repo):
    repo = make_repo(
        with_catalog(
            {
                "eq.yaml": """\
                kind: Box
                id: box
                at: partner
                ---
                kind: Equipment
                id: srv
                at: partner
                box: bx
                periods: {check: alwyas}
                services:
                  - template: cpu
                    check_period: nights
                """
            }
        )
    )
    found = [(where(d), d.message) for d in diagnostics(repo)]
    assert found == [
        (
            ("SNV302", None, "eq.yaml", 8, 6),
            "Equipment 'srv' refers to Box 'bx', which does not exist; did you mean 'box'?",
        ),
        (
            ("SNV302", None, "eq.yaml", 9, 18),
            "Equipment 'srv' refers to TimePeriod 'alwyas', which does not exist; did you mean 'always'?",
        ),
        (
            ("SNV302", None, "eq.yaml", 12, 19),
            "Equipment 'srv' refers to TimePeriod 'nights', which does not exist",
        ),
    ]


def user_service(members: str) -> dict:
    return with_catalog(
        {
            "eq.yaml": UNIT_SERVICES,
            "us.yaml": f"kind: UserService\nid: shop\nat: partner\nmembers: {members}\n",
        }
    )


def test_unit_service_members_that_exist(make_repo):
    """``eq/name``: from the equipment template (through duplicate_of) or the equipment's own."""
    assert diagnostics(make_repo(user_service("[srv/ping, srv/cpu, srv/cpu-2, srv/ping-gw]"))) == []


@pytest.mark.parametrize(
    ("member", "message"),
    [
        (
            "srv/cpu-3",
            "UserService 'shop' refers to unit service 'srv/cpu-3', which does not exist "
            "(equipment 'srv' has ping, cpu, cpu-2, ping-gw); did you mean 'srv/cpu-2'?",
        ),
        (
            "srv/memory",
            "UserService 'shop' refers to unit service 'srv/memory', which does not exist "
            "(equipment 'srv' has ping, cpu, cpu-2, ping-gw)",
        ),
        (
            "bare/ping",
            "UserService 'shop' refers to unit service 'bare/ping', which does not exist "
            "(equipment 'bare' has no unit service)",
        ),
        (
            "svr/ping-gw",
            "UserService 'shop' refers to unit service 'svr/ping-gw', which does not exist "
            "(no equipment 'svr'); did you mean 'srv/ping-gw'?",
        ),
    ],
)
def test_unit_service_members_that_do_not(make_repo, member, message):
    d = only(make_repo(user_service(f"[srv/ping, {member}]")))
    assert where(d) == ("SNV302", None, "us.yaml", 4, 21)
    assert d.message == message


# -- SNV303 tree shape (N1) ---------------------------------------------------------------


def test_site_under_a_partner_N1(make_repo):
    d = only(make_repo({"s.yaml": "kind: Site\nid: s1\nname: S\nparent: partner\n"}))
    assert where(d) == ("SNV303", "N1", "s.yaml", 4, 9)
    assert d.message == (
        "Site 's1' has parent Partner 'partner': a site's parent must be a client "
        "(product -> partners -> clients -> sites)"
    )


def test_client_under_a_client_N1(make_repo):
    repo = make_repo(
        {
            "c.yaml": "kind: Client\nid: c1\nname: C1\nparent: partner\nmode: managed\n---\n"
            "kind: Client\nid: c2\nname: C2\nparent: c1\nmode: resale\n"
        }
    )
    d = only(repo)
    assert where(d) == ("SNV303", "N1", "c.yaml", 10, 9)
    assert d.message == (
        "Client 'c2' has parent Client 'c1': a client's parent must be a partner "
        "(product -> partners -> clients -> sites)"
    )


def test_site_under_a_site_N1(make_repo):
    repo = make_repo(
        {
            "c.yaml": "kind: Client\nid: c1\nname: C1\nparent: partner\nmode: managed\n---\n"
            "kind: Site\nid: s1\nname: S1\nparent: c1\n---\nkind: Site\nid: s2\nname: S2\nparent: s1\n"
        }
    )
    d = only(repo)
    assert where(d) == ("SNV303", "N1", "c.yaml", 15, 9)
    assert d.message.startswith("Site 's2' has parent Site 's1': a site's parent must be a client")


def test_parent_loops_end_N1(make_repo):
    """A node that is its own parent, and two sites parent of each other: errors, no hang."""
    repo = make_repo(
        {
            "c.yaml": "kind: Client\nid: c1\nname: C1\nparent: c1\nmode: managed\n---\n"
            "kind: Site\nid: s1\nname: S1\nparent: s2\n---\nkind: Site\nid: s2\nname: S2\nparent: s1\n"
        }
    )
    assert [(d.code, d.rule, d.line, d.message.split(":")[0]) for d in diagnostics(repo)] == [
        ("SNV303", "N1", 4, "Client 'c1' has parent Client 'c1'"),
        ("SNV303", "N1", 10, "Site 's1' has parent Site 's2'"),
        ("SNV303", "N1", 15, "Site 's2' has parent Site 's1'"),
    ]


def test_objects_below_a_misplaced_node_are_not_reported_again_N1(make_repo):
    repo = make_repo(
        {
            "s.yaml": "kind: Site\nid: s1\nname: S\nparent: partner\n---\n"
            + CONTACT.replace("partner", "s1")
        }
    )
    assert [d.code for d in diagnostics(repo)] == ["SNV303"]


def test_node_id_product_is_reserved_N1(make_repo):
    d = only(make_repo({"p.yaml": "kind: Partner\nid: product\nname: P\n"}))
    assert where(d) == ("SNV303", "N1", "p.yaml", 2, 5)
    assert d.message == "'product' is reserved for the virtual root of the tree; choose another ID"


# -- SNV304 duplicate_of cycles (T7) -------------------------------------------------------


def template(ident: str, source: str) -> str:
    return f"kind: ServiceTemplate\nid: {ident}\nat: partner\nduplicate_of: {source}\n"


def test_duplicate_of_cycle_names_the_whole_chain_once_T7(make_repo):
    repo = make_repo(
        {
            "t.yaml": "---\n".join(
                [
                    template("a", "b"),
                    template("b", "c"),
                    template("c", "a"),
                    template("d", "a"),
                    template("e", "d"),
                ]
            )
        }
    )
    d = only(repo)
    assert where(d) == ("SNV304", "T7", "t.yaml", 4, 15)
    assert d.message == "ServiceTemplate duplicate_of cycle: a -> b -> c -> a"
    assert related(d) == [("t.yaml", 9, 15, "b duplicates c"), ("t.yaml", 14, 15, "c duplicates a")]


def test_duplicate_of_itself_T7(make_repo):
    d = only(
        make_repo({"t.yaml": "kind: EquipmentTemplate\nid: a\nat: partner\nduplicate_of: a\n"})
    )
    assert where(d) == ("SNV304", "T7", "t.yaml", 4, 15)
    assert d.message == "EquipmentTemplate duplicate_of cycle: a -> a"
    assert d.related == ()


def test_two_cycles_are_two_errors_T7(make_repo):
    repo = make_repo(
        {
            "t.yaml": "---\n".join(
                [template("a", "b"), template("b", "a"), template("x", "y"), template("y", "x")]
            )
        }
    )
    assert [d.message for d in diagnostics(repo)] == [
        "ServiceTemplate duplicate_of cycle: a -> b -> a",
        "ServiceTemplate duplicate_of cycle: x -> y -> x",
    ]


def test_duplicate_of_chain_without_a_cycle_T7(make_repo):
    repo = make_repo(
        with_catalog(
            {"t.yaml": "---\n".join([template("a", "b"), template("b", "c"), template("c", "cpu")])}
        )
    )
    assert diagnostics(repo) == []


# -- SNV305 configuring user -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("Equipment 'srv'", "kind: Equipment\nid: srv\nat: partner\nbox: box\n"),
        ("UserService 'shop'", "kind: UserService\nid: shop\nat: partner\n"),
        (
            "ServiceTemplate 'tpl'",
            "kind: ServiceTemplate\nid: tpl\nat: partner\nduplicate_of: cpu\n",
        ),
        (
            "override of 'cpu' at 'partner'",
            "kind: ServiceTemplateOverride\ntemplate: cpu\nat: partner\n",
        ),
        (
            "EquipmentTemplate 'et'",
            "kind: EquipmentTemplate\nid: et\nat: partner\nduplicate_of: linux\n",
        ),
    ],
)
def test_no_configuring_user(make_repo, kind, body):
    repo = make_repo(
        with_catalog(
            {
                "snav.yaml": "kind: Project\nname: no-default\ncatalog: catalog\n",
                "box.yaml": "kind: Box\nid: box\nat: partner\n",
                "x.yaml": "# configured by nobody\n" + body,
            }
        )
    )
    d = only(repo)
    assert where(d) == ("SNV305", None, "x.yaml", 2, 1)
    assert (
        d.message
        == f"{kind} has no configuring user: set 'configured_by', or 'default_user' in snav.yaml"
    )


def test_no_snav_yaml_means_no_default_user(make_repo):
    repo = make_repo(
        {
            "snav.yaml": None,
            "x.yaml": "kind: Box\nid: box\nat: partner\n---\nkind: Equipment\nid: srv\nat: partner\nbox: box\n",
        }
    )
    assert [where(d) for d in diagnostics(repo)] == [("SNV305", None, "x.yaml", 5, 1)]


def test_configured_by_without_default_user_is_fine(make_repo):
    repo = make_repo(
        {
            "snav.yaml": "kind: Project\nname: no-default\n",
            "x.yaml": "kind: Box\nid: box\nat: partner\n---\nkind: Equipment\nid: srv\nat: partner\nbox: box\nconfigured_by: francois\n",
        }
    )
    assert diagnostics(repo) == []


# -- SNV306 two overrides at one node (T2) ---------------------------------------------------


def test_two_overrides_of_one_template_at_one_node_T2(make_repo):
    repo = make_repo(
        with_catalog(
            {
                "a.yaml": "kind: ServiceTemplateOverride\ntemplate: cpu\nat: partner\ncriticality: 5\n",
                "b.yaml": "kind: ServiceTemplateOverride\ntemplate: cpu\nat: partner\ncheck_interval: 30\n",
            }
        )
    )
    d = only(repo)
    assert where(d) == ("SNV306", "T2", "b.yaml", 2, 11)
    assert d.message == (
        "a second override of 'cpu' at 'partner': a node holds at most one override per template; merge their fields"
    )
    assert related(d) == [("a.yaml", 2, 11, "first override")]


def test_overrides_of_one_template_at_two_nodes_T3(make_repo):
    repo = make_repo(
        with_catalog(
            {
                "c.yaml": "kind: Client\nid: c1\nname: C\nparent: partner\nmode: managed\n",
                "a.yaml": "kind: ServiceTemplateOverride\ntemplate: cpu\nat: partner\ncriticality: 5\n---\n"
                "kind: ServiceTemplateOverride\ntemplate: cpu\nat: c1\ncriticality: 4\n---\n"
                "kind: ServiceTemplateOverride\ntemplate: ping\nat: c1\ncriticality: 1\n",
            }
        )
    )
    assert diagnostics(repo) == []


def test_override_of_an_unknown_template(make_repo):
    d = only(
        make_repo(
            with_catalog({"o.yaml": "kind: ServiceTemplateOverride\ntemplate: cpuu\nat: partner\n"})
        )
    )
    assert where(d) == ("SNV302", None, "o.yaml", 2, 11)
    assert (
        d.message
        == "override of 'cpuu' at 'partner' refers to ServiceTemplate 'cpuu', which does not exist; did you mean 'cpu'?"
    )


# -- settings: SNV211, SNV213 ------------------------------------------------------------------


def test_project_in_a_sub_folder_snav_yaml(make_repo):
    """Only the root's snav.yaml holds the Project."""
    d = only(make_repo({"clients/snav.yaml": "kind: Project\nname: nested\n"}))
    assert where(d) == ("SNV211", None, "clients/snav.yaml", 1, 7)
    assert d.message == "a Project document belongs in snav.yaml at the repository root"


def test_misplaced_project_settings_are_ignored(make_repo):
    """A misplaced Project's default_user does not count: the repo's own has none here."""
    repo = make_repo(
        {
            "snav.yaml": None,
            "settings.yaml": "kind: Project\ndefault_user: francois\n",
            "x.yaml": "kind: Box\nid: box\nat: partner\n---\nkind: Equipment\nid: srv\nat: partner\nbox: box\n",
        }
    )
    assert [d.code for d in diagnostics(repo)] == ["SNV211", "SNV305"]


@pytest.mark.parametrize("folder", ["nowhere", "../outside", "partner.yaml"])
def test_catalog_folder_missing(make_repo, tmp_path, folder):
    (tmp_path / "outside").mkdir(exist_ok=True)
    d = only(
        make_repo({"snav.yaml": f"kind: Project\ndefault_user: francois\ncatalog: {folder}\n"}),
        "SNV213",
    )
    assert where(d) == ("SNV213", None, "snav.yaml", 3, 10)
    assert d.message == f"catalog folder '{folder}' does not exist inside the repository"


# -- the contract's own example ----------------------------------------------------------------

INTERFACE_EXAMPLE = """\
kind: Partner
id: partner
name: Partner
---
kind: Client
id: client1
name: Client 1 infogérance
parent: partner
mode: managed
crm_ref: null
---
kind: Site
id: client1-site1
name: Client 1 Site 1
parent: client1
crm_ref: null
---
kind: Box
id: box-shared
at: partner
shared: true
---
kind: Contact
id: noc
at: partner
name: NOC
email: noc@example.net
enabled: true
---
kind: ContactGroup
id: oncall
at: client1
members: [noc]
---
kind: TimePeriod
id: office-hours
at: client1
ranges:
  monday: ["08:00-18:00"]
  tuesday: ["08:00-12:00", "14:00-18:00"]
default_for: [check]
---
kind: ServiceTemplate
id: cpu-strict
at: partner
duplicate_of: cpu
check_interval: 60
---
kind: ServiceTemplateOverride
template: cpu
at: client1
criticality: 5
---
kind: EquipmentTemplate
id: acme-linux
at: partner
duplicate_of: null
services: [ping, cpu, disk]
---
kind: MonitoringAccount
id: snmp-ro
at: client1
protocol: snmp
secret: env:SNMP_COMMUNITY
---
kind: Role
id: client-operator
permissions: [configure_equipment, configure_services, create_templates]
---
kind: User
id: stephanie
at: client1
role: client-operator
---
kind: Equipment
id: srv-web-01
at: client1-site1
template: acme-linux
box: box-shared
configured_by: francois
accounts: [snmp-ro]
periods: {check: office-hours}
notification: {contacts: [noc], groups: [oncall]}
services:
  - name: http-frontend
    template: http
    check_interval: 30
---
kind: UserService
id: webshop
at: client1
configured_by: francois
members: [srv-web-01/http-frontend]
notification: {groups: [oncall]}
---
kind: User
id: francois
at: partner
role: client-operator
---
kind: User
id: integration
at: partner
role: client-operator
"""


def test_the_interface_example_is_valid(make_repo):
    """INTERFACE §1's example (plus the two users it names) against the shipped catalogue,
    which INTERFACE says holds ping, cpu, disk and http."""
    repo = make_repo(
        {
            "snav.yaml": "kind: Project\nname: acme-monitoring\ndefault_user: integration\nvendor_name: Viadéis Services\ncatalog: null\n",
            "partner.yaml": None,
            "estate.yaml": INTERFACE_EXAMPLE,
        }
    )
    result = check(repo)
    assert [d.to_json() for d in result.diagnostics] == []
    tree = result.tree
    assert tree.unit_services["srv-web-01"] == ["ping", "cpu", "disk", "http-frontend"]
    assert tree.configurer(tree.get("EquipmentTemplate", "acme-linux")) == "integration"
    assert tree.nodes["client1-site1"].mode == "managed"
