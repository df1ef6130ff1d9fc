"""Leaks (issue 10 items 16 and 17): no secret in a source excerpt, no terminal escape
from the input on anyone's screen.

Each case pins the code and position snavc reports, and that the secret (``hunter2``)
or the raw control character is in no output of any format, while the diagnostic is
still there.
"""

from __future__ import annotations

import shutil

import pytest

from snavc import diagnostics as dg
from snavc.cli import _cell
from snavc.explain import render_text as render_explain

from .helpers import SEED

SECRET = "hunter2"
FORMATS = ("text", "github", "json")


def _all_formats(snavc, repo, code: int = 1) -> str:
    """Every format's output of `validate`, checked sane and with exit ``code``."""
    out = []
    for fmt in FORMATS:
        run = snavc("validate", "--format", fmt, repo).sane()
        assert run.code == code, run.stdout
        out.append(run.stdout + run.stderr)
    return "\n".join(out)


ACCOUNT = "kind: MonitoringAccount\nid: snmp-ro\nat: partner\nprotocol: snmp\n"


def test_a_misspelt_field_of_an_account_is_not_shown(hostile_repo, snavc):
    repo = hostile_repo({"acc.yaml": ACCOUNT + f"secert: {SECRET}\n"})
    run = snavc("validate", "--format", "json", repo).sane()
    assert run.where() == [
        ("SNV202", "acc.yaml", 1, 1),  # missing 'secret'
        ("SNV203", "acc.yaml", 5, 1),  # unknown field 'secert'
    ]
    text = _all_formats(snavc, repo)
    assert SECRET not in text
    assert "unknown field 'secert' in MonitoringAccount 'snmp-ro'" in text


def test_no_line_of_an_account_document_but_its_plain_fields(hostile_repo, snavc):
    """A line of a MonitoringAccount that is not one of its plain fields (a key nobody
    knows, a comment) is never shown; its plain fields still are."""
    repo = hostile_repo(
        {
            "acc.yaml": "kind: MonitoringAccount\nid: snmp-ro\nat: partner\n"
            f"protocol: SNMP\nsecret: env:X\ncommunity_string: {SECRET}\n"
        }
    )
    run = snavc("validate", "--format", "json", repo).sane()
    assert run.where() == [("SNV205", "acc.yaml", 4, 11), ("SNV203", "acc.yaml", 6, 1)]
    text = snavc("validate", repo).stdout
    assert SECRET not in text
    assert "    protocol: SNMP\n" in text  # a plain field's line is shown


def test_an_account_of_a_misspelt_kind_is_still_an_account(hostile_repo, snavc):
    repo = hostile_repo({"acc.yaml": f"kind: MonitoringAcount\nid: a\nsecert: {SECRET}\n"})
    run = snavc("validate", "--format", "json", repo).sane()
    assert run.where() == [("SNV201", "acc.yaml", 1, 7)]
    out = snavc("validate", repo).stdout
    assert "    kind: MonitoringAcount\n" in out
    assert SECRET not in dg.render_text(
        [dg.error("SNV203", "x", dg.Location("acc.yaml", 3, 1))],
        lambda f: (repo / f).read_text().split("\n"),
    )


@pytest.mark.parametrize(
    "key", ["pass", "pwd", "private_key", "ssh_key", "secrets", "dbPassword", "api-key"]
)
def test_secret_like_keys_are_not_shown(hostile_repo, snavc, key):
    repo = hostile_repo(
        {"c.yaml": f"kind: Contact\nid: noc\nname: NOC\nat: partner\n{key}: {SECRET}\n"}
    )
    run = snavc("validate", "--format", "json", repo).sane()
    assert run.where() == [("SNV203", "c.yaml", 5, 1)]
    assert SECRET not in _all_formats(snavc, repo)


def test_a_syntax_error_inside_a_quoted_secret(hostile_repo, snavc):
    """The error is on the value's second line: neither line is shown."""
    repo = hostile_repo(
        {
            "c.yaml": f'kind: Contact\nid: noc\nname: NOC\nat: partner\npassword: "abc\n  {SECRET}\\q"\n'
        }
    )
    run = snavc("validate", "--format", "json", repo).sane()
    assert run.where() == [("SNV101", "c.yaml", 6, 11)]
    text = _all_formats(snavc, repo)
    assert SECRET not in text and "abc" not in text


def test_a_tab_inside_a_secret_block_scalar(hostile_repo, snavc):
    repo = hostile_repo(
        {"c.yaml": f"kind: Contact\nid: noc\nname: NOC\nat: partner\nssh_key: |\n  a\n\t{SECRET}\n"}
    )
    run = snavc("validate", "--format", "json", repo).sane()
    assert ("SNV103", "c.yaml", 7, 1) in run.where()
    assert SECRET not in _all_formats(snavc, repo)


def test_a_secret_in_a_flow_mapping(hostile_repo, snavc):
    repo = hostile_repo(
        {"c.yaml": f"{{kind: Contact, id: noc, name: N, at: partner, token: {SECRET}, nmae: x}}\n"}
    )
    run = snavc("validate", "--format", "json", repo).sane()
    assert sorted(run.where()) == [("SNV203", "c.yaml", 1, 48), ("SNV203", "c.yaml", 1, 64)]
    assert SECRET not in _all_formats(snavc, repo)


def test_hidden_lines_end_where_the_value_ends():
    lines = [
        "kind: Box",
        'password: "a',
        '  b"',
        "name: shown",
        "token: |",
        "  x",
        "  y",
        "secrets:",
        "- a",
        "after: shown",
        "---",
        "kind: MonitoringAccount",
        "id: shown",
        "# a comment: hidden",
        "secret: env:X",
    ]
    hidden = dg.hidden_lines(lines)
    shown = [n for n in range(1, len(lines) + 1) if n not in hidden]
    assert shown == [1, 4, 10, 11, 12, 13]


# -- terminal escapes (item 17) -------------------------------------------------------

ESCAPES = '"\\e]52;c;ZXZpbA==\\a\\e[2J\\rX\\u202e"'  # OSC 52, clear screen, CR, RLO


def _no_raw_controls(text: str) -> None:
    for c in ("\x1b", "\x07", "\r", "\u202e"):
        assert c not in text, repr(text)


def test_controls_in_a_message_are_escaped(hostile_repo, snavc):
    repo = hostile_repo(
        {"c.yaml": f"kind: Contact\nid: noc\nname: NOC\nat: partner\nenabled: {ESCAPES}\n"}
    )
    run = snavc("validate", "--format", "json", repo).sane()
    assert run.where() == [("SNV204", "c.yaml", 5, 10)]
    for fmt in ("text", "github"):
        out = snavc("validate", "--format", fmt, repo).sane().stdout
        _no_raw_controls(out)
        assert "\\x1b]52;c;ZXZpbA==\\x07\\x1b[2J" in out


def test_controls_in_an_excerpt_and_a_file_name(hostile_repo, snavc):
    name = "bad\x1b[31m.yaml"
    repo = hostile_repo(
        {name: "kind: Contact\nid: noc\nname: NOC\nat: partner\nnmae: a\x1b[2Jb\r\n"}
    )
    out = snavc("validate", repo).sane().stdout
    _no_raw_controls(out)
    assert out.splitlines()[:3] == [
        f"{repo}/bad\\x1b[31m.yaml:5:8: error[SNV101] YAML syntax error: unacceptable character "
        "#x001b: special characters are not allowed",
        "    nmae: a\\x1b[2Jb",
        "           ^",
    ]
    github = snavc("validate", "--format", "github", repo).sane().stdout
    _no_raw_controls(github)
    assert github.startswith("::error file=bad\\x1b[31m.yaml,line=5,col=8,")


def test_the_caret_stays_under_its_character_after_an_escape(hostile_repo, snavc):
    """A right-to-left override is valid YAML: escaped in the excerpt, it takes six
    columns, and the caret moves with it."""
    repo = hostile_repo(
        {"c.yaml": '{kind: Contact, id: noc, name: "\u202e", at: partner, nmae: x}\n'}
    )
    run = snavc("validate", "--format", "json", repo).sane()
    assert run.where() == [("SNV203", "c.yaml", 1, 50)]
    excerpt = snavc("validate", repo).sane().stdout.splitlines()[1:3]
    assert excerpt[0] == '    {kind: Contact, id: noc, name: "\\u202e", at: partner, nmae: x}'
    assert excerpt[1].index("^") == excerpt[0].index("nmae")


def test_explain_escapes_values():
    """explain's text shows IDs and values of the input: each line escaped as a whole."""
    out = {
        "kind": "equipment",
        "object": "eq",
        "fields": [{"path": "name", "value": "a\x1b[2J\nb", "origin": None, "steps": []}],
    }
    assert render_explain(out) == "equipment eq\nname = a\\x1b[2J\\x0ab\n"


def test_query_table_cells_are_escaped():
    assert _cell("Client \x1b]52;c;ZXZpbA==\x07") == "Client \\x1b]52;c;ZXZpbA==\\x07"
    assert _cell(["a\rb", "c"]) == "a\\x0db,c"


def test_diff_reports_escape_names(tmp_path, snavc):
    """A client's name reaches the text and markdown reports of `diff` (and `plan`)."""
    repo = tmp_path / "seed"
    shutil.copytree(SEED, repo)
    assert snavc("build", repo, "-o", tmp_path / "old").sane().code == 0
    client = repo / "clients" / "client1" / "client.yaml"
    text = client.read_text(encoding="utf-8")
    assert "name: Client 1 infogérance\n" in text
    client.write_text(
        text.replace("name: Client 1 infogérance\n", f"name: {ESCAPES}\n"), encoding="utf-8"
    )
    # a change inside the client, so that the report shows its group
    eq = repo / "clients" / "client1" / "site1" / "equipment.yaml"
    text = eq.read_text(encoding="utf-8")
    assert "check_interval: 30 " in text
    eq.write_text(text.replace("check_interval: 30 ", "check_interval: 45 "), encoding="utf-8")
    assert snavc("build", repo, "-o", tmp_path / "new").sane().code == 0
    for fmt in ("text", "markdown"):
        run = snavc("diff", tmp_path / "old", tmp_path / "new", "--format", fmt).sane()
        assert run.code == 0, run.stderr
        _no_raw_controls(run.stdout)
        # markdown also escapes its own punctuation (`\]`) and puts a CR as a space
        shown = run.stdout.replace("\\]", "]").replace("\\[", "[")
        assert "\\x1b]52;c;ZXZpbA==\\x07\\x1b[2J" in shown
        assert "X\\u202e" in shown


def test_clean_text():
    assert dg.clean_text("plain é ✓\u00a0") == "plain é ✓\u00a0"
    assert dg.clean_text("\x00\x1b\x7f\x9b\u202e\u2066") == "\\x00\\x1b\\x7f\\x9b\\u202e\\u2066"
    assert dg.clean_text("a\tb\nc", keep="\t") == "a\tb\\x0ac"
