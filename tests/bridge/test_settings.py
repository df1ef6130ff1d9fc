"""The bridge's settings (``Project.servicenav`` of ``--settings FILE`` or ./snav.yaml) are
read and checked as `snavc validate` checks snav.yaml: every problem is a diagnostic at
its place, exit 1, in the command's format; nothing is read or written before."""

from __future__ import annotations

import json
import typing
from pathlib import Path

import pytest

from snavc.bridge import columns as cols
from snavc.model import HostColumn, ServiceColumn

from .conftest import run

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "servicenav"

# (setting under `servicenav:`, code, column of the diagnostic on line 4, words of it)
BAD = [
    ("language: de", "SNV205", 13, "'servicenav.language'"),
    ("columns: [1,2]", "SNV204", 12, "must be a mapping, not a list"),
    ("columns: {hosts: [1]}", "SNV204", 20, "'servicenav.columns.hosts' in Project must be"),
    ("columns: {hosts: {address: 5}}", "SNV204", 30, "must be a string, not a number"),
    ("categories: [a]", "SNV204", 15, "'servicenav.categories' in Project must be a mapping"),
    ("check_interval_unit: hours", "SNV205", 24, "expected one of minutes, seconds"),
    ("decimal: 5", "SNV205", 12, "'servicenav.decimal'"),
    ('list_separator: ""', "SNV205", 19, "the list separator cannot be empty"),
    ("categories: {toaster: x}", "SNV205", 16, "invalid key 'toaster' in servicenav.categories"),
    ('categories: {server: " "}', "SNV205", 24, "cannot be blank"),
    ("foo: 1", "SNV203", 3, "unknown field 'servicenav.foo'"),
    ("columns: {planets: {}}", "SNV203", 13, "unknown field 'servicenav.columns.planets'"),
    ('columns: {hosts: {bogus: "X"}}', "SNV205", 21, "invalid key 'bogus'"),
    ('columns: {services: {address: "X"}}', "SNV205", 24, "invalid key 'address'"),
    ('columns: {hosts: {address: ""}}', "SNV205", 30, "cannot be blank"),
]


def _settings(folder: Path, setting: str, name: str = "s.yaml") -> Path:
    path = folder / name
    path.write_text(f"kind: Project\nname: x\nservicenav:\n  {setting}\n", encoding="utf-8")
    return path


def _commands(folder: Path, settings: list[str]) -> dict[str, list]:
    hosts = SAMPLES / "hosts.csv"
    return {
        "import": ["import", hosts, "-o", folder / "out", *settings],
        "export": ["export", folder / "build", "--like", hosts, "-o", folder / "out", *settings],
        "drift": ["drift", folder / "build", "--export", hosts, *settings],
    }


@pytest.mark.parametrize(("setting", "code", "column", "words"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_setting_is_a_positioned_diagnostic_for_every_command(
    tmp_path, setting, code, column, words
):
    path = _settings(tmp_path, setting)
    for command, args in _commands(tmp_path, ["--settings", path]).items():
        result = run(*args, exit_code=1)
        assert f"s.yaml:4:{column}: error[{code}]" in result.output, (command, result.output)
        assert words in result.output, command
        assert "internal error" not in result.output
        assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("setting", "code", "column", "words"), BAD[:4], ids=[b[0] for b in BAD[:4]]
)
def test_validate_reports_the_same_problems(tmp_path, setting, code, column, words):
    repo = tmp_path / "repo"
    repo.mkdir()
    _settings(repo, setting, "snav.yaml")
    result = run("validate", repo, "--format", "json", exit_code=1)
    [d] = json.loads(result.output)
    assert (d["code"], d["file"], d["line"], d["column"]) == (code, "snav.yaml", 4, column)
    assert words in d["message"]


def test_the_diagnostics_follow_the_format_and_name_the_default_snav_yaml(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _settings(tmp_path, "language: de", "snav.yaml")
    for command, args in _commands(tmp_path, []).items():
        result = run(*args, "--format", "json", exit_code=1)
        data = json.loads(result.stdout)
        assert [(d["code"], d["file"], d["line"], d["column"]) for d in data] == [
            ("SNV205", "snav.yaml", 4, 13)
        ], command


def test_a_yaml_error_in_the_settings_is_at_its_line_and_column(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("kind: Project\nname: [x\nservicenav: {}\n", encoding="utf-8")
    for command, args in _commands(tmp_path, ["--settings", path]).items():
        result = run(*args, exit_code=1)
        assert "s.yaml:3:11: error[SNV101] YAML syntax error" in result.output, command
        assert "unicode string" not in result.output and "\\x0a" not in result.output


def test_good_settings_are_used(tmp_path):
    hosts = tmp_path / "hosts.csv"
    hosts.write_text(
        "ID,Name,Company Name,Company ID,Boîtier,ID du boîtier,Labels,Label IDs\n"
        "1,a,Shop,7,B,8,x|y,5|6\n",
        encoding="utf-8",
    )
    path = _settings(
        tmp_path,
        'columns: {hosts: {collector: "Boîtier", collector_id: "ID du boîtier"}}\n'
        '  list_separator: "|"',
    )
    run("import", hosts, "-o", tmp_path / "out", "--settings", path, "--check")
    text = (tmp_path / "out/clients/shop/equipment.yaml").read_text(encoding="utf-8")
    assert "box: b\n" in text and "labels: [x, y]\n" in text


def test_the_model_knows_the_fields_of_the_column_maps():
    # the settings' model lists the fields itself (snavc.model imports no other module)
    assert list(typing.get_args(HostColumn)) == list(cols.HOST_COLUMNS)
    assert list(typing.get_args(ServiceColumn)) == list(cols.SERVICE_COLUMNS)
