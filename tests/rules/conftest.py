"""Fixtures of the rule tests (tests/rules): small repositories and their compilation.

``repo(files)`` writes the base estate of :mod:`.helpers` plus ``files`` (text is
dedented; ``None`` leaves a base file out) into a fresh folder of tmp_path and returns
it; ``compiled(path)`` runs :func:`snavc.engine.pipeline.compile_repo` on it. ``cli(*args,
exit_code=0)`` runs ``snavc`` in-process and checks the exit code.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from snavc.cli import cli as snavc_cli
from snavc.engine.pipeline import compile_repo

from .helpers import BASE


def write_files(root: Path, files: dict[str, str | None]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for rel, body in files.items():
        if body is None:
            continue
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(body), encoding="utf-8")
    return root


@pytest.fixture
def repo(tmp_path: Path) -> Callable[..., Path]:
    """``repo(files, base=True) -> Path``: the base estate plus ``files``."""
    count = 0

    def make(files: dict[str, str | None] | None = None, base: bool = True) -> Path:
        nonlocal count
        count += 1
        merged = {**(BASE if base else {}), **(files or {})}
        return write_files(tmp_path / f"repo{count}", merged)

    return make


@pytest.fixture
def compiled():
    """``compiled(path) -> (result, resolution)``: every stage and every rule."""

    def run(path):
        return compile_repo(Path(path))

    return run


@pytest.fixture
def compile_files(repo, compiled):
    """``compile_files(files) -> (result, resolution)`` of the base estate plus ``files``."""

    def run(files: dict[str, str | None] | None = None, base: bool = True):
        return compiled(repo(files, base))

    return run


def run_cli(*args, exit_code: int | None = 0) -> Result:
    result = CliRunner().invoke(snavc_cli, [str(a) for a in args], catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(
            f"snavc {' '.join(map(str, args))} raised {result.exception!r}"
        ) from result.exception
    if exit_code is not None:
        assert result.exit_code == exit_code, (
            f"snavc {' '.join(map(str, args))}: exit {result.exit_code}, expected {exit_code}\n{result.output}"
        )
    return result


@pytest.fixture
def cli() -> Callable[..., Result]:
    return run_cli
