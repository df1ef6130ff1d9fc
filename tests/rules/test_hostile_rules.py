"""Hostile inputs to the rules (issue 10): long ``duplicate_of`` cycles and chains (T7),
a configuring user locked out of what they create (L5), an override of an equipment
template (T2), boxes of a partner listed under a resale client (V2, B3).

The cycle and chain cases took minutes or crashed (RecursionError, exit 3) before the
cycle check became one colouring pass and the chain resolution iterative and memoised;
they assert the exact answer, never a time.
"""

from __future__ import annotations

from snavc.explain import explain

from .helpers import SMALL_CATALOG, clean, only, pin

# the product's one period, the default of every aspect
ALL_DEFAULTS = """\
    kind: TimePeriod
    id: always
    name: Always
    ranges:
      monday: ["00:00-24:00"]
    default_for: [check, notification, availability]
    """


def _spread(docs: list[str], per_file: int = 100) -> dict[str, str]:
    """Documents in files of ``per_file`` each: t/000.yaml, t/001.yaml, ..."""
    return {
        f"t/{i // per_file:03}.yaml": "---\n".join(docs[i : i + per_file])
        for i in range(0, len(docs), per_file)
    }


# -- T7: duplicate_of cycles and chains ------------------------------------------------


def test_T7_a_10000_template_cycle_is_one_SNV304_naming_it_whole(compile_files):
    """Was quadratic (a walk per template, each around the whole loop: 72 s)."""
    n = 10_000
    docs = [
        f"kind: ServiceTemplate\nid: t{i:05}\nat: partner\nduplicate_of: t{(i + 1) % n:05}\n"
        for i in range(n)
    ]
    result, _ = compile_files(_spread(docs))
    d = only(result, "SNV304")
    assert pin(d) == ("error", "SNV304", "T7", "t/000.yaml", 4, 15)
    loop = [f"t{i:05}" for i in range(n)] + ["t00000"]
    assert d.message == "ServiceTemplate duplicate_of cycle: " + " -> ".join(loop)
    assert len(d.related) == n - 1
    assert d.related[-1].message == "t09999 duplicates t00000"
    assert (d.related[-1].file, d.related[-1].line) == ("t/099.yaml", 5 * 99 + 4)


def test_T7_cycles_reached_through_tails_are_each_named_once(compile_files):
    """Two loops, tails leading into them, an equipment-template loop: one SNV304 per
    loop, at the first template of the loop met in ID order."""
    result, _ = compile_files(
        {
            "dup.yaml": """\
                kind: ServiceTemplate
                id: a
                at: partner
                duplicate_of: b
                ---
                kind: ServiceTemplate
                id: b
                at: partner
                duplicate_of: c
                ---
                kind: ServiceTemplate
                id: c
                at: partner
                duplicate_of: b
                ---
                kind: ServiceTemplate
                id: x
                at: partner
                duplicate_of: c
                ---
                kind: ServiceTemplate
                id: y
                at: partner
                duplicate_of: z
                ---
                kind: ServiceTemplate
                id: z
                at: partner
                duplicate_of: y
                ---
                kind: EquipmentTemplate
                id: e1
                at: partner
                duplicate_of: e2
                ---
                kind: EquipmentTemplate
                id: e2
                at: partner
                duplicate_of: e1
                """
        }
    )
    found = [(pin(d), d.message) for d in result.diagnostics if d.code == "SNV304"]
    assert found == [
        (
            ("error", "SNV304", "T7", "dup.yaml", 9, 15),
            "ServiceTemplate duplicate_of cycle: b -> c -> b",
        ),
        (
            ("error", "SNV304", "T7", "dup.yaml", 24, 15),
            "ServiceTemplate duplicate_of cycle: y -> z -> y",
        ),
        (
            ("error", "SNV304", "T7", "dup.yaml", 34, 15),
            "EquipmentTemplate duplicate_of cycle: e1 -> e2 -> e1",
        ),
    ]


def _chain(n: int) -> dict[str, str]:
    """t0000 duplicates the product's cpu; each next one duplicates the previous; an
    override of a template half-way; an equipment template chain of the same length."""
    docs = ["kind: ServiceTemplate\nid: t0000\nat: partner\nduplicate_of: cpu\ncriticality: 1\n"]
    docs += [
        f"kind: ServiceTemplate\nid: t{i:04}\nat: partner\nduplicate_of: t{i - 1:04}\n"
        for i in range(1, n)
    ]
    docs.append("kind: ServiceTemplateOverride\ntemplate: t1000\nat: partner\ncheck_interval: 42\n")
    docs.append("kind: EquipmentTemplate\nid: e0000\nat: partner\nservices: [ping]\n")
    docs += [
        f"kind: EquipmentTemplate\nid: e{i:04}\nat: partner\nduplicate_of: e{i - 1:04}\n"
        for i in range(1, n)
    ]
    return {
        **SMALL_CATALOG,
        **_spread(docs),
        "catalog/periods.yaml": ALL_DEFAULTS,
        "equipment.yaml": f"""\
            kind: Equipment
            id: eq
            at: client1-site1
            box: box-c1s1
            template: e{n - 1:04}
            services:
              - template: t{n - 1:04}
            """,
    }


def test_T7_a_2000_template_chain_resolves_without_recursion(compile_files):
    """Was RecursionError (exit 3) from ~1,000 templates on."""
    result, res = compile_files(_chain(2000))
    clean(result)
    services = res.equipment["eq"]["services"]
    assert sorted(services) == ["ping", "t1999"]
    last = services["t1999"]
    # criticality from the head of the chain, the override half-way reaches the end, the
    # rest from the product's cpu
    assert (last["criticality"], last["check_interval"], last["availability_target"]) == (
        1,
        42,
        99.5,
    )


def test_T7_explain_follows_a_2000_template_chain(compile_files):
    _, res = compile_files(_chain(2000))
    answer = explain(res, "eq/t1999.check_interval")
    fields = answer["fields"]
    assert [f["path"] for f in fields] == ["check_interval"]
    steps = fields[0]["steps"]
    assert sum(s["step"] == "duplicate" for s in steps) == 2000
    applied = [s for s in steps if s.get("result") == "applied"]
    assert [(s["node"], s["sets"]) for s in applied] == [("partner", ["check_interval"])]


# -- L5: the configuring user should be able to edit what they create ------------------

# The partner overrides the product's cpu with a partner period; Client 1 duplicates cpu
# (T7: as a partner user sees it at client1, so with the partner's override); an
# equipment template of Client 1 gives that duplicate.
L5_TEMPLATES = {
    **SMALL_CATALOG,
    "catalog/periods.yaml": ALL_DEFAULTS,
    "partner-t.yaml": """\
        kind: TimePeriod
        id: partner-hours
        at: partner
        ranges:
          monday: ["08:00-18:00"]
        ---
        kind: ServiceTemplateOverride
        template: cpu
        at: partner
        check_period: partner-hours
        """,
    "client1-t.yaml": """\
        kind: ServiceTemplate
        id: c1-cpu
        at: client1
        duplicate_of: cpu
        ---
        kind: EquipmentTemplate
        id: c1-linux
        at: client1
        services: [ping, c1-cpu]
        """,
}


def _equipment(user: str) -> str:
    return f"""\
        kind: Equipment
        id: e1
        at: client1-site2
        box: box-c1s2
        configured_by: {user}
        services:
          - template: c1-cpu
          - template: cpu
        ---
        kind: Equipment
        id: e2
        at: client1-site2
        box: box-c1s2
        configured_by: {user}
        template: c1-linux
        """


L5_MESSAGE = (
    "user 'stephanie' configures unit service '{eq}/c1-cpu' but could not edit it afterwards: "
    "it takes values from the override of 'cpu' at 'partner', above the home of user "
    "'stephanie' ('client1'); it refers to TimePeriod 'partner-hours' defined at 'partner', "
    "above the home of user 'stephanie' ('client1'). Have a user who can select these "
    "configure it, or use a template that brings nothing from above 'client1'"
)


def test_L5_a_client_user_is_warned_of_values_they_could_not_edit(compile_files, cli):
    """Issue 10: Stéphanie's equipment takes a partner period through Client 1's
    duplicate of cpu; validate said nothing and can-edit then refused her."""
    result, res = compile_files({**L5_TEMPLATES, "eq.yaml": _equipment("stephanie")})
    found = [d for d in result.diagnostics if d.code == "SNV425"]
    assert [pin(d) for d in found] == [
        ("warning", "SNV425", "L5", "eq.yaml", 7, 15),  # e1: services[0].template
        ("warning", "SNV425", "L5", "eq.yaml", 15, 11),  # e2: template (c1-linux)
    ]
    assert [d.message for d in found] == [L5_MESSAGE.format(eq="e1"), L5_MESSAGE.format(eq="e2")]
    assert [(r.file, r.line, r.message) for r in found[0].related] == [
        ("partner-t.yaml", 7, "the override of 'cpu' at 'partner' is defined here"),
        ("partner-t.yaml", 1, "TimePeriod 'partner-hours' is defined here"),
    ]
    assert result.ok and res.equipment["e1"]["services"]["c1-cpu"]["check_period"] == (
        "partner-hours"
    )
    # the same reasons as can-edit gives her
    from snavc.query import can_edit

    answer = can_edit(res, "stephanie", "e1")
    assert not answer["editable"]
    assert [r["message"] for r in answer["reasons"]] == [
        "'e1' takes values from the override of 'cpu' at 'partner', above the home of user "
        "'stephanie' ('client1')",
        "'e1' refers to TimePeriod 'partner-hours' defined at 'partner', above the home of user "
        "'stephanie' ('client1')",
    ]


def test_L5_no_warning_for_a_user_who_can_edit_it(compile_files):
    """François (partner) sees the override and the period: nothing to warn."""
    result, _ = compile_files({**L5_TEMPLATES, "eq.yaml": _equipment("francois")})
    clean(result)


def test_L5_no_warning_on_top_of_an_error(compile_files):
    """An equipment with errors of its own (here a box she may not use, B2) gets those,
    not a warning about values it will never be built with."""
    result, _ = compile_files(
        {**L5_TEMPLATES, "eq.yaml": _equipment("stephanie").replace("box-c1s2", "box-snm")}
    )
    assert {d.code for d in result.diagnostics} == {"SNV411"}
