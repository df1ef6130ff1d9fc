"""The hostile-input harness: write a repository from a dict, run the CLI, look at what
came out.

Shared by every file of tests/hostile/ (and by tests/fuzz/): keep it generic, with no
knowledge of one item or one rule.

- :func:`write_repo` writes ``{"path": text | bytes | None}`` under a folder (text as
  given, not dedented: a hostile case means its bytes; ``None`` leaves a default out);
  with ``defaults=True`` a minimal valid estate (snav.yaml, a partner, a role, a user)
  comes first, so that a case writes only the documents it is about.
- :func:`snavc` runs ``snavc ARGS`` in-process (fast; an escaping exception becomes exit
  3 and a traceback on stderr, as the real entry point would show) or, with
  ``subprocess=True``, as ``python -m snavc`` with a timeout (for hangs, signals, real
  file descriptors); both return a :class:`Run`.
- :meth:`Run.sane` asserts what holds for any input: never exit 3, never a traceback;
  :func:`positions_outside` lists the diagnostics that point outside their file.
"""

from __future__ import annotations

import json
import os
import re
import subprocess as sp
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

from snavc.cli import cli

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "samples" / "seed"

SNAV_YAML = "kind: Project\nname: hostile\ndefault_user: admin\n"
PARTNER_YAML = """\
kind: Partner
id: partner
name: Partner
---
kind: Role
id: admin
permissions: [configure_equipment, configure_services, create_templates]
---
kind: User
id: admin
at: partner
role: admin
"""
DEFAULTS = {"snav.yaml": SNAV_YAML, "partner.yaml": PARTNER_YAML}

TRACEBACK = "Traceback (most recent call last)"


def write_repo(root: Path, files: dict[str, str | bytes | None], defaults: bool = True) -> Path:
    """Write ``files`` under ``root`` (created) and return ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    merged = {**(DEFAULTS if defaults else {}), **files}
    for rel, body in merged.items():
        if body is None:
            continue
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(body, bytes):
            path.write_bytes(body)
        else:
            # newline="" : a "\r" in a case is written as it is
            with open(path, "w", encoding="utf-8", newline="") as f:
                f.write(body)
    return root


@dataclass
class Run:
    """What one ``snavc`` run gave."""

    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str

    @property
    def diagnostics(self) -> list[dict] | None:
        """The JSON diagnostics on stdout (``--format json``), or None when it is not a
        JSON list (another format, or a command that printed something else)."""
        try:
            data = json.loads(self.stdout)
        except ValueError:
            return None
        return data if isinstance(data, list) else None

    def where(self) -> list[tuple]:
        """``(code, file, line, column)`` of each JSON diagnostic: what cases pin."""
        return [(d["code"], d["file"], d["line"], d["column"]) for d in self.diagnostics or []]

    def sane(self) -> Run:
        """Assert what must hold for any input: no internal error, no traceback."""
        shown = f"snavc {' '.join(self.args)}"
        assert self.code != 3, f"{shown}: internal error (exit 3)\n{self.stderr}"
        assert TRACEBACK not in self.stderr + self.stdout, f"{shown}: traceback\n{self.stderr}"
        return self


def snavc(
    *args,
    subprocess: bool = False,
    timeout: float = 120,
    env: dict | None = None,
    cwd: Path | None = None,
) -> Run:
    """Run ``snavc ARGS`` and return its :class:`Run` (exit code not checked).

    In-process by default; ``subprocess=True`` runs ``python -m snavc`` with ``timeout``
    seconds (a hang fails the test with :class:`subprocess.TimeoutExpired`).
    """
    args = tuple(str(a) for a in args)
    if subprocess:
        done = sp.run(
            [sys.executable, "-m", "snavc", *args],
            capture_output=True,
            timeout=timeout,
            cwd=cwd,
            env={**os.environ, **(env or {})},
        )
        return Run(
            args,
            done.returncode,
            done.stdout.decode("utf-8", "replace"),
            done.stderr.decode("utf-8", "replace"),
        )
    assert cwd is None, "cwd needs subprocess=True"
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=True)
    stderr = result.stderr
    code = result.exit_code
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        # what snavc.cli.main would make of it: exit 3 (and here, the traceback to see)
        code = 3
        stderr += "".join(traceback.format_exception(result.exception))
    return Run(args, code, result.stdout, stderr)


_BREAK = re.compile("\r\n|\r|\n")


def file_lines(data: bytes) -> list[str]:
    """A file's lines as an editor numbers them (``\\n``, ``\\r\\n`` or ``\\r`` ends a
    line; a final line break opens an empty last line), in characters."""
    return _BREAK.split(data.decode("utf-8", "replace"))


def positions_outside(repo: Path, diagnostics: list[dict]) -> list[dict]:
    """The diagnostics (JSON form, ``related`` places included) whose line is past the
    last line of their file, or whose column is past the end of their line + 1."""
    bad = []
    cache: dict[str, list[str] | None] = {}
    for d in diagnostics:
        for place in (d, *d.get("related", ())):
            file, line, column = place.get("file"), place.get("line"), place.get("column")
            if not file or line is None or file.startswith("<"):
                continue
            if file not in cache:
                path = repo / file
                cache[file] = file_lines(path.read_bytes()) if path.is_file() else None
            lines = cache[file]
            if lines is None:
                continue
            if not 1 <= line <= len(lines) or (
                column is not None and not 1 <= column <= len(lines[line - 1]) + 1
            ):
                bad.append({**place, "code": d["code"], "lines": len(lines)})
    return bad
