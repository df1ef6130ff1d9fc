"""Rows that disagree about the companies (a cycle of parents, two names for one ID,
two parents for one company): the first rows win, each other one is a warning at its
row (SNV811); `import --check` reports every problem at a row, or at a path that opens."""

from __future__ import annotations

import json
import os

from snavc.bridge import csvio
from snavc.bridge.importer import check_imported, import_exports, write_repo

from .conftest import run

HEADER = (
    "ID,Name,IP address or DNS name,Company Name,Company ID,Parent company name,"
    "Parent company ID,Collector name,Collector ID\n"
)
CYCLE = (
    HEADER + "1,a,10.0.0.1,Comp A,200,Comp B,201,Box A,500\n"
    "2,b,10.0.0.2,Comp B,201,Comp A,200,Box A,500\n"
)


def test_a_cycle_of_parent_companies_is_broken_at_its_latest_row_with_a_warning(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cc.csv").write_text(CYCLE, encoding="utf-8")
    result = run("import", "cc.csv", "-o", "sub/cc", "--check", "--format", "json")
    data = json.loads(result.stdout)
    assert [(d["code"], d["file"], d["line"]) for d in data["diagnostics"]] == [
        ("SNV811", "cc.csv", 3)
    ]
    [d] = data["diagnostics"]
    assert d["message"].startswith(
        "parent companies form a cycle ('Comp B' -> 'Comp A' -> 'Comp B')"
    )
    assert "the parent of 'Comp B' on this row is left out" in d["message"]
    # Comp B, with no parent left, is the partner; Comp A its client (row 2 kept)
    assert "kind: Partner\nid: comp-b\n" in (tmp_path / "sub/cc/comp-b/partner.yaml").read_text()
    client = (tmp_path / "sub/cc/clients/comp-a/client.yaml").read_text()
    assert "parent: comp-b\n" in client


def test_a_longer_cycle_below_a_root_is_broken_once(tmp_path):
    hosts = (
        HEADER + "1,r,10.0.0.1,Root,1,,,Box,9\n"
        "2,a,10.0.0.2,A,10,C,12,Box,9\n"
        "3,b,10.0.0.3,B,11,A,10,Box,9\n"
        "4,c,10.0.0.4,C,12,B,11,Box,9\n"
    )
    (tmp_path / "h.csv").write_text(hosts, encoding="utf-8")
    res = import_exports(csvio.read(tmp_path / "h.csv"), None)
    # (A ends three levels below the root: a sub-site, attached to its client C)
    assert [(d.code, d.line) for d in res.diagnostics] == [("SNV811", 5), ("SNV805", 4)]
    assert "('C' -> 'B' -> 'A' -> 'C')" in res.diagnostics[0].message
    # C has no parent left: below the export's one root, as a company seen only as parent
    assert "parent: root\n" in res.files["clients/c/client.yaml"]


def test_an_id_named_twice_or_a_company_with_two_parents_is_a_warning_at_the_later_row(tmp_path):
    hosts = (
        HEADER + "1,a,10.0.0.1,Shop,7,Partner,1,Box,9\n"
        "2,b,10.0.0.2,Shop Renamed,7,Partner,1,Box,9\n"
        "3,c,10.0.0.3,Shop,7,Other Partner,2,Box Two,9\n"
        "4,d,10.0.0.4,Shop Renamed,7,Partner,1,Box,9\n"
    )
    (tmp_path / "h.csv").write_text(hosts, encoding="utf-8")
    res = import_exports(csvio.read(tmp_path / "h.csv"), None)
    assert [(d.code, d.line, d.message) for d in res.diagnostics] == [
        (
            "SNV811",
            3,
            "company ID 7 is named 'Shop Renamed' here and 'Shop' on h.csv:2: the first name "
            "is kept",
        ),
        (
            "SNV811",
            4,
            "company ID 7 has parent company ID 2 here and 1 on h.csv:2: the first is kept",
        ),
        (
            "SNV811",
            4,
            "collector ID 9 is named 'Box Two' here and 'Box' on h.csv:2: the first name is kept",
        ),
    ]
    assert 'name: "Shop"\nparent: partner\n' in res.files["clients/shop/client.yaml"]


def test_check_reports_a_stub_s_problem_at_the_row_that_named_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "h.csv").write_text(
        HEADER + "1,a,10.0.0.1,Shop,7,Partner,1,Box,9\n2,b,10.0.0.2,Shop,7,Partner,1,Box,9\n",
        encoding="utf-8",
    )
    res = import_exports(csvio.read(tmp_path / "h.csv"), None)
    # a client stub the user would break: its problem has no `# from` row of its own
    res.files["clients/shop/client.yaml"] += "crm_ref: 5\n"
    # and a file with no object from a row
    res.files["extra.yaml"] = "kind: Label\nid: x\nname: X\nat: nowhere\n"
    write_repo(res, tmp_path / "sub" / "r")
    found = check_imported(os.path.join("sub", "r"), res)
    shown = [(d.code, d.file, d.line) for d in found]
    assert ("SNV809", "h.csv", 2) in shown  # the client stub: first named on row 2
    [stub] = [d for d in found if d.code == "SNV809"]
    assert stub.related[0].file == "sub/r/clients/shop/client.yaml"
    assert [d.file for d in found if d.code != "SNV809"] == ["sub/r/extra.yaml"]
