"""Fixtures of the review tests: copies of the seed sample, builds, git sandboxes.

``seed()`` copies samples/seed (with its committed snav.lock) to a fresh folder of
tmp_path; ``built(repo)`` runs ``snavc build`` into a fresh folder and returns it;
``builds(change)`` is the usual shape of a diff test: build a seed copy, apply
``change(repo)``, build again, and return the JSON report of ``snavc diff``.
Git runs with the user's configuration ignored and never looks above tmp_path.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from .helpers import SEED, SMALL, build, report_of, write_files


@pytest.fixture(autouse=True)
def _git_sandbox(tmp_path: Path, monkeypatch) -> None:
    from .helpers import GIT_ENV

    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    monkeypatch.delenv("GIT_DIR", raising=False)
    monkeypatch.delenv("GIT_WORK_TREE", raising=False)
    monkeypatch.delenv("GIT_INDEX_FILE", raising=False)
    monkeypatch.delenv("GITHUB_WORKSPACE", raising=False)  # annotation paths: the git top


@pytest.fixture
def seed(tmp_path: Path) -> Callable[..., Path]:
    """``seed(name="seed") -> Path``: a fresh copy of samples/seed under tmp_path."""

    def copy(name: str = "seed") -> Path:
        return Path(shutil.copytree(SEED, tmp_path / name))

    return copy


@pytest.fixture
def small(tmp_path: Path) -> Callable[..., Path]:
    """``small(files, name="small") -> Path``: helpers.SMALL plus ``files``."""

    def make(files: dict[str, str | None] | None = None, name: str = "small") -> Path:
        return write_files(tmp_path / name, {**SMALL, **(files or {})})

    return make


@pytest.fixture
def built(tmp_path: Path) -> Callable[..., Path]:
    """``built(repo, *args) -> Path``: ``snavc build repo -o <fresh folder> args``."""
    count = 0

    def run(repo: Path, *args) -> Path:
        nonlocal count
        count += 1
        return build(repo, tmp_path / f"build{count}", *args)

    return run


@pytest.fixture
def builds(seed, built) -> Callable[..., dict]:
    """``builds(change, *build_args) -> report``: diff of a seed build and the build after
    ``change(repo)``; the folders are in ``report["base"]`` and ``report["head"]``."""

    def run(change: Callable[[Path], None], *args) -> dict:
        repo = seed()
        old = built(repo)
        change(repo)
        new = built(repo, *args)
        return report_of("diff", old, new, exit_code=None)

    return run
