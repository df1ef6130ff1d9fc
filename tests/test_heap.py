"""Python's object arenas on transparent huge pages (snavc/_heap.c, cli._huge_pages).

The allocator is the process's, so each check runs in a fresh one. What must hold: the
outputs are the same with and without it; the arenas it serves are on huge pages where
the system has them; arenas freed are reused (memory does not grow with churn); a fork
goes on allocating; requests of other sizes (the frames' stack chunks) still work.
"""

from __future__ import annotations

import filecmp
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
THP = Path("/sys/kernel/mm/transparent_hugepage/enabled")

heap = pytest.importorskip("snavc._heap", reason="the C extension is not built here")


def _python(code: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


_CHURN = """
import os, sys
from snavc._heap import use_huge_pages
assert use_huge_pages() is True
assert use_huge_pages() is True  # idempotent

def rss():
    for line in open("/proc/self/smaps_rollup"):
        if line.startswith(("Rss:", "AnonHugePages:")):
            yield int(line.split()[1])

def deep(n):  # frames beyond the first stack chunk: requests of other sizes
    return 0 if n == 0 else 1 + deep(n - 1)

sys.setrecursionlimit(20000)
assert deep(10000) == 10000
x = [{"a": i, "b": str(i)} for i in range(1_000_000)]
first, huge = rss()
del x
x = [{"c": i, "d": str(i)} for i in range(1_000_000)]
again, _ = rss()
pid = os.fork()
if pid == 0:
    y = [{"e": i} for i in range(500_000)]
    os._exit(0 if len(y) == 500_000 else 1)
_, status = os.waitpid(pid, 0)
print(first, huge, again, status)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux's huge pages")
def test_arenas_on_huge_pages_reused_and_forked():
    first, huge, again, status = map(int, _python(_CHURN).split())
    assert status == 0  # the forked child allocated and ended well
    # freed arenas are reused: the second million objects take no new memory
    assert again < first * 1.1
    if THP.exists() and "[never]" not in THP.read_text():
        assert huge > first // 2  # most of the objects are on huge pages


def test_a_build_writes_the_same_bytes_with_and_without_huge_pages(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNAVC_")}
    outs = []
    for setting in ("1", "0"):
        out = tmp_path / f"out-{setting}"
        proc = subprocess.run(
            [sys.executable, "-m", "snavc", "build", "samples/seed", "-o", str(out)],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
            env={**env, "SNAVC_HUGE_PAGES": setting, "SNAVC_NO_CACHE": "1"},
        )
        assert proc.returncode == 0, proc.stderr
        outs.append(out)
    names = sorted(p.name for p in outs[0].iterdir())
    assert names == sorted(p.name for p in outs[1].iterdir())
    match, mismatch, errors = filecmp.cmpfiles(outs[0], outs[1], names, shallow=False)
    assert mismatch == [] and errors == []
    assert "effective.json" in match


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux's huge pages")
@pytest.mark.parametrize(
    "setting, expected", [(None, "False True"), ("0", "False False"), ("1", "True True")]
)
def test_huge_pages_from_a_large_input_on(setting, expected):
    """A small estate keeps 4 KiB pages (the faults of huge ones cost it more); from
    HUGE_PAGES_MIN_BYTES of YAML on the heap goes on huge pages; the variable decides."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNAVC_")}
    if setting is not None:
        env["SNAVC_HUGE_PAGES"] = setting
    code = (
        "from snavc.engine.load import HUGE_PAGES_MIN_BYTES as m, huge_pages as h\n"
        "print(h(m - 1), h(m))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT, env=env
    )
    assert proc.stdout.split() == expected.split(), proc.stderr
