"""`snavc drift` finds every planted difference, reported like `snavc diff`."""

from __future__ import annotations

import json

from .conftest import copy_repo, cut_equipment, edit_object, leaf_host, run
from .test_roundtrip import cells


def test_no_drift_right_after_the_import(estates):
    exports, _repo, build = estates("en")
    result = run(
        "drift",
        build,
        "--export",
        exports / "hosts.csv",
        "--export",
        exports / "services.csv",
        "--detailed-exitcode",
        exit_code=0,
    )
    assert "+0 added, ~0 changed, -0 removed" in result.output


def test_drift_finds_every_planted_difference(estates, tmp_path):
    exports, repo, _build = estates("fr")
    repo = copy_repo(repo, tmp_path / "repo")
    header, services = cells(exports / "services.csv")
    host_col, crit = header.index("ID de l'équipement"), header.index("Criticité")
    # git: one address changed; host 20008 gone; a copy of it, without IDs, added
    edit_object(repo, 'servicenav_id: "20007"', 'address: "10.0.0.7"', 'address: "192.0.2.7"')
    gone = leaf_host(exports / "hosts.csv")
    gone_id, doc = cut_equipment(repo, gone)
    doc = doc.rstrip("-\n").replace(f"\nid: {gone_id}\n", "\nid: brand-new\n")
    doc = "".join(x for x in doc.splitlines(keepends=True) if "servicenav_id" not in x)
    (repo / "new.yaml").write_text(doc.replace("name: ", "name: New ", 1), encoding="utf-8")
    run("build", repo, "-o", tmp_path / "build")
    # the product: one service's criticality changed, one service row deleted
    changed = next(r for r in services.values() if r[crit] == "3" and r[host_col] == "20010")
    deleted = next(r for r in services.values() if r[host_col] == "20011")
    rows = []
    for line in (exports / "services.csv").read_text(encoding="utf-8").split("\n"):
        if line.startswith(f'"{deleted[0]}";'):
            continue
        if line.startswith(f'"{changed[0]}";'):
            parts = line.split('";"')
            parts[crit] = "5"
            line = '";"'.join(parts)
        rows.append(line)
    product = tmp_path / "services.csv"
    product.write_text("\n".join(rows), encoding="utf-8")
    result = run(
        "drift",
        tmp_path / "build",
        "--export",
        exports / "hosts.csv",
        "--export",
        product,
        "--format",
        "json",
        "--detailed-exitcode",
        exit_code=2,
    )
    report = json.loads(result.output)
    found = {
        (c["op"], c["kind"], c["id"], c["path"], str(c["old"]), str(c["new"]))
        for c in report["changes"]
        if c["op"] == "changed"
    }
    eq = {s: _eq_id(repo, s) for s in ("20007", "20010", "20011")}
    svc_changed = f"{eq['20010']}/{_service_name(repo, changed[0])}"
    assert found == {
        ("changed", "equipment", eq["20007"], "address", "10.0.0.7", "192.0.2.7"),
        ("changed", "unit-service", svc_changed, "criticality", "5", "3"),
    }
    ops = {(c["op"], c["kind"], c["id"]) for c in report["changes"] if c["op"] != "changed"}
    n_gone = sum(1 for r in services.values() if r[host_col] == gone)
    assert ("removed", "equipment", gone_id) in ops
    assert ("added", "equipment", "brand-new") in ops
    assert ("added", "unit-service", f"{eq['20011']}/{_service_name(repo, deleted[0])}") in ops
    assert sum(1 for o in ops if o[:2] == ("removed", "unit-service")) == n_gone
    assert sum(1 for o in ops if o[:2] == ("added", "unit-service")) == n_gone + 1
    assert len(ops) == 2 * n_gone + 3
    # grouped by partner, client and site, like diff
    text = run("drift", tmp_path / "build", "--export", exports / "hosts.csv", exit_code=0).output
    assert "~ equipment " + eq["20007"] in text


def _eq_id(repo, sid: str) -> str:
    for path in repo.rglob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        at = text.find(f'\nservicenav_id: "{sid}"')
        if at >= 0:
            return text[:at].rsplit("\nid: ", 1)[1].split("\n", 1)[0]
    raise AssertionError(sid)


def _service_name(repo, sid: str) -> str:
    for path in repo.rglob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        at = text.find(f'    servicenav_id: "{sid}"')
        if at >= 0:
            return text[:at].rsplit("  - name: ", 1)[1].split("\n", 1)[0]
    raise AssertionError(sid)


def test_the_report_never_overwrites_an_input(tmp_path):
    from .conftest import small_estate

    hosts, services, _repo, build = small_estate(tmp_path / "e")
    before = {p: p.read_bytes() for p in (hosts, services, *build.iterdir()) if p.is_file()}
    for option, target, words in (
        ("-o", hosts, f"would overwrite the export {hosts}"),
        ("-o", services, f"would overwrite the export {services}"),
        ("-o", build / "effective.json", f"is inside the build {build}"),
        ("-o", build / "sub" / "report.txt", f"is inside the build {build}"),
        ("--full-report", build / ".." / "build" / "diagnostics.json", "is inside the build"),
        ("--full-report", tmp_path / "e" / "." / "hosts.csv", "would overwrite the export"),
    ):
        result = run(
            "drift", build, "--export", hosts, "--export", services, option, target, exit_code=2
        )
        assert f"Error: {option} {target} {words}" in result.output
    assert {p: p.read_bytes() for p in before} == before
    assert not (build / "sub").exists()
    run("drift", build, "--export", hosts, "-o", tmp_path / "report.txt")
    assert "+0 added" in (tmp_path / "report.txt").read_text(encoding="utf-8")
