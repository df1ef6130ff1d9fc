"""The warm build: the previous build's outputs, with what an edit reaches resolved
again (part of ``build``, whose one entry point, snavc.engine.pipeline.build, decides
warm or cold).

A cold build of a 100k-equipment estate takes half a minute; an edit touches a file. A
successful build leaves its *state* (snavc.engine.state): the content hash of every
input, the snapshot of the configuration documents (snavc.engine.cache), per equipment
and user service a dependency record (its file, node, and the configuration objects it
names: inputs.leaf_entry), the diagnostics with the object that reported each, and hard
links to its effective.json and origins.json. The next build

1. hashes the inputs, parses the changed files, and compares their configuration
   documents with the snapshot's (content, file, positions): the *edits*;
2. finds what the edits reach (:func:`_reach`): the configuration objects that refer
   to an edited one, to a fixed point, and the nodes below an edited or reached object
   that acts by its place (a node, an override, a default period);
3. marks *dirty* the leaves of the changed files, those whose record names a reached
   object or whose node is below such a place, the user services with a member on a
   dirty equipment, the maintenance windows reached;
4. reads the dirty objects again, links them with the configuration, runs the shared
   checks again if the configuration changed, and resolves them with the rules' own
   code;
5. writes the outputs from them and the previous build's lines of every other object
   (emit.Lines), the sections that are a function of the whole configuration made
   again by emit's functions; snav.lock (T5) entry by entry; and the state.

Anything it cannot vouch for gives ``None`` (``_cold``): the caller builds cold, which
reports what there is to report in its usual order. The bytes are those of a cold
build; tests/test_incremental.py compares the two over random edits of every kind.
docs/design.md ("The incremental build") says why the dirty set is enough.
"""

from __future__ import annotations

import functools
import marshal
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

import orjson

from .. import diagnostics as dg
from ..model import NODE_KINDS
from . import cache
from .faults import crash_point, sync_folder, temporary
from .inputs import (
    Result,
    Timings,
    gc_paused,
    hashed_inputs_ahead,
    host_links,
    leaf_entry,
    leaf_loader,
    reported,
)
from .load import Document, broken_identities, load_file
from .state import (
    OUTPUTS,
    STATE,
    WINDOW,
    Built,
    LockFile,
    Records,
    diagnostics_from_state,
    diagnostics_to_state,
    keep_snapshot,
    outputs_intact,
    read_check,
    read_state,
    same_check,
    save_state,
    settled,
    state_snapshot,
    update_leaves,
)

MAX_CHANGED = 0.05  # beyond 5 % of the files changed, a full build is about as fast


def rebuild(
    repo: Path,
    out: Path | None,
    backend: str,
    locked: bool,
    persist: bool = True,
    given=None,
    vouched=None,
    incumbent=None,
):
    """The build of ``repo`` into ``out`` made by patching the previous one, as a
    ``pipeline.Built``; None when it cannot be (the caller builds in full). With
    ``persist`` false, the snapshot and the state stay those of the previous build
    (pipeline.build: no build follows). ``given``: the state to patch from, adopted by
    the caller (state.adopt_state), instead of the one in ``repo/.snavc``; ``vouched``,
    records of input files the caller has just read (cache.hash_files); ``incumbent``,
    as for tree.build_tree (plan's: which of two definitions of an ID was there before).

    With ``out`` None, the build is only checked (``validate``): every object an edit
    reaches resolved again, its diagnostics those of a cold build, nothing written
    (status "checked", or "errors")."""
    root = Path(repo).resolve()
    timings = Timings()
    if given is None and not (root / cache.CACHE_DIR / "build" / STATE).is_file():
        return None
    # the inputs found and hashed in a child process while this one reads the state
    # (forked before any thread of this one starts)
    try:
        inputs = hashed_inputs_ahead(root, backend, vouched)
    except OSError:
        return None
    # the linked outputs' content hashes, checked in a second thread while this one
    # finds what changed (hashlib releases the GIL): 360 MB at 100k equipment, from the
    # small file that says what they hold, before the state is read
    check = read_check(root) if given is None and out is not None else given
    early = _in_thread(lambda: outputs_intact(root, check)) if check else None
    state = read_state(root) if given is None else given
    if state is None:
        inputs()  # (no child left running)
        if early:
            early()
        return None
    timings("warm: read state")
    if out is None:  # (nothing is written: the outputs are not read)
        intact = _in_thread(lambda: True)
    elif early and same_check(check, state):
        intact = early
    else:  # (no check file, or not this state's: an adopted state, plan's)
        if early:
            early()
        intact = _in_thread(lambda: outputs_intact(root, state))
    with gc_paused():
        try:
            return _rebuild(
                Path(repo),
                root,
                None if out is None else Path(out),
                backend,
                locked,
                state,
                intact,
                inputs,
                timings,
                persist,
                incumbent,
            )
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


def _rebuild(
    repo: Path,
    root: Path,
    out: Path,
    backend: str,
    locked: bool,
    state: dict,
    intact,
    inputs,
    timings,
    persist: bool = True,
    incumbent=None,
):
    from ..resolve import engine
    from ..resolve.lock import LOCK_FILE, LockState
    from ..resolve.objects import maintenance_window
    from ..tree import build_tree
    from ..validate import models_of_clean, validate
    from .emit import BuildWriter, RangeFile, lock_report

    # the snapshot, read while the child still hashes (else after, when something changed)
    snap = None if inputs.ready() else state_snapshot(root, state["snapshot"])
    early = snap is not None
    diags, hashes, (settings_objs, catalog_docs, rels, paths, files) = inputs()
    changed, removed = _changes(state, hashes, files)
    if diags or changed is None:
        return _cold()
    timings("warm: snapshot read, inputs hashed" if early else "warm: inputs hashed")
    if not changed and not removed:
        if out is None:
            kept = dg.sort(diagnostics_from_state(state["diagnostics"]))
            return Built(Result(repo, None, kept, rels, 0), None, "checked", incremental=True)
        return _unchanged(repo, root, out, state, intact, rels, timings)
    if snap is None:
        snap = state_snapshot(root, state["snapshot"])
        timings("warm: snapshot read")
    if snap is None:
        return _cold()
    touched = set(changed) | set(removed)
    rows = state["diagnostics"]
    if any(row[-1] is None and row[3] in touched for row in rows):
        return _cold()  # what the configuration of a changed file said: the full build says it anew

    # 1. the documents of the changed files, and which configuration documents changed
    split = cache.Split.read(snap)
    leaf_docs: list[Document] = []
    now_config: dict[str, list] = {}  # changed file -> its configuration documents now
    # what the dirty objects' reading says, once one of them is in error (the build
    # then writes nothing: it reports, as a cold build would, and the state stays), and
    # the leaves known but broken (tree.build_tree's ``rejected``)
    said: list = []
    rejected: set[tuple[str, str]] = set()
    for rel in changed:
        docs, more = load_file(root / rel, rel, backend)
        if more:
            # a file that fails to load: its documents are gone, known but broken (a
            # cold build's load_files and broken_identities): its configuration
            # documents are edits that remove them (_config_edits: a node's goes cold,
            # as would any change of the tree's shape)
            broken = broken_identities(root / rel)
            if docs or not dg.has_errors(more) or any(k in NODE_KINDS for k, _ in broken):
                return _cold()
            said += more
            rejected |= broken
        # as the snapshot keeps them: positions marshalled (the C scanner's already are)
        now_config[rel] = [
            (d.file, d.index, d.line, d.column, d.data, _marshalled(d.pos))
            for d in docs
            if d.kind not in cache.LEAF_KINDS
        ]
        leaf_docs += [d for d in docs if d.kind in cache.LEAF_KINDS]
    edits = _config_edits({f: split.documents_of(f) for f in touched}, now_config, touched)
    if edits is None or (edits and any(row[-1] is None and not _of_a_file(row) for row in rows)):
        return _cold()  # (the shared checks run again: the configuration's warnings are theirs)
    new_split = cache.Split.updated(split, files, [t for f in now_config for t in now_config[f]])
    config = new_split.config  # (the kinds made at once; the others stay in their bytes)

    # 2. the configuration's models: the unchanged documents' made again, the edited ones
    # validated (and the ones they refer to, or that place something, marked). Contacts
    # and boxes, most of the configuration, are made when first read (cache.LazyKind),
    # their documents decoded then (cache.Split): an edit reaches few of them
    clean = models_of_clean([Document(*t) for t in config if t[0] not in now_config])
    fresh = validate([Document(*t) for f in files if f in now_config for t in now_config[f]])
    if fresh.diagnostics:
        if not dg.has_errors(fresh.diagnostics):
            return _cold()  # (a warning of the configuration: the full build's to say)
        said += fresh.diagnostics  # (the objects that refer to a refused one are reached)
        rejected |= fresh.rejected
    lazy_kinds = set(cache.LAZY_KINDS)
    fresh_lazy = [o for o in fresh.objects if o.kind in lazy_kinds]
    # an ID of a lazy kind defined twice (a contact copied): both definitions (the
    # untouched one's model made) go to the tree as objects, which says which one is
    # in error (SNV301) as in a cold build
    lazy = split.tables(touched, fresh_lazy, True)
    twice = (
        _twice(split, touched, fresh_lazy) if any(t.duplicated for t in lazy.values()) else set()
    )
    if twice:
        lazy = split.tables(
            touched, [o for o in fresh_lazy if (o.kind, o.id) not in twice], True, drop=twice
        )
    if any(table.duplicated for table in lazy.values()):
        return _cold()  # (none left: _twice took them out)
    again_made = (
        models_of_clean(
            [
                Document(*t)
                for file, found in split.ids.items()
                if file not in touched and any((k, i) in twice for k, i, _ in found)
                for t in split.of(file)
                if (t[4]["kind"], t[4]["id"]) in twice
            ]
        )
        if twice
        else []
    )
    by_file: dict[str, list] = {}
    for o in clean + fresh.objects + again_made:
        if o.kind not in lazy or (o.kind, o.id) in twice:
            by_file.setdefault(o.doc.file, []).append(o)
    if twice:  # (in their file's order: the first definition of an ID is the one kept)
        for objs in by_file.values():
            objs.sort(key=lambda o: o.doc.index)
    cfg = [o for f in files for o in by_file.get(f, ())]
    reached, placed = _reach(edits, cfg, config, lazy)
    timings("warm: configuration")

    # 3. the dirty objects: the leaves of the changed files, those whose dependency record
    # (their configuration references; their node) meets what changed, the user services
    # reaching a dirty equipment. The records are kept per file (state.Records): only
    # those of the files the indexes name for what changed are read
    records = Records(state)
    gone: list[tuple] = []  # the dirty leaves as they were
    again: dict[str, set] = {}  # untouched file -> its dirty leaves, read again
    reach_files = set(touched)
    for label in reached:
        reach_files.update(state["refs"].get(label, ()))
    if placed is not _nowhere:
        for at, at_files in state["at"].items():
            if placed(at):
                reach_files.update(at_files)
    for file in [f for f in records.blobs if f in reach_files]:  # (in the state's order)
        for item in records.of(file)[0]:
            kind, ident, at, _extra, refs = item
            if file in touched:
                gone.append(item)
            elif (reached and not reached.isdisjoint(refs)) or placed(at):
                gone.append(item)
                again.setdefault(file, set()).add(ident)
    checked = validate(leaf_docs)
    if checked.diagnostics:
        if not dg.has_errors(checked.diagnostics):
            return _cold()  # (a warning the state would have to keep: the full build's)
        said += checked.diagnostics
        rejected |= checked.rejected
    new_eq = [o for o in checked.objects if o.kind == "Equipment"]
    new_us = [o for o in checked.objects if o.kind == "UserService"]
    gone_ids = {(kind, i) for kind, i, *_ in gone}
    members = state["members"]
    us_files = {i: file for i, (file, _names) in members.items()}

    def read_again(kind: str, ident: str, file: str) -> None:
        """An untouched leaf that an edit reaches: read again from ``file``, and its
        record (with the diagnostics the state keeps of it) made anew."""
        again.setdefault(file, set()).add(ident)
        gone.extend(item for item in records.of(file)[0] if item[:2] == (kind, ident))
        gone_ids.add((kind, ident))

    # an ID or a product ID taken by an untouched object: that one is read again, and
    # the tree says which of the two is in error (SNV301, SNV308), as in a cold build
    snids = cache.unpack(state["snids"])
    taken = {o.id for o in new_eq if o.id in records.where}
    taken.update(
        snids[o.servicenav_id]
        for o in new_eq
        if o.servicenav_id is not None and o.servicenav_id in snids
    )
    for kind, ids, where in (
        ("Equipment", taken, records.where),
        ("UserService", {o.id for o in new_us}, us_files),
    ):
        for ident in sorted(i for i in ids if i in where and (kind, i) not in gone_ids):
            read_again(kind, ident, where[ident])
    dirty = {i for kind, i, *_ in gone if kind == "Equipment"} | {o.id for o in new_eq}
    dirty |= {i for kind, i in rejected if kind == "Equipment"}
    # H5 across the untouched equipment: one whose parent moved or went (a changed
    # file's) is read again, its parent checked anew (from the tree, as in a cold build)
    now_at = {o.id: o.at for o in new_eq}
    moved = {
        i
        for kind, i, at, *_ in gone
        if kind == "Equipment" and records.where.get(i) in touched and now_at.get(i) != at
    }
    if moved:
        for child, targets in state["parents"].items():
            if (
                child not in dirty
                and not child.startswith(WINDOW)
                and any(t.partition("/")[0] in moved for t in targets)
            ):
                read_again("Equipment", child, records.where[child])
                dirty.add(child)
    for ident, (file, names) in members.items():
        if ("UserService", ident) not in gone_ids and dirty.intersection(names):
            read_again("UserService", ident, file)
    # U3: user services made of user services are checked (their cycles) across all
    # of them: when a dirty one is, or is made, part of a composition, every one that is
    # is read again (the state's "composed")
    composed = set(state["composed"])
    components = {c.user_service for o in new_us for c in o.components if c.user_service}
    if components or any(kind == "UserService" and i in composed for kind, i in gone_ids):
        for ident in sorted((composed | components) & us_files.keys()):
            if ("UserService", ident) not in gone_ids:
                read_again("UserService", ident, us_files[ident])
    if len(gone) > MAX_DIRTY * (state["counts"][0] + state["counts"][2]):
        return _cold()  # beyond this, the cold build is about as fast
    # H4 across the untouched equipment (their parents, for cycles)
    parents = {
        i: t for i, t in state["parents"].items() if i not in dirty and not i.startswith(WINDOW)
    }
    windows = [o for o in cfg if o.kind == "MaintenanceWindow"]
    window_links = host_links(windows)
    for file, idents in sorted(again.items()):
        found, more = load_file(root / file, file, backend)
        if more:
            return _cold()
        more_checked = validate(
            [d for d in found if d.kind in cache.LEAF_KINDS and d.data.get("id") in idents]
        )
        if more_checked.diagnostics or len(more_checked.objects) != len(idents):
            return _cold()
        for o in more_checked.objects:
            (new_eq if o.kind == "Equipment" else new_us).append(o)
    # in the order of a cold build's: the first definition of an ID is the one kept
    order = {file: i for i, file in enumerate(files)}
    new_eq.sort(key=lambda o: (order.get(o.doc.file, -1), o.doc.index))
    new_us.sort(key=lambda o: (order.get(o.doc.file, -1), o.doc.index))

    # W2: the windows whose own document or references are reached, or that target a
    # dirty equipment (placed again, moved, gone, or without the unit service named:
    # an equipment whose node is placed is dirty): resolved again, their targets
    # checked by the tree
    windows_again = sorted(
        (
            o
            for o in windows
            if f"MaintenanceWindow/{o.id}" in reached
            or placed(o.at)
            or any(t.partition("/")[0] in dirty for t in o.targets)
        ),
        key=lambda o: o.id,
    )
    windows_gone = sorted(
        i for (kind, i), (_o, n) in edits.items() if kind == "MaintenanceWindow" and n is None
    )

    timings("warm: dirty objects read")

    # 4. link and resolve the dirty objects over the configuration (the edited included)
    catalog = validate(catalog_docs, catalog=True, seal=False)
    known = _Known(records, gone_ids, lambda record: list(record[3]))  # unit service names

    def place(record) -> _Placed:
        return _Placed(record[2])

    objects = list(settings_objs) + cfg + new_eq + new_us
    known_parents = parents
    marked = [o for o in cfg if _label(o) in reached] if edits else []
    marked += [
        lazy[kind][ident]
        for kind, _, ident in (label.partition("/") for label in sorted(reached))
        if kind in lazy and ident in lazy[kind]
    ]
    marked += [o for o in windows_again if f"MaintenanceWindow/{o.id}" not in reached]
    # a node that went: what the unchanged files still place there is checked (a
    # dangling 'at', as a cold build reports it; what is below it is out of the tree)
    gone_nodes = {i for (k, i), (_o, new) in edits.items() if k in NODE_KINDS and new is None}
    if gone_nodes:
        seen = {id(o) for o in marked}
        marked += [o for o in cfg if getattr(o, "at", None) in gone_nodes and id(o) not in seen]
        for table in lazy.values():
            marked += [o for i in table.placed_at(gone_nodes) if id(o := table[i]) not in seen]
    tree = build_tree(
        objects,
        catalog.objects,
        frozenset(rejected),
        known=known,
        check_only=new_eq + new_us + marked,
        known_parents=known_parents,
        lazy=lazy,
        known_leaves={
            "Equipment": _Known(records, gone_ids, place),
            "UserService": _Known(records, gone_ids, place, "UserService", us_files),
        },
        incumbent=incumbent,
    )
    if catalog.diagnostics:
        return _cold()
    if tree.diagnostics:
        if not dg.has_errors(said + tree.diagnostics):
            return _cold()  # (a warning the state would have to keep: the full build's)
        said += tree.diagnostics
    tree.leaf_index = _Untouched(records.where, gone_ids)
    tree.leaf_loader = leaf_loader(root, tree, backend)
    if not (root / LOCK_FILE).is_file():
        return _cold()
    lockfile = LockFile(root / LOCK_FILE, state.get("lock_layout"))
    lock = LockState(lockfile)  # checked when the state's build read it: same size, time
    # with an edited configuration, its shared checks run again (P9-P10: the nodes'
    # summary; B3, C2, C4, T2...): the build state holds no warning of theirs (above)
    checks = _checks(edits)
    # (an edited node moves the scope of every group: all of them are checked again)
    only = None if _node_edited(edits) else reached
    under = _defaults_under(edits) if "nodes" in checks else None
    res = engine(tree, lock, checks=checks, only=only, nodes_under=under)
    # id(diagnostic) -> KIND/ID whose check or resolution said it
    owner_of = {id(res.diagnostics[i]): o for o, (s, e) in res.checked.items() for i in range(s, e)}
    if len(owner_of) < len(res.diagnostics) and not dg.has_errors(said + res.diagnostics):
        return _cold()  # (a shared check's warning about no object: the full build's)
    resolver = res.resolver

    def owned(kind: str, obj, resolve):
        start = len(res.diagnostics)
        value = resolve(obj)
        for d in res.diagnostics[start:]:
            owner_of[id(d)] = f"{kind}/{obj.id}"
        return value

    # the objects a cold build resolves: those the tree holds (in error, not a dangling one)
    new_us = [o for o in new_us if tree.objects.get("UserService", {}).get(o.id) is o]
    new_eq = [o for o in new_eq if tree.objects.get("Equipment", {}).get(o.id) is o]
    us_eff = {
        o.id: owned("UserService", o, resolver.user_service)
        for o in sorted(new_us, key=lambda o: o.id)
    }
    mw_eff = {
        o.id: owned("MaintenanceWindow", o, lambda mw: maintenance_window(resolver, mw))
        for o in windows_again
    }
    eq_eff = {
        o.id: owned("Equipment", o, lambda eq: resolver.equipment(eq, res.boxes))
        for o in sorted(new_eq, key=lambda o: o.id)
    }

    def leaf_records() -> dict:
        """The state's records, those of the files changed or read again made anew."""
        shared: dict = {}
        entries = {
            o.id: leaf_entry(o, tree.unit_services.get(o.id, ()), tree, shared)
            for o in new_eq + new_us
        }
        redone: dict[str, list] = {f: [] for f in touched if f in records.blobs}
        for f, idents in again.items():
            redone[f] = [
                entries.pop(item[1]) if item[1] in idents else item for item in records.of(f)[0]
            ]
        for obj in checked.objects:
            redone.setdefault(obj.doc.file, []).append(entries[obj.id])
        resolved = {o.id for o in new_eq}
        return update_leaves(state, redone, {**window_links, **host_links(new_eq)}, resolved)

    def snapshot(packed: dict):
        """The snapshot, keyed by the inputs' hashes and the lock's identity."""
        hashes.pop("snav.lock", None)
        if not persist:
            return None
        return cache.save(root, hashes, new_split, packed["where"], packed["members"])

    # the labels of what was read, resolved or checked again (or is gone): the
    # diagnostics the state keeps of them are replaced by what they say now
    again_labels = _resolved_again(gone, windows_again, windows_gone, edits, res.checked)
    if said or dg.has_errors(res.diagnostics):
        # (the shared checks' errors are in res.diagnostics, before the objects')
        return _reported(repo, tree, res, rows, again_labels, said, rels)
    if out is None:  # checked: the snapshot of what it checked, for the next queries
        if persist:
            keep_snapshot(root)
            snapshot(leaf_records())
        return _reported(repo, tree, res, rows, again_labels, said, rels)
    if edits and bool(windows) != bool(
        state["layouts"]["effective.json"].get(b"maintenance_windows")
    ):
        return _cold()  # the section comes or goes (emit.effective): the full build writes it

    timings("warm: tree and resolve")

    # 5. write the outputs from the resolved objects and the previous build's other lines,
    # if they are what the previous build wrote
    if not intact():
        return _cold()
    timings("warm: outputs checked")
    eff, ori, okeys, gone_services = _patch_outputs(
        root, state, gone, eq_eff, us_eff, tree, res, lock, edits, mw_eff, windows_gone, checks
    )
    timings("warm: outputs patched")

    # 6. the lock, the outputs, the state for the next build
    present = {i: tree.unit_services[i] for i in eq_eff}
    uses = dict(state["lock_uses"])
    lock.changed, lock.removed = lockfile.patch(lock, gone_services, present, uses)
    if locked and lock.changed:
        return _cold()  # the full build says why (SNV423)
    rows = [row for row in rows if row[-1] not in again_labels]
    # the warnings of the objects not resolved again, and those of the ones that were
    kept = diagnostics_from_state(rows)
    owner_of.update((id(d), row[-1]) for d, row in zip(kept, rows, strict=True))
    kept = dg.sort(kept + reported(res.diagnostics, tree.project))
    rows = diagnostics_to_state(kept, owner_of)
    writer = BuildWriter(out)

    def composed_now() -> list[str]:
        """The state's "composed" (inputs._check), those read again made anew."""
        again_us = {i for kind, i in gone_ids if kind == "UserService"}
        return sorted(
            (composed - again_us)
            | {
                i
                for o in new_us
                for c in o.components
                if c.user_service is not None
                for i in (o.id, c.user_service)
            }
        )

    def next_state(packed: dict, saved: tuple, lock_layout: dict) -> dict:
        """The state for the next build but its outputs' part (save_state)."""
        key, hashes = saved
        return {
            "lock_layout": lock_layout,
            "hashes": hashes,
            "files": files,
            "snapshot": key,
            **packed,
            "composed": composed_now(),
            "okeys": okeys,
            "lock_uses": uses,
            "diagnostics": rows,
        }

    def meanwhile():
        # (none of it reads the outputs; the snapshot's key holds the lock's identity:
        # the snapshot and the state are made here only when the lock stays as it is)
        packed = leaf_records()
        if lock.changed:
            return packed, None, None
        saved = snapshot(packed)
        body = None if saved is None else marshal.dumps(next_state(packed, saved, lockfile.layout))
        return packed, saved, body

    try:
        layouts, (packed, saved, body) = writer.finish_patched(
            eff, ori, kept, lock_report(lock), state["blocks"], meanwhile
        )
        # (their hashes go on in threads while the lock and state are written)
        timings("warm: outputs written")
        crash_point("swapped")
        lock_layout = lockfile.layout
        if lock.changed:
            tmp = temporary(root / LOCK_FILE)
            try:
                with open(tmp, "wb") as f:
                    lock_layout = lockfile.lines.write(RangeFile(f))
                    f.flush()
                    os.fsync(f.fileno())  # the user's file: durable (design.md, Guarantees)
                os.chmod(tmp, (root / LOCK_FILE).stat().st_mode & 0o777)
                crash_point("lock")
                os.replace(tmp, root / LOCK_FILE)
            finally:
                tmp.unlink(missing_ok=True)
            sync_folder(root)
        lockfile.lines.close()
        crash_point("locked")
        if lock.changed:
            saved = snapshot(packed)
        if saved is not None:  # (else the old state stays: consistent with its own outputs)
            save_state(
                root,
                out,
                next_state(packed, saved, lock_layout),
                layouts,
                writer.hashed(),
                writer.blocks,
                writer.written,
                body,
            )
    finally:
        writer.stop_hashing()
        eff.close()
        ori.close()
        writer.discard()  # (closed first: the last close of a removed file frees it)
    timings("warm: lock and state")
    result = Result(repo, tree, kept, rels, 0)
    return Built(
        result,
        res,
        "written",
        lock_written=lock.changed,
        counts=(packed["counts"][0], packed["counts"][1], packed["counts"][2]),
        incremental=True,
    )


def _of_a_file(row: tuple) -> bool:
    """Whether a diagnostic the state keeps was said by reading a file of the repository
    (SNV1xx: an empty file, a link out of it...): it stays while its file does, whatever
    the configuration's edit (the changed files' own send the build cold). Not the
    lock's, which a build that changes the lock no longer says."""
    return row[1].startswith("SNV1") and row[3] != "snav.lock"


def _resolved_again(
    gone: list, windows_again: list, windows_gone: list, edits: dict, checked: dict
) -> set[str]:
    """The labels (KIND/ID) of the objects a warm build read, resolved or checked
    (``checked``: Resolution.checked) again, and of the configuration objects edited (a
    box removed is checked no more): the diagnostics the state keeps of them are
    replaced by what they say now."""
    labels = {f"{kind}/{ident}" for kind, ident, *_ in gone}
    labels.update(f"MaintenanceWindow/{o.id}" for o in windows_again)
    labels.update(f"MaintenanceWindow/{i}" for i in windows_gone)
    labels.update(f"{kind}/{ident}" for kind, ident in edits)
    labels.update(checked)
    return labels


def _reported(repo, tree, res, rows, again_labels: set, said, rels):
    """The build of an edit that put a dirty object in error, or one only checked:
    nothing written, the state left as it is, and the diagnostics of a cold build:
    those the state keeps of the objects not read or checked again (``again_labels``),
    with what reading, linking, checking and resolving the dirty ones said (``said``,
    then ``res.diagnostics``)."""
    kept = diagnostics_from_state([row for row in rows if row[-1] not in again_labels])
    diags = dg.sort(kept + reported(said + res.diagnostics, tree.project))
    status = "errors" if dg.has_errors(diags) else "checked"
    return Built(Result(repo, tree, diags, rels, 0), res, status, incremental=True)


def _unchanged(repo: Path, root: Path, out: Path, state: dict, intact, rels, timings):
    """The build when nothing it reads changed (the lock included): the previous
    build's, its diagnostics those the state keeps and its lock report that of a lock
    left as it is. Its effective.json and origins.json, once their content is checked,
    are linked into the output folder rather than copied; when that folder already
    holds this very build, nothing is written at all."""
    from .emit import BuildWriter, lock_report, output_holds

    kept = dg.sort(diagnostics_from_state(state["diagnostics"]))
    report = lock_report(None)  # nothing new, nothing written, nothing removed
    if not intact():
        return _cold()
    timings("warm: outputs checked")
    folder = root / cache.CACHE_DIR / "build"
    if not output_holds(out, folder, kept, report, state["layouts"]):
        # as checked: the files still written as the state recorded them, long enough
        # ago that a write since has moved their time stamps
        written = {n: cache.as_written(cache.identity(folder / n)) for n in OUTPUTS}
        if any(
            written[n] != cache.as_written(state["outputs"][n]) or not settled(written[n][1])
            for n in OUTPUTS
        ):
            written = None
        writer = BuildWriter(out)
        writer.finish_linked(folder, kept, report, state["layouts"])
        crash_point("swapped")
        # (linking changed the files' change time: their record is taken again)
        save_state(root, out, state, state["layouts"], state["digests"], state["blocks"], written)
    timings("warm: outputs linked")
    result = Result(repo, None, kept, rels, 0)
    return Built(result, None, "written", counts=tuple(state["counts"]), incremental=True)


def _cold():
    """None: the caller builds cold. With SNAVC_WHY_COLD set, says where it was decided
    (the line of this module), on standard error: what kept an edit from a warm build."""
    if os.environ.get("SNAVC_WHY_COLD"):
        import sys

        print(f"snavc: cold build ({__name__}:{sys._getframe(1).f_lineno})", file=sys.stderr)
    return None


MAX_DIRTY = 0.3  # beyond 30 % of the leaves to resolve again, the cold build is about as fast


# the shared checks (resolve.engine), the kinds each reads beyond the nodes (an edited
# node runs them all) and what of a kind, where less than the whole document (None: all
# of it): an edit of nothing they read runs none of them. The template checks read of a
# time period only which periods exist where (P7: the selectable IDs, Scope.selectable),
# so a period's ranges, name or default_for edited in place leave them as they were;
# of a user, its home and role (V1/V1a)
_CHECKS_READ = {
    "groups": {"Contact": None, "ContactGroup": None},  # C2, C4
    "boxes": {"Box": None},  # B3
    # T2, T7, T9, template periods; V1/V1a for templates: their users and roles
    "templates": {
        "EquipmentTemplate": None,
        "Role": None,
        "ServiceTemplate": None,
        "ServiceTemplateOverride": None,
        "TimePeriod": ("at",),
        "User": ("at", "role"),
    },
    "nodes": {"TimePeriod": None},  # P9, P10: the default walk
}


def _defaults_under(edits: dict) -> set | None:
    """The nodes below which the default walk (P3) can change after ``edits``: where
    the edited periods that are or were a default are (old and new places), a node
    that came; None for all of them (an edited node, a product period, a period
    without a place)."""
    under = set()
    for (kind, ident), versions in edits.items():
        if kind in NODE_KINDS:
            if versions[0] is not None:
                return None  # (edited or gone: every summary, those gone with it too)
            under.add(ident)  # (came: nothing was below it)
            continue
        if kind != "TimePeriod":
            continue
        for data in versions:
            if data is not None and data.get("default_for"):
                at = data.get("at")
                if not isinstance(at, str):
                    return None
                under.add(at)
    return under


def _checks(edits: dict) -> frozenset:
    """The shared checks an edit may change the outcome of (:data:`_CHECKS_READ`): all
    of them for an edited node; the nodes' summaries for one that came (what is placed
    there came with it: it is among the edits)."""
    if _node_edited(edits):
        return frozenset(_CHECKS_READ)
    came = any(kind in NODE_KINDS for kind, _ in edits)
    return frozenset(
        name
        for name, read in _CHECKS_READ.items()
        if (came and name == "nodes")
        or any(kind in read and _reads(read[kind], *edit) for (kind, _), edit in edits.items())
    )


def _node_edited(edits: dict) -> bool:
    """Whether ``edits`` change a node that was there (not only add nodes)."""
    return any(kind in NODE_KINDS and old is not None for (kind, _), (old, _n) in edits.items())


def _reads(fields: tuple | None, old: dict | None, new: dict | None) -> bool:
    """Whether a check that reads ``fields`` of a document (None: all of it) sees its
    edit from ``old`` to ``new`` (None: absent)."""
    if fields is None or old is None or new is None:
        return True
    return any(old.get(f) != new.get(f) for f in fields)


def _identity(data: dict) -> tuple:
    """(kind, ID) of a configuration document; an override's ID is ``TEMPLATE@NODE``."""
    kind = data.get("kind")
    if kind == "ServiceTemplateOverride":
        return (kind, f"{data.get('template')}@{data.get('at')}")
    return (kind, data.get("id"))


def _label(obj) -> str:
    """``KIND/ID`` of a configuration object, as dependency records name it."""
    if obj.kind == "ServiceTemplateOverride":
        return f"ServiceTemplateOverride/{obj.template}@{obj.at}"
    return f"{obj.kind}/{obj.id}"


def _marshalled(pos) -> bytes:
    return pos if isinstance(pos, bytes) else marshal.dumps(pos)


def _config_edits(config_of: dict, now_config: dict, touched: set) -> dict | None:
    """``(kind, ID) -> (data before, data now)`` of the configuration documents of the
    changed files that differ (content, file, place in it: positions are in
    origins.json), came or went; None when a full build is due: a document without an
    identity, two of one identity, snav.yaml's Project, a node that came, went, or
    changed its parent (the tree's shape)."""
    before: dict[tuple, tuple] = {}
    for f in touched:
        for t in config_of.get(f, ()):
            before[_identity(t[4])] = t
    now: dict[tuple, tuple] = {}
    for docs in now_config.values():
        for t in docs:
            key = _identity(t[4])
            if key[0] is None or key[1] is None or key in now:
                return None
            now[key] = t
    edits = {}
    for key in before.keys() | now.keys():
        old, new = before.get(key), now.get(key)
        if old is not None and new is not None and old[:4] == new[:4]:
            # marshal version 2 tells true from 1 and 1.0 from 1, as validation does (and
            # writes no references: the same values, the same bytes, whoever wrote them)
            if marshal.dumps((old[4], marshal.loads(old[5])), 2) == marshal.dumps(
                (new[4], marshal.loads(new[5])), 2
            ):
                continue
        kind = key[0]
        if kind == "Project":
            return None
        if kind in NODE_KINDS and (
            old is not None and new is not None and old[4].get("parent") != new[4].get("parent")
        ):
            return None  # (a node that came or went is placed like any edit: _places)
        edits[key] = (old[4] if old else None, new[4] if new else None)
    return edits


def _places(data: dict | None) -> str | None:
    """The node below which a configuration document acts by its place, not only
    through references to it: a node itself (its mode, its name), an override (T3), a
    default period (P2)."""
    if data is None:
        return None
    kind = data.get("kind")
    if kind in NODE_KINDS:
        return data.get("id")
    if kind == "ServiceTemplateOverride" or (kind == "TimePeriod" and data.get("default_for")):
        return data.get("at")
    return None


def _reach(edits: dict, cfg: list, config: list, lazy: dict | None = None):
    """What the edits reach: ``(reached, placed)``, where ``reached`` holds ``KIND/ID`` of
    the edited configuration objects and of every one that refers to one of them,
    directly or through others (a group to its contacts, a template to the template it
    duplicates and to its periods, a user to their role...), and ``placed(node)`` tells
    whether a node is at or below the place of one of them that acts by its place
    (:func:`_places`). An equipment or user service is dirty when its references meet
    ``reached`` or its node is ``placed``. ``lazy`` holds the tables of the kinds whose
    models are made when first read (cache.LazyKind): their references are read from
    their documents (a contact's user), a model made only for a value that is not a
    plain ID."""
    from ..tree import references
    from .inputs import _CONFIG_TARGETS

    if not edits:
        return set(), _nowhere
    reached = {f"{kind}/{ident}" for kind, ident in edits}
    # only the kinds that may refer to an edited one, directly or through others (a
    # period's edit reads the templates and overrides, not the 13,000 contacts)
    kinds = _referring_kinds(frozenset(kind for kind, _ in edits))
    referrers: dict[str, list] = {}
    for o in cfg:
        if o.kind not in kinds:
            continue
        for _p, target, ident in references(o):
            if target in _CONFIG_TARGETS:
                referrers.setdefault(f"{target}/{ident}", []).append(o)
    for kind, table in (lazy or {}).items():
        specs = _config_specs(kind)
        if not specs or kind not in kinds:
            continue  # (a box names only its node)
        for ident, doc, made in table.documents():
            refs = [] if made is not None else list(_data_references(doc.data, specs))
            if made is not None or any(not isinstance(v, str) for _t, v in refs):
                # (made, or a value that is not a plain ID: what validation made of it)
                made = table[ident]
                refs = [(t, v) for _p, t, v in references(made)]
            for target, value in refs:
                if target in _CONFIG_TARGETS:
                    who = made if made is not None else _Named(doc.data)
                    referrers.setdefault(f"{target}/{value}", []).append(who)
    todo = list(reached)
    places = {_places(d) for pair in edits.values() for d in pair} - {None}
    while todo:
        for o in referrers.get(todo.pop(), ()):
            label = _label(o)
            if label not in reached:
                reached.add(label)
                todo.append(label)
                if o.kind == "ServiceTemplateOverride" or (
                    o.kind == "TimePeriod" and o.default_for
                ):
                    places.add(o.at)
    if not places:
        return reached, _nowhere
    parent = {t[4].get("id"): t[4].get("parent") for t in config if t[4].get("kind") in NODE_KINDS}
    memo: dict = {}

    def placed(at) -> bool:
        if at is None:
            return False
        found = memo.get(at)
        if found is None:
            node, found, seen = at, False, set()
            while node is not None and node not in seen:
                if node in places:
                    found = True
                    break
                seen.add(node)
                node = parent.get(node)
            memo[at] = found
        return found

    return reached, placed


def _nowhere(_at) -> bool:
    """``placed`` of :func:`_reach` when no edit acts by its place."""
    return False


class _Named:
    """What :func:`_reach` needs of an object whose model is not made: its kind, ID,
    ``at`` and ``default_for`` (a lazy kind is neither an override nor a period)."""

    __slots__ = ("kind", "id", "at", "default_for")

    def __init__(self, data: dict):
        self.kind, self.id, self.at = data.get("kind"), data.get("id"), data.get("at")
        self.default_for = None


@functools.cache
def _referring_kinds(edited: frozenset) -> frozenset:
    """The configuration kinds whose objects may refer to one of the ``edited`` kinds,
    directly or through objects of other such kinds (by tree.REFERENCES): the only
    ones :func:`_reach` reads. Nodes are never among them (their references are their
    parents: an edited node places, it is not referred to)."""
    from ..tree import REFERENCES

    found: set = set()
    todo = set(edited)
    while todo:
        target = todo.pop()
        for kind in REFERENCES:
            if (
                kind not in found
                and kind not in NODE_KINDS
                and any(t == target for _spec, t in _config_specs(kind))
            ):
                found.add(kind)
                todo.add(kind)
    return frozenset(found)


@functools.cache
def _config_specs(kind: str) -> tuple:
    """The paths of tree.REFERENCES by which ``kind`` names configuration objects (not
    nodes, equipment or services): those :func:`_reach` follows back."""
    from ..tree import REFERENCES
    from .inputs import _CONFIG_TARGETS

    return tuple((spec, t) for spec, t in REFERENCES.get(kind, ()) if t in _CONFIG_TARGETS)


def _data_references(data: dict, specs: tuple):
    """``(target kind, value)`` of each reference of a document's data by ``specs``
    (paths of tree.REFERENCES: snavc.tree.references on a model)."""
    for spec, target in specs:
        values = [data]
        for head in spec:
            if head == "*":
                values = [item for v in values if isinstance(v, list) for item in v]
            else:
                values = [v.get(head) for v in values if isinstance(v, dict)]
        for value in values:
            if value is not None:
                yield target, value


def _patch_outputs(
    root: Path,
    state: dict,
    gone,
    eq_eff,
    us_eff,
    tree,
    res,
    lock,
    edits,
    mw_eff,
    windows_gone,
    checks,
):
    """effective.json and origins.json of the previous build (their state links), with
    the lines of the dirty objects written anew, their input hashes, the lock's counts
    per template and the service origins still used; with an edited configuration, its
    objects' input hashes, the maintenance windows resolved again, and the sections
    that are a function of the whole configuration (nodes, defaults, groups) made again
    by emit's own functions. Returns them with the origin counts and the lock entries of
    the dirty equipment as they were."""
    from ..tree import object_key
    from .emit import Lines, _compact, default_origins, entry, group_members, node_entries

    resolver = res.resolver

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
        if edits or okey not in state["okeys"] or not state["okeys"][okey]:
            # (an edited template, override or period moves its origins: every service
            # with this key is dirty, and resolved again above)
            ori.set(b"services", okey.encode(), entry(okey, _compact(origins)))
    if edits:
        for (kind, ident), (old, _new) in edits.items():
            obj = _config_object(tree, kind, ident)
            if obj is not None:
                key = object_key(obj)
                eff.set(b"inputs", key.encode(), entry(key, _compact(obj.doc.digest)))
            if old is not None and (obj is None or object_key(obj) != _old_key(kind, old)):
                eff.set(b"inputs", _old_key(kind, old).encode(), None)
        for ident, value in mw_eff.items():
            eff.set(b"maintenance_windows", ident.encode(), entry(ident, _compact(value)))
        for ident in windows_gone:
            eff.set(b"maintenance_windows", ident.encode(), None)
        if "nodes" in checks:  # (their summaries: P9, P10; those the engine made again)
            whole = res.nodes_under is None
            _replace_section(eff, b"nodes", node_entries(res, None if whole else res.nodes), whole)
        _replace_section(ori, b"defaults", default_origins(res))
        _replace_section(ori, b"groups", group_members(tree))
    return eff, ori, okeys, gone_services


def _config_object(tree, kind: str, ident: str):
    if kind == "ServiceTemplateOverride":
        template, _, at = ident.rpartition("@")
        return tree.overrides.get(template, {}).get(at)
    return tree.objects.get(kind, {}).get(ident)


def _old_key(kind: str, data: dict) -> str:
    """tree.object_key of a document that is gone, from its data."""
    from ..tree import LABELS

    if kind == "ServiceTemplateOverride":
        return f"service-template-override/{data.get('template')}@{data.get('at')}"
    return f"{LABELS[kind]}/{data.get('id')}"


def _replace_section(lines, section: bytes, mapping: dict, whole: bool = True) -> None:
    """The entries of ``section`` set from ``mapping``: the bytes of emit.dumps of the
    section; unchanged lines are kept as they were. ``whole``: ``mapping`` is the whole
    section (those not in it removed), else some of its entries (looked up one by one)."""
    from .emit import _compact, entry

    old = lines.entries(section) if whole else None
    for key, value in mapping.items():
        line = entry(key, _compact(value))
        k = key.encode()
        if (old.get(k) if whole else lines.get(section, k)) != line:
            lines.set(section, k, line)
    for key in old or ():
        if key.decode() not in mapping:
            lines.set(section, key, None)


def _twice(split, touched: set, fresh: list) -> set[tuple[str, str]]:
    """``(kind, ID)`` of the lazy kinds that the untouched files' documents and the
    fresh models (``fresh``: of the changed files) define more than once."""
    seen: dict[tuple[str, str], int] = {}
    for o in fresh:
        seen[o.kind, o.id] = seen.get((o.kind, o.id), 0) + 1
    if not seen:
        return set()
    for file, found in split.ids.items():
        if file not in touched:
            for kind, ident, _at in found:
                if (kind, ident) in seen:
                    seen[kind, ident] += 1
    return {key for key, n in seen.items() if n > 1}


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


class _Untouched(Mapping):
    """``Tree.leaf_index`` of a warm build: ``ID -> [kind, file]`` of the leaves of one
    kind not resolved again (``where``, the state's ID -> file, less ``gone``), read
    from their file when a rule asks for one (a parent, a window's target)."""

    def __init__(self, where: Mapping, gone: set, kind: str = "Equipment"):
        self.where, self.gone, self.kind = where, gone, kind

    def __getitem__(self, ident):
        if (self.kind, ident) in self.gone:
            raise KeyError(ident)
        return [self.kind, self.where[ident]]

    def __contains__(self, ident) -> bool:
        return ident in self.where and (self.kind, ident) not in self.gone

    def __iter__(self):
        return (i for i in self.where if (self.kind, i) not in self.gone)

    def __len__(self) -> int:
        return sum(1 for _ in self)


class _Known(_Untouched):
    """The leaves of one kind not resolved again, each read from its file's record when
    asked for (``read(record)``): a warm build's ``build_tree(known=)``, the equipment's
    unit service names, and ``known_leaves``, their nodes (a
    did-you-mean for a dangling reference is then chosen among all of them, as a cold
    build chooses it)."""

    # lookups one by one (a binary search of the state's index, a scan of a file's
    # records) before all of them are read at once: a did-you-mean's candidates ask for
    # every equipment in scope (200,000 lookups, 7 s at 100k equipment, against 0.5 s
    # for reading every file's records)
    ONE_BY_ONE = 256

    def __init__(self, records, gone: set, read, kind: str = "Equipment", where=None):
        super().__init__(records.where if where is None else where, gone, kind)
        self.records, self.read = records, read
        self._asked = 0
        self._every: dict | None = None

    def _all(self) -> dict:
        if self._every is None:
            self._every = {
                item[1]: item
                for file in self.records.blobs
                for item in self.records.of(file)[0]
                if item[0] == self.kind and (self.kind, item[1]) not in self.gone
            }
        return self._every

    def __contains__(self, ident) -> bool:
        if self._every is not None:
            return ident in self._every
        return super().__contains__(ident)

    def __getitem__(self, ident):
        self._asked += 1
        if self._every is not None or self._asked > self.ONE_BY_ONE:
            return self.read(self._all()[ident])
        if ident not in self:
            raise KeyError(ident)
        for item in self.records.of(self.where[ident])[0]:
            if item[:2] == (self.kind, ident):
                return self.read(item)
        raise KeyError(ident)

    def __iter__(self):
        return iter(self._every) if self._every is not None else super().__iter__()

    def __bool__(self) -> bool:
        return True


class _Placed(NamedTuple):
    """An equipment as a did-you-mean's candidates need it: its node."""

    at: str | None
