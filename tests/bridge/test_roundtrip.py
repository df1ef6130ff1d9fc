"""The round trip: a product export -> import -> build -> export like it.

Byte-identical when nothing changed; after an edit in YAML, different exactly in the
changed cells.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from .conftest import copy_repo, edit_object, run


def cells(path: Path) -> tuple[list[str], dict[str, list[str]]]:
    text = path.read_bytes().decode("utf-8-sig")
    sep = ";" if text.startswith('"ID";') else ","
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=sep))
    return rows[0], {r[0]: r for r in rows[1:]}


def changed_cells(a: Path, b: Path) -> set[tuple[str, str, str]]:
    """``(row ID, header, new text)`` of every cell that differs; rows must match."""
    header, old = cells(a)
    header_b, new = cells(b)
    assert header == header_b and old.keys() == new.keys()
    return {
        (rid, header[i], new[rid][i])
        for rid in old
        for i in range(len(header))
        if old[rid][i] != new[rid][i]
    }


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_nothing_changed_gives_the_same_bytes(estates, lang, tmp_path):
    exports, _repo, build = estates(lang)
    out = tmp_path / "out"
    result = run(
        "export",
        build,
        "--like",
        exports / "hosts.csv",
        "--like",
        exports / "services.csv",
        "-o",
        out,
    )
    assert "0 updated, 0 created" in result.output
    for name in ("hosts.csv", "services.csv"):
        assert (out / name).read_bytes() == (exports / name).read_bytes(), name


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_an_edit_in_yaml_changes_exactly_its_cells(estates, lang, tmp_path):
    exports, repo, _build = estates(lang)
    repo = copy_repo(repo, tmp_path / "repo")
    header, services = cells(exports / "services.csv")
    en = lang == "en"
    crit = header.index("Criticality" if en else "Criticité")
    template = header.index("Service template" if en else "Modèle de service")
    warning = header.index("Warning threshold" if en else "Seuil d'avertissement")
    cpu = next(r for r in services.values() if r[template] == "CPU" and r[crit] == "3")
    warned = next(r for r in services.values() if r[warning] == "~:90")
    edit_object(repo, 'servicenav_id: "20007"', 'address: "10.0.0.7"', 'address: "192.0.2.7"')
    edit_object(
        repo, f'servicenav_id: "{cpu[0]}"', "    template: ", "    criticality: 1\n    template: "
    )
    edit_object(repo, f'servicenav_id: "{warned[0]}"', 'warning: "~:90"', 'warning: "~:85"')
    run("build", repo, "-o", tmp_path / "build")
    out = tmp_path / "out"
    run(
        "export",
        tmp_path / "build",
        "--like",
        exports / "hosts.csv",
        "--like",
        exports / "services.csv",
        "-o",
        out,
    )
    address = "IP address or DNS name" if lang == "en" else "Adresse IP ou nom DNS"
    criticality = "Criticality" if lang == "en" else "Criticité"
    assert changed_cells(exports / "hosts.csv", out / "hosts.csv") == {
        ("20007", address, "192.0.2.7")
    }
    warning_header = "Warning threshold" if lang == "en" else "Seuil d'avertissement"
    assert changed_cells(exports / "services.csv", out / "services.csv") == {
        (cpu[0], criticality, "1"),
        (warned[0], warning_header, "~:85"),
    }
    # the other rows are the reference's bytes
    ref, new = (exports / "hosts.csv").read_bytes(), (out / "hosts.csv").read_bytes()
    assert len(new.splitlines()) == len(ref.splitlines())
    assert sum(a != b for a, b in zip(ref.splitlines(), new.splitlines(), strict=True)) == 1


def test_the_sample_exports_round_trip(tmp_path):
    samples = Path(__file__).resolve().parents[2] / "samples" / "servicenav"
    hosts, services = samples / "hosts.csv", samples / "services.csv"
    result = run("import", hosts, services, "-o", tmp_path / "repo", "--check")
    assert "imported 20 hosts, 94 unit services (fr headers)" in result.output
    run("build", tmp_path / "repo", "-o", tmp_path / "build")
    run("export", tmp_path / "build", "--like", hosts, "--like", services, "-o", tmp_path / "out")
    assert (tmp_path / "out" / "hosts.csv").read_bytes() == hosts.read_bytes()
    assert (tmp_path / "out" / "services.csv").read_bytes() == services.read_bytes()


def test_a_parent_host_in_no_row_is_carried_over_not_cleared(tmp_path):
    from .conftest import SMALL_HOSTS, small_estate

    # host 2's parents: host 1, and host 99 that no row of the export names
    hosts_text = SMALL_HOSTS.replace(",,,,1\n", ",,,,1,99\n").replace(
        "Parent host IDs", '"Parent host IDs"'
    )
    hosts_text = hosts_text.replace(",1,99\n", ',"1,99"\n')
    hosts, services, repo, build = small_estate(tmp_path / "e", hosts_text)
    assert "parents: [web]\n" in (repo / "clients/shop/equipment.yaml").read_text()
    out = tmp_path / "out"
    result = run("export", build, "--like", hosts, "--like", services, "-o", out)
    assert "0 updated, 0 created" in result.output
    assert (out / "hosts.csv").read_bytes() == hosts.read_bytes()
    result = run("drift", build, "--export", hosts, "--export", services, "--detailed-exitcode")
    assert "+0 added, ~0 changed, -0 removed" in result.output
    # a parent the build drops that the export knows (host 1) is still a change
    repo_file = repo / "clients/shop/equipment.yaml"
    repo_file.write_text(repo_file.read_text().replace("parents: [web]\n", ""))
    run("build", repo, "-o", tmp_path / "b2")
    run("export", tmp_path / "b2", "--like", hosts, "-o", tmp_path / "out2")
    _header, rows = cells(tmp_path / "out2" / "hosts.csv")
    assert rows["2"][-1] == "99"


def test_an_empty_cell_a_service_takes_from_its_template_stays_empty(tmp_path):
    """Two services of one template, one with no check interval in the product: the
    import gives the template the other's value, which the second takes; the export
    wrote it into the empty cell (a value the product did not have). Empty stays empty
    while the service sets none itself; a value set in git is written."""
    sample = Path(__file__).resolve().parents[2] / "samples" / "servicenav"
    text = (sample / "services.csv").read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    col, tcol = (
        rows[0].index("Intervalle de contrôle (min)"),
        rows[0].index("ID du modèle de service"),
    )
    first = next(i for i in range(1, len(rows)) if rows[i][tcol] == rows[1][tcol] and i > 1)
    rows[first][col] = ""
    out = io.StringIO()
    csv.writer(out, delimiter=";", quoting=csv.QUOTE_ALL, lineterminator="\r\n").writerows(rows)
    services = tmp_path / "services.csv"
    services.write_text("\ufeff" + out.getvalue(), encoding="utf-8", newline="")
    run("import", sample / "hosts.csv", services, "-o", tmp_path / "repo")
    run("build", tmp_path / "repo", "-o", tmp_path / "build")
    run("export", tmp_path / "build", "--like", services, "-o", tmp_path / "out")
    assert (tmp_path / "out" / "services.csv").read_bytes() == services.read_bytes()
    sid = rows[first][0]
    [eq_file] = [p for p in (tmp_path / "repo").rglob("*.yaml") if f'"{sid}"' in p.read_text()]
    text = eq_file.read_text(encoding="utf-8")
    mark = f'    servicenav_id: "{sid}"\n'
    eq_file.write_text(text.replace(mark, mark + "    check_interval: 180\n"), encoding="utf-8")
    run("build", tmp_path / "repo", "-o", tmp_path / "build")
    run("export", tmp_path / "build", "--like", services, "-o", tmp_path / "out2")
    _, found = cells(tmp_path / "out2" / "services.csv")
    assert found[sid][col] == "3"  # 180 s, in minutes


def test_one_argument_changed_keeps_the_cells_order(tmp_path):
    """`url=/health;port=443` with port changed is `url=/health;port=8443`, not the
    pairs sorted by name (`port=8443;url=/health`): one change, one pair."""
    sample = Path(__file__).resolve().parents[2] / "samples" / "servicenav"
    run("import", sample / "hosts.csv", sample / "services.csv", "-o", tmp_path / "repo")
    header, rows = cells(sample / "services.csv")
    col = header.index("Arguments")
    sid = next(i for i, r in rows.items() if r[col] == "url=/health;port=443")
    edit_object(tmp_path / "repo", f'servicenav_id: "{sid}"', 'port: "443"', 'port: "8443"')
    run("build", tmp_path / "repo", "-o", tmp_path / "build")
    run("export", tmp_path / "build", "--like", sample / "services.csv", "-o", tmp_path / "out")
    _, out = cells(tmp_path / "out" / "services.csv")
    assert out[sid][col] == "url=/health;port=8443"
