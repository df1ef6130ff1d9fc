"""Incremental build: patch the previous build where only equipment and user services
changed (part of ``build``: at 100k equipment, 2 s instead of 35).

A full build of a 100k-equipment estate takes half a minute, and most edits touch one
site file's equipment. A successful build leaves its *state* in ``REPO/.snavc/``
(snavc.engine.cache): the content hash of every input, where each equipment and user service
is defined, and hard links to the build's effective.json and origins.json (with their
content hashes, checked before they are patched). The next
build hashes every input again and patches instead of rebuilding when

- snav.yaml, the catalogue and snav.lock are unchanged, the build re-applies nothing,
  and at most 5 % of the files changed;
- every changed (added, removed) file holds the same configuration documents as before
  (nodes, users, contacts, periods, templates...: same content, same lines), so that
  everything but the *dirty* objects below is a function of unchanged inputs;
- the dirty objects raise no diagnostic at all.

Dirty are the equipment defined in a changed file (before or now) and the user services
defined in one or with a member on a dirty equipment. They are validated, linked and
resolved against the configuration (read from the snapshot: snavc.engine.cache), and their
lines of effective.json and origins.json replace the old ones (emit.Lines); the other
sections follow: input hashes, the lock's per-template counts, the service origins
still used, snav.lock (T5) and lock-report.json. Anything else gives ``None``: the caller builds in full,
which reports what there is to report in its usual order. The bytes are those of a
full build; tests/test_incremental.py compares the two over random edits.
"""

from __future__ import annotations

import marshal
import os
import threading
from pathlib import Path

import orjson

from ..diagnostics import Diagnostic
from . import cache
from .faults import crash_point, temporary
from .inputs import Result, gc_paused, hashed_inputs, host_links, leaf_entry, leaf_loader
from .load import Document, load_file
from .state import (
    OUTPUTS,
    Built,
    LockFile,
    diagnostics_from_state,
    outputs_intact,
    read_state,
    save_state,
)

MAX_CHANGED = 0.05  # beyond 5 % of the files changed, a full build is about as fast


def rebuild(repo: Path, out: Path, backend: str, locked: bool):
    """The build of ``repo`` into ``out`` made by patching the previous one, as a
    ``pipeline.Built``; None when it cannot be (the caller builds in full)."""
    root = Path(repo).resolve()
    state = read_state(root)
    if state is None:
        return None
    # the linked outputs' content hashes, checked in a second thread while this one
    # finds what changed (hashlib releases the GIL): 300 MB at 100k equipment
    intact = _in_thread(lambda: outputs_intact(root, state))
    with gc_paused():
        try:
            return _rebuild(Path(repo), root, Path(out), backend, locked, state, intact)
        except (KeyError, ValueError, TypeError, OSError):  # a state out of step, a file gone
            if os.environ.get("SNAVC_STRICT_CACHE"):  # the tests: a bug, not a fallback
                raise
            return None
        finally:
            intact()  # no thread left running when a full build then forks (load)


def _in_thread(work):
    """Run ``work()`` in a thread; returns a function that waits for its value (False
    when it raised)."""
    box: list = [False]

    def run() -> None:
        try:
            box[0] = work()
        except (OSError, ValueError, KeyError, TypeError):
            box[0] = False

    thread = threading.Thread(target=run, daemon=True)
    thread.start()

    def wait():
        thread.join()
        return box[0]

    return wait


def _rebuild(repo: Path, root: Path, out: Path, backend: str, locked: bool, state: dict, intact):
    from ..resolve import engine
    from ..resolve.lock import LOCK_FILE, LockState
    from ..tree import build_tree
    from ..validate import models_of_clean, validate, validate_document
    from .emit import BuildWriter, lock_report

    diags: list[Diagnostic] = []
    hashes: dict[str, str] = {}
    settings_objs, catalog_docs, rels, paths, files = hashed_inputs(root, diags, backend, hashes)
    changed, removed = _changes(state, hashes, files)
    if diags or changed is None:
        return None
    snap = cache.read(root, state["snapshot"])
    if snap is None:
        return None
    config = snap["config"]
    touched = set(changed) | set(removed)

    # 1. the changed files hold the configuration documents they held, at the same places
    before: dict[str, list] = {}
    for t in config:
        if t[0] in touched:  # (positions are marshalled in the snapshot)
            before.setdefault(t[0], []).append((*t[:5], marshal.loads(t[5])))
    if any(before.get(rel) for rel in removed):
        return None
    leaf_docs: list[Document] = []
    for rel in changed:
        docs, more = load_file(root / rel, rel, backend)
        if more:
            return None
        now = [
            (d.file, d.index, d.line, d.column, d.data, d.pos)
            for d in docs
            if d.kind not in cache.LEAF_KINDS
        ]
        # marshal version 2 tells true from 1 and 1.0 from 1, as validation does
        if marshal.dumps(now, 2) != marshal.dumps(before.get(rel, []), 2):
            return None
        leaf_docs += [d for d in docs if d.kind in cache.LEAF_KINDS]

    # 2. the dirty objects: leaves of the changed files, user services reaching them
    equipment: dict[str, tuple] = {}  # untouched: ID -> (file, unit service names)
    user_services: dict[str, tuple] = {}  # untouched: ID -> (file, members' equipment)
    gone: list[tuple] = []  # the dirty leaves as they were
    for file, items in state["leaves"].items():
        if file in touched:
            gone += items
            continue
        for kind, ident, _at, extra, _refs in items:
            (equipment if kind == "Equipment" else user_services)[ident] = (file, extra)
    checked = validate(leaf_docs)
    if checked.diagnostics:
        return None
    new_eq = [o for o in checked.objects if o.kind == "Equipment"]
    new_us = [o for o in checked.objects if o.kind == "UserService"]
    if _clash(new_eq, equipment) or _clash(new_us, user_services):
        return None  # a duplicate ID: the full build reports it
    dirty = {i for kind, i, *_ in gone if kind == "Equipment"} | {o.id for o in new_eq}
    # H4-H6 across the untouched equipment: a dirty one that is a parent of an untouched
    # one (gone or moved, the child would break), or that takes a product ID in use
    links = {i: v for i, v in state["links"].items() if i not in dirty}
    # a dirty equipment that an untouched one names as parent, or a maintenance window
    # as target, must stay where it was (H5, W2 depend on its node) with the unit
    # services named (checked below, once the tree knows its services)
    named = {t for targets, _ in links.values() for t in targets if t.partition("/")[0] in dirty}
    was_at = {i: at for kind, i, at, *_ in gone if kind == "Equipment"}
    now_at = {o.id: o.at for o in new_eq}
    if any(now_at.get(t.partition("/")[0]) != was_at.get(t.partition("/")[0]) for t in named):
        return None
    # U3: user services made of user services are checked across all of them
    if any(c.user_service is not None for o in new_us for c in o.components) or any(
        kind == "UserService" and ident in state["composed"] for kind, ident, *_ in gone
    ):
        return None
    if links and any(o.servicenav_id is not None for o in new_eq):
        taken = {snid for _, snid in links.values() if snid is not None}
        if any(o.servicenav_id in taken for o in new_eq):
            return None  # the full build reports it (SNV308)
    again = sorted(i for i, (_f, members) in user_services.items() if dirty.intersection(members))
    for ident in again:
        found, more = load_file(root / user_services[ident][0], user_services[ident][0], backend)
        doc = next(
            (d for d in found if d.kind == "UserService" and d.data.get("id") == ident), None
        )
        if doc is None or more:
            return None
        new_us.append(validate_document(doc, diags))
        del user_services[ident]
    if diags:
        return None

    # 3. link and resolve them over the configuration, which has not changed
    cfg = models_of_clean([Document(*t) for t in config])
    catalog = validate(catalog_docs, catalog=True, seal=False)
    known = {i: list(names) for i, (_f, names) in equipment.items()}
    objects = list(settings_objs) + cfg + new_eq + new_us
    known_parents = {i: parents for i, (parents, _) in links.items() if parents}
    tree = build_tree(
        objects,
        catalog.objects,
        known=known,
        check_only=new_eq + new_us,
        known_parents=known_parents,
    )
    if catalog.diagnostics or tree.diagnostics:
        return None
    for t in named:
        eq_id, _, name = t.partition("/")
        if name and name not in tree.unit_services.get(eq_id, ()):
            return None  # a targeted unit service is gone: the full build reports it
    tree.leaf_index = {i: ["Equipment", f] for i, (f, _n) in equipment.items()}
    tree.leaf_loader = leaf_loader(root, tree, backend)
    if not (root / LOCK_FILE).is_file():
        return None
    lockfile = LockFile(root / LOCK_FILE)
    lock = LockState(lockfile)  # checked when the state's build read it: same size, time
    res = engine(tree, lock, checks=False)
    resolver = res.resolver
    us_eff = {o.id: resolver.user_service(o) for o in sorted(new_us, key=lambda o: o.id)}
    eq_eff = {o.id: resolver.equipment(o, res.boxes) for o in sorted(new_eq, key=lambda o: o.id)}
    if res.diagnostics:
        return None

    # 4. patch the previous outputs, if they are what the previous build wrote
    if not intact():
        return None
    eff, ori, okeys, gone_services = _patch_outputs(
        root, state, gone, eq_eff, us_eff, tree, resolver, lock
    )

    # 5. the lock, the outputs, the state for the next build
    present = {i: tree.unit_services[i] for i in eq_eff}
    uses = dict(state["lock_uses"])
    lock.changed, lock.removed = lockfile.patch(lock, gone_services, present, uses)
    if locked and lock.changed:
        return None  # the full build says why (SNV423)
    old_diags = diagnostics_from_state(state["diagnostics"])
    writer = BuildWriter(out)
    try:
        layouts = writer.finish_patched(eff, ori, old_diags, lock_report(lock))
    finally:
        eff.close()
        ori.close()
    crash_point("swapped")
    if lock.changed:
        tmp = temporary(root / LOCK_FILE)
        try:
            with open(tmp, "wb") as f:
                lockfile.lines.write(f)
            os.chmod(tmp, (root / LOCK_FILE).stat().st_mode & 0o777)
            crash_point("lock")
            os.replace(tmp, root / LOCK_FILE)
        finally:
            tmp.unlink(missing_ok=True)
    lockfile.lines.close()
    crash_point("locked")
    leaves = {f: items for f, items in state["leaves"].items() if f not in touched}
    shared: dict = {}
    for obj in checked.objects:
        names = tree.unit_services.get(obj.id, ())
        leaves.setdefault(obj.doc.file, []).append(leaf_entry(obj, names, tree, shared))
    n_eq = len(equipment) + len(eq_eff)
    n_us = len(user_services) + len(us_eff)
    n_units = sum(len(n) for _f, n in equipment.values()) + sum(map(len, present.values()))
    hashes.pop("snav.lock")
    saved = cache.save(root, hashes, config, leaves)
    if saved is not None:  # (else the old state stays: consistent with its own outputs)
        key, hashes = saved
        state = {
            "hashes": hashes,
            "files": files,
            "snapshot": key,
            "leaves": leaves,
            "links": {**links, **host_links(new_eq)},
            "composed": state["composed"],
            "okeys": okeys,
            "lock_uses": uses,
            "diagnostics": state["diagnostics"],
        }
        save_state(root, out, state, layouts, writer.digests)
    result = Result(repo, tree, old_diags, rels, 0)
    return Built(
        result,
        res,
        "written",
        lock_written=lock.changed,
        counts=(n_eq, n_units, n_us),
        incremental=True,
    )


def _patch_outputs(root: Path, state: dict, gone, eq_eff, us_eff, tree, resolver, lock):
    """effective.json and origins.json of the previous build (their state links), with
    the lines of the dirty objects replaced, their input hashes, the lock's counts per
    template and the service origins still used; and the origin counts and the lock
    entries of the dirty equipment as they were."""
    from .emit import Lines, _compact, entry

    folder = root / cache.CACHE_DIR / "build"
    eff, ori = (Lines.open(folder / name, state["layouts"][name]) for name in OUTPUTS)
    stats = {  # what the lock keeps, per template (its report is made anew)
        t.decode(): orjson.loads(line[len(t) + 3 :]) for t, line in eff.entries(b"lock").items()
    }
    okeys = dict(state["okeys"])
    gone_services = []
    for kind, ident, _at, extra, _refs in gone:
        key = ident.encode()
        label = b"equipment/" if kind == "Equipment" else b"user-service/"
        if kind == "Equipment":
            line = eff.get(b"equipment", key)
            for s in orjson.loads(line[len(key) + 3 :])["services"].values():
                counts = stats[s["template"]]
                counts["services"] -= 1
                counts["not_applied"] -= "locked" in s
                okeys[s["origin"]] -= 1
            gone_services += [f"{ident}/{n}" for n in extra]
        eff.set(b"equipment" if kind == "Equipment" else b"user_services", key, None)
        eff.set(b"inputs", label + key, None)
        ori.set(b"explicit", label + key, None)
    for label, section, table, encode in (
        ("equipment/", b"equipment", eq_eff, _compact),
        ("user-service/", b"user_services", us_eff, _compact),
    ):
        for ident, value in table.items():
            eff.set(section, ident.encode(), entry(ident, encode(value)))
            obj = tree.get("Equipment" if section == b"equipment" else "UserService", ident)
            eff.set(
                b"inputs", (label + ident).encode(), entry(label + ident, _compact(obj.doc.digest))
            )
            explicit = resolver.explicit_origins.get(label + ident)
            if explicit is not None:
                ori.set(
                    b"explicit", (label + ident).encode(), entry(label + ident, _compact(explicit))
                )
            if section == b"equipment":
                for s in value["services"].values():
                    okeys[s["origin"]] = okeys.get(s["origin"], 0) + 1
    for template, counts in lock.stats.items():
        total = stats.setdefault(template, {"not_applied": 0, "services": 0})
        for k in total:
            total[k] += counts[k]
    for template, counts in stats.items():
        line = entry(template, _compact(counts)) if counts["services"] else None
        eff.set(b"lock", template.encode(), line)
    for okey in [k for k, n in okeys.items() if n == 0]:
        del okeys[okey]
        ori.set(b"services", okey.encode(), None)
    for okey, origins in resolver.origins.items():
        if okey not in state["okeys"] or not state["okeys"][okey]:
            ori.set(b"services", okey.encode(), entry(okey, _compact(origins)))
    return eff, ori, okeys, gone_services


def _changes(state: dict, hashes: dict[str, str], files: list[str]):
    """(changed, removed) repository files since the state, or (None, None) when a full
    build is due: snav.yaml, the catalogue or the lock changed, or too many files."""
    old = state["hashes"]
    changed = sorted(r for r, h in hashes.items() if old.get(r) != h)
    removed = sorted(r for r in old if r not in hashes)
    loaded = set(files)
    if any(r not in loaded for r in changed) or not set(removed) <= set(state["files"]):
        return None, None
    if len(changed) + len(removed) > max(10, MAX_CHANGED * len(files)):
        return None, None
    return changed, removed


def _clash(objects: list, untouched: dict) -> bool:
    ids = [o.id for o in objects]
    return len(set(ids)) < len(ids) or any(i in untouched for i in ids)
