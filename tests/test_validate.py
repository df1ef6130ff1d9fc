"""Validate stage (snavc.validate, snavc.model): one document at a time against the model
of its kind. Every code SNV201-SNV212 pinned with its rule, file, line, column and
message (STYLE habit 10), through the pipeline as ``snavc validate`` runs it.
"""

from __future__ import annotations

import json

import pytest
from conftest import diagnostics, only, run, where

from snavc.engine.load import load_text
from snavc.model import OVERRIDABLE
from snavc.validate import did_you_mean, validate

TIME_PERIOD = """\
kind: TimePeriod
id: hours
at: partner
ranges:
  monday: {monday}
"""


def period(monday: str) -> dict:
    return {"periods.yaml": TIME_PERIOD.format(monday=monday)}


# -- SNV201 unknown kind ------------------------------------------------------------------


def test_unknown_kind_suggests_the_closest(make_repo):
    d = only(make_repo({"eq.yaml": "kind: Equipement\nid: srv\n"}))
    assert where(d) == ("SNV201", None, "eq.yaml", 1, 7)
    assert d.message == "unknown kind 'Equipement'; did you mean 'Equipment'?"


def test_unknown_kind_in_the_wrong_case(make_repo):
    d = only(make_repo({"c.yaml": "kind: contact\nid: noc\n"}))
    assert d.message == "unknown kind 'contact'; did you mean 'Contact'?"


def test_unknown_kind_without_a_close_one_lists_the_kinds(make_repo):
    d = only(make_repo({"w.yaml": "kind: Widget\n"}))
    assert where(d) == ("SNV201", None, "w.yaml", 1, 7)
    assert d.message == (
        "unknown kind 'Widget' (known kinds: Box, Client, Contact, ContactGroup, Equipment, "
        "EquipmentTemplate, Label, MaintenanceWindow, MonitoringAccount, Partner, Project, Role, ServiceTemplate, "
        "ServiceTemplateOverride, Site, TimePeriod, User, UserService)"
    )


def test_missing_kind(make_repo):
    d = only(make_repo({"c.yaml": "# a contact\nid: noc\nname: NOC\n"}))
    assert where(d) == ("SNV202", None, "c.yaml", 2, 1)
    assert d.message == "missing field 'kind': every document must say what it is"


def test_kind_must_be_a_string(make_repo):
    d = only(make_repo({"c.yaml": "kind: 5\n"}))
    assert where(d) == ("SNV204", None, "c.yaml", 1, 7)
    assert d.message == "field 'kind' must be a string"


# -- SNV202 missing field -----------------------------------------------------------------


def test_missing_field_is_reported_at_the_mapping_that_lacks_it(make_repo):
    d = only(
        make_repo(
            {
                "c.yaml": "kind: Partner\nid: p2\nname: P2\n---\nkind: Contact\nid: noc\nat: partner\n"
            }
        )
    )
    assert where(d) == ("SNV202", None, "c.yaml", 5, 1)
    assert d.message == "missing field 'name' in Contact 'noc'"


def test_missing_field_in_a_list_item(make_repo):
    repo = make_repo(
        {
            "eq.yaml": """\
            kind: Equipment
            id: srv
            at: partner
            box: box
            services:
              - template: cpu
              - name: web
            """
        }
    )
    d = only(repo, "SNV202")
    assert where(d) == ("SNV202", None, "eq.yaml", 7, 5)
    assert d.message == "missing field 'services[1].template' in Equipment 'srv'"


def test_missing_at(make_repo):
    d = only(make_repo({"c.yaml": "kind: Contact\nid: noc\nname: NOC\n"}))
    assert where(d) == ("SNV202", None, "c.yaml", 1, 1)
    assert d.message == "missing field 'at' in Contact 'noc': the node where it is defined"


FULL_TEMPLATE = {
    "criticality": "3",
    "availability_target": "99.5",
    "availability_period": "24x7",
    "check_period": "24x7",
    "check_interval": "300",
}


@pytest.mark.parametrize("missing", OVERRIDABLE)
def test_service_template_without_duplicate_of_needs_all_five_fields_T7(make_repo, missing):
    """T7: a template that is not a duplicate gives every overridable field itself."""
    body = "kind: ServiceTemplate\nid: tpl\nat: partner\n" + "".join(
        f"{k}: {v}\n" for k, v in FULL_TEMPLATE.items() if k != missing
    )
    d = only(make_repo({"t.yaml": body}))
    assert where(d) == ("SNV202", "T7", "t.yaml", 1, 1)
    assert (
        d.message
        == f"missing field '{missing}' in ServiceTemplate 'tpl': required unless the template sets duplicate_of"
    )


def test_service_template_missing_fields_each_reported_T7(make_repo):
    diags = diagnostics(
        make_repo({"t.yaml": "kind: ServiceTemplate\nid: tpl\nat: partner\ncriticality: 2\n"})
    )
    assert [(d.code, d.rule) for d in diags] == [("SNV202", "T7")] * 4
    assert sorted(d.message.split("'")[1] for d in diags) == sorted(
        set(OVERRIDABLE) - {"criticality"}
    )


def test_duplicate_template_needs_no_field_T7(make_repo):
    assert (
        diagnostics(
            make_repo(
                {"t.yaml": "kind: ServiceTemplate\nid: tpl\nat: partner\nduplicate_of: cpu\n"}
            )
        )
        == []
    )


def test_complete_template_is_valid(make_repo):
    body = "kind: ServiceTemplate\nid: tpl\nat: partner\n" + "".join(
        f"{k}: {v}\n" for k, v in FULL_TEMPLATE.items()
    )
    assert diagnostics(make_repo({"t.yaml": body})) == []


def test_equipment_template_without_duplicate_of_needs_services_T9(make_repo):
    d = only(make_repo({"t.yaml": "kind: EquipmentTemplate\nid: box-tpl\nat: partner\n"}))
    assert where(d) == ("SNV202", "T9", "t.yaml", 1, 1)
    assert (
        d.message
        == "missing field 'services' in EquipmentTemplate 'box-tpl': required unless the template sets duplicate_of"
    )


# -- SNV203 unknown field -----------------------------------------------------------------


def test_unknown_field_suggests_the_closest(make_repo):
    d = only(make_repo({"c.yaml": "kind: Contact\nid: noc\nat: partner\nname: NOC\nnmae: NOC\n"}))
    assert where(d) == ("SNV203", None, "c.yaml", 5, 1)
    assert d.message == "unknown field 'nmae' in Contact 'noc'; did you mean 'name'?"


def test_unknown_nested_fields_suggest_from_their_own_model(make_repo):
    repo = make_repo(
        {
            "eq.yaml": """\
            kind: Equipment
            id: srv
            at: partner
            box: box
            periods: {chek: 24x7}
            services:
              - template: cpu
                nmae: x
            """
        }
    )
    found = [(where(d), d.message) for d in diagnostics(repo) if d.code == "SNV203"]
    assert found == [
        (
            ("SNV203", None, "eq.yaml", 5, 11),
            "unknown field 'periods.chek' in Equipment 'srv'; did you mean 'check'?",
        ),
        (
            ("SNV203", None, "eq.yaml", 8, 5),
            "unknown field 'services[0].nmae' in Equipment 'srv'; did you mean 'name'?",
        ),
    ]


def test_unknown_field_in_the_project(make_repo):
    d = only(make_repo({"snav.yaml": "kind: Project\ndefualt_user: francois\n"}))
    assert where(d) == ("SNV203", None, "snav.yaml", 2, 1)
    assert d.message == "unknown field 'defualt_user' in Project; did you mean 'default_user'?"


# -- SNV204 wrong type (strict: no coercion) ------------------------------------------------

TEMPLATE_DUP = "kind: ServiceTemplate\nid: tpl\nat: partner\nduplicate_of: cpu\n"


@pytest.mark.parametrize(
    ("line", "column", "message"),
    [
        (
            'check_interval: "60"',
            17,
            "'check_interval' in ServiceTemplate 'tpl' must be an integer, not a string ('60')",
        ),
        (
            "check_interval: true",
            17,
            "'check_interval' in ServiceTemplate 'tpl' must be an integer, not a boolean (true)",
        ),
        (
            "check_interval: 60.0",
            17,
            "'check_interval' in ServiceTemplate 'tpl' must be an integer, not a number (60.0)",
        ),
        (
            "check_interval: [60]",
            17,
            "'check_interval' in ServiceTemplate 'tpl' must be an integer, not a list",
        ),
        (
            "check_interval: {s: 60}",
            17,
            "'check_interval' in ServiceTemplate 'tpl' must be an integer, not a mapping",
        ),
        ("name: 5", 7, "'name' in ServiceTemplate 'tpl' must be a string, not a number (5)"),
        ("name: yes", None, None),  # YAML 1.2: `yes` is the string "yes"
        (
            'availability_target: "99.5"',
            22,
            "'availability_target' in ServiceTemplate 'tpl' must be a number, not a string ('99.5')",
        ),
        ("availability_target: 99", None, None),  # an integer is a number
    ],
)
def test_wrong_type_is_not_coerced(make_repo, line, column, message):
    """Strict models: "60" is not 60, true is not 1, 60.0 is not an integer."""
    diags = diagnostics(make_repo({"t.yaml": TEMPLATE_DUP + line + "\n"}))
    if message is None:
        assert diags == []
    else:
        assert [(where(d), d.message) for d in diags] == [
            (("SNV204", None, "t.yaml", 5, column), message)
        ]


def test_wrong_type_of_a_list_item(make_repo):
    d = only(make_repo(period("[800]")))
    assert where(d) == ("SNV204", None, "periods.yaml", 5, 12)
    assert (
        d.message == "'ranges.monday[0]' in TimePeriod 'hours' must be a string, not a number (800)"
    )


def test_id_must_be_a_string(make_repo):
    d = only(make_repo({"c.yaml": "kind: Contact\nid: 5\nat: partner\nname: x\n"}))
    assert where(d) == ("SNV204", None, "c.yaml", 2, 5)
    assert d.message == "'id' in Contact must be a string, not a number (5)"


# -- SNV205 invalid value -------------------------------------------------------------------


def test_mode_typo_M1(make_repo):
    d = only(
        make_repo({"c.yaml": "kind: Client\nid: c1\nname: C1\nparent: partner\nmode: managd\n"})
    )
    assert where(d) == ("SNV205", "M1", "c.yaml", 5, 7)
    assert d.message == (
        "invalid value 'managd' for 'mode' in Client 'c1': expected one of managed, resale; did you mean 'managed'?"
    )


def test_client_without_mode_M1(make_repo):
    d = only(make_repo({"c.yaml": "kind: Client\nid: c1\nname: C1\nparent: partner\n"}))
    assert where(d) == ("SNV202", "M1", "c.yaml", 1, 1)
    assert d.message == "missing field 'mode' in Client 'c1': managed or resale"


@pytest.mark.parametrize(
    ("day", "hint"), [("mon", "monday"), ("Monday", "monday"), ("tuesdya", "tuesday")]
)
def test_weekday_typo(make_repo, day, hint):
    d = only(
        make_repo({"p.yaml": f"kind: TimePeriod\nid: hours\nat: partner\nranges:\n  {day}: []\n"})
    )
    assert where(d) == ("SNV205", None, "p.yaml", 5, 3)
    assert d.message == (
        f"invalid key '{day}' in ranges of TimePeriod 'hours': expected one of monday, tuesday, wednesday, "
        f"thursday, friday, saturday, sunday; did you mean '{hint}'?"
    )


def test_permission_typo_V1a(make_repo):
    d = only(make_repo({"r.yaml": "kind: Role\nid: ops\npermissions: [configure_equipement]\n"}))
    assert where(d) == ("SNV205", None, "r.yaml", 3, 15)
    assert d.message.endswith(
        "expected one of configure_equipment, configure_services, create_templates; did you mean 'configure_equipment'?"
    )


@pytest.mark.parametrize(
    ("ident", "message"),
    [
        (
            "Bad_ID",
            "invalid value 'Bad_ID' for 'id' in Contact 'Bad_ID': expected an ID: lowercase letters, digits, "
            "'.', '_' and '-', starting with a letter or digit",
        ),
        (
            "-noc",
            "invalid value '-noc' for 'id' in Contact '-noc': expected an ID: lowercase letters, digits, "
            "'.', '_' and '-', starting with a letter or digit",
        ),
        (
            "a" * 65,
            f"'id' in Contact '{'a' * 65}' is too long: string should have at most 64 characters",
        ),
    ],
)
def test_invalid_id(make_repo, ident, message):
    d = only(make_repo({"c.yaml": f"kind: Contact\nid: {ident}\nat: partner\nname: x\n"}))
    assert where(d) == ("SNV205", None, "c.yaml", 2, 5)
    assert d.message == message


def test_longest_id_is_accepted(make_repo):
    assert (
        diagnostics(make_repo({"c.yaml": f"kind: Contact\nid: {'a' * 64}\nat: partner\nname: x\n"}))
        == []
    )


@pytest.mark.parametrize(
    ("line", "column", "message"),
    [
        (
            "criticality: 6",
            14,
            "invalid value 6 for 'criticality' in ServiceTemplate 'tpl': input should be less than or equal to 5",
        ),
        (
            "criticality: 0",
            14,
            "invalid value 0 for 'criticality' in ServiceTemplate 'tpl': input should be greater than or equal to 1",
        ),
        (
            "check_interval: 0",
            17,
            "invalid value 0 for 'check_interval' in ServiceTemplate 'tpl': input should be greater than or equal to 1",
        ),
        (
            "availability_target: 100.5",
            22,
            "invalid value 100.5 for 'availability_target' in ServiceTemplate 'tpl': input should be less than or equal to 100",
        ),
        (
            "availability_target: 0",
            22,
            "invalid value 0 for 'availability_target' in ServiceTemplate 'tpl': input should be greater than 0",
        ),
    ],
)
def test_out_of_range_numbers(make_repo, line, column, message):
    d = only(make_repo({"t.yaml": TEMPLATE_DUP + line + "\n"}))
    assert (where(d), d.message) == (("SNV205", None, "t.yaml", 5, column), message)


def test_unit_service_id_shape(make_repo):
    d = only(
        make_repo({"u.yaml": "kind: UserService\nid: shop\nat: partner\nmembers: [srv-web]\n"})
    )
    assert where(d) == ("SNV205", None, "u.yaml", 4, 11)
    assert d.message == (
        "invalid value 'srv-web' for 'members[0]' in UserService 'shop': "
        "expected a unit service ID: <equipment id>/<service name>"
    )


def test_default_for_listed_twice_P2(make_repo):
    d = only(
        make_repo(
            {
                "p.yaml": "kind: TimePeriod\nid: hours\nat: partner\ndefault_for: [check, notification, check]\n"
            }
        )
    )
    assert where(d) == ("SNV205", None, "p.yaml", 4, 36)
    assert d.message == "'check' is listed twice in default_for of TimePeriod 'hours'"


def test_protocol_is_a_lowercase_word(make_repo):
    d = only(
        make_repo(
            {
                "a.yaml": "kind: MonitoringAccount\nid: ro\nat: partner\nprotocol: SNMP v2\nsecret: env:X\n"
            }
        )
    )
    assert where(d) == ("SNV205", None, "a.yaml", 4, 11)
    assert (
        d.message
        == "invalid value 'SNMP v2' for 'protocol' in MonitoringAccount 'ro': expected a lowercase word such as snmp, ssh or wmi"
    )


# -- SNV206 / SNV207 time ranges ----------------------------------------------------------------

FORMAT = "write HH:MM-HH:MM, e.g. 08:00-18:00"
BOUNDS = "hours 00-23 (24:00 only as an end), minutes 00-59"
ORDER = "the end must be after the start"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("8-18", FORMAT),
        ("8:00-18:00", FORMAT),
        ("08:00 - 18:00", FORMAT),
        ("08h00-18h00", FORMAT),
        ("", FORMAT),
        ("25:00-26:00", BOUNDS),
        ("08:00-25:00", BOUNDS),
        ("08:60-09:00", BOUNDS),
        ("24:00-24:00", BOUNDS),
        ("23:00-24:01", BOUNDS),
        ("10:00-09:00", ORDER),
        ("10:00-10:00", ORDER),
    ],
)
def test_invalid_time_range(make_repo, text, problem):
    d = only(make_repo(period(f'["{text}"]')))
    assert where(d) == ("SNV206", None, "periods.yaml", 5, 12)
    assert d.message == f"TimePeriod 'hours': invalid time range '{text}': {problem}"


@pytest.mark.parametrize("text", ["00:00-24:00", "23:59-24:00", "00:00-00:01", "08:00-18:00"])
def test_valid_time_range(make_repo, text):
    """24:00 is allowed as an end."""
    assert diagnostics(make_repo(period(f'["{text}"]'))) == []


def test_every_bad_range_of_a_day_is_reported(make_repo):
    diags = diagnostics(make_repo(period('["08:00-12:00", "25:00-26:00", "13:00-12:00"]')))
    assert [(d.code, d.line, d.column) for d in diags] == [("SNV206", 5, 27), ("SNV206", 5, 42)]


def test_overlap_within_a_day(make_repo):
    d = only(make_repo(period('["08:00-12:00", "11:00-13:00"]')))
    assert where(d) == ("SNV207", None, "periods.yaml", 5, 27)
    assert (
        d.message == "TimePeriod 'hours': time range '11:00-13:00' overlaps '08:00-12:00' on monday"
    )
    assert [(r.file, r.line, r.column, r.message) for r in d.related] == [
        ("periods.yaml", 5, 12, "overlapped range")
    ]


def test_overlap_is_found_whatever_the_order(make_repo):
    """Ranges are compared sorted, each with the range reaching furthest so far."""
    diags = diagnostics(
        make_repo(period('["14:00-18:00", "08:00-12:00", "09:00-10:00", "11:00-15:00"]'))
    )
    found = sorted((d.message, [(r.line, r.column) for r in d.related]) for d in diags)
    assert found == [
        (
            "TimePeriod 'hours': time range '09:00-10:00' overlaps '08:00-12:00' on monday",
            [(5, 27)],
        ),
        (
            "TimePeriod 'hours': time range '11:00-15:00' overlaps '08:00-12:00' on monday",
            [(5, 27)],
        ),
        (
            "TimePeriod 'hours': time range '14:00-18:00' overlaps '11:00-15:00' on monday",
            [(5, 57)],
        ),
    ]
    assert all(d.code == "SNV207" for d in diags)


def test_identical_ranges_overlap(make_repo):
    d = only(make_repo(period('["08:00-12:00", "08:00-12:00"]')))
    assert (d.code, d.column, d.related[0].column) == ("SNV207", 27, 12)


def test_adjacent_ranges_do_not_overlap(make_repo):
    assert (
        diagnostics(
            make_repo(period('["08:00-12:00", "12:00-13:00", "13:00-24:00", "00:00-08:00"]'))
        )
        == []
    )


def test_no_overlap_across_days(make_repo):
    repo = make_repo(
        {
            "p.yaml": """\
            kind: TimePeriod
            id: hours
            at: partner
            ranges:
              monday: ["08:00-18:00"]
              tuesday: ["08:00-18:00"]
              wednesday: ["00:00-24:00"]
              thursday: ["10:00-11:00"]
            """
        }
    )
    assert diagnostics(repo) == []


def test_overlap_is_reported_beside_a_malformed_range(make_repo):
    diags = diagnostics(make_repo(period('["08:00-12:00", "bad", "11:00-13:00"]')))
    assert [(d.code, d.column) for d in diags] == [("SNV206", 27), ("SNV207", 34)]


# -- SNV208 literal secret ----------------------------------------------------------------------

SECRET = "hunter2-Sup3rS3cret"


def account(secret_line: str) -> dict:
    return {
        "accounts.yaml": (
            "kind: MonitoringAccount\nid: snmp-ro\nat: partner\nprotocol: snmp\nusername: monitor\n"
            + secret_line
            + "\n"
        )
    }


def test_literal_secret(make_repo):
    d = only(make_repo(account(f"secret: {SECRET}")))
    assert where(d) == ("SNV208", None, "accounts.yaml", 6, 9)
    assert d.message == (
        "MonitoringAccount 'snmp-ro': a monitoring account's secret must be a reference "
        "(env:NAME or file:path), never the secret itself"
    )
    assert d.redact


@pytest.mark.parametrize(
    "secret_line",
    [
        f"secret: {SECRET}",
        f'secret: "{SECRET}"',
        "secret: 987654321",  # a numeric community or PIN is a literal too
        'secret: "env:1BAD"',
        f"secret: [{SECRET}]",
        f"secret: {{value: {SECRET}}}",
        f"secret: env:OK\nsecret: {SECRET}",  # a duplicate key on the secret's line
        f'secret: "{SECRET}',  # a syntax error on the secret's line
    ],
    ids=[
        "plain",
        "quoted",
        "number",
        "bad-env-name",
        "list",
        "mapping",
        "duplicate-key",
        "syntax-error",
    ],
)
def test_a_secret_never_appears_in_any_output(make_repo, secret_line):
    """SNV208: neither the message nor the text excerpt nor JSON nor GitHub output holds
    the secret; the diagnostic is still reported at the secret's line."""
    repo = make_repo(account(secret_line))
    diags = diagnostics(repo)
    assert diags and all(d.file == "accounts.yaml" for d in diags), [d.to_json() for d in diags]
    outputs = {
        fmt: run("validate", "--format", fmt, repo, exit_code=1).output
        for fmt in ("text", "json", "github")
    }
    value = secret_line.split("secret: ")[-1].strip('"[]{}').removeprefix("value: ")
    for fmt, out in outputs.items():
        assert value not in out, fmt
        assert "987654321" not in out, fmt
    assert "accounts.yaml:6:" in outputs["text"] or "accounts.yaml:7:" in outputs["text"]


def test_numeric_secret_is_a_literal_secret(make_repo):
    d = only(make_repo(account("secret: 987654321")))
    assert where(d) == ("SNV208", None, "accounts.yaml", 6, 9)
    assert d.message == (
        "MonitoringAccount 'snmp-ro': 'secret' must be a string that refers to the secret "
        "(env:NAME or file:path), not a literal value"
    )


@pytest.mark.parametrize(
    "ref", ["env:SNMP_COMMUNITY", "env:_X1", "file:/run/secrets/snmp", "file:secrets/ro.txt"]
)
def test_secret_references_are_accepted(make_repo, ref):
    assert diagnostics(make_repo(account(f"secret: {ref}"))) == []


def test_missing_secret(make_repo):
    d = only(
        make_repo({"a.yaml": "kind: MonitoringAccount\nid: ro\nat: partner\nprotocol: snmp\n"})
    )
    assert where(d) == ("SNV202", None, "a.yaml", 1, 1)
    assert d.message == "missing field 'secret' in MonitoringAccount 'ro'"


# -- SNV209 .. SNV212 -------------------------------------------------------------------------


def test_site_mode_is_refused_M2(make_repo):
    repo = make_repo(
        {
            "c1.yaml": """\
            kind: Client
            id: client1
            name: Client 1
            parent: partner
            mode: managed
            ---
            kind: Site
            id: site1
            name: Site 1
            parent: client1
            mode: resale
            """
        }
    )
    d = only(repo)
    assert where(d) == ("SNV209", "M2", "c1.yaml", 11, 1)
    assert (
        d.message
        == "a site cannot set 'mode': sites inherit the mode of their client; set it on Client 'client1'"
    )


def test_site_mode_is_refused_even_when_it_matches_M2(make_repo):
    repo = make_repo(
        {
            "c1.yaml": "kind: Client\nid: c1\nname: C\nparent: partner\nmode: managed\n---\n"
            "kind: Site\nid: s1\nname: S\nparent: c1\nmode: managed\n"
        }
    )
    assert [(d.code, d.rule) for d in diagnostics(repo)] == [("SNV209", "M2")]


@pytest.mark.parametrize(
    ("field", "hint"),
    [
        ("name: Strict CPU", ""),
        ("check_intervall: 30", "; did you mean 'check_interval'?"),
        ("services: [cpu]", ""),
        ("notification_period: 24x7", ""),
    ],
)
def test_override_of_a_field_that_cannot_be_overridden_T2(make_repo, field, hint):
    repo = make_repo(
        {
            "o.yaml": f"kind: ServiceTemplateOverride\ntemplate: cpu\nat: partner\ncriticality: 5\n{field}\n"
        }
    )
    d = only(repo)
    assert where(d) == ("SNV210", "T2", "o.yaml", 5, 1)
    assert d.message == (
        f"an override cannot set '{field.split(':')[0]}': only criticality, availability_target, "
        f"availability_period, check_period, check_interval can be overridden{hint}"
    )


def test_override_of_each_allowed_field_T2(make_repo):
    body = "kind: ServiceTemplateOverride\ntemplate: cpu\nat: partner\n" + "".join(
        f"{k}: {v}\n" for k, v in FULL_TEMPLATE.items()
    )
    assert diagnostics(make_repo({"o.yaml": body})) == []


def test_project_outside_snav_yaml(make_repo):
    d = only(make_repo({"settings.yaml": "kind: Project\nname: elsewhere\n"}))
    assert where(d) == ("SNV211", None, "settings.yaml", 1, 7)
    assert d.message == "a Project document belongs in snav.yaml at the repository root"


def test_object_at_the_product(make_repo):
    d = only(make_repo({"c.yaml": "kind: Contact\nid: noc\nname: NOC\nat: product\n"}))
    assert where(d) == ("SNV212", None, "c.yaml", 4, 5)
    assert d.message == (
        "Contact 'noc' cannot be defined at the product: the product holds only the shipped catalogue "
        "(set Project.catalog to replace it)"
    )


# -- catalogue documents -----------------------------------------------------------------------


def test_catalogue_documents_have_no_at_and_only_catalogue_kinds(make_repo):
    repo = make_repo(
        {
            "snav.yaml": "kind: Project\ndefault_user: francois\ncatalog: cat\n",
            "cat/a.yaml": "kind: Role\nid: r\n---\nkind: Contact\nid: c\nname: x\n---\nkind: TimePeriod\nid: p\nat: partner\n",
        }
    )
    found = [(where(d), d.message) for d in diagnostics(repo) if d.file.startswith("cat/")]
    assert found == [
        (
            ("SNV201", None, "cat/a.yaml", 4, 7),
            "unknown kind 'Contact' in a catalogue (known kinds: EquipmentTemplate, Role, ServiceTemplate, TimePeriod)",
        ),
        (
            ("SNV203", None, "cat/a.yaml", 10, 1),
            "unknown field 'at' in TimePeriod 'p': catalogue objects live at the product and have no 'at'",
        ),
    ]


# -- the good path -----------------------------------------------------------------------------


def docs_of(text: str):
    docs, diags = load_text("f.yaml", text.encode(), "fast")
    assert diags == []
    return docs


def test_defaults_of_the_input_language():
    """INTERFACE §1: enabled true, shared false, crm_ref null, default_for []."""
    checked = validate(
        docs_of(
            "kind: Contact\nid: noc\nname: NOC\nat: partner\n---\nkind: Box\nid: b\nat: partner\n---\n"
            "kind: Client\nid: c\nname: C\nparent: partner\nmode: resale\n---\n"
            "kind: TimePeriod\nid: p\nat: partner\n"
        )
    )
    assert checked.diagnostics == []
    contact, box, client, tp = checked.objects
    assert (contact.enabled, box.shared, client.crm_ref, tp.default_for, tp.ranges) == (
        True,
        False,
        None,
        [],
        {},
    )
    assert all(o.doc is not None and o.doc.file == "f.yaml" for o in checked.objects)
    assert [o.doc.line for o in checked.objects] == [1, 6, 10, 16]


def test_a_document_with_errors_gives_no_object():
    checked = validate(
        docs_of("kind: Contact\nid: noc\nat: partner\n---\nkind: Box\nid: b\nat: partner\n")
    )
    assert [o.kind for o in checked.objects] == ["Box"]
    assert [d.code for d in checked.diagnostics] == ["SNV202"]


def test_every_error_of_a_document_is_reported(make_repo):
    repo = make_repo({"c.yaml": "kind: Contact\nid: Noc\nat: partner\nemail: 5\nnmae: x\n"})
    assert sorted((d.code, d.line) for d in diagnostics(repo)) == [
        ("SNV202", 1),
        ("SNV203", 5),
        ("SNV204", 4),
        ("SNV205", 2),
    ]


@pytest.mark.parametrize(
    ("word", "candidates", "hint"),
    [
        ("nmae", ["name", "id"], "; did you mean 'name'?"),
        ("NAME", ["name"], "; did you mean 'name'?"),
        ("name", ["name"], ""),
        ("zzz", ["name"], ""),
        (5, ["name"], ""),
    ],
)
def test_did_you_mean(word, candidates, hint):
    assert did_you_mean(word, candidates) == hint


def test_json_output_of_a_validate_error(make_repo):
    repo = make_repo({"c.yaml": "kind: Contact\nid: noc\nat: partner\nname: NOC\nnmae: NOC\n"})
    assert json.loads(run("validate", "--format", "json", repo, exit_code=1).output) == [
        {
            "severity": "error",
            "code": "SNV203",
            "rule": None,
            "message": "unknown field 'nmae' in Contact 'noc'; did you mean 'name'?",
            "file": "c.yaml",
            "line": 5,
            "column": 1,
            "related": [],
        }
    ]


@pytest.mark.parametrize(
    "kind, body",
    [
        ("TimePeriod", 'id: p\nat: partner\nranges:\n  monday: ["08:00-12:00\\n"]\n'),
        ("Equipment", 'id: e\nat: partner\nbox: b\naddress: "10.0.0.1\\n"\n'),
        ("Equipment", 'id: e\nat: partner\nbox: b\naddress: "srv.example.net\\n"\n'),
        (
            "Equipment",
            "id: e\nat: partner\nbox: b\nservices:\n  - template: t\n"
            '    thresholds: {warning: "10\\n"}\n',
        ),
        ("MonitoringAccount", 'id: a\nat: partner\nprotocol: ssh\nsecret: "env:SSH\\n"\n'),
        (
            "MaintenanceWindow",
            'id: w\nat: partner\nstart: "2026-12-20T22:00\\n"\nend: "2026-12-21T02:00"\n'
            "targets: [e]\n",
        ),
    ],
)
def test_a_value_ending_in_a_newline_is_refused(kind, body):
    """Python's "$" matches before a final newline: "08:00-12:00\\n" passed the range
    check and reached effective.json with its newline. Each pattern ends at the text's end."""
    docs, diags = load_text("x.yaml", f"kind: {kind}\n{body}".encode())
    assert not diags
    found = validate(docs).diagnostics
    assert any(d.severity == "error" for d in found), found
