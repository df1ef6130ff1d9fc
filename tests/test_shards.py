"""A cold build resolved in shards on several processes (snavc.engine.shards) gives
the bytes of one process: outputs, snav.lock, diagnostics (with their owners) and the
build state an incremental build starts from. Sharding is forced on a small estate
(the thresholds lowered), with warnings, errors and lock changes in every shard."""

from __future__ import annotations

import json
import marshal
import os
import pickle
import shutil
import time
from pathlib import Path

import pytest

from snavc.bench.generate import generate
from snavc.engine import cache, emit, inputs, pipeline, shards
from snavc.engine.state import STATE, pack_leaves

OUTPUTS = ("effective.json", "origins.json", "diagnostics.json", "lock-report.json", ".snavc-build")
# equipment in the first, middle and last thirds of a 300-equipment estate
SPREAD = ("eq-000010", "eq-000150", "eq-000290")

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="shards need fork")


def _file_of(root: Path, eq_id: str) -> Path:
    for path in sorted(root.rglob("*.yaml")):
        if f"\nid: {eq_id}\n" in path.read_text():
            return path
    raise LookupError(eq_id)


def _set(root: Path, eq_id: str, text: str) -> None:
    """Add the lines ``text`` to equipment ``eq_id``'s document."""
    path = _file_of(root, eq_id)
    path.write_text(path.read_text().replace(f"\nid: {eq_id}\n", f"\nid: {eq_id}\n{text}", 1))


def _warn(root: Path, eq_id: str) -> None:
    # H8: a check period that does not cover the availability period (a warning)
    _set(root, eq_id, "periods: {check: business-hours, availability: 24x7}\n")


def _break(root: Path, eq_id: str) -> None:
    # S4: settings of a unit service the equipment does not have (an error)
    _set(root, eq_id, "service_settings:\n  no-such-service: {instructions: see the wiki}\n")


@pytest.fixture(scope="module")
def estate(tmp_path_factory) -> Path:
    """300 equipment, a warning in each third, built once (single process) so that it
    has a lock; then the lock loses entries and a template changes in each third."""
    root = tmp_path_factory.mktemp("shards") / "estate"
    generate(root, 300)
    for eq_id in SPREAD:
        _warn(root, eq_id)
    out = root.parent / "first-out"
    os.environ["SNAVC_NO_CACHE"] = "1"
    try:
        assert pipeline.build(root, out).status == "written"
    finally:
        del os.environ["SNAVC_NO_CACHE"]
    shutil.rmtree(out)
    lock = json.loads((root / "snav.lock").read_text())
    dropped = [
        s for s in lock["services"] if s.startswith(("eq-000011/", "eq-000151/", "eq-000291/"))
    ]
    assert dropped
    for sid in dropped:  # services new again: lock entries added in each third
        del lock["services"][sid]
    (root / "snav.lock").write_text(emit.dumps(lock))
    text = "".join(p.read_text() for p in sorted(root.rglob("*.yaml")))
    for first in (12, 152, 282):  # and equipment removed (T5: entries gone)
        eq_id = next(e for n in range(first, first + 10) if text.count(e := f"eq-{n:06d}") == 1)
        path = _file_of(root, eq_id)
        doc = path.read_text()
        start = doc.index(f"\nid: {eq_id}\n")
        start = doc.rindex("---", 0, start) if "---" in doc[:start] else 0
        end = doc.find("\n---", start + 4)
        path.write_text(doc[:start] + (doc[end + 1 :] if end >= 0 else ""))
    return root


@pytest.fixture
def sharded(monkeypatch):
    """Shard every build of more than a few equipment, into ``jobs`` processes."""

    def force(jobs: int) -> None:
        monkeypatch.setattr(shards, "MIN_EQUIPMENT", 2)
        monkeypatch.setattr(shards, "MIN_PER_SHARD", 1)
        monkeypatch.setenv("SNAVC_JOBS", str(jobs))

    return force


def _build(estate: Path, tmp: Path, name: str, **kw):
    """A cold build of a copy of ``estate``: (built, outputs, lock, state)."""
    repo = tmp / f"{name}-repo"
    shutil.copytree(estate, repo, ignore=shutil.ignore_patterns(".snavc"))
    out = tmp / f"{name}-out"
    built = pipeline.build(repo, out, **kw)
    outputs = {n: (out / n).read_bytes() for n in OUTPUTS if (out / n).exists()}
    state = cache.read_sealed(repo / cache.CACHE_DIR / "build" / STATE)
    if state is not None:
        state = marshal.loads(marshal.dumps(state))
        # the linked outputs' and the lock's inode and times (the outputs' vouched for
        # as written: emit.backdate), and the snapshot's key (made with the lock's):
        # the rest is content
        assert state["verified"] == state["outputs"]
        state.pop("verified")
        state.pop("outputs")
        state.pop("snapshot")
        state["hashes"].pop("snav.lock")
        # each file's records are marshalled apart (state.pack_leaves): marshal's bytes
        # depend on how the objects are shared in memory, the records they hold do not
        state["leaves"] = {f: marshal.loads(b) for f, b in state["leaves"].items()}
    assert sorted(p.name for p in tmp.iterdir() if p.name.startswith(".")) == []
    if out.exists():
        assert [p.name for p in out.iterdir() if p.name.startswith(".")] == [".snavc-build"]
    return built, outputs, (repo / "snav.lock").read_bytes(), state


@pytest.mark.parametrize("jobs", [2, 3, 7])
def test_sharded_build_is_byte_identical(estate, tmp_path, sharded, monkeypatch, jobs):
    monkeypatch.setenv("SNAVC_JOBS", "1")
    one = _build(estate, tmp_path, "one")
    sharded(jobs)
    calls = []
    real = shards._Shard.__init__

    def spy(self, res, ids, *rest):
        calls.append((ids[0], ids[-1]))
        real(self, res, ids, *rest)

    monkeypatch.setattr(shards._Shard, "__init__", spy)
    many = _build(estate, tmp_path, "many")
    assert len(calls) == jobs - 1
    assert one[0].status == many[0].status == "written"
    assert one[0].counts == many[0].counts
    assert one[0].lock_written and many[0].lock_written
    assert many[1] == one[1]
    assert many[2] == one[2]  # snav.lock
    assert many[3] == one[3]  # okeys, lock uses, diagnostics and their owners, layouts
    found = json.loads(many[1]["diagnostics.json"])
    assert [d["code"] for d in found] == ["SNV448"] * 3
    report = json.loads(many[1]["lock-report.json"])
    assert report["removed"] > 0 and any(t["new"] for t in report["templates"].values())


def test_each_shard_makes_the_records_of_its_equipment(estate, tmp_path, sharded):
    """The snapshot's record of each equipment (inputs.leaf_entry: its unit services and
    the configuration it reads) is made by the process that resolves it, before its
    model leaves the tree (inputs.Leaves): the state keeps what one process makes of
    every equipment before the rules."""
    sharded(3)
    state = _build(estate, tmp_path, "many")[3]
    result = inputs.check(tmp_path / "many-repo")  # every record made here, at once
    assert all(type(i) is tuple for f in result.snapshot["files"].values() for i in f)
    expected = pack_leaves(result.snapshot["files"], result.snapshot["links"])
    expected["leaves"] = {f: marshal.loads(b) for f, b in expected["leaves"].items()}
    expected = marshal.loads(marshal.dumps(expected))
    assert sum(len(items) for items, _ in expected["leaves"].values()) > 250
    assert {k: state[k] for k in expected} == expected


def test_leaves_are_filled_in_their_file_order():
    """A deferred snapshot holds each equipment's ID where its record goes."""
    leaves = inputs.Leaves({})
    leaves.update(b=("Equipment", "b"), a=("Equipment", "a"))
    snapshot = {"files": {"f.yaml": ["a", ("UserService", "u"), "b"], "g.yaml": []}}
    inputs.fill_leaves(snapshot, leaves)
    assert snapshot["files"] == {
        "f.yaml": [("Equipment", "a"), ("UserService", "u"), ("Equipment", "b")],
        "g.yaml": [],
    }


@pytest.mark.parametrize("reapply", [(), ("ping",)])
def test_a_changed_template_in_every_shard(estate, tmp_path, sharded, monkeypatch, reapply):
    """T5 across shards: a partner's override changed after the lock was written, its
    services keep their locked values (not applied) or take the new ones (--reapply)."""
    changed = tmp_path / "changed"
    shutil.copytree(estate, changed)
    partner = changed / "p0" / "partner.yaml"
    text = partner.read_text()
    old = "template: ping\nat: p0\ncheck_interval: 30\n"
    assert old in text
    partner.write_text(text.replace(old, "template: ping\nat: p0\ncheck_interval: 45\n"))
    monkeypatch.setenv("SNAVC_JOBS", "1")
    one = _build(changed, tmp_path, "one", reapply=reapply)
    sharded(3)
    many = _build(changed, tmp_path, "many", reapply=reapply)
    assert one[0].status == many[0].status == "written"
    assert many[1:] == one[1:]
    stats = json.loads(many[1]["effective.json"])["lock"]["ping"]
    report = json.loads(many[1]["lock-report.json"])["templates"].get("ping", {})
    if reapply:
        assert report["reapplied"] > 0 and stats["not_applied"] == 0
    else:
        assert stats["not_applied"] > 0


def test_errors_of_every_shard_are_reported(estate, tmp_path, sharded, monkeypatch):
    broken = tmp_path / "broken"
    shutil.copytree(estate, broken)
    for eq_id in SPREAD:
        _break(broken, eq_id)
    monkeypatch.setenv("SNAVC_JOBS", "1")
    one = _build(broken, tmp_path, "one")
    sharded(3)
    many = _build(broken, tmp_path, "many")
    assert one[0].status == many[0].status == "errors"
    assert many[1] == one[1] == {}  # nothing written
    assert many[2] == one[2]  # nor the lock
    expected = [d.to_json() for d in one[0].result.diagnostics]
    assert [d.to_json() for d in many[0].result.diagnostics] == expected
    assert [d["code"] for d in expected].count("SNV443") == 3


def test_validate_in_shards_reports_what_one_process_does(estate, tmp_path, sharded, monkeypatch):
    """validate runs the rules in shards too (nothing written): the same diagnostics,
    warnings and errors of every shard, and no file left behind."""
    broken = tmp_path / "broken"
    shutil.copytree(estate, broken)
    for eq_id in SPREAD[:2]:
        _break(broken, eq_id)
    monkeypatch.setenv("SNAVC_NO_CACHE", "1")
    monkeypatch.setenv("SNAVC_JOBS", "1")
    one, _ = pipeline.compile_repo(broken, keep=False)
    sharded(3)
    forked = []
    real = shards._Shard.__init__

    def spy(self, res, ids, writer, k, *rest):
        forked.append(k)
        real(self, res, ids, writer, k, *rest)

    monkeypatch.setattr(shards._Shard, "__init__", spy)
    many, _ = pipeline.compile_repo(broken, keep=False)
    assert forked == [1, 2]
    expected = [d.to_json() for d in one.diagnostics]
    assert [d.to_json() for d in many.diagnostics] == expected
    codes = [d["code"] for d in expected]
    assert codes.count("SNV443") == 2 and codes.count("SNV448") == 3
    assert sorted(p.name for p in broken.iterdir() if p.name.startswith(".")) == []


@pytest.fixture
def slow_shards(monkeypatch):
    """Shards that resolve an equipment in 10 ms more than this process (a busy core):
    this process takes parts of the last shard's range, one equipment at least, and the
    lengths of the parts it was given are listed."""
    from snavc import resolve

    parent = os.getpid()
    real = resolve.resolve_equipment

    def slow(res, ids, *args, **kwargs):
        if os.getpid() != parent:
            time.sleep(0.01 * len(ids))
        return real(res, ids, *args, **kwargs)

    monkeypatch.setattr(resolve, "resolve_equipment", slow)
    monkeypatch.setattr(shards, "MIN_STEAL", 1)
    monkeypatch.setattr(shards, "BLOCK", 1)
    given: list[int] = []
    take = shards._Shard.take

    def spy(self):
        given.append(len(part := take(self)))
        return part

    monkeypatch.setattr(shards._Shard, "take", spy)
    return given


@pytest.mark.parametrize("jobs", [2, 3])
def test_the_build_takes_parts_of_a_slow_shard(
    estate, tmp_path, sharded, monkeypatch, slow_shards, jobs
):
    """Once its own range is resolved, the build takes the second half of what the last
    shard has left, again and again: the parts are written after the shard's lines,
    their records and diagnostics taken as the shard's are: the bytes of one process,
    the build state included."""
    monkeypatch.setenv("SNAVC_JOBS", "1")
    one = _build(estate, tmp_path, "one")
    sharded(jobs)
    many = _build(estate, tmp_path, "many")
    assert len(slow_shards) > 2 and slow_shards[-1] == 0  # asked until nothing was left
    assert sum(slow_shards) > 300 / jobs / 3
    assert many[1:] == one[1:]
    found = json.loads(many[1]["diagnostics.json"])
    assert [d["code"] for d in found] == ["SNV448"] * 3


def test_validate_takes_parts_of_a_slow_shard(estate, tmp_path, sharded, monkeypatch, slow_shards):
    """validate's shards write nothing: the parts taken are resolved for their
    diagnostics alone, the same as one process's."""
    broken = tmp_path / "broken"
    shutil.copytree(estate, broken)
    _break(broken, SPREAD[2])  # in the last shard's range: an error in a part taken
    monkeypatch.setenv("SNAVC_NO_CACHE", "1")
    monkeypatch.setenv("SNAVC_JOBS", "1")
    one, _ = pipeline.compile_repo(broken, keep=False)
    sharded(2)
    many, _ = pipeline.compile_repo(broken, keep=False)
    assert sum(slow_shards) > 0
    assert [d.to_json() for d in many.diagnostics] == [d.to_json() for d in one.diagnostics]
    assert "SNV443" in [d.code for d in many.diagnostics]


def test_a_slow_shard_that_dies_is_resolved_by_the_build(
    estate, tmp_path, sharded, monkeypatch, slow_shards
):
    """The last shard killed while the build takes parts of its range: what it kept is
    resolved by the build, before the parts taken: the same bytes."""
    from snavc import resolve

    monkeypatch.setenv("SNAVC_JOBS", "1")
    one = _build(estate, tmp_path, "one")
    sharded(2)
    parent = os.getpid()
    slow = resolve.resolve_equipment
    blocks = [0]

    def dying(res, ids, *args, **kwargs):
        if os.getpid() != parent:
            blocks[0] += 1
            if blocks[0] == 30:  # 0.3 s in: the build has asked for parts by then
                os._exit(9)
        return slow(res, ids, *args, **kwargs)

    monkeypatch.setattr(resolve, "resolve_equipment", dying)
    many = _build(estate, tmp_path, "many")
    assert slow_shards[0] > 0 and slow_shards[-1] == 0
    assert many[1:] == one[1:]


def test_a_shard_that_dies_is_resolved_by_the_build(estate, tmp_path, sharded, monkeypatch):
    """A shard killed (here at its second equipment) hands back nothing: the build
    resolves its equipment itself, the same bytes."""
    monkeypatch.setenv("SNAVC_JOBS", "1")
    one = _build(estate, tmp_path, "one")
    sharded(3)
    monkeypatch.setenv("SNAVC_TEST_CRASH_AT", "shard")
    answers = []
    real = shards._Shard.result

    def spy(self):
        answers.append(real(self))
        return answers[-1]

    monkeypatch.setattr(shards._Shard, "result", spy)
    many = _build(estate, tmp_path, "many")
    assert answers == [None, None]
    assert many[1:] == one[1:]


@pytest.mark.parametrize(
    ("written", "code", "taken"),
    [("half", 1, False), ("whole", 1, False), ("half", 0, False), ("whole", 0, True)],
)
def test_a_shard_answer_is_taken_whole_from_a_clean_exit_only(tmp_path, written, code, taken):
    """The answer is unpickled as it comes through the pipe (its bytes never held whole
    by the build): one cut short, or from a shard that does not exit cleanly after it,
    is no answer (the build then resolves the shard's range itself)."""
    answer = (("part", None, 0, {}), [], [], ([("k", i) for i in range(50_000)], [], 0, 0), None)
    data = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
    assert len(data) > 1 << 18  # more than a pipe holds: read while the shard writes
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the shard
        os.close(read)
        with os.fdopen(write, "wb") as f:
            f.write(data if written == "whole" else data[: len(data) // 2])
        os._exit(code)
    os.close(write)
    shard = shards._Shard.__new__(shards._Shard)
    shard.ids, shard.path, shard.pid, shard.read = [], tmp_path / "part", pid, read
    assert shard.result() == (answer if taken else None)
    assert shard.pid is None and shard.read is None


def test_a_shard_that_cannot_start_is_resolved_by_the_build(estate, tmp_path, sharded, monkeypatch):
    monkeypatch.setenv("SNAVC_JOBS", "1")
    one = _build(estate, tmp_path, "one")
    sharded(2)

    def no_fork():
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", no_fork)
    many = _build(estate, tmp_path, "many")
    assert many[1:] == one[1:]


def test_warm_builds_after_a_sharded_build(estate, tmp_path, sharded):
    """The state a sharded build leaves is the one an incremental build patches: an
    equipment edit in the last shard, built warm, gives a cold build's bytes."""
    sharded(2)
    repo = tmp_path / "repo"
    shutil.copytree(estate, repo)
    out = tmp_path / "out"
    assert pipeline.build(repo, out).status == "written"
    path = _file_of(repo, "eq-000280")
    path.write_text(path.read_text().replace("name: Server 280\n", "name: Web 280\n"))
    warm = pipeline.build(repo, out)
    assert warm.status == "written" and warm.incremental
    cold = tmp_path / "cold"
    shutil.copytree(repo, cold, ignore=shutil.ignore_patterns(".snavc"))
    os.environ["SNAVC_NO_CACHE"] = "1"
    try:
        pipeline.build(cold, tmp_path / "cold-out")
    finally:
        del os.environ["SNAVC_NO_CACHE"]
    for name in OUTPUTS[:3]:
        assert (out / name).read_bytes() == (tmp_path / "cold-out" / name).read_bytes(), name


def test_ranges_cut_by_weight():
    ids = [f"e{i}" for i in range(10)]
    assert shards.ranges(ids, [1] * 10, 2) == [ids[:5], ids[5:]]
    assert shards.ranges(ids, [9] + [1] * 9, 2) == [ids[:1], ids[1:]]
    assert shards.ranges(ids, [1] * 10, 3) == [ids[:4], ids[4:7], ids[7:]]
    assert shards.ranges(ids[:1], [1], 3) == [ids[:1], [], []]
    # this process's own range lighter (shards.FIRST): it is done first, and takes
    # from the last shard what it has left
    assert shards.ranges(ids, [1] * 10, 2, 0.25) == [ids[:2], ids[2:]]
    assert shards.ranges(ids, [1] * 10, 3, 0.5) == [ids[:2], ids[2:6], ids[6:]]
    assert 0 < shards.FIRST < 1


@pytest.mark.parametrize(("room", "forked"), [(0, 0), (1, 1), (5, 2)])
def test_shards_fit_the_available_memory(estate, tmp_path, sharded, monkeypatch, room, forked):
    sharded(3)
    monkeypatch.setattr(shards, "room", lambda: room)
    calls = []
    real = shards._Shard.__init__

    def spy(self, *args):
        calls.append(1)
        real(self, *args)

    monkeypatch.setattr(shards._Shard, "__init__", spy)
    assert _build(estate, tmp_path, "b")[0].status == "written"
    assert len(calls) == forked


def test_room_is_read_from_the_system():
    assert shards.room() >= 0


def test_jobs(monkeypatch):
    monkeypatch.setenv("SNAVC_JOBS", "1")
    assert shards.jobs() == 1
    monkeypatch.setenv("SNAVC_JOBS", "6")
    assert shards.jobs() == 6
    monkeypatch.delenv("SNAVC_JOBS")
    assert 1 <= shards.jobs() <= shards.MAX_JOBS
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1, 2, 3, 4, 5}, raising=False)
    for load, expected in ((0.2, 4), (1.0, 4), (3.4, 4), (3.6, 3), (5.0, 2), (5.6, 1), (9, 1)):
        monkeypatch.setattr(os, "getloadavg", lambda load=load: (load, 0.0, 0.0))
        assert shards.jobs() == expected, load


def _edited(lock: dict) -> None:  # a version's content edited by hand (SNV119)
    first = min(lock["versions"])
    lock["versions"][first]["check_interval"] += 1


def _invalid(lock: dict) -> None:  # a service names a version the lock lacks (SNV112)
    lock["services"][min(lock["services"])] = "0000000000000000"


def test_no_lock_reader_without_an_idle_core(estate, tmp_path, monkeypatch):
    """SNAVC_JOBS=1 (or a busy machine): the lock is read in the build's process."""
    monkeypatch.setenv("SNAVC_JOBS", "1")
    monkeypatch.setattr(inputs, "LOCK_AHEAD_BYTES", 0)
    monkeypatch.setattr(inputs, "forked", None)  # (called: a TypeError)
    assert _build(estate, tmp_path, "one")[0].status == "written"


@pytest.mark.parametrize("change", [None, _edited, _invalid, "indented"])
def test_the_lock_read_ahead(estate, tmp_path, monkeypatch, change):
    """T5: a large lock is read by a forked process while the build loads the repository
    (inputs.lock_ahead): the build, its diagnostics, the lock and the state are those
    of the lock read here, also when the lock is edited by hand, invalid or laid out
    otherwise (read here again, what is wrong said from here)."""
    repo = tmp_path / "estate"
    shutil.copytree(estate, repo)
    lock = json.loads((repo / "snav.lock").read_text())
    if callable(change):
        change(lock)
    text = json.dumps(lock, indent=2) if change == "indented" else emit.dumps(lock)
    (repo / "snav.lock").write_text(text)
    monkeypatch.setenv("SNAVC_JOBS", "1")  # one process: the lock read here
    here = _build(repo, tmp_path, "here")
    monkeypatch.setenv("SNAVC_JOBS", "2")
    monkeypatch.setattr(inputs, "LOCK_AHEAD_BYTES", 0)
    taken = []
    real = pipeline.read_lock

    def spy(repo, diags, locked=False, read=None):
        taken.append(read is not None)
        return real(repo, diags, locked, read)

    monkeypatch.setattr(pipeline, "read_lock", spy)
    ahead = _build(repo, tmp_path, "ahead")
    assert taken == [change in (None, _edited)]
    assert ahead[0].status == here[0].status
    expected = [d.to_json() for d in here[0].result.diagnostics]
    assert [d.to_json() for d in ahead[0].result.diagnostics] == expected
    assert ahead[1:] == here[1:]
    codes = {None: [], _edited: ["SNV119"], _invalid: ["SNV112"], "indented": []}[change]
    assert [c for c in (d["code"] for d in expected) if c.startswith("SNV1")] == codes


def test_a_lock_reader_that_fails_is_made_up_for(estate, tmp_path, monkeypatch):
    """The lock's reader stopped: the build reads the lock itself, the same build."""
    monkeypatch.setenv("SNAVC_JOBS", "1")
    here = _build(estate, tmp_path, "here")
    monkeypatch.setenv("SNAVC_JOBS", "2")
    monkeypatch.setattr(inputs, "LOCK_AHEAD_BYTES", 0)
    build = os.getpid()
    real = inputs._lock_in_pieces

    def dies(path):
        if os.getpid() != build:
            os._exit(9)
        return real(path)

    monkeypatch.setattr(inputs, "_lock_in_pieces", dies)
    assert _build(estate, tmp_path, "ahead")[1:] == here[1:]


def test_a_lock_reader_not_waited_for_is_stopped(estate, tmp_path, monkeypatch):
    """A build that stops before its lock (an unknown template to reapply) leaves no
    process nor descriptor behind it."""
    monkeypatch.setenv("SNAVC_JOBS", "2")
    monkeypatch.setattr(inputs, "LOCK_AHEAD_BYTES", 0)
    started = []
    real = inputs.forked

    def spy(work):
        started.append(work)
        return real(work)

    monkeypatch.setattr(inputs, "forked", spy)
    fds = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else None
    built = _build(estate, tmp_path, "b", reapply=["no-such-template"])[0]
    assert built.status == "reapply"
    assert len(started) == 1
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)
    if fds is not None:
        assert len(os.listdir("/proc/self/fd")) == fds
