"""A build killed at every point of its work (issue 10, item 15 and "What to build").

Each case builds the seed, changes it, and kills the next build at one point
(``SNAVC_TEST_CRASH_AT``: ``os._exit(137)``, as ``kill -9``: no cleanup runs). Then:
``OUT`` holds either the previous build or the new one, whole (never missing, never a
mix); ``snav.lock`` is the old lock or the new one; and the next build restores what
has to be, removes what the killed one left, and gives the bytes of a clean full build.
"""

from __future__ import annotations

import pytest

from snavc.engine.faults import POINTS

from .conftest import (
    add_equipment,
    assert_next_build_is_clean,
    change_configuration,
    edit_equipment,
    files,
    lock_of,
    outputs,
    reference,
    run,
)

# where each kind of build passes: a patched build neither loads in full nor streams
FULL = POINTS
PATCHED = ("finish", "swap", "swapped", "lock", "locked", "snapshot", "state")
# from "swapped" on, the new output is in place
AFTER_SWAP = ("swapped", "lock", "locked", "snapshot", "state")
AFTER_LOCK = ("locked", "snapshot", "state")


def _kill(seed, tmp_path, change, point: str) -> None:
    out = tmp_path / "out"
    before, lock_before = files(out), lock_of(seed)
    change(seed)
    _, new_outputs, new_lock = reference(seed, tmp_path, "new")
    assert run("build", seed, "-o", out, crash=point) == 137
    if point in AFTER_SWAP:
        assert outputs(out) == new_outputs
    else:
        # OUT is the previous build, or (killed between the renames of the swap)
        # missing with the previous build parked beside it, for the next build
        assert files(out) in (before, {})
    assert lock_of(seed) == (new_lock if point in AFTER_LOCK else lock_before)
    assert_next_build_is_clean(seed, out, tmp_path)


@pytest.mark.parametrize("point", FULL)
def test_full_build_killed(seed, tmp_path, point):
    _kill(seed, tmp_path, change_configuration, point)


@pytest.mark.parametrize("point", PATCHED)
def test_patched_build_killed(seed, tmp_path, point):
    _kill(seed, tmp_path, add_equipment, point)


# a patched build that leaves the lock as it is saves its snapshot while it writes
# its outputs, before the swap (snavc.engine.incremental): killed there, OUT and the
# lock are the previous ones; it writes no lock
LOCK_KEPT = ("finish", "snapshot", "swap", "swapped", "locked", "state")


@pytest.mark.parametrize("point", LOCK_KEPT)
def test_patched_build_killed_lock_kept(seed, tmp_path, point):
    out = tmp_path / "out"
    before, lock_before = files(out), lock_of(seed)
    edit_equipment(seed)
    _, new_outputs, new_lock = reference(seed, tmp_path, "new")
    assert new_lock == lock_before  # (else this tests the case above again)
    assert run("build", seed, "-o", out, crash=point) == 137
    if point in ("swapped", "locked", "state"):
        assert outputs(out) == new_outputs
    else:
        assert files(out) in (before, {})
    assert lock_of(seed) == lock_before
    assert_next_build_is_clean(seed, out, tmp_path)


def test_the_lock_kept_case_is_patched(seed, tmp_path):
    from snavc.engine.pipeline import build

    edit_equipment(seed)
    built = build(seed, tmp_path / "out")
    assert built.incremental and not built.lock_written


def test_every_point_is_reached(seed, tmp_path):
    """A point a build no longer passes would make its case above test nothing."""
    out = tmp_path / "out"
    change_configuration(seed)
    for point in FULL:
        assert run("build", seed, "-o", out, crash=point) == 137, point


def test_kill_between_the_renames_parks_the_previous_build(seed, tmp_path):
    """The window of item 15: OUT missing, the previous build in .out.old-*/build. The
    next build puts it back first, even when it then fails on its input."""
    out = tmp_path / "out"
    before = files(out)
    change_configuration(seed)
    assert run("build", seed, "-o", out, crash="swap") == 137
    assert not out.exists()
    (parked,) = tmp_path.glob(".out.old-*")
    assert files(parked / "build") == before
    broken = seed / "partner" / "contacts.yaml"
    broken.write_text(broken.read_text() + "---\nkind: Contact\nid: [\n")
    assert run("build", seed, "-o", out) == 1
    assert files(out) == before
    assert list(tmp_path.glob(".out.*")) == []


def test_the_patched_cases_are_patched(seed, tmp_path):
    """The change of test_patched_build_killed is one a build patches (else those cases
    would test the full build's points twice)."""
    from snavc.engine.pipeline import build

    add_equipment(seed)
    assert build(seed, tmp_path / "out").incremental
