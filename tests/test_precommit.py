"""The pre-commit hook (.pre-commit-hooks.yaml) run by the real pre-commit
(`pre-commit try-repo`, issue 11) on a throwaway git repository.

pre-commit makes a virtualenv and pip-installs this repository (its committed state
plus uncommitted changes of tracked files) with its dependencies: about a minute, and
PyPI must be reachable. So the test is marked `tools` and left out of `make test`;
`make tool-test` runs it, and so does CI (.ci/run).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PARTNER_YAML, SNAV_YAML

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.tools


def _env(tmp_path: Path) -> dict:
    return {
        **os.environ,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Hook Test",
        "GIT_AUTHOR_EMAIL": "hook@example.net",
        "GIT_COMMITTER_NAME": "Hook Test",
        "GIT_COMMITTER_EMAIL": "hook@example.net",
        "GIT_CEILING_DIRECTORIES": str(tmp_path),
        # pre-commit's environments live with the test (reused by the second run)
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        "NO_COLOR": "1",
    }


def _run(args: list[str], cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


def _pre_commit() -> list[str]:
    exe = shutil.which("pre-commit", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "pre_commit"]


def test_pre_commit_try_repo_runs_the_hook(tmp_path):
    env = _env(tmp_path)
    estate = tmp_path / "estate"
    estate.mkdir()
    (estate / "snav.yaml").write_text(SNAV_YAML, encoding="utf-8")
    (estate / "partner.yaml").write_text(PARTNER_YAML, encoding="utf-8")
    (estate / "README.md").write_text("an estate\n", encoding="utf-8")
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "base"]):
        assert _run(["git", *args], estate, env).returncode == 0

    try_repo = [*_pre_commit(), "try-repo", str(ROOT), "snavc-validate", "--all-files"]
    clean = _run(try_repo, estate, env)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "snavc validate" in clean.stdout and "Passed" in clean.stdout

    (estate / "contacts.yaml").write_text(
        "kind: Contact\nid: noc\nat: partner\nname: NOC\nnmae: typo\n", encoding="utf-8"
    )
    assert _run(["git", "add", "contacts.yaml"], estate, env).returncode == 0
    broken = _run(try_repo, estate, env)
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert "Failed" in broken.stdout
    assert (
        "contacts.yaml:5:1: error[SNV203] unknown field 'nmae' in Contact 'noc'; did you mean "
        "'name'?" in broken.stdout
    )
    # the hook leaves the repository as it was: its cache ignores itself
    status = _run(["git", "status", "--porcelain"], estate, env).stdout
    assert status == "A  contacts.yaml\n"
