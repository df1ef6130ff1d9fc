"""Load alone, two backends alternated: `python bench/load_ab.py ESTATE ROUNDS`.

Runs `load_text` over every file of ESTATE with the libyaml path and with the scanner
(the default `fast` backend), garbage collector off as in a build, and prints the CPU
time of each round and the best ratio (docs/performance.md, the scanner's figures)."""

import gc
import sys
import time
from pathlib import Path

from snavc.engine import load as L

root = Path(sys.argv[1])
files, _ = L.discover(root)
raws = [(L.relpath(root, p), p.read_bytes()) for p in files]
total = sum(len(r) for _, r in raws)
L.fast_available()
gc.disable()
best = {"libyaml": [], "fast": []}
for _ in range(int(sys.argv[2]) if len(sys.argv) > 2 else 3):
    for backend in best:
        t = time.process_time()
        for rel, raw in raws:
            L.load_text(rel, raw, backend)
        cpu = time.process_time() - t
        best[backend].append(cpu)
        print(f"{backend}: cpu {cpu:.2f} s ({total / 1e6 / cpu:.1f} MB/s)", flush=True)
        gc.collect()
lib, fast = min(best["libyaml"]), min(best["fast"])
print(f"{total / 1e6:.1f} MB; best cpu: libyaml {lib:.2f} s, fast {fast:.2f} s, ratio {fast / lib:.2f}")
