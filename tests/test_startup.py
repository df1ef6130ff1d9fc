"""Start-up and exit of the ``snavc`` command (issue 14, item 3; docs/performance.md,
"Start-up").

A command imports only the stages it runs: ``snavc --help``, ``--version`` and a usage
error import neither pydantic nor the models nor the pipeline, and a query neither the
diff, the report (jinja2) nor the bridge. Each case runs ``python -X importtime`` in a
fresh process, which lists every module the command imported.

``snavc`` ends with ``os._exit`` once its output is flushed (no interpreter teardown):
the exit codes and the output, piped, must be those of an ordinary exit, which
``SNAVC_CLEAN_EXIT=1`` gives.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import snavc

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "samples" / "seed"

# what only the stages need: never imported before a command runs one
STAGES = (
    "pydantic",
    "pydantic_core",
    "rapidfuzz",
    "yaml",
    "ruamel",
    "orjson",
    "jinja2",
    "snavc.model",
    "snavc.validate",
    "snavc.tree",
    "snavc.engine",
    "snavc.resolve",
    "snavc.review",
    "snavc.bridge",
    "snavc.query",
    "snavc.explain",
)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNAVC_")}
    return {**env, "PYTHONPATH": str(ROOT), **extra}


def snavc_process(*args, cwd: Path = ROOT, **env: str) -> subprocess.CompletedProcess:
    """``python -m snavc ARGS`` in a fresh process (its output piped)."""
    return subprocess.run(
        [sys.executable, "-m", "snavc", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env=_env(**env),
    )


def imported(*args, cwd: Path = ROOT) -> set[str]:
    """The modules ``snavc ARGS`` imports, from ``python -X importtime``."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "snavc", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env=_env(),
    )
    return {
        line.rsplit("|", 1)[1].strip()
        for line in proc.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


def stages_in(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == s or m.startswith(s + ".") for s in STAGES))


# -- imports ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [["--help"], ["--version"], ["build", "--help"], ["query", "selectable", "--help"]],
    ids=" ".join,
)
def test_help_imports_no_stage(args):
    modules = imported(*args)
    assert "snavc.cli" in modules  # (the listing works)
    assert stages_in(modules) == []


def test_a_usage_error_imports_no_stage():
    modules = imported("query", "selectable", "--kind", "nothing")
    assert "snavc.cli" in modules
    assert stages_in(modules) == []


def test_import_snavc_cli_imports_no_stage():
    code = (
        "import sys, snavc.cli\n"
        f"stages = {STAGES!r}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in stages"
        " or m.startswith(tuple(s + '.' for s in stages)) or m in stages))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=_env()
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "[]\n"


def test_a_query_imports_neither_diff_nor_report_nor_bridge(tmp_path):
    repo = tmp_path / "seed"
    shutil.copytree(SEED, repo)
    args = ["query", "selectable", repo, "--as", "stephanie", "--at", "client1-site2"]
    assert snavc_process(*args, "--kind", "box").returncode == 0  # (and its snapshot)
    modules = imported(*args, "--kind", "box")
    assert "snavc.query" in modules
    assert [m for m in stages_in(modules) if m.startswith(("jinja2", "snavc.review"))] == []
    assert [m for m in stages_in(modules) if m.startswith(("snavc.bridge", "rapidfuzz"))] == []


def test_diff_reads_builds_without_the_models(tmp_path):
    """``diff`` reads two builds as bytes: it imports neither the models (pydantic),
    the tree nor the rules (a fifth of a 100k diff was importing them)."""
    out = tmp_path / "out"
    assert snavc_process("build", SEED, "-o", out, SNAVC_NO_CACHE="1").returncode == 0
    modules = imported("diff", out, out)
    assert "snavc.review.diff" in modules
    heavy = ("pydantic", "snavc.model", "snavc.tree", "snavc.resolve", "snavc.validate")
    assert [m for m in stages_in(modules) if m.startswith(heavy)] == []


def test_the_front_door_is_lazy_and_whole():
    """``snavc.compile_repo`` and the other public names still come from ``snavc``."""
    from snavc import Diagnostic, Result, check, compile_repo, diff, read_build
    from snavc.diagnostics import Diagnostic as D
    from snavc.engine.pipeline import Result as R
    from snavc.engine.pipeline import check as c
    from snavc.engine.pipeline import compile_repo as cr
    from snavc.review.diff import diff as d
    from snavc.review.diff import read_build as rb

    assert (Diagnostic, Result, check, compile_repo, diff, read_build) == (D, R, c, cr, d, rb)
    assert set(snavc.__all__) <= set(dir(snavc))
    assert all(hasattr(snavc, name) for name in snavc.__all__)
    with pytest.raises(AttributeError, match="module 'snavc' has no attribute 'nothing'"):
        snavc.nothing  # noqa: B018


# -- the exit: codes and output as an ordinary exit's -------------------------------------

CLEAN = {"SNAVC_CLEAN_EXIT": "1"}


@pytest.mark.parametrize("env", [{}, CLEAN], ids=["fast-exit", "clean-exit"])
def test_exit_codes_and_piped_output(tmp_path, env):
    repo = tmp_path / "seed"
    shutil.copytree(SEED, repo)
    out = tmp_path / "out"

    built = snavc_process("build", repo, "-o", out, **env)
    assert built.returncode == 0, built.stderr
    assert built.stdout.startswith("built 6 equipment, ")
    assert built.stdout.endswith(f"into {out}/\n")
    assert json.loads((out / "effective.json").read_text())["equipment"]
    assert (repo / "snav.lock").is_file()

    # errors: 1, and every diagnostic written, through a pipe larger than its buffer
    bad = tmp_path / "bad"
    shutil.copytree(SEED, bad)
    typos = "---\n".join(f"kind: Contact\nid: x{n}\nat: partner\nnmae: X\n" for n in range(400))
    (bad / "broken.yaml").write_text(typos, encoding="utf-8")
    errors = snavc_process("validate", bad, "--format", "json", **env)
    assert errors.returncode == 1
    assert len(errors.stdout) > 100_000
    found = json.loads(errors.stdout)
    assert sum(d["file"] == "broken.yaml" and d["severity"] == "error" for d in found) >= 400
    text = snavc_process("validate", bad, **env)
    assert text.returncode == 1
    assert text.stdout.count("broken.yaml:") >= 400

    # usage errors: 2 (click's own, and snavc's), or 1 under --detailed-exitcode
    assert snavc_process("no-such-command", **env).returncode == 2
    unknown = snavc_process("query", "can-edit", repo, "--as", "nobody", "x", **env)
    assert unknown.returncode == 2
    assert unknown.stderr.startswith("Error: ")
    assert snavc_process("diff", out, out, "--no-such-option", **env).returncode == 2
    detailed = snavc_process("diff", out, out, "--no-such-option", "--detailed-exitcode", **env)
    assert detailed.returncode == 1
    nothing = snavc_process("diff", out, out, "--detailed-exitcode", **env)
    assert (nothing.returncode, nothing.stderr) == (0, "")

    assert snavc_process("--help", **env).stdout.startswith("Usage: ")
    assert snavc_process("--version", **env).stdout == f"snavc, version {snavc.__version__}\n"


def _with_exit_hook(*args: str, **env: str) -> subprocess.CompletedProcess:
    """``snavc ARGS`` in a process that says "teardown" if its interpreter tears down."""
    code = (
        "import atexit, sys\n"
        "atexit.register(lambda: print('teardown', file=sys.stderr))\n"
        "from snavc.cli import main\n"
        f"sys.argv = ['snavc', *{list(args)!r}]\n"
        "main()\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=_env(**env)
    )


@pytest.mark.parametrize("args,code", [(["--version"], 0), (["nothing"], 2)])
def test_snavc_skips_the_teardown_unless_clean_exit_is_set(args, code):
    fast = _with_exit_hook(*args)
    assert fast.returncode == code
    assert "teardown" not in fast.stderr
    clean = _with_exit_hook(*args, **CLEAN)
    assert (clean.returncode, clean.stdout) == (code, fast.stdout)
    assert clean.stderr == fast.stderr + "teardown\n"


def test_an_exception_under_snavc_debug_is_still_a_traceback():
    """SNAVC_DEBUG lets a bug's exception out of main(): Python prints it and exits 1."""
    code = (
        "import sys\n"
        "import snavc.cli as c\n"
        "def boom(*a, **k):\n"
        "    raise RuntimeError('boom')\n"
        "c.cli.main = boom\n"
        "sys.argv = ['snavc', '--help']\n"
        "c.main()\n"
    )
    run = [sys.executable, "-c", code]
    debug = subprocess.run(run, capture_output=True, text=True, env=_env(SNAVC_DEBUG="1"))
    assert debug.returncode == 1
    assert "Traceback" in debug.stderr and "RuntimeError: boom" in debug.stderr
    plain = subprocess.run(run, capture_output=True, text=True, env=_env())
    assert plain.returncode == 3
    assert plain.stderr.startswith("snavc: internal error: RuntimeError: boom")
