"""pyproject.toml: `make demo` on a fresh clone installs without warnings."""

from __future__ import annotations

import tomllib
from pathlib import Path

PYPROJECT = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())


def test_license_is_an_spdx_expression():
    """A TOML table (`license = {text = "MIT"}`) made setuptools print its deprecation
    warning, 30 lines framed in '!!', twice, in the first command a user runs."""
    assert PYPROJECT["project"]["license"] == "MIT"
    assert "setuptools>=77" in PYPROJECT["build-system"]["requires"]  # PEP 639 support
