"""The parallel loader gives the same documents, positions and diagnostics as one process."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from snavc.bench.generate import generate
from snavc.engine import load
from snavc.engine.pipeline import compile_repo


@pytest.fixture(scope="module")
def estate(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("estate")
    generate(root, 300)
    (root / "broken.yaml").write_text("kind: Contact\nid: x\nname: [unclosed\n")
    (root / "zz-dup.yaml").write_text("kind: Box\nid: b\nat: p0\nat: p0\n")
    return root


def _docs(root: Path):
    files, _ = load.discover(root)
    docs, diags = load.load_files(root, files)
    return [(d.file, d.index, d.line, d.column, d.data, d.pos) for d in docs], diags


def test_parallel_load_equals_sequential(estate, monkeypatch):
    sequential = _docs(estate)
    monkeypatch.setattr(load, "PARALLEL_MIN_BYTES", 0)
    parallel = _docs(estate)
    assert parallel == sequential
    assert [d.code for d in parallel[1]] == ["SNV101", "SNV104"]


@pytest.mark.parametrize("file", [True, False])
def test_the_forked_loader_answers_through_a_file_or_the_pipe(estate, monkeypatch, file):
    """The child's marshalled documents come through an unnamed temporary file this
    process maps, or, where no such file can be made, through the pipe: the same
    documents either way."""
    import tempfile

    sequential = _docs(estate)
    mapped = []
    real = load.read_marshalled

    def spying(f):
        mapped.append(f)
        return real(f)

    def refused(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(load, "read_marshalled", spying)
    monkeypatch.setattr(load, "PARALLEL_MIN_BYTES", 0)
    if not file:
        monkeypatch.setattr(tempfile, "TemporaryFile", refused)
    assert _docs(estate) == sequential
    assert len(mapped) == (1 if file else 0)


def _streamed(root: Path):
    """load_files with ``each``: the documents as handed on, and the chunks' sizes."""
    files, _ = load.discover(root)
    got, chunks = [], []

    def each(docs):
        chunks.append(len(docs))
        got.extend((d.file, d.index, d.line, d.column, d.data, d.pos) for d in docs)

    docs, diags = load.load_files(root, files, each=each)
    assert docs == []
    return (got, diags), chunks


def test_streamed_load_hands_on_the_documents_in_order(estate, monkeypatch):
    """A cold build validates the first files while the forked loader parses the last
    (``each``): the child writes its documents chunk by chunk, and they are handed on
    in file order, with the same diagnostics, as one process gives them."""
    sequential = _docs(estate)
    assert _streamed(estate)[0] == sequential  # (small: one process)
    monkeypatch.setattr(load, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(load, "CHUNK_BYTES", 4096)
    streamed, chunks = _streamed(estate)
    assert streamed == sequential
    files = len(load.discover(estate)[0])
    assert len(chunks) > files * (1 - load.OWN_SHARE_EACH) / 4  # the child's come in chunks


@pytest.mark.parametrize("dies_after", [0, 5])
def test_a_streaming_child_that_dies_leaves_its_files_to_this_process(
    estate, monkeypatch, dies_after
):
    """The forked loader killed before its first chunk, or after a few: the files it did
    not hand on are loaded here, from the first one missing: same documents, in order."""
    sequential = _docs(estate)
    monkeypatch.setattr(load, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(load, "CHUNK_BYTES", 1)  # a chunk per file
    parent = os.getpid()
    real = load.load_file
    count = [0]

    def dying(*args, **kwargs):
        if os.getpid() != parent:
            count[0] += 1
            if count[0] > dies_after:
                os.kill(os.getpid(), signal.SIGKILL)
        return real(*args, **kwargs)

    monkeypatch.setattr(load, "load_file", dying)
    assert _streamed(estate)[0] == sequential


def test_a_streaming_child_without_a_file_answers_through_the_pipe(estate, monkeypatch):
    """No temporary file for the child to write its chunks to (a full disk): its
    documents come through the pipe once it is done, and are handed on at once."""
    import tempfile

    def refused(*args, **kwargs):
        raise OSError(28, "No space left on device")

    sequential = _docs(estate)
    monkeypatch.setattr(load, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(tempfile, "TemporaryFile", refused)
    streamed, chunks = _streamed(estate)
    assert streamed == sequential
    assert chunks[-1] > 10  # the child's, handed on together


def test_parallel_build_gives_the_same_effective_configuration(estate, monkeypatch):
    from snavc.engine.emit import dumps, effective

    result, res = compile_repo(estate)
    sequential = (dumps(effective(res)), [d.to_json() for d in result.diagnostics])
    monkeypatch.setattr(load, "PARALLEL_MIN_BYTES", 0)
    result, res = compile_repo(estate)
    assert (dumps(effective(res)), [d.to_json() for d in result.diagnostics]) == sequential


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ({"a": 1, "b": [1, 2], "c": "x"}, {"a": 2, "b": [1, 3], "d": None}),
        ({"criticality": 3, "check_period": "24x7"}, {"criticality": 3, "check_period": "office"}),
        ({"x": [1]}, {"x": [1]}),
        ({"a": True}, {"a": 1}),
    ],
)
def test_flat_field_changes_agree_with_deepdiff(old, new):
    """diff compares flat objects (unit services) without deepdiff: same answer."""
    from snavc.review.diff import _deep_field_changes, _field_changes

    assert _field_changes(old, new) == _deep_field_changes(old, new)


def _deepdiff_field_changes(old: dict, new: dict) -> list:
    """The reference: what diff computed with deepdiff before it walked the objects."""
    from deepdiff import DeepDiff

    from snavc.review.diff import _at

    out: dict[str, tuple] = {}
    for levels in DeepDiff(old, new, view="tree", verbose_level=2).values():
        for level in levels:
            parts = level.path(output_format="list")
            cut = next((i for i, p in enumerate(parts) if isinstance(p, int)), None)
            if cut is not None:
                parts = parts[:cut]
            if parts and parts[0] in ("periods", "defaults"):
                parts = parts[:2]
            path = ".".join(str(p) for p in parts)
            out[path] = (path, _at(old, parts), _at(new, parts))
    return [out[k] for k in sorted(out)]


EQUIPMENT = {
    "at": "s1",
    "box": "b1",
    "accounts": ["a", "b"],
    "periods": {"check": {"id": "p0-extended", "from": "p0"}, "notification": None},
    "notification": {"contacts": ["c1"], "groups": []},
    "services": {"cpu": {"criticality": 3, "check_interval": 60, "tags": [{"k": 1}]}},
}


@pytest.mark.parametrize(
    "edit",
    [
        lambda e: e["periods"].update(check={"id": "business-hours", "from": "product"}),
        lambda e: e["periods"]["check"].update(id="x"),
        lambda e: e["periods"].pop("notification"),
        lambda e: e["notification"].update(contacts=["c2", "c1"]),
        lambda e: e["services"]["cpu"].update(criticality=3.0),
        lambda e: e["services"]["cpu"].update(check_interval=True),
        lambda e: e["services"]["cpu"]["tags"][0].update(k=2),
        lambda e: e["services"].update(disk={"criticality": 1}),
        lambda e: e["services"].update(cpu="gone"),
        lambda e: e.update(box="b2", address="10.0.0.1"),
        lambda e: e.pop("accounts"),
        lambda e: None,
    ],
)
def test_nested_field_changes_agree_with_deepdiff(edit):
    """diff walks nested objects itself (deepdiff took 20 s of a 45 s plan): same answer."""
    import copy

    from snavc.review.diff import _deep_field_changes

    new = copy.deepcopy(EQUIPMENT)
    edit(new)
    assert _deep_field_changes(EQUIPMENT, new) == _deepdiff_field_changes(EQUIPMENT, new)
    assert _deep_field_changes(new, EQUIPMENT) == _deepdiff_field_changes(new, EQUIPMENT)
