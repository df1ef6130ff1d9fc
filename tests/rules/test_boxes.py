"""Boxes: which box may monitor which equipment, for which user (B1-B4).

The base estate has one box per node: ``box-snm`` (partner, shared), ``box-lab``
(partner, not shared), ``box-c1``, ``box-c1s1``, ``box-c1s2``, ``box-c2``, ``box-c2s1``.
"""

from __future__ import annotations

import pytest

from snavc.query import list_view, selectable

from .helpers import by_id, clean, ids, only, pin


def eq(at: str, box: str, by: str = "francois") -> dict:
    return {"eq.yaml": f"kind: Equipment\nid: srv-01\nat: {at}\nbox: {box}\nconfigured_by: {by}\n"}


def test_B1_box_below_the_equipment_is_an_error(compile_files):
    result, _ = compile_files(eq("client1", "box-c1s1"))
    d = only(result)
    assert pin(d) == ("error", "SNV410", "B1", "eq.yaml", 4, 6)
    assert d.message == (
        "box 'box-c1s1' at 'client1-site1' cannot monitor equipment at 'client1': a box monitors its own node "
        "and the nodes below it; boxes francois may pick at 'client1': box-c1, box-snm"
    )


def test_B1_box_of_a_sibling_site_is_an_error(compile_files):
    result, _ = compile_files(eq("client1-site2", "box-c1s1"))
    assert pin(only(result)) == ("error", "SNV410", "B1", "eq.yaml", 4, 6)


@pytest.mark.parametrize("box", ["box-c1", "box-c1s1"])
def test_B1_box_at_the_node_or_above_monitors_it(compile_files, box):
    result, res = compile_files(eq("client1-site1", box))
    clean(result)
    assert res.equipment["srv-01"]["box"] == box


def test_B2_box_above_the_users_home_is_an_error(compile_files):
    result, _ = compile_files(eq("client1-site1", "box-c1", "sam"))
    d = only(result)
    assert pin(d) == ("error", "SNV411", "B2", "eq.yaml", 4, 6)
    assert d.message == (
        "box 'box-c1' is at 'client1', above the user's home 'client1-site1': a user may only use boxes at "
        "their home node or below; boxes sam may pick at 'client1-site1': box-c1s1"
    )


def test_B2_client_user_cannot_use_the_partners_shared_box(compile_files):
    result, _ = compile_files(eq("client1-site1", "box-snm", "stephanie"))
    d = only(result)
    assert (d.code, d.rule) == ("SNV411", "B2")
    assert d.message.endswith("boxes stephanie may pick at 'client1-site1': box-c1, box-c1s1")


def test_B3_unshared_partner_box_cannot_monitor_client_equipment(compile_files):
    result, _ = compile_files(eq("client1-site1", "box-lab"))
    d = only(result)
    assert pin(d) == ("error", "SNV412", "B3", "eq.yaml", 4, 6)
    assert d.message == (
        "box 'box-lab' at the partner is not shared (SNM): only shared partner boxes monitor client equipment; "
        "boxes francois may pick at 'client1-site1': box-c1, box-c1s1, box-snm"
    )


def test_B3_shared_partner_box_never_under_a_resale_client(compile_files):
    result, _ = compile_files(eq("client2-site1", "box-snm"))
    d = only(result)
    assert pin(d) == ("error", "SNV412", "B3", "eq.yaml", 4, 6)
    assert d.message == (
        "box 'box-snm' belongs to the partner, which does not monitor resale client 'client2'; "
        "boxes francois may pick at 'client2-site1': box-c2, box-c2s1"
    )


@pytest.mark.parametrize("box", ["box-lab", "box-snm"])
def test_B3_any_partner_box_monitors_equipment_at_the_partner(compile_files, box):
    result, _ = compile_files(eq("partner", box))
    clean(result)


def test_B3_shared_on_a_client_or_site_box_is_a_warning(compile_files):
    result, res = compile_files(
        {
            "boxes2.yaml": """\
                kind: Box
                id: box-c1-shared
                at: client1
                shared: true
                ---
                kind: Box
                id: box-c1s1-shared
                at: client1-site1
                shared: true
                """,
            **eq("client1-site2", "box-c1-shared"),
        }
    )
    assert [pin(d) for d in result.diagnostics] == [
        ("warning", "SNV413", "B3", "boxes2.yaml", 4, 9),
        ("warning", "SNV413", "B3", "boxes2.yaml", 9, 9),
    ]
    assert result.diagnostics[0].message == (
        "'shared: true' on box 'box-c1-shared' at client 'client1' has no effect: only partner boxes can be "
        "shared (SNM type)"
    )
    assert result.ok and res.equipment["srv-01"]["box"] == "box-c1-shared"


def test_B4_francois_at_client1_site1(compile_files):
    """Seed: François may pick a shared box of Partner, or any box of Client 1 or of
    Client 1 Site 1 (not the lab box, not Site 2's)."""
    _, res = compile_files()
    items = selectable(res, "francois", "client1-site1", "box")
    assert ids(items) == ["box-c1", "box-c1s1", "box-snm"]
    assert by_id(items)["box-snm"] == {
        "id": "box-snm",
        "kind": "box",
        "defined_at": "partner",
        "editor": "Partner",
        "shared": True,
    }


def test_B4_stephanie_at_client1_site2(compile_files):
    """Seed: Stéphanie may pick boxes of Client 1 or of Client 1 Site 2."""
    _, res = compile_files()
    assert ids(selectable(res, "stephanie", "client1-site2", "box")) == ["box-c1", "box-c1s2"]


@pytest.mark.parametrize(
    "user, node, boxes",
    [
        ("francois", "partner", ["box-lab", "box-snm"]),
        ("francois", "client1", ["box-c1", "box-snm"]),
        ("francois", "client2-site1", ["box-c2", "box-c2s1"]),
        ("sam", "client1-site1", ["box-c1s1"]),
        ("rita", "client2-site1", ["box-c2", "box-c2s1"]),
    ],
)
def test_B4_eligible_boxes(compile_files, user, node, boxes):
    _, res = compile_files()
    assert ids(selectable(res, user, node, "box")) == boxes


def test_B4_list_view_of_boxes_marks_ineligible_ones(compile_files):
    _, res = compile_files()
    listed = list_view(res, "francois", "client1-site1", "box")
    assert [(i["id"], i["selectable"]) for i in listed] == [
        ("box-c1", True),
        ("box-c1s1", True),
        ("box-lab", False),
        ("box-snm", True),
    ]


@pytest.mark.parametrize(
    "user, node, listed",
    [
        # issue 10: the partner's boxes were listed (not selectable) under a resale client
        ("francois", "client2-site1", [("box-c2", True), ("box-c2s1", True)]),
        ("francois", "client2", [("box-c2", True)]),
        ("rita", "client2-site1", [("box-c2", True), ("box-c2s1", True)]),
        # the partner itself and managed clients: top is the partner, its boxes listed
        ("francois", "partner", [("box-lab", True), ("box-snm", True)]),
        ("francois", "client1", [("box-c1", True), ("box-lab", False), ("box-snm", True)]),
    ],
)
def test_V2_B3_list_view_of_boxes_follows_the_scope_cut(compile_files, user, node, listed):
    """Boxes are listed on path(top -> N) like every other kind (V2, V5): the partner's
    are not shown under a resale client, where they are never eligible (B3)."""
    _, res = compile_files()
    assert [(i["id"], i["selectable"]) for i in list_view(res, user, node, "box")] == listed
    contacts = compile_files({"c.yaml": "kind: Contact\nid: noc\nname: NOC\nat: partner\n"})[1]
    shown = [i["id"] for i in list_view(contacts, user, node, "contact")]
    assert ("noc" in shown) == (node in ("partner", "client1"))
