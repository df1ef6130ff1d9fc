"""The output folder and the lock (issue 10, items 9, 14 and 15): what a build refuses
to replace, symbolic links, one build at a time, a full disk, and an effective
configuration that does not depend on whether the lock was written before.
"""

from __future__ import annotations

import fcntl
import json
import os

import pytest
from click.testing import CliRunner

from snavc.cli import cli

from .conftest import (
    add_equipment,
    assert_next_build_is_clean,
    copy_seed,
    files,
    fill,
    leftovers,
    lock_of,
    outputs,
    reference,
    run,
    used,
)


def invoke(*args) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result.exit_code, result.output


# -- item 9: the effective configuration is a function of the inputs -----------------------


def test_two_builds_in_a_row_give_the_same_configuration_9(tmp_path):
    """The first build writes snav.lock (every service new); the second finds them all
    locked. effective.json and origins.json are the same bytes; what the lock did is
    in lock-report.json."""
    repo = copy_seed(tmp_path / "repo")
    (repo / "snav.lock").unlink()
    assert run("build", repo, "-o", tmp_path / "one") == 0
    assert run("build", repo, "-o", tmp_path / "two") == 0
    one, two = outputs(tmp_path / "one"), outputs(tmp_path / "two")
    for name in ("effective.json", "origins.json", "diagnostics.json"):
        assert one[name] == two[name], name
    first, second = (json.loads(o["lock-report.json"]) for o in (one, two))
    assert first["written"] is True and first["templates"]["cpu"] == {"new": 4, "reapplied": 0}
    assert second == {"format": 1, "removed": 0, "templates": {}, "written": False}
    lock = json.loads(one["effective.json"])["lock"]
    assert lock["cpu"] == {"not_applied": 0, "services": 4}


def test_reapply_then_a_plain_build_give_the_same_configuration_9(tmp_path):
    """A template changed: the lock keeps the old values (not_applied, in effective.json:
    a function of the repository and its lock); --reapply gives the new ones and
    rewrites the lock; a plain build after it gives the same configuration."""
    repo = copy_seed(tmp_path / "repo")
    path = repo / "clients" / "client1" / "templates.yaml"
    path.write_text(path.read_text().replace("criticality: 4", "criticality: 2"))
    assert run("build", repo, "-o", tmp_path / "kept") == 0
    kept = outputs(tmp_path / "kept")
    assert json.loads(kept["effective.json"])["lock"]["cpu"]["not_applied"] == 2
    assert run("build", repo, "-o", tmp_path / "one", "--reapply", "cpu") == 0
    assert run("build", repo, "-o", tmp_path / "two") == 0
    one, two = outputs(tmp_path / "one"), outputs(tmp_path / "two")
    assert one["effective.json"] == two["effective.json"]
    assert json.loads(one["effective.json"])["lock"]["cpu"]["not_applied"] == 0
    assert json.loads(one["lock-report.json"])["templates"]["cpu"] == {"new": 0, "reapplied": 2}
    assert json.loads(two["lock-report.json"])["templates"] == {}


def test_lock_report_counts_removed_services(seed, tmp_path):
    add_equipment(seed)
    assert run("build", seed, "-o", tmp_path / "out") == 0
    path = seed / "clients" / "client1" / "site2" / "equipment.yaml"
    path.write_text(path.read_text().split("---\nkind: Equipment\nid: srv-fault-01")[0])
    assert run("build", seed, "-o", tmp_path / "out") == 0
    report = json.loads((tmp_path / "out" / "lock-report.json").read_text())
    assert report == {"format": 1, "removed": 8, "templates": {}, "written": True}


# -- item 14: an output folder that would destroy the repository ---------------------------


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("repo", "holds the repository"),
        (".", "holds the repository"),
        ("repo/.git/out", "is inside a git folder"),
        ("repo/.snavc/out", "is inside the repository's cache (.snavc/)"),
    ],
)
def test_output_that_would_destroy_the_repository_is_refused_14(tmp_path, where, message):
    repo = copy_seed(tmp_path / "repo")
    (repo / ".git").mkdir()
    (repo / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (tmp_path / ".snavc-build").write_text("")  # a marker would not save it
    before = files(repo)
    code, output = invoke("build", repo, "-o", tmp_path / where)
    assert code == 2, output
    assert f"Error: output folder {tmp_path / where} {message}" in output
    assert files(repo) == before


def test_output_holding_the_repository_with_a_marker_is_refused_14(tmp_path):
    """The case of item 14: a previous build folder (marker and all) into which the
    repository was then put."""
    out = tmp_path / "out"
    seed = copy_seed(tmp_path / "seed")
    assert run("build", seed, "-o", out) == 0
    repo = copy_seed(out / "repo")
    (repo / ".git").mkdir()
    before = files(repo)
    code, output = invoke("build", repo, "-o", out)
    assert code == 2 and "holds the repository" in output
    assert files(repo) == before


def test_output_below_the_repository_is_fine(tmp_path):
    repo = copy_seed(tmp_path / "repo")
    assert run("build", repo, "-o", repo / "build") == 0
    assert run("build", repo, "-o", repo / "build") == 0  # the build folder is not input
    assert (repo / "build" / "effective.json").is_file()


def test_non_empty_folder_that_is_not_a_build_is_refused(tmp_path):
    repo = copy_seed(tmp_path / "repo")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "notes.txt").write_text("keep\n")
    code, output = invoke("build", repo, "-o", tmp_path / "docs")
    assert code == 2 and "is not a snavc build (no .snavc-build marker)" in output
    assert files(tmp_path / "docs") == {"notes.txt": b"keep\n"}
    assert leftovers(tmp_path) == []


# -- item 15: symbolic links, one build at a time -------------------------------------------


def test_symlinked_output_is_written_through_15(seed, tmp_path):
    """OUT a symbolic link: it stays a link, the folder it points to is replaced."""
    target = tmp_path / "real"
    link = tmp_path / "link"
    link.symlink_to(target, target_is_directory=True)
    assert run("build", seed, "-o", link) == 0
    assert link.is_symlink() and (target / "effective.json").is_file()
    add_equipment(seed)
    _, expected, _ = reference(seed, tmp_path)
    assert run("build", seed, "-o", link) == 0
    assert link.is_symlink()
    assert outputs(target) == expected
    assert leftovers(tmp_path, seed) == []


def test_second_build_into_the_same_output_waits_its_turn_15(seed, tmp_path):
    """While a build holds OUT's lock, another one says so (exit 1), touching nothing."""
    out = tmp_path / "out"
    before = files(out)
    fd = os.open(tmp_path / ".out.lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        add_equipment(seed)
        code, output = invoke("build", seed, "-o", out)
        assert code == 1
        assert (
            output
            == f"snavc: another snavc build is writing {out} now: try again when it has ended\n"
        )
        assert files(out) == before
    finally:
        os.close(fd)
    (tmp_path / ".out.lock").unlink()
    assert_next_build_is_clean(seed, out, tmp_path)


def test_stale_lock_file_of_a_killed_build_is_taken_over_15(seed, tmp_path):
    (tmp_path / ".out.lock").write_text("")
    assert_next_build_is_clean(seed, tmp_path / "out", tmp_path)


# -- disk full -------------------------------------------------------------------------------


def test_disk_full_during_the_build_leaves_the_previous_output_15(seed, tmp_path, small_disk):
    out = small_disk / "out"
    assert run("build", seed, "-o", out) == 0
    before, lock_before = files(out), lock_of(seed)
    add_equipment(seed)
    filler = fill(small_disk, 8 * 1024)  # less than a build
    full = used(small_disk)
    code, output = invoke("build", seed, "-o", out)
    assert code == 1 and "No space left on device" in output, output
    assert files(out) == before and lock_of(seed) == lock_before
    assert leftovers(small_disk) == []
    assert used(small_disk) == full  # nothing left to keep the disk full
    filler.unlink()
    assert_next_build_is_clean(seed, out, tmp_path)


def test_disk_full_for_the_caches_still_builds_right(tmp_path, small_disk):
    """The caches are best effort: with no room for them the build succeeds, leaves no
    temporary file, and the next build (in full) is right."""
    repo = copy_seed(small_disk / "repo")
    out = tmp_path / "out"
    assert run("build", repo, "-o", out) == 0
    add_equipment(repo)
    filler = fill(small_disk, 0)
    code, output = invoke("build", repo, "-o", out)
    assert code in (0, 1), output
    if code == 1:  # no room for the new snav.lock: the lock is the old one, whole
        assert "No space left on device" in output
    assert leftovers(repo) == []
    filler.unlink()
    assert_next_build_is_clean(repo, out, tmp_path)


def test_a_large_previous_build_is_removed_in_the_background(seed, tmp_path, monkeypatch):
    """The previous build a swap replaces goes to a ``.OUT.trash-*`` folder (never put
    back by recover) and, when large (faults.DETACH_BYTES), is removed by a detached
    process once the build has closed it: cold and patched builds alike. A trash folder
    a killed removal left is removed by the next build."""
    from snavc.engine import faults
    from snavc.engine.pipeline import build

    monkeypatch.setattr(faults, "DETACH_BYTES", 0)
    out = tmp_path / "out"
    left = tmp_path / ".out.trash-killed" / "build"
    left.mkdir(parents=True)
    (left / "effective.json").write_text("{}")
    with (seed / "clients" / "client1" / "site2" / "equipment.yaml").open("a") as f:
        f.write("# touched\n")
    assert build(seed, out).incremental
    assert faults._removals  # detached
    faults.wait_removals()
    assert leftovers(tmp_path, seed) == []
    monkeypatch.setenv("SNAVC_NO_CACHE", "1")
    assert not build(seed, out).incremental
    faults.wait_removals()
    assert leftovers(tmp_path, seed) == []
    assert outputs(out) == reference(seed, tmp_path)[1]


@pytest.mark.parametrize("failing", ["writer", "meanwhile"])
def test_a_patched_build_failing_on_either_thread_leaves_the_previous_output(
    seed, tmp_path, monkeypatch, failing
):
    """A patched build writes its outputs in a second thread while it makes its records
    and snapshot (emit.BuildWriter.finish_patched's ``meanwhile``): an error on either
    side reaches the caller once both have stopped, nothing is swapped, no temporary is
    left, and the next build is clean. (A bug, not an OSError: the warm build would
    give way to a full one.)"""
    from snavc.engine import cache, emit
    from snavc.engine.pipeline import build

    from .conftest import edit_equipment

    out = tmp_path / "out"
    before, lock_before = files(out), lock_of(seed)
    edit_equipment(seed)
    boom = RuntimeError("a bug")

    def fail(*args, **kwargs):
        raise boom

    if failing == "writer":
        monkeypatch.setattr(emit.BuildWriter, "_write_rest", fail)
    else:
        monkeypatch.setattr(cache, "save", fail)
    with pytest.raises(RuntimeError) as raised:
        build(seed, out)
    assert raised.value is boom
    assert files(out) == before and lock_of(seed) == lock_before
    assert leftovers(tmp_path, seed) == []
    monkeypatch.undo()
    assert_next_build_is_clean(seed, out, tmp_path)
