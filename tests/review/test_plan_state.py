"""``snavc plan`` at the cost of one build (issue 14, item 4).

The base is built to disk with the incremental build's state and the working tree is
derived from that state (only the changed files); ``--base-state DIR`` keeps the base's
build, keyed by its git tree, for the next plan (a CI cache). Whatever the way, the
report is the same: a state that is damaged, foreign or made for another tree is not
used (a note says so) and the base is built again, never a wrong answer.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from snavc.engine import incremental
from snavc.review import scratch
from snavc.review.plan import MANIFEST, OUT, plan

from .helpers import SITE1_EQ, USER_SERVICES, edit, git, git_init, snav

CHANGE = ("address: 10.1.1.10", "address: 10.1.1.11")


def _commit(repo: Path, message: str) -> None:
    git(repo, "commit", "-q", "--no-gpg-sign", "-am", message)


@pytest.fixture(autouse=True)
def any_share_warm(monkeypatch):
    """The seed is a handful of equipment: one file's are more than the share beyond
    which a warm build gives way to a cold one (incremental.MAX_DIRTY)."""
    monkeypatch.setattr(incremental, "MAX_DIRTY", 1.0)


@pytest.fixture
def changed(seed) -> Path:
    """The seed in git, then one equipment file changed in a second commit."""
    repo = git_init(seed())
    edit(repo, SITE1_EQ, *CHANGE)
    _commit(repo, "one equipment")
    return repo


def _plan(repo: Path, *args: str, exit_code: int = 0) -> tuple[str, str, str]:
    """(text, json, stderr) of ``snavc plan --base HEAD~1 ARGS``."""
    text = snav("plan", repo, "--base", "HEAD~1", *args, exit_code=exit_code)
    js = snav("plan", repo, "--base", "HEAD~1", "--format", "json", *args, exit_code=exit_code)
    return text.stdout, js.stdout, text.stderr


def test_the_head_is_derived_from_the_base_build(changed):
    done = plan(changed, "HEAD~1")
    assert done.head_incremental and not done.base_restored
    assert [(c["op"], c["id"]) for c in done.report.changes] == [("changed", "srv-web-01")]


def test_a_restored_base_gives_the_same_report(changed, tmp_path):
    state = tmp_path / "state"
    fresh = _plan(changed, "--base-state", state)  # (built twice: text, then json)
    assert f"is saved in {state}" in fresh[2]
    assert (state / MANIFEST).is_file()
    restored = _plan(changed, "--base-state", state)
    assert restored[:2] == fresh[:2] == _plan(changed)[:2]
    assert f"is restored from {state}" in restored[2] and "not used" not in restored[2]
    done = plan(changed, "HEAD~1", base_state=state)
    assert done.base_restored and done.head_incremental
    report = json.loads(restored[1])
    assert [(c["op"], c["id"]) for c in report["changes"]] == [("changed", "srv-web-01")]


def test_the_environment_names_the_base_state(changed, tmp_path, monkeypatch):
    monkeypatch.setenv("SNAVC_BASE_STATE", str(tmp_path / "state"))
    snav("plan", changed, "--base", "HEAD~1")
    assert (tmp_path / "state" / MANIFEST).is_file()


@pytest.mark.parametrize(
    "damage",
    [
        "out/effective.json",  # a flipped byte in an output
        "out/lock-report.json",
        MANIFEST,  # the manifest's seal
    ],
)
def test_a_damaged_base_state_is_built_again(changed, tmp_path, damage):
    state = tmp_path / "state"
    expected = _plan(changed, "--base-state", state)[:2]
    path = state / damage
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    text, js, err = _plan(changed, "--base-state", state)
    assert (text, js) == expected
    assert "is damaged" in err
    # ... and saved again, whole: the next plan uses it
    assert plan(changed, "HEAD~1", base_state=state).base_restored


def test_a_damaged_engine_state_means_a_full_build_of_the_head(changed, tmp_path):
    state = tmp_path / "state"
    expected = _plan(changed, "--base-state", state)[:2]
    path = state / "engine" / "build" / "build.marshal"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01
    path.write_bytes(bytes(data))
    done = plan(changed, "HEAD~1", base_state=state)
    assert done.base_restored and not done.head_incremental
    assert _plan(changed, "--base-state", state)[:2] == expected


def test_a_state_of_another_tree_is_not_used(changed, tmp_path):
    state = tmp_path / "state"
    _plan(changed, "--base-state", state)  # saved for HEAD~1's tree
    # against HEAD: no change, and the state of HEAD~1 would say "address changed"
    text = snav("plan", changed, "--base", "HEAD", "--base-state", state)
    assert "+0 added, ~0 changed, -0 removed" in text.stdout
    assert "is that of git tree" in text.stderr and "not used" in text.stderr
    tree = git(changed, "rev-parse", "HEAD^{tree}").strip()
    assert f"(tree {tree})" in text.stderr  # now saved for HEAD's
    assert plan(changed, "HEAD", base_state=state).base_restored


def test_a_foreign_folder_is_not_a_state(changed, tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    (state / MANIFEST).write_bytes(b"not a manifest")
    expected = _plan(changed)[:2]
    text, js, err = _plan(changed, "--base-state", state)
    assert (text, js) == expected and "is damaged or made by another snavc" in err


def test_a_folder_holding_other_files_is_refused(changed, tmp_path):
    """The base's build replaces DIR/out as `build -o` does: never a folder of
    something else (a usage error, not a traceback)."""
    (tmp_path / "state" / OUT).mkdir(parents=True)
    (tmp_path / "state" / OUT / "notes.txt").write_text("mine\n", encoding="utf-8")
    out = snav("plan", changed, "--base", "HEAD~1", "--base-state", tmp_path / "state", exit_code=2)
    assert (
        "cannot keep the base's build in" in out.stderr and "refusing to replace it" in out.stderr
    )
    assert (tmp_path / "state" / OUT / "notes.txt").read_text(encoding="utf-8") == "mine\n"


def test_a_changed_lock_means_a_full_build_of_the_head(changed, tmp_path):
    """The state was built with the base's lock: a working tree with another lock is
    built in full (the incremental build trusts only the lock it read)."""
    lock = changed / "snav.lock"
    data = json.loads(lock.read_text(encoding="utf-8"))
    service = sorted(data["services"])[0]
    del data["services"][service]  # this service then takes its template's values
    lock.write_text(json.dumps(data), encoding="utf-8")
    _commit(changed, "a lock edited")
    state = tmp_path / "state"
    _plan(changed, "--base-state", state)
    done = plan(changed, "HEAD~1", base_state=state)
    assert done.base_restored and not done.head_incremental
    assert _plan(changed, "--base-state", state)[:2] == _plan(changed)[:2]


def test_a_change_of_user_services_is_derived_too(changed, tmp_path):
    edit(changed, USER_SERVICES, "criticality: 5", "criticality: 4")
    done = plan(changed, "HEAD~1")
    assert done.head_incremental


def test_no_cache_builds_both_in_full(changed, tmp_path, monkeypatch):
    expected = _plan(changed)[:2]
    monkeypatch.setenv("SNAVC_NO_CACHE", "1")
    text, js, err = _plan(changed, "--base-state", tmp_path / "state")
    assert (text, js) == expected and "SNAVC_NO_CACHE is set" in err
    assert not (tmp_path / "state").exists()
    assert not plan(changed, "HEAD~1").head_incremental


def test_the_working_tree_is_left_as_it_is(changed, tmp_path):
    before = sorted(p.relative_to(changed) for p in changed.rglob("*") if ".git" not in p.parts)
    _plan(changed, "--base-state", tmp_path / "state")
    after = sorted(p.relative_to(changed) for p in changed.rglob("*") if ".git" not in p.parts)
    assert after == before
    assert set(os.listdir(tmp_path / "state")) == {"engine", MANIFEST, OUT}


# -- the base built in a forked process (plan._build_base_apart) ----------------------


def _in_the_child(monkeypatch, what):
    """``what()`` runs in the child instead of the base's build."""
    from snavc.review import plan as plan_module

    parent = os.getpid()
    real = plan_module._build_base

    def instead(*args, **kwargs):
        if os.getpid() != parent:
            what()
        return real(*args, **kwargs)

    monkeypatch.setattr(plan_module, "_build_base", instead)


def test_a_child_killed_is_a_clean_error(changed, tmp_path, monkeypatch):
    import signal

    lock = (changed / "snav.lock").read_bytes()
    _in_the_child(monkeypatch, lambda: os.kill(os.getpid(), signal.SIGKILL))
    out = snav("plan", changed, "--base", "HEAD~1", "--base-state", tmp_path / "state", exit_code=2)
    assert out.stderr == (
        "Error: the build of revision 'HEAD~1' was killed by signal 9 (SIGKILL), as the system "
        "does when memory runs out; nothing was changed\n"
    )
    assert (changed / "snav.lock").read_bytes() == lock
    assert not (tmp_path / "state" / MANIFEST).exists()  # no half-made state is taken
    monkeypatch.undo()
    assert plan(changed, "HEAD~1", base_state=tmp_path / "state").report.changes


@pytest.mark.parametrize("error", [ValueError("a bug"), MemoryError()])
def test_an_error_in_the_child_is_raised_in_the_parent(changed, monkeypatch, error):
    def fail():
        raise error

    _in_the_child(monkeypatch, fail)
    with pytest.raises(type(error), match=str(error) or None):
        plan(changed, "HEAD~1")


def test_the_head_build_never_writes_the_users_files(changed):
    """The working tree's files are linked into the head's folder: a head whose build
    rewrites the lock (a new equipment, new services) leaves the user's lock as it was."""
    from .helpers import SITE1_EQ as path

    text = (changed / path).read_text(encoding="utf-8")
    copy = text.split("\n---", 1)[0].replace("srv-web-01", "srv-web-09")
    copy = "\n".join(line for line in copy.split("\n") if "servicenav_id" not in line)
    (changed / path).write_text(text + "\n---\n" + copy + "\n", encoding="utf-8")
    before = {
        p: p.read_bytes() for p in changed.rglob("*") if p.is_file() and ".git" not in p.parts
    }
    done = plan(changed, "HEAD~1")
    assert any(c["op"] == "added" for c in done.report.changes)
    after = {p: p.read_bytes() for p in changed.rglob("*") if p.is_file() and ".git" not in p.parts}
    assert after == before
    scratch.wait_removals()  # the links go with the plan's folder, removed in the background
    assert all(os.stat(p).st_nlink == 1 for p in after)


def test_outputs_the_plan_checked_are_not_read_again(seed, tmp_path, monkeypatch):
    """A state adopted with its outputs checked (restore_base read them whole) is not
    read whole again by the warm build while the outputs keep their identities."""
    from snavc.engine import emit
    from snavc.engine import state as engine_state

    repo = seed()
    snav("build", repo, "-o", tmp_path / "out")
    digests = engine_state.read_state(repo)["digests"]
    assert engine_state.adopt_state(repo, digests, lock_same=True, checked=True)
    adopted = engine_state.read_state(repo)
    real = emit.file_digest

    def unread(path):
        raise AssertionError(f"{path} read again")

    monkeypatch.setattr(emit, "file_digest", unread)
    assert engine_state.outputs_intact(repo, adopted)
    output = repo / ".snavc" / "build" / "effective.json"
    data = bytearray(output.read_bytes())
    data[len(data) // 2] ^= 0x01
    output.write_bytes(bytes(data))  # written in place: another identity
    monkeypatch.setattr(emit, "file_digest", real)
    assert not engine_state.outputs_intact(repo, adopted)
    # not checked: read as before
    assert engine_state.adopt_state(repo, digests, lock_same=True)
    assert engine_state.read_state(repo)["verified"] is None


def test_an_adopted_states_outputs_are_checked_from_the_start(seed, tmp_path):
    """A state adopted without its outputs checked (a restored plan defers it to the
    head's build) leaves the small file a warm build starts checking them with before
    it reads the state (state.read_check), as a build's state does."""
    import shutil

    from snavc.engine import state as engine_state

    repo = seed()
    snav("build", repo, "-o", tmp_path / "out")
    digests = engine_state.read_state(repo)["digests"]
    folder = repo / ".snavc" / "build"
    for name in engine_state.OUTPUTS:  # copies: other identities than the check's
        (folder / name).unlink()
        shutil.copyfile(tmp_path / "out" / name, folder / name)
    assert engine_state.read_check(repo) is None
    assert engine_state.adopt_state(repo, digests, lock_same=True)
    check = engine_state.read_check(repo)
    assert check is not None and engine_state.same_check(check, engine_state.read_state(repo))
    assert engine_state.outputs_intact(repo, check)


def test_the_head_is_hashed_while_the_base_builds(changed, monkeypatch):
    """The head's files are hashed while the base builds (plan._hash_ahead), once
    their records can be trusted (cache.RACY_NS, made 0 here): the head's build then
    hashes only the files the change touched, and the report is the same."""
    import time

    from snavc.engine import cache
    from snavc.review import plan as plan_module

    expected = plan(changed, "HEAD~1").report.to_json()
    monkeypatch.setattr(cache, "RACY_NS", 0)
    hashed = []
    real_hash, real_build = cache.content_hash, plan_module.build

    def content_hash(data):
        hashed.append(len(data))
        return real_hash(data)

    def build(repo, *args, **kwargs):
        hashed.clear()
        done = real_build(repo, *args, **kwargs)
        reads.append(len(hashed))
        return done

    reads: list[int] = []
    monkeypatch.setattr(cache, "content_hash", content_hash)
    monkeypatch.setattr(plan_module, "build", build)
    _in_the_child(monkeypatch, lambda: time.sleep(0.5))  # (the seed builds in no time)
    done = plan(changed, "HEAD~1")
    assert done.head_incremental and done.report.to_json() == expected
    assert reads == [1]  # the changed file only: linked into the head after


def test_a_restored_base_is_read_whole_once(changed, tmp_path, monkeypatch):
    """restore_base leaves effective.json and origins.json to the head's incremental
    build, which checks them while it hashes its inputs (state.outputs_intact): plan
    itself reads only the small lock report."""
    from snavc.review import plan as plan_module

    state = tmp_path / "state"
    plan(changed, "HEAD~1", base_state=state)
    read = []
    real = plan_module.file_digest

    def file_digest(path):
        read.append(Path(path).name)
        return real(path)

    monkeypatch.setattr(plan_module, "file_digest", file_digest)
    done = plan(changed, "HEAD~1", base_state=state)
    assert done.base_restored and done.head_incremental
    assert "effective.json" not in read and "origins.json" not in read
    assert "lock-report.json" in read


@pytest.mark.parametrize("part", ["engine", "out"])
def test_a_base_state_folder_holding_the_users_files_is_refused_untouched(changed, tmp_path, part):
    """A base built again replaces DIR/engine and DIR/out: a user's files there (a
    folder that is not what a plan keeps) are refused before anything is removed."""
    state = tmp_path / "state"
    (state / part).mkdir(parents=True)
    (state / part / "notes.txt").write_text("important\n")
    (state / MANIFEST).write_bytes(b"not a manifest")
    (state / "readme.txt").write_text("keep\n")
    done = snav("plan", changed, "--base", "HEAD~1", "--base-state", state, exit_code=2)
    assert f"{state / part} is not" in done.stderr and "refusing to replace it" in done.stderr
    assert (state / part / "notes.txt").read_text() == "important\n"
    assert (state / MANIFEST).read_bytes() == b"not a manifest"
    assert sorted(p.name for p in state.iterdir()) == sorted([part, MANIFEST, "readme.txt"])


def test_a_base_state_folder_a_plan_made_is_used_and_replaced(changed, tmp_path):
    """What the check lets through: an empty folder, and the folder a plan left (its
    engine state tagged as snavc's cache), even for another tree (built again)."""
    state = tmp_path / "state"
    state.mkdir()
    snav("plan", changed, "--base", "HEAD~1", "--base-state", state)
    assert (state / "engine" / "CACHEDIR.TAG").is_file()
    again = snav("plan", changed, "--base", "HEAD", "--base-state", state)
    assert "not used" in again.stderr and f"is saved in {state}" in again.stderr
