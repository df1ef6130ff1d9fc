"""Load, validate and tree in one process, CPU time: `python bench/stage_cpu.py ESTATE ROUNDS`.

Loads every file of ESTATE (no forked loader), validates the documents and links the
tree, garbage collector off as in a build, and prints each stage's best CPU time over
the rounds (docs/performance.md, "validate, tree and a cold build's memory"). Run it
with each checkout's Python to compare them."""

import gc
import inspect
import sys
import time
from pathlib import Path

from snavc import tree as T
from snavc.engine import load as L
from snavc.engine.inputs import _inputs
from snavc.validate import validate

root = Path(sys.argv[1]).resolve()
gc.disable()
_, settings, catalog_docs, _, paths = _inputs(root, [], "fast", {})
catalog = validate(catalog_docs, catalog=True, seal=False)
packed = {"packed": True} if "packed" in inspect.signature(L._load_chunk).parameters else {}
best: dict[str, float] = {}
for _ in range(int(sys.argv[2])):
    t = time.process_time()
    docs, _ = L._load_chunk(root, paths, "fast", {}, **packed)
    load = time.process_time() - t
    t = time.process_time()
    checked = validate(docs)
    valid = time.process_time() - t
    t = time.process_time()
    T.build_tree(list(settings) + checked.objects, catalog.objects, checked.rejected)
    tree = time.process_time() - t
    for stage, took in (("load", load), ("validate", valid), ("tree", tree)):
        best[stage] = min(best.get(stage, took), took)
    del docs, checked
print(" ".join(f"{stage}={took:.3f}" for stage, took in best.items()))
