"""`make bench`: time snavc on generated estates against a plain YAML parse.

For each size, every operation runs as its own ``snavc`` process (as a user runs it);
its wall time and peak RSS come from ``os.wait4``. The floor is a plain parse of the
same files with PyYAML's libyaml ``CSafeLoader`` in one process, measured in the same
run, so that ratios stay meaningful on a shared, noisy machine.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

from .generate import generate

GENERATOR_VERSION = "5"  # 3-4: the product's fields (issue 12); 5: estates clean under H8


def estate(root: Path, n: int) -> Path:
    """The generated estate of ``n`` equipment, cached between runs."""
    path = root / f"estate-{n}-v{GENERATOR_VERSION}"
    marker = path / ".generated"
    if not marker.exists():
        shutil.rmtree(path, ignore_errors=True)
        generate(path, n)
        marker.write_text("ok\n")
    return path


def floor(path: Path) -> float:
    """Seconds for PyYAML's CSafeLoader to parse every file, in a fresh process."""
    code = (
        "import sys, time, pathlib, yaml\n"
        "t = time.perf_counter()\n"
        "for p in sorted(pathlib.Path(sys.argv[1]).rglob('*.yaml')):\n"
        "    list(yaml.load_all(p.read_bytes(), Loader=yaml.CSafeLoader))\n"
        "print(time.perf_counter() - t)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip())


def _env() -> dict:
    """This environment, with Python's bytecode cache on: a user's snavc does not
    compile its modules again at every run (an editable install writes __pycache__
    once, a wheel ships it); a sandbox may turn it off with PYTHONDONTWRITEBYTECODE."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed(args: list[str], env: dict | None = None) -> tuple[float, int, int]:
    """(wall seconds, peak RSS in MiB, exit code) of one command."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env or _env()
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.stderr is not None:
        proc.stderr.close()
    return wall, usage.ru_maxrss // 1024, proc.returncode


def _change_one_file(path: Path) -> Path:
    site = sorted(path.rglob("*-s00.yaml"))[0]
    text = site.read_text()
    site.write_text(
        text.replace("check_interval: 30", "check_interval: 31", 1).replace(
            "check_interval: 60", "check_interval: 61", 1
        )
    )
    return site


def _change_percent(path: Path, out: Path, percent: float) -> int:
    """A copy of the estate with ``percent`` of its equipment changed."""
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(path, out, ignore=shutil.ignore_patterns(".snavc", ".generated"))
    files = sorted(out.rglob("*-s*.yaml"))
    step = max(1, round(100 / percent))
    changed = 0
    for site in files[::step]:
        text = site.read_text()
        site.write_text(text.replace("criticality: 2", "criticality: 1"))
        changed += text.count("criticality: 2")
    return changed


def run(sizes: list[int], root: Path, report: Path) -> str:
    snavc = [sys.executable, "-m", "snavc"]
    rows = []
    for n in sizes:
        path = estate(root, n)
        files = sum(1 for _ in path.rglob("*.yaml"))
        mb = sum(p.stat().st_size for p in path.rglob("*.yaml")) / 1e6
        base = floor(path)
        out = root / f"build-{n}"
        cache = path / ".snavc"
        measures = {}
        shutil.rmtree(cache, ignore_errors=True)
        measures["validate (cold)"] = timed([*snavc, "validate", str(path)])
        shutil.rmtree(cache, ignore_errors=True)
        measures["build (cold)"] = timed([*snavc, "build", str(path), "-o", str(out)])
        measures["build (warm, no change)"] = timed([*snavc, "build", str(path), "-o", str(out)])
        site = _change_one_file(path)
        measures["build (one file changed)"] = timed([*snavc, "build", str(path), "-o", str(out)])
        site.write_text(
            site.read_text()
            .replace("check_interval: 31", "check_interval: 30", 1)
            .replace("check_interval: 61", "check_interval: 60", 1)
        )
        other = root / f"estate-{n}-changed"
        _change_percent(path, other, 1.0)
        out2 = root / f"build-{n}-changed"
        timed([*snavc, "build", str(other), "-o", str(out2)])
        measures["diff (1% changed)"] = timed([*snavc, "diff", str(out), str(out2)])
        query = [
            *snavc,
            "query",
            "selectable",
            str(path),
            "--as",
            "p0-admin",
            "--at",
            "p0-c00000-s00",
            "--kind",
            "box",
        ]
        shutil.rmtree(cache, ignore_errors=True)
        measures["query selectable (no snapshot)"] = timed(query)
        measures["query selectable (snapshot)"] = timed(query)
        measures["explain one equipment (snapshot)"] = timed(
            [*snavc, "explain", str(path), "eq-000000"]
        )
        measures["can-edit one equipment (snapshot)"] = timed(
            [*snavc, "query", "can-edit", str(path), "--as", "p0-c00000-operator", "eq-000009"]
        )
        shutil.rmtree(other, ignore_errors=True)
        rows.append((n, files, mb, base, measures))
        print(
            f"{n:>7} equipment: floor {base:.2f}s; "
            + "; ".join(f"{k} {v[0]:.2f}s" for k, v in measures.items()),
            flush=True,
        )
    text = _table(rows)
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(text)
    return text


def _table(rows) -> str:
    cpu = platform.processor() or platform.machine()
    lines = [
        "# snavc benchmark",
        "",
        f"Machine: {os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, {platform.system()}.",
        "Ratio: the operation's wall time over the floor (PyYAML CSafeLoader parsing the same files in one",
        "process, measured in the same run). RSS: peak resident memory of the snavc process.",
        "",
    ]
    for n, files, mb, base, measures in rows:
        lines += [
            f"## {n:,} equipment ({files:,} files, {mb:.1f} MB); floor {base:.2f} s",
            "",
            "| operation | wall (s) | ratio to floor | peak RSS (MiB) | exit |",
            "|---|---:|---:|---:|---:|",
        ]
        for name, (wall, rss, code) in measures.items():
            lines.append(f"| {name} | {wall:.2f} | {wall / base:.2f} | {rss:,} | {code} |")
        lines.append("")
    if len(rows) > 1:
        lines += [
            "## Scaling (10x the equipment)",
            "",
            "| operation | "
            + " | ".join(f"{a[0]:,} -> {b[0]:,}" for a, b in zip(rows, rows[1:], strict=False))
            + " |",
        ]
        lines.append("|---|" + "---:|" * (len(rows) - 1))
        for name in rows[0][4]:
            ratios = [
                f"{b[4][name][0] / a[4][name][0]:.1f}x"
                for a, b in zip(rows, rows[1:], strict=False)
            ]
            lines.append(f"| {name} | " + " | ".join(ratios) + " |")
        lines.append("")
    return "\n".join(lines)
