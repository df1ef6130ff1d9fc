"""Diagnostics: the one error type every stage reports through.

Stages never raise on bad input; they append :class:`Diagnostic` objects to a list and
carry on, so that a single run reports every problem of a repository (STYLE habit 3).
The CLI renders them as compiler-style text, JSON (INTERFACE §2) or GitHub Actions
annotations.

Codes are stable and grouped by stage:

- ``SNV1xx`` load (files, YAML syntax, encodings, aliases),
- ``SNV2xx`` validate (schema of each document),
- ``SNV3xx`` tree (IDs, references, tree shape, cycles),
- ``SNV4xx`` and up: rules (resolve/).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Literal

import click

Severity = Literal["error", "warning"]

# code -> short title; the catalogue of codes is documented in docs/diagnostics.md.
CODES: dict[str, str] = {
    "SNV101": "YAML syntax error",
    "SNV102": "file is not valid UTF-8",
    "SNV103": "tab character in indentation",
    "SNV104": "duplicate key",
    "SNV105": "empty document",
    "SNV106": "document is not a mapping",
    "SNV107": "alias expansion refused",
    "SNV108": "file too large",
    "SNV109": "unsupported YAML construct",
    "SNV110": "file holds no document",
    "SNV111": "unreadable file or folder",
    "SNV113": "symbolic link out of the repository",
    "SNV112": "invalid lock file",
    "SNV114": "number out of range",
    "SNV115": "not a regular file",
    "SNV119": "lock edited by hand",
    "SNV201": "unknown kind",
    "SNV202": "missing field",
    "SNV203": "unknown field",
    "SNV204": "wrong type",
    "SNV205": "invalid value",
    "SNV206": "invalid time range",
    "SNV207": "overlapping time ranges",
    "SNV208": "literal secret",
    "SNV209": "a site cannot set a mode",
    "SNV210": "field cannot be overridden",
    "SNV211": "misplaced Project document",
    "SNV212": "object placed at the product",
    "SNV213": "catalog folder not found",
    "SNV301": "duplicate ID",
    "SNV302": "dangling reference",
    "SNV303": "invalid tree shape",
    "SNV304": "duplicate_of cycle",
    "SNV305": "no configuring user",
    "SNV306": "duplicate override",
    "SNV401": "user may not configure here",
    "SNV402": "role does not grant the action",
    "SNV403": "not selectable here",
    "SNV404": "disabled contact selected",
    "SNV405": "disabled contact in a group",
    "SNV406": "group member not selectable",
    "SNV407": "two defaults for one aspect",
    "SNV408": "no time period for an aspect",
    "SNV409": "node without a default time period",
    "SNV410": "box cannot monitor this node",
    "SNV411": "user cannot use this box",
    "SNV412": "partner box not eligible",
    "SNV413": "'shared' on a client or site box",
    "SNV414": "override of a template not visible here",
    "SNV415": "duplicate unit service name",
    "SNV416": "equipment template service not selectable",
    "SNV417": "duplicate_of source not visible here",
    "SNV418": "user service member out of reach",
    "SNV419": "template period not selectable",
    "SNV420": "object locked for this user",
    "SNV421": "locked period no longer exists",
    "SNV422": "mode change refused",
    "SNV423": "lock out of date",
    "SNV424": "base revision does not build",
    "SNV425": "configuring user could not edit what they create",
    # the bridge to ServiceNav (snavc/bridge/): positions are in the CSV exports
    "SNV801": "unreadable CSV export",
    "SNV802": "header matches no column map",
    "SNV803": "unreadable CSV row",
    "SNV804": "row cannot be mapped",
    "SNV805": "sub-site attached to its client",
    "SNV806": "parent host not in the export",
    "SNV807": "no ServiceNav ID for a related object",
    "SNV808": "object in the product, not in the build",
    "SNV809": "imported object does not validate",
    "SNV810": "field not in this snavc",
    "SNV811": "rows that disagree",
}
# The product's objects (issue 12): hosts, services, labels, instructions...
CODES.update(
    {
        "SNV214": "invalid address",
        "SNV215": "invalid threshold",
        "SNV216": "both template and templates",
        "SNV217": "exception day does not exist",
        "SNV218": "exception without a single form",
        "SNV219": "two exceptions name the same days",
        "SNV220": "invalid phone number",
        "SNV221": "invalid URL",
        "SNV222": "channel without its address",
        "SNV223": "invalid date and time",
        "SNV224": "maintenance ends before it starts",
        "SNV225": "component names not one object",
        "SNV309": "user service component cycle",
        "SNV446": "maintenance target out of reach",
        "SNV447": "two accounts of one protocol",
        "SNV448": "check period does not cover availability",
        "SNV444": "invalid escalation levels",
        "SNV445": "status change not of this kind",
        "SNV307": "parent host cycle",
        "SNV308": "duplicate servicenav_id",
        "SNV440": "category forbids the template",
        "SNV441": "parent host not visible here",
        "SNV442": "argument not declared by the template",
        "SNV443": "service_settings names no unit service",
    }
)


@dataclass(frozen=True, slots=True)
class Location:
    """A place in the repository: ``file`` is relative to the repo, line/column 1-based."""

    file: str
    line: int | None = None
    column: int | None = None
    message: str = ""

    def to_json(self) -> dict:
        out = {"file": self.file, "line": self.line, "column": self.column}
        if self.message:
            out["message"] = self.message
        return out


@dataclass(frozen=True, slots=True)
class Diagnostic:
    severity: Severity
    code: str
    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None
    rule: str | None = None
    related: tuple[Location, ...] = ()
    # Never show the offending source line (it may hold a secret).
    redact: bool = field(default=False, compare=False)

    @property
    def sort_key(self) -> tuple:
        return (
            self.file or "",
            self.line or 0,
            self.column or 0,
            self.code,
            self.message,
        )

    def to_json(self) -> dict:
        return {
            "severity": self.severity,
            "code": self.code,
            "rule": self.rule,
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "related": [r.to_json() for r in self.related],
        }


def error(code: str, message: str, at: Location | None = None, **kw) -> Diagnostic:
    return _make("error", code, message, at, **kw)


def warning(code: str, message: str, at: Location | None = None, **kw) -> Diagnostic:
    return _make("warning", code, message, at, **kw)


def _make(severity, code, message, at, **kw) -> Diagnostic:
    assert code in CODES, code
    if at is None:
        return Diagnostic(severity, code, message, **kw)
    return Diagnostic(severity, code, message, at.file, at.line, at.column, **kw)


def root_cause(d: Diagnostic) -> bool:
    """An error of the load (SNV1xx) or schema (SNV2xx) stage: a file or document that
    did not make it into the tree, whose consequences come later in the output."""
    return d.severity == "error" and d.code[:4] in ("SNV1", "SNV2")


def sort(diags: list[Diagnostic]) -> list[Diagnostic]:
    """Root causes first (load and schema errors: a reader, or a CI that shows ten
    annotations, meets the errors to fix first), then the rest; each part by file,
    line, column; duplicates (same place, code, message) dropped."""
    seen = set()
    out = []
    for d in sorted(diags, key=lambda d: (not root_cause(d), d.sort_key)):
        key = (d.sort_key, d.severity, d.rule)
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out


def has_errors(diags: list[Diagnostic]) -> bool:
    return any(d.severity == "error" for d in diags)


# -- rendering ------------------------------------------------------------------------


# Characters that drive a terminal (or a log viewer that renders ANSI) rather than show:
# C0 controls (ESC starts colour, cursor and OSC 52 clipboard sequences; BEL; CR
# overwrites a line; NUL...), DEL, C1 controls (U+009B is a one-byte CSI) and the
# bidirectional overrides that make text read otherwise than it is ("Trojan source").
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(m: re.Match) -> str:
    c = ord(m.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def clean_text(text: str, keep: str = "") -> str:
    """Text from the input as every human-facing renderer prints it: control characters
    escaped (``\\x1b``, ``\\u202e``), so that nothing a YAML file holds reaches a terminal
    as a command. ``keep`` lists controls left as they are (``"\\t"`` in a source excerpt,
    so that the caret lines up). JSON needs no call: its encoder escapes controls.

    >>> clean_text("\\x1b]52;c;ZXZpbA==\\x07name")
    '\\\\x1b]52;c;ZXZpbA==\\\\x07name'
    """
    if not _CONTROL.search(text):
        return text
    if keep:
        return _CONTROL.sub(lambda m: m.group() if m.group() in keep else _escape(m), text)
    return _CONTROL.sub(_escape, text)


def _where(file, line, column) -> str:
    file = clean_text(file) if file else file
    parts = [file or "<repo>"]
    if line is not None:
        parts.append(str(line))
        if column is not None:
            parts.append(str(column))
    return ":".join(parts)


# -- secrets in source excerpts ---------------------------------------------------------
#
# An excerpt shows the line a diagnostic points at; a line that may carry a secret is
# never shown, whatever the diagnostic (a misspelt field, a duplicate key, a syntax error
# in the middle of a quoted value...). Which lines may carry one, from the text alone
# (the file may not even parse):
# - a line that sets a key whose name looks like a secret (``password``, ``db_pass``,
#   ``sshKey``, ``private-key``, ``secrets``...; see _SECRET_WORDS), anywhere on the line
#   (block or flow style), and every line of its value: a quoted scalar up to its closing
#   quote, or the lines indented below the key (block scalars, plain continuations,
#   nested mappings and sequences);
# - every line of a document that mentions ``MonitoringAccount`` (the kind that holds
#   credentials) or whose kind looks like it (misspelt), except the lines setting one of
#   its plain fields (kind, id, name, at, protocol, username) outside any such value: a
#   misspelt ``secert:`` is not shown.

_SECRET_WORDS = re.compile(
    r"(^|_)(secrets?|pass|passwords?|passwd|passphrase|pwd|tokens?|api_?keys?|private_?keys?"
    r"|ssh_?keys?|access_?keys?|secret_?keys?|community|credentials?|auth)(_|$)"
)
_KEY = re.compile(
    r"""(?:^|[\s{,\[])(?:-\s+)*["']?([^\s"'{}\[\],:#][^"'{}\[\],:#]*?)["']?\s*:(?=\s|$)"""
)
_DOC_BOUNDARY = re.compile(r"^(---|\.\.\.)(\s|$)")
# the kind that holds credentials, also misspelt (``kind: MonitoringAcount``)
_ACCOUNT_KIND = re.compile(
    r"""monitoringaccount|kind["']?\s*:\s*["']?[^,}#]*(account|monitoring)""", re.IGNORECASE
)
_ACCOUNT_FIELDS = re.compile(r"""^\s*["']?(kind|id|name|at|protocol|username)["']?\s*:(\s|$)""")


def secret_key(name: str) -> bool:
    """A key that names a secret: ``password``, ``DB_PASS``, ``sshKey``, ``private-key``...

    >>> [secret_key(k) for k in ("secret", "db_password", "privateKey", "bypass", "name")]
    [True, True, True, False, False]
    """
    words = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower().replace("-", "_")
    return bool(_SECRET_WORDS.search(words.replace(".", "_").replace(" ", "_")))


def _closes(text: str, quote: str) -> int | None:
    """The index just after the closing ``quote`` in ``text``, or None (still open)."""
    i = 0
    while i < len(text):
        c = text[i]
        if quote == '"' and c == "\\":
            i += 2
            continue
        if c == quote:
            if quote == "'" and text[i + 1 : i + 2] == "'":
                i += 2
                continue
            return i + 1
        i += 1
    return None


def _brackets(text: str) -> int:
    """Flow brackets opened and not closed in ``text`` (quotes not parsed: a guess that
    errs on hiding more)."""
    return text.count("[") + text.count("{") - text.count("]") - text.count("}")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def hidden_lines(lines: list[str]) -> frozenset[int]:
    """The 1-based numbers of the lines of a file that an excerpt must never show."""
    hidden: set[int] = set()
    docs: list[list[int]] = [[]]
    for n, line in enumerate(lines, 1):
        if _DOC_BOUNDARY.match(line):
            docs.append([])
        else:
            docs[-1].append(n)
    for numbers in docs:
        account = any(_ACCOUNT_KIND.search(lines[n - 1]) for n in numbers)
        quote: str | None = None  # inside a secret's quoted value
        depth = 0  # inside a secret's flow collection: brackets still open
        below: int | None = None  # inside a secret's value: lines indented past this
        for n in numbers:
            line = lines[n - 1]
            if quote is not None:
                hidden.add(n)
                if _closes(line, quote) is not None:
                    quote = None
                continue
            if depth > 0:
                hidden.add(n)
                depth += _brackets(line)
                continue
            if below is not None:
                stripped = line.strip()
                if (
                    not stripped
                    or _indent(line) > below
                    or (_indent(line) == below and stripped.startswith("-"))
                ):
                    hidden.add(n)
                    continue
                below = None
            key = next((m for m in _KEY.finditer(line) if secret_key(m.group(1).strip())), None)
            if key is None:
                if account and not _ACCOUNT_FIELDS.match(line):
                    hidden.add(n)
                continue
            hidden.add(n)
            value = line[key.end() :].lstrip()
            if value[:1] in ("'", '"') and _closes(value[1:], value[0]) is None:
                quote = value[0]
            elif value[:1] in ("[", "{") and _brackets(value) > 0:
                depth = _brackets(value)
            else:
                quoted = key.start(1) > 0 and line[key.start(1) - 1] in "'\""
                below = key.start(1) - quoted
    return frozenset(hidden)


def _excerpt(d: Diagnostic, source, hidden: dict, caret: str = "^") -> list[str]:
    """The source line of ``d`` and its caret, escaped; nothing for a line that may hold
    a secret."""
    if not (source and d.file and d.line) or d.redact:
        return []
    lines = source(d.file)
    if not lines or not 0 < d.line <= len(lines):
        return []
    if d.file not in hidden:
        hidden[d.file] = hidden_lines(lines)
    if d.line in hidden[d.file]:
        return []
    text, column = _window(lines[d.line - 1].rstrip("\r\n"), d.column)
    out = [f"    {clean_text(text, keep=chr(9))}"]
    if text and column:
        # keep tabs so the caret lines up under the same characters; an escaped control
        # takes the width of its escape
        prefix = clean_text(text[: column - 1], keep=chr(9))
        pad = "".join(c if c == "\t" else " " for c in prefix)
        out.append(f"    {pad}{caret}")
    return out


EXCERPT_WIDTH = 120  # characters of a source line shown under a diagnostic


def _window(text: str, column: int | None) -> tuple[str, int | None]:
    """A source line as shown under its diagnostic, and the caret's column in it: a line
    longer than EXCERPT_WIDTH (a 5,000-digit number, minified JSON) is cut to a window
    around the column, with '…' where text was left out."""
    if len(text) <= EXCERPT_WIDTH:
        return text, column
    at = (column or 1) - 1
    start = max(0, min(at - EXCERPT_WIDTH // 3, len(text) - EXCERPT_WIDTH))
    end = start + EXCERPT_WIDTH
    head = "…" if start > 0 else ""
    tail = "…" if end < len(text) else ""
    shown = head + text[start:end] + tail
    return shown, (None if column is None else at - start + len(head) + 1)


def render_text(diags: list[Diagnostic], source=None, path=None, colour: bool = False) -> str:
    """Compiler-style text: ``file:line:col: error[SNV203] message (rule X)``.

    ``source(file) -> list[str] | None`` gives a file's lines, for the excerpt and caret;
    ``path(file) -> str`` how a path is shown (snavc.review.formats.Paths.text: relative to the
    current folder); ``colour`` styles it for a terminal (the CLI decides: a terminal,
    and no ``NO_COLOR``). Every text from the input goes through :func:`clean_text`.
    """
    show = path or (lambda f: f)

    def style(text, **kw):
        return click.style(text, **kw) if colour else text

    out = []
    hidden: dict[str, frozenset[int]] = {}
    for d in diags:
        rule = f" (rule {d.rule})" if d.rule else ""
        severity = style(
            f"{d.severity}[{d.code}]", fg="red" if d.severity == "error" else "yellow", bold=True
        )
        where = style(_where(show(d.file), d.line, d.column) + ":", bold=True)
        out.append(f"{where} {severity} {clean_text(d.message)}{rule}")
        out += _excerpt(d, source, hidden, caret=style("^", fg="green", bold=True))
        for r in d.related:
            note = clean_text(r.message or "see also")
            out.append(
                f"  {style('note:', fg='cyan', bold=True)} {note}: "
                f"{_where(show(r.file), r.line, r.column)}"
            )
    out.append(style(summary(diags), bold=True) if diags else summary(diags))
    return "\n".join(out) + "\n"


def summary(diags: list[Diagnostic]) -> str:
    errors = sum(d.severity == "error" for d in diags)
    warnings = len(diags) - errors
    if not diags:
        return "no problems found"

    def plural(n, word):
        return f"{n} {word}{'' if n == 1 else 's'}"

    return f"{plural(errors, 'error')}, {plural(warnings, 'warning')}"


def render_json(diags: list[Diagnostic]) -> str:
    return json.dumps([d.to_json() for d in diags], indent=2, ensure_ascii=False) + "\n"


def _gh_escape(text: str, prop: bool = False) -> str:
    # CR and LF are the workflow command's own escapes (a multi-line annotation); every
    # other control character went through clean_text
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def render_github(diags: list[Diagnostic], prefix: str = "", path=None) -> str:
    """GitHub Actions workflow commands: one ``::error file=...`` line per diagnostic.

    ``path(file) -> str`` gives the path relative to the checkout's root (GitHub
    matches annotations against it: snavc.review.formats.Paths.checkout); ``prefix``, the
    repository's folder relative to the checkout, does the same for callers without one.
    Related places (a duplicate's first definition...) follow the message, one line
    each, as the text format's notes do.
    """
    if path is None:

        def path(file):
            return file if not file or file.startswith("<") or not prefix else f"{prefix}/{file}"

    out = []
    for d in diags:
        props = []
        if d.file:
            props.append(f"file={_gh_escape(clean_text(path(d.file)), True)}")
        if d.line:
            props.append(f"line={d.line}")
        if d.column:
            props.append(f"col={d.column}")
        title = d.code + (f" (rule {d.rule})" if d.rule else "")
        props.append(f"title={_gh_escape(title, True)}")
        message = clean_text(d.message, keep="\r\n") + "".join(
            f"\nnote: {clean_text(r.message or 'see also')}: {_where(path(r.file), r.line, r.column)}"
            for r in d.related
        )
        out.append(f"::{d.severity} {','.join(props)}::{_gh_escape(message)}")
    out.append(summary(diags))
    return "\n".join(out) + "\n"
