"""CSV layouts: detected from a reference, reproduced byte for byte."""

from __future__ import annotations

import pytest

from snavc.bridge import csvio


@pytest.mark.parametrize(
    "data, delimiter, quote_all, newline, bom, final",
    [
        (b'ID,Name\r\n1,a\r\n2,"b, c"\r\n', ",", False, "\r\n", False, True),
        ('\ufeff"ID";"Nom"\n"1";"a"\n"2";"b; c"\n'.encode(), ";", True, "\n", True, True),
        (b"ID\tName\n1\ta\n2\tb", "\t", False, "\n", False, False),
        (b"ID|Name\r\n1|a\r\n", "|", False, "\r\n", False, True),
    ],
)
def test_layout_is_detected_and_written_back_unchanged(
    data, delimiter, quote_all, newline, bom, final
):
    table = csvio.parse(data, "x.csv")
    layout = table.layout
    assert (
        layout.delimiter,
        layout.quote_all,
        layout.newline,
        layout.bom,
        layout.final_newline,
    ) == (
        delimiter,
        quote_all,
        newline,
        bom,
        final,
    )
    assert table.header[0] == "ID"
    assert csvio.write(layout, table.header_raw, [r.raw for r in table.records]) == data


def test_a_changed_row_is_written_in_the_same_dialect():
    data = '\ufeff"ID";"Nom"\n"1";"a"\n"2";"b"\n'.encode()
    table = csvio.parse(data, "x.csv")
    rows = [table.records[0].raw, ["2", 'new "name"; here']]
    assert csvio.write(table.layout, table.header_raw, rows) == (
        '\ufeff"ID";"Nom"\n"1";"a"\n"2";"new ""name""; here"\n'.encode()
    )


def test_records_keep_their_first_line_across_quoted_line_breaks():
    data = b'ID,Note\n1,"two\nlines"\n2,x\n'
    table = csvio.parse(data, "h.csv")
    assert [(r.cells, r.line) for r in table.records] == [(["1", "two\nlines"], 2), (["2", "x"], 4)]
    assert table.records[0].raw == '1,"two\nlines"\n'


def test_a_row_with_the_wrong_number_of_cells_is_a_problem_with_its_line():
    table = csvio.parse(b"ID,Name\n1,a\n2,b,extra\n3,c\n", "h.csv")
    assert [r.line for r in table.records] == [2, 4]
    assert table.problems == [(3, "3 cells where the header has 2 columns")]


def test_a_file_that_is_not_utf8_names_its_line():
    with pytest.raises(csvio.CSVError) as e:
        csvio.parse("ID,Nom\n1,Société\n".encode("latin-1"), "h.csv")
    assert e.value.line == 2
    assert "not UTF-8" in str(e.value)


def test_an_empty_file_is_an_error():
    with pytest.raises(csvio.CSVError, match="empty file"):
        csvio.parse(b"\xef\xbb\xbf\n", "h.csv")


def test_the_last_row_without_a_newline_gets_one_when_rows_follow():
    table = csvio.parse(b"ID,Name\n1,a", "h.csv")
    out = csvio.write(table.layout, table.header_raw, [table.records[0].raw, ["2", "b"]])
    assert out == b"ID,Name\n1,a\n2,b"


def test_a_row_with_a_nul_character_is_a_problem_with_its_line():
    """A NUL in a cell (a damaged file) was imported into a host's name."""
    table = csvio.parse(b"ID,Name\n1,web-01\n2,web\x00-02\n3,web-03\n")
    assert [r.cells[0] for r in table.records] == ["1", "3"]
    assert table.problems == [(3, "a NUL character (U+0000): the file is damaged")]
