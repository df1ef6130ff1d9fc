"""Time periods: product periods, defaults and the default walk (P1-P10)."""

from __future__ import annotations

import pytest

from snavc.engine import emit
from snavc.engine.emit import effective
from snavc.explain import explain
from snavc.query import selectable

from .helpers import (
    SMALL_CATALOG,
    by_id,
    clean,
    errors,
    of,
    only,
    period,
    pin,
    service_origin,
    warnings,
)

# P3's seed examples: a check default at the partner and at Client 1 Site 1, a
# notification default at Client 1, nothing for availability (the product's applies).
PERIODS = {
    "periods.yaml": """\
        kind: TimePeriod
        id: partner-hours
        at: partner
        ranges: {monday: ["07:00-20:00"]}
        default_for: [check]
        ---
        kind: TimePeriod
        id: c1-notify
        at: client1
        ranges: {monday: ["07:00-22:00"]}
        default_for: [notification]
        ---
        kind: TimePeriod
        id: s1-check
        at: client1-site1
        ranges: {monday: ["06:00-22:00"]}
        default_for: [check]
        ---
        kind: TimePeriod
        id: s2-hours
        at: client1-site2
        ranges: {monday: ["09:00-17:00"]}
        """
}


def equipment(eq_id: str, at: str, box: str, by: str = "francois", extra: str = "") -> str:
    return f"kind: Equipment\nid: {eq_id}\nat: {at}\nbox: {box}\nconfigured_by: {by}\n{extra}"


WALK = {
    **PERIODS,
    "eq.yaml": "---\n".join(
        [
            equipment("e-s1", "client1-site1", "box-c1s1"),
            equipment("e-s2", "client1-site2", "box-c1s2"),
            equipment("e-s2-steph", "client1-site2", "box-c1s2", "stephanie"),
            equipment("e-c1", "client1", "box-c1"),
            equipment("e-c2", "client2-site1", "box-c2s1"),
            equipment("e-partner", "partner", "box-lab"),
        ]
    ),
    "us.yaml": """\
        kind: UserService
        id: shop-francois
        at: client1
        ---
        kind: UserService
        id: shop-stephanie
        at: client1
        configured_by: stephanie
        """,
}


@pytest.fixture
def walk(compile_files):
    result, res = compile_files(WALK)
    clean(result)
    return res


def periods_of(entry: dict) -> dict:
    return {aspect: period(v) for aspect, v in entry["periods"].items()}


# -- P1 ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "user, node",
    [
        ("francois", "partner"),
        ("francois", "client1-site1"),
        ("francois", "client2-site1"),
        ("stephanie", "client1-site2"),
        ("sam", "client1-site1"),
        ("rita", "client2"),
    ],
)
def test_P1_product_periods_selectable_everywhere_by_everyone(walk, user, node):
    items = by_id(selectable(walk, user, node, "time-period"))
    for pid in ("24x7", "business-hours", "non-business-hours"):
        assert items[pid]["defined_at"] == "product"


def test_P1_product_period_set_explicitly_by_a_site_user(compile_files):
    result, res = compile_files(
        {
            "eq.yaml": equipment(
                "e", "client1-site1", "box-c1s1", "sam", "periods: {check: non-business-hours}\n"
            )
        }
    )
    clean(result)
    assert period(res.equipment["e"]["periods"]["check"]) == ("non-business-hours", "explicit")


# -- P2 ----------------------------------------------------------------------------------


def test_P2_two_defaults_for_one_aspect_at_one_node_is_an_error(compile_files):
    result, _ = compile_files(
        {
            "periods.yaml": """\
                kind: TimePeriod
                id: office-hours
                at: partner
                default_for: [check]
                ---
                kind: TimePeriod
                id: extended-hours
                at: partner
                default_for: [notification, check]
                """
        }
    )
    d = only(result)
    assert pin(d) == ("error", "SNV407", "P2", "periods.yaml", 9, 29)
    assert d.message == (
        "'extended-hours' and 'office-hours' are both the default check period of 'partner': "
        "a node has at most one default per aspect"
    )
    assert [(r.file, r.line, r.message) for r in d.related] == [
        ("periods.yaml", 4, "'office-hours' is the default here")
    ]


def test_P2_one_default_per_aspect_per_node_is_fine(compile_files):
    result, res = compile_files(
        {
            "periods.yaml": """\
                kind: TimePeriod
                id: a
                at: partner
                default_for: [check, notification]
                ---
                kind: TimePeriod
                id: b
                at: partner
                default_for: [availability]
                ---
                kind: TimePeriod
                id: c
                at: client1
                default_for: [check]
                """
        }
    )
    clean(result)
    assert res.nodes["client1"] == {
        "check": {"id": "c", "from": "client1"},
        "notification": {"id": "a", "from": "partner"},
        "availability": {"id": "b", "from": "partner"},
    }


# -- P3 ----------------------------------------------------------------------------------


def test_P3_example1_site_default_wins(walk):
    assert periods_of(walk.equipment["e-s1"]) == {
        "check": ("s1-check", "client1-site1"),
        "notification": ("c1-notify", "client1"),
        "availability": ("24x7", "product"),
    }


def test_P3_example1_partner_default_taken_without_one_at_site_or_client(walk):
    assert periods_of(walk.equipment["e-s2"])["check"] == ("partner-hours", "partner")
    assert periods_of(walk.equipment["e-c1"])["check"] == ("partner-hours", "partner")
    assert periods_of(walk.user_services["shop-francois"])["check"] == ("partner-hours", "partner")


def test_P3_example2_client_user_ignores_the_partner_default(walk):
    assert periods_of(walk.equipment["e-s2-steph"]) == {
        "check": ("business-hours", "product"),
        "notification": ("c1-notify", "client1"),
        "availability": ("24x7", "product"),
    }
    assert periods_of(walk.user_services["shop-stephanie"])["check"] == (
        "business-hours",
        "product",
    )


def test_P3_resale_client_ignores_the_partner_default(walk):
    assert periods_of(walk.equipment["e-c2"])["check"] == ("business-hours", "product")


def test_P3_partner_equipment_takes_the_partner_default(walk):
    assert periods_of(walk.equipment["e-partner"])["check"] == ("partner-hours", "partner")


def test_P3_effective_entry_points_at_the_default(walk):
    assert walk.equipment["e-s1"]["periods"]["check"] == {"id": "s1-check", "from": "client1-site1"}
    # where that default is defined: origins.json's `defaults`, by node and aspect
    assert emit.origins(walk)["defaults"]["client1-site1/check"] == {
        "id": "s1-check",
        "origin": ["client1-site1", "periods.yaml", 17],
    }


def test_P3_explain_walk_client_user(walk):
    out = explain(walk, "e-s2-steph.periods.check")
    (field,) = out["fields"]
    assert field["value"] == "business-hours"
    assert field["origin"] == {"node": "product", "file": "<catalog>/periods.yaml", "line": 24}
    assert [(s["node"], s["result"]) for s in field["steps"]] == [
        ("client1-site2", "none"),
        ("client1", "none"),
        ("partner", "skipped"),
        ("product", "found"),
    ]
    assert field["steps"][2]["why"] == "above the top of the user's scope, 'client1' (V2, P3)"
    assert out["scope"] == ["client1", "client1-site2"]


def test_P3_explain_walk_resale(walk):
    (field,) = explain(walk, "e-c2.periods.check")["fields"]
    assert [(s["node"], s["result"]) for s in field["steps"]] == [
        ("client2-site1", "none"),
        ("client2", "none"),
        ("partner", "skipped"),
        ("product", "found"),
    ]
    assert (
        field["steps"][2]["why"]
        == "the client is in resale mode, the partner does not monitor it (V2, P3)"
    )


def test_P3_explain_walk_stops_at_first_default(walk):
    (field,) = explain(walk, "e-s1.periods.notification")["fields"]
    assert [(s["node"], s["result"]) for s in field["steps"]] == [
        ("client1-site1", "none"),
        ("client1", "found"),
    ]
    assert field["origin"] == {"node": "client1", "file": "periods.yaml", "line": 11}


# -- P4, P5 -------------------------------------------------------------------------------


def test_P4_product_default_when_the_walk_finds_none(walk):
    assert periods_of(walk.equipment["e-s1"])["availability"] == ("24x7", "product")


def test_P4_product_default_of_a_project_catalogue(compile_files):
    result, res = compile_files(
        {
            **SMALL_CATALOG,
            "periods.yaml": """\
                kind: TimePeriod
                id: p-notify
                at: partner
                default_for: [notification, availability]
                """,
            "eq.yaml": equipment("e", "client1-site1", "box-c1s1"),
        }
    )
    assert errors(result) == []  # warnings (P9) only under the resale client
    assert periods_of(res.equipment["e"]) == {
        "check": ("always", "product"),
        "notification": ("p-notify", "partner"),
        "availability": ("p-notify", "partner"),
    }


def test_P5_no_default_anywhere_equipment_is_not_created(compile_files):
    result, res = compile_files(
        {
            **SMALL_CATALOG,
            "periods.yaml": "kind: TimePeriod\nid: p-notify\nat: partner\ndefault_for: [notification]\n",
            "eq.yaml": equipment("e", "client1-site1", "box-c1s1"),
        }
    )
    (d,) = errors(result)
    assert pin(d) == ("error", "SNV408", "P5", "eq.yaml", 2, 5)
    assert d.message == (
        "no availability period for Equipment 'e': none set, no default from 'client1-site1' up to 'partner', "
        "none in the product; set periods.availability or define a default"
    )
    assert not result.ok  # the build refuses: nothing is written


def test_P5_user_service_without_period_is_an_error(compile_files):
    result, res = compile_files(
        {
            **SMALL_CATALOG,
            "periods.yaml": "kind: TimePeriod\nid: p-notify\nat: partner\ndefault_for: [notification]\n",
            "us.yaml": "kind: UserService\nid: shop\nat: client1\nconfigured_by: stephanie\n",
        }
    )
    assert [(d.code, d.rule, d.file, d.line) for d in errors(result)] == [
        ("SNV408", "P5", "us.yaml", 2),
        ("SNV408", "P5", "us.yaml", 2),
    ]
    # stephanie does not see the partner's notification default: both aspects missing
    assert sorted(d.message.split()[1] for d in errors(result)) == ["availability", "notification"]
    assert not result.ok


def test_P5_explicit_periods_avoid_the_error(compile_files):
    result, res = compile_files(
        {
            **SMALL_CATALOG,
            "eq.yaml": equipment(
                "e",
                "client1",
                "box-c1",
                extra="periods: {notification: always, availability: always}\n",
            ),
        }
    )
    assert errors(result) == []
    assert periods_of(res.equipment["e"])["availability"] == ("always", "explicit")


def test_P5_unit_service_without_notification_period_is_an_error(compile_files):
    result, res = compile_files(
        {
            **SMALL_CATALOG,
            "eq.yaml": equipment(
                "e",
                "client1",
                "box-c1",
                extra="periods: {notification: always, availability: always}\nservices:\n  - template: cpu\n",
            ),
        }
    )
    (d,) = errors(result)
    assert pin(d) == ("error", "SNV408", "P5", "eq.yaml", 8, 5)
    assert d.message == (
        "no notification period for unit service 'e/cpu': none set, no default from 'client1' up to 'partner', "
        "none in the product (P6); set its notification_period or define a default"
    )


# -- P6 ----------------------------------------------------------------------------------

P6 = {
    **PERIODS,
    "templates.yaml": """\
        kind: ServiceTemplate
        id: web
        at: partner
        criticality: 3
        availability_target: 99.0
        availability_period: partner-hours
        check_period: business-hours
        check_interval: 60
        """,
    "eq.yaml": equipment(
        "e",
        "client1-site1",
        "box-c1s1",
        extra="""\
periods: {notification: s1-check, check: 24x7}
services:
  - template: web
  - name: web-explicit
    template: web
    check_period: 24x7
    notification_period: non-business-hours
""",
    ),
}


def test_P6_unit_service_periods_from_template_and_notification_from_the_walk(compile_files):
    result, res = compile_files(P6)
    clean(result)
    web = res.equipment["e"]["services"]["web"]
    assert (web["check_period"], web["availability_period"]) == ("business-hours", "partner-hours")
    # not the equipment's own notification period (s1-check): the walk at its node
    assert web["notification_period"] == "c1-notify"
    assert service_origin(res, web, "notification_period") == ["client1", "periods.yaml", 11]
    assert service_origin(res, web, "check_period")[0] == "partner"


def test_P6_unit_service_may_set_its_periods_explicitly(compile_files):
    _, res = compile_files(P6)
    explicit = res.equipment["e"]["services"]["web-explicit"]
    assert (
        explicit["check_period"],
        explicit["notification_period"],
        explicit["availability_period"],
    ) == (
        "24x7",
        "non-business-hours",
        "partner-hours",
    )
    assert service_origin(res, explicit, "notification_period") == ["client1-site1", "eq.yaml", 12]


def test_P6_notification_walk_uses_the_configuring_users_scope(compile_files):
    result, res = compile_files(
        {
            "periods.yaml": "kind: TimePeriod\nid: p-notify\nat: partner\ndefault_for: [notification]\n",
            "eq.yaml": equipment(
                "e", "client1-site2", "box-c1s2", "stephanie", "services:\n  - template: ping\n"
            )
            + "---\n"
            + equipment(
                "f", "client1-site2", "box-c1s2", "francois", "services:\n  - template: ping\n"
            ),
        }
    )
    clean(result)
    assert res.equipment["e"]["services"]["ping"]["notification_period"] == "24x7"
    assert res.equipment["f"]["services"]["ping"]["notification_period"] == "p-notify"


def test_P6_explain_unit_service_notification_period(compile_files):
    _, res = compile_files(P6)
    (field,) = explain(res, "e/web.notification_period")["fields"]
    assert field["value"] == "c1-notify"
    assert field["steps"][0]["why"].startswith("P6: ")
    assert [(s.get("node"), s["result"]) for s in field["steps"][1:]] == [
        ("client1-site1", "none"),
        ("client1", "found"),
    ]


# -- P7 ----------------------------------------------------------------------------------


def test_P7_explicit_period_must_be_selectable(compile_files):
    result, _ = compile_files(
        {
            **PERIODS,
            "eq.yaml": equipment(
                "e", "client1-site1", "box-c1s1", extra="periods: {check: s2-hours}\n"
            ),
        }
    )
    d = only(result)
    assert pin(d) == ("error", "SNV403", "P7", "eq.yaml", 6, 18)
    assert d.message == (
        "time period 's2-hours' (defined at 'client1-site2') is not selectable at 'client1-site1' for user "
        "'francois'; selectable: 24x7, business-hours, c1-notify, non-business-hours, partner-hours, s1-check"
    )


def test_P7_partner_period_not_selectable_by_a_client_user(compile_files):
    result, _ = compile_files(
        {
            **PERIODS,
            "eq.yaml": equipment(
                "e",
                "client1-site2",
                "box-c1s2",
                "stephanie",
                "services:\n  - template: ping\n    check_period: partner-hours\n",
            ),
        }
    )
    d = only(result)
    assert pin(d) == ("error", "SNV403", "P7", "eq.yaml", 8, 19)
    assert "for user 'stephanie'" in d.message


def test_P7_template_period_must_be_selectable_at_the_templates_node(compile_files):
    result, _ = compile_files(
        {
            **PERIODS,
            "templates.yaml": """\
                kind: ServiceTemplate
                id: web
                at: client1
                duplicate_of: http
                check_period: s1-check
                """,
        }
    )
    d = only(result)
    assert pin(d) == ("error", "SNV419", "P7", "templates.yaml", 5, 15)
    assert d.message.startswith(
        "time period 's1-check' is not selectable at 'client1'; selectable: "
    )


# -- P8 ----------------------------------------------------------------------------------


def test_P8_product_section_is_the_vendor_for_a_partner_user(walk):
    items = by_id(selectable(walk, "francois", "client1-site1", "time-period"))
    assert (items["24x7"]["section"], items["24x7"]["editor"]) == (
        "Viadéis Services",
        "Viadéis Services",
    )


def test_P8_vendor_name_comes_from_the_project(compile_files):
    result, res = compile_files(
        {
            **PERIODS,
            "snav.yaml": "kind: Project\nname: t\ndefault_user: francois\nvendor_name: Acme Monitoring\n",
        }
    )
    clean(result)
    assert (
        by_id(selectable(res, "francois", "client1", "time-period"))["24x7"]["section"]
        == "Acme Monitoring"
    )
    assert (
        by_id(selectable(res, "stephanie", "client1", "time-period"))["24x7"]["section"]
        == "Partner"
    )


@pytest.mark.parametrize(
    "user, node", [("stephanie", "client1-site2"), ("sam", "client1-site1"), ("rita", "client2")]
)
def test_P8_product_section_is_the_partner_for_client_users(walk, user, node):
    """White label: a client user sees the product's periods under the partner's name."""
    items = by_id(selectable(walk, user, node, "time-period"))
    assert {items[p]["section"] for p in ("24x7", "business-hours")} == {"Partner"}


def test_P8_node_period_section_is_the_nodes_display_name(walk):
    items = by_id(selectable(walk, "francois", "client1-site1", "time-period"))
    assert {k: items[k]["section"] for k in ("partner-hours", "c1-notify", "s1-check")} == {
        "partner-hours": "Partner",
        "c1-notify": "Client 1 infogérance",
        "s1-check": "Client 1 Site 1",
    }
    steph = by_id(selectable(walk, "stephanie", "client1-site2", "time-period"))
    assert steph["c1-notify"]["section"] == "Client 1 infogérance"
    assert steph["c1-notify"]["default_for"] == ["notification"]


# -- P9 ----------------------------------------------------------------------------------


def test_P9_node_without_default_warns_and_its_equipment_errors(compile_files):
    result, res = compile_files(
        {
            **SMALL_CATALOG,
            "periods.yaml": """\
                kind: TimePeriod
                id: c1-all
                at: client1
                default_for: [notification, availability]
                """,
            "eq.yaml": equipment("ok", "client1-site1", "box-c1s1")
            + "---\n"
            + equipment("ko", "client2", "box-c2"),
        }
    )
    assert [(d.code, d.rule, d.file, d.line, d.column) for d in warnings(result)] == [
        ("SNV409", "P9", "clients.yaml", 18, 5),
        ("SNV409", "P9", "clients.yaml", 24, 5),
        ("SNV409", "P9", "partner.yaml", 2, 5),
    ]
    assert warnings(result)[0].message == (
        "no default notification, availability period at 'client2', above it, nor in the product: "
        "equipment cannot be created here until one is defined"
    )
    assert [(d.code, d.rule, d.line) for d in errors(result)] == [
        ("SNV408", "P5", 8),
        ("SNV408", "P5", 8),
    ]
    assert all("'ko'" in d.message for d in errors(result))
    assert period(res.equipment["ok"]["periods"]["availability"]) == ("c1-all", "client1")


def test_P9_no_warning_when_every_aspect_resolves(compile_files):
    result, _ = compile_files(WALK)
    assert of(result, "SNV409") == []


# -- P10 ---------------------------------------------------------------------------------


def test_P10_node_summary_is_a_partner_users_default_with_its_origin(walk):
    nodes = effective(walk)["nodes"]
    assert nodes["client1-site1"]["defaults"] == {
        "check": {"id": "s1-check", "from": "client1-site1"},
        "notification": {"id": "c1-notify", "from": "client1"},
        "availability": {"id": "24x7", "from": "product"},
    }
    # a partner user's view: the partner default shows here even though Stéphanie would
    # not get it (P3 example 2)
    assert nodes["client1-site2"]["defaults"]["check"] == {"id": "partner-hours", "from": "partner"}
    assert nodes["partner"]["defaults"]["check"] == {"id": "partner-hours", "from": "partner"}
    # resale: the partner's default does not reach the client
    assert nodes["client2-site1"]["defaults"]["check"] == {
        "id": "business-hours",
        "from": "product",
    }


def test_P10_explain_node(walk):
    out = explain(walk, "client1-site2")
    assert out["kind"] == "node" and out["scope_top"] == "partner"
    check = out["fields"][0]
    assert (check["path"], check["value"]) == ("defaults.check", "partner-hours")
    assert [(s["node"], s["result"]) for s in check["steps"]] == [
        ("client1-site2", "none"),
        ("client1", "none"),
        ("partner", "found"),
    ]


def test_P3_site_user_walk_stops_at_the_site(compile_files):
    """V2 decision: a user whose home is a site sees nothing of the client level, so the
    walk stops at the site: client1's notification default is skipped."""
    result, res = compile_files(
        {
            **PERIODS,
            "eq.yaml": equipment(
                "e", "client1-site1", "box-c1s1", "sam", "services:\n  - template: ping\n"
            ),
        }
    )
    clean(result)
    assert periods_of(res.equipment["e"]) == {
        "check": ("s1-check", "client1-site1"),
        "notification": ("24x7", "product"),
        "availability": ("24x7", "product"),
    }
    assert res.equipment["e"]["services"]["ping"]["notification_period"] == "24x7"  # P6, same walk
    (field,) = explain(res, "e.periods.notification")["fields"]
    assert [(s["node"], s["result"]) for s in field["steps"]] == [
        ("client1-site1", "none"),
        ("client1", "skipped"),
        ("partner", "skipped"),
        ("product", "found"),
    ]
