"""The snapshot cache answers queries exactly as a full compile, and is never stale."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from snavc.cli import cli
from snavc.engine import cache
from snavc.engine.pipeline import compile_repo, quick_compile

SEED = Path(__file__).resolve().parents[1] / "samples" / "seed"

QUERIES = [
    ["query", "selectable", "--as", "stephanie", "--at", "client1-site2", "--kind", "box"],
    ["query", "selectable", "--as", "francois", "--at", "client1", "--kind", "service-template"],
    ["query", "list", "--at", "client1", "--kind", "contact", "--with-subordinates"],
    ["query", "can-edit", "--as", "stephanie", "srv-web-01"],  # L3
    ["query", "can-edit", "--as", "stephanie", "srv-file-02/cpu"],
    ["query", "can-edit", "--as", "francois", "webshop"],
    ["explain", "srv-web-01"],
    ["explain", "webshop"],
    ["explain", "service-template/cpu", "--at", "client1-site2", "--as", "stephanie"],
    ["query", "can-edit", "--as", "stephanie", "no-such-thing"],
]


@pytest.fixture
def seed(tmp_path) -> Path:
    copy = tmp_path / "seed"
    shutil.copytree(SEED, copy, ignore=shutil.ignore_patterns(".snavc"))
    return copy


def run(args, repo, monkeypatch, cached: bool):
    if cached:
        monkeypatch.delenv("SNAVC_NO_CACHE", raising=False)
    else:
        monkeypatch.setenv("SNAVC_NO_CACHE", "1")
    argv = (
        [*args[:2], str(repo), *args[2:]] if args[0] == "query" else [args[0], str(repo), *args[1:]]
    )
    result = CliRunner().invoke(cli, argv)
    return result.exit_code, result.output


def test_a_clean_run_leaves_a_snapshot_that_queries_use(seed, monkeypatch):
    monkeypatch.delenv("SNAVC_NO_CACHE", raising=False)
    assert quick_compile(seed) is None  # nothing yet
    result, _ = compile_repo(seed)
    assert result.ok
    assert (seed / cache.CACHE_DIR / cache.SNAPSHOT).is_file()
    assert quick_compile(seed) is not None


@pytest.mark.parametrize("args", QUERIES, ids=lambda a: " ".join(a))
def test_queries_from_the_snapshot_answer_as_a_full_compile(seed, monkeypatch, args):
    full = run(args, seed, monkeypatch, cached=False)
    monkeypatch.delenv("SNAVC_NO_CACHE", raising=False)
    compile_repo(seed)  # leaves the snapshot
    assert quick_compile(seed) is not None
    assert run(args, seed, monkeypatch, cached=True) == full


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text() + text)


@pytest.mark.parametrize(
    "change",
    [
        lambda repo: _append(repo / "clients/client1/contacts.yaml", "# a comment\n"),
        lambda repo: (repo / "snav.lock").write_text((repo / "snav.lock").read_text() + "\n"),
        lambda repo: (repo / "new.yaml").write_text("kind: Contact\nid: x\nname: X\nat: partner\n"),
        lambda repo: (repo / "clients/client2/contacts.yaml").unlink(),
    ],
    ids=["edited", "lock", "added", "removed"],
)
def test_any_change_of_an_input_invalidates_the_snapshot(seed, monkeypatch, change):
    monkeypatch.delenv("SNAVC_NO_CACHE", raising=False)
    compile_repo(seed)
    assert quick_compile(seed) is not None
    change(seed)
    assert quick_compile(seed) is None


def test_a_repository_with_errors_leaves_no_snapshot(seed, monkeypatch):
    monkeypatch.delenv("SNAVC_NO_CACHE", raising=False)
    (seed / "bad.yaml").write_text("kind: Contact\nid: x\nat: partner\n")  # no name
    result, _ = compile_repo(seed)
    assert not result.ok
    assert not (seed / cache.CACHE_DIR).exists()


def test_a_broken_snapshot_is_ignored(seed, monkeypatch):
    monkeypatch.delenv("SNAVC_NO_CACHE", raising=False)
    compile_repo(seed)
    (seed / cache.CACHE_DIR / cache.SNAPSHOT).write_bytes(b"not marshal")
    assert quick_compile(seed) is None
    code, output = run(QUERIES[0], seed, monkeypatch, cached=True)
    assert code == 0 and "box-client1" in output


def test_no_cache_means_no_snapshot(seed, monkeypatch):
    monkeypatch.setenv("SNAVC_NO_CACHE", "1")
    compile_repo(seed)
    assert not (seed / cache.CACHE_DIR).exists()
    assert quick_compile(seed) is None


def test_the_snapshot_query_loads_one_equipment_only(seed, monkeypatch):
    monkeypatch.delenv("SNAVC_NO_CACHE", raising=False)
    compile_repo(seed)
    result, res = quick_compile(seed)
    assert "Equipment" not in res.tree.objects or not res.tree.objects["Equipment"]
    from snavc.query import can_edit

    answer = can_edit(res, "stephanie", "srv-web-01")
    assert not answer["editable"]
    assert list(res.tree.objects["Equipment"]) == ["srv-web-01"]
    assert json.dumps(answer)  # plain data


def test_the_snapshot_query_makes_the_boxes_of_its_path_only(seed, monkeypatch):
    """cache.LazyKind: the contacts and boxes of a snapshot become models when asked for."""
    from snavc.query import selectable

    monkeypatch.delenv("SNAVC_NO_CACHE", raising=False)
    result, full = compile_repo(seed)
    _, res = quick_compile(seed)
    boxes = res.tree.objects["Box"]
    assert isinstance(boxes, cache.LazyKind) and not boxes._made
    answer = selectable(res, "stephanie", "client1-site2", "box")
    assert answer == selectable(full, "stephanie", "client1-site2", "box")
    node = res.tree.nodes["client1-site2"]
    on_path = {b for n in node.path for b in boxes if boxes._at[b] == n.id}
    assert set(boxes._made) == on_path != set(boxes)
    assert not res.tree.objects["Contact"]._made


# -- file stats: unchanged files are not read again (cache.hash_files) ----------------


def _hash_reads(seed, monkeypatch) -> tuple[dict, list[str]]:
    """The hashes of ``seed``'s files, and the files that had to be read for them."""
    from snavc.engine.load import discover, relpath

    files, _ = discover(seed)
    files = [p for p in files if p.name != "snav.yaml"]
    rels = [relpath(seed.resolve(), p) for p in files]
    read = []
    real = cache.content_hash
    monkeypatch.setattr(cache, "content_hash", lambda raw: read.append(raw) or real(raw))
    hashes = {}
    cache.hash_files(seed.resolve(), files, rels, hashes)
    monkeypatch.setattr(cache, "content_hash", real)
    return hashes, read


def test_files_unchanged_since_their_record_are_not_read(seed, monkeypatch):
    monkeypatch.delenv("SNAVC_NO_CACHE", raising=False)
    monkeypatch.setattr(cache, "RACY_NS", 0)  # no file of the test is old enough
    compile_repo(seed)
    hashes, read = _hash_reads(seed, monkeypatch)
    assert read == [] and hashes


def test_a_file_changed_behind_an_unchanged_size_and_mtime_is_read(seed, monkeypatch):
    """The change time gives it away: a user can set the modification time back, not it."""
    import os

    monkeypatch.delenv("SNAVC_NO_CACHE", raising=False)
    monkeypatch.setattr(cache, "RACY_NS", 0)
    compile_repo(seed)
    before, _ = _hash_reads(seed, monkeypatch)
    path = next(p for p in sorted(seed.rglob("*.yaml")) if p.name != "snav.yaml")
    st = path.stat()
    text = path.read_text()
    path.write_text(text.replace("a", "b", 1) if "a" in text else text.replace("e", "f", 1))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size and path.stat().st_mtime_ns == st.st_mtime_ns
    after, read = _hash_reads(seed, monkeypatch)
    assert len(read) == 1
    rel = path.relative_to(seed).as_posix()
    assert after[rel] != before[rel]


def test_a_record_taken_in_the_same_tick_as_a_change_is_not_trusted(seed, monkeypatch):
    """Racy files (changed within RACY_NS of their record) are read every time."""
    monkeypatch.delenv("SNAVC_NO_CACHE", raising=False)
    monkeypatch.setattr(cache, "RACY_NS", 3600 * 10**9)
    compile_repo(seed)
    hashes, read = _hash_reads(seed, monkeypatch)
    assert len(read) == len(hashes)


def test_packed_map_is_the_mapping_it_packs():
    """cache.PackedMap (the build state's 100k-entry maps as one bytes object): every
    key found with its value, absent ones not, in any order of insertion; a value with
    a NUL keeps the plain dict."""
    import marshal
    import random

    rng = random.Random(7)
    words = [f"eq-{rng.randrange(10**6):06d}" for _ in range(500)] + ["", "a", "é-ü", "z" * 70]
    mapping = {w: rng.choice(["p0/a.yaml", "p0/b c.yaml", "H1", "ünï"]) for w in words}
    packed = marshal.loads(marshal.dumps(cache.pack(mapping)))
    assert not isinstance(packed, dict)
    got = cache.unpack(packed)
    assert len(got) == len(mapping) and dict(got) == mapping and got.to_dict() == mapping
    for key in [*mapping, "eq-", "eq-9999999", "zz", "0", 7]:
        assert (key in got) == (key in mapping)
        assert got.get(key) == mapping.get(key)
    assert cache.unpack(cache.pack(got)) == got  # packed again as it is
    odd = {"H\0": "x", "a": "b"}
    assert cache.unpack(cache.pack(odd)) == odd and isinstance(cache.pack(odd), dict)


def test_vouched_records_are_taken_while_the_file_keeps_their_identity(seed, monkeypatch):
    """hash_files's ``vouched`` (plan: the files it has just linked and read): a record
    is taken unread while the file has its identity, racy or not; a file written since
    (another identity) is read."""
    from snavc.engine.load import discover, relpath

    monkeypatch.delenv("SNAVC_NO_CACHE", raising=False)
    monkeypatch.setattr(cache, "RACY_NS", 3600 * 10**9)  # no record of the run's trusted
    files, _ = discover(seed)
    files = [p for p in files if p.name != "snav.yaml"]
    rels = [relpath(seed.resolve(), p) for p in files]
    vouched = {}
    for p, rel in zip(files, rels, strict=True):
        st = p.stat()
        vouched[rel] = (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, f"vouched-{rel}")
    files[0].write_text(files[0].read_text() + "# changed\n")
    read = []
    real = cache.content_hash
    monkeypatch.setattr(cache, "content_hash", lambda raw: read.append(raw) or real(raw))
    hashes = {}
    cache.hash_files(seed.resolve(), files, rels, hashes, vouched)
    assert read == [files[0].read_bytes()]
    assert hashes[rels[0]] == real(files[0].read_bytes())
    assert all(hashes[rel] == f"vouched-{rel}" for rel in rels[1:])


def test_a_packed_state_with_more_items_reads_as_one_dict():
    """state._with: a marshalled dict (version 4: shared objects referred to by
    number) with pairs added before its end reads as the dict with those items, the
    added ones last; what is not a marshalled dict is refused."""
    import marshal

    from snavc.engine.state import _with

    shared = ("a", "tuple", "shared")
    state = {"x": [shared, shared], "y": {"k": shared}, "verified": None, "n": 1.5}
    more = {"verified": {"effective.json": (1, 2, 3, 4)}, "layouts": {b"s": [shared]}}
    pieces = _with(marshal.dumps(state), more)
    assert marshal.loads(b"".join(pieces)) == {**state, **more}
    with pytest.raises(ValueError):
        _with(marshal.dumps([1, 2]), more)
