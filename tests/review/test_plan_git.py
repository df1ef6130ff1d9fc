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


def _tree(root) -> dict:
    """What a build sees of a folder: its files a build reads and its links."""
    from snavc.review.plan import _read_by_build

    out = {}
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in [*names, *dirs]:
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, root).replace(os.sep, "/")
            if os.path.islink(path):
                out[rel] = ("link", os.readlink(path))
            elif name in names and (_read_by_build(rel) or name == ".snavc-build"):
                with open(path, "rb") as f:
                    out[rel] = f.read()
    return out


def test_the_base_checkout_becomes_the_working_tree(tmp_path):
    """plan's head is the base's checkout changed where the working tree differs
    (plan._become_head): a build sees in it what it sees in a copy of the working tree
    (plan._copy_working_tree), whatever the change did to files, folders and links."""
    from snavc.review.plan import _become_head, _checkout_base, _copy_working_tree

    repo = tmp_path / "repo"
    files = {
        "a.yaml": "a: 1\n",
        "gone/b.yaml": "b: 1\n",
        "x.yaml": "x: 1\n",  # a file, then a folder
        "w.yaml/in.yaml": "w: 1\n",  # a folder, then a file
        "out/.snavc-build": "marker\n",  # a build folder's marker, then none
        "README.md": "base\n",
        "snav.lock": "{}\n",
    }
    for rel, text in files.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text, encoding="utf-8")
    (repo / "out" / "c.yaml").write_text("c: 1\n", encoding="utf-8")
    os.symlink("gone", repo / "alias")  # a link, then a folder
    git_init(repo)
    (repo / "a.yaml").write_text("a: 2\n", encoding="utf-8")
    for rel in (
        "gone/b.yaml",
        "x.yaml",
        "w.yaml/in.yaml",
        "out/.snavc-build",
        "alias",
        "snav.lock",
    ):
        os.unlink(repo / rel)
    os.rmdir(repo / "w.yaml")
    (repo / "x.yaml").mkdir()
    (repo / "x.yaml" / "in.yaml").write_text("in: 1\n", encoding="utf-8")
    (repo / "w.yaml").write_text("w: 2\n", encoding="utf-8")
    (repo / "alias").mkdir()
    (repo / "alias" / "z.yaml").write_text("z: 1\n", encoding="utf-8")
    (repo / "new.yaml").write_text("new: 1\n", encoding="utf-8")
    (repo / ".gitignore").write_text("ignored.yaml\n", encoding="utf-8")
    (repo / "ignored.yaml").write_text("no: 1\n", encoding="utf-8")
    (repo / "snav.lock").write_text('{"services": {}}\n', encoding="utf-8")

    head = tmp_path / "checkout"
    assert _checkout_base(repo, "HEAD", head)
    assert (head / "gone" / "b.yaml").is_file() and os.path.islink(head / "alias")
    _become_head(repo, head, None)
    _copy_working_tree(repo, tmp_path / "copy")
    assert _tree(head) == _tree(tmp_path / "copy")
    assert os.stat(head / "snav.lock").st_ino != os.stat(repo / "snav.lock").st_ino
    assert os.stat(head / "a.yaml").st_ino == os.stat(repo / "a.yaml").st_ino
