"""Damaged caches and locks (issue 10, items 6 and 7): bits flipped, files truncated
or edited. A cache is checked (the hash of its content) and a damaged one is not
used: queries and builds answer as without any cache. A damaged lock is an error at
its position, or (a value edited by hand) a version not trusted; never a wrong answer.
"""

from __future__ import annotations

import os
import random
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from snavc.cli import cli
from snavc.engine import cache, emit, incremental
from snavc.engine import state as engine_state
from snavc.engine.incremental import read_state
from snavc.engine.pipeline import build, quick_compile

from .conftest import (
    assert_next_build_is_clean,
    files,
    leftovers,
    lock_of,
    outputs,
    reference,
    run,
)

QUERIES = [
    ("explain", "{repo}", "srv-web-01.periods.check"),
    ("explain", "{repo}", "srv-file-02.services.cpu.criticality"),
    (
        "query",
        "selectable",
        "{repo}",
        "--as",
        "stephanie",
        "--at",
        "client1-site2",
        "--kind",
        "box",
    ),
    ("query", "can-edit", "{repo}", "--as", "stephanie", "srv-web-01"),
    ("query", "can-edit", "{repo}", "--as", "stephanie", "srv-file-02"),
    ("query", "list", "{repo}", "--as", "stephanie", "--at", "client1", "--kind", "equipment"),
]


def answers(repo: Path, no_cache: bool = False) -> list[tuple[int, str]]:
    env = {"SNAVC_NO_CACHE": "1" if no_cache else None}
    runner = CliRunner()
    found = []
    for q in QUERIES:
        args = [a.format(repo=repo) for a in q]
        result = runner.invoke(cli, args, env=env)
        found.append((result.exit_code, result.output))
    return found


def flip(path: Path, bit: int) -> None:
    data = bytearray(path.read_bytes())
    data[bit // 8] ^= 1 << (bit % 8)
    path.write_bytes(bytes(data))


def bits(path: Path, n: int, seed: int) -> list[int]:
    """``n`` bit positions of ``path``: in its head (the seal), and spread over the rest."""
    size = path.stat().st_size * 8
    rng = random.Random(seed)
    return sorted({rng.randrange(0, 8 * 64), *(rng.randrange(size) for _ in range(n - 1))})


def damages(path: Path, n: int = 10, seed: int = 1):
    """Ways to damage ``path``: bits flipped, truncated, emptied, a byte appended."""
    for bit in bits(path, n, seed):
        yield f"bit {bit}", lambda p, bit=bit: flip(p, bit)
    yield "truncated", lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    yield "emptied", lambda p: p.write_bytes(b"")
    yield "appended", lambda p: p.write_bytes(p.read_bytes() + b"\0")


# -- the snapshot cache: queries ----------------------------------------------------------


@pytest.mark.parametrize("name", ["snapshot.marshal", "leaves", "stats.marshal"])
def test_damaged_snapshot_files_give_the_answers_of_no_cache_6(seed, tmp_path, name):
    expected = answers(seed, no_cache=True)
    assert answers(seed) == expected
    folder = seed / ".snavc"
    if name == "leaves":
        (path,) = folder.glob("leaves-*.marshal")
    else:
        path = folder / name
    pristine = path.read_bytes()
    assert quick_compile(seed) is not None  # the cache is used when intact
    for what, damage in damages(path):
        damage(path)
        if name != "stats.marshal":
            assert quick_compile(seed) is None, what  # not used: a full compile
        assert answers(seed) == expected, what
        path.write_bytes(pristine)


def test_a_snapshot_with_one_flipped_bit_is_refused_6(seed):
    """Every bit of the snapshot is covered by its hash (the seal), not only some."""
    path = seed / ".snavc" / cache.SNAPSHOT
    pristine = path.read_bytes()
    for bit in range(0, len(pristine) * 8, 997):
        flip(path, bit)
        assert cache.read(seed, None) is None, bit
        path.write_bytes(pristine)
    assert cache.read(seed, None) is not None


# -- the build state: builds ---------------------------------------------------------------


def test_damaged_build_state_means_a_full_build_6(seed, tmp_path):
    path = seed / ".snavc" / "build" / "build.marshal"
    pristine = path.read_bytes()
    for what, damage in damages(path, n=6):
        damage(path)
        assert read_state(seed.resolve()) is None, what
        path.write_bytes(pristine)
    flip(path, 8 * (len(pristine) // 2))
    assert_next_build_is_clean(seed, tmp_path / "out", tmp_path)


def touch(repo: Path) -> None:
    """A change a build patches (a comment in an equipment file)."""
    with (repo / "clients" / "client1" / "site2" / "equipment.yaml").open("a") as f:
        f.write("# touched\n")


def _restore_times(path: Path, st: os.stat_result) -> None:
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


@pytest.mark.parametrize("name", ["effective.json", "origins.json"])
def test_linked_output_edited_with_its_times_restored_is_not_patched_6(seed, tmp_path, name):
    """Item 6: the build state's copy of an output (a hard link to OUT's file) edited
    in place, size and modification time kept. Its change time gives it away; and
    were it kept too (the state's record forged to match), the content hash does."""
    linked = seed / ".snavc" / "build" / name
    st = linked.stat()
    text = linked.read_bytes()
    at = re.search(rb"[0-8]", text[len(text) // 2 :]).start() + len(text) // 2
    edited = text[:at] + bytes([text[at] + 1]) + text[at + 1 :]  # one digit one higher
    linked.write_bytes(edited)
    _restore_times(linked, st)
    assert read_state(seed.resolve()) is None  # its change time moved

    # forge the record: the state now matches the edited file's stat
    state_path = seed / ".snavc" / "build" / "build.marshal"
    state = cache.read_sealed(state_path)
    now = linked.stat()
    state["outputs"][name] = (now.st_size, now.st_mtime_ns, now.st_ctime_ns, now.st_ino)
    import marshal

    cache.write_sealed(state_path, marshal.dumps(state))
    assert read_state(seed.resolve()) is not None

    touch(seed)
    _, expected, _ = reference(seed, tmp_path)
    built = build(seed, tmp_path / "out")
    assert built.status == "written" and not built.incremental
    assert outputs(tmp_path / "out") == expected


def test_intact_state_is_patched(seed, tmp_path):
    """The counterpart of the tests above: with nothing damaged, the build is patched
    (so that they test the checks, not a patch path that never runs)."""
    touch(seed)
    assert build(seed, tmp_path / "out").incremental


def test_outputs_a_build_vouched_for_are_not_read_again(seed, tmp_path, monkeypatch):
    """A build's state vouches for the outputs it wrote (``verified``: their identities),
    written in its own folder with their time set back (emit.backdate); the next build
    then patches them without reading them whole, and gives the bytes of a cold build.
    An output written since has another identity, and is read again."""
    touch(seed)
    assert build(seed, tmp_path / "out").incremental
    state = read_state(seed.resolve())
    assert state["verified"] == state["outputs"]
    assert engine_state.read_check(seed.resolve())["verified"] == state["outputs"]

    reads = []
    real = emit.blocks_intact

    def reading(path, *args):
        reads.append(Path(path).name)
        return real(path, *args)

    monkeypatch.setattr(emit, "blocks_intact", reading)
    with (seed / "clients" / "client1" / "site2" / "equipment.yaml").open("a") as f:
        f.write("# touched again\n")
    _, expected, _ = reference(seed, tmp_path)
    built = build(seed, tmp_path / "out")
    assert built.incremental and outputs(tmp_path / "out") == expected
    assert reads == []

    # written in place (its record forged to match): vouched for no more, so read whole
    state = read_state(seed.resolve())
    linked = seed / ".snavc" / "build" / "origins.json"
    data = bytearray(linked.read_bytes())
    data[len(data) // 2] ^= 0x01
    linked.write_bytes(bytes(data))
    now = linked.stat()
    forged = (now.st_size, now.st_mtime_ns, now.st_ctime_ns, now.st_ino)
    state["outputs"] = {**state["outputs"], "origins.json": forged}
    import marshal

    cache.write_sealed(seed / ".snavc" / "build" / "build.marshal", marshal.dumps(state))
    assert read_state(seed.resolve()) is not None
    touch(seed)
    _, expected, _ = reference(seed, tmp_path)
    built = build(seed, tmp_path / "out")
    assert "origins.json" in reads and not built.incremental
    assert outputs(tmp_path / "out") == expected


def test_outputs_not_as_written_are_not_vouched_for(seed, tmp_path, monkeypatch):
    """Outputs whose identity is not the one the build wrote, or (a build that changed
    nothing, linking the previous outputs) last written within a time stamp's tick of
    the state (racy: a write after it might leave the same stamps), are left for the
    next build to read."""
    touch(seed)
    assert build(seed, tmp_path / "out").incremental
    state = read_state(seed.resolve())
    assert state["verified"] == state["outputs"]
    args = (seed.resolve(), tmp_path / "out", state, state["layouts"], state["digests"])
    engine_state.save_state(*args, state["blocks"], {n: (0, 0, 0) for n in engine_state.OUTPUTS})
    assert read_state(seed.resolve())["verified"] is None
    engine_state.save_state(*args, state["blocks"])  # (no identities given)
    assert read_state(seed.resolve())["verified"] is None

    written = {n: cache.as_written(state["outputs"][n]) for n in engine_state.OUTPUTS}
    engine_state.save_state(*args, state["blocks"], written)
    assert read_state(seed.resolve())["verified"] is not None
    monkeypatch.setattr(incremental, "settled", lambda mtime: False)
    assert build(seed, tmp_path / "elsewhere").incremental  # (nothing changed: linked)
    assert read_state(seed.resolve())["verified"] is None
    monkeypatch.setattr(incremental, "settled", lambda mtime: True)
    assert build(seed, tmp_path / "third").incremental
    assert read_state(seed.resolve())["verified"] is not None


def test_a_write_after_backdate_moves_the_modification_time(tmp_path):
    """emit.backdate sets a file's time one nanosecond before its stamp: a write at
    once after it, within the same tick of the clock, gives it another time."""
    path = tmp_path / "effective.json"
    path.write_bytes(b"{}\n")
    stamp = path.stat().st_mtime_ns
    size, mtime, inode = emit.backdate(path)
    assert (size, mtime, inode) == (3, stamp - 1, path.stat().st_ino)
    with open(path, "r+b") as f:
        f.write(b"[]")  # same size
    assert path.stat().st_mtime_ns != mtime


def test_settled_time_stamps():
    """A fine stamp is settled 50 ms on; a stamp of whole milliseconds (a file system
    without finer ones, or set by hand) only after cache.RACY_NS."""
    now = 10**18 + 123_456_789
    fine = now - 60_000_000 + 7
    assert engine_state.settled(fine, now)
    assert not engine_state.settled(now - 10_000_000 + 7, now)
    whole = (now // 10**9 - 1) * 10**9
    assert not engine_state.settled(whole, now)
    assert engine_state.settled(whole - cache.RACY_NS, now)


# -- the lock ------------------------------------------------------------------------------


def _line_col(text: str, needle: str, start: str) -> tuple[int, int]:
    at = text.index(needle, text.index(start))
    return text.count("\n", 0, at) + 1, at - text.rfind("\n", 0, at)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (
            "criticality",
            "99",
            "criticality 99 is out of bounds: input should be less than or equal to 5",
        ),
        (
            "availability_target",
            "-7",
            "availability_target -7 is out of bounds: input should be greater than 0",
        ),
        (
            "check_interval",
            "0",
            "check_interval 0 is out of bounds: input should be greater than or equal to 1",
        ),
        (  # the models' bound (31 days), so the lock cannot carry more than a YAML file
            "check_interval",
            "2678401",
            "check_interval 2678401 is out of bounds: input should be less than or equal to 2678400",
        ),
        (
            "check_period",
            '"No Such"',
            "check_period 'No Such' is out of bounds: string should match",
        ),
    ],
)
@pytest.mark.parametrize("locked", [False, True])
def test_lock_values_out_of_bounds_SNV112_7(
    seed, tmp_path, monkeypatch, field, value, message, locked
):
    monkeypatch.chdir(seed)  # paths are shown relative to the current folder
    lock = seed / "snav.lock"
    text = lock.read_text()
    version = re.search(r'^"([0-9a-f]{16})":\{', text[text.index('"versions"') :], re.M).group(1)
    entry = text.index(f'"{version}":{{', text.index('"versions"'))
    start = text.index(f'"{field}":', entry)
    end = min(text.index(",", start), text.index("}", start))
    bad = text[:start] + f'"{field}":{value}' + text[end:]
    lock.write_text(bad)
    line, col = _line_col(bad, f'"{field}":', f'"{version}":{{')
    before = files(tmp_path / "out")
    args = ["build", str(seed), "-o", str(tmp_path / "out")] + (["--locked"] if locked else [])
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1, result.output
    assert result.output.startswith(
        f"snav.lock:{line}:{col}: error[SNV112] snav.lock is not a valid lock: version "
        f"'{version}': {message}"
    ), result.output
    assert files(tmp_path / "out") == before
    assert lock.read_text() == bad


def _edit_a_version(seed: Path) -> tuple[str, str, int, int]:
    """A locked value edited by hand, within bounds: (version, new text, line, column)."""
    lock = seed / "snav.lock"
    text = lock.read_text()
    versions = text.index('"versions"')
    found = re.compile(r'^"([0-9a-f]{16})":\{.*"criticality":([1-5])', re.M).search(text, versions)
    version, value = found.group(1), found.group(2)
    at = text.index('"criticality":', found.start())
    new = "3" if value != "3" else "4"
    edited = text[:at] + f'"criticality":{new}' + text[at + len('"criticality":') + 1 :]
    lock.write_text(edited)
    line = edited.count("\n", 0, found.start()) + 1
    return version, edited, line, 1


def test_lock_edited_by_hand_is_an_error_under_locked_SNV119_7(seed, tmp_path, monkeypatch):
    monkeypatch.chdir(seed)
    version, edited, line, col = _edit_a_version(seed)
    before = files(tmp_path / "out")
    result = CliRunner().invoke(cli, ["build", str(seed), "-o", str(tmp_path / "out"), "--locked"])
    assert result.exit_code == 1
    assert result.output.startswith(
        f"snav.lock:{line}:{col}: error[SNV119] version '{version}' of snav.lock does not match "
        "its content: the lock was edited by hand; run `snavc build` without --locked"
    ), result.output
    assert files(tmp_path / "out") == before
    assert (seed / "snav.lock").read_text() == edited


def test_lock_edited_by_hand_is_not_trusted_SNV119_7(seed, tmp_path, monkeypatch):
    """Without --locked: a warning, the version's services take their templates'
    current values, and the lock is written again as snavc made it."""
    monkeypatch.chdir(seed)
    original = lock_of(seed)
    _, clean, _ = reference(seed, tmp_path, "clean")
    version, _, line, col = _edit_a_version(seed)
    result = CliRunner().invoke(cli, ["validate", str(seed)])
    assert result.exit_code == 0
    assert result.output.startswith(
        f"snav.lock:{line}:{col}: warning[SNV119] version '{version}' of snav.lock does not "
        "match its content: the lock was edited by hand and is not trusted"
    ), result.output
    assert run("build", seed, "-o", tmp_path / "out") == 0
    assert lock_of(seed) == original  # the seed's services all have their current values
    got = outputs(tmp_path / "out")
    assert got["effective.json"] == clean["effective.json"]
    assert b"SNV119" in got["diagnostics.json"]
    assert_next_build_is_clean(seed, tmp_path / "out", tmp_path)


def test_lock_with_flipped_bits_is_refused_or_repaired_7(seed, tmp_path):
    """Any bit of snav.lock flipped: SNV112 (nothing written, the lock left as it is for
    the user to restore), or a build whose configuration is the right one and whose
    lock is written again as it was."""
    out = tmp_path / "out"
    _, clean, _ = reference(seed, tmp_path, "clean")
    lock = seed / "snav.lock"
    original = lock.read_bytes()
    outcomes = set()
    for bit in bits(lock, 24, seed=7):
        flip(lock, bit)
        damaged, before = lock.read_bytes(), files(out)
        code = run("build", seed, "-o", out)
        outcomes.add(code)
        if code == 1:
            assert lock.read_bytes() == damaged and files(out) == before, bit
        else:
            assert code == 0, bit
            assert outputs(out)["effective.json"] == clean["effective.json"], bit
            assert lock.read_bytes() == original, bit
        assert leftovers(tmp_path, seed) == []
        lock.write_bytes(original)
    assert outcomes == {0, 1}
    assert_next_build_is_clean(seed, out, tmp_path)


def test_lock_deleted_after_damage_starts_afresh(seed, tmp_path):
    (seed / "snav.lock").write_bytes(b'{"format":1,')
    assert run("build", seed, "-o", tmp_path / "out") == 1
    (seed / "snav.lock").unlink()
    assert_next_build_is_clean(seed, tmp_path / "out", tmp_path)


def test_cache_deleted_is_rebuilt(seed, tmp_path):
    """A user may delete .snavc/ at any time: the next run rebuilds it."""
    shutil.rmtree(seed / ".snavc")
    assert_next_build_is_clean(seed, tmp_path / "out", tmp_path)


def test_outputs_whose_time_cannot_be_set_are_built_and_checked_by_hash(
    seed, tmp_path, monkeypatch
):
    """A file system that refuses to set a file's times (emit.backdate): the build is
    written all the same, its outputs are not vouched for, and the next build checks
    them by their hash and patches them."""
    import errno

    def refuse(*args, **kwargs):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(emit.os, "utime", refuse)
    touch(seed)
    assert build(seed, tmp_path / "out").incremental
    assert read_state(seed.resolve())["verified"] is None
    monkeypatch.undo()
    touch(seed)
    _, expected, _ = reference(seed, tmp_path)
    assert build(seed, tmp_path / "out").incremental
    assert outputs(tmp_path / "out") == expected
    assert read_state(seed.resolve())["verified"] is not None
