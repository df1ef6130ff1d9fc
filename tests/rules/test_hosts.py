"""Hosts (H1-H7), unit service arguments and thresholds (S1-S4), operational
instructions (I1), and the lock's snapshot of them (T5): docs/rules/hosts.md."""

from __future__ import annotations

import pytest

from snavc.model import parse_threshold
from snavc.query import can_edit
from snavc.resolve.coverage import uncovered

from .helpers import clean, errors, only, pin

TEMPLATES = {
    "templates.yaml": """\
        kind: ServiceTemplate
        id: disk-usage
        at: partner
        criticality: 3
        availability_target: 99.5
        availability_period: 24x7
        check_period: 24x7
        check_interval: 300
        arguments:
          path: /
          inodes: null
        thresholds:
          warning: "80"
          critical: "90"
        instructions: https://wiki.example.net/disk
        ---
        kind: EquipmentTemplate
        id: storage
        at: partner
        services: [disk-usage]
        categories: [san-nas, server]
        instructions: Call the storage team before any reboot
        ---
        kind: EquipmentTemplate
        id: pinged
        at: partner
        services: [ping]
        ---
        kind: Label
        id: production
        at: partner
        name: Production
        ---
        kind: Label
        id: s1-only
        at: client1-site1
        """
}


def eq(ident: str, at: str = "client1-site1", box: str = "box-c1s1", extra: str = "") -> str:
    return f"kind: Equipment\nid: {ident}\nat: {at}\nbox: {box}\n{extra}"


def hosts(*docs: str) -> dict:
    return {**TEMPLATES, "hosts.yaml": "---\n".join(docs)}


# -- H1 address ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address", ["192.0.2.10", "2001:db8::10", "srv-web-01.example.net", "nas01", "fqdn.example."]
)
def test_H1_ip_addresses_and_dns_names_are_accepted(compile_files, address):
    result, res = compile_files(hosts(eq("nas", extra=f"address: '{address}'\n")))
    clean(result)
    assert res.equipment["nas"]["address"] == address


@pytest.mark.parametrize(
    "address", ["10.0.0.300", "-bad.example.net", "two words", "a..b", "1.2.3", "::g"]
)
def test_H1_a_malformed_address_is_an_error_at_its_value(compile_files, address):
    result, _ = compile_files(hosts(eq("nas", extra=f"address: '{address}'\n")))
    d = only(result, "SNV214")
    assert pin(d) == ("error", "SNV214", "H1", "hosts.yaml", 5, 10)
    assert f"invalid address '{address}'" in d.message


# -- H2 several templates -----------------------------------------------------------------


def test_H2_several_templates_give_their_services_in_order(compile_files):
    result, res = compile_files(hosts(eq("nas", extra="templates: [pinged, storage]\n")))
    clean(result)
    e = res.equipment["nas"]
    assert list(e["services"]) == ["ping", "disk-usage"]
    assert e["template"] == "pinged"
    assert e["templates"] == ["pinged", "storage"]


def test_H2_template_and_templates_together_is_an_error(compile_files):
    result, _ = compile_files(hosts(eq("nas", extra="template: pinged\ntemplates: [storage]\n")))
    d = only(result, "SNV216")
    assert pin(d) == ("error", "SNV216", "H2", "hosts.yaml", 6, 1)
    assert d.related[0].line == 5


def test_H2_two_templates_giving_one_service_name_clash(compile_files):
    also_pinged = "kind: EquipmentTemplate\nid: also-pinged\nat: partner\nservices: [ping]\n"
    result, _ = compile_files(
        hosts(eq("nas", extra="templates: [pinged, also-pinged]\n"), also_pinged)
    )
    assert [d.code for d in errors(result)] == ["SNV415"]


def test_H2_one_template_listed_twice_is_one_error(compile_files):
    """The root cause once, not one SNV415 per unit service it would give twice."""
    result, _ = compile_files(hosts(eq("nas", extra="templates: [storage, pinged, storage]\n")))
    d = only(result, "SNV205")
    assert [x.code for x in errors(result)] == ["SNV205"]
    assert pin(d) == ("error", "SNV205", "H2", "hosts.yaml", 5, 30)
    assert "'storage' is listed twice" in d.message and d.related[0].column == 13


# -- H3 categories ------------------------------------------------------------------------


def test_H3_a_category_the_template_does_not_list_is_an_error(compile_files):
    result, _ = compile_files(
        hosts(eq("cam", extra="category: camera\ntemplates: [pinged, storage]\n"))
    )
    d = only(result, "SNV440")
    assert pin(d) == ("error", "SNV440", "H3", "hosts.yaml", 6, 21)
    assert "for hosts of category san-nas, server" in d.message


def test_H3_a_listed_category_or_no_category_is_accepted(compile_files):
    result, res = compile_files(
        hosts(
            eq("nas", extra="category: san-nas\ntemplate: storage\n"),
            eq("old", extra="template: storage\n"),
        )
    )
    clean(result)
    assert res.equipment["nas"]["category"] == "san-nas"
    assert "category" not in res.equipment["old"]  # absent: 'other', not filtered


def test_H3_an_unknown_category_is_an_error(compile_files):
    result, _ = compile_files(hosts(eq("nas", extra="category: nas\n")))
    d = only(result, "SNV205")
    assert (d.line, d.column) == (5, 11)


# -- H4 parents ---------------------------------------------------------------------------


def test_H4_a_host_that_is_its_own_grandparent_is_an_error_naming_the_chain(compile_files):
    result, _ = compile_files(
        hosts(
            eq("a", extra="parents: [b]\n"),
            eq("b", extra="parents: [c]\n"),
            eq("c", extra="parents: [a]\n"),
        )
    )
    d = only(result, "SNV307")
    assert pin(d) == ("error", "SNV307", "H4", "hosts.yaml", 5, 11)
    assert "parent cycle: a -> b -> c -> a" in d.message
    assert [r.line for r in d.related] == [11, 17]


def test_H4_a_host_that_is_its_own_parent_is_an_error(compile_files):
    result, _ = compile_files(hosts(eq("a", extra="parents: [a]\n")))
    assert "parent cycle: a -> a" in only(result, "SNV307").message


def test_H4_parents_are_kept_and_a_dangling_parent_is_reported(compile_files):
    result, res = compile_files(
        hosts(eq("router", at="client1", box="box-c1"), eq("a", extra="parents: [router]\n"))
    )
    clean(result)
    assert res.equipment["a"]["parents"] == ["router"]
    assert "parents" not in res.equipment["router"]
    result, _ = compile_files(hosts(eq("a", extra="parents: [routr]\n")))
    assert pin(only(result, "SNV302"))[3:] == ("hosts.yaml", 5, 11)


# -- H5 parent visibility -----------------------------------------------------------------


def test_H5_a_parent_on_a_sibling_site_is_not_visible(compile_files):
    result, _ = compile_files(
        hosts(
            eq("router", at="client1-site2", box="box-c1s2"), eq("a", extra="parents: [router]\n")
        )
    )
    d = only(result, "SNV441")
    assert pin(d) == ("error", "SNV441", "H5", "hosts.yaml", 10, 11)


def test_H5_a_parent_above_the_configuring_users_home_is_not_visible(compile_files):
    result, _ = compile_files(
        hosts(
            eq("core", at="client1", box="box-c1"),
            eq("a", extra="configured_by: sam\nparents: [core]\n"),
        )
    )
    d = only(result, "SNV441")
    assert "within 'client1-site1'" in d.message


def test_H5_L1_a_parent_above_the_users_home_locks_the_child(compile_files):
    result, res = compile_files(
        hosts(eq("core", at="client1", box="box-c1"), eq("a", extra="parents: [core]\n"))
    )
    clean(result)
    reasons = can_edit(res, "sam", "a")["reasons"]
    assert [(r["rule"], r["ref"]) for r in reasons] == [("L1", "equipment/core")]
    assert can_edit(res, "stephanie", "a")["editable"] is True


# -- H6 servicenav_id ---------------------------------------------------------------------


def test_H6_two_hosts_with_one_servicenav_id_is_an_error(compile_files):
    result, res = compile_files(
        hosts(eq("a", extra="servicenav_id: '4711'\n"), eq("b", extra="servicenav_id: '4711'\n"))
    )
    d = only(result, "SNV308")
    assert pin(d) == ("error", "SNV308", "H6", "hosts.yaml", 11, 16)


# -- H7 labels ----------------------------------------------------------------------------


def test_H7_labels_must_be_selectable_where_the_host_is(compile_files):
    result, res = compile_files(
        hosts(
            eq("a", extra="labels: [production, s1-only]\n"),
            eq("b", at="client1-site2", box="box-c1s2", extra="labels: [s1-only]\n"),
        )
    )
    d = only(result, "SNV403")
    assert pin(d) == ("error", "SNV403", "H7", "hosts.yaml", 11, 10)
    result, res = compile_files(hosts(eq("a", extra="labels: [s1-only, production]\n")))
    clean(result)
    assert res.equipment["a"]["labels"] == ["production", "s1-only"]


def test_H_host_level_values_reach_effective_and_origins(compile_files):
    extra = (
        "servicenav_id: H-12\ncategory: server\nfunction: Web front\ncriticality: 4\n"
        "availability_target: 99.9\ncheck_interval: 120\n"
    )
    result, res = compile_files(hosts(eq("a", extra=extra)))
    clean(result)
    e = res.equipment["a"]
    assert {k: e[k] for k in ("servicenav_id", "category", "function")} == {
        "servicenav_id": "H-12",
        "category": "server",
        "function": "Web front",
    }
    assert (e["criticality"], e["availability_target"], e["check_interval"]) == (4, 99.9, 120)
    assert res.resolver.explicit_origins["equipment/a"]["function"] == [
        "client1-site1",
        "hosts.yaml",
        7,
    ]


# -- S1 arguments, S2 thresholds, S3 template defaults, S4 service_settings ------------------


SERVICE = """\
services:
  - name: data
    template: disk-usage
{lines}"""


def test_S3_a_service_takes_its_templates_arguments_thresholds_and_instructions(compile_files):
    result, res = compile_files(hosts(eq("nas", extra="template: storage\n")))
    clean(result)
    s = res.equipment["nas"]["services"]["disk-usage"]
    assert s["arguments"] == {"inodes": None, "path": "/"}
    assert s["thresholds"] == {"critical": "90", "warning": "80"}
    assert s["instructions"] == "https://wiki.example.net/disk"
    assert res.resolver.origins[s["origin"]]["thresholds"][1:] == ("templates.yaml", 13)


def test_S3_values_set_on_the_service_win_key_by_key(compile_files):
    lines = (
        "    arguments: {path: /data}\n"
        "    thresholds: {critical: '@95:100'}\n"
        "    instructions: Data disk\n"
        "    labels: [production]\n"
        "    servicenav_id: S-9\n"
    )
    result, res = compile_files(hosts(eq("nas", extra=SERVICE.format(lines=lines))))
    clean(result)
    s = res.equipment["nas"]["services"]["data"]
    assert s["arguments"] == {"inodes": None, "path": "/data"}
    assert s["thresholds"] == {"critical": "@95:100", "warning": "80"}
    assert (s["instructions"], s["labels"], s["servicenav_id"]) == (
        "Data disk",
        ["production"],
        "S-9",
    )
    assert s["explicit"] == ["arguments", "instructions", "labels", "servicenav_id", "thresholds"]


def test_S1_an_argument_the_template_does_not_declare_is_an_error(compile_files):
    result, _ = compile_files(
        hosts(eq("nas", extra=SERVICE.format(lines="    arguments: {pth: /data}\n")))
    )
    d = only(result, "SNV442")
    assert pin(d) == ("error", "SNV442", "S1", "hosts.yaml", 8, 17)
    assert "did you mean 'path'?" in d.message


@pytest.mark.parametrize("text", ["10", "10:", "~:10", "10:20", "@10:20", "-5:-1", "0.5:1.5"])
def test_S2_nagios_ranges_are_accepted(text):
    parse_threshold(text)


@pytest.mark.parametrize("text", ["", "@", "abc", "10:5", "~", "10::20", "1e3", ":"])
def test_S2_malformed_ranges_are_refused(text):
    with pytest.raises(Exception, match="invalid threshold"):
        parse_threshold(text)


def test_S2_a_malformed_threshold_is_an_error_at_its_value(compile_files):
    lines = "    thresholds:\n      warning: '20:10'\n      critical: 90\n"
    result, res = compile_files(hosts(eq("nas", extra=SERVICE.format(lines=lines))))
    d = only(result, "SNV215")
    assert pin(d) == ("error", "SNV215", "S2", "hosts.yaml", 9, 16)
    assert "start (20) is greater than the end (10)" in d.message


def test_S4_service_settings_set_values_on_a_templates_service(compile_files):
    extra = "template: storage\nservice_settings:\n  disk-usage:\n    servicenav_id: S-1\n"
    result, res = compile_files(hosts(eq("nas", extra=extra)))
    clean(result)
    assert res.equipment["nas"]["services"]["disk-usage"]["servicenav_id"] == "S-1"
    extra = "template: storage\nservice_settings:\n  disk:\n    servicenav_id: S-1\n"
    result, _ = compile_files(hosts(eq("nas", extra=extra)))
    d = only(result, "SNV443")
    assert pin(d) == ("error", "SNV443", "S4", "hosts.yaml", 7, 3)


# -- I1 instructions ----------------------------------------------------------------------


def test_I1_a_host_takes_its_templates_instructions_unless_it_has_its_own(compile_files):
    result, res = compile_files(
        hosts(
            eq("nas", extra="templates: [pinged, storage]\n"),
            eq("own", extra="template: storage\ninstructions: See runbook 12\n"),
        )
    )
    clean(result)
    assert res.equipment["nas"]["instructions"] == "Call the storage team before any reboot"
    assert res.equipment["own"]["instructions"] == "See runbook 12"


# -- T5: the lock snapshots the template's defaults ---------------------------------------


def test_T5_a_later_change_of_a_templates_thresholds_does_not_reach_existing_services(
    repo, compiled
):
    from snavc.engine.pipeline import build

    path = repo(hosts(eq("nas", extra="template: storage\n")))
    assert build(path, path / "out").status == "written"
    text = (path / "templates.yaml").read_text().replace('critical: "90"', 'critical: "97"')
    (path / "templates.yaml").write_text(text)
    result, res = compiled(path)
    clean(result)
    s = res.equipment["nas"]["services"]["disk-usage"]
    assert s["thresholds"] == {"critical": "90", "warning": "80"}
    assert "locked" in s


def test_H5_is_checked_when_a_build_consumes_the_parent_first(repo, cli):
    """validate and build drop each equipment once resolved, in ID order: a parent that
    sorts before its child is gone from the tree by then, and must still be found."""
    path = repo(
        hosts(
            eq("a-router", at="client1-site2", box="box-c1s2"),
            eq("b-host", extra="parents: [a-router]\n"),
        )
    )
    out = cli("validate", path, exit_code=1).output
    assert "hosts.yaml:10:11: error[SNV441]" in out


# -- H8 the check period covers the availability period -----------------------------------

EVENINGS = """\
kind: TimePeriod
id: evenings
at: client1-site1
ranges:
  monday: ["18:00-22:00"]
  saturday: ["10:00-12:00"]
exceptions:
  - {date: '2026-12-24', ranges: ['00:00-24:00']}
"""

HALVES = """\
kind: TimePeriod
id: halves
at: client1-site1
ranges:
  monday: ["12:00-24:00", "00:00-12:00"]
  saturday: ["09:00-11:00", "11:00-12:30"]
"""


def periods(check: str | None = None, availability: str | None = None) -> str:
    lines = ["periods:"]
    lines += [f"  check: {check}"] if check else []
    lines += [f"  availability: {availability}"] if availability else []
    return "\n".join(lines) + "\n"


def test_H8_a_check_period_narrower_than_availability_is_a_warning_at_it(compile_files):
    chosen = periods(check="business-hours", availability="24x7")  # Mon-Fri 08:00-18:00
    result, res = compile_files(hosts(eq("nas", extra=chosen)))
    d = only(result, "SNV448")
    assert pin(d) == ("warning", "SNV448", "H8", "hosts.yaml", 6, 10)
    assert "'business-hours'" in d.message and "'24x7'" in d.message
    assert "not checked monday 00:00-08:00, monday 18:00-24:00, tuesday 00:00-08:00" in d.message
    assert "(and 9 more)" in d.message  # 5 weekdays x 2 gaps + saturday + sunday = 12
    notes = [(n.file, n.line, n.message) for n in d.related]
    assert notes == [
        ("hosts.yaml", 6, "the check period 'business-hours' is set here"),
        ("hosts.yaml", 7, "the availability period '24x7' is set here"),
    ]
    assert res.equipment["nas"]["periods"]["check"] == {"id": "business-hours", "from": "explicit"}


def test_H8_an_availability_period_outside_the_check_default_is_a_warning_at_it(
    compile_files,
):
    files = hosts(EVENINGS, eq("nas", extra=periods(availability="evenings")))
    result, _ = compile_files(files)
    d = only(result, "SNV448")
    # hosts.yaml: EVENINGS is 8 lines, '---', then the equipment: periods.availability
    assert pin(d) == ("warning", "SNV448", "H8", "hosts.yaml", 15, 17)
    assert "not checked monday 18:00-22:00, saturday 10:00-12:00;" in d.message
    assert d.related[0].message == "the check period 'business-hours' is the product's default"
    assert (d.related[1].line, d.related[1].message) == (
        15,
        "the availability period 'evenings' is set here",
    )


def test_H8_a_check_default_of_a_node_is_named_by_its_default_for(compile_files):
    narrow = EVENINGS.replace("id: evenings", "id: narrow") + "default_for: [check]\n"
    files = hosts(narrow, eq("nas", extra=periods(availability="business-hours")))
    result, _ = compile_files(files)
    d = only(result, "SNV448")
    assert (
        d.related[0].message == "the check period 'narrow' is the check default at 'client1-site1'"
    )
    assert (d.related[0].file, d.related[0].line) == ("hosts.yaml", 9)  # its default_for


@pytest.mark.parametrize(
    "chosen",
    [
        periods(check="24x7", availability="24x7"),  # equal
        periods(check="24x7", availability="business-hours"),  # covers
        periods(check="evenings", availability="evenings"),  # one ID: equal
        periods(check="halves", availability="evenings"),  # joined ranges cover
        periods(check="non-business-hours", availability="evenings"),  # 18:00-24:00 covers
    ],
)
def test_H8_a_check_period_that_equals_or_covers_is_clean(compile_files, chosen):
    result, _ = compile_files(hosts(EVENINGS, HALVES, eq("nas", extra=chosen)))
    clean(result)


def test_H8_exceptions_are_not_compared(compile_files):
    # evenings' 24 December exception (all day) lies outside halves' weekly ranges
    result, _ = compile_files(
        hosts(EVENINGS, HALVES, eq("nas", extra=periods(check="halves", availability="evenings")))
    )
    clean(result)


def test_H8_two_node_defaults_are_compared_at_the_equipment(compile_files):
    narrow = EVENINGS.replace("id: evenings", "id: narrow") + "default_for: [check]\n"
    wide = HALVES.replace("at: client1-site1", "at: client1") + "default_for: [availability]\n"
    result, _ = compile_files(hosts(narrow, wide, eq("nas")))
    d = only(result, "SNV448")
    # hosts.yaml: narrow (lines 1-9), "---", wide (11-17), "---", the equipment (its id: 20)
    assert pin(d) == ("warning", "SNV448", "H8", "hosts.yaml", 20, 5)
    assert [(n.line, n.message) for n in d.related] == [
        (9, "the check period 'narrow' is the check default at 'client1-site1'"),
        (17, "the availability period 'halves' is the availability default at 'client1'"),
    ]


def test_H8_the_products_availability_default_is_not_compared(compile_files):
    # the product's own defaults (check business-hours, availability 24x7) do not cover:
    # an availability period nobody chose is not compared (docs/rules/hosts.md, H8)
    result, res = compile_files(hosts(eq("nas"), eq("srv", extra=periods(check="business-hours"))))
    clean(result)
    assert res.equipment["nas"]["periods"]["check"]["id"] == "business-hours"
    assert res.equipment["srv"]["periods"]["availability"] == {"id": "24x7", "from": "product"}


def test_H8_is_computed_once_per_pair_of_periods(compile_files):
    chosen = periods(check="business-hours", availability="24x7")
    docs = [eq(f"nas{i}", extra=chosen) for i in range(3)]
    result, res = compile_files(hosts(*docs))
    assert [d.code for d in result.diagnostics] == ["SNV448"] * 3
    assert list(res.resolver.coverage._memo) == [("business-hours", "24x7")]


def test_H8_uncovered_walks_the_gaps_of_the_check_ranges():
    check = {"monday": ["08:00-10:00", "12:00-14:00"], "tuesday": ["00:00-24:00"]}
    availability = {
        "monday": ["07:00-15:00"],
        "tuesday": ["01:00-02:00"],
        "friday": ["09:00-10:00"],
    }
    assert uncovered(check, availability) == [
        "monday 07:00-08:00",
        "monday 10:00-12:00",
        "monday 14:00-15:00",
        "friday 09:00-10:00",
    ]
    assert uncovered(availability, availability) == []
