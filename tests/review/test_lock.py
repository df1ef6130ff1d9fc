"""The lock (rule T5): ``snav.lock`` keeps the template values each unit service was
created with; ``build --reapply TEMPLATE`` gives them the current ones; ``build
--locked`` fails when the lock would change.
"""

from __future__ import annotations

import json

import pytest

from .helpers import (
    CLIENT1_OVERRIDE,
    SEED,
    SITE1_EQ,
    SITE2_EQ,
    append,
    build,
    edit,
    equipment_yaml,
    input_entry,
    report_of,
    snav,
)

NEW_EQUIPMENT = """\
    kind: Equipment
    id: srv-new-03
    at: client1-site1
    template: linux-server
    box: box-client1
    accounts: [ssh-partner]
    """

FIELDS = (
    "criticality",
    "availability_target",
    "availability_period",
    "check_period",
    "check_interval",
)


def effective(out) -> dict:
    return json.loads((out / "effective.json").read_text(encoding="utf-8"))


def service(out, ident: str) -> dict:
    eq, _, name = ident.partition("/")
    return effective(out)["equipment"][eq]["services"][name]


def lock_of(repo) -> dict:
    return json.loads((repo / "snav.lock").read_text(encoding="utf-8"))


def locked_values(repo, ident: str) -> dict:
    lock = lock_of(repo)
    return lock["versions"][lock["services"][ident]]


def lower_client1_cpu(repo) -> None:
    """client1's override of cpu: criticality 4 -> 2 (reaches srv-web-01 and srv-file-02)."""
    edit(repo, CLIENT1_OVERRIDE, "criticality: 4", "criticality: 2")


# -- the lock file ---------------------------------------------------------------------------


def test_first_build_writes_the_lock_T5(seed, built):
    repo = seed()
    (repo / "snav.lock").unlink()
    out = built(repo)
    lock = lock_of(repo)
    assert lock["format"] == 1
    services = {
        f"{eq}/{name}" for eq, e in effective(out)["equipment"].items() for name in e["services"]
    }
    assert set(lock["services"]) == services
    assert locked_values(repo, "srv-web-01/cpu") == {
        "template": "cpu",
        "criticality": 4,  # client1's override
        "availability_target": 99.9,  # the partner's override
        "availability_period": "24x7",
        "check_period": "24x7",
        "check_interval": 60,  # client1's override, deeper than the partner's
    }
    assert locked_values(repo, "srv-file-02/cpu")["availability_target"] == 99.5  # T3: Stéphanie


def test_the_seed_lock_is_up_to_date_T5(seed, built):
    repo = seed()
    before = (repo / "snav.lock").read_bytes()
    (repo / "snav.lock").unlink()
    built(repo)
    assert (repo / "snav.lock").read_bytes() == before == (SEED / "snav.lock").read_bytes()


def test_unchanged_build_does_not_rewrite_the_lock_T5(seed, built):
    repo = seed()
    built(repo)
    stat = (repo / "snav.lock").stat()
    built(repo)
    assert (repo / "snav.lock").stat().st_mtime_ns == stat.st_mtime_ns


# -- a template change after the fact ---------------------------------------------------------


def test_template_change_is_not_applied_to_existing_services_T5(seed, built):
    repo = seed()
    old = built(repo)
    lock_before = (repo / "snav.lock").read_bytes()
    lower_client1_cpu(repo)
    new = built(repo)
    for ident in ("srv-web-01/cpu", "srv-file-02/cpu"):
        assert service(new, ident)["criticality"] == 4
    assert (repo / "snav.lock").read_bytes() == lock_before

    report = report_of("diff", old, new)
    assert report["changes"] == []
    entry = input_entry(report, "service-template-override/cpu@client1")
    assert entry["lock"] == {
        "template": "cpu",
        "services": 4,
        "new": 0,
        "not_applied": 2,
        "reapplied": 0,
    }
    assert entry["affects"] == {"equipment": 2, "unit-service": 2, "user-service": 0}
    text = snav("diff", old, new).stdout
    assert text.endswith(
        "  ~ service-template-override/cpu@client1: changed 0 equipment, 0 unit services, "
        "0 user services; used by 2 equipment, 2 unit services, 0 user services\n"
        "      T5: not applied to 2 existing services of cpu (snavc build --reapply cpu applies "
        "it); 0 new services get it\n"
    )
    md = snav("diff", old, new, "--format", "markdown").stdout
    assert (
        "| `service-template-override/cpu@client1` | changed | none | 2 equipment, 2 unit services "
        "| kept by 2 existing services (`snavc build --reapply cpu`); 0 new services get it |\n"
    ) in md


def test_explain_gives_the_locked_value_as_the_build_does_T5(seed, built):
    """explain agrees with effective.json: a value the lock keeps is shown with the
    step that keeps it, not the template's current value (it showed 2, the build 4)."""
    repo = seed()
    built(repo)
    lower_client1_cpu(repo)
    new = built(repo)
    assert service(new, "srv-web-01/cpu")["criticality"] == 4
    found = json.loads(
        snav("explain", repo, "srv-web-01/cpu.criticality", "--format", "json").stdout
    )
    [field] = found["fields"]
    assert field["value"] == 4 and field["steps"][-1]["result"] == "locked"
    assert "snavc build --reapply cpu" in field["steps"][-1]["why"]
    assert "= 4\n" in snav("explain", repo, "srv-web-01/cpu.criticality").stdout
    snav("build", repo, "-o", new, "--reapply", "cpu")
    found = json.loads(
        snav("explain", repo, "srv-web-01/cpu.criticality", "--format", "json").stdout
    )
    assert found["fields"][0]["value"] == 2 == service(new, "srv-web-01/cpu")["criticality"]
    assert all(s.get("result") != "locked" for s in found["fields"][0]["steps"])


def test_new_equipment_gets_the_new_template_values_T5(seed, built):
    repo = seed()
    old = built(repo)
    lower_client1_cpu(repo)
    append(repo, SITE1_EQ, NEW_EQUIPMENT)
    new = built(repo)
    assert service(new, "srv-new-03/cpu")["criticality"] == 2
    assert service(new, "srv-web-01/cpu")["criticality"] == 4  # same site, created before
    assert locked_values(repo, "srv-new-03/cpu")["criticality"] == 2
    report = report_of("diff", old, new)
    assert input_entry(report, "service-template-override/cpu@client1")["lock"] == {
        "template": "cpu",
        "services": 5,
        "new": 1,  # srv-new-03/cpu, added by the change
        "not_applied": 2,
        "reapplied": 0,
    }
    text = snav("diff", old, new).stdout
    assert (
        "      T5: not applied to 2 existing services of cpu (snavc build --reapply cpu applies "
        "it); 1 new service gets it\n"
    ) in text


def test_new_services_count_only_those_the_override_reaches_T5(seed, built):
    """A new cpu service at client2 is of the template but not on the path of client1's
    override (explain shows the override skipped): it does not "get" that override
    (issue 11: the note said it reached 1 new service)."""
    repo = seed()
    old = built(repo)
    lower_client1_cpu(repo)
    append(
        repo,
        "clients/client2/site1/equipment.yaml",
        NEW_EQUIPMENT.replace("srv-new-03", "srv-new-04")
        .replace("client1-site1", "client2-site1")
        .replace("box-client1", "box-client2")
        .replace("ssh-partner", "snmp-client2"),
    )
    new = built(repo)
    explained = snav("explain", repo, "srv-new-04/cpu.criticality").stdout
    assert "override at client1: skipped: 'client1' is not on the path to 'client2-site1'" in (
        explained
    )
    report = report_of("diff", old, new)
    lock = input_entry(report, "service-template-override/cpu@client1")["lock"]
    assert (lock["new"], lock["not_applied"]) == (0, 2)
    append(repo, SITE1_EQ, NEW_EQUIPMENT)  # one at client1 too: that one is reached
    lock = input_entry(
        report_of("diff", old, built(repo)), "service-template-override/cpu@client1"
    )["lock"]
    assert (lock["new"], lock["not_applied"]) == (1, 2)


def test_not_applied_counts_the_services_the_changed_input_reaches_T5(seed, built):
    """Two inputs of cpu change at once: each counts only the locked services it reaches
    (through the inputs of their origins), not every locked cpu service of the build."""
    repo = seed()
    old = built(repo)
    lower_client1_cpu(repo)  # reaches srv-web-01/cpu and srv-file-02/cpu
    append(
        repo,
        CLIENT1_OVERRIDE,
        """\
        kind: ServiceTemplateOverride
        template: cpu
        at: client1-site1
        check_interval: 20
        """,
    )  # a new override at site 1: srv-web-01/cpu only
    report = report_of("diff", old, built(repo))
    assert report["changes"] == []
    client1 = input_entry(report, "service-template-override/cpu@client1")
    site1 = input_entry(report, "service-template-override/cpu@client1-site1")
    assert (client1["lock"]["not_applied"], site1["lock"]["not_applied"]) == (2, 1)
    assert site1["op"] == "added"
    assert site1["affected"] == ["equipment/srv-web-01", "unit-service/srv-web-01/cpu"]
    assert site1["lock"]["services"] == client1["lock"]["services"] == 4  # all cpu services


def test_reapply_gives_existing_services_the_current_values_T5(seed, built):
    repo = seed()
    built(repo)
    lower_client1_cpu(repo)
    locked = built(repo)
    version_before = lock_of(repo)["services"]["srv-web-01/cpu"]

    reapplied = built(repo, "--reapply", "cpu")
    for ident in ("srv-web-01/cpu", "srv-file-02/cpu"):
        assert service(reapplied, ident)["criticality"] == 2
    assert service(reapplied, "srv-db-01/cpu")["criticality"] == 5  # cpu-strict: not re-applied
    assert lock_of(repo)["services"]["srv-web-01/cpu"] != version_before
    assert locked_values(repo, "srv-web-01/cpu")["criticality"] == 2

    report = report_of("diff", locked, reapplied)
    assert sorted((c["id"], c["path"], c["old"], c["new"]) for c in report["changes"]) == [
        ("srv-file-02/cpu", "criticality", 4, 2),
        ("srv-web-01/cpu", "criticality", 4, 2),
    ]
    # the lock now holds the new values: a plain build keeps them
    again = built(repo)
    assert service(again, "srv-web-01/cpu")["criticality"] == 2
    assert report_of("diff", reapplied, again)["changes"] == []


def test_explicit_value_on_a_unit_service_wins_over_the_lock_T5(seed, built):
    """srv-db-01's ping is locked at the product values; an override of ping then changes
    criticality and check_interval, and the service sets criticality itself."""
    repo = seed()
    built(repo)
    append(
        repo,
        CLIENT1_OVERRIDE,
        """\
        kind: ServiceTemplateOverride
        template: ping
        at: client1
        criticality: 2
        check_interval: 99
        """,
    )
    edit(repo, SITE1_EQ, "  - template: ping\n", "  - template: ping\n    criticality: 1\n")
    out = built(repo)
    ping = service(out, "srv-db-01/ping")
    assert ping["criticality"] == 1  # explicit, over the lock and the override
    assert ping["check_interval"] == 60  # locked (the product's), not the override's 99
    assert service(out, "srv-web-01/ping")["criticality"] == 4  # locked
    assert (
        locked_values(repo, "srv-db-01/ping")["criticality"] == 4
    )  # the lock keeps template values


# -- build --locked ----------------------------------------------------------------------------


def test_locked_build_passes_when_the_lock_would_not_change_T5(seed, tmp_path):
    repo = seed()
    lock = (repo / "snav.lock").read_bytes()
    build(repo, tmp_path / "a", "--locked")
    lower_client1_cpu(repo)  # not applied: the lock stays as it is
    build(repo, tmp_path / "b", "--locked")
    assert (tmp_path / "b" / "effective.json").is_file()
    assert (repo / "snav.lock").read_bytes() == lock


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda repo: append(repo, SITE1_EQ, NEW_EQUIPMENT), id="new-equipment"),
        pytest.param(
            lambda repo: (repo / "partner/equipment.yaml").unlink(), id="removed-equipment"
        ),
        pytest.param(lambda repo: (repo / "snav.lock").unlink(), id="no-lock-yet"),
        pytest.param(
            lambda repo: edit(repo, SITE2_EQ, "template: linux-server", "template: windows-server"),
            id="other-equipment-template",
        ),
    ],
)
def test_locked_build_fails_and_writes_nothing_when_the_lock_would_change_T5(
    seed, tmp_path, change
):
    repo = seed()
    out = build(repo, tmp_path / "out")
    before = (out / "effective.json").read_bytes()
    change(repo)
    lock = (repo / "snav.lock").read_bytes() if (repo / "snav.lock").exists() else None
    result = snav("build", repo, "-o", out, "--locked", exit_code=1)
    assert "error[SNV423]" in result.output and "(rule T5)" in result.output
    assert (out / "effective.json").read_bytes() == before
    assert ((repo / "snav.lock").read_bytes() if (repo / "snav.lock").exists() else None) == lock
    fresh = tmp_path / "fresh"
    snav("build", repo, "-o", fresh, "--locked", exit_code=1)
    assert not fresh.exists()


def test_locked_build_with_reapply_fails_when_values_would_change_T5(seed, tmp_path):
    repo = seed()
    lower_client1_cpu(repo)
    snav("build", repo, "-o", tmp_path / "out", "--locked", "--reapply", "cpu", exit_code=1)
    assert not (tmp_path / "out").exists()


def test_locked_build_json_diagnostic_T5(seed, tmp_path):
    repo = seed()
    append(repo, SITE1_EQ, NEW_EQUIPMENT)
    result = snav(
        "build", repo, "-o", tmp_path / "out", "--locked", "--format", "json", exit_code=1
    )
    [d] = json.loads(result.stdout)
    assert (d["severity"], d["code"], d["rule"], d["file"]) == (
        "error",
        "SNV423",
        "T5",
        "snav.lock",
    )
    assert d["message"].startswith("snav.lock is out of date (")


# -- errors -------------------------------------------------------------------------------------


def test_unknown_reapply_template_is_a_usage_error_T5(seed, tmp_path):
    repo = seed()
    lock = (repo / "snav.lock").read_bytes()
    result = snav("build", repo, "-o", tmp_path / "out", "--reapply", "nope", exit_code=2)
    assert result.stderr == "Error: --reapply: no service template 'nope'\n"
    assert not (tmp_path / "out").exists()
    assert (repo / "snav.lock").read_bytes() == lock


def test_reapply_when_nothing_changed_keeps_the_lock_T5(seed, tmp_path):
    repo = seed()
    lock = (repo / "snav.lock").read_bytes()
    build(repo, tmp_path / "out", "--reapply", "http", "--reapply", "cpu", "--locked")
    assert (repo / "snav.lock").read_bytes() == lock


def test_plan_shows_what_the_lock_kept_and_what_reapply_changes_T5(seed):
    from .helpers import git_init

    repo = git_init(seed())
    lower_client1_cpu(repo)
    report = report_of("plan", repo, "--base", "HEAD")
    assert report["changes"] == []
    assert input_entry(report, "service-template-override/cpu@client1")["lock"]["not_applied"] == 2
    snav("build", repo, "-o", repo.parent / "out", "--reapply", "cpu")  # rewrites snav.lock
    report = report_of("plan", repo, "--base", "HEAD")
    assert sorted((c["id"], c["path"], c["new"]) for c in report["changes"]) == [
        ("srv-file-02/cpu", "criticality", 2),
        ("srv-web-01/cpu", "criticality", 2),
    ]


CORRUPT = [
    pytest.param("{", "snav.lock cannot be read (", id="not-json"),
    pytest.param("[]", "snav.lock is not a JSON object", id="not-an-object"),
    pytest.param(b"\xff\xfe", "snav.lock cannot be read (", id="not-utf8"),
    pytest.param(
        '{"format": 1, "services": ["srv-web-01/cpu"], "versions": "x"}',
        "snav.lock is not a valid lock: 'versions' and 'services' must be objects; restore it "
        "from git, or delete it to lock every unit service again with its current values "
        "(rule T5)",
        id="services-not-a-mapping",
    ),
    pytest.param(
        '{"services": {}, "versions": {}}',
        "not a valid lock: unknown format None (this snavc writes format 1);",
        id="no-format",
    ),
    pytest.param(
        '{"format": 2, "services": {}, "versions": {}}',
        "not a valid lock: unknown format 2 (this snavc writes format 1);",
        id="future-format",
    ),
    pytest.param(
        '{"format": 1, "services": {"srv-file-02/cpu": "v1"}, "versions": {"v1": "x"}}',
        ("not a valid lock: version 'v1': not an object with a 'template';", "1:67"),
        id="version-not-an-object",
    ),
    pytest.param(
        '{"format": 1, "services": {"srv-file-02/cpu": "v1"},'
        ' "versions": {"v1": {"template": "cpu", "criticality": "high"}}}',
        ("not a valid lock: version 'v1': criticality has the wrong type ('high');", "1:93"),
        id="version-wrong-type",
    ),
    pytest.param(
        '{"format": 1, "services": {"srv-file-02/cpu": "v1"},'
        ' "versions": {"v1": {"template": "cpu", "criticality": true}}}',
        ("not a valid lock: version 'v1': criticality has the wrong type (True);", "1:93"),
        id="version-bool-for-int",
    ),
    pytest.param(
        '{"format": 1, "services": {"srv-file-02/cpu": "v1"},'
        ' "versions": {"v1": {"template": "cpu", "colour": "red"}}}',
        ("not a valid lock: version 'v1': unknown fields ['colour'];", "1:67"),
        id="version-unknown-field",
    ),
    pytest.param(
        '{"format": 1, "services": {"srv-file-02/cpu": "v2"}, "versions": {}}',
        (
            "not a valid lock: service 'srv-file-02/cpu' names version 'v2', which the lock "
            "does not hold;",
            "1:28",
        ),
        id="service-names-a-missing-version",
    ),
    pytest.param(
        '{"format": 1, "services": {"srv-file-02/cpu": 7}, "versions": {}}',
        (
            "not a valid lock: service 'srv-file-02/cpu' names version 7, which the lock does "
            "not hold;",
            "1:28",
        ),
        id="service-version-not-a-string",
    ),
    pytest.param(
        '{"format": 1, "services": {"srv-file-02/cpu": "v1"},'
        ' "versions": {"v1": {"template": "cpu", "criticality": 3}}}',
        ("snav.lock is not a valid lock: version 'v1': missing availability_target", "1:67"),
        id="version-missing-fields",
    ),
]


@pytest.mark.parametrize(("body", "message"), CORRUPT)
def test_corrupted_lock_is_a_clean_error_SNV112(seed, tmp_path, body, message):
    repo = seed()
    path = repo / "snav.lock"
    path.write_bytes(body if isinstance(body, bytes) else body.encode())
    result = snav("build", repo, "-o", tmp_path / "out", exit_code=1)
    where = "snav.lock" + (f":{message[1]}" if isinstance(message, tuple) else "")
    message = message[0] if isinstance(message, tuple) else message
    assert f"{where}: error[SNV112] " in result.output
    assert message in result.output
    assert not (tmp_path / "out").exists()
    assert path.read_bytes() == (body if isinstance(body, bytes) else body.encode())


def test_lock_keeping_a_deleted_period_is_reported_SNV421(small, built):
    repo = small(
        {
            "periods.yaml": """\
                kind: TimePeriod
                id: night
                at: partner
                ranges: {monday: ["00:00-06:00"]}
                """,
            "c1/templates.yaml": """\
                kind: ServiceTemplateOverride
                template: cpu
                at: c1
                check_period: night
                """,
            "c1/equipment.yaml": equipment_yaml("srv-01", "c1-s1", "box-c1"),
        }
    )
    built(repo)
    assert locked_values(repo, "srv-01/cpu")["check_period"] == "night"
    (repo / "c1/templates.yaml").unlink()
    (repo / "periods.yaml").unlink()
    result = snav("build", repo, "-o", repo.parent / "out", exit_code=1)
    assert (
        "error[SNV421] unit service 'srv-01/cpu' keeps check_period 'night' from the lock"
        in result.output
    )
    assert "`snavc build --reapply cpu`" in result.output and "(rule T5)" in result.output
    out = built(repo, "--reapply", "cpu")
    assert service(out, "srv-01/cpu")["check_period"] == "24x7"


def test_failed_build_does_not_write_the_lock_T5(seed, tmp_path):
    repo = seed()
    lock = (repo / "snav.lock").read_bytes()
    append(repo, SITE1_EQ, NEW_EQUIPMENT.replace("box-client1", "no-such-box"))
    snav("build", repo, "-o", tmp_path / "out", exit_code=1)
    assert (repo / "snav.lock").read_bytes() == lock


def test_plan_of_a_working_tree_with_a_corrupted_lock_SNV112(seed):
    from .helpers import git_init

    repo = git_init(seed())
    (repo / "snav.lock").write_text('{"format": 1, "services": [], "versions": {}}\n')
    report = report_of("plan", repo, "--base", "HEAD", exit_code=1)
    assert report["changes"] == []
    [e] = report["errors"]
    assert (e["code"], e["rule"], e["file"]) == ("SNV112", "T5", "snav.lock")
    assert e["message"].startswith(
        "snav.lock is not a valid lock: 'versions' and 'services' must be objects;"
    )


# -- the lock read in pieces (a build's peak memory: docs/performance.md) ----------------------


def lock_fields(lock) -> tuple:
    return list(lock.services.items()), lock.versions, lock.edited


@pytest.mark.parametrize("piece", [1, 100, 1 << 20])
def test_lock_read_in_pieces_is_the_lock_parsed_whole_T5(seed, monkeypatch, piece):
    from snavc.resolve import lock as lock_module
    from snavc.resolve.lock import Lock

    raw = (seed() / "snav.lock").read_bytes()
    monkeypatch.setattr(lock_module, "PIECE", piece)
    whole = Lock.from_json(json.loads(raw))
    assert len(whole.services) > 10
    assert lock_fields(Lock.read(raw)) == lock_fields(whole)


def test_lock_not_laid_out_as_snavc_writes_it_is_read_whole_T5(seed, monkeypatch):
    from snavc.engine.inputs import read_lock
    from snavc.resolve import lock as lock_module
    from snavc.resolve.lock import Lock

    repo = seed()
    raw = (repo / "snav.lock").read_bytes()
    expected = lock_fields(Lock.from_json(json.loads(raw)))
    monkeypatch.setattr(lock_module, "PIECE", 1)
    first = raw.index(b'":"', raw.index(b'"services":{')) + 2
    split = raw[:first] + b"\n" + raw[first:]  # an entry on two lines: still JSON
    assert json.loads(split) == json.loads(raw)
    layouts = [
        json.dumps(json.loads(raw), indent=2).encode(),  # a tool's layout
        split,
    ]
    for other in layouts:
        assert Lock.read(other) is None
        (repo / "snav.lock").write_bytes(other)
        diags: list = []
        assert lock_fields(read_lock(repo, diags)) == expected
        assert diags == []
    # a second "services" section: the whole document's last one counts (none here)
    again = raw.replace(b'\n"versions":', b'\n"services":{},\n"versions":')
    assert Lock.read(again) is None
    assert Lock.from_json(json.loads(again)).services == {}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param(
            lambda raw: raw.replace(b'"\n},\n"versions"', b'",\n},\n"versions"'),
            "snav.lock: error[SNV112] snav.lock cannot be read (trailing comma",
            id="trailing-comma",
        ),
        pytest.param(
            lambda raw: raw.replace(b'"srv-file-02/cpu":"', b'"srv-file-02/cpu":"nope', 1),
            "error[SNV112] snav.lock is not a valid lock: service 'srv-file-02/cpu' names "
            "version 'nope",
            id="missing-version",
        ),
    ],
)
def test_lock_laid_out_as_snavc_writes_it_but_invalid_SNV112(seed, tmp_path, change, message):
    """The pieces' parse gives up; the whole document's says what is wrong, as it did."""
    repo = seed()
    path = repo / "snav.lock"
    body = change(path.read_bytes())
    assert body != path.read_bytes()
    path.write_bytes(body)
    result = snav("build", repo, "-o", tmp_path / "out", exit_code=1)
    assert message in result.output
    assert path.read_bytes() == body


@pytest.mark.parametrize("lines", [1, 2, 3, 4096])
def test_the_lock_is_written_in_pieces_as_dumps_writes_it_T5(seed, tmp_path, lines):
    from snavc.engine.emit import dumps, iter_pieces, write_atomic

    document = json.loads((seed() / "snav.lock").read_bytes())
    assert json.loads(dumps(document)) == document  # (its bytes: tests/test_dumps.py)
    assert b"".join(data for _, _, data in iter_pieces(document, lines)) == dumps(document).encode()
    write_atomic(tmp_path / "snav.lock", document)
    assert (tmp_path / "snav.lock").read_bytes() == dumps(document).encode()


@pytest.mark.parametrize("slash", [False, True])
def test_the_new_lock_holds_its_services_in_their_sorted_order_T5(slash):
    """finish() makes the IDs in their order ("a-b/x" before "a/z": "-" sorts before
    "/"), the old lock's entries kept and the changes taken; an equipment ID with a
    "/" (not one the models accept) is sorted after."""
    from snavc.resolve.lock import Lock, LockState

    units = {"a": ["z", "b"], "a-b": ["x"], "a.b": ["c", "a"], "a0": ["a"], "b": ["q"]}
    if slash:
        units["a/c"] = ["d"]
    old = Lock({"v0": {"template": "t"}}, {"b/q": "v0", "gone/x": "v0"})
    state = LockState(old, frozenset())
    for eq, names in units.items():
        for name in names:
            if eq != "b":
                state._change(f"{eq}/{name}", "v1", {"template": "t"})
    lock = state.finish(units)
    expected = sorted(f"{eq}/{name}" for eq, names in units.items() for name in names)
    assert list(lock.services) == expected
    assert lock.services["b/q"] == "v0" and lock.services["a-b/x"] == "v1"
    assert list(lock.versions) == ["v0", "v1"] and state.removed == 1 and state.changed
