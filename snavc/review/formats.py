"""Diagnostics for other tools: where paths point, SARIF and GitLab Code Quality.

The CLI's last step (after :mod:`snavc.diagnostics`, which renders text, JSON and
GitHub annotations). A diagnostic's ``file`` is relative to the repository (INTERFACE
§2); what a reader clicks on is not:

- text output is read in a terminal or an editor: paths relative to the current folder,
  as compilers print them;
- GitHub annotations, SARIF and Code Quality are matched against the files of the git
  checkout: paths relative to the checkout's root (``GITHUB_WORKSPACE`` in GitHub
  Actions, else the git top level of the repository), whatever folder snavc ran in.

>>> paths = Paths.of(Path("samples/seed"))                     # doctest: +SKIP
>>> paths.text("clients/client1/site1.yaml")                     # doctest: +SKIP
'samples/seed/clients/client1/site1.yaml'
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections import Counter
from pathlib import Path
from urllib.parse import quote

from ..diagnostics import CODES, Diagnostic, Location, clean_text

# Where the codes are documented: each code has an anchor `#snv301` in this page.
DOCS_URL = "https://git.example.com/acme/snavc/-/blob/main/docs/diagnostics.md"

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def _git_toplevel(folder: Path) -> Path | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "--show-toplevel"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    top = out.stdout.strip()
    return Path(top).resolve() if out.returncode == 0 and top else None


def _under(path: Path, folder: Path | None) -> bool:
    return folder is not None and path.is_relative_to(folder)


class Paths:
    """How a repository-relative path is shown: to a person (:meth:`text`) or to a
    code host (:meth:`checkout`)."""

    def __init__(self, root: Path, cwd: Path, checkout_root: Path | None = None):
        self.root = root  # the repository, absolute
        self.cwd = cwd
        self._checkout_root = checkout_root

    @classmethod
    def of(cls, repo: Path) -> Paths:
        return cls(Path(repo).resolve(), Path.cwd().resolve())

    @property
    def checkout_root(self) -> Path:
        """What CI paths are relative to: ``GITHUB_WORKSPACE`` when the repository is
        below it, else the git top level, else the current folder when the repository
        is below it, else the repository itself. (Found when first asked: text output
        never runs git.)"""
        if self._checkout_root is None:
            workspace = os.environ.get("GITHUB_WORKSPACE")
            found = Path(workspace).resolve() if workspace else None
            if not _under(self.root, found):
                found = _git_toplevel(self.root)
            if not _under(self.root, found):
                found = self.cwd if self.root.is_relative_to(self.cwd) else self.root
            self._checkout_root = found
        return self._checkout_root

    @staticmethod
    def _special(file: str | None) -> bool:
        return not file or file.startswith("<")

    def _absolute(self, file: str) -> Path:
        return self.root if file == "." else self.root / file

    def text(self, file: str | None) -> str | None:
        """Relative to the current folder: below it, or (run from inside the
        repository) with ``..``; absolute for a repository elsewhere, as ruff prints."""
        if self._special(file):
            return file
        path = self._absolute(file)
        if path.is_relative_to(self.cwd) or self.cwd.is_relative_to(self.root):
            return Path(os.path.relpath(path, self.cwd)).as_posix()
        return path.as_posix()

    def checkout(self, file: str | None) -> str | None:
        """Relative to the root of the checkout (``/``-separated); ``.`` for the root."""
        if self._special(file):
            return file
        return self._absolute(file).relative_to(self.checkout_root).as_posix() or "."


def identity(file: str | None) -> str | None:
    return file


# -- SARIF 2.1.0 --------------------------------------------------------------------------


def _anchor(code: str) -> str:
    return f"{DOCS_URL}#{code.lower()}"


def _sarif_location(loc: Location | Diagnostic, path, message: str = "") -> dict:
    where = path(loc.file)
    if where is None or where.startswith("<"):
        # the shipped catalogue: no file of the checkout; a logical location instead
        out: dict = {"logicalLocations": [{"fullyQualifiedName": where or "<repository>"}]}
    else:
        # a URI reference (SARIF 3.10.3): a space, "#", "?" or "%" in a path would be
        # read as something else, and a non-ASCII character is not allowed in one
        physical: dict = {"artifactLocation": {"uri": quote(where, safe="/")}}
        if loc.line:
            region = {"startLine": loc.line}
            if loc.column:
                region["startColumn"] = loc.column
            physical["region"] = region
        out = {"physicalLocation": physical}
    if message:
        out["message"] = {"text": clean_text(message)}
    return out


def render_sarif(diags: list[Diagnostic], path=identity, version: str = "") -> str:
    """A SARIF 2.1.0 log (GitHub code scanning, IDE viewers): one run of snavc, every
    code as a rule (title, help link to docs/diagnostics.md), one result per diagnostic
    with its related places and a fingerprint that survives line shifts."""
    codes = sorted(CODES)
    index = {code: n for n, code in enumerate(codes)}
    rules = [
        {
            "id": code,
            "name": _rule_name(CODES[code]),
            "shortDescription": {"text": CODES[code]},
            "helpUri": _anchor(code),
        }
        for code in codes
    ]
    results = []
    for d, fingerprint in zip(diags, fingerprints(diags, path), strict=True):
        message = clean_text(d.message) + (f" (rule {d.rule})" if d.rule else "")
        result: dict = {
            "ruleId": d.code,
            "ruleIndex": index[d.code],
            "level": d.severity,
            "message": {"text": message},
            "locations": [_sarif_location(d, path)],
            "partialFingerprints": {"snavc/v1": fingerprint},
        }
        if d.rule:
            result["properties"] = {"rule": d.rule}
        if d.related:
            result["relatedLocations"] = [
                {"id": n, **_sarif_location(r, path, r.message or "see also")}
                for n, r in enumerate(d.related, 1)
            ]
        results.append(result)
    driver: dict = {
        "name": "snavc",
        "informationUri": DOCS_URL,
        "rules": rules,
    }
    if version:
        driver["version"] = version
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": driver},
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"


def _rule_name(title: str) -> str:
    """``duplicate ID`` -> ``DuplicateId``: SARIF's rule names are identifiers."""
    words = "".join(c if c.isalnum() else " " for c in title).split()
    return "".join(w[:1].upper() + w[1:].lower() for w in words)


# -- GitLab Code Quality ------------------------------------------------------------------


def fingerprints(diags: list[Diagnostic], path=identity) -> list[str]:
    """One stable fingerprint per diagnostic: a hash of its code, file and message (the
    message names the object it is about), never of its line, so that an unchanged
    problem keeps its fingerprint when lines above it move. Identical diagnostics of one
    file are told apart by their order."""
    seen: Counter = Counter()
    out = []
    for d in diags:
        key = (d.code, path(d.file) or "", d.message)
        nth = seen[key]
        seen[key] += 1
        text = "\0".join((*key, str(nth)))
        out.append(hashlib.sha256(text.encode("utf-8")).hexdigest()[:32])
    return out


def render_codequality(diags: list[Diagnostic], path=identity) -> str:
    """GitLab's Code Quality report (a CodeClimate subset): shown in the merge
    request's widget and diff. Errors are ``major``, warnings ``minor``."""
    items = []
    for d, fingerprint in zip(diags, fingerprints(diags, path), strict=True):
        notes = "".join(
            f"; {clean_text(r.message or 'see also')}: {_where(path(r.file), r.line, r.column)}"
            for r in d.related
        )
        rule = f" (rule {d.rule})" if d.rule else ""
        items.append(
            {
                "description": f"{d.code}: {clean_text(d.message)}{rule}{notes}",
                "check_name": d.code,
                "fingerprint": fingerprint,
                "severity": "major" if d.severity == "error" else "minor",
                "location": {"path": path(d.file) or ".", "lines": {"begin": d.line or 1}},
            }
        )
    return json.dumps(items, indent=2, ensure_ascii=False) + "\n"


def _where(file, line, column) -> str:
    parts = [file or "<repository>"]
    if line:
        parts.append(str(line))
        if column:
            parts.append(str(column))
    return ":".join(parts)
