"""The formats for code hosts and people (issue 11): SARIF 2.1.0 (validated against the
official schema, tests/data/), GitLab Code Quality (fingerprints that survive line
shifts), GitHub annotations with related places, and where paths point: the current
folder for text, the checkout's root for the others."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import jsonschema
import pytest
from conftest import run

from snavc.diagnostics import CODES, Diagnostic, Location, render_text
from snavc.review.formats import DOCS_URL, Paths, render_codequality, render_sarif

ROOT = Path(__file__).resolve().parents[1]
SARIF_SCHEMA = json.loads((ROOT / "tests" / "data" / "sarif-schema-2.1.0.json").read_text())

# a duplicate ID (an error with a related place) and an empty file (a warning)
DUPLICATE = {
    "a.yaml": "kind: Contact\nid: noc\nat: partner\nname: NOC\n",
    "b.yaml": "# the same ID\nkind: Contact\nid: noc\nat: partner\nname: NOC 2\n",
    "c.yaml": "",
}


@pytest.fixture(autouse=True)
def _no_ci(monkeypatch, tmp_path):
    # the paths of these tests must not depend on the CI that runs them, nor on a git
    # repository above tmp_path
    monkeypatch.delenv("GITHUB_WORKSPACE", raising=False)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))


def sarif_of(repo: Path, *args: str, exit_code: int = 1) -> dict:
    log = json.loads(
        run("validate", "--format", "sarif", repo, *args, exit_code=exit_code, cwd=repo).output
    )
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(log)
    return log


# -- SARIF ------------------------------------------------------------------------------------


def test_sarif_validates_against_the_official_schema_with_exact_results(make_repo):
    repo = make_repo(DUPLICATE)
    log = sarif_of(repo)
    assert log["version"] == "2.1.0"
    [the_run] = log["runs"]
    results = the_run["results"]
    for r in results:  # checked apart: a hash
        assert re.fullmatch(r"[0-9a-f]{32}", r.pop("partialFingerprints")["snavc/v1"])
    codes = sorted(CODES)
    assert results == [
        {
            "ruleId": "SNV301",
            "ruleIndex": codes.index("SNV301"),
            "level": "error",
            "message": {"text": "duplicate ID: Contact 'noc' is already defined"},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": "b.yaml"},
                        "region": {"startLine": 3, "startColumn": 5},
                    }
                }
            ],
            "relatedLocations": [
                {
                    "id": 1,
                    "physicalLocation": {
                        "artifactLocation": {"uri": "a.yaml"},
                        "region": {"startLine": 2, "startColumn": 5},
                    },
                    "message": {"text": "first defined here"},
                }
            ],
        },
        {
            "ruleId": "SNV110",
            "ruleIndex": codes.index("SNV110"),
            "level": "warning",
            "message": {"text": "file holds no YAML document"},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": "c.yaml"},
                        "region": {"startLine": 1, "startColumn": 1},
                    }
                }
            ],
        },
    ]


def test_sarif_rules_are_the_diagnostic_codes_with_their_docs(make_repo):
    log = sarif_of(make_repo(), exit_code=0)
    driver = log["runs"][0]["tool"]["driver"]
    assert driver["name"] == "snavc"
    assert [r["id"] for r in driver["rules"]] == sorted(CODES)
    rule = next(r for r in driver["rules"] if r["id"] == "SNV409")
    assert rule == {
        "id": "SNV409",
        "name": "NodeWithoutADefaultTimePeriod",
        "shortDescription": {"text": "node without a default time period"},
        "helpUri": f"{DOCS_URL}#snv409",
    }
    assert log["runs"][0]["results"] == []
    # every helpUri lands on an anchor of docs/diagnostics.md
    anchors = set(re.findall(r'<a id="(snv\d+)"></a>', (ROOT / "docs/diagnostics.md").read_text()))
    assert {r["helpUri"].split("#")[1] for r in driver["rules"]} <= anchors


def test_sarif_rule_in_the_message_and_properties():
    d = Diagnostic("error", "SNV209", "a site cannot set 'mode'", "s.yaml", 4, 1, rule="M2")
    [result] = json.loads(render_sarif([d]))["runs"][0]["results"]
    assert result["message"] == {"text": "a site cannot set 'mode' (rule M2)"}
    assert result["properties"] == {"rule": "M2"}


def test_sarif_of_the_shipped_catalogue_and_of_no_position_is_valid():
    diags = [
        Diagnostic("error", "SNV201", "unknown kind", "<catalog>/roles.yaml", 2, 1),
        Diagnostic("error", "SNV424", "revision 'main' does not build", ".", None, None),
    ]
    log = json.loads(render_sarif(diags))
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(log)
    first, second = log["runs"][0]["results"]
    assert first["locations"] == [
        {"logicalLocations": [{"fullyQualifiedName": "<catalog>/roles.yaml"}]}
    ]
    assert second["locations"] == [{"physicalLocation": {"artifactLocation": {"uri": "."}}}]


def test_build_sarif_is_a_log_even_without_diagnostics(make_repo, tmp_path):
    repo = make_repo()
    out = run("build", repo, "-o", tmp_path / "out", "--format", "sarif", cwd=repo).output
    log = json.loads(out)
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(log)
    assert log["runs"][0]["results"] == []


# -- GitLab Code Quality ------------------------------------------------------------------------


def test_codequality_exact(make_repo):
    repo = make_repo(DUPLICATE)
    items = json.loads(
        run("validate", "--format", "codequality", repo, exit_code=1, cwd=repo).output
    )
    for i in items:
        assert re.fullmatch(r"[0-9a-f]{32}", i.pop("fingerprint"))
    assert items == [
        {
            "description": "SNV301: duplicate ID: Contact 'noc' is already defined; "
            "first defined here: a.yaml:2:5",
            "check_name": "SNV301",
            "severity": "major",
            "location": {"path": "b.yaml", "lines": {"begin": 3}},
        },
        {
            "description": "SNV110: file holds no YAML document",
            "check_name": "SNV110",
            "severity": "minor",
            "location": {"path": "c.yaml", "lines": {"begin": 1}},
        },
    ]


def test_fingerprints_survive_line_shifts(make_repo):
    repo = make_repo(DUPLICATE)

    def found():
        cq = json.loads(run("validate", "--format", "codequality", repo, exit_code=1).output)
        sarif = json.loads(run("validate", "--format", "sarif", repo, exit_code=1).output)
        results = sarif["runs"][0]["results"]
        return (
            [(i["location"]["lines"]["begin"], i["fingerprint"]) for i in cq],
            [r["partialFingerprints"]["snavc/v1"] for r in results],
        )

    (before, sarif_before) = found()
    (repo / "b.yaml").write_text("# one\n# two\n# three\n" + DUPLICATE["b.yaml"])
    (after, sarif_after) = found()
    assert [line for line, _ in before] == [3, 1] and [line for line, _ in after] == [6, 1]
    assert [f for _, f in before] == [f for _, f in after]
    assert sarif_before == sarif_after == [f for _, f in before]


def test_identical_problems_of_one_file_have_distinct_fingerprints():
    same = [Diagnostic("error", "SNV302", "x refers to 'y'", "f.yaml", n, 1) for n in (3, 9)]
    items = json.loads(render_codequality(same))
    assert items[0]["fingerprint"] != items[1]["fingerprint"]


# -- GitHub annotations -------------------------------------------------------------------------


def test_github_annotation_carries_the_related_places(make_repo):
    repo = make_repo(DUPLICATE)
    assert run("validate", "--format", "github", repo, exit_code=1, cwd=repo).output == (
        "::error file=b.yaml,line=3,col=5,title=SNV301::duplicate ID: Contact 'noc' is already "
        "defined%0Anote: first defined here: a.yaml:2:5\n"
        "::warning file=c.yaml,line=1,col=1,title=SNV110::file holds no YAML document\n"
        "1 error, 1 warning\n"
    )


# -- where paths point --------------------------------------------------------------------------


def test_text_paths_are_relative_to_the_current_folder(make_repo, tmp_path):
    repo = make_repo(DUPLICATE)  # tmp_path/repo1
    lines = run("validate", repo, exit_code=1, cwd=tmp_path).output.splitlines()
    assert (
        lines[0] == "repo1/b.yaml:3:5: error[SNV301] duplicate ID: Contact 'noc' is already defined"
    )
    assert lines[3] == "  note: first defined here: repo1/a.yaml:2:5"
    # from a subfolder of the repository: up with ..
    (repo / "sub").mkdir()
    lines = run("validate", repo, exit_code=1, cwd=repo / "sub").output.splitlines()
    assert lines[0].startswith("../b.yaml:3:5: error[SNV301] ")
    # a repository elsewhere: absolute, as given
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    lines = run("validate", repo, exit_code=1, cwd=elsewhere).output.splitlines()
    assert lines[0].startswith(f"{repo}/b.yaml:3:5: error[SNV301] ")


def test_json_paths_stay_relative_to_the_repository(make_repo, tmp_path):
    repo = make_repo(DUPLICATE)
    items = json.loads(run("validate", "--format", "json", repo, exit_code=1, cwd=tmp_path).output)
    assert [(i["file"], i["related"]) for i in items] == [
        ("b.yaml", [{"file": "a.yaml", "line": 2, "column": 5, "message": "first defined here"}]),
        ("c.yaml", []),
    ]


def _git_init(top: Path) -> None:
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", "init", "-q", str(top)], check=True, env=env, timeout=60)


def test_ci_paths_are_relative_to_the_git_top_level(make_repo, tmp_path, monkeypatch):
    # the configuration in a subfolder, run from that subfolder (`working-directory:`)
    top = tmp_path / "checkout"
    top.mkdir()
    repo = make_repo(DUPLICATE).rename(top / "config")
    _git_init(top)
    out = run("validate", "--format", "github", ".", exit_code=1, cwd=repo).output
    assert out.splitlines()[0] == (
        "::error file=config/b.yaml,line=3,col=5,title=SNV301::duplicate ID: Contact 'noc' is "
        "already defined%0Anote: first defined here: config/a.yaml:2:5"
    )
    cq = json.loads(run("validate", "--format", "codequality", ".", exit_code=1, cwd=repo).output)
    assert [i["location"]["path"] for i in cq] == ["config/b.yaml", "config/c.yaml"]
    log = json.loads(run("validate", "--format", "sarif", ".", exit_code=1, cwd=repo).output)
    uris = [
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in log["runs"][0]["results"]
    ]
    assert uris == ["config/b.yaml", "config/c.yaml"]
    # text stays relative to where the user is
    assert run("validate", ".", exit_code=1, cwd=repo).output.startswith("b.yaml:3:5: ")


def test_ci_paths_follow_github_workspace(make_repo, tmp_path, monkeypatch):
    repo = make_repo(DUPLICATE)  # tmp_path/repo1, not in git
    monkeypatch.setenv("GITHUB_WORKSPACE", str(tmp_path))
    out = run("validate", "--format", "github", repo, exit_code=1, cwd=repo).output
    assert out.splitlines()[1] == (
        "::warning file=repo1/c.yaml,line=1,col=1,title=SNV110::file holds no YAML document"
    )


def test_paths_of_the_catalogue_and_of_the_repository_itself(tmp_path):
    paths = Paths(tmp_path / "estate", tmp_path, tmp_path)
    assert paths.text("<catalog>/roles.yaml") == "<catalog>/roles.yaml"
    assert paths.text(".") == "estate"
    assert paths.checkout(".") == "estate"
    assert paths.checkout(None) is None


# -- text: colour -------------------------------------------------------------------------------


def test_colour_only_when_asked():
    d = Diagnostic(
        "error",
        "SNV301",
        "duplicate ID",
        "b.yaml",
        3,
        5,
        related=(Location("a.yaml", 2, 5, "first defined here"),),
    )
    plain = render_text([d])
    assert "\x1b[" not in plain
    assert render_text([d], colour=True) == (
        "\x1b[1mb.yaml:3:5:\x1b[0m \x1b[31m\x1b[1merror[SNV301]\x1b[0m duplicate ID\n"
        "  \x1b[36m\x1b[1mnote:\x1b[0m first defined here: a.yaml:2:5\n"
        "\x1b[1m1 error, 0 warnings\x1b[0m\n"
    )


# -- text: the source excerpt of a long line ----------------------------------------------


@pytest.mark.parametrize(
    ("column", "shown", "caret"),
    [
        (8, "pager: " + "9" * 113 + "…", 8),  # the start, cut at 120 characters
        (2000, "…" + "9" * 120 + "…", 42),  # a window around the column
        (5007, "…" + "9" * 120, 121),  # the end of the line
    ],
)
def test_a_long_source_line_is_shown_as_a_window_around_the_column(column, shown, caret):
    """A 5,000-digit number printed its whole line under the error: the excerpt is 120
    characters around the column, with '…' where text is left out, the caret under it."""
    line = "pager: " + "9" * 5000
    d = Diagnostic("error", "SNV114", "integer out of range", "c.yaml", 1, column)
    text = render_text([d], source=lambda f: [line + "\n"])
    assert text.splitlines()[1:3] == ["    " + shown, "    " + " " * (caret - 1) + "^"]
    assert shown.replace("…", "") in line


def test_a_short_source_line_is_shown_whole():
    d = Diagnostic("error", "SNV203", "unknown field", "c.yaml", 1, 1)
    line = "x" * 120
    assert render_text([d], source=lambda f: [line]).splitlines()[1:3] == [
        "    " + line,
        "    ^",
    ]


class _Tty:
    def __init__(self, tty: bool):
        self.tty = tty

    def isatty(self):
        return self.tty


def test_colour_wanted_on_a_terminal_without_no_color(monkeypatch):
    from snavc.cli import colour_wanted

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert colour_wanted(_Tty(True)) is True
    assert colour_wanted(_Tty(False)) is False
    monkeypatch.setenv("NO_COLOR", "1")
    assert colour_wanted(_Tty(True)) is False
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setenv("TERM", "dumb")
    assert colour_wanted(_Tty(True)) is False


def test_no_colour_in_captured_output(make_repo, monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    repo = make_repo(DUPLICATE)
    assert "\x1b[" not in run("validate", repo, exit_code=1).output


def test_sarif_uris_are_percent_encoded(make_repo):
    """A path with a space, "#", "%", "?", "," or a non-ASCII letter is a URI reference
    in SARIF: each is percent-encoded, so that "#" and "?" are not a fragment or a query."""
    from urllib.parse import unquote, urlsplit

    name = "dir é#%?/con tacts,x.yaml"
    repo = make_repo({name: DUPLICATE["a.yaml"], "b.yaml": DUPLICATE["b.yaml"]})
    log = sarif_of(repo)
    uris = {
        loc["physicalLocation"]["artifactLocation"]["uri"]
        for r in log["runs"][0]["results"]
        for loc in r["locations"] + r.get("relatedLocations", [])
    }
    encoded = "dir%20%C3%A9%23%25%3F/con%20tacts%2Cx.yaml"
    assert uris == {encoded, "b.yaml"}
    assert urlsplit(encoded).path == encoded and unquote(encoded) == name
