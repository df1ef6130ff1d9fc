"""`export` and `drift` refuse a build folder whose effective.json is not what `snavc
build` writes: a usage error (exit 2) naming the file and what is wrong, never a
crash, never an empty estate."""

from __future__ import annotations

import json

import pytest

from .conftest import run, small_estate

BAD = [
    ("[]", "its top level is not a JSON object"),
    ("5", "its top level is not a JSON object"),
    ("", "its top level is not a JSON object"),
    ("{}", "no 'equipment' object"),
    ('{"equipment":5}', "'equipment' is a number, not an object"),
    ('{"equipment":{}}', "no 'nodes' object"),
    ('{"equipment":{},"nodes":[]}', "'nodes' is a list, not an object"),
    ('{"equipment":{"x":5},"nodes":{}}', "equipment 'x' is a number, not an object"),
    (
        '{"equipment":{"x":{"at":"n","servicenav_id":7}},"nodes":{"n":3}}',
        "node 'n' is a number, not an object",
    ),
    (
        '{"equipment":{"x":{"at":"n","servicenav_id":7}},"nodes":{}}',
        "equipment 'x' has 'servicenav_id' as a number",
    ),
    (
        '{"equipment":{"x":{"services":{"a":{"labels":[1]}}}},"nodes":{}}',
        "equipment 'x' has unit service 'a' with 'labels' as a list holding a number, not a list of IDs",
    ),
    (
        '{"equipment":{"x":{"periods":{"check":"24x7"}}},"nodes":{}}',
        "equipment 'x' has periods.check as a string, not an object",
    ),
    (
        '{"equipment":{"x":{"criticality":true}},"nodes":{}}',
        "equipment 'x' has 'criticality' as a boolean",
    ),
    (
        '{"equipment":{"x":{"services":{"a":{"thresholds":{"warning":80}}}}},"nodes":{}}',
        "equipment 'x' has unit service 'a' with 'thresholds.warning' as a number",
    ),
    (
        '{"equipment":{"x":{"periods":{"check":{"id":5}}}},"nodes":{}}',
        "equipment 'x' has periods.check.id as a number",
    ),
    ('{"equipment":{},"nodes":{"n":{"name":"N"}}}', "node 'n' has no kind"),
    ('{\n"equipment":{\n"x":{"at":"n"]\n},\n"nodes":{}\n}\n', "equipment 'x' is not valid JSON"),
    ('{"equipment":{},"nodes":{"n":{"kind":"planet"}}}', "node 'n': 'kind' is 'planet'"),
]


@pytest.mark.parametrize(("text", "words"), BAD, ids=[b[0][:40] for b in BAD])
def test_a_malformed_build_is_a_usage_error(tmp_path, text, words):
    h, _s, _repo, _build = small_estate(tmp_path / "e", services=None)
    build = tmp_path / "bad"
    build.mkdir()
    (build / "effective.json").write_text(text, encoding="utf-8")
    for args in (
        ["export", build, "--like", h, "-o", tmp_path / "out"],
        ["drift", build, "--export", h],
    ):
        result = run(*args, exit_code=2)
        assert f"{build.as_posix()}/effective.json is not a snavc build: {words}" in result.output
        assert not (tmp_path / "out").exists()


def test_a_build_reformatted_by_another_tool_is_read(tmp_path):
    h, _s, _repo, build = small_estate(tmp_path / "e", services=None)
    data = json.loads((build / "effective.json").read_text(encoding="utf-8"))
    other = tmp_path / "other"
    other.mkdir()
    (other / "effective.json").write_text(json.dumps(data, indent=1), encoding="utf-8")
    result = run("drift", other, "--export", h, "--detailed-exitcode")
    assert "+0 added, ~0 changed, -0 removed" in result.output
