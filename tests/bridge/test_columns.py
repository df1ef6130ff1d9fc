"""Column maps: the language and entity of a header line, overrides, cell values."""

from __future__ import annotations

import pytest

from snavc.bridge import columns as cols

EN_HOSTS = ["ID", "Name", "Company Name", "Company ID", "Collector name", "Collector ID", "Other"]
FR_SERVICES = ["ID", "Nom", "ID de l'équipement", "Modèle de service", "ID du modèle de service"]


def test_the_header_tells_language_and_entity():
    m = cols.detect(EN_HOSTS)
    assert (m.entity, m.language) == ("hosts", "en")
    assert m.positions["collector_id"] == 5 and "address" not in m.positions
    m = cols.detect(FR_SERVICES)
    assert (m.entity, m.language) == ("services", "fr")


def test_headers_match_whatever_their_case_and_spaces():
    m = cols.detect(
        [" id ", "NAME", "company  name", "Company ID", "Collector Name", "Collector ID"]
    )
    assert m.entity == "hosts"


def test_missing_required_columns_are_named():
    with pytest.raises(cols.ColumnMapError) as e:
        cols.detect(["ID", "Name", "Company Name", "Company ID"])
    assert "missing 'Collector name', 'Collector ID'" in str(e.value)


def test_settings_override_a_header():
    header = ["ID", "Name", "Company Name", "Company ID", "Box", "Box ID"]
    settings = {"columns": {"hosts": {"collector": "Box", "collector_id": "Box ID"}}}
    m = cols.detect(header, settings)
    assert m.positions["collector_id"] == 5


def test_an_unknown_field_in_the_settings_is_an_error():
    with pytest.raises(cols.ColumnMapError, match="unknown field 'colector'"):
        cols.column_map("hosts", "en", {"columns": {"hosts": {"colector": "Box"}}})


def test_values():
    fr = cols.column_map("hosts", "fr")
    assert cols.parse_number("99,5", "x") == 99.5
    assert cols.render_number(99.5, fr.decimal) == "99,5"
    assert cols.parse_interval("5", fr, "x") == 300
    assert cols.render_interval(30, fr) == "0,5"
    assert fr.category_value("Serveur Linux") == "linux-server"
    assert fr.category_value("Linux server") == "linux-server"  # the other language too
    args = cols.parse_arguments(r"service=Spooler\;W32Time;url=/a\=b", "x")
    assert args == {"service": "Spooler;W32Time", "url": "/a=b"}
    assert cols.render_arguments(args) == r"service=Spooler\;W32Time;url=/a\=b"
    with pytest.raises(cols.ValueError_, match="not a whole number"):
        cols.parse_int("haute", "Criticité")
    with pytest.raises(cols.ValueError_, match="not name=value"):
        cols.parse_arguments("port", "Arguments")
