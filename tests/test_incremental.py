"""The incremental build (snavc.engine.incremental) gives the bytes of a full build.

Each case builds a generated estate in full (leaving the build state in .snavc/), edits
it, and builds it again: once from the state, once in full in a copy without a cache.
effective.json, origins.json, diagnostics.json and snav.lock must be byte-identical,
and the cases meant to be patched must have been (``Built.incremental``), so that a
patch path that always falls back cannot pass.
"""

from __future__ import annotations

import os
import random
import re
import shutil
from pathlib import Path

import pytest

from snavc.bench.generate import generate
from snavc.engine import incremental
from snavc.engine.emit import (
    HashingFile,
    Lines,
    RangeFile,
    _compact,
    dumps,
    entry,
    marked_layout,
    output_digest,
)
from snavc.engine.pipeline import build

# (the marker holds the layout of the first two: the same bytes too)
OUTPUTS = ("effective.json", "origins.json", "diagnostics.json", ".snavc-build")


@pytest.fixture(scope="module")
def estate(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("estate") / "repo"
    generate(path, 300)  # 3 clients (one resale... at 10 clients), 30 sites, user services
    return path


@pytest.fixture()
def repo(estate, tmp_path, monkeypatch) -> Path:
    """A copy of the estate built once in full: the state of the next build is there."""
    monkeypatch.setenv("SNAVC_STRICT_CACHE", "1")  # a failing patch raises, not falls back
    monkeypatch.delenv("SNAVC_NO_CACHE", raising=False)
    path = tmp_path / "repo"
    shutil.copytree(estate, path)
    first = build(path, tmp_path / "first")
    assert first.status == "written" and not first.incremental
    return path


def full(repo: Path, tmp_path: Path, monkeypatch, name: str = "full") -> tuple:
    """A full build of a copy of ``repo`` without any cache: (built, out, lock bytes)."""
    copy = tmp_path / f"{name}-repo"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(repo, copy, ignore=shutil.ignore_patterns(".snavc"))
    with monkeypatch.context() as m:
        m.setenv("SNAVC_NO_CACHE", "1")
        built = build(copy, tmp_path / name)
    return built, tmp_path / name, _read(copy / "snav.lock")


def _read(path: Path) -> bytes | None:
    return path.read_bytes() if path.exists() else None


def same_as_full(repo: Path, tmp_path: Path, monkeypatch, patched: bool = True, step: int = 0):
    """Build ``repo`` (from its state) and a cache-less copy; assert the same bytes."""
    expected, full_out, full_lock = full(repo, tmp_path, monkeypatch, f"full{step}")
    out = tmp_path / f"incr{step}"
    built = build(repo, out)
    assert built.status == expected.status
    assert built.incremental is patched
    if built.status == "written":
        for name in OUTPUTS:
            assert (out / name).read_bytes() == (full_out / name).read_bytes(), name
        assert built.counts == expected.counts
    else:
        assert built.result.diagnostics == expected.result.diagnostics
    assert _read(repo / "snav.lock") == full_lock
    return built


def same_check_as_cold(repo: Path, tmp_path: Path, monkeypatch, warm: bool | None = True):
    """``validate`` of ``repo`` from its build state gives the diagnostics of a cold
    ``validate`` of a cache-less copy, and leaves the state as it was. ``warm``: whether
    it must have been checked from the state (None: either)."""
    from snavc.engine.pipeline import compile_repo
    from snavc.engine.state import read_state

    state = (repo / ".snavc" / "build" / "build.marshal").read_bytes()
    checked = incremental.rebuild(repo, None, "fast", locked=False, persist=False)
    if warm is not None:
        assert (checked is not None) is warm
    copy = tmp_path / "check-repo"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(repo, copy, ignore=shutil.ignore_patterns(".snavc"))
    with monkeypatch.context() as m:
        m.setenv("SNAVC_NO_CACHE", "1")
        cold, _ = compile_repo(copy, keep=False)
    if checked is not None:
        assert checked.result.diagnostics == cold.diagnostics
        assert checked.status == ("checked" if cold.ok else "errors")
    assert (repo / ".snavc" / "build" / "build.marshal").read_bytes() == state
    assert read_state(repo.resolve()) is not None
    return checked


def _records(repo: Path) -> dict:
    """The dependency records and their indexes in ``repo``'s build state, in a form
    that does not depend on the order they were written in."""
    import marshal

    from snavc.engine import cache
    from snavc.engine.state import read_state

    state = read_state(repo.resolve())
    assert state is not None
    kept = {k: state[k] for k in ("members", "parents")}
    kept["where"] = dict(cache.unpack(state["where"]))
    kept["snids"] = dict(cache.unpack(state["snids"]))
    kept["leaves"] = {f: marshal.loads(b) for f, b in state["leaves"].items()}
    for index in ("refs", "at"):
        kept[index] = {k: sorted(v) for k, v in state[index].items()}
    kept["counts"] = list(state["counts"])
    return kept


def same_records_as_cold(repo: Path, tmp_path: Path, name: str = "records") -> None:
    """The records a warm build left (each file's, brought up to date, and the indexes
    over them: state.update_leaves) are those a cold build of the same tree leaves."""
    copy = tmp_path / f"{name}-repo"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(repo, copy, ignore=shutil.ignore_patterns(".snavc"))
    built = build(copy, tmp_path / f"{name}-out")
    assert built.status == "written" and not built.incremental
    assert _records(repo) == _records(copy)
    assert _snapshot(repo) == _snapshot(copy)


def _snapshot(repo: Path) -> list:
    """The configuration documents of ``repo``'s snapshot (a warm build marshals again
    only the files it read: cache.by_file's ``known``)."""
    from snavc.engine import cache

    snap = cache.read(repo.resolve(), None)
    assert snap is not None
    split = cache.Split.read(snap)
    files = dict.fromkeys([*(t[0] for t in split.config), *split.blobs])
    return [t for f in files for t in sorted(split.documents_of(f), key=lambda t: t[1])]


def _query_sees_the_build(repo: Path) -> None:
    """A query from the snapshot the warm build left sees what a full compile does."""
    from snavc.engine.pipeline import compile_repo, quick_compile
    from snavc.resolve import effective_of

    quick = quick_compile(repo)
    assert quick is not None
    _, res = compile_repo(repo, snapshot=False)
    for ident in ("eq-000000", "eq-000001", "eq-000150"):
        assert effective_of(quick[1], "Equipment", ident) == res.equipment[ident]


def site_file(repo: Path, n: int = 0) -> Path:
    return sorted(repo.rglob("*-s0*.yaml"))[n]


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, count))


def equipment_doc(ident: str, at: str, template: str = "p0-linux", extra: str = "") -> str:
    return (
        f"---\nkind: Equipment\nid: {ident}\nname: New {ident}\nat: {at}\naddress: 10.9.9.9\n"
        f"template: {template}\nbox: p0-snm-0\nconfigured_by: p0-admin\n{extra}"
    )


# -- emit.Lines: a patched file is the dumps() of the patched document -----------------


def test_lines_patch_gives_the_bytes_of_dumps(tmp_path):
    rng = random.Random(3)
    path = tmp_path / "doc.json"
    for trial in range(400):
        doc = {}
        for name in rng.sample(
            ["equipment", "format", "inputs", "lock", "nodes"], rng.randint(1, 5)
        ):
            if rng.random() < 0.2:
                doc[name] = rng.choice([1, "x", [1, 2], None, {}])
            else:
                keys = [f"k{rng.randint(0, 30):02d}" for _ in range(rng.randint(0, 8))]
                doc[name] = {k: {"v": rng.randint(0, 9)} for k in keys}
        path.write_text(dumps(doc))
        layout = Lines.open(path).sections
        lines = Lines.open(path, layout if trial % 2 else None)
        for name, value in doc.items():
            if not isinstance(value, dict):
                continue
            for k, v in value.items():  # every entry is found by binary search
                assert lines.get(name.encode(), k.encode()) == entry(k, _compact(v))
            assert lines.get(name.encode(), b"k99") is None
            assert lines.get(name.encode(), b"a") is None
            for _ in range(rng.randint(0, 5)):
                k = f"k{rng.randint(0, 30):02d}"
                if rng.random() < 0.4:
                    value.pop(k, None)
                    lines.set(name.encode(), k.encode(), None)
                else:
                    value[k] = {"v": rng.randint(10, 99)}
                    lines.set(name.encode(), k.encode(), entry(k, _compact(value[k])))
        out = tmp_path / "out.json"
        with open(out, "wb") as f:
            # a plain file; ranges copied by the kernel; and hashed as they go
            target = (f, RangeFile(f), HashingFile(f))[trial % 3]
            written = lines.write(target)
            if trial % 3 == 2:
                target.stop()
        lines.close()
        assert out.read_bytes() == dumps(doc).encode(), trial
        if trial % 3 == 2:
            assert target.digest() == output_digest(out)
        assert Lines.open(out).sections == written  # the layout write() returns is right


def test_lines_refuses_a_layout_that_does_not_fit(tmp_path):
    path = tmp_path / "doc.json"
    path.write_text(dumps({"a": {"x": 1, "y": 2}, "b": {"z": 3}}))
    layout = Lines.open(path).sections
    path.write_text(dumps({"a": {"x": 1, "yy": 2}, "b": {"z": 3}}))
    with pytest.raises(ValueError):
        Lines.open(path, layout)


# -- edits that are patched -----------------------------------------------------------


def test_no_change(repo, tmp_path, monkeypatch):
    same_as_full(repo, tmp_path, monkeypatch)


def test_no_change_into_the_same_folder_writes_nothing(repo, tmp_path, monkeypatch):
    """Nothing read changed and OUT holds the last build: OUT is left as it is (the
    same files, not a copy); a file added there, or one of its files replaced, means
    it is written again, as a cold build would (linked, not copied)."""
    out = tmp_path / "same"
    build(repo, out)
    before = {p.name: p.stat().st_ino for p in out.iterdir()}
    built = same_as_full(repo, tmp_path, monkeypatch)  # (into another folder: linked)
    assert built.incremental
    again = build(repo, out)
    assert again.incremental and again.counts == built.counts
    assert {p.name: p.stat().st_ino for p in out.iterdir()} == before
    linked = repo / ".snavc" / "build" / "effective.json"
    assert (out / "effective.json").stat().st_ino == linked.stat().st_ino
    (out / "stray.txt").write_text("x")
    (out / "diagnostics.json").write_text("[]\n\n")
    assert build(repo, out).incremental
    assert sorted(p.name for p in out.iterdir()) == sorted(before)
    expected = tmp_path / "full0"
    for name in OUTPUTS:
        assert (out / name).read_bytes() == (expected / name).read_bytes(), name
    # the state's record of its outputs was taken again: the next build is warm too
    edit(site_file(repo), "check_interval: 30", "check_interval: 31")
    same_as_full(repo, tmp_path, monkeypatch, step=1)


def test_no_change_into_another_file_system_copies(repo, tmp_path, monkeypatch):
    """OUT on another file system than the state (no hard link across them: EXDEV):
    the previous outputs are copied there, and the build stays warm."""
    import errno

    def no_link(src, dst, *args, **kwargs):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", no_link)
    built = same_as_full(repo, tmp_path, monkeypatch)
    assert built.incremental


def test_explicit_value_of_a_unit_service(repo, tmp_path, monkeypatch):
    edit(site_file(repo), "check_interval: 30", "check_interval: 31")
    same_as_full(repo, tmp_path, monkeypatch)


def test_criticality_everywhere_in_a_file(repo, tmp_path, monkeypatch):
    edit(site_file(repo, 3), "criticality: 2", "criticality: 1", -1)
    same_as_full(repo, tmp_path, monkeypatch)


def test_equipment_removed(repo, tmp_path, monkeypatch):
    """T5: its services leave the lock; U1: the user service naming it is re-resolved
    (and, naming a service that is gone, fails: the full build reports it)."""
    path = site_file(repo, 1)
    docs = path.read_text().split("---\n")
    last = docs[-1]
    ident = re.search(r"^id: (\S+)", last, re.M).group(1)
    path.write_text("---\n".join(docs[:-1]))
    portal_names_it = any(ident in p.read_text() for p in repo.rglob("client.yaml"))
    built = same_as_full(repo, tmp_path, monkeypatch, patched=not portal_names_it)
    assert built.status == ("errors" if portal_names_it else "written")


def test_equipment_added_enters_the_lock(repo, tmp_path, monkeypatch):
    path = site_file(repo, 2)
    at = re.search(r"^id: (\S+)", path.read_text(), re.M).group(1)
    with path.open("a") as f:
        f.write(equipment_doc("eq-new-1", at))
    built = same_as_full(repo, tmp_path, monkeypatch)
    assert built.lock_written
    same_records_as_cold(repo, tmp_path)


def test_equipment_template_changed(repo, tmp_path, monkeypatch):
    """Its template's services go (and leave the lock), another's come."""
    path = site_file(repo, 4)
    edit(path, "template: p0-linux", "template: windows-server")
    same_as_full(repo, tmp_path, monkeypatch)


def test_service_origins_no_longer_used_go(repo, tmp_path, monkeypatch):
    """origins.json keeps the origins of the services that exist: a site whose every
    equipment loses the template giving 'memory' loses the origin of its memory."""
    path = next(repo.rglob("p0-c00000-s02.yaml"))
    text = path.read_text()
    for template in ("p0-linux", "windows-server"):
        text = text.replace(f"template: {template}\n", "template: network-switch\n")
    path.write_text(text)
    same_as_full(repo, tmp_path, monkeypatch)
    services = (tmp_path / "incr0" / "origins.json").read_text()
    assert "memory@p0+p0-c00000-s02/" not in services


def test_equipment_moved_to_another_site(repo, tmp_path, monkeypatch):
    path = site_file(repo, 0)
    other = re.search(r"^id: (\S+)", site_file(repo, 5).read_text(), re.M).group(1)
    here = re.search(r"^id: (\S+)", path.read_text(), re.M).group(1)
    text = path.read_text()
    i = text.index(f"at: {here}", text.index("kind: Equipment"))
    path.write_text(text[:i] + f"at: {other}" + text[i + len(f"at: {here}") :])
    same_as_full(repo, tmp_path, monkeypatch)
    same_records_as_cold(repo, tmp_path)


def test_new_file_of_equipment(repo, tmp_path, monkeypatch):
    at = re.search(r"^id: (\S+)", site_file(repo, 6).read_text(), re.M).group(1)
    (repo / "p0" / "more.yaml").write_text(
        equipment_doc("eq-new-2", at).removeprefix("---\n")
        + equipment_doc("eq-new-3", at, "windows-server", "periods:\n  check: 24x7\n")
    )
    same_as_full(repo, tmp_path, monkeypatch)
    same_records_as_cold(repo, tmp_path)


def test_equipment_moved_to_another_file_and_a_file_removed(repo, tmp_path, monkeypatch):
    """The records are kept per file: an equipment whose document moves to another file
    (its parents and product ID with it), a new file of equipment, then that file
    removed, leave the records and indexes a cold build leaves."""
    source, target = site_file(repo, 3), site_file(repo, 7)
    docs = source.read_text().split("---\n")
    moved = next(d for d in docs if "servicenav_id:" in d and "kind: Equipment" in d)
    source.write_text("---\n".join(d for d in docs if d is not moved))
    target.write_text(target.read_text().rstrip("\n") + "\n---\n" + moved)
    same_as_full(repo, tmp_path, monkeypatch, step=0)
    same_records_as_cold(repo, tmp_path, "r0")
    at = re.search(r"^id: (\S+)", site_file(repo, 6).read_text(), re.M).group(1)
    more = repo / "p0" / "more.yaml"
    more.write_text(equipment_doc("eq-new-4", at) + equipment_doc("eq-new-5", at))
    same_as_full(repo, tmp_path, monkeypatch, step=1)
    same_records_as_cold(repo, tmp_path, "r1")
    more.unlink()
    same_as_full(repo, tmp_path, monkeypatch, step=2)
    same_records_as_cold(repo, tmp_path, "r2")


def test_inputs_hashed_in_a_child_process(repo, tmp_path, monkeypatch):
    """At 100k equipment the inputs are found and hashed by a forked process while the
    build reads its state (inputs.hashed_inputs_ahead; here, whatever the size): the
    same builds, warm, and a change the child cannot say (a file that is not a regular
    file) found again here and reported."""
    from snavc.engine import inputs

    monkeypatch.setattr(inputs, "AHEAD_BYTES", 0)
    edit(site_file(repo, 2), "check_interval: 30", "check_interval: 33")
    same_as_full(repo, tmp_path, monkeypatch, step=0)
    more = repo / "p0" / "more.yaml"
    at = re.search(r"^id: (\S+)", site_file(repo, 6).read_text(), re.M).group(1)
    more.write_text(equipment_doc("eq-new-6", at))
    same_as_full(repo, tmp_path, monkeypatch, step=1)
    more.unlink()
    os.mkfifo(more)
    built = build(repo, tmp_path / "fifo")
    assert not built.incremental and built.status == "errors"
    assert "SNV115" in [d.code for d in built.result.diagnostics]


def test_snapshot_read_while_the_child_hashes(repo, tmp_path, monkeypatch):
    """While the child still hashes the inputs, the build reads the snapshot (design.md
    "Re-resolving and writing"): the same builds, edited or not, as when it reads the
    snapshot once the child has answered."""
    from snavc.engine import inputs

    monkeypatch.setattr(inputs, "AHEAD_BYTES", 0)
    forked = inputs._in_child
    asked = []

    def busy_child(work):
        wait = forked(work)
        wait.ready = lambda: asked.append(True) and False  # (never seen done)
        return wait

    monkeypatch.setattr(inputs, "_in_child", busy_child)
    read = []
    real_read = incremental.cache.read
    monkeypatch.setattr(
        incremental.cache, "read", lambda *a, **k: read.append(a) or real_read(*a, **k)
    )
    edit(site_file(repo), "+33 1 00 00 00 00", "+33 1 00 00 00 01")
    same_as_full(repo, tmp_path, monkeypatch, step=0)
    assert asked and read
    same_as_full(repo, tmp_path, monkeypatch, step=1)  # (nothing changed since)


def test_user_service_members_changed(repo, tmp_path, monkeypatch):
    """A user service is the last document of client.yaml: the others keep their lines."""
    path = sorted(repo.rglob("client.yaml"))[0]
    edit(path, "eq-000001/http-front, ", "")
    same_as_full(repo, tmp_path, monkeypatch)
    same_records_as_cold(repo, tmp_path)


def test_successive_patches(repo, tmp_path, monkeypatch):
    """The state a patched build leaves is right for the next one."""
    edit(site_file(repo), "check_interval: 30", "check_interval: 32")
    same_as_full(repo, tmp_path, monkeypatch, step=1)
    path = site_file(repo, 2)
    at = re.search(r"^id: (\S+)", path.read_text(), re.M).group(1)
    with path.open("a") as f:
        f.write(equipment_doc("eq-new-4", at))
    same_as_full(repo, tmp_path, monkeypatch, step=2)
    edit(path, "template: p0-linux", "template: windows-server", -1)
    same_as_full(repo, tmp_path, monkeypatch, step=3)


def test_lock_counts_after_a_first_build_without_lock(repo, tmp_path, monkeypatch):
    """T5: the first build locks every service ("new"); the next, patched, counts them
    against the lock the first one wrote, as a full build does."""
    (repo / "snav.lock").unlink()
    build(repo, tmp_path / "relock")  # a full build: the lock changed under the state
    edit(site_file(repo), "check_interval: 30", "check_interval: 33")
    same_as_full(repo, tmp_path, monkeypatch)


# -- edits that need a full build ---------------------------------------------------------


def test_configuration_document_changed(repo, tmp_path, monkeypatch):
    """A contact's phone (issue 14: configuration edits are incremental too)."""
    edit(site_file(repo), "+33 1 00 00 00 00", "+33 1 00 00 00 01")
    same_as_full(repo, tmp_path, monkeypatch)


def test_a_contact_of_an_unchanged_file_reached_through_its_user(repo, tmp_path, monkeypatch):
    """Contacts and boxes of unchanged files are made when first read (cache.LazyKind):
    what refers to an edited object is found in their documents. A site's desk names
    the client's operator as its user; the operator is edited (another file): the
    desk is reached, and the equipment that notify it are resolved again (a third of
    this small estate: the cut-off to a cold build is lifted)."""
    monkeypatch.setattr(incremental, "MAX_DIRTY", 1.0)
    client = repo / "p0" / "p0-c00000" / "client.yaml"
    site = repo / "p0" / "p0-c00000" / "p0-c00000-s00.yaml"
    edit(site, "at: p0-c00000-s00\nphone:", "at: p0-c00000-s00\nuser: p0-c00000-operator\nphone:")
    same_as_full(repo, tmp_path, monkeypatch)
    seen = []

    def spy(*args):
        found = reach(*args)
        seen.append(found[0])
        return found

    reach = incremental._reach
    monkeypatch.setattr(incremental, "_reach", spy)
    edit(client, "role: client-operator", "role: client-operator\nname: The operator")
    same_as_full(repo, tmp_path, monkeypatch, step=1)
    assert "Contact/p0-c00000-s00-desk" in seen[0]


def test_a_box_made_shared_at_a_site_is_warned_of(repo, tmp_path, monkeypatch):
    """B3, checked again on the boxes an edit reached only: the warning comes, from a
    warm build (the state keeps it with its box)."""
    edit(site_file(repo), "at: p0-c00000-s00\n---", "at: p0-c00000-s00\nshared: true\n---")
    built = same_as_full(repo, tmp_path, monkeypatch)
    assert [d.code for d in built.result.diagnostics] == ["SNV413"]


def test_a_contact_id_taken_in_another_file(repo, tmp_path, monkeypatch):
    """A new contact with the ID of one of an unchanged file (whose model is not made
    until then): both go to the tree, which reports the later one in file order as a
    cold build does (the unchanged one when the copy sorts first), warm; the fix too."""
    path = site_file(repo, 1)
    before = path.read_text()
    with path.open("a") as f:
        f.write("---\nkind: Contact\nid: p0-c00000-s00-desk\nname: Desk\nat: p0-c00000-s01\n")
    built = same_as_full(repo, tmp_path, monkeypatch)
    assert built.status == "errors"
    assert [d.code for d in built.result.diagnostics] == ["SNV301"]
    assert built.result.diagnostics[0].file == str(path.relative_to(repo))
    path.write_text(before)
    first = repo / "p0" / "a-first.yaml"
    first.write_text("kind: Contact\nid: p0-c00000-s00-desk\nname: Desk\nat: p0-c00000-s00\n")
    built = same_as_full(repo, tmp_path, monkeypatch, step=1)
    assert [d.code for d in built.result.diagnostics] == ["SNV301"]
    assert built.result.diagnostics[0].file != "p0/a-first.yaml"  # (the unchanged one)
    first.unlink()
    assert same_as_full(repo, tmp_path, monkeypatch, step=2).status == "written"


def test_a_user_moved_to_no_node_is_kept_out_of_the_tree(repo, tmp_path, monkeypatch):
    """A user (made when read: cache.LazyKind) whose home is edited to an unknown node
    is out of the tree, as a cold build has it: SNV302 for its 'at', and no SNV401 for
    each object it configures."""
    monkeypatch.setattr(incremental, "MAX_DIRTY", 1.0)  # (it configures the whole estate)
    path = repo / "p0" / "partner.yaml"
    text = path.read_text()
    i = text.index("\nat: p0\n", text.index("id: p0-admin\n"))
    path.write_text(text[:i] + "\nat: p0-nowhere\n" + text[i + len("\nat: p0\n") :])
    built = same_as_full(repo, tmp_path, monkeypatch)
    assert [d.code for d in built.result.diagnostics] == ["SNV302"]


def test_an_invalid_configuration_document_is_reported_warm(repo, tmp_path, monkeypatch):
    """A contact without its name (SNV202): what refers to it is reached and linked
    again with the contact known but broken (no cascade), as a cold build has it."""
    path = site_file(repo, 1)
    text = path.read_text()
    desk = re.search(r"^kind: Contact\nid: (\S+)\nname: .*\n", text, re.M)
    path.write_text(text.replace(desk.group(0), f"kind: Contact\nid: {desk.group(1)}\n", 1))
    built = same_as_full(repo, tmp_path, monkeypatch)
    assert [d.code for d in built.result.diagnostics] == ["SNV202"]


def test_configuration_document_moved_by_a_longer_equipment(repo, tmp_path, monkeypatch):
    """Positions are part of the configuration (origins.json): a document that moves
    down a line is a change, and what depends on it is resolved again (here a client
    node: its whole subtree, a third of this small estate: above MAX_DIRTY)."""
    monkeypatch.setattr(incremental, "MAX_DIRTY", 1.0)
    path = sorted(repo.rglob("client.yaml"))[0]
    text = path.read_text()
    first = text.index("kind: Equipment") if "kind: Equipment" in text else None
    if first is None:  # client.yaml holds no equipment: push the user service down
        path.write_text(text.replace("kind: Client\n", "kind: Client\n# a comment\n", 1))
    same_as_full(repo, tmp_path, monkeypatch)


def test_error_in_an_equipment(repo, tmp_path, monkeypatch):
    """An edit that puts an equipment in error is reported from the state: the
    diagnostics of a cold build, nothing written, the state kept for the fix."""
    path = site_file(repo)
    before = path.read_text()
    edit(path, "template: p0-linux", "template: p0-linux-typo")
    built = same_as_full(repo, tmp_path, monkeypatch)
    assert built.status == "errors"
    assert "SNV302" in [d.code for d in built.result.diagnostics]
    path.write_text(before)  # fixed: patched from the state the last clean build left
    assert same_as_full(repo, tmp_path, monkeypatch, step=1).status == "written"


def test_validate_after_a_build_checks_what_changed(repo, tmp_path, monkeypatch):
    """``snavc validate`` reads the build's state: unchanged, an edit, an edit into an
    error, each with the diagnostics of a cold validate; a changed snav.yaml is
    validated in full."""
    same_check_as_cold(repo, tmp_path, monkeypatch)
    path = site_file(repo, 4)
    edit(path, "    criticality: 2", "    criticality: 3")  # (an equipment's service)
    assert same_check_as_cold(repo, tmp_path, monkeypatch).status == "checked"
    edit(path, "template: p0-linux", "template: p0-linx")
    checked = same_check_as_cold(repo, tmp_path, monkeypatch)
    assert checked.status == "errors"
    assert [d.code for d in checked.result.diagnostics] == ["SNV302"]
    with (repo / "snav.yaml").open("a") as f:
        f.write("# a comment\n")
    same_check_as_cold(repo, tmp_path, monkeypatch, warm=False)


def test_duplicate_equipment_id_across_files(repo, tmp_path, monkeypatch):
    """An equipment (then a user service) given the ID of an untouched one: that one is
    read again and the tree reports the one a cold build reports (the later in file
    order, SNV301, with the product ID it takes too), warm; the fix is warm too."""
    at = re.search(r"^id: (\S+)", site_file(repo, 6).read_text(), re.M).group(1)
    dup = repo / "p0" / "dup.yaml"
    dup.write_text(equipment_doc("eq-000000", at).removeprefix("---\n"))
    built = same_as_full(repo, tmp_path, monkeypatch)
    assert "SNV301" in [d.code for d in built.result.diagnostics]
    # sorted before the original's file: the original is the duplicate, as cold
    dup.rename(repo / "a-dup.yaml")
    assert "SNV301" in [
        d.code for d in same_as_full(repo, tmp_path, monkeypatch, step=1).result.diagnostics
    ]
    (repo / "a-dup.yaml").unlink()
    assert same_as_full(repo, tmp_path, monkeypatch, step=2).status == "written"
    client = sorted(repo.rglob("client.yaml"))[1]
    text = client.read_text()
    service = text[text.index("kind: UserService") :].split("\n---", 1)[0]
    (repo / "p0" / "dup-us.yaml").write_text(
        service.replace("name: Portal", "name: Copy of portal")
    )
    built = same_as_full(repo, tmp_path, monkeypatch, step=3)
    assert "SNV301" in [d.code for d in built.result.diagnostics]
    (repo / "p0" / "dup-us.yaml").unlink()
    assert same_as_full(repo, tmp_path, monkeypatch, step=4).status == "written"


def test_settings_changed(repo, tmp_path, monkeypatch):
    with (repo / "snav.yaml").open("a") as f:
        f.write("# a comment\n")
    same_as_full(repo, tmp_path, monkeypatch, patched=False)


def test_lock_edited_by_hand(repo, tmp_path, monkeypatch):
    lock = repo / "snav.lock"
    lock.write_bytes(lock.read_bytes().replace(b"\n", b"\n\n", 1))
    same_as_full(repo, tmp_path, monkeypatch, patched=False)


def test_output_changed_in_place(repo, tmp_path):
    """The state's copy of the outputs is checked before use."""
    linked = repo / ".snavc" / "build" / "effective.json"
    with linked.open("ab") as f:
        f.write(b" ")
    assert not build(repo, tmp_path / "again").incremental


def test_locked_and_the_lock_would_change(repo, tmp_path):
    path = site_file(repo, 2)
    at = re.search(r"^id: (\S+)", path.read_text(), re.M).group(1)
    with path.open("a") as f:
        f.write(equipment_doc("eq-new-5", at))
    built = build(repo, tmp_path / "locked", locked=True)
    assert built.status == "lock" and not built.incremental


# -- random edits ----------------------------------------------------------------------------


def test_random_edits(repo, tmp_path, monkeypatch):
    """Eight rounds of random edits to equipment, each built from the state of the last."""
    rng = random.Random(5)
    values = ["check_interval: 30", "check_interval: 60", "criticality: 2", "template: p0-linux"]
    for step in range(8):
        for _ in range(rng.randint(1, 3)):
            path = site_file(repo, rng.randrange(30))
            text = path.read_text()
            found = [v for v in values if v in text]
            if not found:
                continue
            old = rng.choice(found)
            key, _, value = old.partition(": ")
            new = {
                "check_interval": str(rng.choice([30, 45, 60, 90])),
                "criticality": str(rng.randint(1, 5)),
                "template": rng.choice(["p0-linux", "windows-server"]),
            }[key]
            path.write_text(text.replace(old, f"{key}: {new}", rng.randint(1, 3)))
        same_check_as_cold(repo, tmp_path, monkeypatch)
        same_as_full(repo, tmp_path, monkeypatch, step=step)
        same_records_as_cold(repo, tmp_path, f"r{step}")


def test_queries_after_a_patched_build_use_its_snapshot(repo, tmp_path, monkeypatch):
    """A patched build leaves the snapshot of what it built: queries answer from it, as
    a full compile does (the equipment edited included)."""
    edit(site_file(repo), "check_interval: 30", "check_interval: 34")
    assert build(repo, tmp_path / "out").incremental
    _query_sees_the_build(repo)


def test_the_layout_a_build_notes_is_that_of_its_files(repo, tmp_path):
    """A full build notes where each section of its outputs lies as it writes them; a
    patched build as it patches them. Both are what reading the files finds."""
    from snavc.engine.incremental import OUTPUTS, read_state

    for out in (tmp_path / "first", None):
        if out is None:
            edit(site_file(repo), "check_interval: 30", "check_interval: 35")
            out = tmp_path / "patched"
            assert build(repo, out).incremental
        state = read_state(repo.resolve())
        for name in OUTPUTS:
            assert state["layouts"][name] == Lines.open(out / name).sections
            # ...and what the marker gives readers (diff)
            data = (out / name).read_bytes()
            assert marked_layout(out, name, data) == Lines.open(out / name).sections


def test_a_cache_made_by_other_code_is_not_used(repo, tmp_path, monkeypatch):
    """The cache's keys hold snavc's code (version, and its source files' size and time):
    an upgrade or an edited checkout builds in full and answers queries in full."""
    from snavc.engine import cache
    from snavc.engine.pipeline import quick_compile

    monkeypatch.setattr(cache, "code", lambda: "other code")
    assert quick_compile(repo) is None
    assert not build(repo, tmp_path / "again").incremental


def test_warnings_of_the_configuration_are_carried_over(repo, tmp_path, monkeypatch):
    """A patched build reports the warnings of the configuration as a full build does
    (B3: 'shared' on a site box), in diagnostics.json and in its result."""
    path = site_file(repo, 7)
    at = re.search(r"^id: (\S+)", path.read_text(), re.M).group(1)
    (repo / "p0" / "shared-box.yaml").write_text(
        f"kind: Box\nid: odd-box\nat: {at}\nshared: true\n"
    )
    first = same_as_full(repo, tmp_path, monkeypatch)  # (a new box, warned of: warm too)
    assert [d.code for d in first.result.diagnostics] == ["SNV413"]
    edit(site_file(repo), "check_interval: 30", "check_interval: 36")
    built = same_as_full(repo, tmp_path, monkeypatch, step=1)
    assert [d.code for d in built.result.diagnostics] == ["SNV413"]


def test_host_fields_changed_in_a_file_with_parents(repo, tmp_path, monkeypatch):
    """H4-H6: a site's gateway and its children change together: patched."""
    path = site_file(repo, 3)
    gateway = re.findall(r"^parents: \[(\S+)\]", path.read_text(), re.M)[0]
    edit(path, f"id: {gateway}\nname: Server", f"id: {gateway}\nname: Gateway")
    edit(path, "category: linux-server", "category: server")
    same_as_full(repo, tmp_path, monkeypatch)
    same_records_as_cold(repo, tmp_path)


def test_a_parent_in_another_file(repo, tmp_path, monkeypatch):
    """H5: a child given a parent of another site is in error, reported from the state."""
    other = re.findall(r"^parents: \[(\S+)\]", site_file(repo, 4).read_text(), re.M)[0]
    path = site_file(repo, 3)
    edit(path, "parents: [", f"parents: [{other}, ")
    built = same_as_full(repo, tmp_path, monkeypatch)
    assert "SNV441" in [d.code for d in built.result.diagnostics]


def test_a_servicenav_id_taken_in_another_file(repo, tmp_path, monkeypatch):
    taken = re.findall(r"^servicenav_id: (\S+)", site_file(repo, 4).read_text(), re.M)[0]
    path = site_file(repo, 3)
    text = path.read_text()
    mine = re.findall(r"^servicenav_id: (\S+)", text, re.M)[0]
    edit(path, f"servicenav_id: {mine}", f"servicenav_id: {taken}")
    built = same_as_full(repo, tmp_path, monkeypatch)  # (its owner read again: warm)
    assert "SNV308" in [d.code for d in built.result.diagnostics]
    edit(path, f"servicenav_id: {taken}", f"servicenav_id: {mine}")
    assert same_as_full(repo, tmp_path, monkeypatch, step=1).status == "written"


def maintenance_target(repo: Path) -> tuple[Path, str]:
    """A site file holding the equipment a maintenance window targets, and its ID."""
    client = next(repo.rglob("client.yaml"))
    target = re.search(r"^targets: \[(eq-\d+),", client.read_text(), re.M).group(1)
    for path in client.parent.glob("*-s*.yaml"):
        if f"id: {target}\n" in path.read_text():
            return path, target
    raise AssertionError(target)


def test_a_maintenance_target_edited_in_place_is_patched(repo, tmp_path, monkeypatch):
    """W2: the window depends on its target's node only: other edits are patched."""
    path, target = maintenance_target(repo)
    edit(path, f"id: {target}\nname: Server", f"id: {target}\nname: Target")
    same_as_full(repo, tmp_path, monkeypatch)


def test_W2_a_maintenance_target_removed_is_reported_warm(repo, tmp_path, monkeypatch):
    """W2: a window's target removed, or the unit service it names: the window (its
    file untouched) is checked and resolved again, the error that of a cold build; the
    fix is warm too."""
    path, target = maintenance_target(repo)
    before = path.read_text()
    docs = before.split("---\n")
    path.write_text("---\n".join(d for d in docs if f"id: {target}\n" not in d))
    built = same_as_full(repo, tmp_path, monkeypatch)
    assert "SNV302" in [d.code for d in built.result.diagnostics]
    path.write_text(before)
    assert same_as_full(repo, tmp_path, monkeypatch, step=1).status == "written"
    client = next(repo.rglob("client.yaml"))
    service = re.search(r"^targets: \[\S+, (eq-\d+)/(\S+)\]", client.read_text(), re.M)
    host, name = service.group(1), service.group(2)
    for site in client.parent.glob("*-s*.yaml"):
        text = site.read_text()
        if f"id: {host}\n" in text:
            doc = text[text.index(f"id: {host}\n") :].split("\n---", 1)[0]
            site.write_text(text.replace(doc, doc.replace(f"name: {name}\n", "name: renamed\n")))
            break
    built = same_as_full(repo, tmp_path, monkeypatch, step=2)
    assert "SNV302" in [d.code for d in built.result.diagnostics]


def test_a_node_edited_into_an_error_keeps_its_subtree_out(repo, tmp_path, monkeypatch):
    """A client refused by validation takes its sites out of the tree, and with them
    the unchanged contacts and boxes placed there (cache.LazyKind.placed): the shared
    checks run over the boxes left, as in a cold build (this crashed the warm check)."""
    monkeypatch.setattr(incremental, "MAX_DIRTY", 1.0)
    client = sorted(repo.rglob("client.yaml"))[2]
    edit(client, "mode: ", "colour: blue\nmode: ")  # (the client's document: SNV203)
    assert same_check_as_cold(repo, tmp_path, monkeypatch) is not None
    assert same_as_full(repo, tmp_path, monkeypatch).status == "errors"


def test_U3_user_services_made_of_user_services_are_built_warm(repo, tmp_path, monkeypatch):
    """U3: a user service made of another (a new file); an equipment edit that reaches
    the component; a cycle between them (SNV309); the fix: each built warm, every user
    service of a composition read again and checked, the bytes those of a cold build;
    a component that names no user service, its did-you-mean chosen among all of them."""
    client = sorted(repo.rglob("client.yaml"))[0]
    portal = re.search(r"^id: (\S+-portal)$", client.read_text(), re.M).group(1)
    at = re.search(r"^id: (\S+)", client.read_text(), re.M).group(1)
    suite = repo / "p0" / "suite.yaml"
    suite.write_text(
        f"kind: UserService\nid: {at}-suite\nname: Suite\nat: {at}\nconfigured_by: p0-admin\n"
        f"components:\n  - {{user_service: {portal}}}\n"
    )
    assert same_as_full(repo, tmp_path, monkeypatch).status == "written"
    member = re.search(r"^members: \[(eq-\d+)/", client.read_text(), re.M).group(1)
    for site in client.parent.glob("*-s*.yaml"):
        if f"id: {member}\n" in site.read_text():
            edit(site, f"id: {member}\nname: Server", f"id: {member}\nname: Member")
    assert same_as_full(repo, tmp_path, monkeypatch, step=1).status == "written"
    text = client.read_text()  # (the portal has components: one more, the suite)
    k = text.index("components:\n", text.index(f"id: {portal}\n")) + len("components:\n")
    client.write_text(text[:k] + f"  - {{user_service: {at}-suite}}\n" + text[k:])
    built = same_as_full(repo, tmp_path, monkeypatch, step=2)
    assert "SNV309" in [d.code for d in built.result.diagnostics]
    client.write_text(text)
    assert same_as_full(repo, tmp_path, monkeypatch, step=3).status == "written"
    edit(suite, f"user_service: {portal}", f"user_service: {portal}-typo")
    built = same_as_full(repo, tmp_path, monkeypatch, step=4)  # (did you mean the portal)
    assert [d.code for d in built.result.diagnostics] == ["SNV302"]
    assert f"'{portal}'" in built.result.diagnostics[0].message


def test_N1_P10_a_new_site_or_client_is_built_warm(repo, tmp_path, monkeypatch):
    """A node that came (a site with its contact, box, period default and equipment; a
    client with a site) is built warm, the bytes those of a cold build; so is one whose
    parent does not exist (the tree's error), and one that goes (with what is placed
    there, or leaving a contact of another file placed nowhere: its error)."""
    monkeypatch.setattr(incremental, "MAX_DIRTY", 1.0)
    rng = random.Random(7)
    assert _new_site(rng, repo)
    assert same_as_full(repo, tmp_path, monkeypatch).status == "written"
    client = sorted(repo.rglob("client.yaml"))[1]
    added = client.parent / "added.yaml"
    added.write_text(
        "kind: Client\nid: c-added\nname: Added\nparent: p0\nmode: resale\n---\n"
        "kind: Site\nid: c-added-s1\nname: Added 1\nparent: c-added\n---\n"
        "kind: Contact\nid: c-added-ops\nname: Ops\nat: c-added\nemail: ops@added.example\n"
    )
    assert same_as_full(repo, tmp_path, monkeypatch, step=1).status == "written"
    lost = client.parent / "lost.yaml"
    lost.write_text("kind: Site\nid: c-lost-s1\nname: Lost\nparent: c-lost\n")
    assert same_as_full(repo, tmp_path, monkeypatch, step=2).status == "errors"
    lost.unlink()
    assert same_as_full(repo, tmp_path, monkeypatch, step=3).status == "written"
    added.unlink()  # (a client and its site gone, nothing else placed there)
    assert same_as_full(repo, tmp_path, monkeypatch, step=4).status == "written"
    site = site_file(repo, 4)
    before = site.read_text()
    at = re.search(r"^id: (\S+)", before, re.M).group(1)
    site.unlink()  # (a site gone, its equipment with it: named elsewhere, errors)
    same_as_full(repo, tmp_path, monkeypatch, step=5)
    site.write_text(before)
    assert same_as_full(repo, tmp_path, monkeypatch, step=6).status == "written"
    extra = repo / "p0" / "extra.yaml"  # a contact placed there from another file
    extra.write_text(f"kind: Contact\nid: {at}-extra\nname: Extra\nat: {at}\nemail: x@y.example\n")
    assert same_as_full(repo, tmp_path, monkeypatch, step=7).status == "written"
    site.write_text(before.split("\n---\n", 1)[0].replace("kind: Site", "kind: Label", 1))
    built = same_as_full(repo, tmp_path, monkeypatch, step=8)  # (the contact now nowhere)
    assert built.status == "errors"


def test_H5_a_parent_in_another_file_moved_or_removed_is_reported_warm(repo, tmp_path, monkeypatch):
    """H5: a gateway moved to its own file, then to another client's site (its children,
    untouched, can no longer see it), then removed: each time the children are read
    again and checked, the diagnostics those of a cold build, warm; the fixes too."""
    path = site_file(repo, 3)
    text = path.read_text()
    gateway = re.findall(r"^parents: \[(\S+)\]", text, re.M)[0]
    start = text.index(f"kind: Equipment\nid: {gateway}\n")
    doc = text[start:].split("\n---\n", 1)[0] + "\n"
    path.write_text(text.replace(doc + "---\n", "").replace("---\n" + doc, ""))
    own = repo / "p0" / "gateways.yaml"
    own.write_text(doc + "---\nkind: Label\nid: gateways\nat: p0\n")
    assert same_as_full(repo, tmp_path, monkeypatch).status == "written"
    at = re.search(r"^at: (\S+)", doc, re.M).group(1)
    elsewhere = re.search(r"^id: (\S+)", sorted(repo.rglob("*-s0*.yaml"))[-1].read_text(), re.M)
    own.write_text(own.read_text().replace(f"at: {at}\n", f"at: {elsewhere.group(1)}\n", 1))
    built = same_as_full(repo, tmp_path, monkeypatch, step=1)
    assert "SNV441" in [d.code for d in built.result.diagnostics]
    own.write_text(doc + "---\nkind: Label\nid: gateways\nat: p0\n")
    assert same_as_full(repo, tmp_path, monkeypatch, step=2).status == "written"
    own.write_text("kind: Label\nid: gateways\nat: p0\n")
    built = same_as_full(repo, tmp_path, monkeypatch, step=3)
    assert "SNV302" in [d.code for d in built.result.diagnostics]
    own.write_text(doc + "---\nkind: Label\nid: gateways\nat: p0\n")
    assert same_as_full(repo, tmp_path, monkeypatch, step=4).status == "written"


# -- edits of configuration documents (issue 14): random, of every kind ----------------


def _undo(repo: Path, texts: dict) -> None:
    """Put the YAML files back as ``texts`` had them (a file made since is removed)."""
    for path in repo.rglob("*.yaml"):
        if ".snavc" not in path.parts and path not in texts:
            path.unlink()
    for path, text in texts.items():
        path.write_text(text)


def _documents(repo: Path, kind: str) -> list[tuple[Path, int]]:
    """(file, index of the document in it) of every document of ``kind``."""
    found = []
    for path in sorted(repo.rglob("*.yaml")):
        if ".snavc" in path.parts:
            continue
        for i, doc in enumerate(path.read_text().split("---\n")):
            if f"kind: {kind}\n" in doc:
                found.append((path, i))
    return found


def _edit_document(rng, repo: Path, kind: str, change) -> bool:
    """Apply ``change(rng, text) -> text or None`` to a random document of ``kind``."""
    docs = _documents(repo, kind)
    rng.shuffle(docs)
    for path, i in docs[:5]:
        parts = path.read_text().split("---\n")
        new = change(rng, parts[i])
        if new is not None and new != parts[i]:
            parts[i] = new
            path.write_text("---\n".join(parts))
            return True
    return False


def _sub(pattern: str, repl):
    def change(rng, text):
        if re.search(pattern, text, re.M) is None:
            return None
        return re.sub(pattern, lambda m: repl(rng, m), text, count=1, flags=re.M)

    return change


def _append(line: str):
    def change(rng, text):
        return text.rstrip("\n") + "\n" + line.format(n=rng.randint(0, 99)) + "\n"

    return change


def _drop(pattern: str):
    def change(rng, text):
        lines = text.split("\n")
        kept = [x for x in lines if not re.match(pattern, x)]
        return "\n".join(kept) if len(kept) < len(lines) else None

    return change


def _drop_list_item(field: str):
    def change(rng, text):
        found = re.search(rf"^{field}: \[([^\]]*)\]", text, re.M)
        if found is None or "," not in found.group(1):
            return None
        items = [x.strip() for x in found.group(1).split(",")]
        items.pop(rng.randrange(len(items)))
        return text.replace(found.group(0), f"{field}: [{', '.join(items)}]", 1)

    return change


# kind -> ways to change one of its documents
CONFIG_EDITS = {
    "Contact": [
        _sub(r"^email: (\S+)", lambda rng, m: f"email: x{rng.randint(0, 9)}{m.group(1)}"),
        _sub(r"^phone: '(.*)'", lambda rng, m: f"phone: '+33 1 99 00 00 {rng.randint(10, 99)}'"),
        _append("language: en"),
        _sub(r"^name: (.*)", lambda rng, m: f"name: {m.group(1)} (renamed {rng.randint(0, 9)})"),
    ],
    "ContactGroup": [_drop_list_item("members")],
    "TimePeriod": [
        _sub(r'"08:00-12:00"', lambda rng, m: f'"08:00-1{rng.randint(0, 1)}:{rng.choice("03")}0"'),
        _sub(r'"07:00-20:00"', lambda rng, m: f'"07:00-{rng.randint(18, 22)}:00"'),
        _drop(r"^default_for: "),
        _sub(r"^default_for: \[(\w+)\]", lambda rng, m: "default_for: [availability]"),
        _append("default_for: [notification]"),
    ],
    "Box": [
        _append("name: Box {n}"),
        _sub(r"^name: (.*)", lambda rng, m: "name: Renamed box"),
        _append("shared: true"),  # B3: a warning the state keeps with its box
        _drop(r"^shared: "),
    ],
    "ServiceTemplateOverride": [
        _sub(
            r"^check_interval: (\d+)", lambda rng, m: f"check_interval: {rng.choice([60, 90, 600])}"
        ),
        _sub(r"^criticality: (\d)", lambda rng, m: f"criticality: {rng.randint(1, 5)}"),
        _append("availability_target: 99.{n}"),
        _drop(r"^check_interval: "),
    ],
    "ServiceTemplate": [
        _sub(
            r"^check_interval: (\d+)", lambda rng, m: f"check_interval: {rng.choice([30, 45, 120])}"
        ),
        _sub(r"^criticality: (\d)", lambda rng, m: f"criticality: {rng.randint(1, 5)}"),
        _sub(r"^duplicate_of: http$", lambda rng, m: "duplicate_of: https-cert"),
    ],
    "EquipmentTemplate": [
        _sub(r"^services: \[(.*), p0-app\]", lambda rng, m: f"services: [{m.group(1)}]"),
        _sub(r"^instructions: (.*)", lambda rng, m: "instructions: Call the NOC first"),
    ],
    "Client": [
        _sub(r"^name: (.*)", lambda rng, m: f"name: {m.group(1)} Ltd"),
        _sub(r"^crm_ref: null", lambda rng, m: f"crm_ref: CRM-{rng.randint(100, 999)}"),
    ],
    "Site": [_sub(r"^name: (.*)", lambda rng, m: f"name: {m.group(1)} (north)")],
    "Partner": [_sub(r"^name: (.*)", lambda rng, m: "name: The partner")],
    "User": [
        _append("name: Someone {n}"),
        _sub(r"^role: client-operator$", lambda rng, m: "role: partner-admin"),
        _sub(r"^at: (\S+)$", lambda rng, m: f"at: {m.group(1)}-s0{rng.randint(0, 1)}"),
    ],
    "Role": [
        _drop_list_item("permissions"),
        _sub(r"^name: (.*)", lambda rng, m: f"name: {m.group(1)} (edited)"),
    ],
    "MonitoringAccount": [_sub(r"^secret: (.*)", lambda rng, m: "secret: env:OTHER_SECRET")],
    "Label": [_sub(r"^name: (.*)", lambda rng, m: "name: Prod")],
    "MaintenanceWindow": [
        _sub(r"^description: (.*)", lambda rng, m: f"description: Upgrade {rng.randint(0, 9)}"),
        _drop_list_item("targets"),
        _sub(r"^counts_in_availability: false", lambda rng, m: "counts_in_availability: true"),
    ],
}


def _move_lines(rng, repo: Path) -> bool:
    """A comment line at the top of a file: every document in it moves down a line."""
    path = rng.choice(sorted(p for p in repo.rglob("*.yaml") if p.name != "snav.yaml"))
    path.write_text("# moved\n" + path.read_text())
    return True


def _new_site(rng, repo: Path) -> bool:
    """A new site (a node that came) under a client, or under a new client, with a
    contact, a box, a period default and an equipment of its own."""
    client = rng.choice(sorted(repo.rglob("client.yaml")))
    parent = re.search(r"^id: (\S+)", client.read_text(), re.M).group(1)
    n = rng.randint(100, 999)
    text = ""
    if rng.random() < 0.3:  # a new client, too
        text = f"kind: Client\nid: c{n}\nname: Client {n}\nparent: p0\nmode: managed\n---\n"
        parent = f"c{n}"
    site = f"{parent}-s{n}"
    text += (
        f"kind: Site\nid: {site}\nname: Site {n}\nparent: {parent}\n---\n"
        f"kind: Contact\nid: {site}-desk\nname: Desk\nat: {site}\nphone: '+33 1 00 00 00 00'\n---\n"
        f"kind: Box\nid: {site}-box\nat: {site}\n---\n"
        f"kind: TimePeriod\nid: {site}-hours\nat: {site}\n"
        'ranges: {monday: ["07:00-20:00"]}\ndefault_for: [check, notification]\n---\n'
        f"kind: Equipment\nid: eq-{site}\nname: New\nat: {site}\naddress: 10.99.0.1\n"
        f"template: p0-linux\nbox: {site}-box\nconfigured_by: p0-admin\n"
        f"notification: {{contacts: [{site}-desk]}}\n"
    )
    path = client.parent / f"new-{n}.yaml"
    if path.exists():
        return False
    path.write_text(text)
    return True


def _remove_site(rng, repo: Path) -> bool:
    """A site's file removed (a node that went, its equipment with it), or a site
    added by :func:`_new_site`."""
    files = sorted(repo.rglob("new-*.yaml")) or sorted(repo.rglob("*-s0*.yaml"))
    rng.choice(files).unlink()
    return True


def _new_contact(rng, repo: Path) -> bool:
    path = site_file(repo, rng.randrange(30))
    at = re.search(r"^id: (\S+)", path.read_text(), re.M).group(1)
    with path.open("a") as f:
        f.write(f"---\nkind: Contact\nid: {at}-extra-{rng.randint(0, 999)}\nat: {at}\n")
    return True


@pytest.mark.parametrize(
    "seed", [14, 15, 16] + [int(s) for s in os.environ.get("SNAVC_TEST_SEEDS", "").split()]
)
def test_random_edits_of_configuration_documents(repo, tmp_path, monkeypatch, seed):
    """Rounds of random edits to configuration documents of every kind (and to their
    place in their file), each built from the state of the last and compared, byte for
    byte, with a cold build of a copy. An edit the full build refuses (an error) is
    undone. The cut-off to a cold build (MAX_DIRTY) is lifted, so that a client's or
    the partner's edit, a third or all of this small estate, is built warm too."""
    monkeypatch.setattr(incremental, "MAX_DIRTY", 1.0)
    rng = random.Random(seed)
    kinds = sorted(CONFIG_EDITS)
    warm = 0
    steps = int(os.environ.get("SNAVC_TEST_STEPS", 24))
    for step in range(steps):
        texts = {p: p.read_text() for p in repo.rglob("*.yaml") if ".snavc" not in p.parts}
        done = []
        for _ in range(rng.randint(1, 2)):
            roll = rng.random()
            if roll < 0.1:
                done.append(("moved", _move_lines(rng, repo)))
            elif roll < 0.15:
                done.append(("new contact", _new_contact(rng, repo)))
            elif roll < 0.2:
                done.append(("new site", _new_site(rng, repo)))
            elif roll < 0.23:
                done.append(("site removed", _remove_site(rng, repo)))
            else:
                kind = rng.choice(kinds)
                change = rng.choice(CONFIG_EDITS[kind])
                done.append((kind, _edit_document(rng, repo, kind, change)))
        checked = same_check_as_cold(repo, tmp_path, monkeypatch, warm=None)
        expected, full_out, full_lock = full(repo, tmp_path, monkeypatch, f"cfull{step}")
        out = tmp_path / f"cincr{step}"
        built = build(repo, out)
        assert (checked is not None) is built.incremental, done
        assert built.status == expected.status, done
        if built.status == "written":
            for name in OUTPUTS:
                assert (out / name).read_bytes() == (full_out / name).read_bytes(), (name, done)
            assert built.counts == expected.counts
            assert _read(repo / "snav.lock") == full_lock, done
            warm += built.incremental
            if step % 6 == 5 or step == steps - 1:
                same_records_as_cold(repo, tmp_path, f"cr{step}")
        else:  # undo: the next build starts from the last good state
            assert built.result.diagnostics == expected.result.diagnostics
            _undo(repo, texts)
    assert warm >= steps // 2  # a warm path that always fell back cannot pass


# kind -> ways to put one of its documents in error: validation (SNV2xx), references
# (SNV3xx), the rules (SNV4xx)
ERROR_EDITS = {
    "Equipment": [
        _sub(r"^template: (\S+)", lambda rng, m: f"template: {m.group(1)}-typo{rng.randint(0, 9)}"),
        _sub(r"^at: (\S+)", lambda rng, m: f"at: {m.group(1)}-gone"),
        _sub(r"^box: (\S+)", lambda rng, m: "box: no-such-box"),
        _sub(r"^configured_by: (\S+)", lambda rng, m: "configured_by: nobody"),
        _sub(r"^  contacts: \[(\S+?)[,\]]", lambda rng, m: "  contacts: [p0-c00002-contact-0,"),
        _sub(r"^    criticality: \d", lambda rng, m: f"    criticality: {rng.choice([0, 9])}"),
        _sub(r"^    check_interval: \d+", lambda rng, m: "    check_interval: often"),
        _sub(r"^parents: \[(\S+?)[,\]]", lambda rng, m: "parents: [eq-999999]"),
        _append("colour: blue"),
        _drop(r"^address: "),
    ],
    "UserService": [
        _sub(r"^members: \[(\S+?)/", lambda rng, m: f"members: [{m.group(1)}/no-such-service"),
        _sub(r"^criticality: \d", lambda rng, m: "criticality: 7"),
        _sub(r"\{host: (\S+)\}", lambda rng, m: "{host: eq-999999}"),
        _append("colour: blue"),
    ],
}


# kind -> ways to put one configuration document in error
CONFIG_ERROR_EDITS = {
    "Contact": [_drop(r"^name: "), _append("colour: blue")],
    "ContactGroup": [_sub(r"^members: \[", lambda rng, m: "members: [nobody, ")],
    "TimePeriod": [_sub(r'"08:00-12:00"', lambda rng, m: '"25:00-26:00"')],
    "Box": [_append("colour: blue")],
    "ServiceTemplateOverride": [_sub(r"^criticality: \d", lambda rng, m: "criticality: 9")],
    "ServiceTemplate": [_sub(r"^check_interval: \d+", lambda rng, m: "check_interval: often")],
    "EquipmentTemplate": [_sub(r"^services: \[", lambda rng, m: "services: [no-such-template, ")],
    "User": [_sub(r"^role: (\S+)", lambda rng, m: "role: no-such-role")],
    "Role": [_sub(r"^permissions: \[", lambda rng, m: "permissions: [fly, ")],
    "MonitoringAccount": [_append("colour: blue")],
    "MaintenanceWindow": [_sub(r"^targets: \[", lambda rng, m: "targets: [eq-999999, ")],
    "Site": [_append("mode: managed")],
    "Client": [_append("colour: blue")],
}


def _copy_document(rng, repo: Path) -> bool:
    """A configuration document copied into another file, its ID kept (SNV301): a
    contact, box, group, account or user (kinds whose models a warm build makes when
    first read) or a period."""
    kind = rng.choice(["Contact", "Box", "ContactGroup", "MonitoringAccount", "User", "TimePeriod"])
    docs = _documents(repo, kind)
    if not docs:
        return False
    path, i = rng.choice(docs)
    doc = path.read_text().split("---\n")[i].rstrip("\n") + "\n"
    target = rng.choice(sorted(p for p in repo.rglob("*.yaml") if p.name not in ("snav.yaml",)))
    text = target.read_text()
    target.write_text(text.rstrip("\n") + "\n---\n" + doc if text.strip() else doc)
    return True


def _break_syntax(rng, repo: Path) -> bool:
    """A file of equipment only that no longer parses."""
    path = repo / "p0" / "leaves.yaml"
    path.write_text(path.read_text().replace("address: ", "address: [", 1))
    return True


@pytest.mark.parametrize(
    "seed", [21, 22] + [int(s) for s in os.environ.get("SNAVC_TEST_SEEDS", "").split()]
)
def test_random_errors_in_equipment_and_user_services(repo, tmp_path, monkeypatch, seed):
    """Rounds of edits that put equipment or user services in error (with, at times, a
    valid edit beside them): each build reports, from the state of the last clean one,
    the diagnostics a cold build of a copy reports; the edits are then undone and the
    next build writes the bytes of a cold one."""
    rng = random.Random(seed)
    at = re.search(r"^id: (\S+)", site_file(repo, 6).read_text(), re.M).group(1)
    (repo / "p0" / "leaves.yaml").write_text(
        equipment_doc("eq-leaf-1", at).removeprefix("---\n") + equipment_doc("eq-leaf-2", at)
    )
    same_as_full(repo, tmp_path, monkeypatch)
    warm = 0
    steps = int(os.environ.get("SNAVC_TEST_STEPS", 12))
    for step in range(steps):
        texts = {p: p.read_text() for p in repo.rglob("*.yaml") if ".snavc" not in p.parts}
        done = []
        for _ in range(rng.randint(1, 2)):
            if rng.random() < 0.15:
                done.append(("syntax", _break_syntax(rng, repo)))
            else:
                kind = rng.choice(sorted(ERROR_EDITS))
                change = rng.choice(ERROR_EDITS[kind])
                done.append((kind, _edit_document(rng, repo, kind, change)))
        if rng.random() < 0.3:
            path = site_file(repo, rng.randrange(30))
            path.write_text(path.read_text().replace("criticality: 2", "criticality: 3", 1))
        checked = same_check_as_cold(repo, tmp_path, monkeypatch, warm=None)
        expected, _, full_lock = full(repo, tmp_path, monkeypatch, f"efull{step}")
        built = build(repo, tmp_path / f"eincr{step}")
        assert (checked is not None) is built.incremental
        assert built.status == expected.status, done
        assert built.result.diagnostics == expected.result.diagnostics, done
        assert _read(repo / "snav.lock") == full_lock, done
        warm += built.status == "errors" and built.incremental
        _undo(repo, texts)
        if step % 4 == 3:
            same_as_full(repo, tmp_path, monkeypatch, step=step)
    assert warm >= steps // 2  # a warm path that always fell back cannot pass


@pytest.mark.parametrize(
    "seed", [31, 32] + [int(s) for s in os.environ.get("SNAVC_TEST_SEEDS", "").split()]
)
def test_random_errors_in_configuration_documents(repo, tmp_path, monkeypatch, seed):
    """Rounds of edits that put a configuration document of any kind in error (with, at
    times, a valid edit of another): each build, and each validate, reports what a cold
    one of a copy reports; the edit is then undone. The cut-off to a cold build is lifted
    (an edit of the partner reaches all of this small estate)."""
    monkeypatch.setattr(incremental, "MAX_DIRTY", 1.0)
    rng = random.Random(seed)
    kinds = sorted(CONFIG_ERROR_EDITS)
    warm = 0
    steps = int(os.environ.get("SNAVC_TEST_STEPS", 12))
    for step in range(steps):
        texts = {p: p.read_text() for p in repo.rglob("*.yaml") if ".snavc" not in p.parts}
        kind = rng.choice(kinds)
        if rng.random() < 0.2:  # a document copied, its ID with it
            done = [("copied", _copy_document(rng, repo))]
        else:
            done = [(kind, _edit_document(rng, repo, kind, rng.choice(CONFIG_ERROR_EDITS[kind])))]
        if rng.random() < 0.3:
            other = rng.choice(sorted(CONFIG_EDITS))
            done.append((other, _edit_document(rng, repo, other, rng.choice(CONFIG_EDITS[other]))))
        checked = same_check_as_cold(repo, tmp_path, monkeypatch, warm=None)
        expected, _, full_lock = full(repo, tmp_path, monkeypatch, f"gfull{step}")
        built = build(repo, tmp_path / f"gincr{step}")
        assert built.status == expected.status, done
        assert built.result.diagnostics == expected.result.diagnostics, done
        assert _read(repo / "snav.lock") == full_lock, done
        assert (checked is not None) is built.incremental, done
        warm += built.status == "errors" and built.incremental
        _undo(repo, texts)
    same_as_full(repo, tmp_path, monkeypatch, step=steps)
    assert warm >= steps // 3  # a warm path that always fell back cannot pass


@pytest.mark.parametrize(
    "seed", [51] + [int(s) for s in os.environ.get("SNAVC_TEST_SEEDS", "").split()]
)
def test_random_edits_of_user_service_compositions(repo, tmp_path, monkeypatch, seed):
    """U3: rounds of random edits to user services made of user services (a component
    added or dropped, possibly a cycle, a member equipment edited, a user service
    removed or brought back), each built from the state of the last and compared with a
    cold build of a copy: the same bytes, or the same diagnostics (then undone)."""
    monkeypatch.setattr(incremental, "MAX_DIRTY", 1.0)
    rng = random.Random(seed)
    client = sorted(repo.rglob("client.yaml"))[0]
    at = re.search(r"^id: (\S+)", client.read_text(), re.M).group(1)
    portal = f"{at}-portal"
    members = re.search(r"^members: \[(eq-\d+/\S+?)[,\]]", client.read_text(), re.M).group(1)
    names = [f"{at}-us{i}" for i in range(4)]
    suite = repo / "p0" / "suites.yaml"

    def document(name: str, parts: list[str]) -> str:
        parts = parts or [portal]
        return (
            f"kind: UserService\nid: {name}\nname: {name}\nat: {at}\nconfigured_by: p0-admin\n"
            f"members: [{members}]\ncomponents:\n"
            + "".join(f"  - {{user_service: {c}}}\n" for c in parts)
        )

    shape = {name: [portal] for name in names}
    suite.write_text("---\n".join(document(n, c) for n, c in shape.items()))
    assert same_as_full(repo, tmp_path, monkeypatch).status == "written"
    warm = 0
    steps = int(os.environ.get("SNAVC_TEST_STEPS", 10))
    for step in range(1, steps + 1):
        texts = {p: p.read_text() for p in repo.rglob("*.yaml") if ".snavc" not in p.parts}
        before = {n: list(c) for n, c in shape.items()}
        roll = rng.random()
        if roll < 0.4:  # a component added: another of them (a cycle, at times)
            name = rng.choice(sorted(shape))
            free = [n for n in [*names, portal] if n != name and n not in shape[name]]
            shape[name].append(rng.choice(free) if free and rng.random() < 0.9 else portal)
        elif roll < 0.6:  # a component dropped
            name = rng.choice(sorted(shape))
            shape[name] = shape[name][:-1]
        elif roll < 0.75:  # a user service removed, or brought back
            name = rng.choice(names)
            if name in shape:
                del shape[name]
            else:
                shape[name] = [portal]
        else:  # an equipment of theirs edited
            host = members.partition("/")[0]
            for site in client.parent.glob("*-s*.yaml"):
                if f"id: {host}\n" in site.read_text():
                    edit(site, f"id: {host}\nname: ", f"id: {host}\nname: Edited ")
        suite.write_text("---\n".join(document(n, c) for n, c in shape.items()) or "{}\n")
        checked = same_check_as_cold(repo, tmp_path, monkeypatch, warm=None)
        expected, full_out, full_lock = full(repo, tmp_path, monkeypatch, f"ufull{step}")
        built = build(repo, tmp_path / f"uincr{step}")
        what = (step, shape)
        assert built.status == expected.status, what
        assert (checked is not None) is built.incremental, what
        if built.status == "written":
            for name in OUTPUTS:
                assert (tmp_path / f"uincr{step}" / name).read_bytes() == (
                    full_out / name
                ).read_bytes(), (name, what)
        else:
            assert built.result.diagnostics == expected.result.diagnostics, what
            _undo(repo, texts)
            shape = before
        assert _read(repo / "snav.lock") == full_lock, what
        warm += built.incremental
    assert warm >= steps // 2  # a warm path that always fell back cannot pass


def _mutate_lines(rng, text: str) -> str:
    """A random edit of a file's lines, as a hurried hand makes one: a line dropped,
    repeated, indented or outdented, a value cut short, two lines swapped."""
    lines = text.split("\n")
    i = rng.randrange(len(lines))
    how = rng.randrange(6)
    if how == 0:
        del lines[i]
    elif how == 1:
        lines.insert(i, lines[i])
    elif how == 2:
        lines[i] = "  " + lines[i]
    elif how == 3:
        lines[i] = lines[i].lstrip()
    elif how == 4:
        lines[i] = lines[i][: rng.randrange(len(lines[i]) + 1)]
    else:
        j = rng.randrange(len(lines))
        lines[i], lines[j] = lines[j], lines[i]
    return "\n".join(lines)


@pytest.mark.parametrize(
    "seed", [41] + [int(s) for s in os.environ.get("SNAVC_TEST_SEEDS", "").split()]
)
def test_random_line_edits_are_reported_as_a_cold_build_does(repo, tmp_path, monkeypatch, seed):
    """Blind edits of the lines of a file (any kind of document, any outcome: clean, a
    warning, an error, a file that no longer parses): the build from the state writes
    or reports what a cold build of a copy does, then the edit is undone."""
    monkeypatch.setattr(incremental, "MAX_DIRTY", 1.0)
    rng = random.Random(seed)
    files = sorted(p for p in repo.rglob("*.yaml") if ".snavc" not in p.parts)
    steps = int(os.environ.get("SNAVC_TEST_STEPS", 12))
    warm = 0
    settings_written = False  # (the state then has the edited snav.yaml: its undo is cold)
    for step in range(steps):
        path = rng.choice(files)
        before = path.read_text()
        path.write_text(_mutate_lines(rng, before))
        expected, full_out, full_lock = full(repo, tmp_path, monkeypatch, f"mfull{step}")
        built = build(repo, tmp_path / f"mincr{step}")
        if built.status == "written":
            settings_written = path.name == "snav.yaml"
        what = (path.name, step)
        assert built.status == expected.status, what
        assert built.result.diagnostics == expected.result.diagnostics, what
        if built.status == "written":
            for name in OUTPUTS:
                assert (tmp_path / f"mincr{step}" / name).read_bytes() == (
                    full_out / name
                ).read_bytes(), (name, what)
        assert _read(repo / "snav.lock") == full_lock, what
        warm += built.incremental
        path.write_text(before)
    same_as_full(repo, tmp_path, monkeypatch, patched=not settings_written, step=steps)
    assert warm  # (most blind edits break a file's syntax: those are built cold)


def test_a_configuration_edit_beside_a_warning_of_a_file_is_warm(repo, tmp_path, monkeypatch):
    """An empty YAML file (SNV110, said by loading it) stays as it is whatever the
    configuration's edit: a period default edited beside it is built warm, its
    warning reported as a cold build reports it."""
    monkeypatch.setattr(incremental, "MAX_DIRTY", 1.0)
    (repo / "p0" / "notes.yaml").write_text("# nothing here yet\n")
    assert [
        d.code for d in same_as_full(repo, tmp_path, monkeypatch, patched=False).result.diagnostics
    ] == ["SNV110"]
    path = sorted(repo.rglob("client.yaml"))[0]
    edit(path, "default_for: [notification]\n", "default_for: [notification, check]\n")
    built = same_as_full(repo, tmp_path, monkeypatch, step=1)
    assert [d.code for d in built.result.diagnostics] == ["SNV110"]


def test_B3_P9_warnings_of_the_shared_checks_stay_with_their_box_and_node(tmp_path, monkeypatch):
    """B3 and P9 warnings (shared checks, about a box and a node) are kept with their
    object: a configuration edit elsewhere is built warm and reports them as a cold
    build does; an edit of the warned box checks it again (its warning goes), a default
    period given to a bare client makes the P9 warnings of its nodes go, and a warned
    box removed takes its warning with it. Each build warm, each the cold one's bytes."""
    monkeypatch.setattr(incremental, "MAX_DIRTY", 1.0)  # (two equipment: one is half)
    monkeypatch.setenv("SNAVC_STRICT_CACHE", "1")
    monkeypatch.delenv("SNAVC_NO_CACHE", raising=False)
    repo = tmp_path / "repo"
    shutil.copytree(Path(__file__).parent / "rules" / "fixtures" / "boxes-warnings" / "repo", repo)
    first = build(repo, tmp_path / "first")
    assert first.status == "written" and not first.incremental

    def codes(step: int) -> list[str]:
        return [
            d.code for d in same_as_full(repo, tmp_path, monkeypatch, step=step).result.diagnostics
        ]

    assert codes(0) == ["SNV409", "SNV409", "SNV413", "SNV409"]  # (nothing changed)
    edit(repo / "users.yaml", "name: Victor (console only)", "name: Victor")
    assert codes(1) == ["SNV409", "SNV409", "SNV413", "SNV409"]
    assert same_check_as_cold(repo, tmp_path, monkeypatch) is not None
    edit(repo / "more-boxes.yaml", "shared: true", "shared: false")
    assert codes(2) == ["SNV409", "SNV409", "SNV409"]
    with (repo / "periods.yaml").open("a") as f:
        f.write(
            "---\nkind: TimePeriod\nid: c2-all\nat: client2\n"
            'ranges: {monday: ["08:00-18:00"]}\ndefault_for: [notification, availability]\n'
        )
    assert codes(3) == ["SNV409"]  # (the partner's: client2 and its site have theirs)
    (repo / "odd-box.yaml").write_text("kind: Box\nid: odd-box\nat: client2-site1\nshared: true\n")
    assert codes(4) == ["SNV413", "SNV409"]
    (repo / "odd-box.yaml").write_text("kind: Label\nid: odd-label\nat: partner\n")
    assert codes(5) == ["SNV409"]


def test_a_file_of_configuration_that_no_longer_parses_is_reported_warm(
    repo, tmp_path, monkeypatch
):
    """A file holding configuration but no node (contacts, a period, as `import`
    writes them apart) that stops parsing: its documents are known but broken, as in a
    cold build (no cascade from the equipment that name its contact), reported from
    the state; the fix is warm too. A file holding a node goes cold (the tree's shape)."""
    monkeypatch.setattr(incremental, "MAX_DIRTY", 1.0)
    extra = repo / "p0" / "extra.yaml"
    extra.write_text(
        "kind: Contact\nid: p0-extra\nname: Extra\nat: p0\nemail: extra@example.com\n"
        "---\nkind: TimePeriod\nid: p0-extra-hours\nat: p0\n"
        'ranges: {monday: ["08:00-18:00"]}\n'
    )
    edit(site_file(repo), "contacts: [p0-noc-0,", "contacts: [p0-extra, p0-noc-0,")
    assert same_as_full(repo, tmp_path, monkeypatch).status == "written"
    good = extra.read_text()
    extra.write_text(good.replace("name: Extra", "name: [Extra", 1))
    broken = same_as_full(repo, tmp_path, monkeypatch, step=1)
    assert broken.status == "errors"
    assert [d.code for d in broken.result.diagnostics if d.severity == "error"] == ["SNV101"]
    assert same_check_as_cold(repo, tmp_path, monkeypatch) is not None
    extra.write_text(good)
    assert same_as_full(repo, tmp_path, monkeypatch, step=2).status == "written"
    client = sorted(repo.rglob("client.yaml"))[0]
    edit(client, "mode: managed", "mode: [managed")
    same_as_full(repo, tmp_path, monkeypatch, patched=False, step=3)


def test_a_query_after_an_edit_leaves_the_next_build_warm(repo, tmp_path, monkeypatch):
    """Edit, query (compiled in full: it leaves the snapshot of the edited inputs for the
    next queries), build: the build is warm from the state's own snapshot, which the
    query kept beside the state, and gives the bytes of a cold build; queries then use
    the snapshot the build left."""
    from snavc.engine.pipeline import compile_repo, quick_compile

    edit(site_file(repo, 3), "check_interval: 30", "check_interval: 31")
    assert quick_compile(repo) is None
    compile_repo(repo)  # (a query's full compile: cli._compiled)
    assert quick_compile(repo) is not None  # the next query reads its snapshot
    same_as_full(repo, tmp_path, monkeypatch)
    assert not list((repo / ".snavc" / "build").glob("snapshot-*.marshal"))
    _query_sees_the_build(repo)
    edit(site_file(repo, 4), "check_interval: 30", "check_interval: 31")
    compile_repo(repo)  # again, from the state this build left
    same_as_full(repo, tmp_path, monkeypatch, step=1)


def test_a_query_after_an_edit_is_checked_from_the_state(repo, tmp_path, monkeypatch):
    """Edit, query: the query is checked from the build's state (no full compile),
    which leaves the snapshot it answers from; the same answers as a full compile; an
    edit into an error is refused with the cold compile's errors; the next build is
    warm, the bytes of a cold one."""
    from click.testing import CliRunner

    from snavc.cli import cli
    from snavc.engine import pipeline

    edit(site_file(repo, 3), "check_interval: 30", "check_interval: 31")

    def no_full_compile(*args, **kwargs):
        raise AssertionError("compiled in full")

    with monkeypatch.context() as m:
        m.setattr(pipeline, "compile_repo", no_full_compile)
        result = CliRunner().invoke(cli, ["explain", str(repo), "eq-000000"])
        assert result.exit_code == 0, result.output
    _query_sees_the_build(repo)
    path = site_file(repo, 4)
    edit(path, "template: p0-linux", "template: p0-linx")
    with monkeypatch.context() as m:
        m.setattr(pipeline, "compile_repo", no_full_compile)
        result = CliRunner().invoke(cli, ["explain", str(repo), "eq-000000"])
    assert result.exit_code == 1
    assert "error[SNV302]" in result.output and "has errors; fix them first" in result.output
    edit(path, "template: p0-linx", "template: p0-linux")
    same_as_full(repo, tmp_path, monkeypatch)


def test_the_kept_snapshot_outlives_a_build_of_nothing_changed(repo, tmp_path, monkeypatch):
    """Edit, validate (the state's snapshot kept), undo, build into another folder
    (nothing changed: the state is saved again), edit, build: still warm."""
    from snavc.engine.pipeline import validate_repo

    path = site_file(repo, 6)
    before = path.read_text()
    edit(path, "check_interval: 30", "check_interval: 31")
    validate_repo(repo)
    path.write_text(before)
    assert build(repo, tmp_path / "elsewhere").incremental
    edit(path, "check_interval: 30", "check_interval: 32")
    same_as_full(repo, tmp_path, monkeypatch)


def test_a_clean_validate_leaves_the_snapshot_for_the_queries(repo, tmp_path, monkeypatch):
    from snavc.engine.pipeline import quick_compile, validate_repo

    edit(site_file(repo, 5), "check_interval: 30", "check_interval: 31")
    assert quick_compile(repo) is None
    assert validate_repo(repo).diagnostics == []
    assert quick_compile(repo) is not None
    same_as_full(repo, tmp_path, monkeypatch)


def test_a_warning_of_an_equipment_comes_and_goes(repo, tmp_path, monkeypatch):
    """H8 (SNV448) on an edited equipment: the warm build reports it, with the others'
    warnings, and drops it when the equipment is fixed (each diagnostic is kept with the
    object that reported it)."""
    path = site_file(repo, 2)
    at = re.search(r"^id: (\S+)", path.read_text(), re.M).group(1)
    with path.open("a") as f:
        f.write(
            equipment_doc(
                "eq-warn", at, extra="periods:\n  check: p0-weekend\n  availability: 24x7\n"
            )
        )
    built = same_as_full(repo, tmp_path, monkeypatch, step=1)
    assert [d.code for d in built.result.diagnostics] == ["SNV448"]
    edit(path, "  check: p0-weekend\n", "  check: 24x7\n")
    built = same_as_full(repo, tmp_path, monkeypatch, step=2)
    assert built.result.diagnostics == []


def test_queries_after_a_configuration_edit_use_its_snapshot(repo, tmp_path, monkeypatch):
    """A warm build after a configuration edit leaves the snapshot of the edited
    configuration: a query answers from it as a cold compile does."""
    monkeypatch.setattr(incremental, "MAX_DIRTY", 1.0)  # a client: a third of this estate
    path = sorted(repo.rglob("client.yaml"))[0]
    edit(path, "check_interval: 900", "check_interval: 901")
    assert build(repo, tmp_path / "out").incremental
    _query_sees_the_build(repo)


def test_output_digests_by_blocks_taken_over(repo, tmp_path, monkeypatch):
    """A warm build hashes the blocks of lines around its new lines and takes the
    digests of the blocks it copies whole from the previous build's (checked when it
    read them): the digest it records is the one made from the bytes (what plan and
    the next build check), and most blocks were taken over, not hashed again."""
    from snavc.engine import emit
    from snavc.engine.state import read_state

    monkeypatch.setattr(emit, "BLOCK_LINES", 16)  # (many blocks in this small estate)
    shutil.rmtree(repo / ".snavc")
    assert not build(repo, tmp_path / "cold").incremental
    taken = []
    reuse = emit.BlockHash.reuse

    def spy(self, digest, length):
        taken.append(length)
        return reuse(self, digest, length)

    monkeypatch.setattr(emit.BlockHash, "reuse", spy)
    for step, (old, new) in enumerate(
        [("check_interval: 30", "check_interval: 31"), ("+33 1 00 00 00 00", "+33 1 00 00 00 02")]
    ):
        edit(site_file(repo, 2), old, new)
        taken.clear()
        same_as_full(repo, tmp_path, monkeypatch, step=step)
        state = read_state(repo.resolve())
        for name in ("effective.json", "origins.json"):
            linked = repo / ".snavc" / "build" / name
            assert state["digests"][name] == emit.output_digest(linked) == emit.file_digest(linked)
            assert [s for s, _ in state["blocks"][name]] == [
                s for s, _ in emit.output_blocks(linked)[1]
            ]
        assert len(taken) > 20
    # an equipment added: every line after it moves, the blocks after it are hashed
    path = site_file(repo, 2)
    at = re.search(r"^id: (\S+)", path.read_text(), re.M).group(1)
    with path.open("a") as f:
        f.write(equipment_doc("eq-000051-new", at))
    assert same_as_full(repo, tmp_path, monkeypatch, step=9).status == "written"
    state = read_state(repo.resolve())
    linked = repo / ".snavc" / "build" / "effective.json"
    assert state["digests"]["effective.json"] == emit.output_digest(linked)


def test_the_outputs_check_read_before_the_state(repo, tmp_path, monkeypatch):
    """The linked outputs' content is checked from the small file beside the state
    (state.read_check), from before the state is read: it is the state's own after a
    warm build, and an output changed in place under identities forged in both files is
    still found (a cold build, the same bytes)."""
    import marshal

    from snavc.engine import cache
    from snavc.engine.state import CHECK, STATE, read_check, read_state, same_check

    edit(site_file(repo, 1), "check_interval: 30", "check_interval: 32")
    same_as_full(repo, tmp_path, monkeypatch, step=0)
    root = repo.resolve()
    assert same_check(read_check(root), read_state(root))
    folder = root / ".snavc" / "build"
    linked = folder / "effective.json"
    text = linked.read_bytes()
    at = re.search(rb"[0-8]", text[len(text) // 2 :]).start() + len(text) // 2
    with open(linked, "r+b") as f:  # in place: the same inode
        f.seek(at)
        f.write(bytes([text[at] + 1]))
    for name in (CHECK, STATE):
        data = cache.read_sealed(folder / name)
        data["outputs"]["effective.json"] = cache.identity(linked)
        cache.write_sealed(folder / name, marshal.dumps(data))
    assert same_check(read_check(root), read_state(root))
    edit(site_file(repo, 1), "check_interval: 32", "check_interval: 35")
    same_as_full(repo, tmp_path, monkeypatch, patched=False, step=1)


def test_a_build_that_no_build_follows_leaves_the_state_as_it_was(repo, tmp_path, monkeypatch):
    """``persist=False`` (plan's head, whose folder goes next): the build is patched
    from the state like any other and writes the same outputs, but leaves the snapshot
    and the state as they were; the next build, patched from them, is right too."""
    cache_dir = repo / ".snavc"

    def kept() -> dict:  # (but the inputs' stat records, which any run that hashes updates)
        return {
            p.relative_to(cache_dir): p.read_bytes()
            for p in cache_dir.rglob("*")
            if p.is_file() and p.name != "stats.marshal"
        }

    before = kept()
    edit(site_file(repo), "check_interval: 30", "check_interval: 37")
    expected, full_out, _ = full(repo, tmp_path, monkeypatch, "full-head")
    built = build(repo, tmp_path / "head", persist=False)
    assert built.incremental and built.counts == expected.counts
    for name in OUTPUTS:
        assert (tmp_path / "head" / name).read_bytes() == (full_out / name).read_bytes(), name
    assert kept() == before
    same_as_full(repo, tmp_path, monkeypatch, step=1)  # from the state left as it was
    assert kept() != before


def test_the_lock_layout_is_kept_for_the_next_build(repo, tmp_path, monkeypatch):
    """A warm build keeps the lock's layout (emit.Lines: where its sections are) in its
    state, as it read or wrote the lock, so that the next one does not read the lock
    through (37 MB at 100k equipment) to find it; a layout that does not fit the lock
    is found again, with the same bytes (T5)."""
    from snavc.engine.emit import Lines
    from snavc.engine.state import read_state

    def layout_of_the_lock() -> dict:
        lines = Lines.open(repo / "snav.lock")
        try:
            return lines.sections
        finally:
            lines.close()

    path = site_file(repo, 2)
    at = re.search(r"^id: (\S+)", path.read_text(), re.M).group(1)
    with path.open("a") as f:
        f.write(equipment_doc("eq-new-1", at))
    assert same_as_full(repo, tmp_path, monkeypatch).lock_written  # (the lock written)
    assert read_state(repo.resolve())["lock_layout"] == layout_of_the_lock()
    edit(site_file(repo), "check_interval: 30", "check_interval: 31")
    built = same_as_full(repo, tmp_path, monkeypatch, step=1)
    assert not built.lock_written  # (the lock as read)
    assert read_state(repo.resolve())["lock_layout"] == layout_of_the_lock()

    opened = []
    real = Lines.open

    def spying(path, layout=None):
        opened.append((Path(path).name, layout is not None))
        return real(path, layout)

    monkeypatch.setattr(Lines, "open", staticmethod(spying))
    edit(site_file(repo), "check_interval: 31", "check_interval: 32")
    same_as_full(repo, tmp_path, monkeypatch, step=2)
    assert ("snav.lock", True) in opened and ("snav.lock", False) not in opened

    # a layout that does not fit (forged in the state): the lock is read through
    import marshal

    from snavc.engine import cache

    state = read_state(repo.resolve())
    state["lock_layout"] = {b"services": (3, 5), b"versions": (7, 9)}
    cache.write_sealed(repo / ".snavc" / "build" / "build.marshal", marshal.dumps(state))
    opened.clear()
    edit(site_file(repo), "check_interval: 32", "check_interval: 33")
    same_as_full(repo, tmp_path, monkeypatch, step=3)
    assert ("snav.lock", False) in opened


def test_a_period_default_edited_summarises_the_nodes_it_reaches(repo, tmp_path, monkeypatch):
    """P9/P10 after a period default's edit: only the nodes at or below its place (old
    and new) have their default summary made again (the walk of the others passes none
    of them); effective.json's nodes are those of a cold build. An edited node, or a
    product period, summarises them all."""
    from snavc.resolve import periods

    seen = []
    real = periods.check_nodes

    def spying(ctx, walk, under=None, checked=None):
        found = real(ctx, walk, under, checked)
        seen.append((under, len(found)))
        return found

    monkeypatch.setattr(incremental, "MAX_DIRTY", 1.0)
    monkeypatch.setattr(periods, "check_nodes", spying)
    import snavc.resolve as resolve

    monkeypatch.setattr(resolve, "check_nodes", spying)
    client = sorted(repo.rglob("client.yaml"))[0]
    text = client.read_text()
    assert "default_for: [notification]\n" in text
    client.write_text(
        text.replace("default_for: [notification]\n", "default_for: [notification, check]\n", 1)
    )
    at = re.search(r"^id: (\S+)", text, re.M).group(1)
    same_as_full(repo, tmp_path, monkeypatch)
    # (the cold build of a copy, beside it, summarises all of them)
    assert [n for u, n in seen if u is not None] == [n for u, n in seen if u == {at}]
    ((summarised, every),) = [(n, m) for u, n in seen for v, m in seen if u and v is None]
    assert 0 < summarised < every / 2
    seen.clear()
    client.write_text(
        text.replace(re.search(r"^name: .*$", text, re.M).group(0), "name: Renamed", 1)
    )
    same_as_full(repo, tmp_path, monkeypatch, step=1)
    assert [u for u, _ in seen] == [None, None]  # (and the cold build of the copy)


def test_a_period_edited_in_place_skips_the_template_checks(repo, tmp_path, monkeypatch):
    """The template checks (T2, T7, T9, P7) read of a time period only which periods
    exist where: a period default edited in place leaves them to the state's verdict
    (the warm build does not run them); a new period runs them again. Both builds are
    those of a cold build."""
    import snavc.resolve as resolve

    calls = []
    real = resolve.check_templates

    def spying(ctx):
        calls.append(ctx)
        real(ctx)

    monkeypatch.setattr(incremental, "MAX_DIRTY", 1.0)
    monkeypatch.setattr(resolve, "check_templates", spying)
    client = sorted(repo.rglob("client.yaml"))[0]
    text = client.read_text()
    edited = text.replace(
        "default_for: [notification]\n", "default_for: [notification, check]\n", 1
    )
    assert edited != text
    client.write_text(edited)
    same_as_full(repo, tmp_path, monkeypatch)
    assert len(calls) == 1  # the cold build of the copy only
    calls.clear()
    at = re.search(r"^id: (\S+)", text, re.M).group(1)
    client.write_text(
        edited + f"---\nkind: TimePeriod\nid: {at}-nights\nat: {at}\n"
        'ranges:\n  monday: ["00:00-06:00"]\n'
    )
    same_as_full(repo, tmp_path, monkeypatch, step=1)
    assert len(calls) == 2  # the warm build ran them too


def test_the_shared_checks_an_edit_runs():
    """An edit runs the shared checks that read what it changed: a period edited in
    place only the default walk's (P9, P10), a period moved or new the template checks
    too (P7); a user's name none, its role or home the template checks (V1, V1a)."""
    period = {"kind": "TimePeriod", "id": "p", "at": "c1", "default_for": ["check"]}
    checks = incremental._checks
    assert checks({("TimePeriod", "p"): (period, {**period, "default_for": []})}) == {"nodes"}
    assert checks({("TimePeriod", "p"): (period, {**period, "at": "p0"})}) == {"nodes", "templates"}
    assert checks({("TimePeriod", "p"): (None, period)}) == {"nodes", "templates"}
    user = {"kind": "User", "id": "u", "at": "c1", "role": "operator"}
    assert checks({("User", "u"): (user, {**user, "name": "U"})}) == set()
    assert checks({("User", "u"): (user, {**user, "role": "admin"})}) == {"templates"}
    assert checks({("User", "u"): (user, {**user, "at": "p0"})}) == {"templates"}
    assert checks({("Client", "c1"): ({}, {})}) == set(incremental._CHECKS_READ)


def test_what_an_edit_reads_to_find_what_refers_to_it():
    """_reach reads only the kinds that may refer to an edited one (directly or
    through others): every kind that refers to another by tree.REFERENCES is read for
    it, and for what refers to that; a period's edit reads no contact."""
    from snavc.engine.inputs import _CONFIG_TARGETS
    from snavc.model import NODE_KINDS
    from snavc.tree import REFERENCES

    reads = incremental._referring_kinds
    for kind, specs in REFERENCES.items():
        for _spec, target in specs:
            if target in _CONFIG_TARGETS and kind not in NODE_KINDS:
                assert kind in reads(frozenset([target])), (kind, target)
                assert reads(frozenset([kind])) <= reads(frozenset([target]))
    period = reads(frozenset(["TimePeriod"]))
    assert {"ServiceTemplate", "ServiceTemplateOverride", "EquipmentTemplate"} <= period
    assert not period & {"Contact", "ContactGroup", "User", "MonitoringAccount", "Box"}
    assert "Contact" in reads(frozenset(["User"])) and not reads(frozenset(["Client"]))
