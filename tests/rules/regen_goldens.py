"""Regenerate the golden builds of tests/rules/fixtures (STYLE habit 9).

Each folder of ``fixtures/`` is one case: its input is ``repo/`` (or the repository
folder named, relative to the project root, in a ``SOURCE`` file), and its expected
output is ``expected/effective.json`` and ``expected/diagnostics.json``, exactly the
bytes ``snavc build`` writes. test_goldens.py builds each case and compares byte for
byte.

Run from the project root, then read the diff (``git diff tests/rules/fixtures``) and
check every changed value against RULES.md and the case's README.md before keeping it:

    .venv/bin/python tests/rules/regen_goldens.py            # every case
    .venv/bin/python tests/rules/regen_goldens.py periods    # some cases
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from click.testing import CliRunner

from snavc.cli import cli

FIXTURES = Path(__file__).resolve().parent / "fixtures"
ROOT = Path(__file__).resolve().parents[2]
OUTPUTS = ("effective.json", "origins.json", "diagnostics.json")


def cases() -> list[str]:
    return sorted(p.name for p in FIXTURES.iterdir() if p.is_dir())


def source(case: str) -> Path:
    """The input repository of a case."""
    named = FIXTURES / case / "SOURCE"
    if named.is_file():
        return ROOT / named.read_text(encoding="utf-8").strip()
    return FIXTURES / case / "repo"


def build(case: str, out: Path) -> tuple[int, str]:
    """``snavc build`` of a case into ``out``: (exit code, output).

    The input is copied first, its ``snav.lock`` (T5) with it if it has one: ``build``
    rewrites the lock, and a golden run must leave its input as it found it.
    """
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / case
        shutil.copytree(source(case), repo)
        result = CliRunner().invoke(
            cli, ["build", str(repo), "-o", str(out)], catch_exceptions=False
        )
    return result.exit_code, result.output


def regen(case: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        code, output = build(case, out)
        if code != 0:
            raise SystemExit(f"{case}: snavc build exited {code}:\n{output}")
        expected = FIXTURES / case / "expected"
        expected.mkdir(exist_ok=True)
        for name in OUTPUTS:
            shutil.copyfile(out / name, expected / name)
    print(f"{case}: wrote {', '.join(OUTPUTS)}")


def main(argv: list[str]) -> None:
    wanted = argv or cases()
    unknown = sorted(set(wanted) - set(cases()))
    if unknown:
        raise SystemExit(f"unknown case(s): {', '.join(unknown)}; cases: {', '.join(cases())}")
    for case in wanted:
        regen(case)


if __name__ == "__main__":
    main(sys.argv[1:])
