"""The edges of a repository (issue 11): the estate's root found upward from a
subfolder, `exclude:` patterns and `ignore:` codes in snav.yaml, and the cache folder
that says what it is (.gitignore, CACHEDIR.TAG)."""

from __future__ import annotations

import json
import os
import subprocess

from conftest import SNAV_YAML, diagnostics, run, where

from snavc.engine.pipeline import compile_repo, find_root

SITE = """\
kind: Client
id: c1
name: Client 1
parent: partner
mode: managed
---
kind: Site
id: c1-s1
name: Site 1
parent: c1
"""

CONTACT = "kind: Contact\nid: ops\nat: c1\nname: Ops\n"


# -- the root, found upward -------------------------------------------------------------------


def test_a_subfolder_run_finds_the_root(make_repo):
    repo = make_repo({"clients/c1/site.yaml": SITE, "clients/c1/contacts.yaml": CONTACT})
    sub = repo / "clients" / "c1"
    assert find_root(sub) == repo
    assert find_root(repo) == repo
    # alone, the subfolder would have no partner, no user... (bogus errors); as part of
    # its estate it is clean
    assert run("validate", sub, exit_code=0).output == "no problems found\n"
    assert run("validate", exit_code=0, cwd=sub).output == "no problems found\n"


def test_a_subfolder_run_shows_paths_from_where_the_user_is(make_repo):
    repo = make_repo({"clients/c1/site.yaml": SITE, "clients/c1/contacts.yaml": CONTACT + "x: 1\n"})
    out = run("validate", exit_code=1, cwd=repo / "clients").output
    assert (
        out.splitlines()[0]
        == "c1/contacts.yaml:5:1: error[SNV203] unknown field 'x' in Contact 'ops'"
    )
    out = run("validate", exit_code=1, cwd=repo / "clients" / "c1").output
    assert (
        out.splitlines()[0] == "contacts.yaml:5:1: error[SNV203] unknown field 'x' in Contact 'ops'"
    )


def test_the_search_stops_at_the_top_of_a_git_repository(make_repo, tmp_path):
    outer = make_repo()  # has snav.yaml
    inner = outer / "vendored"
    inner.mkdir()
    (inner / "a.yaml").write_text("kind: Partner\nid: p2\nname: P2\n", encoding="utf-8")
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", "init", "-q", str(inner)], check=True, env=env, timeout=60)
    assert find_root(inner) == inner
    # without snav.yaml anywhere: the folder itself
    lone = tmp_path / "lone"
    lone.mkdir()
    assert find_root(lone) == lone


# -- exclude: ---------------------------------------------------------------------------------


EXCLUDING = SNAV_YAML + 'exclude: ["mkdocs.yml", "ansible/", "*.draft.yaml", "!keep.draft.yaml"]\n'


def test_exclude_skips_files_and_folders_gitignore_style(make_repo):
    repo = make_repo(
        {
            "snav.yaml": EXCLUDING,
            "mkdocs.yml": "site_name: docs\n",
            "ansible/play.yml": "- hosts: all\n",
            "deep/ansible/roles.yml": "- role: x\n",
            "c.draft.yaml": "not: snavc\n",
            "keep.draft.yaml": "kind: Contact\nid: kept\nat: partner\nname: Kept\nx: 1\n",
        }
    )
    # only the negated pattern's file is read (and its error reported)
    assert [where(d) for d in diagnostics(repo)] == [("SNV203", None, "keep.draft.yaml", 5, 1)]


def test_without_exclude_those_files_are_errors(make_repo):
    repo = make_repo({"mkdocs.yml": "site_name: docs\n", "ansible/play.yml": "- hosts: all\n"})
    assert [where(d) for d in diagnostics(repo)] == [
        ("SNV106", None, "ansible/play.yml", 1, 1),
        ("SNV202", None, "mkdocs.yml", 1, 1),
    ]


def test_exclude_must_be_strings(make_repo):
    repo = make_repo({"snav.yaml": SNAV_YAML + "exclude: [3]\n"})
    assert [where(d) for d in diagnostics(repo)] == [("SNV204", None, "snav.yaml", 4, 11)]


def test_exclude_applies_to_queries_and_builds(make_repo, tmp_path):
    repo = make_repo({"snav.yaml": EXCLUDING, "mkdocs.yml": "site_name: docs\n"})
    run("build", repo, "-o", tmp_path / "out")
    run("build", repo, "-o", tmp_path / "out")  # (the incremental path: nothing changed)
    out = run("query", "selectable", repo, "--as", "francois", "--at", "partner", "--kind", "box")
    assert out.output == "(nothing)\n"


# -- ignore: ----------------------------------------------------------------------------------


def test_ignore_silences_a_warning_by_code(make_repo):
    repo = make_repo({"empty.yaml": ""})
    assert [d.code for d in diagnostics(repo)] == ["SNV110"]
    repo = make_repo({"empty.yaml": "", "snav.yaml": SNAV_YAML + "ignore: [SNV110]\n"})
    assert diagnostics(repo) == []
    assert run("validate", repo).output == "no problems found\n"


def test_ignore_never_silences_an_error(make_repo):
    files = {"a.yaml": CONTACT.replace("c1", "partner") + "x: 1\n"}
    repo = make_repo({**files, "snav.yaml": SNAV_YAML + "ignore: [SNV203]\n"})
    assert [d.code for d in diagnostics(repo)] == ["SNV203"]


def test_ignore_of_a_rule_warning(make_repo):
    # SNV413: 'shared' on a client box is a warning of the rules stage (B3)
    box = "kind: Box\nid: b1\nat: c1\nshared: true\n"
    repo = make_repo({"c.yaml": SITE, "b.yaml": box})
    assert [d.code for d in compile_repo(repo, snapshot=False)[0].diagnostics] == ["SNV413"]
    repo = make_repo({"c.yaml": SITE, "b.yaml": box, "snav.yaml": SNAV_YAML + "ignore: [SNV413]\n"})
    assert compile_repo(repo, snapshot=False)[0].diagnostics == []
    out = json.loads(run("validate", "--format", "json", repo).output)
    assert out == []


def test_ignore_of_an_unknown_code_is_an_error_at_its_place(make_repo):
    repo = make_repo({"snav.yaml": SNAV_YAML + "ignore: [SNV110, SNV999]\n"})
    [d] = diagnostics(repo)
    assert where(d) == ("SNV205", None, "snav.yaml", 4, 18)
    assert d.message == (
        "invalid value for 'ignore[1]' in Project: unknown diagnostic code 'SNV999': write a "
        "code of docs/diagnostics.md, e.g. SNV409"
    )


# -- the cache folder -------------------------------------------------------------------------


def test_the_cache_folder_ignores_itself_and_is_tagged(make_repo, tmp_path):
    repo = make_repo()
    run("build", repo, "-o", tmp_path / "out")
    folder = repo / ".snavc"
    assert (
        folder / ".gitignore"
    ).read_text() == "# written by snavc: a cache, never committed\n*\n"
    tag = (folder / "CACHEDIR.TAG").read_text()
    assert tag.startswith("Signature: 8a477f597d28d172789f06886806bc55\n")
    # git sees nothing of it, without a line in the repository's own .gitignore
    env = {
        **os.environ,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CEILING_DIRECTORIES": str(tmp_path),
    }
    subprocess.run(["git", "init", "-q", str(repo)], check=True, env=env, timeout=60)
    status = subprocess.run(
        ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=all"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    ).stdout
    assert ".snavc" not in status and "snav.yaml" in status


# -- the pre-commit hook's manifest (run by the real pre-commit in tests/test_precommit.py) --


def test_pre_commit_manifest():
    import re
    from pathlib import Path

    import yaml

    manifest = Path(__file__).resolve().parents[1] / ".pre-commit-hooks.yaml"
    [hook] = yaml.safe_load(manifest.read_text(encoding="utf-8"))
    assert hook["id"] == "snavc-validate"
    assert (hook["entry"], hook["language"], hook["pass_filenames"]) == (
        "snavc validate",
        "python",
        False,
    )
    files = re.compile(hook["files"])
    assert files.search("clients/c1/site.yaml") and files.search("snav.yml")
    assert files.search("snav.lock") and files.search("config/snav.lock")
    assert not files.search("README.md") and not files.search("other.lock")
