"""Diff: two builds -> what changed in the effective configuration, and why.

Sixth stage. Objects are matched by ID, never by list position: nodes, equipment, unit
services (``EQUIPMENT/NAME``) and user services. Each object is compared by its text
first (a build writes one line per object, so unchanged objects cost a string compare);
only the objects that differ are parsed and compared field by field with deepdiff.

Provenance (origins, file and line of a value) is not configuration: moving a
definition to another file changes no effective value, so it is not a change.

The report also says which *input* objects changed (the build records a content hash
per input) and, for each, the effective objects it changed (impact), and for each
changed template what the lock (T5) did: how many existing services it was not applied
to, how many new services got it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from deepdiff import DeepDiff

from .emit import EFFECTIVE, ORIGINS

SECTIONS = {"nodes": "node", "equipment": "equipment", "user_services": "user-service"}
PROVENANCE = {"origin", "locked", "explicit", "file", "line"}
LISTED = 20  # impact lists at most this many objects per input (the count is exact)


class BuildError(Exception):
    """A build folder that is missing or not a snavc build."""


class Build:
    """A build's effective.json, its object sections parsed lazily, line by line."""

    def __init__(self, text: str, name: str = ""):
        self.name = name
        self.raw: dict[str, dict[str, str]] = {}
        self.small: dict[str, object] = {}
        self._parsed: dict[tuple[str, str], object] = {}
        if not self._split(text):
            data = json.loads(text)  # not written by snavc's emitter: parse it all
            for key, value in data.items():
                if isinstance(value, dict) and key in (*SECTIONS, "origins"):
                    self.raw[key] = {k: json.dumps(v, sort_keys=True) for k, v in value.items()}
                else:
                    self.small[key] = value

    def _split(self, text: str) -> bool:
        lines = text.split("\n")
        if not lines or lines[0] != "{":
            return False
        section = None
        for line in lines[1:]:
            if not line or line == "}":
                continue
            if section is None:
                key, _, rest = line.partition(":")
                name = json.loads(key)
                if rest == "{":
                    section = self.raw.setdefault(name, {})
                else:
                    self.small[name] = json.loads(rest.rstrip(","))
                continue
            if line in ("}", "},"):
                section = None
                continue
            end = line.index('":') + 1
            section[json.loads(line[:end])] = line[end + 1 :].rstrip(",")
        return True

    def get(self, section: str, key: str):
        found = self._parsed.get((section, key))
        if found is None and key in self.raw.get(section, {}):
            found = self._parsed[(section, key)] = json.loads(self.raw[section][key])
        return found

    def keys(self, section: str) -> set[str]:
        return set(self.raw.get(section, {}))

    def attach_origins(self, text: str) -> None:
        """The ``services`` table of origins.json, lazily like the object sections."""
        other = Build(text)
        self.raw["origins"] = other.raw.get("services", {})

    def table(self, name: str) -> dict:
        """A whole small section (``inputs``, ``lock``), parsed."""
        if name in self.small:
            return self.small[name] or {}
        return {k: json.loads(v) for k, v in self.raw.get(name, {}).items()}


def read_build(folder: str | Path) -> Build:
    path = Path(folder) / EFFECTIVE
    if not path.is_file():
        raise BuildError(
            f"{folder} is not a snavc build: no {EFFECTIVE} (run `snavc build -o {folder}`)"
        )
    try:
        build = Build(path.read_text(encoding="utf-8"), str(folder))
        origins = Path(folder) / ORIGINS
        if origins.is_file():  # the inputs of each unit service, for the impact analysis
            build.attach_origins(origins.read_text(encoding="utf-8"))
        return build
    except (ValueError, UnicodeDecodeError) as e:
        raise BuildError(f"{path} is not valid JSON: {e}") from None


@dataclass
class Report:
    """What `snavc diff` and `snavc plan` report (docs/review.md documents the JSON)."""

    changes: list[dict] = field(default_factory=list)
    inputs: list[dict] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)
    base: str = ""
    head: str = ""

    @property
    def summary(self) -> dict:
        """Objects added, removed, moved, and changed (in place), counted once each."""
        ops: dict[tuple[str, str], set[str]] = {}
        for c in self.changes:
            ops.setdefault((c["kind"], c["id"]), set()).add(c["op"])
        count = {
            op: sum(1 for o in ops.values() if op in o) for op in ("added", "removed", "moved")
        }
        count["changed"] = sum(1 for o in ops.values() if o == {"changed"})
        count["inputs"] = len(self.inputs)
        count["errors"] = len(self.errors)
        return count

    def to_json(self) -> dict:
        return {
            "base": self.base,
            "head": self.head,
            "summary": self.summary,
            "changes": self.changes,
            "inputs": self.inputs,
            "errors": self.errors,
        }


def _clean(value):
    """The configuration without its provenance."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if k not in PROVENANCE}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _field_changes(old: dict, new: dict) -> list[tuple[str, object, object]]:
    """``(path, old, new)`` per changed field; a list changes as a whole."""
    out: dict[str, tuple] = {}
    tree = DeepDiff(old, new, view="tree", verbose_level=2)
    for levels in tree.values():
        for level in levels:
            parts = level.path(output_format="list")
            cut = next((i for i, p in enumerate(parts) if isinstance(p, int)), None)
            if cut is not None:
                parts = parts[:cut]
            path = ".".join(str(p) for p in parts)
            out[path] = (path, _at(old, parts), _at(new, parts))
    return [out[k] for k in sorted(out)]


_MISSING = None


def _at(value, parts):
    for p in parts:
        if not isinstance(value, dict) or p not in value:
            return _MISSING
        value = value[p]
    return value


def _where(nodes_old: Build, nodes_new: Build, node_id: str | None) -> dict:
    """partner, client and site of a node, from the newer build that has it."""
    out = {"partner": None, "client": None, "site": None}
    seen = set()
    while node_id and node_id not in seen:
        seen.add(node_id)
        node = nodes_new.get("nodes", node_id) or nodes_old.get("nodes", node_id)
        if node is None:
            break
        out[node["kind"]] = node_id
        node_id = node.get("parent")
    return out


def diff(old: Build, new: Build) -> Report:
    """The semantic diff of two builds, with the impact of each changed input."""
    report = Report(base=old.name, head=new.name)
    for section, kind in SECTIONS.items():
        for key in sorted(old.keys(section) | new.keys(section)):
            a, b = old.raw.get(section, {}).get(key), new.raw.get(section, {}).get(key)
            if a == b:
                continue  # same text, same object: the fast path
            _object_changes(report, old, new, section, kind, key)
    _impact(report, old, new)
    return report


def _change(report, old, new, op, kind, ident, node, path=None, a=None, b=None) -> None:
    entry = {"op": op, "kind": kind, "id": ident, "path": path, "old": a, "new": b}
    entry.update(_where(old, new, node))
    report.changes.append(entry)


def _object_changes(
    report: Report, old: Build, new: Build, section: str, kind: str, key: str
) -> None:
    a, b = old.get(section, key), new.get(section, key)
    node = key if section == "nodes" else (b or a).get("at")
    if a is None:
        _change(report, old, new, "added", kind, key, node, None, None, _clean(b))
        return
    if b is None:
        _change(report, old, new, "removed", kind, key, node, None, _clean(a), None)
        return
    a, b = _clean(a), _clean(b)
    if section == "equipment":
        if a.get("at") != b.get("at"):
            _change(report, old, new, "moved", kind, key, node, "at", a.get("at"), b.get("at"))
        sa, sb = a.pop("services", {}) or {}, b.pop("services", {}) or {}
        for name in sorted(set(sa) | set(sb)):
            sid = f"{key}/{name}"
            if name not in sa:
                _change(report, old, new, "added", "unit-service", sid, node, None, None, sb[name])
            elif name not in sb:
                _change(
                    report, old, new, "removed", "unit-service", sid, node, None, sa[name], None
                )
            elif sa[name] != sb[name]:
                for path, x, y in _field_changes(sa[name], sb[name]):
                    _change(report, old, new, "changed", "unit-service", sid, node, path, x, y)
    for path, x, y in _field_changes(a, b):
        if path == "at" and section == "equipment":
            continue  # reported as the move
        _change(report, old, new, "changed", kind, key, node, path, x, y)


REFERENCE_LABELS = {
    "box": "box",
    "template": "equipment-template",
    "accounts": "monitoring-account",
    "notification.contacts": "contact",
    "notification.groups": "contact-group",
}


def _ids(value) -> list[str]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _change_inputs(old: Build, new: Build, c: dict) -> set[str]:
    """The input objects (``label/ID``) that may have caused one change.

    A field change points at the object's own definition and at what that field refers
    to; a unit service's values at its template, duplicate sources, overrides and
    periods (recorded with its origins by the build). An object that appears or goes
    does so because of its own definition (or its equipment template's).
    """
    kind, ident, path = c["kind"], c["id"], c["path"] or ""
    eq_id, _, name = ident.partition("/")
    own = f"equipment/{eq_id}" if kind in ("equipment", "unit-service") else f"{kind}/{ident}"
    deps = {own}
    if kind in ("equipment", "unit-service") and (
        kind == "unit-service" or c["op"] in ("added", "removed")
    ):
        for build in (old, new):
            eq = build.get("equipment", eq_id) or {}
            if eq.get("template"):
                deps.add(f"equipment-template/{eq['template']}")
    if c["op"] in ("added", "removed"):
        return deps
    if kind == "unit-service":
        for build in (old, new):
            service = ((build.get("equipment", eq_id) or {}).get("services") or {}).get(name)
            if service:
                deps.add(f"service-template/{service['template']}")
                deps.update(
                    (build.get("origins", service.get("origin", "")) or {}).get("inputs", ())
                )
        return deps
    for prefix, label in REFERENCE_LABELS.items():
        if path == prefix or path.startswith(prefix + "."):
            deps.update(f"{label}/{i}" for v in (c["old"], c["new"]) for i in _ids(v))
    if path.startswith(("periods.", "defaults.")):
        section = {"equipment": "equipment", "user-service": "user_services", "node": "nodes"}[kind]
        head, aspect = path.split(".")[:2]
        for build in (old, new):
            entry = ((build.get(section, ident) or {}).get(head) or {}).get(aspect) or {}
            if entry.get("id"):
                deps.add(f"time-period/{entry['id']}")
    return deps


def _impact(report: Report, old: Build, new: Build) -> None:
    """For each changed input object, the effective objects it changed (and T5's lock)."""
    hashes_old, hashes_new = old.table("inputs"), new.table("inputs")
    changed = {}
    for key in sorted(set(hashes_old) | set(hashes_new)):
        a, b = hashes_old.get(key), hashes_new.get(key)
        if a != b:
            changed[key] = "added" if a is None else "removed" if b is None else "changed"
    if not changed:
        return
    touched: dict[str, dict[tuple[str, str], None]] = {k: {} for k in changed}
    for c in report.changes:
        for key in _change_inputs(old, new, c) & changed.keys():
            touched[key][(c["kind"], c["id"])] = None
    lock = new.table("lock")
    for key, op in changed.items():
        hits = list(touched[key])
        entry = {
            "input": key,
            "op": op,
            "counts": {
                k: sum(1 for kind, _ in hits if kind == k)
                for k in ("equipment", "unit-service", "user-service", "node")
            },
            "objects": [f"{kind}/{ident}" for kind, ident in hits[:LISTED]],
            "lock": None,
        }
        template = _template_of(key)
        if template is not None and template in lock:
            stats = lock[template]
            entry["lock"] = {
                "template": template,
                "services": stats.get("services", 0),
                # existing services that keep the values they were created with (T5)
                "not_applied": stats.get("not_applied", 0),
                "reapplied": stats.get("reapplied", 0),
                # services that appear with this change, and so get the new values
                "new": _new_services(report, template),
            }
        report.inputs.append(entry)


def _new_services(report: Report, template: str) -> int:
    """Unit services made from ``template`` that the change adds (their own, or with
    their equipment): they are created with the template's current values (T5)."""
    count = 0
    for c in report.changes:
        if c["op"] != "added":
            continue
        if c["kind"] == "unit-service" and (c["new"] or {}).get("template") == template:
            count += 1
        elif c["kind"] == "equipment":
            services = (c["new"] or {}).get("services") or {}
            count += sum(1 for s in services.values() if s.get("template") == template)
    return count


def _template_of(key: str) -> str | None:
    label, _, ident = key.partition("/")
    if label == "service-template":
        return ident
    if label == "service-template-override":
        return ident.partition("@")[0]
    return None
