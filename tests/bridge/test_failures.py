"""How export and drift fail on exports they cannot use: diagnostics at the CSV file
(line 1 for its header), in the command's format (JSON under --format json)."""

from __future__ import annotations

import json

import pytest

from .conftest import run, small_estate


def _bad_files(folder):
    folder.mkdir(exist_ok=True)
    files = {
        "SNV801": ("empty.csv", ""),
        "SNV802": ("cells.csv", "Hostname,Address\nx,1\n"),
        "SNV802-twice": (
            "dup.csv",
            "ID,Name,Name,Company Name,Company ID,Collector name,Collector ID\n1,a,b,S,7,B,8\n",
        ),
        "SNV803": (
            "rows.csv",
            "ID,Name,Company Name,Company ID,Collector name,Collector ID\n1,a,S,7,B\n",
        ),
    }
    out = {}
    for code, (name, text) in files.items():
        (folder / name).write_text(text, encoding="utf-8")
        out[code] = folder / name
    return out


@pytest.mark.parametrize("code", ["SNV801", "SNV802", "SNV802-twice", "SNV803"])
def test_export_and_drift_fail_in_json_under_format_json(tmp_path, code):
    _h, _s, _repo, build = small_estate(tmp_path / "e", services=None)
    path = _bad_files(tmp_path / "bad")[code]
    result = run(
        "export", build, "--like", path, "-o", tmp_path / "out", "--format", "json", exit_code=1
    )
    found = json.loads(result.stdout)
    [d] = [
        x
        for x in (found if isinstance(found, list) else found["errors"])
        if x["severity"] == "error"
    ]
    assert (d["code"], d["file"], d["line"]) == (code[:6], path.name, 1 if code != "SNV803" else 2)
    assert not (tmp_path / "out").exists()
    result = run("drift", build, "--export", path, "--format", "json", exit_code=1)
    found = json.loads(result.stdout)
    [d] = [
        x
        for x in (found if isinstance(found, list) else found["errors"])
        if x["severity"] == "error"
    ]
    assert (d["code"], d["file"], d["line"]) == (code[:6], path.name, 1 if code != "SNV803" else 2)


def test_a_header_matching_no_map_is_located_at_the_file_in_text_too(tmp_path):
    _h, _s, _repo, build = small_estate(tmp_path / "e", services=None)
    path = _bad_files(tmp_path / "bad")["SNV802"]
    for args in (
        ["export", build, "--like", path, "-o", tmp_path / "out"],
        ["drift", build, "--export", path],
    ):
        result = run(*args, exit_code=1)
        assert (
            "cells.csv:1: error[SNV802] the header line matches no hosts/services export"
            in result.output
        )


def test_two_hosts_exports_are_refused_by_export_and_drift(tmp_path):
    hosts, _s, _repo, build = small_estate(tmp_path / "e", services=None)
    other = tmp_path / "other" / "hosts-again.csv"
    other.parent.mkdir()
    other.write_bytes(hosts.read_bytes())
    for args in (
        ["export", build, "--like", hosts, "--like", other, "-o", tmp_path / "out"],
        ["drift", build, "--export", hosts, "--export", other],
    ):
        result = run(*args, exit_code=1)
        assert (
            "hosts-again.csv:1: error[SNV802] a second hosts export (the first is hosts.csv): "
            "give one of each" in result.output
        )
    assert not (tmp_path / "out").exists()


def test_a_duplicated_header_is_refused_by_import(tmp_path):
    path = _bad_files(tmp_path)["SNV802-twice"]
    result = run("import", path, "-o", tmp_path / "out", exit_code=1)
    assert (
        "dup.csv:1: error[SNV802] the header line names 'Name' 2 times (columns 2, 3)"
        in result.output
    )


def test_an_id_in_no_row_is_noted_at_its_line_in_the_repository(tmp_path):
    hosts, _s, _repo, build = small_estate(tmp_path / "e", services=None)
    lines = hosts.read_text(encoding="utf-8").splitlines(keepends=True)
    hosts.write_text("".join(lines[:2]), encoding="utf-8")  # host 2 deleted in the product
    result = run("export", build, "--like", hosts, "-o", tmp_path / "out", "--format", "json")
    [d] = [d for d in json.loads(result.stdout)["diagnostics"] if d["code"] == "SNV808"]
    assert (d["file"], d["line"]) == ("hosts.csv", None)  # no row of the file is about it
    assert "equipment 'db' has servicenav_id 2, which is in no row of hosts.csv" in d["message"]
    [note] = d["related"]
    text = (_repo / note["file"]).read_text(encoding="utf-8").splitlines()
    assert text[note["line"] - 1] == 'servicenav_id: "2"'
    assert note["message"] == "in the repository built"


def test_a_repeated_id_in_a_reference_is_snv804_for_export_and_drift(tmp_path):
    hosts, services, _repo, build = small_estate(tmp_path / "e")
    lines = hosts.read_text(encoding="utf-8").splitlines(keepends=True)
    hosts.write_text("".join([*lines, lines[1].replace(",web,", ",web copy,")]), encoding="utf-8")
    message = "hosts.csv:4: error[SNV804] host ID 1 already on line 2: one row per host"
    result = run("export", build, "--like", hosts, "-o", tmp_path / "out", exit_code=1)
    assert message in result.output
    assert "SNV808" not in result.output  # the second row is not mistaken for another host
    assert not (tmp_path / "out").exists()
    result = run("drift", build, "--export", hosts, "--export", services, exit_code=1)
    assert message in result.output
