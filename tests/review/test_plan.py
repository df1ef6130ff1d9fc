"""``snavc plan DIR --base REV``: build a git revision and the working tree, diff them,
check what only shows across versions; with ``--as USER``, delegation (V1, L1-L4).

Git never changes: neither the index nor the working tree (plan reads the base's stored
tree with ``git ls-tree`` and ``git cat-file``). Repositories are throwaway ones under tmp_path.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from .helpers import (
    CLIENT1_OVERRIDE,
    SITE1_EQ,
    SITE2_EQ,
    USER_SERVICES,
    append,
    edit,
    git,
    git_init,
    report_of,
    snav,
    take_document,
)

ADDRESS_CHANGE = {
    "op": "changed",
    "kind": "equipment",
    "id": "srv-file-02",
    "path": "address",
    "old": "10.1.2.10",
    "new": "10.1.2.99",
    "partner": "partner",
    "client": "client1",
    "site": "client1-site2",
}


def change_srv_file_02(repo: Path) -> None:
    edit(repo, SITE2_EQ, "address: 10.1.2.10", "address: 10.1.2.99")


def plan(repo, *args, exit_code=0) -> dict:
    return report_of("plan", repo, "--base", "HEAD", *args, exit_code=exit_code)


# -- over git -----------------------------------------------------------------------------------


def test_plan_at_the_repository_root(seed):
    repo = git_init(seed())
    change_srv_file_02(repo)
    report = plan(repo)
    assert (report["base"], report["head"]) == ("HEAD", "working tree")
    assert report["changes"] == [ADDRESS_CHANGE]
    assert report["errors"] == []


def test_plan_of_a_subfolder_of_the_repository(seed, tmp_path):
    top = tmp_path / "monorepo"
    repo = seed("monorepo/config/monitoring")
    (top / "README.md").write_text("not snavc\n", encoding="utf-8")
    # YAML outside the subfolder, broken: it must not be read, at the base or now
    (top / "other").mkdir()
    (top / "other" / "broken.yaml").write_text("kind: [\n", encoding="utf-8")
    git_init(top)
    change_srv_file_02(repo)
    assert plan(repo)["changes"] == [ADDRESS_CHANGE]


def test_plan_of_the_current_folder_inside_a_repository(seed, tmp_path, monkeypatch):
    top = tmp_path / "monorepo"
    repo = seed("monorepo/config")
    git_init(top)
    change_srv_file_02(repo)
    monkeypatch.chdir(repo)
    assert plan(".")["changes"] == [ADDRESS_CHANGE]
    monkeypatch.chdir(top)
    assert plan("config")["changes"] == [ADDRESS_CHANGE]


def test_plan_against_an_older_commit_and_a_branch(seed):
    repo = git_init(seed())
    git(repo, "branch", "deployed")
    change_srv_file_02(repo)
    git(repo, "commit", "-q", "--no-gpg-sign", "-am", "second")
    assert report_of("plan", repo, "--base", "HEAD~1")["changes"] == [ADDRESS_CHANGE]
    assert report_of("plan", repo, "--base", "deployed")["changes"] == [ADDRESS_CHANGE]
    assert plan(repo)["changes"] == []


def test_plan_sees_untracked_files(seed):
    repo = git_init(seed())
    append(
        repo,
        "clients/client1/site2/more.yaml",
        """\
        kind: Equipment
        id: srv-new-03
        at: client1-site2
        template: linux-server
        box: box-client1-site2
        """,
    )
    assert [(c["op"], c["id"]) for c in plan(repo)["changes"]] == [("added", "srv-new-03")]


def git_state(repo: Path) -> tuple:
    """What git says (these commands may themselves refresh the index)."""
    return (
        git(repo, "status", "--porcelain", "--untracked-files=all"),
        git(repo, "diff", "--cached", "--stat"),
        git(repo, "rev-parse", "HEAD"),
        git(repo, "stash", "list"),
    )


def index_state(repo: Path) -> tuple:
    index = repo / ".git" / "index"
    return index.read_bytes(), index.stat().st_mtime_ns


def tree_state(repo: Path) -> dict:
    return {
        str(p.relative_to(repo)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(repo.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(repo).parts
    }


def test_plan_leaves_the_index_and_the_working_tree_alone(seed):
    repo = git_init(seed())
    change_srv_file_02(repo)
    edit(repo, SITE1_EQ, "10.1.1.10", "10.1.1.11")
    git(repo, "add", SITE1_EQ)  # one change staged, one not, one untracked file
    (repo / "notes.txt").write_text("untracked\n", encoding="utf-8")
    before, files = git_state(repo), tree_state(repo)
    assert before[0] == f"M  {SITE1_EQ}\n M {SITE2_EQ}\n?? notes.txt\n"
    assert "1 file changed" in before[1]
    index = index_state(repo)  # no git command between this and the next reading
    report = plan(repo)
    assert index_state(repo) == index
    assert len(report["changes"]) == 2
    assert tree_state(repo) == files  # nothing written: no snav.lock, no build
    assert git_state(repo) == before


def test_plan_does_not_write_a_lock(seed):
    repo = seed()
    (repo / "snav.lock").unlink()
    git_init(repo)
    change_srv_file_02(repo)
    plan(repo)
    assert not (repo / "snav.lock").exists()


def test_plan_of_an_unknown_revision_is_a_usage_error(seed):
    repo = git_init(seed())
    result = snav("plan", repo, "--base", "no-such-branch", exit_code=2)
    assert result.stderr.startswith("Error: cannot read revision 'no-such-branch': ")
    assert "Traceback" not in result.output


def test_plan_of_a_folder_missing_at_the_base_compares_with_an_empty_estate(seed, tmp_path):
    # issue 11: the first pull request, which adds the estate, has a base without it
    top = tmp_path / "top"
    top.mkdir()
    (top / "README.md").write_text("first\n", encoding="utf-8")
    git_init(top)
    repo = seed("top/config")
    result = snav("plan", repo, "--base", "HEAD", "--format", "json", exit_code=0)
    assert (
        result.stderr == "snavc: config/ is not in revision 'HEAD': compared with an empty estate\n"
    )
    report = json.loads(result.stdout)
    assert report["errors"] == []
    assert report["summary"]["added"] > 0 and report["summary"]["removed"] == 0


def test_plan_outside_git_is_a_usage_error(seed):
    repo = seed()  # GIT_CEILING_DIRECTORIES: git never looks above tmp_path
    result = snav("plan", repo, "--base", "HEAD", exit_code=2)
    assert result.stderr.startswith("Error: cannot read revision 'HEAD': ")
    assert "not a git repository" in result.stderr


def test_plan_of_a_missing_folder_is_a_usage_error(tmp_path):
    snav("plan", tmp_path / "nowhere", "--base", "HEAD", exit_code=2)


def test_plan_with_a_base_that_does_not_build_SNV424(seed):
    repo = seed()
    edit(repo, SITE2_EQ, "box: box-client1-site2", "box: no-such-box")
    git_init(repo)
    edit(repo, SITE2_EQ, "box: no-such-box", "box: box-client1-site2")
    report = plan(repo, exit_code=1)
    [e] = report["errors"]
    assert (e["code"], e["file"]) == ("SNV424", ".")
    assert e["message"].startswith("revision 'HEAD' does not build (1 error): ")
    assert report["compared"] is False


def test_plan_with_a_head_that_does_not_build_reports_its_errors(seed):
    repo = git_init(seed())
    edit(repo, SITE2_EQ, "box: box-client1-site2", "box: no-such-box")
    report = plan(repo, exit_code=1)
    assert report["changes"] == []
    assert [e["file"] for e in report["errors"]] == [SITE2_EQ]
    assert report["compared"] is False


@pytest.mark.parametrize(
    ("broken", "summary"),
    [
        ("head", "the working tree does not build (1 error)"),
        ("base", "revision 'HEAD' does not build (1 error)"),
    ],
)
def test_a_plan_not_compared_says_so_not_no_change(seed, broken, summary):
    """A plan whose working tree (or base) does not build made no comparison: its
    reports said "No change to the effective configuration.", which reads as "nothing
    changed". They say why nothing was compared; the JSON has `"compared": false`."""
    repo = seed()
    if broken == "base":
        edit(repo, SITE2_EQ, "box: box-client1-site2", "box: no-such-box")
    git_init(repo)
    edit(
        repo,
        SITE2_EQ,
        *(("box: no-such-box", "box: box-client1-site2")[:: 1 if broken == "base" else -1]),
    )
    md = snav("plan", repo, "--base", "HEAD", "--format", "markdown", exit_code=1).stdout
    assert "No change" not in md
    assert f"**Not compared**: {summary}. · ❌ 1 error" in md
    text = snav("plan", repo, "--base", "HEAD", "--format", "text", exit_code=1).stdout
    assert text.splitlines()[1] == f"Not compared: {summary}."
    assert "added" not in text


def test_a_plan_that_compared_has_no_compared_key(seed):
    repo = git_init(seed())
    change_srv_file_02(repo)
    assert "compared" not in plan(repo)


@pytest.mark.parametrize(("changed", "code"), [(False, 0), (True, 2)])
def test_plan_detailed_exitcode(seed, changed, code):
    repo = git_init(seed())
    if changed:
        change_srv_file_02(repo)
    snav("plan", repo, "--base", "HEAD", "--detailed-exitcode", exit_code=code)


def test_plan_markdown(seed):
    repo = git_init(seed())
    change_srv_file_02(repo)
    md = snav("plan", repo, "--base", "HEAD", "--format", "markdown").stdout
    assert md == (
        "<!-- snavc-report -->\n"
        "### snavc review: `HEAD` → `working tree`\n"
        "\n"
        "**1 changed** · 1 input changed\n"
        "\n"
        "#### Inputs changed\n"
        "\n"
        "| input | change | effective objects changed | used by | lock (T5) |\n"
        "|---|---|---|---|---|\n"
        "| `equipment/srv-file-02` | changed | 1 equipment | 1 equipment |  |\n"
        "\n"
        "<details open><summary><b>Client 1 infogérance</b> (<code>client1</code>): 1 changed"
        "</summary>\n"
        "\n"
        "| site | object | change |\n"
        "|---|---|---|\n"
        "| Client 1 Site 2 | equipment `srv-file-02` | `address`: 10.1.2.10 → 10.1.2.99 |\n"
        "\n"
        "</details>\n"
        "\n"
    )


def test_plan_markdown_with_errors(seed):
    repo = git_init(seed())
    edit(repo, SITE1_EQ, "10.1.1.10", "10.1.1.11")
    md = snav(
        "plan", repo, "--base", "HEAD", "--as", "stephanie", "--format", "markdown", exit_code=1
    ).stdout
    lines = md.splitlines()
    count = sum(1 for line in lines if line.startswith("- `"))
    assert count > 1
    assert lines[:5] == [
        "<!-- snavc-report -->",
        "### snavc review: `HEAD` → `working tree`",
        "",
        f"**1 changed** · 1 input changed · ❌ {count} errors",
        "",
    ]
    # errors come first, each with its position, code and rule
    assert md.index("#### ❌ Errors") < md.index("<details open><summary><b>Client 1")
    assert (
        f"- `{SITE1_EQ}:4:1` **SNV420** (rule B2): the change modifies equipment/srv-web-01, which "
        "user 'stephanie' may not edit in revision 'HEAD': "
    ) in md
    # up to 10 errors are shown as they are; more are folded
    assert (count > 10) == ("<details><summary>" in md)


# -- delegation: plan --as stephanie (V1, L1-L4) -----------------------------------------------


def delegation_errors(report) -> list[dict]:
    assert report["errors"], "expected the change to be refused"
    assert {e["code"] for e in report["errors"]} == {"SNV420"}, report["errors"]
    return report["errors"]


def test_stephanie_changes_her_own_equipment_L4(seed):
    repo = git_init(seed())
    change_srv_file_02(repo)
    report = plan(repo, "--as", "stephanie")
    assert report["errors"] == []
    assert report["changes"] == [ADDRESS_CHANGE]
    snav("plan", repo, "--base", "HEAD", "--as", "stephanie", "--detailed-exitcode", exit_code=2)


def test_stephanie_changes_francois_equipment_on_the_shared_box_L3(seed):
    repo = git_init(seed())
    edit(repo, SITE1_EQ, "10.1.1.10", "10.1.1.11")
    errors = delegation_errors(plan(repo, "--as", "stephanie", exit_code=1))
    assert all(e["file"] == SITE1_EQ for e in errors)
    assert all(
        e["message"].startswith(
            "the change modifies equipment/srv-web-01, which user 'stephanie' may not edit"
        )
        for e in errors
    )
    box = [
        e for e in errors if "(refers to box/box-partner-snm, defined at 'partner')" in e["message"]
    ]
    assert len(box) == 1
    refs = {e["message"].rsplit("(refers to ", 1)[1] for e in errors}
    assert refs >= {
        "box/box-partner-snm, defined at 'partner')",
        "contact/noc, defined at 'partner')",
        "equipment-template/acme-linux, defined at 'partner')",
        "monitoring-account/ssh-partner, defined at 'partner')",
    }
    assert {e["rule"] for e in errors} <= {"L1", "B2"}


def test_stephanie_adds_equipment_referring_to_a_partner_contact_L1(seed):
    repo = git_init(seed())
    append(
        repo,
        SITE2_EQ,
        """\
        kind: Equipment
        id: srv-new-03
        at: client1-site2
        template: linux-server
        box: box-client1-site2
        configured_by: francois
        periods: {check: client1-notify-hours}
        notification: {contacts: [noc]}
        """,
    )
    errors = delegation_errors(plan(repo, "--as", "stephanie", exit_code=1))
    [e] = [
        e for e in errors if e["message"].endswith("(refers to contact/noc, defined at 'partner')")
    ]
    assert e["rule"] == "L1"
    assert e["message"].startswith(
        "the change adds equipment/srv-new-03, which user 'stephanie' may not edit in the working tree: "
    )


def test_stephanie_adds_her_own_equipment_L4(seed):
    repo = git_init(seed())
    append(
        repo,
        SITE2_EQ,
        """\
        kind: Equipment
        id: srv-new-03
        at: client1-site2
        template: linux-server
        box: box-client1-site2
        configured_by: stephanie
        accounts: [ssh-client1]
        notification: {contacts: [client1-it]}
        """,
    )
    report = plan(repo, "--as", "stephanie")
    assert report["errors"] == []
    assert [(c["op"], c["id"]) for c in report["changes"]] == [("added", "srv-new-03")]


def test_stephanie_adds_equipment_configured_by_default_user_L1(seed):
    """Without configured_by the equipment is configured by the project's default user
    (François): its check period resolves to the partner's default, which locks it for
    Stéphanie (L1 counts resolved values)."""
    repo = git_init(seed())
    append(
        repo,
        SITE2_EQ,
        """\
        kind: Equipment
        id: srv-new-03
        at: client1-site2
        template: linux-server
        box: box-client1-site2
        """,
    )
    errors = delegation_errors(plan(repo, "--as", "stephanie", exit_code=1))
    assert any(
        e["rule"] == "L1"
        and e["message"].endswith(
            "(refers to time-period/partner-extended-hours, defined at 'partner')"
        )
        for e in errors
    )


def test_stephanie_removes_francois_equipment_L1(seed):
    repo = git_init(seed())
    take_document(repo, SITE1_EQ, "id: srv-db-01")
    edit(repo, USER_SERVICES, "  - srv-db-01/ping\n", "")
    errors = delegation_errors(plan(repo, "--as", "stephanie", exit_code=1))
    removes = [
        e for e in errors if e["message"].startswith("the change removes equipment/srv-db-01,")
    ]
    assert removes and all(e["rule"] == "L1" for e in removes)
    assert all("in revision 'HEAD'" in e["message"] for e in removes)


def test_stephanie_makes_her_equipment_refer_to_a_partner_contact_L1(seed):
    repo = git_init(seed())
    edit(repo, SITE2_EQ, "contacts: [client1-it]", "contacts: [client1-it, noc]")
    report = plan(repo, "--as", "stephanie", exit_code=1)
    # the build itself refuses it: noc is not selectable for her (V3, C3)
    assert [(e["file"], e["code"]) for e in report["errors"]] == [(SITE2_EQ, "SNV403")]
    assert "'noc'" in report["errors"][0]["message"]


def test_stephanie_changes_an_override_V1(seed):
    """Her role cannot create templates (V1a): changing client1's override is refused."""
    repo = git_init(seed())
    edit(repo, CLIENT1_OVERRIDE, "criticality: 4", "criticality: 2")
    errors = delegation_errors(plan(repo, "--as", "stephanie", exit_code=1))
    assert all(
        e["message"].startswith("the change modifies service-template-override/cpu@client1,")
        for e in errors
    )


def test_francois_may_change_anything(seed):
    repo = git_init(seed())
    edit(repo, SITE1_EQ, "10.1.1.10", "10.1.1.11")
    change_srv_file_02(repo)
    assert plan(repo, "--as", "francois")["errors"] == []


def test_plan_as_an_unknown_user_is_a_usage_error(seed):
    repo = git_init(seed())
    change_srv_file_02(repo)
    result = snav("plan", repo, "--base", "HEAD", "--as", "nobody", exit_code=2)
    assert result.stderr == "Error: unknown user 'nobody'\n"


def test_delegation_errors_in_text_output(seed):
    repo = git_init(seed())
    edit(repo, SITE1_EQ, "10.1.1.10", "10.1.1.11")
    text = snav("plan", repo, "--base", "HEAD", "--as", "stephanie", exit_code=1).stdout
    assert re.search(r"\n\d+ errors:\n", text)
    assert f"  {SITE1_EQ}:4:1: error[SNV420] the change modifies equipment/srv-web-01" in text


def test_plan_json_is_deterministic(seed):
    repo = git_init(seed())
    edit(repo, SITE1_EQ, "10.1.1.10", "10.1.1.11")
    a = snav("plan", repo, "--base", "HEAD", "--as", "stephanie", "--format", "json", exit_code=1)
    b = snav("plan", repo, "--base", "HEAD", "--as", "stephanie", "--format", "json", exit_code=1)
    assert a.stdout == b.stdout
    json.loads(a.stdout)


def test_a_change_cannot_grant_its_author_more_rights_V1(seed):
    """The author acts with the identity of the base (the deployed state): Stéphanie
    giving herself partner-admin in the same change still may not edit srv-web-01."""
    repo = git_init(seed())
    edit(repo, "clients/client1/users.yaml", "role: client-operator", "role: partner-admin")
    edit(repo, SITE1_EQ, "10.1.1.10", "10.1.1.11")
    errors = delegation_errors(plan(repo, "--as", "stephanie", exit_code=1))
    messages = [e["message"] for e in errors]
    assert any(m.startswith("the change modifies equipment/srv-web-01,") for m in messages)


def test_a_client_user_cannot_give_herself_a_bigger_role_V1(seed):
    repo = git_init(seed())
    edit(repo, "clients/client1/users.yaml", "role: client-operator", "role: partner-admin")
    errors = delegation_errors(plan(repo, "--as", "stephanie", exit_code=1))
    assert [(e["file"], e["line"], e["rule"], e["message"]) for e in errors] == [
        (
            "clients/client1/users.yaml",
            2,
            "V1",
            "the change modifies user/stephanie, which user 'stephanie' may not edit in revision "
            "'HEAD': nobody edits their own user (home node and role)",
        ),
        (
            "clients/client1/users.yaml",
            2,
            "V1",
            "the change modifies user/stephanie, which user 'stephanie' may not edit in the "
            "working tree: role 'partner-admin' grants create_templates, which 'stephanie' does "
            "not have",
        ),
    ]


def test_a_user_may_not_edit_their_own_user_V1(seed):
    """Even a harmless edit (the display name): nobody edits their own user."""
    repo = git_init(seed())
    edit(repo, "clients/client1/users.yaml", "name: Stéphanie", "name: Stéphanie M.")
    [e] = delegation_errors(plan(repo, "--as", "stephanie", exit_code=1))
    assert e["message"] == (
        "the change modifies user/stephanie, which user 'stephanie' may not edit in revision "
        "'HEAD': nobody edits their own user (home node and role)"
    )
    # the partner's François may
    assert plan(repo, "--as", "francois")["errors"] == []


def test_a_user_may_not_create_a_user_with_more_permissions_V1(seed):
    repo = git_init(seed())
    user = """\
        kind: User
        id: paul
        name: Paul
        at: client1-site2
        role: {role}
        """
    append(repo, "clients/client1/users.yaml", user.format(role="partner-admin"))
    [e] = delegation_errors(plan(repo, "--as", "stephanie", exit_code=1))
    assert e["message"] == (
        "the change adds user/paul, which user 'stephanie' may not edit in the working tree: "
        "role 'partner-admin' grants create_templates, which 'stephanie' does not have"
    )
    # with her own role (the same permissions), below her home: allowed
    edit(repo, "clients/client1/users.yaml", "role: partner-admin", "role: client-operator")
    assert plan(repo, "--as", "stephanie")["errors"] == []


def test_a_user_new_in_the_change_has_no_rights_yet_V1(seed):
    repo = git_init(seed())
    append(
        repo,
        "clients/client1/users.yaml",
        """\
        kind: User
        id: paul
        name: Paul
        at: client1
        role: client-operator
        """,
    )
    # one error, whatever the change touches: paul has no rights in the deployed state
    edit(repo, SITE2_EQ, "address: 10.1.2.10", "address: 10.1.2.99")
    [e] = plan(repo, "--as", "paul", exit_code=1)["errors"]
    assert (e["code"], e["rule"], e["file"], e["line"]) == (
        "SNV420",
        "V1",
        "clients/client1/users.yaml",
        8,
    )
    assert e["message"] == (
        "user 'paul' does not exist in revision 'HEAD': a change is checked with the rights its "
        "author has in the deployed state, and a new user has none yet"
    )


# -- blame the change (issue 11): the definition the change adds gets the error --------------

NEW_CLIENT2_OPS = """\
kind: Contact
id: client2-ops
at: client1
name: Client 1 ops
email: ops@client1.example
"""


def test_plan_blames_the_new_definition_of_a_duplicate_ID(seed):
    # client1's new contact takes an ID client2 already has; client1's file sorts first
    repo = git_init(seed())
    append(repo, "clients/client1/contacts.yaml", NEW_CLIENT2_OPS)
    new_line = len((repo / "clients/client1/contacts.yaml").read_text().splitlines()) - 3
    # validate, in path order, reports the old definition and the follow-up errors that
    # take the new contact for the old one ("(at 'client1')")
    checked = json.loads(snav("validate", "--format", "json", repo, exit_code=1).stdout)
    assert [(d["code"], d["file"], d["line"]) for d in checked] == [
        ("SNV301", "clients/client2/contacts.yaml", 3),
        ("SNV406", "clients/client2/contacts.yaml", 12),
        ("SNV403", "clients/client2/site1/equipment.yaml", 12),
        # the seed's firewall notifies client2-ops too, directly, at escalation level 2,
        # and through its maintenance window (issue 12's objects)
        ("SNV403", "clients/client2/site1/equipment.yaml", 26),
        ("SNV403", "clients/client2/site1/equipment.yaml", 31),
        ("SNV403", "clients/client2/site1/maintenance.yaml", 12),
    ]
    # plan knows which one is new: one error, on the new definition, naming the old one
    report = plan(repo, exit_code=1)
    assert report["errors"] == [
        {
            "severity": "error",
            "code": "SNV301",
            "rule": None,
            "message": "duplicate ID: Contact 'client2-ops' is already defined",
            "file": "clients/client1/contacts.yaml",
            "line": new_line,
            "column": 5,
            "related": [
                {
                    "file": "clients/client2/contacts.yaml",
                    "line": 3,
                    "column": 5,
                    "message": "defined here before this change",
                }
            ],
        }
    ]


def test_plan_blames_the_new_equipment_of_a_duplicate_ID_with_the_head_built_warm(
    tmp_path, monkeypatch
):
    """The head built from the base's build state (one equipment file changed): the
    untouched equipment whose ID the change takes is read again, and the new definition
    gets the error although it sorts first, as plan's cold head does (its incumbent)."""
    from snavc.bench.generate import generate
    from snavc.engine import incremental

    repo = tmp_path / "estate"
    generate(repo, 300)
    snav("build", repo, "-o", tmp_path / "out")  # (its lock is committed, as a user's)
    git_init(repo)
    last = sorted(repo.rglob("*-s0*.yaml"))[-1]
    taken = re.findall(r"^id: (eq-\d+)", last.read_text(), re.M)[-1]
    first = sorted(repo.rglob("*-s0*.yaml"))[0]
    at = re.search(r"^id: (\S+)", first.read_text(), re.M).group(1)
    append(
        repo,
        str(first.relative_to(repo)),
        f"kind: Equipment\nid: {taken}\nname: Copy\nat: {at}\naddress: 10.9.9.9\n"
        "template: p0-linux\nbox: p0-snm-0\nconfigured_by: p0-admin\n",
    )
    lines = first.read_text().splitlines()
    line = len(lines) - lines[::-1].index(f"id: {taken}")
    # validate (a cold check, in path order) blames the original, which sorts last
    checked = json.loads(snav("validate", "--format", "json", repo, exit_code=1).stdout)
    assert [d["file"] for d in checked if d["code"] == "SNV301"] == [str(last.relative_to(repo))]
    rebuilds = []
    real = incremental._rebuild
    monkeypatch.setattr(
        incremental, "_rebuild", lambda *a, **k: rebuilds.append(real(*a, **k)) or rebuilds[-1]
    )
    report = plan(repo, exit_code=1)
    assert [b.status for b in rebuilds if b is not None] == ["errors"]  # the head, warm
    assert [(d["code"], d["file"], d["line"]) for d in report["errors"]] == [
        ("SNV301", str(first.relative_to(repo)), line)
    ]
    assert report["errors"][0]["related"][0]["message"] == "defined here before this change"


def test_plan_errors_as_annotations(seed):
    repo = git_init(seed())
    append(repo, "clients/client1/contacts.yaml", NEW_CLIENT2_OPS)
    line = len((repo / "clients/client1/contacts.yaml").read_text().splitlines()) - 3
    out = snav("plan", repo, "--base", "HEAD", "--format", "github", exit_code=1, cwd=repo).stdout
    assert out == (
        f"::error file=clients/client1/contacts.yaml,line={line},col=5,title=SNV301::duplicate ID: "
        "Contact 'client2-ops' is already defined%0Anote: defined here before this change: "
        "clients/client2/contacts.yaml:3:5\n"
        "1 error, 0 warnings\n"
    )
    sarif = json.loads(
        snav("plan", repo, "--base", "HEAD", "--format", "sarif", exit_code=1, cwd=repo).stdout
    )
    [result] = sarif["runs"][0]["results"]
    assert (result["ruleId"], result["locations"][0]["physicalLocation"]["region"]) == (
        "SNV301",
        {"startLine": line, "startColumn": 5},
    )
    cq = json.loads(
        snav("plan", repo, "--base", "HEAD", "--format", "codequality", exit_code=1).stdout
    )
    assert [(i["check_name"], i["location"]) for i in cq] == [
        ("SNV301", {"path": "clients/client1/contacts.yaml", "lines": {"begin": line}})
    ]


def test_plan_annotations_of_a_clean_change_are_empty(seed):
    repo = git_init(seed())
    change_srv_file_02(repo)
    out = snav(
        "plan", repo, "--base", "HEAD", "--format", "github", "--detailed-exitcode", exit_code=2
    )
    assert out.stdout == "no problems found\n"
    sarif = json.loads(snav("plan", repo, "--base", "HEAD", "--format", "sarif").stdout)
    assert sarif["runs"][0]["results"] == []


def test_plan_report_names_both_definitions(seed):
    repo = git_init(seed())
    append(repo, "clients/client1/contacts.yaml", NEW_CLIENT2_OPS)
    line = len((repo / "clients/client1/contacts.yaml").read_text().splitlines()) - 3
    text = snav("plan", repo, "--base", "HEAD", exit_code=1).stdout
    assert (
        f"  clients/client1/contacts.yaml:{line}:5: error[SNV301] duplicate ID: Contact 'client2-ops' "
        "is already defined\n"
        "    note: defined here before this change: clients/client2/contacts.yaml:3:5\n"
    ) in text
    md = snav("plan", repo, "--base", "HEAD", "--format", "markdown", exit_code=1).stdout
    assert (
        f"- `clients/client1/contacts.yaml:{line}:5` **SNV301**: duplicate ID: Contact 'client2-ops' "
        "is already defined (note: defined here before this change: "
        "`clients/client2/contacts.yaml:3:5`)\n"
    ) in md


def test_plan_builds_in_memory_the_bytes_a_build_writes(seed):
    """plan streams each equipment's line (EquipmentLines) instead of keeping 20k
    dictionaries per version: the text is that of dumps(effective(...)), byte for byte."""
    from snavc.engine.emit import dumps, effective
    from snavc.engine.pipeline import compile_repo
    from snavc.review.plan import EquipmentLines, _build

    repo = seed()
    _, res = compile_repo(repo, snapshot=False)
    lines = EquipmentLines()
    _, streamed = compile_repo(repo, snapshot=False, sink=lines, consume=True)
    assert streamed.equipment == {} and streamed.tree.objects["Equipment"] == {}
    data = _build(streamed, "x", lines).data
    assert (data if isinstance(data, str) else bytes(data).decode()) == dumps(effective(res))


def test_the_base_facts_wait_in_a_file_while_the_base_builds(seed, tmp_path):
    """The forked base build keeps the facts it hands back in a file, not in its memory
    at its peak (docs/performance.md); the plan reads them back, the same."""
    from snavc.engine.pipeline import compile_repo
    from snavc.review.plan import BaseFacts, _known

    tree = compile_repo(seed(), snapshot=False)[0].tree
    spill = tmp_path / "base-facts.marshal"
    facts = BaseFacts(spill=spill)
    facts.take(tree)
    assert facts.known == {} and spill.is_file()
    facts.unpack()
    assert facts.known == _known(tree) and facts.spill is None and not spill.exists()
    kept = BaseFacts(spill=tmp_path / "no-such-folder" / "base-facts.marshal")
    kept.take(tree)  # the file cannot be written: kept in memory
    assert kept.spill is None and kept.known == _known(tree)
    kept.unpack()
    assert kept.known == _known(tree)
