"""A/B of warm builds (docs/performance.md, "The warm build's fixed cost").

    python bench/warm_ab.py SIZE ROUNDS [a|b ...]

Builds /tmp/warm/{a,b}SIZE (copies of /work/estates/SIZE, made beforehand) cold once
with the cache on, then ROUNDS times, alternating the two sides: a build with no
change, a client contact's e-mail edited (the fourth client of p0, its client.yaml),
an equipment address edited (that client's first -s04 site file), each a warm build
from the state of the last. Side a is A_SNAVC (default: /work/main's venv), side b
B_SNAVC (default: this worktree's). Prints each run and the minimum of each operation
as a share of the side's cold build in the same run."""

import os
import re
import shutil
import subprocess
import sys
import time

SIZE = sys.argv[1]
ROUNDS = int(sys.argv[2])
SIDES = sys.argv[3:] or ["a", "b"]
BIN = {
    "a": os.environ.get("A_SNAVC", "/work/main/.venv/bin/snavc"),
    "b": os.environ.get("B_SNAVC", "/work/wt/warm/.venv/bin/snavc"),
}


def repo(side):
    return f"/tmp/warm/{side}{SIZE}"


def run(side, cold=False, timings=False):
    r = repo(side)
    if cold:
        shutil.rmtree(f"{r}/.snavc", ignore_errors=True)
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if timings:
        env["SNAVC_TIMINGS"] = "1"
    t = time.perf_counter()
    p = subprocess.Popen(
        [BIN[side], "build", r, "-o", f"/tmp/warm/out-{side}{SIZE}"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = p.communicate()
    dt = time.perf_counter() - t
    if p.returncode:
        print(out.decode(), err.decode())
        sys.exit(1)
    warm = b"incremental" in out or b"incremental" in err
    if timings:
        sys.stderr.write(err.decode())
    return dt, warm


def toggle(path, a, b):
    text = open(path).read()
    text = text.replace(a, b, 1) if a in text else text.replace(b, a, 1)
    open(path, "w").write(text)


def edit(side, what):
    r = repo(side)
    CL = sorted(d for d in os.listdir(f"{r}/p0") if d.startswith("p0-c"))[3]
    if what == "contact":
        toggle(f"{r}/p0/{CL}/client.yaml", "email: c1@", "email: x1@")
    elif what == "equipment":
        f = sorted(p for p in os.listdir(f"{r}/p0/{CL}") if p.endswith("-s04.yaml"))[0]
        path = f"{r}/p0/{CL}/{f}"
        text = open(path).read()
        m = re.search(r"address: (\S+)", text)
        new = "10.9.9.9" if m.group(1) != "10.9.9.9" else "10.9.9.8"
        open(path, "w").write(text[: m.start(1)] + new + text[m.end(1) :])


res = {}
ops = ["cold", "none", "contact", "equipment"]
for rnd in range(ROUNDS):
    for op in ops if rnd == 0 else ops[1:]:
        for side in SIDES:
            if op not in ("cold", "none"):
                edit(side, op)
            dt, warm = run(side, cold=(op == "cold"), timings=bool(os.environ.get("T")))
            res.setdefault((side, op), []).append(dt)
            print(
                f"round {rnd} {side} {op:10s} {dt:6.2f} s {'warm' if warm else 'COLD'}", flush=True
            )
print()
for side in SIDES:
    cold = min(res[(side, "cold")])
    row = [f"{side}: cold {cold:.2f}"]
    for op in ops[1:]:
        m = min(res[(side, op)])
        row.append(f"{op} {m:.2f} ({100 * m / cold:.1f} %)")
    print("  ".join(row))
