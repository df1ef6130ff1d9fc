"""The seed's own example (samples/seed), through the library and the command line.

Each test names the rule the seed illustrates; the seed's comments say the same.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from snavc.engine.pipeline import compile_repo
from snavc.explain import explain
from snavc.query import can_edit, list_view, selectable

from .helpers import by_id, ids, origin_nodes, period, service_values

SEED = Path(__file__).resolve().parents[2] / "samples" / "seed"


@pytest.fixture(scope="module")
def seed():
    result, res = compile_repo(SEED)
    assert result.diagnostics == [], [d.to_json() for d in result.diagnostics]
    return res


def periods_of(entry):
    return {a: period(v) for a, v in entry["periods"].items()}


def sel(seed, user, node, kind, action="equipment"):
    return selectable(seed, user, node, kind, action)


# -- P3 -----------------------------------------------------------------------------------


def test_P3_seed_example1_site_default_wins(seed):
    assert periods_of(seed.equipment["srv-web-01"]) == {
        "check": ("site1-production-hours", "client1-site1"),
        "notification": ("client1-notify-hours", "client1"),
        "availability": ("24x7", "product"),
    }


def test_P3_seed_example1_partner_default_without_one_at_site_or_client(seed):
    """webshop (client1, François): no check default at client1, the partner's is taken."""
    assert periods_of(seed.user_services["webshop"])["check"] == (
        "partner-extended-hours",
        "partner",
    )


def test_P3_seed_example2_client_user_ignores_the_partner_default(seed):
    assert periods_of(seed.equipment["srv-file-02"]) == {
        "check": ("business-hours", "product"),
        "notification": ("client1-notify-hours", "client1"),
        "availability": ("24x7", "product"),
    }
    # the same node seen by a partner user (P10) would take the partner's
    assert seed.nodes["client1-site2"]["check"] == {
        "id": "partner-extended-hours",
        "from": "partner",
    }


def test_P3_seed_resale_client_ignores_the_partner_default(tmp_path):
    """Without client2's own default, sw-core-01 falls to the product, never the partner."""
    copy = tmp_path / "seed"
    shutil.copytree(SEED, copy)
    periods = copy / "clients" / "client2" / "periods.yaml"
    periods.write_text(
        periods.read_text(encoding="utf-8").replace(
            "default_for: [check, notification]", "default_for: []"
        ),
        encoding="utf-8",
    )
    result, res = compile_repo(copy)
    assert result.ok
    assert periods_of(res.equipment["sw-core-01"])["check"] == ("business-hours", "product")
    (field,) = explain(res, "sw-core-01.periods.check")["fields"]
    assert [(s["node"], s["result"]) for s in field["steps"]] == [
        ("client2-site1", "none"),
        ("client2", "none"),
        ("partner", "skipped"),
        ("product", "found"),
    ]


def test_P3_seed_resale_client_own_default(seed):
    assert periods_of(seed.equipment["sw-core-01"])["check"] == ("client2-office-hours", "client2")


# -- B4 ------------------------------------------------------------------------------------


def test_B4_seed_francois_at_client1_site1(seed, cli):
    assert ids(sel(seed, "francois", "client1-site1", "box")) == [
        "box-client1",
        "box-client1-site1",
        "box-partner-snm",
    ]
    out = json.loads(
        cli(
            "query",
            "selectable",
            SEED,
            "--as",
            "francois",
            "--at",
            "client1-site1",
            "--kind",
            "box",
            "--format",
            "json",
        ).output
    )
    assert [(i["id"], i["defined_at"], i["shared"]) for i in out] == [
        ("box-client1", "client1", False),
        ("box-client1-site1", "client1-site1", False),
        ("box-partner-snm", "partner", True),
    ]


def test_B4_seed_stephanie_at_client1_site2(seed, cli):
    assert ids(sel(seed, "stephanie", "client1-site2", "box")) == [
        "box-client1",
        "box-client1-site2",
    ]
    text = cli(
        "query", "selectable", SEED, "--as", "stephanie", "--at", "client1-site2", "--kind", "box"
    ).output
    assert [line.split()[0] for line in text.splitlines()[1:]] == [
        "box-client1",
        "box-client1-site2",
    ]


# -- L3, L4 -------------------------------------------------------------------------------


def test_L3_seed_stephanie_cannot_modify_srv_web_01(seed, cli):
    answer = can_edit(seed, "stephanie", "srv-web-01")
    assert answer["editable"] is False
    box = [r for r in answer["reasons"] if r["ref"] == "box/box-partner-snm"]
    assert len(box) == 1 and box[0]["defined_at"] == "partner"
    assert "box 'box-partner-snm' defined at 'partner'" in box[0]["message"]
    assert {(r["ref"], r["defined_at"]) for r in answer["reasons"]} == {
        ("box/box-partner-snm", "partner"),
        ("equipment-template/acme-linux", "partner"),
        ("monitoring-account/ssh-partner", "partner"),
        ("contact/noc", "partner"),
        # srv-web-01/cpu takes availability_target from the partner's override of cpu
        ("service-template-override/cpu@partner", "partner"),
    }
    out = json.loads(
        cli(
            "query",
            "can-edit",
            SEED,
            "--as",
            "stephanie",
            "srv-web-01",
            "--format",
            "json",
            exit_code=1,
        ).output
    )
    assert out == answer
    text = cli(
        "query", "can-edit", SEED, "--as", "stephanie", "equipment/srv-web-01", exit_code=1
    ).output
    assert "box 'box-partner-snm' defined at 'partner'" in text


def test_L4_seed_srv_file_02_stays_editable_by_stephanie(seed, cli):
    assert can_edit(seed, "stephanie", "srv-file-02") == {"editable": True, "reasons": []}
    assert can_edit(seed, "stephanie", "srv-file-02/cpu") == {"editable": True, "reasons": []}
    cli("query", "can-edit", SEED, "--as", "stephanie", "srv-file-02", exit_code=0)


def test_L1_seed_francois_edits_everything(seed):
    for eq in seed.equipment:
        assert can_edit(seed, "francois", eq)["editable"], eq


# -- V7 ------------------------------------------------------------------------------------


@pytest.mark.parametrize("node", ["client1", "client1-site1", "client1-site2"])
def test_V7_seed_partner_templates_at_every_managed_client(seed, node):
    st = by_id(sel(seed, "francois", node, "service-template"))
    assert st["cpu-strict"]["type"] == "INHERITED"
    assert st["cpu"]["type"] in ("OVERRIDDEN", "INHERITED")  # client1's override is deeper
    assert "acme-linux" in ids(sel(seed, "francois", node, "equipment-template"))


@pytest.mark.parametrize("node", ["client2", "client2-site1"])
def test_V7_seed_partner_templates_at_no_resale_client(seed, node):
    st = by_id(sel(seed, "francois", node, "service-template"))
    assert "cpu-strict" not in st
    assert (st["cpu"]["type"], st["cpu"]["defined_at"]) == ("PRODUCT", "product")
    assert "acme-linux" not in ids(sel(seed, "francois", node, "equipment-template"))


# -- P8 ------------------------------------------------------------------------------------


def test_P8_seed_sections(seed):
    francois = by_id(sel(seed, "francois", "client1-site1", "time-period"))
    stephanie = by_id(sel(seed, "stephanie", "client1-site2", "time-period"))
    assert francois["24x7"]["section"] == "Viadéis Services"
    assert stephanie["24x7"]["section"] == "Partner"
    assert {k: v["section"] for k, v in francois.items() if v["defined_at"] != "product"} == {
        "partner-extended-hours": "Partner",
        "client1-notify-hours": "Client 1 infogérance",
        "site1-production-hours": "Client 1 Site 1",
    }
    assert stephanie["client1-notify-hours"]["section"] == "Client 1 infogérance"


# -- T1, T3, T6, T7, T9 -------------------------------------------------------------------


def test_T1_seed_types(seed):
    def t(user, node, tid, action="equipment"):
        item = by_id(sel(seed, user, node, "service-template", action))[tid]
        return item["type"], item["defined_at"], item["editor"]

    assert t("francois", "partner", "cpu") == ("OVERRIDDEN", "partner", "Partner")
    assert t("francois", "partner", "cpu-strict") == ("CREATED", "partner", "Partner")
    assert t("francois", "client1", "cpu") == ("OVERRIDDEN", "client1", "Client 1 infogérance")
    assert t("francois", "client1-site1", "cpu") == ("INHERITED", "client1", "Client 1 infogérance")
    assert t("francois", "client1-site1", "ping") == ("PRODUCT", "product", "Viadéis Services")
    assert t("stephanie", "client1-site2", "cpu", "services") == (
        "INHERITED",
        "client1",
        "Client 1 infogérance",
    )
    assert t("stephanie", "client1-site2", "ping", "services") == ("PRODUCT", "product", "Partner")


def test_T3_seed_deepest_override_per_field_for_francois(seed):
    cpu = seed.equipment["srv-web-01"]["services"]["cpu"]
    assert (cpu["criticality"], cpu["availability_target"], cpu["check_interval"]) == (4, 99.9, 60)
    assert {k: v for k, v in origin_nodes(seed, cpu).items() if k != "notification_period"} == {
        "criticality": "client1",
        "availability_target": "partner",
        "availability_period": "product",
        "check_period": "product",
        "check_interval": "client1",
    }


def test_T3_seed_stephanie_gets_client1s_override_never_the_partners(seed, cli):
    cpu = seed.equipment["srv-file-02"]["services"]["cpu"]
    assert (cpu["criticality"], cpu["availability_target"], cpu["check_interval"]) == (4, 99.5, 60)
    assert origin_nodes(seed, cpu)["availability_target"] == "product"
    out = json.loads(
        cli(
            "explain",
            SEED,
            "service-template/cpu",
            "--at",
            "client1-site2",
            "--as",
            "stephanie",
            "--format",
            "json",
        ).output
    )
    assert {f["path"]: f["value"] for f in out["fields"]} == {
        "criticality": 4,
        "availability_target": 99.5,
        "availability_period": "24x7",
        "check_period": "24x7",
        "check_interval": 60,
    }


def test_T6_seed_fields_the_override_does_not_set_follow_the_product(seed):
    """The partner's override sets availability_target and check_interval only."""
    cpu = seed.equipment["partner-vpn-01"]["services"]["cpu"]
    assert service_values(cpu) == {
        "criticality": 3,
        "availability_target": 99.9,
        "availability_period": "24x7",
        "check_period": "24x7",
        "check_interval": 120,
        "notification_period": "24x7",
    }


def test_T7_seed_duplicate_from_its_source_as_seen_at_the_partner(seed):
    """cpu-strict: cpu with the partner's override (availability_target 99.9), then its
    own criticality 5 and check_interval 60; client1's override of cpu does not apply."""
    strict = seed.equipment["srv-db-01"]["services"]["cpu"]
    assert strict["template"] == "cpu-strict"
    assert (strict["criticality"], strict["availability_target"], strict["check_interval"]) == (
        5,
        99.9,
        60,
    )
    assert origin_nodes(seed, strict)["availability_target"] == "partner"


def test_T9_seed_unit_services_named_after_their_templates(seed):
    assert list(seed.equipment["srv-web-01"]["services"]) == [
        "ping",
        "cpu",
        "disk",
        "memory",
        "http-frontend",
    ]
    web = seed.equipment["srv-web-01"]["services"]["http-frontend"]
    assert (web["template"], web["check_interval"]) == ("http", 30)
    assert list(seed.equipment["srv-db-01"]["services"]) == ["ping", "cpu", "disk", "memory"]
    assert list(seed.equipment["sw-core-01"]["services"]) == ["ping", "cpu", "snmp-interfaces"]


def test_T3_V7_seed_resale_equipment_uses_the_product_templates(seed):
    cpu = seed.equipment["sw-core-01"]["services"]["cpu"]
    assert (cpu["criticality"], cpu["availability_target"], cpu["check_interval"]) == (3, 99.5, 300)


# -- V5, C1 -------------------------------------------------------------------------------


def test_V5_seed_list_with_and_without_subordinates(seed, cli):
    plain = list_view(seed, "francois", "client1", "contact")
    wide = list_view(seed, "francois", "client1", "contact", with_subordinates=True)
    assert [i["id"] for i in wide if i not in plain] == ["site1-facilities"]
    assert by_id(wide)["site1-facilities"]["selectable"] is False
    assert "site1-facilities" not in ids(sel(seed, "francois", "client1", "contact"))
    out = json.loads(
        cli(
            "query",
            "list",
            SEED,
            "--at",
            "client1",
            "--kind",
            "contact",
            "--with-subordinates",
            "--format",
            "json",
        ).output
    )  # --as defaults to the project's default_user
    assert out == json.loads(json.dumps(wide))


def test_C1_seed_disabled_contact(seed):
    assert "client1-former-admin" not in ids(sel(seed, "francois", "client1", "contact"))
    listed = by_id(list_view(seed, "stephanie", "client1", "contact"))
    assert (
        listed["client1-former-admin"]["enabled"],
        listed["client1-former-admin"]["selectable"],
    ) == (False, False)


# -- the command line: exit codes ------------------------------------------------------------


def test_V1_seed_cli_exit_codes(cli):
    cli(
        "query",
        "selectable",
        SEED,
        "--as",
        "stephanie",
        "--at",
        "client1",
        "--kind",
        "contact",
        exit_code=0,
    )
    refused = cli(
        "query",
        "selectable",
        SEED,
        "--as",
        "stephanie",
        "--at",
        "client2",
        "--kind",
        "box",
        exit_code=1,
    )
    assert "(rule V1)" in refused.output
    refused = cli(
        "query",
        "selectable",
        SEED,
        "--as",
        "stephanie",
        "--at",
        "client1",
        "--kind",
        "box",
        "--action",
        "templates",
        "--format",
        "json",
        exit_code=1,
    )
    assert json.loads(refused.output) == {
        "refused": True,
        "message": "user 'stephanie' has role 'client-operator', which does not grant create_templates (rule V1a)",
    }
    cli(
        "query",
        "selectable",
        SEED,
        "--as",
        "nobody",
        "--at",
        "client1",
        "--kind",
        "box",
        exit_code=2,
    )
    cli(
        "query",
        "selectable",
        SEED,
        "--as",
        "stephanie",
        "--at",
        "nowhere",
        "--kind",
        "box",
        exit_code=2,
    )
    cli("query", "can-edit", SEED, "--as", "stephanie", "srv-nothing", exit_code=2)
    cli("explain", SEED, "srv-nothing", exit_code=2)


def test_P3_seed_cli_explain(cli):
    text = cli("explain", SEED, "srv-web-01").output
    assert (
        text.splitlines()[0]
        == "equipment srv-web-01 at client1-site1, configured by francois (home partner)"
    )
    assert "  scope (V2): partner -> client1 -> client1-site1   [top: partner]" in text
    assert (
        "periods.check = site1-production-hours   <- client1-site1 (clients/client1/site1/periods.yaml:12)"
        in text
    )
    out = json.loads(cli("explain", SEED, "srv-file-02.periods.check", "--format", "json").output)
    (field,) = out["fields"]
    assert [(s["node"], s["result"]) for s in field["steps"]] == [
        ("client1-site2", "none"),
        ("client1", "none"),
        ("partner", "skipped"),
        ("product", "found"),
    ]


def test_seed_cli_build_ok(cli, tmp_path):
    copy = tmp_path / "seed"
    shutil.copytree(SEED, copy)  # build rewrites the repository's snav.lock (T5)
    out = cli("build", copy, "-o", tmp_path / "out").output
    assert out == f"built 6 equipment, 29 unit services, 1 user services into {tmp_path / 'out'}/\n"
    assert json.loads((tmp_path / "out" / "diagnostics.json").read_text(encoding="utf-8")) == []


def test_V1_seed_cli_explain_refused_exits_1(cli):
    out = cli(
        "explain",
        SEED,
        "service-template/cpu",
        "--as",
        "stephanie",
        "--at",
        "client2",
        exit_code=None,
    )
    assert out.exit_code == 1, out.output


def test_explain_shows_the_product_objects_fields_of_the_seed():
    """H3, H4, A1, A2, U2, S2 and S4 through `explain`, on the seed."""
    from snavc.engine.pipeline import compile_repo
    from snavc.explain import explain

    _, res = compile_repo("samples/seed")
    fw = {f["path"]: f for f in explain(res, "fw-client2-01")["fields"]}
    assert fw["category"]["value"] == "router"
    assert fw["notification.escalations.2"]["value"] == ["client2-ops"]
    assert fw["notification.confirmation_checks"]["origin"]["line"] == 28
    assert fw["services.ping.thresholds"]["value"] == {"critical": "500", "warning": "100"}
    sw = {f["path"]: f for f in explain(res, "sw-core-01")["fields"]}
    assert sw["parents"]["value"] == ["fw-client2-01"]
    web = {f["path"]: f for f in explain(res, "srv-web-01")["fields"]}
    assert web["services.disk.thresholds"]["value"] == {"critical": "@90:100", "warning": "@80:90"}
    assert web["labels"]["value"] == ["production", "pci-scope"]
    shop = {f["path"]: f for f in explain(res, "webshop")["fields"]}
    assert shop["components.srv-web-01"]["value"] == "blocking"
