"""The command line (INTERFACE §2): exit codes, the three output formats of diagnostics,
``schema``, ``catalog``, and no traceback whatever the input.

Golden tests: each folder of tests/golden/validate/ is a repository, and its
``expected.txt`` the exact output of ``snavc validate`` on it. Regenerate them with
``pytest tests/test_cli.py --update-goldens`` and read the diff.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import run

import snavc

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden" / "validate"
GOLDEN_CASES = sorted(p.name for p in GOLDEN.iterdir() if p.is_dir()) if GOLDEN.is_dir() else []

DIAGNOSTIC_FIELDS = {"severity", "code", "rule", "message", "file", "line", "column", "related"}

TWO_ERRORS = {
    "b.yaml": "kind: Contact\nid: noc\nat: partner\nname: NOC\nnmae: NOC\n",
    "a.yaml": "kind: Client\nid: c1\nname: C1\nparent: partner\nmode: managed\n---\n"
    "kind: Site\nid: s1\nname: S1\nparent: c1\nmode: resale\n",
}


def test_python_dash_m_snavc_help():
    proc = subprocess.run(
        [sys.executable, "-m", "snavc", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("Usage: python -m snavc [OPTIONS] COMMAND [ARGS]...")
    for command in ("validate", "schema", "catalog"):
        assert f"\n  {command} " in proc.stdout
    assert proc.stderr == ""


def test_version():
    assert run("--version").output == f"snavc, version {snavc.__version__}\n"


# -- exit codes -------------------------------------------------------------------------------


def test_clean_repository_exits_0(make_repo):
    assert run("validate", make_repo()).output == "no problems found\n"


def test_warnings_alone_exit_0(make_repo):
    repo = make_repo({"todo.yaml": "# nothing yet\n"})
    out = run("validate", repo, exit_code=0, cwd=repo).output
    assert out == (
        "todo.yaml:1:1: warning[SNV110] file holds no YAML document\n"
        "    # nothing yet\n"
        "    ^\n"
        "0 errors, 1 warning\n"
    )


def test_errors_exit_1(make_repo):
    run("validate", make_repo(TWO_ERRORS), exit_code=1)


def test_yaml_syntax_error_exits_1(make_repo):
    run("validate", make_repo({"x.yaml": "kind: [\n"}), exit_code=1)


def test_default_repository_is_the_current_folder(make_repo, monkeypatch):
    monkeypatch.chdir(make_repo(TWO_ERRORS))
    out = run("validate", exit_code=1).output
    assert out.startswith("a.yaml:11:1: error[SNV209]")


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (
            ["validate", "{tmp}/missing"],
            "Error: Invalid value for '[REPO]': Directory '{tmp}/missing' does not exist.",
        ),
        (
            ["validate", "{tmp}/file.yaml"],
            "Error: Invalid value for '[REPO]': Directory '{tmp}/file.yaml' is a file.",
        ),
        (["validate", "--bogus", "{tmp}"], "Error: No such option"),
        (
            ["validate", "--format", "xml", "{tmp}"],
            "Error: Invalid value for '--format': 'xml' is not one of 'text', 'json', 'github', 'sarif', 'codequality'.",
        ),
        (
            ["validate", "--loader", "pyyaml", "{tmp}"],
            "Error: Invalid value for '--loader': 'pyyaml' is not one of 'fast', 'ruamel'.",
        ),
        (["frobnicate"], "Error: No such command 'frobnicate'."),
    ],
    ids=[
        "missing-repo",
        "repo-is-a-file",
        "unknown-option",
        "unknown-format",
        "unknown-loader",
        "unknown-command",
    ],
)
def test_usage_errors_exit_2(tmp_path, args, error):
    (tmp_path / "file.yaml").write_text("kind: Partner\n", encoding="utf-8")
    result = run(*[a.format(tmp=tmp_path) for a in args], exit_code=2)
    last = result.output.strip().splitlines()[-1]
    if "--bogus" in args:  # click words this one differently across versions
        assert last.startswith(error) and "--bogus" in last
    else:
        assert last == error.format(tmp=tmp_path)


# -- output formats ------------------------------------------------------------------------------


def test_text_output(make_repo):
    """``file:line:col: severity[CODE] message (rule X)``, the source line, a caret under the
    column, notes for related places, then the count; sorted by file then line."""
    repo = make_repo(
        {
            **TWO_ERRORS,
            "sub/c.yaml": "kind: Client\nid: c1\nname: C1 again\nparent: partner\nmode: resale\n---\n"
            'kind: Contact\nid: x\nname: "100% done"\nat: partnr\n',
            "d.yaml": "",
        }
    )
    assert run("validate", repo, exit_code=1, cwd=repo).output == (
        "a.yaml:11:1: error[SNV209] a site cannot set 'mode': sites inherit the mode of their client;"
        " set it on Client 'c1' (rule M2)\n"
        "    mode: resale\n"
        "    ^\n"
        "b.yaml:5:1: error[SNV203] unknown field 'nmae' in Contact 'noc'; did you mean 'name'?\n"
        "    nmae: NOC\n"
        "    ^\n"
        "d.yaml:1:1: warning[SNV110] file holds no YAML document\n"
        "sub/c.yaml:2:5: error[SNV301] duplicate ID: Client 'c1' is already defined\n"
        "    id: c1\n"
        "        ^\n"
        "  note: first defined here: a.yaml:2:5\n"
        "sub/c.yaml:10:5: error[SNV302] Contact 'x' refers to node 'partnr', which does not exist;"
        " did you mean 'partner'?\n"
        "    at: partnr\n"
        "        ^\n"
        "4 errors, 1 warning\n"
    )


def test_text_caret_under_a_tab(make_repo):
    """The excerpt keeps tabs, and so does the padding under it: the caret lines up."""
    repo = make_repo({"t.yaml": "kind: Contact\n  \tid: x\n"})
    out = run("validate", repo, exit_code=1, cwd=repo).output
    assert out == (
        "t.yaml:2:3: error[SNV103] tab character in indentation: YAML indents with spaces only\n"
        "      \tid: x\n"
        "      ^\n"
        "1 error, 0 warnings\n"
    )


@pytest.mark.parametrize("odd", ["\u2028", "\u2029", "\x85"], ids=["LS", "PS", "NEL"])
def test_text_excerpt_is_the_reported_line(make_repo, odd):
    """Excerpts split lines as YAML does; str.splitlines() would shift them."""
    repo = make_repo({"c.yaml": f'kind: Contact\nid: noc\nname: "a{odd}b"\nat: partner\nnmae: x\n'})
    out = run("validate", repo, exit_code=1, cwd=repo).output
    assert out.splitlines()[:3] == [
        "c.yaml:5:1: error[SNV203] unknown field 'nmae' in Contact 'noc'; did you mean 'name'?",
        "    nmae: x",
        "    ^",
    ]


def test_text_excerpt_of_a_control_character(make_repo):
    """A form feed is not allowed in YAML; the excerpt is still the reported line, the
    control character escaped (issue 10 item 17)."""
    repo = make_repo({"c.yaml": 'kind: Contact\nid: noc\nname: "a\x0cb"\nat: partner\n'})
    out = run("validate", repo, exit_code=1, cwd=repo).output
    assert out.split("\n")[:3] == [
        "c.yaml:3:9: error[SNV101] YAML syntax error: unacceptable character #x000c: "
        "special characters are not allowed",
        '    name: "a\\x0cb"',
        "            ^",
    ]


@pytest.mark.parametrize("newline", ["\r\n", "\r"], ids=["crlf", "cr"])
def test_text_excerpt_with_other_line_endings(make_repo, newline):
    body = "kind: Contact\nid: noc\nname: NOC\nat: partner\nnmae: x\n".replace("\n", newline)
    repo = make_repo({"c.yaml": body.encode()})
    assert run("validate", repo, exit_code=1, cwd=repo).output.splitlines()[:2] == [
        "c.yaml:5:1: error[SNV203] unknown field 'nmae' in Contact 'noc'; did you mean 'name'?",
        "    nmae: x",
    ]


def test_text_output_for_a_whole_file_and_without_a_position(make_repo, tmp_path, monkeypatch):
    """A problem with a file as a whole is at its 1:1 (no excerpt of a file refused
    unread); one about a folder has no position at all."""
    import snavc.engine.load as loadmod

    monkeypatch.setattr(loadmod, "MAX_FILE_BYTES", 1000)
    repo = make_repo(
        {
            # a catalogue of its own: the shipped one's files may be over the limit
            "snav.yaml": "kind: Project\ndefault_user: francois\ncatalog: cat\n",
            "cat/periods.yaml": "kind: TimePeriod\nid: always\ndefault_for: [check, notification, availability]\n",
            "big.yaml": "# padding\n" * 150,
        }
    )
    (tmp_path / "elsewhere").mkdir()
    (repo / "linked").symlink_to(tmp_path / "elsewhere")
    assert run("validate", repo, exit_code=1, cwd=repo).output == (
        "big.yaml:1:1: error[SNV108] file is 1,500 bytes, over the 1,000-byte limit: split it into several files\n"
        "linked: warning[SNV113] symbolic link points outside the repository; not followed\n"
        "1 error, 1 warning\n"
    )


def test_json_output_fields(make_repo):
    repo = make_repo(
        {
            **TWO_ERRORS,
            "c.yaml": "kind: Client\nid: c1\nname: C\nparent: partner\nmode: resale\n",
            "e.yaml": "",
        }
    )
    items = json.loads(run("validate", "--format", "json", repo, exit_code=1).output)
    assert isinstance(items, list) and len(items) == 4
    for item in items:
        assert set(item) == DIAGNOSTIC_FIELDS
        assert item["severity"] in ("error", "warning")
        assert isinstance(item["code"], str) and item["code"].startswith("SNV")
        assert isinstance(item["line"], int) and isinstance(item["column"], int)
        for rel in item["related"]:
            assert set(rel) == {"file", "line", "column", "message"}
    assert [(i["file"], i["line"], i["code"], i["rule"]) for i in items] == [
        ("a.yaml", 11, "SNV209", "M2"),
        ("b.yaml", 5, "SNV203", None),
        ("c.yaml", 2, "SNV301", None),
        ("e.yaml", 1, "SNV110", None),
    ]
    assert items[2]["related"] == [
        {"file": "a.yaml", "line": 2, "column": 5, "message": "first defined here"}
    ]
    assert items[3]["severity"] == "warning"


def test_json_output_of_a_clean_repository(make_repo):
    assert run("validate", "--format", "json", make_repo()).output == "[]\n"


def test_json_column_is_null_only_without_a_position(make_repo):
    repo = make_repo({"snav.yaml": None, "partner.yaml": None})
    assert json.loads(run("validate", "--format", "json", repo).output) == [
        {
            "severity": "warning",
            "code": "SNV110",
            "rule": None,
            "message": "the repository holds no YAML document",
            "file": ".",
            "line": None,
            "column": None,
            "related": [],
        }
    ]


def test_github_output(make_repo):
    repo = make_repo(
        {**TWO_ERRORS, "e.yaml": "", "p.yaml": 'kind: Contact\nid: x\nname: "50%"\nat: partnr\n'}
    )
    assert run("validate", "--format", "github", repo, exit_code=1).output.splitlines() == [
        "::error file=a.yaml,line=11,col=1,title=SNV209 (rule M2)::a site cannot set 'mode': sites inherit the "
        "mode of their client; set it on Client 'c1'",
        "::error file=b.yaml,line=5,col=1,title=SNV203::unknown field 'nmae' in Contact 'noc'; did you mean 'name'?",
        "::warning file=e.yaml,line=1,col=1,title=SNV110::file holds no YAML document",
        "::error file=p.yaml,line=4,col=5,title=SNV302::Contact 'x' refers to node 'partnr', which does not exist; "
        "did you mean 'partner'?",
        "3 errors, 1 warning",
    ]


def test_github_output_escapes_workflow_command_syntax():
    from snavc.diagnostics import Diagnostic, render_github

    d = Diagnostic("error", "SNV203", "100% wrong\nsecond line", "dir,with:odd.yaml", 3, 5)
    assert render_github([d]).splitlines()[0] == (
        "::error file=dir%2Cwith%3Aodd.yaml,line=3,col=5,title=SNV203::100%25 wrong%0Asecond line"
    )


def test_diagnostics_root_causes_first_then_by_file_and_line(make_repo):
    """Load and schema errors (root causes) come first, then the rest (issue 11: the
    root cause was listed third, and GitHub shows ten annotations); each by file, line."""
    repo = make_repo(
        {
            "z.yaml": "kind: Contact\nid: z1\nat: partner\nname: Z\nnmae: Z\n",
            "m/y.yaml": "kind: Contact\nid: y1\nat: partner\nname: Y\nnmae: Y\n---\nkind: Contact\nid: y2\nat: prtner\nname: Y\n",
            "a.yaml": "kind: Widget\n---\nkind: Contact\nid: a1\nat: partner\nname: A\nemial: a@example.net\n",
            "m/x.yml": "kind: Contact\nid: x1\nat: partner\nname: [X\n",
        }
    )
    items = json.loads(run("validate", "--format", "json", repo, exit_code=1).output)
    assert [(i["file"], i["line"], i["code"]) for i in items] == [
        ("a.yaml", 1, "SNV201"),
        ("a.yaml", 7, "SNV203"),
        ("m/x.yml", 5, "SNV101"),
        ("m/y.yaml", 5, "SNV203"),
        ("z.yaml", 5, "SNV203"),
        ("m/y.yaml", 9, "SNV302"),
    ]


@pytest.mark.parametrize("fmt", ["text", "json", "github"])
def test_both_loaders_give_the_same_output(make_repo, fmt):
    repo = make_repo(
        {**TWO_ERRORS, "x.yaml": "kind: Contact\nid: [\n", "y.yaml": "kind: Box\nid: b\nid: c\n"}
    )
    fast = run("validate", "--format", fmt, repo, exit_code=1).output
    assert run("validate", "--format", fmt, "--loader", "ruamel", repo, exit_code=1).output == fast


# -- golden outputs ----------------------------------------------------------------------------


@pytest.mark.parametrize("case", GOLDEN_CASES)
def test_golden_validate_output(case, update_goldens):
    """tests/golden/validate/<case>/expected.txt is ``snavc validate <case>``'s output."""
    folder = GOLDEN / case
    expected_file = folder / "expected.txt"
    result = run("validate", folder, exit_code=None, cwd=folder)
    output = f"# exit {result.exit_code}\n{result.output}"
    if update_goldens:
        expected_file.write_text(output, encoding="utf-8")
    assert expected_file.is_file(), f"no {expected_file}: run pytest {__file__} --update-goldens"
    assert output == expected_file.read_text(encoding="utf-8")
    assert (
        run("validate", "--loader", "ruamel", folder, exit_code=None, cwd=folder).output
        == result.output
    )


def test_golden_cases_exist():
    assert {"clean", "load-errors", "validate-errors", "tree-errors", "literal-secret"} <= set(
        GOLDEN_CASES
    )


def test_golden_literal_secret_shows_no_secret():
    text = (GOLDEN / "literal-secret" / "expected.txt").read_text(encoding="utf-8")
    for secret in ("Sup3r-S3cret-Community", "4242", "An0ther-S3cret"):
        assert secret not in text


# -- schema ------------------------------------------------------------------------------------


def test_committed_schemas_are_up_to_date(tmp_path):
    """schemas/ must be what ``snavc schema`` writes today (run ``make schemas``)."""
    out = tmp_path / "schemas"
    assert run("schema", "-o", out).output == f"wrote {len(list(out.iterdir()))} schemas to {out}\n"
    committed = ROOT / "schemas"
    fresh = {p.name: p.read_text(encoding="utf-8") for p in out.iterdir()}
    stored = {p.name: p.read_text(encoding="utf-8") for p in committed.glob("*.json")}
    assert sorted(stored) == sorted(fresh), "schemas/ holds other files than `snavc schema` writes"
    stale = [name for name in fresh if stored[name] != fresh[name]]
    assert not stale, f"stale schemas: {stale}; run `make schemas`"
    assert run("schema", "--check", "-o", committed).output == f"{committed} is up to date\n"


def test_schema_into_a_folder_that_cannot_be_made_is_an_error_not_a_crash(tmp_path):
    """A file where the folder goes: said, exit 1, no internal error (exit 3)."""
    (tmp_path / "file").write_text("mine\n", encoding="utf-8")
    result = run("schema", "-o", tmp_path / "file" / "schemas", exit_code=1)
    assert "cannot write" in result.output and "Not a directory" in result.output
    assert (tmp_path / "file").read_text(encoding="utf-8") == "mine\n"


def test_schema_check_fails_when_stale(tmp_path):
    out = tmp_path / "schemas"
    run("schema", "-o", out)
    run("schema", "--check", "-o", out, exit_code=0)
    (out / "Contact.json").write_text("{}\n", encoding="utf-8")
    (out / "Box.json").unlink()
    result = run("schema", "--check", "-o", out, exit_code=1)
    assert (
        "stale schemas in" in result.output
        and "Contact.json" in result.output
        and "Box.json" in result.output
    )


def test_schemas_describe_every_kind(tmp_path):
    out = tmp_path / "s"
    run("schema", "-o", out)
    names = sorted(p.name for p in out.iterdir())
    assert (
        "snavc.json" in names
        and "Equipment.json" in names
        and "ServiceTemplateOverride.json" in names
    )
    doc = json.loads((out / "snavc.json").read_text(encoding="utf-8"))
    assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    contact = json.loads((out / "Contact.json").read_text(encoding="utf-8"))
    assert contact["additionalProperties"] is False  # unknown fields are errors, editors too
    assert set(contact["required"]) >= {"kind", "id", "name"}


# -- catalog -----------------------------------------------------------------------------------


def test_catalog_lists_the_shipped_catalogue(make_repo):
    """INTERFACE §1: what the shipped catalogue holds at least."""
    out = run("catalog", make_repo()).output
    headers = [line.split(" (")[0] for line in out.splitlines() if not line.startswith(" ")]
    assert sorted(headers) == ["EquipmentTemplate", "Role", "ServiceTemplate", "TimePeriod"]
    listed = {line.split()[0] for line in out.splitlines() if line.startswith("  ")}
    required = {
        "24x7", "business-hours",
        "ping", "cpu", "memory", "disk", "http",
        "linux-server", "windows-server", "network-switch",
        "partner-admin", "client-viewer",
    }  # fmt: skip
    assert required <= listed


def test_catalog_json(make_repo):
    rows = json.loads(run("catalog", "--format", "json", make_repo()).output)
    by_id = {(r["kind"], r["id"]): r for r in rows}
    assert by_id[("Role", "client-viewer")]["permissions"] == []
    assert set(by_id[("Role", "partner-admin")]["permissions"]) == {
        "configure_equipment",
        "configure_services",
        "create_templates",
    }
    defaults = {a for r in rows if r["kind"] == "TimePeriod" for a in r.get("default_for", [])}
    assert defaults == {
        "check",
        "notification",
        "availability",
    }  # P4: one product default per aspect
    assert all("at" not in r for r in rows)


def test_catalog_of_a_repository_with_its_own(make_repo):
    repo = make_repo(
        {
            "snav.yaml": "kind: Project\ndefault_user: francois\ncatalog: cat\n",
            "cat/roles.yaml": "kind: Role\nid: only-role\n",
        }
    )
    assert run("catalog", repo).output == "Role (1)\n  only-role              (no permission)\n"


def test_catalog_with_a_broken_catalogue_exits_1(make_repo):
    repo = make_repo(
        {
            "snav.yaml": "kind: Project\ndefault_user: francois\ncatalog: cat\n",
            "cat/r.yaml": "kind: Rol\n",
        }
    )
    out = run("catalog", repo, exit_code=1, cwd=repo).output.splitlines()
    assert out[0] == "cat/r.yaml:1:7: error[SNV201] unknown kind 'Rol'; did you mean 'Role'?"
    assert out[-1] == "1 error, 0 warnings"


# -- no traceback, whatever the input -----------------------------------------------------------

HOSTILE = {
    "binary-garbage": {"g.yaml": bytes(range(256)) * 8},
    "control-characters": {"c.yaml": b"kind: Contact\nid: x\x00\x01\x02\nname: \x1b[31mred\n"},
    "deep-flow-nesting": {"d.yaml": "a: " + "[" * 10_000 + "]" * 10_000 + "\n"},
    "deep-mapping-nesting": {"d.yaml": "a: " + "{a: " * 10_000 + "1" + "}" * 10_000 + "\n"},
    "huge-single-line": {
        "h.yaml": "kind: Contact\nid: x\nat: partner\nname: " + "x" * 2_000_000 + "\n"
    },
    "huge-key": {"h.yaml": "kind: Contact\n" + "k" * 100_000 + ": 1\n"},
    "kind-is-a-number": {"k.yaml": "kind: 5\n"},
    "kind-is-a-list": {"k.yaml": "kind: [Contact]\n"},
    "kind-is-null": {"k.yaml": "kind:\n"},
    "id-is-a-number": {"k.yaml": "kind: Contact\nid: 5\nat: partner\nname: x\n"},
    "id-is-a-mapping": {"k.yaml": "kind: Contact\nid: {a: 1}\nat: {b: 2}\nname: x\n"},
    "every-field-null": {
        "k.yaml": "kind: Equipment\nid:\nat:\nbox:\nservices:\nperiods:\nnotification:\n"
    },
    "services-wrong-shapes": {
        "k.yaml": "kind: Equipment\nid: e\nat: partner\nbox: b\nservices: [1, [2], {template: 3}]\n"
    },
    "project-garbage": {"snav.yaml": "kind: Project\ncatalog: [1, 2]\ndefault_user: {x: 1}\n"},
    "project-catalog-is-a-file": {"snav.yaml": "kind: Project\ncatalog: partner.yaml\n"},
    "project-not-a-mapping": {"snav.yaml": "- kind: Project\n"},
    "snav-yaml-is-a-directory": {"snav.yaml": None, "snav.yaml/x.txt": "x"},
    "unknown-tag": {"t.yaml": "kind: !!python/object/apply:os.system ['echo hi']\n"},
    "alias-bomb": {
        "b.yaml": "a: &a [x,x,x,x,x,x,x,x,x,x]\n"
        + "".join(
            f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 10) + "]\n"
            for i in range(9)
        )
    },
    "unicode-everywhere": {
        "u.yaml": "kind: Contact\nid: né\nat: partner\nname: 名前\nemail: ü@ex.ample\n\u2028: x\n"
    },
    "lone-surrogate-escape": {"s.yaml": 'kind: Contact\nid: x\nat: partner\nname: "\\ud800"\n'},
    "empty-repository": {"snav.yaml": None, "partner.yaml": None},
}


@pytest.mark.parametrize("files", list(HOSTILE.values()), ids=list(HOSTILE))
def test_no_traceback_for_hostile_input(make_repo, files):
    repo = make_repo(files)
    for fmt in ("text", "json"):
        result = run(
            "validate", "--format", fmt, repo, exit_code=None
        )  # run() fails on any exception
        assert result.exit_code in (0, 1), result.output
        assert "Traceback" not in result.output
    items = json.loads(result.output)
    assert all(set(i) == DIAGNOSTIC_FIELDS for i in items)


def test_a_directory_named_like_a_yaml_file(make_repo):
    repo = make_repo()
    (repo / "x.yaml").mkdir()
    (repo / "x.yaml" / "inside.yaml").write_text(
        "kind: Contact\nid: noc\nat: partner\nname: NOC\n", encoding="utf-8"
    )
    assert run("validate", repo).output == "no problems found\n"


def test_an_unreadable_file(make_repo):
    repo = make_repo()
    (repo / "dangling.yaml").symlink_to(repo / "nowhere.yaml")
    out = run("validate", repo, exit_code=1, cwd=repo).output
    assert out.startswith("dangling.yaml:1:1: error[SNV111] cannot read file: ")


def test_timings_name_every_stage_of_a_cold_build(tmp_path, monkeypatch, capsys):
    """SNAVC_TIMINGS=1: each stage of a cold build, in order, on standard error (the
    snapshot's records and the lock's read included: they were once in no stage; load
    and validate are one since each file is validated as soon as it is loaded)."""
    import shutil

    from snavc.engine.pipeline import build

    repo = Path(shutil.copytree(Path(__file__).parent.parent / "samples" / "seed", tmp_path / "r"))
    monkeypatch.setenv("SNAVC_TIMINGS", "1")
    capsys.readouterr()
    assert build(repo, tmp_path / "out").status == "written"
    stages = [
        line[len("snavc: ") :].split("  ")[0] for line in capsys.readouterr().err.splitlines()
    ]
    assert stages == [
        "load and validate",
        "tree",
        "snapshot records",
        "lock read",
        "resolve and write",
        "finish and lock",
    ]
