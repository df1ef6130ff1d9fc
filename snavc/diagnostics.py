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


def clean_text(text: str) -> str:
    """User-provided text as every renderer shows it (the one call site for escaping
    what a YAML string may hold; the renderers below and snavc.formats go through it)."""
    return text


def _where(file, line, column) -> str:
    parts = [file or "<repo>"]
    if line is not None:
        parts.append(str(line))
        if column is not None:
            parts.append(str(column))
    return ":".join(parts)


# A source line that sets a `secret` key (or a key that looks like one, even an unknown
# field such as `password:`) is never shown, whatever the diagnostic (a
# duplicate key, a syntax error on that line...): secrets never appear in any output.
_SECRET_LINE = re.compile(
    r"""^\s*(-\s+)?["']?(secret|password|passwd|passphrase|token|api[_-]?key|community)["']?\s*:""",
    re.IGNORECASE,
)


EXCERPT_WIDTH = 120  # characters of a source line shown under a diagnostic


def _excerpt(text: str, column: int | None) -> tuple[str, int | None]:
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
    ``path(file) -> str`` how a path is shown (snavc.formats.Paths.text: relative to the
    current folder); ``colour`` styles it for a terminal (the CLI decides: a terminal,
    and no ``NO_COLOR``).
    """
    show = path or (lambda f: f)

    def style(text, **kw):
        return click.style(text, **kw) if colour else text

    out = []
    for d in diags:
        rule = f" (rule {d.rule})" if d.rule else ""
        severity = style(
            f"{d.severity}[{d.code}]", fg="red" if d.severity == "error" else "yellow", bold=True
        )
        where = style(_where(show(d.file), d.line, d.column) + ":", bold=True)
        out.append(f"{where} {severity} {clean_text(d.message)}{rule}")
        if source and d.file and d.line and not d.redact:
            lines = source(d.file)
            if lines and 0 < d.line <= len(lines):
                text = lines[d.line - 1].rstrip("\r\n")
                if _SECRET_LINE.match(text):
                    text = ""
                else:
                    text, column = _excerpt(text, d.column)
                    out.append(f"    {text}")
                if text and d.column:
                    # keep tabs so the caret lines up under the same characters
                    pad = "".join(c if c == "\t" else " " for c in text[: column - 1])
                    out.append(f"    {pad}{style('^', fg='green', bold=True)}")
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
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def render_github(diags: list[Diagnostic], prefix: str = "", path=None) -> str:
    """GitHub Actions workflow commands: one ``::error file=...`` line per diagnostic.

    ``path(file) -> str`` gives the path relative to the checkout's root (GitHub
    matches annotations against it: snavc.formats.Paths.checkout); ``prefix``, the
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
            props.append(f"file={_gh_escape(path(d.file), True)}")
        if d.line:
            props.append(f"line={d.line}")
        if d.column:
            props.append(f"col={d.column}")
        title = d.code + (f" (rule {d.rule})" if d.rule else "")
        props.append(f"title={_gh_escape(title, True)}")
        message = clean_text(d.message) + "".join(
            f"\nnote: {clean_text(r.message or 'see also')}: {_where(path(r.file), r.line, r.column)}"
            for r in d.related
        )
        out.append(f"::{d.severity} {','.join(props)}::{_gh_escape(message)}")
    out.append(summary(diags))
    return "\n".join(out) + "\n"
