"""Time the bridge on a fabricated export: import, cold build, export, drift.

The issue's target: a 100k-host export imports and exports in less time than a cold
build of the same estate. Each step runs `snavc` in a fresh process, as a user would.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

from .servicenav import write_exports


def _timed(args: list[str], env=None) -> tuple[float, int, int]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "snavc", *args],
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    wall = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if proc.returncode not in (0, 2):
        raise SystemExit(f"snavc {' '.join(args)}: exit {proc.returncode}\n{proc.stderr[-2000:]}")
    return wall, max(rss, before) // 1024, proc.returncode


def run_bridge(n: int, root: Path) -> str:
    root.mkdir(parents=True, exist_ok=True)
    exports = root / f"exports-{n}"
    hosts, services = exports / "hosts.csv", exports / "services.csv"
    if not hosts.is_file():
        write_exports(exports, n)
    repo, build, out = root / f"repo-{n}", root / f"build-{n}", root / f"out-{n}"
    for p in (repo, build, out):
        shutil.rmtree(p, ignore_errors=True)
    rows = []
    steps = [
        ("import", ["import", str(hosts), str(services), "-o", str(repo)]),
        ("build (cold)", ["build", str(repo), "-o", str(build)]),
        (
            "export --like (both files)",
            ["export", str(build), "--like", str(hosts), "--like", str(services), "-o", str(out)],
        ),
        (
            "drift (both files)",
            ["drift", str(build), "--export", str(hosts), "--export", str(services)],
        ),
    ]
    for name, args in steps:
        if name.startswith("build"):
            shutil.rmtree(repo / ".snavc", ignore_errors=True)
        wall, rss, _ = _timed(args, {"SNAVC_NO_CACHE": "1"})
        rows.append((name, wall, rss))
    same = all((out / f.name).read_bytes() == f.read_bytes() for f in (hosts, services))
    n_services = services.read_bytes().count(b"\n") - 1
    lines = [
        f"## Bridge: {n:,} hosts, about {n_services:,} unit services "
        f"({hosts.stat().st_size + services.stat().st_size:,} bytes of CSV)",
        "",
        "| step | wall (s) | peak RSS (MiB) |",
        "|---|---:|---:|",
        *(f"| {name} | {wall:.2f} | {rss:,} |" for name, wall, rss in rows),
        "",
        f"export byte-identical to the fabricated export: {'yes' if same else 'NO'}",
    ]
    return "\n".join(lines) + "\n"
