"""The bench's two warm edits, timed (docs/performance.md, "Warm edits at 100k").

    python bench/warm_edits.py SNAVC REPO OUT [PROFILE-PREFIX]

REPO holds a build's state (built once with ``SNAVC build REPO -o OUT``). Makes the
edits ``make bench`` makes (snavc/bench/run.py: ``_change_one_file``, an equipment
file; ``_change_configuration``, a client's office hours period made its check
default too), each built warm with ``SNAVC_TIMINGS=1``, undone and built again. With
PROFILE-PREFIX, each edit's build runs under ``python -m cProfile -o
PREFIX-{equipment,configuration}.prof`` (``SNAVC_CLEAN_EXIT=1``: the profiler writes
its data at exit). Run it from outside any checkout (``cd /tmp``), SNAVC being the
side's console script: a checkout's own snavc would be imported otherwise."""

import os
import subprocess
import sys
import time
from pathlib import Path

from snavc.bench.run import _change_configuration, _change_one_file

snavc, repo, out = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
prof = sys.argv[4] if len(sys.argv) > 4 else None
env = dict(os.environ, SNAVC_TIMINGS="1", SNAVC_CLEAN_EXIT="1" if prof else "")


def build(tag: str) -> None:
    cmd = [snavc, "build", str(repo), "-o", out]
    if prof and tag != "undo":
        python = str(Path(snavc).parent / "python")
        cmd = [python, "-m", "cProfile", "-o", f"{prof}-{tag}.prof", "-m", "snavc", *cmd[1:]]
    t = time.perf_counter()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd="/tmp")
    warm = "incremental" in p.stdout + p.stderr
    print(f"== {tag}: {time.perf_counter() - t:.2f} s rc={p.returncode} warm={warm}")
    if tag != "undo" or p.returncode:
        print(p.stderr.strip())


site = _change_one_file(repo)
build("equipment")
site.write_text(
    site.read_text()
    .replace("check_interval: 31", "check_interval: 30", 1)
    .replace("check_interval: 61", "check_interval: 60", 1)
)
build("undo")
client, before = _change_configuration(repo)
build("configuration")
client.write_text(before)
build("undo")
