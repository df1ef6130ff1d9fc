"""Service and equipment templates: types, overrides, duplicates (T1-T4, T6-T9)."""

from __future__ import annotations

import textwrap

import pytest

from snavc.explain import explain
from snavc.query import selectable

from .helpers import (
    SMALL_CATALOG,
    clean,
    only,
    origin_nodes,
    pin,
    service_origin,
    service_values,
)

# cpu (product: criticality 3, target 99.5, 24x7/24x7, every 300 s) overridden at three
# levels; a partner duplicate; a client template and duplicate; equipment templates.
TEMPLATES = {
    "templates.yaml": """\
        kind: ServiceTemplateOverride
        template: cpu
        at: partner
        availability_target: 99.9
        check_interval: 120
        ---
        kind: ServiceTemplateOverride
        template: cpu
        at: client1
        criticality: 4
        check_interval: 60
        ---
        kind: ServiceTemplateOverride
        template: cpu
        at: client1-site1
        check_interval: 30
        ---
        kind: ServiceTemplate
        id: cpu-strict
        at: partner
        duplicate_of: cpu
        criticality: 5
        ---
        kind: ServiceTemplate
        id: c1-web
        at: client1
        criticality: 2
        availability_target: 98.0
        availability_period: 24x7
        check_period: business-hours
        check_interval: 90
        ---
        kind: ServiceTemplate
        id: c1-cpu
        at: client1
        duplicate_of: cpu
        availability_period: business-hours
        ---
        kind: ServiceTemplate
        id: c2-cpu
        at: client2
        duplicate_of: cpu
        ---
        kind: EquipmentTemplate
        id: acme-linux
        at: partner
        services: [ping, cpu]
        ---
        kind: EquipmentTemplate
        id: c1-linux
        at: client1
        duplicate_of: acme-linux
        """
}


def equipment(eq_id: str, at: str, box: str, by: str = "francois", extra: str = "") -> str:
    return f"kind: Equipment\nid: {eq_id}\nat: {at}\nbox: {box}\nconfigured_by: {by}\n{extra}"


CPU = "services:\n  - template: cpu\n"


@pytest.fixture
def tpl(compile_files):
    result, res = compile_files(TEMPLATES)
    clean(result)
    return res


def types(res, user, node, kind="service-template", action="equipment"):
    return {
        i["id"]: (i["type"], i["defined_at"], i["editor"])
        for i in selectable(res, user, node, kind, action)
    }


# -- T1 ----------------------------------------------------------------------------------


def test_T1_types_at_the_partner(tpl):
    t = types(tpl, "francois", "partner")
    assert t["cpu"] == ("OVERRIDDEN", "partner", "Partner")
    assert t["cpu-strict"] == ("CREATED", "partner", "Partner")
    assert t["ping"] == ("PRODUCT", "product", "Viadéis Services")
    assert "c1-web" not in t
    assert types(tpl, "francois", "partner", "equipment-template")["acme-linux"] == (
        "CREATED",
        "partner",
        "Partner",
    )


def test_T1_types_at_client1(tpl):
    t = types(tpl, "francois", "client1")
    assert t["cpu"] == ("OVERRIDDEN", "client1", "Client 1 infogérance")
    assert t["cpu-strict"] == ("INHERITED", "partner", "Partner")
    assert t["c1-web"] == ("CREATED", "client1", "Client 1 infogérance")
    assert t["c1-cpu"] == ("CREATED", "client1", "Client 1 infogérance")
    assert t["ping"] == ("PRODUCT", "product", "Viadéis Services")
    et = types(tpl, "francois", "client1", "equipment-template")
    assert et["c1-linux"] == ("CREATED", "client1", "Client 1 infogérance")
    assert et["acme-linux"] == ("INHERITED", "partner", "Partner")


def test_T1_overridden_template_listed_once_with_its_deepest_override_in_scope(tpl):
    items = selectable(tpl, "francois", "client1-site1", "service-template")
    assert [i["id"] for i in items].count("cpu") == 1
    assert types(tpl, "francois", "client1-site1")["cpu"] == (
        "OVERRIDDEN",
        "client1-site1",
        "Client 1 Site 1",
    )
    # client1-site1's override is not on the path to client1-site2
    assert types(tpl, "francois", "client1-site2")["cpu"] == (
        "INHERITED",
        "client1",
        "Client 1 infogérance",
    )
    assert types(tpl, "francois", "client1-site2")["c1-web"] == (
        "INHERITED",
        "client1",
        "Client 1 infogérance",
    )


def test_T1_types_depend_on_the_users_scope(tpl):
    steph = types(tpl, "stephanie", "client1-site2", action="services")
    assert steph["cpu"] == ("INHERITED", "client1", "Client 1 infogérance")
    assert steph["ping"] == ("PRODUCT", "product", "Partner")  # white label (T8, P8)
    assert "cpu-strict" not in steph
    sam = types(tpl, "sam", "client1-site1")
    assert sam["cpu"] == ("OVERRIDDEN", "client1-site1", "Client 1 Site 1")
    assert "c1-web" not in sam  # above a site user's home (V2)


def test_T1_product_type_where_no_override_is_in_scope(tpl):
    t = types(tpl, "francois", "client2-site1")
    assert t["cpu"] == ("PRODUCT", "product", "Viadéis Services")
    assert t["c2-cpu"] == ("INHERITED", "client2", "Client 2 revente")


# -- T2 ----------------------------------------------------------------------------------


def test_T2_override_of_a_non_overridable_field_is_an_error(compile_files):
    result, _ = compile_files(
        {
            "ov.yaml": """\
                kind: ServiceTemplateOverride
                template: cpu
                at: client1
                criticality: 4
                name: My CPU
                """
        }
    )
    d = only(result)
    assert (d.severity, d.code, d.rule, d.file, d.line, d.column) == (
        "error",
        "SNV210",
        "T2",
        "ov.yaml",
        5,
        1,
    )
    assert "'name'" in d.message
    for field in (
        "criticality",
        "availability_target",
        "availability_period",
        "check_period",
        "check_interval",
    ):
        assert field in d.message


def test_T2_equipment_templates_cannot_be_overridden(compile_files):
    result, _ = compile_files(
        {
            **TEMPLATES,
            "ov.yaml": "kind: ServiceTemplateOverride\ntemplate: acme-linux\nat: client1\ncriticality: 4\n",
        }
    )
    d = only(result)
    assert pin(d) == ("error", "SNV302", "T2", "ov.yaml", 2, 11)
    assert d.message == (
        "override of 'acme-linux' at 'client1': 'acme-linux' is an equipment template, and "
        "only service templates can be overridden; create a new one from it with "
        "duplicate_of instead (T7)"
    )


def test_T2_override_of_a_template_not_visible_there_is_an_error(compile_files):
    result, _ = compile_files(
        {
            **TEMPLATES,
            "ov.yaml": "kind: ServiceTemplateOverride\ntemplate: cpu-strict\nat: client2\ncriticality: 4\n",
        }
    )
    d = only(result)
    assert pin(d) == ("error", "SNV414", "T2", "ov.yaml", 2, 11)
    assert d.message.startswith(
        "service template 'cpu-strict' is not visible at 'client2', so it cannot be overridden there"
    )
    assert "cpu-strict" not in d.message.partition("visible: ")[2].split(", ")


def test_T2_at_most_one_override_of_a_template_per_node(compile_files):
    result, _ = compile_files(
        {
            "ov.yaml": """\
                kind: ServiceTemplateOverride
                template: cpu
                at: client1
                criticality: 4
                ---
                kind: ServiceTemplateOverride
                template: cpu
                at: client1
                check_interval: 60
                """
        }
    )
    d = only(result)
    assert pin(d) == ("error", "SNV306", "T2", "ov.yaml", 7, 11)
    assert d.message == (
        "a second override of 'cpu' at 'client1': a node holds at most one override per template; merge their fields"
    )


def test_T2_created_templates_can_be_overridden(compile_files):
    result, res = compile_files(
        {
            **TEMPLATES,
            "ov.yaml": "kind: ServiceTemplateOverride\ntemplate: cpu-strict\nat: client1\ncheck_interval: 15\n",
            "eq.yaml": equipment(
                "e", "client1", "box-c1", extra="services:\n  - template: cpu-strict\n"
            ),
        }
    )
    clean(result)
    assert res.equipment["e"]["services"]["cpu-strict"]["check_interval"] == 15
    assert types(res, "francois", "client1")["cpu-strict"] == (
        "OVERRIDDEN",
        "client1",
        "Client 1 infogérance",
    )


# -- T3 ----------------------------------------------------------------------------------


def test_T3_deepest_override_wins_per_field(compile_files):
    result, res = compile_files(
        {**TEMPLATES, "eq.yaml": equipment("e", "client1-site1", "box-c1s1", extra=CPU)}
    )
    clean(result)
    cpu = res.equipment["e"]["services"]["cpu"]
    assert service_values(cpu) == {
        "criticality": 4,  # client1
        "availability_target": 99.9,  # partner
        "availability_period": "24x7",  # product
        "check_period": "24x7",  # product
        "check_interval": 30,  # client1-site1, over client1's 60 and the partner's 120
        "notification_period": "24x7",
    }
    assert origin_nodes(res, cpu) == {
        "criticality": "client1",
        "availability_target": "partner",
        "availability_period": "product",
        "check_period": "product",
        "check_interval": "client1-site1",
        "notification_period": "product",
    }
    assert service_origin(res, cpu, "check_interval") == ["client1-site1", "templates.yaml", 16]


def test_T3_what_you_can_see_is_what_you_get(compile_files):
    """Stéphanie creating a service from cpu at Client 1 Site 2 gets Client 1's override on
    top of the product template, never the partner's override."""
    result, res = compile_files(
        {**TEMPLATES, "eq.yaml": equipment("e", "client1-site2", "box-c1s2", "stephanie", CPU)}
    )
    clean(result)
    cpu = res.equipment["e"]["services"]["cpu"]
    assert (cpu["criticality"], cpu["availability_target"], cpu["check_interval"]) == (4, 99.5, 60)
    assert origin_nodes(res, cpu)["availability_target"] == "product"


def test_T3_same_node_different_user_different_values(compile_files):
    result, res = compile_files(
        {
            **TEMPLATES,
            "eq.yaml": equipment("f", "client1-site2", "box-c1s2", "francois", CPU)
            + "---\n"
            + equipment("s", "client1-site2", "box-c1s2", "stephanie", CPU),
        }
    )
    clean(result)
    f, s = (res.equipment[k]["services"]["cpu"] for k in ("f", "s"))
    assert (f["availability_target"], s["availability_target"]) == (99.9, 99.5)


def test_T3_removing_an_override_shows_the_base_again(compile_files):
    files = {**TEMPLATES, "eq.yaml": equipment("e", "client1-site1", "box-c1s1", extra=CPU)}
    files["templates.yaml"] = textwrap.dedent(files["templates.yaml"]).replace(
        "kind: ServiceTemplateOverride\ntemplate: cpu\nat: client1-site1\ncheck_interval: 30\n---\n",
        "",
    )
    assert "client1-site1" not in files["templates.yaml"]
    result, res = compile_files(files)
    clean(result)
    assert res.equipment["e"]["services"]["cpu"]["check_interval"] == 60  # client1's again
    assert types(res, "francois", "client1-site1")["cpu"] == (
        "INHERITED",
        "client1",
        "Client 1 infogérance",
    )


def test_T3_explain_template_for_a_user(tpl):
    out = explain(tpl, "service-template/cpu", as_user="stephanie", at="client1-site2")
    assert out["scope_top"] == "client1"
    fields = {f["path"]: (f["value"], f["origin"]["node"]) for f in out["fields"]}
    assert fields["availability_target"] == (99.5, "product")
    assert fields["check_interval"] == (60, "client1")
    steps = out["fields"][0]["steps"]
    assert [(s.get("step"), s.get("node"), s.get("result")) for s in steps] == [
        ("template", "product", None),
        ("override", "partner", "skipped"),
        ("override", "client1-site1", "skipped"),
        ("override", "client1", "applied"),
    ]
    by_node = {s["node"]: s for s in steps if s.get("step") == "override"}
    assert by_node["partner"]["why"] == (
        "'partner' is above the top of the configuring user's scope, 'client1' (V2, T3)"
    )
    assert (
        by_node["client1-site1"]["why"]
        == "'client1-site1' is not on the path to 'client1-site2' (V4)"
    )


# -- T4 ----------------------------------------------------------------------------------


def test_T4_override_applies_to_every_unit_service_made_by_users_who_see_it(compile_files):
    result, res = compile_files(
        {
            **TEMPLATES,
            "eq.yaml": "---\n".join(
                [
                    equipment("a", "client1-site2", "box-c1s2", extra=CPU),
                    equipment("b", "client1", "box-snm", extra="template: acme-linux\n"),
                    equipment(
                        "c", "client1-site2", "box-c1s2", "stephanie", "template: linux-server\n"
                    ),
                    equipment("d", "client2-site1", "box-c2s1", extra=CPU),
                    equipment("e", "client2-site1", "box-c2s1", "rita", CPU),
                ]
            ),
        }
    )
    clean(result)
    target = {k: res.equipment[k]["services"]["cpu"]["availability_target"] for k in "abcde"}
    # the partner's override (99.9) reaches francois's services at the managed client,
    # from an explicit service or an equipment template alike; not stephanie's, not resale
    assert target == {"a": 99.9, "b": 99.9, "c": 99.5, "d": 99.5, "e": 99.5}
    criticality = {k: res.equipment[k]["services"]["cpu"]["criticality"] for k in "abcde"}
    assert criticality == {"a": 4, "b": 4, "c": 4, "d": 3, "e": 3}


# -- T6 ----------------------------------------------------------------------------------


def test_T6_fields_an_override_does_not_set_follow_the_base(repo, compiled):
    files = {
        **SMALL_CATALOG,
        "ov.yaml": "kind: ServiceTemplateOverride\ntemplate: cpu\nat: partner\ncheck_interval: 120\n",
        "periods.yaml": "kind: TimePeriod\nid: p\nat: partner\ndefault_for: [notification, availability]\n",
        "eq.yaml": equipment("e", "client1", "box-c1", extra=CPU),
    }
    path = repo(files)
    _, before = compiled(path)
    cpu = before.equipment["e"]["services"]["cpu"]
    assert (cpu["criticality"], cpu["check_interval"]) == (3, 120)
    # the product's update of the template: criticality 3 -> 2, check_interval 300 -> 600
    catalog = path / "catalog" / "templates.yaml"
    catalog.write_text(
        catalog.read_text(encoding="utf-8")
        .replace("criticality: 3", "criticality: 2")
        .replace("check_interval: 300", "check_interval: 600"),
        encoding="utf-8",
    )
    _, after = compiled(path)
    cpu = after.equipment["e"]["services"]["cpu"]
    assert cpu["criticality"] == 2  # not set by the override: follows the base
    assert cpu["check_interval"] == 120  # set by the override: unchanged


# -- T7 ----------------------------------------------------------------------------------


def test_T7_duplicate_starts_from_its_source_as_seen_at_its_node(compile_files):
    result, res = compile_files(
        {
            **TEMPLATES,
            "eq.yaml": equipment(
                "e",
                "client1-site1",
                "box-c1s1",
                extra="services:\n  - template: cpu-strict\n  - template: c1-cpu\n",
            )
            + "---\n"
            + equipment(
                "f", "client2-site1", "box-c2s1", extra="services:\n  - template: c2-cpu\n"
            ),
        }
    )
    clean(result)
    services = res.equipment["e"]["services"]
    # cpu-strict at the partner: cpu with the partner's override, then its criticality
    assert service_values(services["cpu-strict"])["criticality"] == 5
    assert (
        services["cpu-strict"]["availability_target"],
        services["cpu-strict"]["check_interval"],
    ) == (99.9, 120)
    # c1-cpu at client1: cpu with the partner's and client1's overrides (a partner user's
    # view of client1), then its own availability_period; never client1-site1's override
    c1 = services["c1-cpu"]
    assert (
        c1["criticality"],
        c1["availability_target"],
        c1["check_interval"],
        c1["availability_period"],
    ) == (
        4,
        99.9,
        60,
        "business-hours",
    )
    assert origin_nodes(res, c1)["availability_period"] == "client1"
    # c2-cpu under a resale client: the product's cpu, no partner override
    c2 = res.equipment["f"]["services"]["c2-cpu"]
    assert (c2["criticality"], c2["availability_target"], c2["check_interval"]) == (3, 99.5, 300)


def test_T7_duplicate_is_copied_at_every_build(repo, compiled):
    path = repo(
        {
            **TEMPLATES,
            "eq.yaml": equipment(
                "e", "client1", "box-c1", extra="services:\n  - template: cpu-strict\n"
            ),
        }
    )
    _, before = compiled(path)
    assert before.equipment["e"]["services"]["cpu-strict"]["check_interval"] == 120
    text = (
        (path / "templates.yaml")
        .read_text(encoding="utf-8")
        .replace("check_interval: 120", "check_interval: 240")
    )
    (path / "templates.yaml").write_text(text, encoding="utf-8")
    _, after = compiled(path)
    assert after.equipment["e"]["services"]["cpu-strict"]["check_interval"] == 240


def test_T7_duplicate_type_is_created_at_its_node(tpl):
    assert types(tpl, "francois", "client1")["c1-cpu"][0] == "CREATED"
    assert types(tpl, "francois", "client1-site1")["c1-cpu"][0] == "INHERITED"


def test_T7_duplicate_of_a_template_not_visible_there_is_an_error(compile_files):
    result, _ = compile_files(
        {
            **TEMPLATES,
            "dup.yaml": "kind: ServiceTemplate\nid: c2-strict\nat: client2\nduplicate_of: cpu-strict\n",
        }
    )
    d = only(result)
    assert pin(d) == ("error", "SNV417", "T7", "dup.yaml", 4, 15)
    assert d.message.startswith(
        "ServiceTemplate 'c2-strict' duplicates 'cpu-strict', which is not visible at 'client2'"
    )
    assert "(partner objects are not visible under a resale client" in d.message


def test_T7_duplicate_of_cycle_is_named_whole(compile_files):
    result, _ = compile_files(
        {
            "dup.yaml": """\
                kind: ServiceTemplate
                id: tpl-a
                at: partner
                duplicate_of: tpl-b
                ---
                kind: ServiceTemplate
                id: tpl-b
                at: partner
                duplicate_of: tpl-a
                """
        }
    )
    d = only(result)
    assert pin(d) == ("error", "SNV304", "T7", "dup.yaml", 4, 15)
    assert d.message == "ServiceTemplate duplicate_of cycle: tpl-a -> tpl-b -> tpl-a"


def test_T7_equipment_template_duplicate_gives_its_sources_services(compile_files):
    result, res = compile_files(
        {
            **TEMPLATES,
            "eq.yaml": equipment("e", "client1-site2", "box-c1s2", extra="template: c1-linux\n"),
        }
    )
    clean(result)
    assert list(res.equipment["e"]["services"]) == ["ping", "cpu"]


def test_T7_explain_duplicate_steps(tpl):
    out = explain(tpl, "service-template/c1-cpu", at="client1-site1")
    steps = out["fields"][0]["steps"]
    assert steps[0]["step"] == "duplicate"
    assert steps[0]["why"] == (
        "'c1-cpu' duplicates 'cpu': starts from it as seen at 'client1' by a partner user (T7)"
    )
    applied = [(s["node"], s.get("result")) for s in steps if s.get("step") == "override"]
    assert ("partner", "applied") in applied and ("client1", "applied") in applied
    assert ("client1-site1", "applied") not in applied


# -- T8 ----------------------------------------------------------------------------------


def test_T8_editor_is_the_display_name_of_the_defining_node(tpl):
    t = types(tpl, "francois", "client1-site1")
    assert t["c1-web"][2] == "Client 1 infogérance"
    assert t["cpu-strict"][2] == "Partner"
    assert t["ping"][2] == "Viadéis Services"
    et = types(tpl, "stephanie", "client1-site2", "equipment-template", "services")
    assert et["c1-linux"][2] == "Client 1 infogérance"
    assert et["linux-server"][2] == "Partner"  # product: P8's section title for a client user


# -- T9 ----------------------------------------------------------------------------------


def test_T9_unit_services_named_after_their_template(compile_files):
    result, res = compile_files(
        {
            **TEMPLATES,
            "eq.yaml": equipment(
                "e",
                "client1-site1",
                "box-snm",
                extra="template: acme-linux\nservices:\n  - template: http\n  - name: cpu-2\n    template: cpu\n",
            ),
        }
    )
    clean(result)
    services = res.equipment["e"]["services"]
    assert sorted(services) == ["cpu", "cpu-2", "http", "ping"]
    assert {k: v["template"] for k, v in services.items()} == {
        "ping": "ping",
        "cpu": "cpu",
        "http": "http",
        "cpu-2": "cpu",
    }
    # resolved at the equipment's node for the configuring user (T3)
    assert services["cpu"]["check_interval"] == 30
    assert res.tree.unit_services["e"] == ["ping", "cpu", "http", "cpu-2"]


def test_T9_two_unit_services_with_the_same_name_is_an_error(compile_files):
    result, _ = compile_files(
        {
            **TEMPLATES,
            "eq.yaml": equipment(
                "e",
                "client1-site1",
                "box-snm",
                extra="template: acme-linux\nservices:\n  - template: cpu\n    check_interval: 10\n",
            ),
        }
    )
    d = only(result)
    assert pin(d) == ("error", "SNV415", "T9", "eq.yaml", 8, 5)
    assert d.message == "two unit services named 'cpu' on equipment 'e': give one a distinct 'name'"
    assert [(r.file, r.line, r.message) for r in d.related] == [
        ("eq.yaml", 6, "first unit service of that name")
    ]


def test_T9_explicit_names_must_differ_too(compile_files):
    result, _ = compile_files(
        {
            "eq.yaml": equipment(
                "e",
                "client1",
                "box-c1",
                extra="services:\n  - name: web\n    template: http\n  - name: web\n    template: https-cert\n",
            )
        }
    )
    d = only(result)
    assert (d.code, d.rule, d.line) == ("SNV415", "T9", 9)


def test_T9_equipment_template_services_must_be_selectable_at_its_node(compile_files):
    result, _ = compile_files(
        {
            **TEMPLATES,
            "et.yaml": """\
                kind: ServiceTemplate
                id: s1-only
                at: client1-site1
                duplicate_of: ping
                ---
                kind: EquipmentTemplate
                id: c1-box
                at: client1
                services: [ping, s1-only]
                """,
        }
    )
    d = only(result)
    assert pin(d) == ("error", "SNV416", "T9", "et.yaml", 9, 18)
    assert d.message.startswith(
        "service template 's1-only' is not selectable at 'client1', where equipment template 'c1-box' is defined; "
        "selectable: "
    )


def test_T9_equipment_template_services_are_checked_for_the_configuring_user(compile_files):
    """c1-mixed (at client1) may list the partner's cpu-strict (a partner user's view of
    client1); Stéphanie, who cannot see cpu-strict, cannot create equipment from it (V6)."""
    files = {
        **TEMPLATES,
        "et.yaml": "kind: EquipmentTemplate\nid: c1-mixed\nat: client1\nservices: [ping, cpu-strict]\n",
    }
    ok, res = compile_files(
        {
            **files,
            "eq.yaml": equipment("e", "client1-site2", "box-c1s2", extra="template: c1-mixed\n"),
        }
    )
    clean(ok)
    assert list(res.equipment["e"]["services"]) == ["ping", "cpu-strict"]
    ko, _ = compile_files(
        {
            **files,
            "eq.yaml": equipment(
                "e", "client1-site2", "box-c1s2", "stephanie", "template: c1-mixed\n"
            ),
        }
    )
    d = only(ko)
    assert pin(d) == ("error", "SNV403", "V6", "eq.yaml", 6, 11)
    assert d.message.startswith(
        "ServiceTemplate 'cpu-strict' (defined at 'partner') is not selectable at 'client1-site2' for user 'stephanie'"
    )
