"""The tree (N1-N3) and the mode of clients and sites (M1, M2)."""

from __future__ import annotations

from snavc.engine.emit import effective
from snavc.query import selectable
from snavc.resolve.scope import scope_path

from .helpers import clean, only, pin


def test_N1_tree_is_product_partners_clients_sites(compile_files):
    result, res = compile_files()
    clean(result)
    nodes = effective(res)["nodes"]
    assert {k: (v["kind"], v["parent"]) for k, v in nodes.items()} == {
        "partner": ("partner", None),
        "client1": ("client", "partner"),
        "client1-site1": ("site", "client1"),
        "client1-site2": ("site", "client1"),
        "client2": ("client", "partner"),
        "client2-site1": ("site", "client2"),
    }
    assert res.tree.nodes["partner"].parent is res.tree.product


def test_N1_site_under_a_partner_is_an_error(compile_files):
    result, res = compile_files(
        {
            "bad.yaml": """\
                kind: Site
                id: stray-site
                name: Stray site
                parent: partner
                """
        }
    )
    d = only(result)
    assert pin(d) == ("error", "SNV303", "N1", "bad.yaml", 4, 9)
    assert d.message == (
        "Site 'stray-site' has parent Partner 'partner': a site's parent must be a client "
        "(product -> partners -> clients -> sites)"
    )
    assert "stray-site" not in res.tree.nodes


def test_N1_client_under_a_client_and_site_under_a_site_are_errors(compile_files):
    result, _ = compile_files(
        {
            "bad.yaml": """\
                kind: Client
                id: sub-client
                name: Sub client
                parent: client1
                mode: managed
                ---
                kind: Site
                id: sub-site
                name: Sub site
                parent: client1-site1
                """
        }
    )
    assert [pin(d) for d in result.diagnostics] == [
        ("error", "SNV303", "N1", "bad.yaml", 4, 9),
        ("error", "SNV303", "N1", "bad.yaml", 10, 9),
    ]
    assert "a client's parent must be a partner" in result.diagnostics[0].message
    assert "a site's parent must be a client" in result.diagnostics[1].message


def test_N1_product_is_a_reserved_node_id(compile_files):
    result, _ = compile_files({"bad.yaml": "kind: Partner\nid: product\nname: P\n"})
    d = only(result, "SNV303")
    assert pin(d) == ("error", "SNV303", "N1", "bad.yaml", 2, 5)


def test_N2_company_of_a_node(compile_files):
    _, res = compile_files()
    nodes = res.tree.nodes
    assert nodes["client1-site1"].company is nodes["client1"]
    assert nodes["client1"].company is nodes["client1"]
    assert nodes["partner"].company is nodes["partner"]


def test_N2_resale_cut_point_is_the_company_of_the_site(compile_files):
    """Behaviour: under a resale client the scope is cut at company(N), the client, even
    when N is one of its sites; a contact at client2 is selectable at client2-site1."""
    result, res = compile_files(
        {
            "c.yaml": """\
                kind: Contact
                id: c2-ops
                at: client2
                name: Client 2 ops
                ---
                kind: Contact
                id: noc
                at: partner
                name: NOC
                """
        }
    )
    clean(result)
    assert [i["id"] for i in selectable(res, "francois", "client2-site1", "contact")] == ["c2-ops"]


def test_N3_path_includes_both_ends(compile_files):
    _, res = compile_files()
    nodes = res.tree.nodes
    assert [n.id for n in scope_path(nodes["partner"], nodes["client1-site1"])] == [
        "partner",
        "client1",
        "client1-site1",
    ]
    assert [n.id for n in scope_path(nodes["client1-site1"], nodes["client1-site1"])] == [
        "client1-site1"
    ]
    # "at least at the same level as X": X itself or an ancestor, never a sibling or below
    assert nodes["client1"].is_ancestor_or_self(nodes["client1"])
    assert nodes["client1"].is_ancestor_or_self(nodes["client1-site2"])
    assert not nodes["client1-site1"].is_ancestor_or_self(nodes["client1-site2"])
    assert not nodes["client1-site1"].is_ancestor_or_self(nodes["client1"])


def test_N3_selectable_holds_objects_of_both_ends_of_the_path(compile_files):
    result, res = compile_files(
        {
            "c.yaml": """\
                kind: Contact
                id: at-top
                at: partner
                name: top
                ---
                kind: Contact
                id: at-middle
                at: client1
                name: middle
                ---
                kind: Contact
                id: at-node
                at: client1-site1
                name: node
                """
        }
    )
    clean(result)
    assert [i["id"] for i in selectable(res, "francois", "client1-site1", "contact")] == [
        "at-middle",
        "at-node",
        "at-top",
    ]


def test_M1_a_client_must_have_a_mode(compile_files):
    result, _ = compile_files(
        {"c3.yaml": "kind: Client\nid: client3\nname: Client 3\nparent: partner\n"}
    )
    d = only(result)
    assert (d.code, d.file, d.line) == ("SNV202", "c3.yaml", 1)
    assert "'mode'" in d.message


def test_M1_mode_is_managed_or_resale(compile_files):
    result, _ = compile_files(
        {"c3.yaml": "kind: Client\nid: client3\nname: Client 3\nparent: partner\nmode: hosted\n"}
    )
    d = only(result)
    assert (d.severity, d.file, d.line, d.column) == ("error", "c3.yaml", 5, 7)
    assert "managed" in d.message and "resale" in d.message


def test_M1_modes_in_effective_configuration(compile_files):
    _, res = compile_files()
    nodes = effective(res)["nodes"]
    assert nodes["client1"]["mode"] == "managed"
    assert nodes["client2"]["mode"] == "resale"
    assert nodes["partner"]["mode"] is None


def test_M2_sites_inherit_the_mode_of_their_client(compile_files):
    _, res = compile_files()
    nodes = effective(res)["nodes"]
    assert nodes["client1-site1"]["mode"] == "managed"
    assert nodes["client1-site2"]["mode"] == "managed"
    assert nodes["client2-site1"]["mode"] == "resale"


def test_M2_a_site_cannot_set_its_own_mode(compile_files):
    result, _ = compile_files(
        {
            "s.yaml": """\
                kind: Site
                id: client2-site2
                name: Client 2 Site 2
                parent: client2
                mode: managed
                """
        }
    )
    d = only(result)
    assert pin(d) == ("error", "SNV209", "M2", "s.yaml", 5, 1)
    assert d.message == (
        "a site cannot set 'mode': sites inherit the mode of their client; set it on Client 'client2'"
    )
