"""The plan's scratch folder (snavc.review.scratch): removed in the background once the
plan is done, by a detached ``rm``; what a killed plan or a killed removal leaves is
removed by the next plan, never a folder in use, never the working tree's files."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from snavc.engine import faults, incremental
from snavc.review import scratch
from snavc.review.plan import plan

from .helpers import SITE1_EQ, edit, git, git_init

CHANGE = ("address: 10.1.1.10", "address: 10.1.1.11")


@pytest.fixture(autouse=True)
def private_tmp(tmp_path, monkeypatch) -> Path:
    """The scratch folders of this test only: a temporary folder of its own."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    monkeypatch.setattr(incremental, "MAX_DIRTY", 1.0)  # (the seed's one file is warm)
    yield tmp
    scratch.wait_removals()


@pytest.fixture
def changed(seed) -> Path:
    repo = git_init(seed())
    edit(repo, SITE1_EQ, *CHANGE)
    git(repo, "commit", "-q", "--no-gpg-sign", "-am", "one equipment")
    return repo


def _ours(tmp: Path) -> list[str]:
    return sorted(n for n in os.listdir(tmp) if n.startswith(scratch.PREFIX))


def _files(repo: Path) -> dict:
    return {
        p.relative_to(repo): (p.read_bytes(), os.stat(p).st_nlink)
        for p in repo.rglob("*")
        if p.is_file() and ".git" not in p.parts
    }


def test_a_plan_leaves_no_folder(changed, private_tmp):
    before = _files(changed)
    assert plan(changed, "HEAD~1", base_state=private_tmp.parent / "state").report.changes
    assert plan(changed, "HEAD~1", base_state=private_tmp.parent / "state").base_restored
    scratch.wait_removals()
    assert _ours(private_tmp) == []
    assert _files(changed) == before  # the links to the working tree's files are gone too


def test_a_folder_in_use_is_never_swept(private_tmp, monkeypatch):
    monkeypatch.setattr(scratch, "SETTLED", 0.0)
    with scratch.scratch() as tmp:
        (tmp / "file").write_text("x")
        assert scratch.sweep() == []
        assert (tmp / "file").exists()
    scratch.wait_removals()
    assert _ours(private_tmp) == []


def test_a_young_or_foreign_folder_is_not_swept(private_tmp):
    young = Path(tempfile.mkdtemp(prefix=scratch.PREFIX))  # as a plan about to lock it
    other = private_tmp / "snavc-plan-abc"  # an earlier snavc's: removed by its plan
    other.mkdir()
    assert scratch.sweep() == []
    assert young.is_dir() and other.is_dir()


def test_a_killed_removal_is_finished_by_the_next_plan(private_tmp, monkeypatch, tmp_path):
    """The removal holds the folder's lock while it runs: a sweep leaves the folder to
    it; killed, its leftover is removed by the next sweep. A hard link to a user's file
    goes, the file stays."""
    user = tmp_path / "user.yaml"
    user.write_text("kind: Contact\n")
    real = subprocess.Popen

    def slow(args, **kwargs):  # a removal that never ends by itself
        return real(["sleep", "60"], **kwargs)

    monkeypatch.setattr(faults.subprocess, "Popen", slow)
    monkeypatch.setattr(scratch, "SETTLED", 0.0)
    with scratch.scratch() as tmp:
        (tmp / "head").mkdir()
        os.link(user, tmp / "head" / "user.yaml")
    (removal,) = scratch._removals
    assert scratch.sweep() == []  # being removed: not taken
    removal.send_signal(signal.SIGKILL)
    removal.wait()
    monkeypatch.setattr(faults.subprocess, "Popen", real)
    assert scratch.sweep() == [str(tmp)]
    scratch.wait_removals()
    assert _ours(private_tmp) == []
    assert user.read_text() == "kind: Contact\n" and os.stat(user).st_nlink == 1


def test_a_killed_plan_leaves_the_working_tree_and_its_folder_goes_next_time(
    changed, private_tmp, monkeypatch
):
    """A plan killed in the head's build (as `kill -9` would: no cleanup) leaves its
    folder; the working tree is as it was (its files, their bytes, the lock); the next
    plan removes the folder."""
    state = private_tmp.parent / "state"
    plan(changed, "HEAD~1", base_state=state)
    scratch.wait_removals()
    before = {p: v[0] for p, v in _files(changed).items()}
    env = {**os.environ, "TMPDIR": str(private_tmp), "SNAVC_TEST_CRASH_AT": "swapped"}
    args = [sys.executable, "-m", "snavc", "plan", str(changed), "--base", "HEAD~1"]
    done = subprocess.run([*args, "--base-state", str(state)], env=env, capture_output=True)
    assert done.returncode == 137, done.stderr
    assert len(_ours(private_tmp)) == 1
    assert {p: v[0] for p, v in _files(changed).items()} == before
    monkeypatch.setattr(scratch, "SETTLED", 0.0)
    assert plan(changed, "HEAD~1", base_state=state).base_restored
    scratch.wait_removals()
    assert _ours(private_tmp) == []
    assert _files(changed) == {p: (v, 1) for p, v in before.items()}


def test_without_rm_the_folder_is_removed_in_place(private_tmp, monkeypatch):
    def missing(*args, **kwargs):
        raise FileNotFoundError("rm")

    monkeypatch.setattr(faults.subprocess, "Popen", missing)
    with scratch.scratch() as tmp:
        (tmp / "a" / "b").mkdir(parents=True)
    assert not tmp.exists()


@pytest.mark.parametrize("stop_after", [0, 3])
def test_a_linking_child_that_stops_is_made_up_for(changed, private_tmp, monkeypatch, stop_after):
    """The working tree is linked into the head's folder by a forked process while the
    base's state is installed (plan._linked_apart); one that stops (at its
    first link, or half-way) leaves the rest to the plan, with the same report."""
    from snavc.review import plan as plan_module

    state = private_tmp.parent / "state"
    expected = plan(changed, "HEAD~1", base_state=state).report.changes
    parent, real, made = os.getpid(), os.link, []

    def link(src, dst, **kwargs):
        if os.getpid() != parent and len(made) >= stop_after:
            os._exit(1)
        made.append(dst)
        return real(src, dst, **kwargs)

    monkeypatch.setattr(plan_module.os, "link", link)
    done = plan(changed, "HEAD~1", base_state=state)
    assert done.base_restored and done.head_incremental
    assert done.report.changes == expected


def test_a_lock_git_ignores_is_not_the_heads(changed, private_tmp):
    """The lock is linked first, before git lists the working tree's files: one that a
    commit would not hold (untracked and ignored) goes again, and the restored plan
    says what the plan without a state says."""
    (changed / ".gitignore").write_text("snav.lock\n")
    git(changed, "rm", "-q", "--cached", "snav.lock")
    state = private_tmp.parent / "state"
    expected = plan(changed, "HEAD~1").report
    plan(changed, "HEAD~1", base_state=state)
    done = plan(changed, "HEAD~1", base_state=state)
    assert done.base_restored
    assert done.report.to_json() == expected.to_json()


@pytest.mark.parametrize("state_there", [False, True])
def test_a_base_that_does_not_build_with_a_base_state(seed, private_tmp, state_there):
    """A base that does not build, with --base-state: the working tree is put into the
    head's folder once, whether it was linked while a state was looked at (a manifest
    there, of another tree) or not; the user's files are never written."""
    from .helpers import SITE2_EQ

    repo = git_init(seed())
    edit(repo, SITE2_EQ, "box: box-client1-site2", "box: no-such-box")
    git(repo, "commit", "-q", "--no-gpg-sign", "-am", "broken")
    edit(repo, SITE2_EQ, "box: no-such-box", "box: box-client1-site2")
    state = private_tmp.parent / "state"
    if state_there:  # the state of the first commit: not the broken base's tree
        assert plan(repo, "HEAD~1", base_state=state).report.not_compared == ""
    scratch.wait_removals()
    before = _files(repo)
    done = plan(repo, "HEAD", base_state=state)
    assert done.report.not_compared == "revision 'HEAD' does not build (1 error)"
    scratch.wait_removals()
    assert _files(repo) == before


@pytest.mark.parametrize("fork", [True, False])
def test_the_linking_child_hands_back_what_it_read(changed, tmp_path, monkeypatch, fork):
    """plan._linked_apart hashes the files a build reads as it links them, and hands
    their records back (the head's build reads none of them again: cache.hash_files's
    ``vouched``): each record is the linked file's identity and content hash; the lock
    is not among them (its digest comes first, apart)."""
    from snavc.engine.load import content_hash
    from snavc.review import plan as plan_module

    if not fork:
        monkeypatch.setenv("SNAVC_PLAN_NO_FORK", "1")
    head = tmp_path / "head"
    lock_in, done = plan_module._linked_apart(changed, head)
    digest = lock_in()
    records = done()
    assert digest == plan_module._read_digest(changed / "snav.lock")
    yaml = sorted(
        p.relative_to(changed).as_posix()
        for p in changed.rglob("*.y*ml")
        if not any(part.startswith(".") for part in p.relative_to(changed).parts)
    )
    assert sorted(records) == yaml and "snav.lock" not in records
    for rel, (size, mtime, ctime, ino, digest) in records.items():
        st = (head / rel).stat()
        assert (size, mtime, ctime, ino) == (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
        assert digest == content_hash((head / rel).read_bytes())


@pytest.mark.parametrize("first", [0, 2, "all"])
def test_two_processes_link_the_working_tree_from_both_ends(changed, tmp_path, first):
    """plan._linked_apart's child links the working tree from its first file while the
    plan, once the base's state is installed, links from the last one back: each
    claims a file by linking it (EEXIST where the other did) and stops at the first
    one the other put there. Here the child had put the first files (none, two, all):
    the plan's part is the rest, each file linked once, its records those it linked."""
    from snavc.review import plan as plan_module

    files = plan_module._head_files(changed, present=False)
    keep = [f for f in files if f != "snav.lock"]
    assert len(keep) > 3
    done = len(keep) if first == "all" else first
    head = tmp_path / "head"
    theirs: dict = {}
    plan_module._copy_working_tree(changed, head, records=theirs, files=keep[:done])
    mine: dict = {}
    plan_module._copy_working_tree(changed, head, records=mine, files=files, backward=True)
    assert sorted(mine) == sorted(f for f in keep[done:] if plan_module._read_by_build(f))
    assert not set(mine) & set(theirs)
    for rel in keep:
        assert (head / rel).stat().st_ino == (changed / rel).stat().st_ino
    assert not (head / "snav.lock").exists()  # the child's, never the plan's
    # and the other way round: a child coming to files the plan put there stops
    again: dict = {}
    plan_module._copy_working_tree(changed, head, records=again, files=files)
    assert again == {} and (head / "snav.lock").is_file()


@pytest.mark.parametrize(
    ("rel", "read"),
    [
        ("a.yaml", True),
        ("clients/c1/s1.yml", True),
        ("snav.lock", True),
        ("clients/snav.lock", False),
        (".hidden.yaml", False),
        ("clients/.git/x.yaml", False),
        ("clients/c1/.draft.yaml", False),
        ("a.yaml.bak", False),
        ("README.md", False),
        ("x./a.yaml", True),  # (a dot in a name, not at its start)
    ],
)
def test_the_files_a_build_reads(rel, read):
    """What the plan links and hashes for the head's build: visible YAML files (no
    hidden file or folder on the path), and the lock at the top."""
    from snavc.review import plan as plan_module

    assert plan_module._read_by_build(rel) is read
