"""``snavc diff``: the semantic diff of two builds, keyed by object IDs.

Each test builds a copy of the seed sample, edits it, builds again and diffs the two
builds (``builds`` fixture), then pins the change entries of the JSON report: op, kind,
id, path, old, new and where (partner, client, site).
"""

from __future__ import annotations

import json

import pytest

from snavc.review.diff import Build, diff, read_build

from .helpers import (
    CLIENT1_OVERRIDE,
    PARTNER_TEMPLATES,
    SITE1_EQ,
    SITE2_EQ,
    USER_SERVICES,
    append,
    build,
    change_entries,
    documents,
    edit,
    equipment_yaml,
    input_entry,
    report_of,
    snav,
    take_document,
    write_documents,
)

NEW_EQUIPMENT = """\
    kind: Equipment
    id: srv-new-03
    name: New server 03
    at: client1-site2
    template: linux-server
    box: box-client1-site2
    accounts: [ssh-client1]
    """


def where(change: dict) -> tuple:
    return (change["partner"], change["client"], change["site"])


def only_change(report: dict) -> dict:
    assert len(report["changes"]) == 1, report["changes"]
    return report["changes"][0]


def has_provenance(value) -> bool:
    """Whether a reported value still carries build provenance (origin, file, line...)."""
    if isinstance(value, dict):
        return bool({"origin", "file", "line", "explicit", "locked"} & set(value)) or any(
            has_provenance(v) for v in value.values()
        )
    if isinstance(value, list):
        return any(has_provenance(v) for v in value)
    return False


# -- equipment -----------------------------------------------------------------------------


def test_equipment_added(builds):
    report = builds(lambda repo: append(repo, SITE2_EQ, NEW_EQUIPMENT))
    c = only_change(report)
    assert (c["op"], c["kind"], c["id"], c["path"], c["old"]) == (
        "added",
        "equipment",
        "srv-new-03",
        None,
        None,
    )
    assert where(c) == ("partner", "client1", "client1-site2")
    assert c["new"]["at"] == "client1-site2"
    assert c["new"]["box"] == "box-client1-site2"
    # the equipment comes whole, the unit services of linux-server inside it (T9)
    assert {"ping", "cpu", "disk", "memory"} <= set(c["new"]["services"])
    assert not change_entries(report, "unit-service")
    assert not has_provenance(c["new"]), "provenance (origin, file, line) is not configuration"
    assert report["summary"] == {
        "added": 1,
        "changed": 0,
        "removed": 0,
        "moved": 0,
        "inputs": 1,
        "errors": 0,
    }


def test_equipment_removed(builds):
    report = builds(lambda repo: (repo / "partner" / "equipment.yaml").unlink())
    c = only_change(report)
    assert (c["op"], c["kind"], c["id"], c["path"], c["new"]) == (
        "removed",
        "equipment",
        "partner-vpn-01",
        None,
        None,
    )
    assert where(c) == ("partner", None, None)  # an equipment at the partner itself
    assert c["old"]["address"] == "192.0.2.10"
    assert not has_provenance(c["old"])
    assert report["summary"] == {
        "added": 0,
        "changed": 0,
        "removed": 1,
        "moved": 0,
        "inputs": 1,
        "errors": 0,
    }


def test_equipment_field_changed(builds):
    report = builds(lambda repo: edit(repo, SITE2_EQ, "10.1.2.10", "10.1.2.99"))
    c = only_change(report)
    assert (c["op"], c["kind"], c["id"], c["path"], c["old"], c["new"]) == (
        "changed",
        "equipment",
        "srv-file-02",
        "address",
        "10.1.2.10",
        "10.1.2.99",
    )
    assert where(c) == ("partner", "client1", "client1-site2")
    assert report["summary"] == {
        "added": 0,
        "changed": 1,
        "removed": 0,
        "moved": 0,
        "inputs": 1,
        "errors": 0,
    }


def test_equipment_list_field_changes_as_a_whole(builds):
    report = builds(
        lambda repo: edit(
            repo,
            SITE1_EQ,
            "notification: {contacts: [noc, site1-facilities], groups: [client1-oncall]}",
            "notification: {contacts: [site1-facilities], groups: [client1-oncall]}",
        )
    )
    c = only_change(report)  # one entry for the list, not one per position
    assert (c["op"], c["kind"], c["id"], c["path"], c["old"], c["new"]) == (
        "changed",
        "equipment",
        "srv-web-01",
        "notification.contacts",
        ["noc", "site1-facilities"],
        ["site1-facilities"],
    )


def test_equipment_moved_between_sites(builds):
    def move(repo):
        # box-client1 (at client1) may monitor both sites of client1 (B1)
        edit(
            repo,
            SITE1_EQ,
            "at: client1-site1\naddress: 10.1.1.20",
            "at: client1-site2\naddress: 10.1.1.20",
        )
        append(repo, SITE2_EQ, take_document(repo, SITE1_EQ, "id: srv-db-01"))

    report = builds(move)
    moved = [c for c in report["changes"] if c["op"] == "moved"]
    assert moved == [
        {
            "op": "moved",
            "kind": "equipment",
            "id": "srv-db-01",
            "path": "at",
            "old": "client1-site1",
            "new": "client1-site2",
            "partner": "partner",
            "client": "client1",
            "site": "client1-site2",
        }
    ]
    # at client1-site2 the check default is the partner's, no longer site1's (P3): one
    # change of the period, its ID and where it comes from together
    assert [c for c in report["changes"] if c["op"] == "changed"] == [
        {
            "op": "changed",
            "kind": "equipment",
            "id": "srv-db-01",
            "path": "periods.check",
            "old": {"id": "site1-production-hours", "from": "client1-site1"},
            "new": {"id": "partner-extended-hours", "from": "partner"},
            "partner": "partner",
            "client": "client1",
            "site": "client1-site2",
        }
    ]
    assert report["summary"] == {
        "added": 0,
        "changed": 0,
        "removed": 0,
        "moved": 1,
        "inputs": 1,
        "errors": 0,
    }


def test_period_change_is_one_change_with_id_and_origin(builds):
    """A period is its ID and where it comes from (P3): one change at periods.ASPECT,
    never periods.ASPECT.id and periods.ASPECT.from apart."""
    report = builds(
        lambda repo: edit(
            repo,
            SITE2_EQ,
            "accounts: [ssh-client1]\n",
            "accounts: [ssh-client1]\nperiods: {check: client1-notify-hours}\n",
        )
    )
    c = only_change(report)
    assert (c["op"], c["kind"], c["id"], c["path"]) == (
        "changed",
        "equipment",
        "srv-file-02",
        "periods.check",
    )
    assert c["old"] == {"id": "business-hours", "from": "product"}
    assert c["new"] == {"id": "client1-notify-hours", "from": "explicit"}
    text = snav("diff", report["base"], report["head"]).stdout
    assert (
        "          periods.check: business-hours (product) → client1-notify-hours (explicit)\n"
        in text
    )


def test_equipment_renamed_is_removed_and_added_not_changed(builds):
    report = builds(lambda repo: edit(repo, SITE2_EQ, "id: srv-file-02", "id: srv-file-03"))
    assert sorted((c["op"], c["kind"], c["id"]) for c in report["changes"]) == [
        ("added", "equipment", "srv-file-03"),
        ("removed", "equipment", "srv-file-02"),
    ]


# -- unit services (kind "unit-service", id EQUIPMENT/NAME) ----------------------------------


def test_unit_service_added(builds):
    report = builds(
        lambda repo: edit(
            repo, SITE1_EQ, "  - template: disk\n", "  - template: disk\n  - template: http\n"
        )
    )
    c = only_change(report)
    assert (c["op"], c["kind"], c["id"], c["path"], c["old"]) == (
        "added",
        "unit-service",
        "srv-db-01/http",
        None,
        None,
    )
    assert c["new"]["template"] == "http"
    assert not has_provenance(c["new"])
    assert where(c) == ("partner", "client1", "client1-site1")
    assert report["summary"]["added"] == 1


def test_unit_service_removed(builds):
    report = builds(lambda repo: edit(repo, SITE1_EQ, "  - template: disk\n", ""))
    c = only_change(report)
    assert (c["op"], c["kind"], c["id"], c["new"]) == (
        "removed",
        "unit-service",
        "srv-db-01/disk",
        None,
    )
    assert c["old"]["template"] == "disk"
    assert report["summary"]["removed"] == 1


def test_unit_service_changed(builds):
    report = builds(lambda repo: edit(repo, SITE1_EQ, "check_interval: 30 ", "check_interval: 45 "))
    c = only_change(report)
    assert (c["op"], c["kind"], c["id"], c["path"], c["old"], c["new"]) == (
        "changed",
        "unit-service",
        "srv-web-01/http-frontend",
        "check_interval",
        30,
        45,
    )
    assert where(c) == ("partner", "client1", "client1-site1")
    assert report["summary"] == {
        "added": 0,
        "changed": 1,
        "removed": 0,
        "moved": 0,
        "inputs": 1,
        "errors": 0,
    }


@pytest.mark.parametrize("name", ["line", "origin", "locked", "explicit", "file"])
def test_unit_service_named_like_provenance_is_still_diffed(builds, name):
    """Provenance is stripped from unit services only: a service may be named 'origin'."""
    report = builds(
        lambda repo: edit(
            repo,
            SITE1_EQ,
            "  - template: disk\n",
            f"  - template: disk\n  - name: {name}\n    template: http\n",
        )
    )
    [c] = report["changes"]
    assert (c["op"], c["kind"], c["id"]) == ("added", "unit-service", f"srv-db-01/{name}")
    assert c["new"]["template"] == "http"
    assert not has_provenance(c["new"])


def test_unit_service_named_origin_changes_are_diffed(seed, built):
    """Its fields are compared too, and the provenance inside it is still dropped."""
    repo = seed()
    edit(
        repo,
        SITE1_EQ,
        "  - template: disk\n",
        "  - template: disk\n  - name: origin\n    template: http\n",
    )
    old = built(repo)
    edit(
        repo,
        SITE1_EQ,
        "  - name: origin\n    template: http\n",
        "  - name: origin\n    template: http\n    check_interval: 15\n",
    )
    report = report_of("diff", old, built(repo))
    assert [(c["op"], c["id"], c["path"], c["new"]) for c in report["changes"]] == [
        ("changed", "srv-db-01/origin", "check_interval", 15)
    ]


# -- user services, nodes --------------------------------------------------------------------


def test_user_service_changed(builds):
    report = builds(lambda repo: edit(repo, USER_SERVICES, "  - srv-db-01/ping\n", ""))
    c = only_change(report)
    assert (c["op"], c["kind"], c["id"], c["path"]) == (
        "changed",
        "user-service",
        "webshop",
        "members",
    )
    # reference lists are sorted in effective.json (the YAML lists srv-db-01/ping last)
    assert c["old"] == ["srv-db-01/ping", "srv-web-01/http-frontend", "srv-web-01/ping"]
    assert c["new"] == ["srv-web-01/http-frontend", "srv-web-01/ping"]
    assert where(c) == ("partner", "client1", None)


def test_node_changed(builds):
    report = builds(
        lambda repo: edit(
            repo, "clients/client1/client.yaml", "name: Client 1 infogérance", "name: Client One"
        )
    )
    c = only_change(report)
    assert (c["op"], c["kind"], c["id"], c["path"], c["old"], c["new"]) == (
        "changed",
        "node",
        "client1",
        "name",
        "Client 1 infogérance",
        "Client One",
    )
    assert where(c) == ("partner", "client1", None)


# -- keyed by IDs, not positions; provenance is not a change ---------------------------------


def test_reordering_documents_gives_no_change(builds):
    def reorder(repo):
        for rel in (SITE1_EQ, "partner/contacts.yaml", "clients/client1/contacts.yaml"):
            docs = documents(repo, rel)
            assert len(docs) >= 2
            write_documents(repo, rel, list(reversed(docs)))

    report = builds(reorder)
    assert report["changes"] == []
    assert report["inputs"] == []  # no input object changed either
    assert report["summary"] == {
        "added": 0,
        "changed": 0,
        "removed": 0,
        "moved": 0,
        "inputs": 0,
        "errors": 0,
    }


def test_reordering_unit_services_of_an_equipment_gives_no_change(builds):
    report = builds(
        lambda repo: edit(
            repo,
            SITE1_EQ,
            "  - template: ping\n  - name: cpu\n    template: cpu-strict      # partner's duplicate of cpu (T7)\n"
            "  - template: disk\n  - template: memory\n",
            "  - template: memory\n  - template: disk\n  - name: cpu\n    template: cpu-strict\n"
            "  - template: ping\n",
        )
    )
    assert report["changes"] == []


def test_reordering_reference_lists_gives_no_effective_change(seed, built):
    """Accounts, notification contacts and groups, and user service members are sets:
    effective.json holds them sorted, so reordering a YAML list changes no object."""
    repo = seed()
    edit(
        repo,
        SITE1_EQ,
        "accounts: [ssh-partner]\nnotification: {groups",
        "accounts: [ssh-partner, ssh-client1]\nnotification: {groups",
    )
    old = built(repo)
    effective = json.loads((old / "effective.json").read_text(encoding="utf-8"))
    srv_db_01 = effective["equipment"]["srv-db-01"]
    assert srv_db_01["accounts"] == ["ssh-client1", "ssh-partner"]
    assert srv_db_01["notification"]["groups"] == ["client1-oncall", "noc-oncall"]
    assert effective["equipment"]["srv-web-01"]["notification"]["contacts"] == [
        "noc",
        "site1-facilities",
    ]
    assert effective["user_services"]["webshop"]["members"] == [
        "srv-db-01/ping",
        "srv-web-01/http-frontend",
        "srv-web-01/ping",
    ]
    edit(repo, SITE1_EQ, "[ssh-partner, ssh-client1]", "[ssh-client1, ssh-partner]")
    edit(
        repo,
        SITE1_EQ,
        "groups: [noc-oncall, client1-oncall]",
        "groups: [client1-oncall, noc-oncall]",
    )
    edit(repo, SITE1_EQ, "contacts: [noc, site1-facilities]", "contacts: [site1-facilities, noc]")
    edit(
        repo,
        USER_SERVICES,
        "  - srv-web-01/http-frontend\n  - srv-web-01/ping\n  - srv-db-01/ping\n",
        "  - srv-db-01/ping\n  - srv-web-01/ping\n  - srv-web-01/http-frontend\n",
    )
    new = built(repo)
    after = json.loads((new / "effective.json").read_text(encoding="utf-8"))
    assert {k: v for k, v in after.items() if k != "inputs"} == {
        k: v for k, v in effective.items() if k != "inputs"
    }
    report = report_of("diff", old, new)
    assert report["changes"] == []
    # the input objects' text did change: they are listed, changing nothing and used by
    # nothing, and --detailed-exitcode counts them as a change (docs/review.md)
    assert [(i["input"], i["counts"], i["objects"]) for i in report["inputs"]] == [
        (key, {"equipment": 0, "unit-service": 0, "user-service": 0, "node": 0}, [])
        for key in ("equipment/srv-db-01", "equipment/srv-web-01", "user-service/webshop")
    ]
    snav("diff", old, new, "--detailed-exitcode", exit_code=2)


def test_moving_objects_to_other_files_gives_no_change(builds):
    """Provenance (file, line) is not configuration (rule-free, docs: diff)."""

    def move(repo):
        # an equipment, a template, an override and a contact change files and lines
        append(repo, "moved/equipment.yaml", take_document(repo, SITE1_EQ, "id: srv-web-01"))
        append(
            repo, "moved/templates.yaml", take_document(repo, PARTNER_TEMPLATES, "id: cpu-strict")
        )
        (repo / CLIENT1_OVERRIDE).rename(repo / "clients/client1/overrides-renamed.yaml")
        append(
            repo,
            "clients/client1/site1/equipment.yaml",
            take_document(repo, "partner/contacts.yaml", "id: noc-manager"),
        )

    report = builds(move)
    assert report["changes"] == []
    assert report["inputs"] == []


def test_renaming_folders_gives_no_change(builds):
    """Files are read in a different order: the effective configuration is the same."""

    def rename(repo):
        (repo / "partner").rename(repo / "zz-partner")
        (repo / "clients/client1/site2").rename(repo / "clients/0-site2")

    report = builds(rename)
    assert (report["changes"], report["inputs"]) == ([], [])


def test_same_repository_twice_gives_an_empty_report(seed, built):
    repo = seed()
    report = report_of("diff", built(repo), built(repo))
    assert (report["changes"], report["inputs"], report["errors"]) == ([], [], [])


# -- summary, exit codes ---------------------------------------------------------------------


def test_summary_counts_each_object_once(builds):
    def change(repo):
        append(repo, SITE2_EQ, NEW_EQUIPMENT)  # added
        (repo / "partner" / "equipment.yaml").unlink()  # removed
        edit(repo, SITE1_EQ, "  - template: disk\n", "")  # removed (unit service)
        edit(repo, SITE1_EQ, "10.1.1.10", "10.1.1.11")  # changed, two fields:
        edit(repo, SITE1_EQ, "contacts: [noc, site1-facilities]", "contacts: [noc]")
        edit(repo, SITE2_EQ, "address: 10.1.2.10", "address: 10.1.2.11")  # changed

    report = builds(change)
    assert report["summary"] == {
        "added": 1,
        "changed": 2,
        "removed": 2,
        "moved": 0,
        "inputs": 5,
        "errors": 0,
    }
    assert len(report["changes"]) == 6  # srv-web-01 has two field changes, counted once


@pytest.mark.parametrize(
    ("changed", "detailed", "code"),
    [(False, True, 0), (True, True, 2), (True, False, 0), (False, False, 0)],
)
def test_diff_exit_codes(seed, built, changed, detailed, code):
    repo = seed()
    old = built(repo)
    if changed:
        edit(repo, SITE2_EQ, "10.1.2.10", "10.1.2.11")
    new = built(repo)
    args = ["--detailed-exitcode"] if detailed else []
    snav("diff", old, new, *args, exit_code=code)


def test_diff_detailed_exitcode_counts_input_changes(seed, built):
    """An input object changed with no effective change (a contact's email) is a change."""
    repo = seed()
    old = built(repo)
    edit(repo, "partner/contacts.yaml", "noc@partner.example", "noc-24x7@partner.example")
    new = built(repo)
    report = report_of("diff", old, new)
    assert report["changes"] == [] and report["summary"]["inputs"] == 1
    snav("diff", old, new, "--detailed-exitcode", exit_code=2)
    snav("diff", old, new, exit_code=0)


def test_diff_detailed_exitcode_usage_error_is_1(seed, built, tmp_path):
    """Under --detailed-exitcode 2 means "changes": a usage error exits 1."""
    good = built(seed())
    plain = tmp_path / "plain"
    plain.mkdir()
    snav("diff", good, plain, "--detailed-exitcode", exit_code=1)


def test_diff_detailed_exitcode_missing_folder_is_1(seed, built, tmp_path):
    good = built(seed())
    result = snav("diff", good, tmp_path / "nowhere", "--detailed-exitcode", exit_code=1)
    assert result.stdout == ""
    snav("diff", tmp_path / "nowhere", good, "--detailed-exitcode", exit_code=1)


def test_a_report_into_a_build_is_refused(seed, built):
    """`-o` inside either build would replace one of its files (effective.json):
    refused before anything is written."""
    good = built(seed())
    before = (good / "effective.json").read_bytes()
    for target in (good / "effective.json", good / "report.md"):
        result = snav("diff", good, good, "-o", target, exit_code=2)
        assert "is inside the build" in result.stderr
    assert (good / "effective.json").read_bytes() == before
    assert not (good / "report.md").exists()


def test_diff_of_a_missing_folder_is_a_usage_error(seed, built, tmp_path):
    good = built(seed())
    nowhere = tmp_path / "nowhere"
    result = snav("diff", good, nowhere, exit_code=2)
    assert result.stdout == ""
    assert result.stderr == f"Error: {nowhere} does not exist or is not a folder\n"
    snav("diff", nowhere, good, exit_code=2)


@pytest.mark.parametrize("args", [["--template", "none.j2"], ["--no-such-option"]])
def test_diff_detailed_exitcode_click_usage_error_is_1(seed, built, tmp_path, args):
    """click's own usage errors too, in the `snavc` command (cli.main maps them)."""
    import subprocess
    import sys

    good = built(seed())
    args = [str(tmp_path / a) if a.endswith(".j2") else a for a in args]
    command = [sys.executable, "-m", "snavc", "diff", str(good), str(good), *args]
    assert subprocess.run([*command, "--detailed-exitcode"], capture_output=True).returncode == 1
    assert subprocess.run(command, capture_output=True).returncode == 2


def test_diff_of_a_folder_that_is_not_a_build_is_a_usage_error(seed, built, tmp_path):
    good = built(seed())
    plain = tmp_path / "plain"
    plain.mkdir()
    result = snav("diff", good, plain, exit_code=2)
    assert result.stderr == (
        f"Error: {plain} is not a snavc build: no effective.json (run `snavc build -o {plain}`)\n"
    )
    (plain / "effective.json").write_text("{ not json", encoding="utf-8")
    result = snav("diff", plain, good, exit_code=2)
    assert "is not valid JSON" in result.stderr
    assert "Traceback" not in result.output


def pretty_copy(build, folder, indent=4):
    """``build`` with its effective.json reformatted as another tool would (jq, an editor)."""
    folder.mkdir()
    data = json.loads((build / "effective.json").read_text(encoding="utf-8"))
    (folder / "effective.json").write_text(json.dumps(data, indent=indent), encoding="utf-8")
    if (build / "origins.json").exists():
        (folder / "origins.json").write_bytes((build / "origins.json").read_bytes())
    return folder


@pytest.mark.parametrize("indent", [4, None], ids=["indent-4", "one-line"])
def test_diff_reads_a_reformatted_effective_json_the_same(seed, built, tmp_path, indent):
    """A pretty-printed effective.json is read whole: the same changes and counts."""
    repo = seed()
    old = built(repo)
    edit(repo, SITE2_EQ, "10.1.2.10", "10.1.2.11")
    edit(repo, CLIENT1_OVERRIDE, "criticality: 4", "criticality: 2")
    new = built(repo)
    pretty = pretty_copy(new, tmp_path / "pretty", indent)
    a = diff(read_build(old), read_build(new)).to_json()
    b = diff(read_build(old), read_build(pretty)).to_json()
    assert a["changes"] == b["changes"]
    assert [c["id"] for c in a["changes"]] == ["srv-file-02"]
    keep = ("input", "op", "counts", "objects", "lock")
    assert [{k: i[k] for k in keep} for i in a["inputs"]] == [
        {k: i[k] for k in keep} for i in b["inputs"]
    ]
    assert input_entry(b, "service-template-override/cpu@client1")["lock"]["not_applied"] == 2
    # and the other way round, through the CLI
    assert report_of("diff", pretty, old)["changes"] == report_of("diff", new, old)["changes"]


def test_diff_of_a_reformatted_build_keeps_the_users_of_an_input(seed, built, tmp_path):
    repo = seed()
    old = built(repo)
    edit(repo, CLIENT1_OVERRIDE, "criticality: 4", "criticality: 2")
    new = built(repo)
    a = diff(read_build(old), read_build(new)).to_json()
    b = diff(read_build(old), read_build(pretty_copy(new, tmp_path / "pretty"))).to_json()
    assert a["inputs"] == b["inputs"]


def test_diff_finds_the_sections_where_the_marker_says(seed, built, tmp_path, monkeypatch):
    """A build's marker holds where its sections lie: diff reads them from there rather
    than going through the lines, and finds the same as by going through them."""
    import snavc.review.diff as module

    repo = seed()
    old = built(repo)
    edit(repo, SITE2_EQ, "10.1.2.10", "10.1.2.11")
    edit(repo, CLIENT1_OVERRIDE, "criticality: 4", "criticality: 2")
    new = built(repo)
    marked = diff(read_build(old), read_build(new)).to_json()
    assert marked["changes"] and marked["inputs"]

    def no_lines(*args):
        raise AssertionError("went through the lines")

    with monkeypatch.context() as m:
        m.setattr(module, "section_end", no_lines)
        assert diff(read_build(old), read_build(new)).to_json() == marked
    # a build of an older snavc (a marker without the layout): through the lines
    for folder in (old, new):
        (folder / ".snavc-build").write_text("written by snavc build\n", encoding="utf-8")
    assert diff(read_build(old), read_build(new)).to_json() == marked


@pytest.mark.parametrize("how", ["longer", "same size", "shorter"])
def test_diff_does_not_trust_a_marker_that_does_not_fit(seed, built, tmp_path, how):
    """effective.json edited after the build (a line longer, shorter or as long, the
    sections moved or not): the layout the marker gives is checked against the file,
    down to its last byte, and the file is read through when it does not fit."""
    repo = seed()
    old = built(repo)
    edit(repo, SITE2_EQ, "10.1.2.10", "10.1.2.11")
    new = built(repo)
    path = new / "effective.json"
    text = path.read_text(encoding="utf-8")
    replaced = {"longer": "10.1.2.111", "same size": "10.1.2.12", "shorter": "10.1.2.1"}[how]
    path.write_text(text.replace('"10.1.2.11"', f'"{replaced}"'), encoding="utf-8")
    [change] = [c for c in diff(read_build(old), read_build(new)).to_json()["changes"]]
    assert (change["id"], change["old"], change["new"]) == ("srv-file-02", "10.1.2.10", replaced)
    # the sections, that follow the equipment's, are found where they now are
    read = read_build(new)
    assert read.spans == Build(path.read_bytes()).spans  # (found by going through it)
    assert read.get("nodes", "client1")["kind"] == "client"


def test_diff_checks_M3_on_a_reformatted_build(small, built, tmp_path):
    repo = small({"c1/eq.yaml": equipment_yaml("srv-01", "c1-s1", "box-c1")})
    old = pretty_copy(built(repo), tmp_path / "pretty")
    edit(repo, "c1/client.yaml", "mode: managed", "mode: resale")
    [e] = report_of("diff", old, built(repo), exit_code=1)["errors"]
    assert e["code"] == "SNV422"


# -- M3 in diff: from the two builds, without positions ---------------------------------------


def test_diff_checks_a_mode_change_M3(small, built):
    """`snavc diff` checks M3 from the two builds (plan checks it on the trees, with the
    position of the mode): the errors have no file nor line."""
    repo = small({"c1/eq.yaml": equipment_yaml("srv-01", "c1-s1", "box-c1")})
    edit(
        repo,
        "c1/client.yaml",
        "crm_ref: null\n---\nkind: Site\nid: c1-s1",
        "crm_ref: CRM-1\n---\nkind: Site\nid: c1-s1",
    )
    old = built(repo)
    edit(repo, "c1/client.yaml", "mode: managed", "mode: resale")
    new = built(repo)
    report = report_of("diff", old, new, exit_code=1)
    assert report["errors"] == [
        {
            "severity": "error",
            "code": "SNV422",
            "rule": "M3",
            "message": "client 'c1' changes mode from managed to resale, but the old build has 1 "
            "equipment on it or its sites and a CRM reference (crm_ref) on c1: the mode may change "
            "only when there is none. In two steps: first remove the equipment and clear crm_ref, "
            "deploy; then change the mode",
            "file": None,
            "line": None,
            "column": None,
            "related": [],
        }
    ]
    assert report["summary"]["errors"] == 1
    assert ("changed", "node", "c1", "mode") in {
        (c["op"], c["kind"], c["id"], c["path"]) for c in report["changes"]
    }
    text = snav("diff", old, new, exit_code=1).stdout
    assert "\n1 error:\n  error[SNV422] client 'c1' changes mode from managed to resale, " in text
    assert text.count("(rule M3)") == 1
    snav("diff", old, new, "--detailed-exitcode", exit_code=1)
    md = snav("diff", old, new, "--format", "markdown", exit_code=1).stdout
    assert "\n- **SNV422** (rule M3): client 'c1' changes mode from managed to resale, " in md


def test_diff_allows_a_mode_change_with_nothing_on_the_client_M3(small, built):
    repo = small()
    old = built(repo)
    edit(repo, "c1/client.yaml", "mode: managed", "mode: resale")
    report = report_of("diff", old, built(repo))
    assert report["errors"] == []
    assert [c["id"] for c in report["changes"]] == ["c1", "c1-s1", "c1-s2"]


def test_diff_M3_counts_equipment_of_the_old_build_only(small, built):
    """Removing the equipment and changing the mode at once is refused (two steps)."""
    repo = small({"c1/eq.yaml": equipment_yaml("srv-01", "c1-s1", "box-c1")})
    old = built(repo)
    (repo / "c1/eq.yaml").unlink()
    edit(repo, "c1/client.yaml", "mode: managed", "mode: resale")
    [e] = report_of("diff", old, built(repo), exit_code=1)["errors"]
    assert "the old build has 1 equipment on it or its sites:" in e["message"]


def test_library_diff_matches_the_cli(seed, built):
    repo = seed()
    old = built(repo)
    append(repo, SITE2_EQ, NEW_EQUIPMENT)
    new = built(repo)
    report = diff(read_build(old), read_build(new)).to_json()
    assert report == report_of("diff", old, new)


def test_build_of_an_unchanged_repository_is_byte_identical(seed, tmp_path):
    repo = seed()
    a = build(repo, tmp_path / "a")
    b = build(repo, tmp_path / "b")
    assert (a / "effective.json").read_bytes() == (b / "effective.json").read_bytes()


@pytest.mark.parametrize(
    "content, says",
    [
        ("[]", "its top level is not a JSON object"),
        ("null", "its top level is not a JSON object"),
        ('{"nodes": 5}', "'nodes' is a number, not an object"),
        ('{"equipment": []}', "'equipment' is a list, not an object"),
        ('{"equipment": {"x": 5}}', "equipment 'x' is a number, not an object"),
        ('{"equipment": {"x": {"at": "n", "services": 5}}}', "'services' as a number"),
        ('{"equipment": {"x": {"at": "n", "services": {"s": 3}}}}', "unit service 's' as a number"),
        ('{"equipment": {"x": {"at": "n", "parents": [1]}}}', "not a list of IDs"),
        ('{"nodes": {"a": {"parent": 5}}}', "nodes 'a' has no kind"),
        ('{"user_services": {"u": null}}', "user_services 'u' is null"),
        # (the table the bridge reads a build by too: one shape of a build)
        ('{"equipment": {"x": {"at": "n", "criticality": true}}}', "'criticality' as a boolean"),
        (
            '{"equipment": {"x": {"at": "n", "services": {"s": {"arguments": {"a": [1]}}}}}}',
            "unit service 's' with 'arguments.a' as a list",
        ),
    ],
)
def test_a_build_of_another_shape_is_a_usage_error(seed, built, content, says):
    """JSON that snavc would never write (a file edited by hand) is refused with what
    is wrong, on either side, never an internal error (exit 3)."""
    good = built(seed())
    other = built(seed("other"))
    (other / "effective.json").write_text(content, encoding="utf-8")
    for old, new in ((good, other), (other, good)):
        result = snav("diff", old, new, exit_code=2)
        assert (
            result.stdout == "" and f"{other}/effective.json is not a snavc build" in result.stderr
        )
        assert says in result.stderr


def test_any_mutation_of_a_build_is_diffed_or_refused(seed, built):
    """Values of any JSON type put anywhere in a build: the diff either runs or says
    the build is not one (BuildError), never fails inside (issue: exit 3 on `[]`)."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from snavc.review.diff import BuildError

    good = built(seed())
    other = built(seed("other"))
    document = json.loads((good / "effective.json").read_text(encoding="utf-8"))
    values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=3),
        lambda inner: (
            st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=3), inner, max_size=2)
        ),
        max_leaves=4,
    )

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def check(data):
        mutated = json.loads(json.dumps(document))
        for _ in range(data.draw(st.integers(1, 3))):
            at = mutated
            while True:
                keys = sorted(at) if isinstance(at, dict) else list(range(len(at)))
                if not keys:
                    break
                key = data.draw(st.sampled_from(keys))
                if not isinstance(at[key], (dict, list)) or data.draw(st.booleans()):
                    at[key] = data.draw(values)
                    break
                at = at[key]
        (other / "effective.json").write_text(json.dumps(mutated), encoding="utf-8")
        for old, new in ((good, other), (other, good)):
            try:
                diff(read_build(old), read_build(new))
            except BuildError:
                pass

    check()
