"""Shared fixtures: small repositories written to tmp_path, and the CLI under CliRunner.

``make_repo({"path": "yaml text"})`` writes a repository with a default ``snav.yaml``
(``kind: Project``, ``default_user: francois``) and a ``partner.yaml`` defining the
partner ``partner``, a role ``admin`` and the user ``francois`` at the partner, so that a
test only writes the documents it is about. Give ``"snav.yaml"`` or ``"partner.yaml"``
to replace them, or map them to ``None`` to leave them out.

Golden tests (tests/golden/, STYLE habit 9) are regenerated with
``pytest tests/test_cli.py --update-goldens``; read the diff before committing it.
"""

from __future__ import annotations

import contextlib
import json
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from snavc.cli import cli
from snavc.engine.pipeline import check

SNAV_YAML = """\
kind: Project
name: test
default_user: francois
"""

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
id: francois
at: partner
role: admin
"""

DEFAULTS = {"snav.yaml": SNAV_YAML, "partner.yaml": PARTNER_YAML}


def pytest_addoption(parser):
    parser.addoption(
        "--update-goldens",
        action="store_true",
        default=False,
        help="rewrite the expected outputs of golden tests (tests/golden/) from the current "
        "behaviour; review the diff before committing",
    )


@pytest.fixture
def update_goldens(request) -> bool:
    return request.config.getoption("--update-goldens")


def write_repo(root: Path, files: dict[str, str | bytes | None], defaults: bool = True) -> Path:
    """Write ``files`` under ``root`` (text is dedented; bytes are written as they are)."""
    root.mkdir(parents=True, exist_ok=True)
    merged: dict[str, str | bytes | None] = {**(DEFAULTS if defaults else {}), **files}
    for rel, body in merged.items():
        if body is None:
            continue
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(body, bytes):
            path.write_bytes(body)
        else:
            path.write_text(textwrap.dedent(body), encoding="utf-8")
    return root


@pytest.fixture
def make_repo(tmp_path: Path) -> Callable[..., Path]:
    """``make_repo(files, defaults=True) -> Path`` of a fresh repository in tmp_path."""
    count = 0

    def make(files: dict[str, str | bytes | None] | None = None, defaults: bool = True) -> Path:
        nonlocal count
        count += 1
        return write_repo(tmp_path / f"repo{count}", files or {}, defaults)

    return make


def run(*args: str, exit_code: int | None = 0, cwd: Path | None = None) -> Result:
    """Run ``snavc ARGS`` in-process; check the exit code (None: do not check).

    ``cwd``: the folder to run in. Text output shows paths relative to the current
    folder (issue 11): tests that pin text paths run in the repository, as a user would.
    An exception escaping a command is a bug whatever the input: always fail on one.
    """
    with contextlib.chdir(cwd or Path.cwd()):
        result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"snavc {' '.join(map(str, args))} raised {result.exception!r}") from (
            result.exception
        )
    if exit_code is not None:
        assert result.exit_code == exit_code, (
            f"snavc {' '.join(map(str, args))}: exit {result.exit_code}, expected {exit_code}\n"
            f"{result.output}"
        )
    return result


@pytest.fixture
def cli_run() -> Callable[..., Result]:
    """The :func:`run` helper as a fixture."""
    return run


def diagnostics(repo: Path, backend: str = "fast") -> list:
    """Every diagnostic of ``repo`` (sorted, as ``snavc validate`` reports them)."""
    return check(repo, backend=backend).diagnostics


def codes(repo: Path) -> list[str]:
    return [d.code for d in diagnostics(repo)]


def only(repo: Path, code: str | None = None):
    """The one diagnostic of ``repo`` (of ``code``, when given); fails if not exactly one."""
    found = [d for d in diagnostics(repo) if code is None or d.code == code]
    assert len(found) == 1, [d.to_json() for d in diagnostics(repo)]
    return found[0]


def where(d) -> tuple:
    """``(code, rule, file, line, column)`` of a diagnostic: what tests pin."""
    return (d.code, d.rule, d.file, d.line, d.column)


def json_diagnostics(repo: Path) -> list[dict]:
    return json.loads(run("validate", "--format", "json", repo, exit_code=None).output)
