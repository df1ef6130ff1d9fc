"""``snavc plan`` reads both sides as a commit holds them (issue 10, item 8).

The base is git's stored tree: ``.gitattributes`` do not apply (``git archive`` dropped
``export-ignore`` files and rewrote ``export-subst`` ones, so an unchanged repository
planned to "+3 added"). The working tree is what a commit of everything would hold, as
``git status`` shows it: tracked and untracked files, not the files git ignores.
"""

from __future__ import annotations

import os

from .helpers import append, edit, git, git_init, report_of

NEW_EQUIPMENT = """\
    kind: Equipment
    id: srv-new-03
    at: client1-site2
    template: linux-server
    box: box-client1-site2
    """


def plan(repo, *args, exit_code=0) -> dict:
    return report_of("plan", repo, "--base", "HEAD", *args, exit_code=exit_code)


def nothing(report: dict) -> tuple:
    return report["changes"], report["inputs"], report["errors"]


def test_plan_of_an_unchanged_repository_ignores_gitattributes(seed):
    repo = seed()
    (repo / ".gitattributes").write_text(
        "clients/client1/site1/*.yaml export-ignore\nsnav.yaml export-subst\n", encoding="utf-8"
    )
    # export-subst would write the commit's hash here: a changed input
    with (repo / "snav.yaml").open("a", encoding="utf-8") as f:
        f.write("# $Format:%H$\n")
    git_init(repo)
    assert nothing(plan(repo)) == ([], [], [])


def test_plan_reads_symbolic_links_of_the_base_as_links(seed):
    repo = seed()
    append(repo, "clients/client1/site2/more.yaml", NEW_EQUIPMENT)
    os.symlink("site2", repo / "clients" / "client1" / "alias")
    git_init(repo)
    assert nothing(plan(repo)) == ([], [], [])


def test_plan_leaves_out_files_git_ignores(seed):
    """Decision: the plan shows what the commit would contain (docs/review.md)."""
    repo = seed()
    (repo / ".gitignore").write_text("scratch.yaml\nlocal/\n", encoding="utf-8")
    git_init(repo)
    append(repo, "scratch.yaml", NEW_EQUIPMENT)
    append(repo, "local/more.yaml", NEW_EQUIPMENT.replace("srv-new-03", "srv-new-04"))
    assert nothing(plan(repo)) == ([], [], [])
    # ... while untracked files git does not ignore are part of it, and changes to
    # tracked files are seen as before
    append(repo, "clients/client1/site2/more.yaml", NEW_EQUIPMENT.replace("03", "05"))
    edit(repo, "clients/client1/site2/equipment.yaml", "address: 10.1.2.10", "address: 10.1.2.99")
    report = plan(repo)
    assert [(c["op"], c["id"], c.get("path")) for c in report["changes"]] == [
        ("changed", "srv-file-02", "address"),
        ("added", "srv-new-05", None),
    ]
    assert report["errors"] == []


def test_plan_ignored_files_of_a_subfolder(seed, tmp_path):
    top = tmp_path / "monorepo"
    repo = seed("monorepo/config")
    (top / ".gitignore").write_text("*.local.yaml\n", encoding="utf-8")
    git_init(top)
    append(repo, "clients/client1/site2/extra.local.yaml", NEW_EQUIPMENT)
    assert nothing(plan(repo)) == ([], [], [])
    git(top, "status", "--porcelain")  # the index is untouched: git still works


def test_the_base_links_the_files_the_working_tree_holds_unchanged(seed, tmp_path):
    """checkout_revision(link_from=): a working tree file whose bytes are the base's
    blob is linked; one whose bytes differ (an edit, a line ending git converts, an
    executable) is written from git, and so is a file named in never_link."""
    from snavc.engine.load import checkout_revision

    repo = git_init(seed())
    site = "clients/client1/site1/equipment.yaml"
    edit(repo, site, "address: 10.1.1.10", "address: 10.1.1.11")
    crlf = "clients/client1/user-services.yaml"
    data = (repo / crlf).read_bytes()
    (repo / crlf).write_bytes(data.replace(b"\n", b"\r\n"))  # as core.autocrlf leaves it
    base = tmp_path / "base"
    assert checkout_revision(repo, "HEAD", base, link_from=repo, never_link={"snav.lock"})
    stored = tmp_path / "stored"
    assert checkout_revision(repo, "HEAD", stored)
    files = sorted(p.relative_to(stored) for p in stored.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(base) for p in base.rglob("*") if p.is_file())
    for rel in files:
        assert (base / rel).read_bytes() == (stored / rel).read_bytes(), rel
        linked = os.stat(base / rel).st_ino == os.stat(repo / rel).st_ino
        assert linked == (str(rel) not in (site, crlf, "snav.lock")), rel
