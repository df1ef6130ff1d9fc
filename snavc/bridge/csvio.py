"""CSV in and out, in the product's own layout (first stage of the bridge).

ServiceNav's bulk import wants "a CSV file, UTF-8" whose columns and headers are exactly
those of its export; the separator, the quoting and the line endings are not published.
So a reference export is the only authority on the layout: :func:`read` detects it
(BOM, separator, quote character, whether every field is quoted, line ending, a final
newline) and keeps each record's raw text, and :func:`write` reproduces it: an unchanged
record is written back byte for byte, a changed or new one is written in the same
dialect.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

BOM = "\ufeff"
SEPARATORS = ",;\t|"
_LINES = re.compile(r"[^\r\n]*(?:\r\n|\n|\r|$)")


class CSVError(Exception):
    """A file that cannot be read as a CSV export; ``line`` is 1-based when known."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.line = line


@dataclass
class Layout:
    """How a CSV file is written: everything :func:`write` needs to match it."""

    delimiter: str = ","
    quotechar: str = '"'
    quote_all: bool = False  # every field quoted, or only those that need it
    newline: str = "\r\n"
    bom: bool = False
    final_newline: bool = True

    def dialect(self) -> type[csv.Dialect]:
        class D(csv.Dialect):
            delimiter = self.delimiter
            quotechar = self.quotechar
            doublequote = True
            escapechar = None
            skipinitialspace = False
            lineterminator = self.newline
            quoting = csv.QUOTE_ALL if self.quote_all else csv.QUOTE_MINIMAL

        return D


@dataclass
class Record:
    """One data row: its cells, the physical line it starts on (the header is line 1)
    and its raw text (with its line ending), to write back unchanged."""

    cells: list[str]
    line: int
    raw: str


@dataclass
class Table:
    header: list[str]
    records: list[Record]
    layout: Layout
    name: str = ""  # the file's name, for messages ("hosts.csv:12")
    header_raw: str = ""
    problems: list[tuple[int, str]] = field(default_factory=list)  # (line, message)

    def index(self) -> dict[str, int]:
        """Header -> column position (the first one, if a header is repeated)."""
        out: dict[str, int] = {}
        for i, h in enumerate(self.header):
            out.setdefault(h, i)
        return out


def _split_lines(text: str) -> list[str]:
    lines = _LINES.findall(text)
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def sniff(sample: str) -> Layout:
    """The layout of a CSV text, from its first lines (its header above all)."""
    layout = Layout()
    first = sample.split("\n", 1)[0].split("\r", 1)[0]
    m = re.search(r"\r\n|\n|\r", sample)
    layout.newline = m.group(0) if m else "\r\n"
    try:
        dialect = csv.Sniffer().sniff(sample[:65536], delimiters=SEPARATORS)
        layout.delimiter, layout.quotechar = dialect.delimiter, dialect.quotechar or '"'
    except csv.Error:
        # one column, or a sample the sniffer cannot decide on: count separators outside
        # quotes in the header line, the most frequent one wins (',' on a tie)
        counts = {d: _count_outside_quotes(first, d) for d in SEPARATORS}
        best = max(counts.values())
        layout.delimiter = next(d for d in SEPARATORS if counts[d] == best) if best else ","
    # the sniffer guesses the delimiter from the data rows; the header decides if they disagree
    if layout.delimiter not in first and any(d in first for d in SEPARATORS):
        counts = {d: _count_outside_quotes(first, d) for d in SEPARATORS}
        layout.delimiter = max(SEPARATORS, key=lambda d: counts[d])
    q = layout.quotechar
    fields = next(csv.reader([first], delimiter=layout.delimiter, quotechar=q), [])
    raw_fields = _raw_fields(first, layout.delimiter, q)
    layout.quote_all = bool(fields) and all(
        f.startswith(q) and f.endswith(q) and len(f) >= 2 for f in raw_fields
    )
    return layout


def _count_outside_quotes(line: str, sep: str) -> int:
    n, quoted = 0, False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif ch == sep and not quoted:
            n += 1
    return n


def _raw_fields(line: str, sep: str, q: str) -> list[str]:
    out, cur, quoted = [], [], False
    for ch in line:
        if ch == q:
            quoted = not quoted
        if ch == sep and not quoted:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return out


def parse(data: bytes, name: str = "") -> Table:
    """A CSV export's bytes -> its header, records and layout.

    Raises :class:`CSVError` for a file that is not UTF-8 or has no header. Records whose
    number of cells differs from the header's are kept out of ``records`` and listed in
    ``problems`` with their line: the caller reports them, never drops them silently.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise CSVError(
            f"not UTF-8 (byte 0x{data[e.start]:02x}): the product exports and imports UTF-8; "
            "re-save the file as UTF-8",
            line,
        ) from None
    bom = text.startswith(BOM)
    if bom:
        text = text[1:]
    if not text.strip():
        raise CSVError("empty file: no header line", 1)
    layout = sniff(text[:65536])
    layout.bom = bom
    layout.final_newline = text.endswith(("\n", "\r"))
    lines = _split_lines(text)
    reader = csv.reader(iter(lines), delimiter=layout.delimiter, quotechar=layout.quotechar)
    try:
        header = next(reader)
    except csv.Error as e:
        raise CSVError(f"unreadable header: {e}", 1) from None
    consumed = reader.line_num
    header_raw = "".join(lines[:consumed])
    records: list[Record] = []
    problems: list[tuple[int, str]] = []
    width = len(header)
    while True:
        start = consumed
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            problems.append((start + 1, f"unreadable row: {e}"))
            break
        consumed = reader.line_num
        raw = "".join(lines[start:consumed])
        if not cells or (len(cells) == 1 and cells[0] == "" and not raw.strip()):
            continue  # a blank line
        if len(cells) != width:
            problems.append((start + 1, f"{len(cells)} cells where the header has {width} columns"))
            continue
        if "\x00" in raw:  # no cell of the product holds one: a damaged file
            problems.append((start + 1, "a NUL character (U+0000): the file is damaged"))
            continue
        records.append(Record(cells, start + 1, raw))
    return Table(header, records, layout, name, header_raw, problems)


def read(path: str | Path) -> Table:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise CSVError(f"cannot read {path}: {e.strerror}") from None
    return parse(data, path.name)


def write(table_layout: Layout, header_raw: str, rows: list[str | list[str]]) -> bytes:
    """A CSV file in ``table_layout``: the header's raw text, then each row (its raw
    text when unchanged, else its cells written in the same dialect)."""
    out = io.StringIO()
    if table_layout.bom:
        out.write(BOM)
    out.write(header_raw)
    writer = csv.writer(out, dialect=table_layout.dialect())
    for row in rows:
        if isinstance(row, str):
            out.write(ensure_line_end(row, table_layout))
        else:
            writer.writerow(row)
    text = out.getvalue()
    if not table_layout.final_newline and text.endswith(table_layout.newline):
        text = text[: -len(table_layout.newline)]
    return text.encode("utf-8")


def ensure_line_end(raw: str, layout: Layout) -> str:
    """A raw record that was the file's last (no line ending), followed by more rows."""
    return raw if raw.endswith(("\n", "\r")) else raw + layout.newline


def write_new(layout: Layout, header: list[str], rows: list[list[str]]) -> bytes:
    """A fresh file in ``layout`` (no reference text to keep)."""
    out = io.StringIO()
    writer = csv.writer(out, dialect=layout.dialect())
    writer.writerow(header)
    return write(layout, out.getvalue(), rows)
