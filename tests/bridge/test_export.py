"""`snavc export`: modes, objects only the product has, objects the product lacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from snavc.bridge import csvio

from .conftest import HOSTS, copy_repo, cut_equipment, edit_object, leaf_host, run
from .test_roundtrip import cells


def _new_host(repo, path_marker='servicenav_id: "20003"'):
    """Add an equipment without a servicenav_id beside host 20003, on the same box."""
    path = edit_object(repo, path_marker, "kind: Equipment", "kind: Equipment")
    text = path.read_text(encoding="utf-8")
    at = text.index(path_marker)
    box = text[at:].split("\nbox: ", 1)[1].split("\n", 1)[0]
    where = text[at:].split("\nat: ", 1)[1].split("\n", 1)[0]
    path.write_text(
        text
        + f"---\nkind: Equipment\nid: new-host\nname: New host\nat: {where}\naddress: 192.0.2.50\n"
        f"box: {box}\n",
        encoding="utf-8",
    )
    return path


def test_a_new_object_is_a_row_without_an_id_and_the_modes_choose_rows(estates, tmp_path):
    exports, repo, _ = estates("en")
    repo = copy_repo(repo, tmp_path / "repo")
    _new_host(repo)
    run("build", repo, "-o", tmp_path / "build")
    like = exports / "hosts.csv"
    run("export", tmp_path / "build", "--like", like, "-o", tmp_path / "both")
    header, rows = cells(tmp_path / "both" / "hosts.csv")
    new = rows[""]
    assert new[header.index("Name")] == "New host"
    assert new[header.index("IP address or DNS name")] == "192.0.2.50"
    assert new[header.index("Status")] == ""  # unknown columns of a new row: empty
    # the tree's columns as the other rows of its company give them (none were written)
    company = header.index("Company ID")
    sibling = next(r for k, r in rows.items() if k and r[company] == new[company])
    for column in ("Parent company name", "Parent company ID"):
        if column in header:
            assert new[header.index(column)] == sibling[header.index(column)]
    ref = like.read_bytes()
    both = (tmp_path / "both" / "hosts.csv").read_bytes()
    assert both.startswith(ref)  # the reference's rows unchanged, the new one after them
    run("export", tmp_path / "build", "--like", like, "-o", tmp_path / "upd", "--mode", "update")
    assert (tmp_path / "upd" / "hosts.csv").read_bytes() == ref
    result = run(
        "export", tmp_path / "build", "--like", like, "-o", tmp_path / "cre", "--mode", "create"
    )
    _, only_new = cells(tmp_path / "cre" / "hosts.csv")
    assert list(only_new) == [""]
    assert "0 updated, 1 created, 0 unchanged" in result.output


def test_objects_only_the_product_has_are_listed_never_written(estates, tmp_path):
    exports, repo, _ = estates("en")
    repo = copy_repo(repo, tmp_path / "repo")
    gone = leaf_host(exports / "hosts.csv")
    cut_equipment(repo, gone)
    line = next(
        i
        for i, x in enumerate((exports / "hosts.csv").read_text().splitlines(), 1)
        if x.startswith(gone + ",")
    )
    run("build", repo, "-o", tmp_path / "build")
    result = run(
        "export",
        tmp_path / "build",
        "--like",
        exports / "hosts.csv",
        "-o",
        tmp_path / "out",
        "--format",
        "json",
    )
    data = json.loads(result.output)
    [hosts] = data["files"]
    assert [(x["id"], x["line"]) for x in hosts["not_in_build"]] == [(gone, line)]
    _, rows = cells(tmp_path / "out" / "hosts.csv")
    assert gone not in rows and len(rows) == HOSTS - 1
    [warning] = [d for d in data["diagnostics"] if d["code"] == "SNV808"]
    assert (warning["file"], warning["line"]) == ("hosts.csv", line)


def test_a_box_the_product_does_not_know_stops_the_export(estates, tmp_path):
    exports, repo, _ = estates("en")
    repo = copy_repo(repo, tmp_path / "repo")
    path = edit_object(repo, 'servicenav_id: "20003"', "\nbox: ", "\nbox: lab-box\nx_box: ")
    text = path.read_text(encoding="utf-8")
    path.write_text(
        "\n".join(line for line in text.splitlines() if not line.startswith("x_box: "))
        + "\n"
        + "---\nkind: Box\nid: lab-box\nat: "
        + text.split('servicenav_id: "20003"\nat: ', 1)[1].split("\n", 1)[0]
        + "\n",
        encoding="utf-8",
    )
    run("build", repo, "-o", tmp_path / "build")
    result = run(
        "export",
        tmp_path / "build",
        "--like",
        exports / "hosts.csv",
        "-o",
        tmp_path / "out",
        exit_code=1,
    )
    line = next(r.line for r in csvio.read(exports / "hosts.csv").records if r.cells[0] == "20003")
    assert f"hosts.csv:{line}: error[SNV807] equipment" in result.output
    assert "refers to box 'lab-box', which no row of the reference exports names" in result.output
    assert not (tmp_path / "out").exists()


def test_a_reference_row_that_cannot_be_read_stops_export_and_drift(estates, tmp_path):
    exports, _repo, build = estates("en")
    broken = tmp_path / "hosts.csv"
    lines = (exports / "hosts.csv").read_bytes().split(b"\r\n")
    lines[3] = lines[3] + b",extra"
    broken.write_bytes(b"\r\n".join(lines))
    result = run("export", build, "--like", broken, "-o", tmp_path / "out", exit_code=1)
    line = b"\r\n".join(lines[:3]).count(b"\n") + 2  # the physical line of the 4th record
    assert (
        f"hosts.csv:{line}: error[SNV803] row cannot be read: 30 cells where the header has 29"
        in (result.output)
    )
    assert not (tmp_path / "out").exists()
    result = run("drift", build, "--export", broken, "--format", "json", exit_code=1)
    assert '"code": "SNV803"' in result.output


def test_an_unchanged_row_keeps_its_bytes_whatever_its_quoting(estates, tmp_path):
    exports, _repo, build = estates("en")
    ref = (exports / "hosts.csv").read_bytes().split(b"\r\n")
    # quotes the product may put where the csv module would not, and a space after one
    ref[5] = b",".join(
        b'"' + c + b'"' if i in (0, 1) else c for i, c in enumerate(ref[5].split(b","))
    )
    like = tmp_path / "like" / "hosts.csv"
    like.parent.mkdir()
    like.write_bytes(b"\r\n".join(ref))
    run("export", build, "--like", like, "-o", tmp_path / "out")
    assert (tmp_path / "out" / "hosts.csv").read_bytes() == like.read_bytes()


def test_export_never_overwrites_its_reference(estates, tmp_path):
    exports, _repo, build = estates("en")
    before = (exports / "hosts.csv").read_bytes()
    result = run("export", build, "--like", exports / "hosts.csv", "-o", exports, exit_code=2)
    assert "would overwrite the reference" in result.output
    assert (exports / "hosts.csv").read_bytes() == before


def test_export_never_writes_into_a_build(estates, tmp_path):
    """The next build replaces its whole output folder: CSVs written there would go."""
    exports, _repo, build = estates("en")
    for target in (build, build / "csv"):
        result = run("export", build, "--like", exports / "hosts.csv", "-o", target, exit_code=2)
        assert "which the next build replaces" in result.output
    assert not (build / "hosts.csv").exists() and not (build / "csv").exists()


def test_changed_only_leaves_out_the_unchanged_rows(estates, tmp_path):
    exports, repo, _ = estates("fr")
    repo = copy_repo(repo, tmp_path / "repo")
    edit_object(repo, 'servicenav_id: "20007"', 'address: "10.0.0.7"', 'address: "192.0.2.7"')
    run("build", repo, "-o", tmp_path / "build")
    like = exports / "hosts.csv"
    result = run(
        "export", tmp_path / "build", "--like", like, "-o", tmp_path / "out", "--changed-only"
    )
    assert "1 updated, 0 created" in result.output
    header, rows = cells(tmp_path / "out" / "hosts.csv")
    assert list(rows) == ["20007"]
    assert rows["20007"][header.index("Adresse IP ou nom DNS")] == "192.0.2.7"
    assert (
        (tmp_path / "out" / "hosts.csv").read_bytes().startswith(like.read_bytes().split(b"\n")[0])
    )


def test_several_files_are_replaced_all_or_none(tmp_path):
    from .conftest import small_estate

    hosts, services, _repo, build = small_estate(tmp_path / "e")
    out = tmp_path / "k"
    (out / "services.csv").mkdir(parents=True)  # the second file cannot be written
    (out / "hosts.csv").write_text("the previous export\n", encoding="utf-8")
    result = run("export", build, "--like", hosts, "--like", services, "-o", out, exit_code=1)
    assert f"snavc: cannot write {out / 'services.csv'}: Is a directory" in result.output
    assert ".services.csv." not in result.output
    assert (out / "hosts.csv").read_text(encoding="utf-8") == "the previous export\n"
    assert sorted(p.name for p in out.iterdir()) == ["hosts.csv", "services.csv"]
    (out / "services.csv").rmdir()
    run("export", build, "--like", hosts, "--like", services, "-o", out)
    assert (out / "hosts.csv").read_bytes() == hosts.read_bytes()
    assert (out / "services.csv").read_bytes() == services.read_bytes()


def test_a_write_that_fails_replaces_nothing(tmp_path, monkeypatch):
    from .conftest import small_estate

    hosts, services, _repo, build = small_estate(tmp_path / "e")
    out = tmp_path / "k"
    out.mkdir()
    for name in ("hosts.csv", "services.csv"):
        (out / name).write_text("previous\n", encoding="utf-8")
    real_open = open

    def full_disk(path, mode="r", *args, **kwargs):
        if "w" in mode and Path(path).name.startswith(".services.csv."):
            raise OSError(28, "No space left on device", str(path))
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr("builtins.open", full_disk)
    result = run("export", build, "--like", hosts, "--like", services, "-o", out, exit_code=1)
    monkeypatch.undo()
    assert f"cannot write {out / 'services.csv'}: No space left on device" in result.output
    assert [(p.name, p.read_text()) for p in sorted(out.iterdir())] == [
        ("hosts.csv", "previous\n"),
        ("services.csv", "previous\n"),
    ]


RENAME_HEADER = (
    "ID,Name,IP address or DNS name,Company Name,Company ID,Collector name,Collector ID\n"
)


def _imported(tmp_path, rows: str):
    (tmp_path / "before.csv").write_text(RENAME_HEADER + rows, encoding="utf-8")
    run("import", tmp_path / "before.csv", "-o", tmp_path / "repo")
    run("build", tmp_path / "repo", "-o", tmp_path / "build")
    return tmp_path / "build"


@pytest.mark.parametrize(
    "after, word",
    [
        (  # company 200 renamed, a new company takes its old name
            "1,a,10.0.0.1,Client Z,200,Box A,500\n3,c,10.0.0.3,Client A,202,Box A2,502\n",
            "company",
        ),
        (  # box 500 renamed, a new box takes its old name
            "1,a,10.0.0.1,Client A,200,Box B,500\n3,c,10.0.0.3,Client A,200,Box A,501\n",
            "collector",
        ),
    ],
)
def test_a_rename_in_the_product_is_not_taken_for_a_move(tmp_path, after, word):
    """Node and box IDs come from names: after a rename in the product, with a new object
    under the old name, the build's node or box names the new one. Writing its ID would
    move the host to another company or box (exit 0): refused at the row, nothing written,
    and drift says the same rather than showing a move."""
    build = _imported(tmp_path, "1,a,10.0.0.1,Client A,200,Box A,500\n")
    (tmp_path / "after.csv").write_text(RENAME_HEADER + after, encoding="utf-8")
    result = run(
        "export", build, "--like", tmp_path / "after.csv", "-o", tmp_path / "o", exit_code=1
    )
    assert "after.csv:2: error[SNV804] equipment 'a': its " + word in result.output
    assert "renamed in the product?" in result.output and not (tmp_path / "o").exists()
    drift = run("drift", build, "--export", tmp_path / "after.csv", exit_code=1).output
    assert "renamed in the product?" in drift and "~ equipment a" not in drift


def test_a_move_in_git_to_a_known_company_is_exported(tmp_path):
    """What the check lets through: the host's company in the product is a node of the
    build, so the build's other node is a move git asks for."""
    build_rows = "1,a,10.0.0.1,Client A,200,Box A,500\n2,b,10.0.0.2,Client B,201,Box A,500\n"
    build = _imported(tmp_path, build_rows)
    repo = tmp_path / "repo"
    [eq_file] = [p for p in repo.rglob("*.yaml") if "id: a\n" in p.read_text(encoding="utf-8")]
    text = eq_file.read_text(encoding="utf-8")
    assert "at: client-a\n" in text
    eq_file.write_text(text.replace("at: client-a\n", "at: client-b\n"), encoding="utf-8")
    run("build", repo, "-o", build)
    (tmp_path / "ref.csv").write_text(RENAME_HEADER + build_rows, encoding="utf-8")
    run("export", build, "--like", tmp_path / "ref.csv", "-o", tmp_path / "o")
    rows = (tmp_path / "o" / "ref.csv").read_text(encoding="utf-8").splitlines()
    assert rows[1] == "1,a,10.0.0.1,Client B,201,Box A,500"
