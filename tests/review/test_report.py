"""The report of ``snavc diff`` / ``snavc plan``: its JSON against
snavc/schemas/report.schema.json, the text and markdown grouping (partner -> client ->
site), and ``--template FILE`` rendered in jinja2's sandbox.
"""

from __future__ import annotations

import copy
import textwrap

import jsonschema
import pytest

from .helpers import (
    SITE1_EQ,
    SITE2_EQ,
    USER_SERVICES,
    append,
    edit,
    equipment_yaml,
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
    from snavc.review.diff import Report

    body = schema()
    data = Report().to_json()
    assert set(body["required"]) == set(data)
    assert set(body["$defs"]["summary"]["required"]) == set(data["summary"])


def test_schema_keys_match_a_real_report(seed):
    """Drift guard, one level down: changes, inputs (with affects and lock) and errors
    carry exactly the keys the schema requires."""
    repo = git_init(seed())
    edit(repo, SITE1_EQ, "10.1.1.10", "10.1.1.11")
    edit(repo, "clients/client1/templates.yaml", "criticality: 4", "criticality: 2")
    report = report_of("plan", repo, "--base", "HEAD", "--as", "stephanie", exit_code=1)
    defs = schema()["$defs"]
    assert {tuple(sorted(c)) for c in report["changes"]} == {
        tuple(sorted(defs["change"]["required"]))
    }
    assert {tuple(sorted(i)) for i in report["inputs"]} == {
        tuple(sorted(defs["input"]["required"]))
    }
    props = defs["input"]["properties"]
    for i in report["inputs"]:
        assert set(i["counts"]) == set(props["counts"]["required"])
        assert set(i["affects"]) == set(props["affects"]["required"])
    lock = next(i["lock"] for i in report["inputs"] if i["lock"])
    assert set(lock) == set(props["lock"]["anyOf"][1]["required"])
    assert {tuple(sorted(e)) for e in report["errors"]} == {
        tuple(sorted(defs["diagnostic"]["required"]))
    }


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
        pytest.param(lambda r: r["inputs"][0].pop("affects"), id="input-without-affects"),
        pytest.param(lambda r: r["inputs"][0].pop("affected"), id="input-without-affected"),
        pytest.param(lambda r: r["inputs"][0]["affects"].update(node=0), id="affects-node"),
        pytest.param(
            lambda r: r["inputs"][0]["affects"].pop("user-service"), id="affects-incomplete"
        ),
        pytest.param(
            lambda r: r["inputs"][0]["affected"].extend(f"equipment/e{i}" for i in range(21)),
            id="affected-over-20",
        ),
        pytest.param(
            lambda r: r["inputs"][0]["affected"].append("contact/noc"), id="affected-kind"
        ),
        pytest.param(
            lambda r: r["inputs"][0].update(
                lock={"template": "cpu", "services": 1, "new": 0, "not_applied": -1, "reapplied": 0}
            ),
            id="lock-negative",
        ),
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
    assert text == (
        f"{old} -> {new}\n"
        "+0 added, ~6 changed, -0 removed; 6 inputs changed\n"
        "\n"
        "Partner (partner)\n"
        "  ~ equipment partner-vpn-01\n"
        "      address: 192.0.2.10 → 192.0.2.11\n"
        "  Client 1 infogérance (client1)\n"
        "    ~ user-service webshop\n"
        "        name: Webshop → Web shop\n"
        "    Client 1 Site 1 (client1-site1)\n"
        "      ~ equipment srv-db-01\n"
        "          address: 10.1.1.20 → 10.1.1.21\n"
        "      ~ equipment srv-web-01\n"
        "          address: 10.1.1.10 → 10.1.1.11\n"
        "    Client 1 Site 2 (client1-site2)\n"
        "      ~ equipment srv-file-02\n"
        "          address: 10.1.2.10 → 10.1.2.11\n"
        "  Client 2 revente (client2)\n"
        "    Client 2 Site 1 (client2-site1)\n"
        "      ~ equipment sw-core-01\n"
        "          address: 172.16.0.2 → 172.16.0.3\n"
        "\n"
        "Inputs changed:\n"
        + "".join(
            f"  ~ equipment/{e}: changed 1 equipment, 0 unit services, 0 user services; "
            "used by 1 equipment, 0 unit services, 0 user services\n"
            for e in ("partner-vpn-01", "srv-db-01", "srv-file-02", "srv-web-01", "sw-core-01")
        )
        + "  ~ user-service/webshop: changed 0 equipment, 0 unit services, 1 user service; "
        "used by 0 equipment, 0 unit services, 1 user service\n"
    )


def test_partner_level_object_is_not_shown_at_client_level(pair):
    """An object at the partner itself is listed right under the partner, in text, and
    in its own markdown section marked "partner level"."""
    old, new = pair(lambda repo: edit(repo, "partner/equipment.yaml", "192.0.2.10", "192.0.2.11"))
    text = snav("diff", old, new).stdout
    assert text.split("\n\n")[1] == (
        "Partner (partner)\n  ~ equipment partner-vpn-01\n      address: 192.0.2.10 → 192.0.2.11"
    )
    assert "client level" not in text and "(partner level)" not in text
    md = snav("diff", old, new, "--format", "markdown").stdout
    assert (
        "<details open><summary><b>Partner</b> (<code>partner</code>, partner level): "
        "1 changed</summary>\n"
        "\n"
        "| site | object | change |\n"
        "|---|---|---|\n"
        "| — | equipment `partner-vpn-01` | `address`: 192.0.2.10 → 192.0.2.11 |\n"
        "\n"
        "</details>\n"
    ) in md
    assert "client level" not in md


def test_partner_level_and_client_objects_get_separate_sections(pair):
    old, new = pair(spread)
    md = snav("diff", old, new, "--format", "markdown").stdout
    summaries = [line for line in md.splitlines() if line.startswith("<details")]
    assert summaries == [
        "<details open><summary><b>Partner</b> (<code>partner</code>, partner level): "
        "1 changed</summary>",
        "<details open><summary><b>Client 1 infogérance</b> (<code>client1</code>): "
        "4 changed</summary>",
        "<details open><summary><b>Client 2 revente</b> (<code>client2</code>): "
        "1 changed</summary>",
    ]


def test_markdown_groups_by_client_then_site(pair):
    old, new = pair(spread)
    md = snav("diff", old, new, "--format", "markdown").stdout
    assert md.startswith(
        "<!-- snavc-report -->\n"
        f"### snavc review: `{old}` → `{new}`\n"
        "\n"
        "**6 changed** · 6 inputs changed\n"
        "\n"
    )
    client1 = md.split("(<code>client1</code>): 4 changed</summary>\n")[1].split("</details>")[0]
    assert client1 == (
        "\n"
        "| site | object | change |\n"
        "|---|---|---|\n"
        "| — | user-service `webshop` | `name`: Webshop → Web shop |\n"
        "| Client 1 Site 1 | equipment `srv-db-01` | `address`: 10.1.1.20 → 10.1.1.21 |\n"
        "| Client 1 Site 1 | equipment `srv-web-01` | `address`: 10.1.1.10 → 10.1.1.11 |\n"
        "| Client 1 Site 2 | equipment `srv-file-02` | `address`: 10.1.2.10 → 10.1.2.11 |\n"
        "\n"
    )
    # the changed inputs come right after the summary, before the objects
    assert md.split("\n**6 changed** · 6 inputs changed\n\n")[1].startswith(
        "#### Inputs changed\n"
        "\n"
        "| input | change | effective objects changed | used by | lock (T5) |\n"
        "|---|---|---|---|---|\n"
        "| `equipment/partner-vpn-01` | changed | 1 equipment | 1 equipment |  |\n"
        "| `equipment/srv-db-01` | changed | 1 equipment | 1 equipment |  |\n"
        "| `equipment/srv-file-02` | changed | 1 equipment | 1 equipment |  |\n"
        "| `equipment/srv-web-01` | changed | 1 equipment | 1 equipment |  |\n"
        "| `equipment/sw-core-01` | changed | 1 equipment | 1 equipment |  |\n"
        "| `user-service/webshop` | changed | 1 user service | 1 user service |  |\n"
        "\n"
        "<details open>"
    )


def test_markdown_one_row_per_object_with_its_changes(pair):
    """A moved equipment: one row, the move first, its other changes joined by <br>; an
    added or removed object is described; lists read -removed +added."""
    old, new = pair(every_kind_of_change)
    md = snav("diff", old, new, "--format", "markdown").stdout
    assert "\n**2 added · 4 changed · 2 removed · 1 moved** · 8 inputs changed\n" in md
    assert "(<code>client1</code>): 2 added, 3 changed, 1 removed, 1 moved</summary>" in md
    rows = [line for line in md.splitlines() if line.startswith("| Client 1 Site 2 |")]
    assert rows == [
        "| Client 1 Site 2 | equipment `srv-db-01` | moved: client1-site1 → client1-site2"
        "<br>`address`: 10.1.1.20 → 10.1.1.21<br>`periods.check`: site1-production-hours "
        "(client1-site1) → partner-extended-hours (partner) |",
        "| Client 1 Site 2 | equipment `srv-file-02` | `address`: 10.1.2.10 → 10.1.2.11 |",
        "| Client 1 Site 2 | equipment `srv-new-03` | added: linux-server on "
        "box-client1-site2, 8 unit services |",
        "| Client 1 Site 2 | unit-service `srv-db-01/disk` | removed: template disk |",
        "| Client 1 Site 2 | unit-service `srv-db-01/http` | added: template http |",
    ]
    assert (
        "| — | equipment `partner-vpn-01` | removed: linux-server on "
        "box-partner-lab, 8 unit services |"
    ) in md
    assert (
        "| `service-template-override/cpu@client1` | changed | none | 3 equipment, "
        "3 unit services | kept by 2 existing services (`snavc build --reapply cpu`); "
        "1 new service gets it |"
    ) in md


def test_markdown_lists_show_what_was_removed_and_added(pair):
    old, new = pair(
        lambda repo: edit(
            repo,
            SITE1_EQ,
            "notification: {contacts: [noc, site1-facilities], groups: [client1-oncall]}",
            "notification: {contacts: [site1-facilities, client1-it], groups: [client1-oncall]}",
        )
    )
    md = snav("diff", old, new, "--format", "markdown").stdout
    assert (
        "| Client 1 Site 1 | equipment `srv-web-01` | `notification.contacts`: −noc +client1-it |"
    ) in md
    text = snav("diff", old, new).stdout
    assert "          notification.contacts: −noc +client1-it\n" in text


def test_markdown_with_no_change(seed, built):
    repo = seed()
    old = built(repo)
    md = snav("diff", old, built(repo), "--format", "markdown").stdout
    assert md == (
        "<!-- snavc-report -->\n"
        f"### snavc review: `{old}` → `{old.parent / 'build2'}`\n"
        "\n"
        "No change to the effective configuration.\n"
        "\n"
    )


def test_markdown_caps_rows_at_50_per_client(small, built):
    """A client with more than 50 objects changed shows 50 rows and says how many more;
    its section is folded (more than 20 rows), the other client's stays open."""
    repo = small()
    old = built(repo)
    append(
        repo,
        "c1/equipment.yaml",
        "\n---\n".join(
            textwrap.dedent(equipment_yaml(f"srv-{i:02d}", "c1-s1", "box-c1")) for i in range(57)
        ),
    )
    append(repo, "c2/equipment.yaml", equipment_yaml("sw-01", "c2-s1", "box-c2", "network-switch"))
    md = snav("diff", old, built(repo), "--format", "markdown").stdout
    assert "\n**58 added** · 58 inputs changed\n" in md
    c1 = md.split("<details><summary><b>Client 1</b> (<code>c1</code>): 57 added</summary>\n")[1]
    c1 = c1.split("</details>")[0]
    rows = [line for line in c1.splitlines() if line.startswith("| Client 1 Site 1 |")]
    assert len(rows) == 50
    assert rows[0] == (
        "| Client 1 Site 1 | equipment `srv-00` | added: linux-server on box-c1, 8 unit services |"
    )
    assert rows[-1].startswith("| Client 1 Site 1 | equipment `srv-49` |")
    assert c1.endswith("| … | and 7 more | see the full report (`--format text` or `json`) |\n\n")
    assert "<details open><summary><b>Client 2</b> (<code>c2</code>): 1 added</summary>" in md
    # the text report lists them all
    assert snav("diff", old, built(repo)).stdout.count("+ equipment srv-") == 57


def test_markdown_folds_more_than_10_errors(small, built):
    """Errors come first; past 10 they are folded in a <details>."""
    clients = {}
    for i in range(11):
        clients[f"m{i:02d}/client.yaml"] = f"""\
            kind: Client
            id: m{i:02d}
            name: Managed {i:02d}
            parent: partner
            mode: managed
            crm_ref: null
            ---
            kind: Box
            id: box-m{i:02d}
            at: m{i:02d}
            ---
            kind: Equipment
            id: srv-m{i:02d}
            at: m{i:02d}
            template: linux-server
            box: box-m{i:02d}
            """
    repo = small(clients)
    old = built(repo)
    for i in range(11):
        edit(repo, f"m{i:02d}/client.yaml", "mode: managed", "mode: resale")
    new = built(repo)
    md = snav("diff", old, new, "--format", "markdown", exit_code=1).stdout
    assert "\n**11 changed** · 11 inputs changed · ❌ 11 errors\n" in md
    errors = md.split("#### ❌ Errors\n\n")[1].split("\n\n</details>")[0]
    assert errors.startswith("<details><summary>11 errors</summary>\n\n- **SNV422** (rule M3): ")
    assert errors.count("\n- **SNV422** (rule M3): client 'm") == 11
    # the eleven identical mode changes are one row, after the errors
    assert md.index("#### ❌ Errors") < md.index("#### Identical changes")
    assert (
        "\n| 11 nodes in 11 clients | `mode`: managed → resale | `m00`, `m01`, `m02`, … 8 more |\n"
        in md
    )
    # ten errors are not folded
    edit(repo, "m10/client.yaml", "mode: resale", "mode: managed")
    md = snav("diff", old, built(repo), "--format", "markdown", exit_code=1).stdout
    assert "#### ❌ Errors\n\n- **SNV422**" in md and "errors</summary>" not in md


def test_markdown_escapes_pipes_in_values(pair):
    old, new = pair(
        lambda repo: edit(repo, SITE2_EQ, "name: File server 02", "name: File | server")
    )
    md = snav("diff", old, new, "--format", "markdown").stdout
    assert "| `name`: File server 02 → File \\| server |" in md


def test_text_shows_added_removed_and_moved_marks(pair):
    old, new = pair(every_kind_of_change)
    text = snav("diff", old, new).stdout
    assert "+2 added, ~4 changed, -2 removed, >1 moved; 8 inputs changed\n" in text
    assert (
        "Partner (partner)\n"
        "  - equipment partner-vpn-01  (removed: linux-server on box-partner-lab, "
        "8 unit services)\n"
    ) in text
    assert (
        "    Client 1 Site 2 (client1-site2)\n"
        "      > equipment srv-db-01\n"
        "          at: client1-site1 → client1-site2\n"
        "          address: 10.1.1.20 → 10.1.1.21\n"
        "          periods.check: site1-production-hours (client1-site1) → "
        "partner-extended-hours (partner)\n"
        "      ~ equipment srv-file-02\n"
        "          address: 10.1.2.10 → 10.1.2.11\n"
        "      + equipment srv-new-03  (added: linux-server on box-client1-site2, "
        "8 unit services)\n"
        "      - unit-service srv-db-01/disk  (removed: template disk)\n"
        "      + unit-service srv-db-01/http  (added: template http)\n"
    ) in text
    assert (
        "  ~ service-template-override/cpu@client1: changed 0 equipment, 0 unit services, "
        "0 user services; used by 3 equipment, 3 unit services, 0 user services\n"
        "      T5: not applied to 2 existing services of cpu (snavc build --reapply cpu "
        "applies it); 1 new service gets it\n"
    ) in text


def test_text_impact_line_mentions_changed_nodes(pair):
    old, new = pair(
        lambda repo: edit(
            repo, "clients/client1/client.yaml", "name: Client 1 infogérance", "name: Client One"
        )
    )
    text = snav("diff", old, new).stdout
    assert text.endswith(
        "Partner (partner)\n"
        "  Client One (client1)\n"
        "    ~ node client1\n"
        "        name: Client 1 infogérance → Client One\n"
        "\n"
        "Inputs changed:\n"
        "  ~ node/client1: changed 0 equipment, 0 unit services, 0 user services, 1 node; "
        "used by 0 equipment, 0 unit services, 0 user services\n"
    )
    md = snav("diff", old, new, "--format", "markdown").stdout
    assert "| `node/client1` | changed | 1 node | — |  |\n" in md


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
        "{% for p in report.groups %}{% for c in p.clients %} {{ p.partner }}/{{ c.client }}"
        "={{ c.count }}:{{ c.name }}{% endfor %}{% endfor %};"
        "{% for i in report.inputs %} {{ i.input }}{% endfor %};"
        " {{ report.names['client1-site1'] }}{{ '' }}\n",
    )
    assert result.stdout == (
        # changes: nodes, then equipment, then user services, each sorted by ID
        "6 changed; equipment/partner-vpn-01.address equipment/srv-db-01.address "
        "equipment/srv-file-02.address equipment/srv-web-01.address "
        "equipment/sw-core-01.address user-service/webshop.name;"
        # the partner level is the client "" (with no name), then the clients by ID
        " partner/=1: partner/client1=4:Client 1 infogérance partner/client2=1:Client 2 revente;"
        " equipment/partner-vpn-01 equipment/srv-db-01 equipment/srv-file-02"
        " equipment/srv-web-01 equipment/sw-core-01 user-service/webshop;"
        " Client 1 Site 1\n"
    )


def test_user_template_gets_the_shipped_filters(pair, tmp_path):
    result = render(
        pair,
        tmp_path,
        "{% for c in report.changes if c.kind == 'equipment' %}"
        "{{ c | added if c.op in ('added', 'removed') else c | change }}|{% endfor %}"
        "{{ plural(1, 'input') }}|{{ plural(2, 'input') }}|{{ [1, 2] | show }}|{{ 'a|b' | md }}"
        "{{ '' }}\n",
        change=every_kind_of_change,
    )
    assert result.stdout == (
        "removed: linux-server on box-partner-lab, 8 unit services|"
        "client1-site1 → client1-site2|10.1.1.20 → 10.1.1.21|"
        "site1-production-hours (client1-site1) → partner-extended-hours (partner)|"
        "10.1.2.10 → 10.1.2.11|added: linux-server on box-client1-site2, "
        "8 unit services|10.1.1.10 → 10.1.1.11|"
        "172.16.0.2 → 172.16.0.3|1 input|2 inputs|[1, 2]|a\\|b\n"
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


def test_user_template_cannot_corrupt_the_report(pair, tmp_path):
    """The template renders a copy of the report data: whatever it does to it, the exit
    code is computed from the report itself."""
    result = render(pair, tmp_path, "{{ report.changes.append(1) }}", exit_code=None)
    assert result.exit_code in (0, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_user_template_cannot_change_the_exit_code(pair, tmp_path):
    old, new = pair(spread)
    template = tmp_path / "user.j2"
    template.write_text(
        "{% set _ = report.changes.clear() %}{% set _ = report.inputs.clear() %}"
        "{% set _ = report.summary.update(changed=0, inputs=0) %}ok\n",
        encoding="utf-8",
    )
    # the immutable sandbox refuses the attempt: a usage error (1 under --detailed-exitcode)
    snav("diff", old, new, "--template", template, "--detailed-exitcode", exit_code=1)


def test_user_template_cannot_hide_plan_errors(seed, tmp_path):
    repo = git_init(seed())
    edit(repo, SITE1_EQ, "10.1.1.10", "10.1.1.11")
    template = tmp_path / "user.j2"
    template.write_text("{% set _ = report.errors.clear() %}ok\n", encoding="utf-8")
    snav("plan", repo, "--base", "HEAD", "--as", "stephanie", exit_code=1)
    # never 0: the immutable sandbox refuses to clear the errors (a usage error, 2)
    snav("plan", repo, "--base", "HEAD", "--as", "stephanie", "--template", template, exit_code=2)


@pytest.mark.parametrize(
    "source",
    ["{{ report.changes.append(1) }}", "{% set _ = report.summary.update(added=0) %}"],
    ids=["list-append", "dict-update"],
)
def test_user_template_that_mutates_is_a_clean_usage_error(pair, tmp_path, source):
    result = render(pair, tmp_path, source + "\n", exit_code=2)
    assert result.stdout == ""
    assert result.stderr.startswith(f"Error: template {tmp_path / 'user.j2'}")
    assert "is unsafe" in result.stderr


def test_user_template_trims_block_lines_like_the_shipped_ones(pair, tmp_path):
    """Decision (docs/review.md): user templates get the shipped templates' whitespace
    (trim_blocks, lstrip_blocks): a line holding only a block tag leaves no blank line."""
    result = render(pair, tmp_path, "{% if true %}\n  x\n  {% endif %}\n")
    assert result.stdout == "  x\n"


def test_an_added_host_without_its_services_gives_no_count():
    """drift's hosts come from the hosts export, without unit services (the services
    export lists them): "0 unit services" beside a host whose services are listed just
    below was wrong. A build's equipment always holds its services."""
    from snavc.review.report import added

    host = {"op": "added", "kind": "equipment", "new": {"box": "box-1"}}
    assert added(host) == "added: on box-1"
    host["new"]["services"] = {"ping": {}}
    assert added(host) == "added: on box-1, 1 unit service"
