"""`snavc drift` finds every planted difference, reported like `snavc diff`."""

from __future__ import annotations

import json

from .conftest import copy_repo, edit_object, run
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
    # in git: an address changed, a host removed, a host added
    edit_object(repo, 'servicenav_id: "20007"', 'address: "10.0.0.7"', 'address: "192.0.2.7"')
    path = edit_object(repo, 'servicenav_id: "20008"', "kind: Equipment", "kind: Equipment")
    text = path.read_text(encoding="utf-8")
    start = text.rfind("---\n", 0, text.index('servicenav_id: "20008"'))
    end = text.find("---\n", text.index('servicenav_id: "20008"'))
    removed = text[start + 4 if start >= 0 else 0 : end if end >= 0 else len(text)]
    removed_id = removed.split("\nid: ", 1)[1].split("\n", 1)[0]
    path.write_text(text.replace(removed, ""), encoding="utf-8")
    added = removed.replace(f"id: {removed_id}\n", "id: brand-new\n").replace(
        'servicenav_id: "20008"\n', ""
    )
    added = "\n".join(l for l in added.splitlines() if "servicenav_id" not in l) + "\n"
    path.write_text(
        path.read_text(encoding="utf-8").rstrip("-\n") + "\n---\n" + added, encoding="utf-8"
    )
    run("build", repo, "-o", tmp_path / "build")
    # in the product: a service's criticality changed, a service row gone
    header, services = cells(exports / "services.csv")
    crit = header.index("Criticité")
    changed_row = next(r for r in services.values() if r[crit] == "3")
    gone = next(
        r
        for r in services.values()
        if r[0] != changed_row[0]
        and r[header.index("ID de l'équipement")] not in ("20007", "20008")
    )
    data = (exports / "services.csv").read_bytes().decode("utf-8")
    lines = data.split("\n")
    lines = [l for l in lines if not l.startswith(f'"{gone[0]}";')]
    lines = [
        l.replace(f'"{changed_row[0]}";', f'"{changed_row[0]}";', 1)
        if not l.startswith(f'"{changed_row[0]}";')
        else _set_cell(l, crit, "5")
        for l in lines
    ]
    product = tmp_path / "services.csv"
    product.write_bytes("\n".join(lines).encode("utf-8"))
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
    found = {(c["op"], c["kind"], c["id"], c["path"]) for c in report["changes"]}
    eq_of = {r[0]: r for r in services.values()}
    host_of = lambda sid: eq_of[sid][header.index("ID de l'équipement")]  # noqa: E731
    assert ("changed", "equipment", _eq_id(repo, "20007"), "address") in found
    assert ("removed", "equipment", removed_id, None) in found
    assert ("added", "equipment", "brand-new", None) in found
    assert any(
        op == "changed" and kind == "unit-service" and path == "criticality"
        for op, kind, _i, path in found
    )
    assert any(op == "added" and kind == "unit-service" for op, kind, _i, _p in found)
    # the removed host's services are in the product only too; the added host's in git only
    others = {f for f in found if f[1] == "unit-service" and f[0] == "removed"}
    assert len(others) == sum(
        1 for r in services.values() if r[header.index("ID de l'équipement")] == "20008"
    )
    assert report["summary"]["changed"] == 2
    del host_of


def _set_cell(line: str, index: int, value: str) -> str:
    parts = line.split('";"')
    parts[index] = value
    return '";"'.join(parts)


def _eq_id(repo, sid: str) -> str:
    for path in repo.rglob("equipment.yaml"):
        text = path.read_text(encoding="utf-8")
        at = text.find(f'servicenav_id: "{sid}"')
        if at >= 0:
            return text[:at].rsplit("\nid: ", 1)[1].split("\n", 1)[0]
    raise AssertionError(sid)
