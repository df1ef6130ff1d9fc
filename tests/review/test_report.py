"""The report of ``snavc diff`` / ``snavc plan``: its JSON against
snavc/schemas/report.schema.json, the text and markdown grouping (partner -> client ->
site), and ``--template FILE`` rendered in jinja2's sandbox.
"""

from __future__ import annotations

import copy

import jsonschema
import pytest

from .helpers import (
    SITE1_EQ,
    SITE2_EQ,
    USER_SERVICES,
    append,
    edit,
    git_init,
    report_of,
    schema,
    snav,
    take_document,
    validate_report,
)

ADDRESSES = [
    ("partner/equipment.yaml", "192.0.2.10", "192.0.2.11"),
    (SITE1_EQ, "10.1.1.10", "10.1.1.11"),
    (SITE1_EQ, "10.1.1.20", "10.1.1.21"),
    (SITE2_EQ, "10.1.2.10", "10.1.2.11"),
    ("clients/client2/site1/equipment.yaml", "172.16.0.2", "172.16.0.3"),
]


def spread(repo) -> None:
    """A change at every level: the partner, client1 and its two sites, client2's site."""
    for rel, old, new in ADDRESSES:
        edit(repo, rel, old, new)
    edit(repo, USER_SERVICES, "name: Webshop", "name: Web shop")


@pytest.fixture
def pair(seed, built):
    """``pair(change) -> (old build, new build)``."""

    def run(change):
        repo = seed()
        old = built(repo)
        change(repo)
        return old, built(repo)

    return run


# -- the JSON Schema -------------------------------------------------------------------------


def test_schema_is_a_valid_draft_2020_12_schema():
    body = schema()
    assert body["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(body)


def test_schema_keys_match_the_report():
    """Drift guard: the schema requires exactly the keys Report.to_json writes."""
    from snavc.diff import Report

    body = schema()
    data = Report().to_json()
    assert set(body["required"]) == set(data)
    assert set(body["$defs"]["summary"]["required"]) == set(data["summary"])


def every_kind_of_change(repo) -> None:
    spread(repo)
    append(
        repo,
        SITE2_EQ,
        """\
        kind: Equipment
        id: srv-new-03
        at: client1-site2
        template: linux-server
        box: box-client1-site2
        """,
    )
    (repo / "partner" / "equipment.yaml").unlink()
    edit(repo, SITE1_EQ, "  - template: disk\n", "  - template: http\n")
    edit(
        repo,
        SITE1_EQ,
        "at: client1-site1\naddress: 10.1.1.21",
        "at: client1-site2\naddress: 10.1.1.21",
    )
    append(repo, SITE2_EQ, take_document(repo, SITE1_EQ, "id: srv-db-01"))
    edit(repo, "clients/client1/templates.yaml", "criticality: 4", "criticality: 2")


def test_diff_json_validates_against_the_schema(pair):
    old, new = pair(every_kind_of_change)
    report = report_of("diff", old, new)
    assert {c["op"] for c in report["changes"]} == {"added", "removed", "changed", "moved"}
    assert {c["kind"] for c in report["changes"]} == {"equipment", "unit-service", "user-service"}
    assert any(i["lock"] for i in report["inputs"])
    validate_report(report)
    # docs/review.md: each object counted once, inputs and errors are the list lengths
    s = report["summary"]
    objects = {(c["kind"], c["id"]) for c in report["changes"]}
    assert s["added"] + s["removed"] + s["moved"] + s["changed"] == len(objects)
    assert (s["inputs"], s["errors"]) == (len(report["inputs"]), len(report["errors"]))


def test_empty_diff_json_validates_against_the_schema(seed, built):
    repo = seed()
    report = report_of("diff", built(repo), built(repo))
    validate_report(report)


def test_plan_json_with_errors_validates_against_the_schema(seed):
    repo = git_init(seed())
    edit(repo, SITE1_EQ, "10.1.1.10", "10.1.1.11")  # François's equipment (rule L3)
    report = report_of("plan", repo, "--base", "HEAD", "--as", "stephanie", exit_code=1)
    assert report["errors"] and report["summary"]["errors"] == len(report["errors"])
    validate_report(report)


def test_plan_json_of_a_head_that_does_not_build_validates(seed):
    repo = git_init(seed())
    edit(repo, SITE1_EQ, "box: box-partner-snm ", "box: no-such-box ")
    report = report_of("plan", repo, "--base", "HEAD", exit_code=1)
    assert report["changes"] == [] and report["errors"]
    validate_report(report)


@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(lambda r: r.pop("inputs"), id="missing-key"),
        pytest.param(lambda r: r.update(extra=1), id="extra-key"),
        pytest.param(lambda r: r["changes"][0].update(op="renamed"), id="unknown-op"),
        pytest.param(lambda r: r["changes"][0].update(kind="contact"), id="unknown-kind"),
        pytest.param(lambda r: r["changes"][0].pop("site"), id="change-without-site"),
        pytest.param(lambda r: r["summary"].update(added=-1), id="negative-count"),
        pytest.param(lambda r: r["inputs"][0]["counts"].pop("node"), id="counts-incomplete"),
        pytest.param(lambda r: r["inputs"][0].update(op="moved"), id="input-op"),
        pytest.param(lambda r: r["errors"].append({"severity": "error"}), id="bad-diagnostic"),
        pytest.param(lambda r: r["summary"].pop("inputs"), id="summary-without-inputs"),
        pytest.param(
            lambda r: r["errors"].append(
                {
                    "severity": "warning",
                    "code": "SNV110",
                    "rule": None,
                    "message": "m",
                    "file": ".",
                    "line": None,
                    "column": None,
                    "related": [],
                }
            ),
            id="warning-in-a-report",
        ),
        pytest.param(
            lambda r: r["changes"][0].update(op="moved", path="address"), id="moved-not-at"
        ),
    ],
)
def test_schema_is_strict(seed, built, spoil):
    repo = seed()
    old = built(repo)
    edit(repo, SITE2_EQ, "10.1.2.10", "10.1.2.11")
    report = report_of("diff", old, built(repo))
    validate_report(report)
    spoiled = copy.deepcopy(report)
    spoil(spoiled)
    with pytest.raises(jsonschema.ValidationError):
        validate_report(spoiled)


# -- text and markdown: partner -> client -> site ---------------------------------------------


def test_text_groups_by_partner_client_site(pair):
    old, new = pair(spread)
    text = snav("diff", old, new).stdout
    body = text.split("\nInputs changed:\n")[0]
    assert body.splitlines()[1:] == [
        "+0 added, ~6 changed, -0 removed",
        "partner",
        "  (partner level)",
        "    (client level)",
        "      ~ equipment partner-vpn-01",
        "          address: 192.0.2.10 -> 192.0.2.11",
        "  client1",
        "    (client level)",
        "      ~ user-service webshop",
        "          name: Webshop -> Web shop",
        "    client1-site1",
        "      ~ equipment srv-db-01",
        "          address: 10.1.1.20 -> 10.1.1.21",
        "      ~ equipment srv-web-01",
        "          address: 10.1.1.10 -> 10.1.1.11",
        "    client1-site2",
        "      ~ equipment srv-file-02",
        "          address: 10.1.2.10 -> 10.1.2.11",
        "  client2",
        "    client2-site1",
        "      ~ equipment sw-core-01",
        "          address: 172.16.0.2 -> 172.16.0.3",
    ]
    assert text.startswith(f"{old} -> {new}\n")


@pytest.mark.xfail(
    strict=True,
    reason="BUG (display): an object at the partner itself is listed under '(partner level)' "
    "then '(client level)' in text and markdown; it is at no client level",
)
def test_partner_level_object_is_not_shown_at_client_level(pair):
    old, new = pair(lambda repo: edit(repo, "partner/equipment.yaml", "192.0.2.10", "192.0.2.11"))
    assert "(client level)" not in snav("diff", old, new).stdout
    assert "(client level)" not in snav("diff", old, new, "--format", "markdown").stdout


def test_markdown_groups_by_client_then_site(pair):
    old, new = pair(spread)
    md = snav("diff", old, new, "--format", "markdown").stdout
    assert md.startswith("### snavc: +0 added, ~6 changed, -0 removed\n")
    assert "| 0 | 6 | 0 | 0 | 0 |" in md
    summaries = [line for line in md.splitlines() if line.startswith("<details>")]
    assert summaries == [
        "<details><summary><b>(partner level)</b> (partner): 1 object changed</summary>",
        "<details><summary><b>client1</b> (partner): 4 objects changed</summary>",
        "<details><summary><b>client2</b> (partner): 1 object changed</summary>",
    ]
    client1 = md.split(summaries[1])[1].split("</details>")[0]
    rows = [line for line in client1.splitlines() if line.startswith("| ") and "`" in line]
    assert rows == [
        "| (client level) | user-service `webshop` | changed | `name` | Webshop | Web shop |",
        "| client1-site1 | equipment `srv-db-01` | changed | `address` | 10.1.1.20 | 10.1.1.21 |",
        "| client1-site1 | equipment `srv-web-01` | changed | `address` | 10.1.1.10 | 10.1.1.11 |",
        "| client1-site2 | equipment `srv-file-02` | changed | `address` | 10.1.2.10 | 10.1.2.11 |",
    ]
    assert "| `equipment/srv-file-02` | changed | 1 | 0 | 0 |  |" in md


def test_markdown_escapes_pipes_in_values(pair):
    old, new = pair(
        lambda repo: edit(repo, SITE2_EQ, "name: File server 02", "name: File | server")
    )
    md = snav("diff", old, new, "--format", "markdown").stdout
    assert "| File server 02 | File \\| server |" in md


def test_text_shows_added_removed_and_moved_marks(pair):
    old, new = pair(every_kind_of_change)
    text = snav("diff", old, new).stdout
    assert "      + equipment srv-new-03\n" in text
    assert "      - equipment partner-vpn-01\n" in text
    assert "      > equipment srv-db-01\n          at: client1-site1 -> client1-site2\n" in text
    assert "      + unit-service srv-db-01/http\n" in text
    assert "      - unit-service srv-db-01/disk\n" in text
    assert "+2 added, ~4 changed, -2 removed, >1 moved\n" in text  # unit services count


@pytest.mark.xfail(
    strict=True,
    reason="BUG (display): the text and markdown impact lines count equipment, unit and user "
    "services only; an input that changed nodes (a renamed client, a default period) reads "
    "'changes 0 equipment, 0 unit services, 0 user services'",
)
def test_text_impact_line_mentions_changed_nodes(pair):
    old, new = pair(
        lambda repo: edit(
            repo, "clients/client1/client.yaml", "name: Client 1 infogérance", "name: Client One"
        )
    )
    text = snav("diff", old, new).stdout
    assert "node/client1: changes 0 equipment, 0 unit services, 0 user services" not in text


def test_report_output_file(pair, tmp_path):
    old, new = pair(spread)
    out = tmp_path / "report.md"
    result = snav("diff", old, new, "--format", "markdown", "-o", out)
    assert result.stdout == ""
    assert out.read_text(encoding="utf-8") == snav("diff", old, new, "--format", "markdown").stdout


# -- --template FILE, sandboxed --------------------------------------------------------------


def render(pair, tmp_path, source: str, exit_code: int = 0, change=spread):
    old, new = pair(change)
    template = tmp_path / "user.j2"
    template.write_text(source, encoding="utf-8")
    return snav("diff", old, new, "--template", template, exit_code=exit_code)


def test_user_template_gets_the_report_data(pair, tmp_path):
    result = render(
        pair,
        tmp_path,
        "{{ report.summary.changed }} changed;"
        "{% for c in report.changes %} {{ c.kind }}/{{ c.id }}.{{ c.path }}{% endfor %};"
        "{% for p in report.groups %}{% for c in p.clients %} {{ c.client }}={{ c.count }}"
        "{% endfor %}{% endfor %};"
        "{% for i in report.inputs %} {{ i.input }}{% endfor %}\n",
    )
    assert result.stdout == (
        # changes: nodes, then equipment, then user services, each sorted by ID; the
        # newline after a final block tag is eaten (trim_blocks)
        "6 changed; equipment/partner-vpn-01.address equipment/srv-db-01.address "
        "equipment/srv-file-02.address equipment/srv-web-01.address "
        "equipment/sw-core-01.address user-service/webshop.name;"
        " (partner level)=1 client1=4 client2=1;"
        " equipment/partner-vpn-01 equipment/srv-db-01 equipment/srv-file-02"
        " equipment/srv-web-01 equipment/sw-core-01 user-service/webshop"
    )


def test_user_template_with_detailed_exitcode(pair, tmp_path):
    old, new = pair(spread)
    template = tmp_path / "user.j2"
    template.write_text("{{ report.summary.changed }}\n", encoding="utf-8")
    assert (
        snav("diff", old, new, "--template", template, "--detailed-exitcode", exit_code=2).stdout
        == "6\n"
    )


@pytest.mark.parametrize(
    ("source", "message"),
    [
        pytest.param(
            "{{ report.__class__.__mro__ }}",
            "access to attribute '__class__' of 'dict' object is unsafe",
            id="report-class-mro",
        ),
        pytest.param(
            "{{ ''.__class__.__subclasses__() }}",
            "access to attribute '__class__' of 'str' object is unsafe",
            id="str-subclasses",
        ),
        pytest.param(
            "{{ report.changes|attr('__class__') }}",
            "access to attribute '__class__' of 'list' object is unsafe",
            id="attr-filter",
        ),
        pytest.param(
            "{{ report.summary.items.__self__.__class__ }}",
            "is unsafe",
            id="bound-method-self",
        ),
        pytest.param("{{ cycler.__init__.__globals__ }}", "is unsafe", id="globals"),
        pytest.param("{{ lipsum.__globals__ }}", "is unsafe", id="lipsum-globals"),
        pytest.param("{{ no_such_thing }}", "'no_such_thing' is undefined", id="undefined"),
        pytest.param("{% for %}", "(line 1)", id="syntax-error"),
    ],
)
def test_user_template_unsafe_or_broken_is_a_clean_usage_error(pair, tmp_path, source, message):
    result = render(pair, tmp_path, source + "\n", exit_code=2)
    assert result.stdout == ""
    assert result.stderr.startswith(f"Error: template {tmp_path / 'user.j2'}")
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_user_template_unsafe_attribute_through_a_filter_leaks_nothing(pair, tmp_path):
    result = render(pair, tmp_path, "{{ report.changes|map(attribute='__class__')|list }}")
    assert result.stdout == "[" + ", ".join(["Undefined"] * 6) + "]"


def test_user_template_missing_file_is_a_usage_error(pair, tmp_path):
    old, new = pair(spread)
    result = snav("diff", old, new, "--template", tmp_path / "none.j2", exit_code=2)
    assert "does not exist" in result.stderr


@pytest.mark.parametrize(
    "source",
    [
        "{{ 1 / 0 }}",
        "{{ '%d' % 'x' }}",
        "{% include '/etc/passwd' %}",
        "{% extends 'base.j2' %}",
        "{{ range(10 ** 9) | list | length }}",
    ],
)
def test_user_template_runtime_error_is_a_clean_usage_error(pair, tmp_path, source):
    """Errors that are not jinja2's (1/0, include without a loader, the sandbox's range
    limit) are the template's fault too."""
    result = render(pair, tmp_path, source, exit_code=2)
    assert result.stdout == ""
    assert result.stderr.startswith(f"Error: template {tmp_path / 'user.j2'}: ")


@pytest.mark.xfail(
    strict=True,
    reason="BUG: the sandbox is mutable (SandboxedEnvironment, not Immutable...) and the "
    "template gets report.changes/errors themselves: {{ report.changes.append(1) }} crashes "
    "the exit-code computation (TypeError, exit 3)",
)
def test_user_template_cannot_corrupt_the_report(pair, tmp_path):
    result = render(pair, tmp_path, "{{ report.changes.append(1) }}", exit_code=None)
    assert result.exit_code in (0, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.xfail(
    strict=True,
    reason="BUG: a user template can change the exit code: clearing report.changes and "
    "report.inputs turns --detailed-exitcode 2 into 0, and report.errors.clear() turns a "
    "refused plan (exit 1) into 0",
)
def test_user_template_cannot_change_the_exit_code(pair, tmp_path):
    old, new = pair(spread)
    template = tmp_path / "user.j2"
    template.write_text(
        "{% set _ = report.changes.clear() %}{% set _ = report.inputs.clear() %}ok\n",
        encoding="utf-8",
    )
    snav("diff", old, new, "--template", template, "--detailed-exitcode", exit_code=2)


@pytest.mark.xfail(strict=True, reason="BUG: see test_user_template_cannot_change_the_exit_code")
def test_user_template_cannot_hide_plan_errors(seed, tmp_path):
    repo = git_init(seed())
    edit(repo, SITE1_EQ, "10.1.1.10", "10.1.1.11")
    template = tmp_path / "user.j2"
    template.write_text("{% set _ = report.errors.clear() %}ok\n", encoding="utf-8")
    snav("plan", repo, "--base", "HEAD", "--as", "stephanie", exit_code=1)
    snav("plan", repo, "--base", "HEAD", "--as", "stephanie", "--template", template, exit_code=1)
