"""Fixtures of the hostile-input corpus (tests/hostile/): see helpers.py.

``hostile_repo(files, defaults=True) -> Path`` writes a fresh repository under tmp_path;
``snavc`` is :func:`helpers.snavc`. A case asserts the exact code and position of what
snavc reports, and :meth:`helpers.Run.sane` (no exit 3, no traceback) on every run.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from . import helpers


@pytest.fixture
def hostile_repo(tmp_path: Path) -> Callable[..., Path]:
    count = 0

    def make(files: dict[str, str | bytes | None] | None = None, defaults: bool = True) -> Path:
        nonlocal count
        count += 1
        return helpers.write_repo(tmp_path / f"repo{count}", files or {}, defaults)

    return make


@pytest.fixture
def snavc() -> Callable[..., helpers.Run]:
    return helpers.snavc
