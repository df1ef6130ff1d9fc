"""M3 across versions (``snavc plan``): a client's mode may change only when the base
revision has no equipment on the client or its sites and no crm_ref on them.

The estate is helpers.SMALL: managed client c1 (sites c1-s1, c1-s2, box-c1) and resale
client c2 (site c2-s1, box-c2), with no partner object in use, so that either mode
builds. Each test commits a base, edits the working tree, and runs ``snavc plan``.
"""

from __future__ import annotations

import pytest

from .helpers import append, edit, equipment_yaml, git_init, report_of, snav

C1 = "c1/client.yaml"
C2 = "c2/client.yaml"


def plan(repo, exit_code):
    return report_of("plan", repo, "--base", "HEAD", exit_code=exit_code)


def m3_errors(report) -> list[dict]:
    return [e for e in report["errors"] if e["code"] == "SNV422"]


def to_resale(repo):
    edit(repo, C1, "mode: managed", "mode: resale")


def to_managed(repo):
    edit(repo, C2, "mode: resale", "mode: managed")


@pytest.mark.parametrize(
    ("base_files", "switch", "reason"),
    [
        pytest.param(
            {"c1/eq.yaml": equipment_yaml("srv-01", "c1-s1", "box-c1")},
            to_resale,
            "revision 'HEAD' has 1 equipment on it or its sites",
            id="managed-to-resale-equipment-on-a-site",
        ),
        pytest.param(
            {"c1/eq.yaml": equipment_yaml("srv-01", "c1", "box-c1")},
            to_resale,
            "revision 'HEAD' has 1 equipment on it or its sites",
            id="managed-to-resale-equipment-on-the-client",
        ),
        pytest.param(
            {"c2/eq.yaml": equipment_yaml("sw-01", "c2-s1", "box-c2", "network-switch")},
            to_managed,
            "revision 'HEAD' has 1 equipment on it or its sites",
            id="resale-to-managed-equipment-on-a-site",
        ),
    ],
)
def test_mode_change_refused_with_equipment_in_the_base_M3(small, base_files, switch, reason):
    repo = git_init(small(base_files))
    switch(repo)
    report = plan(repo, exit_code=1)
    [e] = report["errors"]
    assert (e["code"], e["rule"], e["severity"]) == ("SNV422", "M3", "error")
    assert reason in e["message"]
    assert (
        "first remove the equipment and clear crm_ref, deploy; then change the mode" in e["message"]
    )


def test_mode_change_diagnostic_points_at_the_mode_M3(small):
    repo = git_init(small({"c1/eq.yaml": equipment_yaml("srv-01", "c1-s1", "box-c1")}))
    to_resale(repo)
    [e] = plan(repo, exit_code=1)["errors"]
    assert (e["file"], e["line"], e["column"]) == (C1, 5, 7)
    assert e["message"] == (
        "client 'c1' changes mode from managed to resale, but revision 'HEAD' has 1 equipment "
        "on it or its sites: the mode may change only when there is none. In two steps: first "
        "remove the equipment and clear crm_ref, deploy; then change the mode"
    )
    text = snav("plan", repo, "--base", "HEAD", exit_code=1).stdout
    assert "  c1/client.yaml:5:7: error[SNV422] client 'c1' changes mode" in text
    assert "(rule M3)" in text


@pytest.mark.parametrize(
    ("crm_file", "old", "new", "where", "switch"),
    [
        pytest.param(
            C1,
            "crm_ref: null\n---\nkind: Site\nid: c1-s1",
            "crm_ref: CRM-1\n---\nkind: Site\nid: c1-s1",
            "c1",
            to_resale,
            id="client-managed-to-resale",
        ),
        pytest.param(
            C1,
            "id: c1-s2\nname: Client 1 Site 2\nparent: c1\ncrm_ref: null",
            "id: c1-s2\nname: Client 1 Site 2\nparent: c1\ncrm_ref: CRM-9",
            "c1-s2",
            to_resale,
            id="site-managed-to-resale",
        ),
        pytest.param(
            C2,
            "mode: resale\ncrm_ref: null",
            "mode: resale\ncrm_ref: CRM-2",
            "c2",
            to_managed,
            id="client-resale-to-managed",
        ),
        pytest.param(
            C2,
            "parent: c2\ncrm_ref: null",
            "parent: c2\ncrm_ref: CRM-3",
            "c2-s1",
            to_managed,
            id="site-resale-to-managed",
        ),
    ],
)
def test_mode_change_refused_with_a_crm_ref_in_the_base_M3(
    small, crm_file, old, new, where, switch
):
    repo = small()
    edit(repo, crm_file, old, new)
    git_init(repo)
    switch(repo)
    [e] = m3_errors(plan(repo, exit_code=1))
    assert e["rule"] == "M3"
    assert f"a CRM reference (crm_ref) on {where}" in e["message"]


@pytest.mark.parametrize(
    ("switch", "nodes", "new"),
    [(to_resale, ["c1", "c1-s1", "c1-s2"], "resale"), (to_managed, ["c2", "c2-s1"], "managed")],
    ids=["managed-to-resale", "resale-to-managed"],
)
def test_mode_change_allowed_with_no_equipment_and_no_crm_ref_M3(small, switch, nodes, new):
    repo = git_init(small())
    switch(repo)
    report = plan(repo, exit_code=0)
    assert report["errors"] == []
    # the client and its sites, which follow it (M2)
    assert [(c["op"], c["kind"], c["id"], c["path"], c["new"]) for c in report["changes"]] == [
        ("changed", "node", n, "mode", new) for n in nodes
    ]


def test_mode_change_allowed_when_only_another_client_has_equipment_M3(small):
    repo = git_init(
        small({"c2/eq.yaml": equipment_yaml("sw-01", "c2-s1", "box-c2", "network-switch")})
    )
    to_resale(repo)
    assert plan(repo, exit_code=0)["errors"] == []


def test_mode_of_a_new_client_is_not_checked_M3(small):
    repo = git_init(small())
    append(
        repo,
        "c3/client.yaml",
        """\
        kind: Client
        id: c3
        name: Client 3
        parent: partner
        mode: resale
        crm_ref: CRM-3
        ---
        kind: Box
        id: box-c3
        at: c3
        ---
        kind: Equipment
        id: srv-c3
        at: c3
        template: linux-server
        box: box-c3
        """,
    )
    report = plan(repo, exit_code=0)
    assert report["errors"] == []
    assert {(c["op"], c["kind"], c["id"]) for c in report["changes"]} == {
        ("added", "node", "c3"),
        ("added", "equipment", "srv-c3"),
    }


def test_clearing_crm_ref_and_changing_mode_at_once_is_refused_M3(small):
    """The check is against the base (the deployed state): both in one change is refused."""
    repo = small()
    edit(repo, C1, "mode: managed\ncrm_ref: null", "mode: managed\ncrm_ref: CRM-1")
    git_init(repo)
    edit(repo, C1, "mode: managed\ncrm_ref: CRM-1", "mode: resale\ncrm_ref: null")
    assert [e["rule"] for e in plan(repo, exit_code=1)["errors"]] == ["M3"]


def test_removing_equipment_and_changing_mode_at_once_is_refused_M3(small):
    repo = git_init(small({"c1/eq.yaml": equipment_yaml("srv-01", "c1-s1", "box-c1")}))
    (repo / "c1/eq.yaml").unlink()
    to_resale(repo)
    report = plan(repo, exit_code=1)
    assert [e["rule"] for e in report["errors"]] == ["M3"]
    assert ("removed", "srv-01") in {(c["op"], c["id"]) for c in report["changes"]}


def test_two_steps_are_allowed_M3(small):
    """Step 1 removes the equipment and is deployed (committed); step 2 changes the mode."""
    from .helpers import git

    repo = git_init(small({"c1/eq.yaml": equipment_yaml("srv-01", "c1-s1", "box-c1")}))
    (repo / "c1/eq.yaml").unlink()
    assert plan(repo, exit_code=0)["errors"] == []
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-gpg-sign", "-m", "step 1")
    to_resale(repo)
    assert plan(repo, exit_code=0)["errors"] == []


def test_mode_change_refused_with_detailed_exitcode_is_1_M3(small):
    repo = git_init(small({"c1/eq.yaml": equipment_yaml("srv-01", "c1-s1", "box-c1")}))
    to_resale(repo)
    snav("plan", repo, "--base", "HEAD", "--detailed-exitcode", exit_code=1)


def test_mode_change_refused_M3_is_reported_first_with_its_consequences(small):
    """Issue 10: a mode change that breaks the working tree (a partner box under what
    becomes a resale client, B3) reported only the consequence, never M3, the cause."""
    repo = git_init(
        small(
            {
                "partner-box.yaml": """\
                    kind: Box
                    id: box-snm
                    at: partner
                    shared: true
                    """,
                "c1/eq.yaml": equipment_yaml("srv-01", "c1-s1", "box-snm"),
            }
        )
    )
    to_resale(repo)
    report = plan(repo, exit_code=1)
    assert [(e["code"], e["rule"], e["file"], e["line"]) for e in report["errors"]] == [
        ("SNV422", "M3", C1, 5),
        ("SNV412", "B3", "c1/eq.yaml", 6),
    ]
    text = snav("plan", repo, "--base", "HEAD", exit_code=1).stdout
    assert text.index("error[SNV422]") < text.index("error[SNV412]")
