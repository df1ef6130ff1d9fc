"""Numbers in the exports' cells: outside the models' bounds, or not finite, a cell is
a row that cannot be mapped (SNV804, at the row) in import, export and drift alike."""

from __future__ import annotations

import json

import pytest

from .conftest import SMALL_HOSTS, run, small_estate

# (column, cell, words of the message)
BAD = [
    ("Check interval (min)", "1e308", "'1e308' is out of range: at most 44640 minutes (31 days)"),
    ("Check interval (min)", "1e300", "'1e300' is out of range: at most 44640 minutes"),
    ("Check interval (min)", "44641", "'44641' is out of range"),
    ("Check interval (min)", "inf", "'inf' is not a number"),
    ("Check interval (min)", "nan", "'nan' is not a number"),
    ("Check interval (min)", "0", "'0' is not a whole, positive number of seconds"),
    ("Criticality", "6", "Criticality: '6' is out of range: from 1 to 5"),
    ("Criticality", "0", "Criticality: '0' is out of range: from 1 to 5"),
    ("Criticality", "9" * 5000, "is not a whole number"),
    ("Target availability rate", "100.5", "'100.5' is out of range: more than 0, at most 100"),
    ("Target availability rate", "0", "'0' is out of range: more than 0, at most 100"),
    ("Target availability rate", "1e999", "'1e999' is not a number"),
]


def _with_cell(column: str, text: str) -> str:
    lines = SMALL_HOSTS.split("\n")
    header = lines[0].split(",")
    row = lines[1].split(",")
    row[header.index(column)] = text
    lines[1] = ",".join(row)
    return "\n".join(lines)


@pytest.mark.parametrize(("column", "cell", "words"), BAD, ids=[f"{c}={v[:8]}" for c, v, _ in BAD])
def test_a_number_out_of_bounds_is_snv804_at_its_row(tmp_path, column, cell, words):
    _h, _s, _repo, build = small_estate(tmp_path / "good")
    bad = tmp_path / "hosts.csv"
    bad.write_text(_with_cell(column, cell), encoding="utf-8")
    result = run("import", bad, "-o", tmp_path / "repo", exit_code=1)
    assert f"hosts.csv:2: error[SNV804] {column}: " in result.output
    assert words in result.output
    assert not (tmp_path / "repo").exists()
    result = run("export", build, "--like", bad, "-o", tmp_path / "out", exit_code=1)
    assert f"hosts.csv:2: error[SNV804] {column}: " in result.output and words in result.output
    assert "nothing is written" in result.output
    assert not (tmp_path / "out").exists()
    result = run("drift", build, "--export", bad, "--format", "json", exit_code=1)
    [error] = json.loads(result.output)["errors"]
    assert (error["code"], error["file"], error["line"]) == ("SNV804", "hosts.csv", 2)
    assert words in error["message"]


def test_the_bounds_themselves_are_imported(tmp_path):
    hosts = _with_cell("Check interval (min)", "44640").replace(",3,99.5,", ",5,100,")
    (tmp_path / "hosts.csv").write_text(hosts, encoding="utf-8")
    run("import", tmp_path / "hosts.csv", "-o", tmp_path / "repo", "--check")
    text = (tmp_path / "repo/clients/shop/equipment.yaml").read_text(encoding="utf-8")
    assert "criticality: 5\navailability_target: 100.0\ncheck_interval: 2678400\n" in text
