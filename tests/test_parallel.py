"""The parallel loader gives the same documents, positions and diagnostics as one process."""

from __future__ import annotations

from pathlib import Path

import pytest

from snavc import load
from snavc.bench.generate import generate
from snavc.pipeline import compile_repo


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


def test_parallel_build_gives_the_same_effective_configuration(estate, monkeypatch):
    from snavc.emit import dumps, effective

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
    from snavc.diff import _deep_field_changes, _field_changes

    assert _field_changes(old, new) == _deep_field_changes(old, new)
