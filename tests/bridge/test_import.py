"""`snavc import`: rows -> a repository; unmappable rows reported by line."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from snavc.bridge import csvio
from snavc.bridge.importer import import_exports
from snavc.cli import cli


def run(*args, exit_code=0):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == exit_code, result.output
    return result


HOSTS = (
    "ID,Name,IP address or DNS name,Company Name,Company ID,Parent company name,"
    "Parent company ID,Collector name,Collector ID,Category,Host templates,Host template IDs,"
    "Criticality,Check interval (min),Labels,Label IDs,Status\r\n"
    "11,web 1,10.0.0.1,Acme,1,,,SNM,50,Linux server,Linux base,70,3,5,Prod,90,On\r\n"
    "12,web 2,10.0.0.2,Site Lyon,3,Client A,2,Box A,51,Server,Linux base,70,,,Prod,90,On\r\n"
    "13,,10.0.0.3,Client A,2,Acme,1,Box A,51,Server,,,,,,,On\r\n"
    "14,db 1,10.0.0.4,Client A,2,Acme,1,Box A,51,Toaster,,,,,,,On\r\n"
    "15,db 2,10.0.0.5,Client A,2,Acme,1,Box A,51,Server,,,high,,,,On\r\n"
    "16,db 3,10.0.0.6,Client A,2,Acme,1\r\n"
    "17,db 4,db4.example.net,Client A,2,Acme,1,SNM,50,,,,,,,,On\r\n"
)
SERVICES = (
    "ID,Name,Host ID,Service template,Service template ID,Criticality,Arguments,"
    "Warning threshold,Critical threshold\r\n"
    "101,CPU,11,CPU check,80,3,cores=all,80,95\r\n"
    "102,CPU,12,CPU check,80,4,cores=2,80,95\r\n"
    "103,Disk,99,Disk check,81,3,,,\r\n"
    "104,CPU,17,CPU check,80,3,cores=all,80,95\r\n"
)


def write(tmp_path: Path, hosts=HOSTS, services=SERVICES) -> tuple[Path, Path]:
    h, s = tmp_path / "hosts.csv", tmp_path / "services.csv"
    h.write_text(hosts, encoding="utf-8", newline="")
    s.write_text(services, encoding="utf-8", newline="")
    return h, s


def test_every_unmappable_row_is_reported_with_its_line_and_nothing_is_written(tmp_path):
    h, s = write(tmp_path)
    out = tmp_path / "repo"
    result = run("import", h, s, "-o", out, exit_code=1)
    lines = [x for x in result.output.splitlines() if ": error[" in x]
    assert lines == [
        "hosts.csv:4: error[SNV804] empty name: the row cannot be mapped",
        "hosts.csv:5: error[SNV804] Category: unknown category 'Toaster'; known: Other, WiFi "
        "terminal, Camera, Printer, UPS, Workstation, Router, SAN/NAS, Server, Linux server, "
        "Windows server, Windows Agent server, Switch, Telephone",
        "hosts.csv:6: error[SNV804] Criticality: 'high' is not a whole number",
        "hosts.csv:7: error[SNV803] row cannot be read: 7 cells where the header has 17 columns",
        "services.csv:4: error[SNV804] host ID 99 is in no row of hosts.csv: export the hosts "
        "and the unit services at the same time, from the same company",
    ]
    assert not out.exists()


def test_every_bad_cell_of_a_row_is_reported(tmp_path):
    """A row with several cells that cannot be read: each is an error at the row (one
    run says all there is to fix), and the row counts once as left out."""
    bad_host = "18,,10.0.0.8,Client A,2,Acme,1,Box A,51,Toaster,,,high,often,,,On\r\n"
    bad_service = "105,,11,CPU check,80,9,cores,80,95\r\n"
    h, s = write(tmp_path, HOSTS + bad_host, SERVICES + bad_service)
    result = run("import", h, s, "-o", tmp_path / "repo", "--skip-bad-rows")
    at_host = [x for x in result.output.splitlines() if x.startswith("hosts.csv:9: error")]
    assert sorted(x.split("] ")[1].split(":")[0] for x in at_host) == [
        "Category",
        "Check interval (min)",
        "Criticality",
        "empty name",
    ]
    at_service = [x for x in result.output.splitlines() if x.startswith("services.csv:6:")]
    assert sorted(x.split("] ")[1].split(":")[0] for x in at_service) == [
        "Arguments",
        "Criticality",
        "empty name",
    ]
    assert "; 7 rows left out" in result.output


def test_skip_bad_rows_writes_the_others_and_still_reports_them(tmp_path):
    h, s = write(tmp_path)
    out = tmp_path / "repo"
    result = run("import", h, s, "-o", out, "--skip-bad-rows", exit_code=0)
    assert "hosts.csv:4: error[SNV804] empty name" in result.output
    assert "imported 3 hosts, 3 unit services (en headers)" in result.output
    assert "; 5 rows left out" in result.output
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.yaml")) == [
        "acme/boxes.yaml",
        "acme/equipment.yaml",
        "acme/labels.yaml",
        "acme/partner.yaml",
        "acme/templates.yaml",
        "clients/client-a/client.yaml",
        "clients/client-a/equipment.yaml",
        "clients/client-a/site-lyon/boxes.yaml",
        "clients/client-a/site-lyon/equipment.yaml",
        "clients/client-a/site-lyon/site.yaml",
        "snav.yaml",
    ]


def test_objects_keep_their_ids_and_name_their_row(tmp_path):
    h, s = write(tmp_path)
    res = import_exports(csvio.read(h), csvio.read(s))
    site = res.files["clients/client-a/site-lyon/equipment.yaml"]
    assert site == (
        "# from hosts.csv:3\n"
        "kind: Equipment\n"
        "id: web-2\n"
        'name: "web 2"\n'
        'servicenav_id: "12"\n'
        "at: site-lyon\n"
        'address: "10.0.0.2"\n'
        "category: server\n"
        "template: linux-base\n"
        "box: box-a\n"
        "labels: [prod]\n"
        "services:\n"
        "  # from services.csv:3\n"
        "  - name: cpu\n"
        '    servicenav_id: "102"\n'
        "    template: cpu-check\n"
        "    criticality: 4\n"
        '    arguments: {cores: "2"}\n'
        '    thresholds: {warning: "80", critical: "95"}\n'
    )
    # a box at the deepest node above its hosts; a partner box that monitors client hosts is shared
    assert "at: site-lyon\n" in res.files["clients/client-a/site-lyon/boxes.yaml"]
    assert "at: acme\nshared: true" in res.files["acme/boxes.yaml"]
    # the service template takes the values most of its services have; arguments declared
    templates = res.files["acme/templates.yaml"]
    assert "id: cpu-check\n" in templates and "criticality: 3\n" in templates
    assert "arguments:\n  cores: null\n" in templates
    assert "check_interval: 300   # stub: no row gives it\n" in templates


def test_the_tree_comes_from_the_parent_company_columns(tmp_path):
    h, s = write(tmp_path)
    res = import_exports(csvio.read(h), csvio.read(s))
    assert res.files["acme/partner.yaml"].startswith('kind: Partner\nid: acme\nname: "Acme"\n')
    assert "kind: Client\nid: client-a\n" in res.files["clients/client-a/client.yaml"]
    assert "parent: client-a\n" in res.files["clients/client-a/site-lyon/site.yaml"]
    stubs = {(s.kind, s.id): s for s in res.stubs}
    assert stubs[("Client", "client-a")].complete == "mode (managed or resale), crm_ref"
    assert stubs[("Box", "snm")].servicenav_id == "50"
    assert stubs[("Box", "snm")].line == "hosts.csv:2"


def test_without_parent_columns_every_company_is_a_client_of_one_partner(tmp_path):
    hosts = "ID,Name,Company Name,Company ID,Collector name,Collector ID\n1,a,Shop,7,B,8\n"
    h, _ = write(tmp_path, hosts, "")
    res = import_exports(csvio.read(h), None, partner_name="My Partner")
    assert "id: my-partner" in res.files["my-partner/partner.yaml"]
    assert "parent: my-partner\n" in res.files["clients/shop/client.yaml"]


def test_a_sub_site_is_attached_to_its_client_with_a_warning(tmp_path):
    hosts = (
        "ID,Name,Company Name,Company ID,Parent company name,Parent company ID,Collector name,Collector ID\n"
        "1,a,P,1,,,B,8\n2,b,C,2,P,1,B,8\n3,c,S,3,C,2,B,8\n4,d,Floor 2,4,S,3,B,8\n"
    )
    h, _ = write(tmp_path, hosts, "")
    res = import_exports(csvio.read(h), None)
    [d] = res.diagnostics
    assert (d.code, d.file, d.line) == ("SNV805", "hosts.csv", 5)
    assert "parent: c\n" in res.files["clients/c/floor-2/site.yaml"]


def test_names_that_give_the_same_id_get_the_product_id(tmp_path):
    hosts = (
        "ID,Name,Company Name,Company ID,Collector name,Collector ID\n"
        "1,srv,Shop,7,Box,8\n2,SRV,Shop,7,Box,9\n"
    )
    h, _ = write(tmp_path, hosts, "")
    res = import_exports(csvio.read(h), None)
    eq = res.files["clients/shop/equipment.yaml"]
    assert "id: srv-1\n" in eq and "id: srv-2\n" in eq
    assert "box: box-8\n" in eq and "box: box-9\n" in eq


def test_import_refuses_a_folder_that_is_not_empty(tmp_path):
    h, s = write(tmp_path)
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "x").write_text("")
    result = run("import", h, "-o", tmp_path / "repo", "--skip-bad-rows", exit_code=2)
    assert "is not an empty folder" in result.output


def test_a_header_that_matches_no_map_names_what_is_missing(tmp_path):
    h, _ = write(tmp_path, "Hostname,Address\nx,1\n", "")
    result = run("import", h, "-o", tmp_path / "repo", exit_code=1)
    assert (
        "hosts.csv:1: error[SNV802] the header line matches no hosts/services export: missing"
        in result.output
    )


def test_json_report_lists_the_stubs(tmp_path):
    h, s = write(tmp_path)
    result = run("import", h, s, "-o", tmp_path / "r", "--skip-bad-rows", "--format", "json")
    data = json.loads(result.output)
    assert data["hosts"] == 3 and data["skipped"] == 5
    assert {"kind": "Box", "id": "box-a", "name": "Box A", "servicenav_id": "51"}.items() <= data[
        "stubs"
    ][0].items()


def test_the_column_map_is_adjusted_in_snav_yaml_and_kept_in_the_new_repository(tmp_path):
    hosts = "ID,Name,Company Name,Company ID,Boîtier,ID du boîtier\n1,a,Shop,7,B,8\n"
    h, _ = write(tmp_path, hosts, "")
    settings = tmp_path / "snav.yaml"
    settings.write_text(
        "kind: Project\nservicenav:\n  columns:\n"
        '    hosts: {collector: "Boîtier", collector_id: "ID du boîtier"}\n',
        encoding="utf-8",
    )
    run("import", h, "-o", tmp_path / "repo", exit_code=1)  # without the settings: SNV802
    run("import", h, "-o", tmp_path / "repo", "--settings", settings, "--check")
    text = (tmp_path / "repo" / "snav.yaml").read_text(encoding="utf-8")
    assert (
        '  columns: {"hosts": {"collector": "Boîtier", "collector_id": "ID du boîtier"}}\n' in text
    )
    assert "box: b\n" in (tmp_path / "repo/clients/shop/equipment.yaml").read_text(encoding="utf-8")


def test_check_reports_a_problem_at_the_row_it_came_from(tmp_path, monkeypatch):
    hosts = (
        "ID,Name,IP address or DNS name,Company Name,Company ID,Collector name,Collector ID\n"
        "1,a,10.0.0.1,Shop,7,B,8\n2,b,not an address!,Shop,7,B,8\n"
    )
    h, _ = write(tmp_path, hosts, "")
    monkeypatch.chdir(tmp_path)
    result = run("import", h, "-o", "sub/repo", "--check", exit_code=1)
    assert (
        "hosts.csv:3: error[SNV809] Equipment 'b': 'address': invalid address 'not an address!'"
        in result.output
    )
    # the note opens from the current folder, as every path printed does
    assert "note: in the imported repository: sub/repo/clients/shop/equipment.yaml:" in (
        result.output
    )


def test_a_company_seen_only_as_a_parent_goes_below_the_root(tmp_path):
    hosts = (
        "ID,Name,Company Name,Company ID,Parent company name,Parent company ID,Collector name,Collector ID\n"
        "1,a,P,1,,,B,8\n2,b,S,3,C,2,B,8\n"
    )
    h, _ = write(tmp_path, hosts, "")
    res = import_exports(csvio.read(h), None)
    assert "parent: p\n" in res.files["clients/c/client.yaml"]
    assert "parent: c\n" in res.files["clients/c/s/site.yaml"]
