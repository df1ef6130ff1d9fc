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
import re
from dataclasses import dataclass, field
from pathlib import Path

from .emit import EFFECTIVE, ORIGINS

SECTIONS = {"nodes": "node", "equipment": "equipment", "user_services": "user-service"}
# The keys of a unit service that say where its values come from, not what they are.
PROVENANCE = ("origin", "locked", "explicit")
LISTED = 20  # impact lists at most this many objects per input (the count is exact)


class BuildError(Exception):
    """A build folder that is missing or not a snavc build."""


class Build:
    """A build's effective.json, read lazily.

    snavc writes one line per object, sorted by ID: object sections stay lines until an
    object is asked for, and two builds are compared line by line (:func:`changed_keys`),
    so that 100k unchanged equipment cost a string comparison each. A build reformatted
    by another tool is read whole instead.
    """

    def __init__(self, text: str, name: str = ""):
        self.name = name
        self.lines: list[str] = []
        self.spans: dict[str, tuple[int, int]] = {}  # section -> its object lines
        self.small: dict[str, object] = {}
        self._raw: dict[str, dict[str, str]] = {}
        self._indexes: dict[str, dict[str, int]] = {}
        self._locked: dict[str, int] | None = None
        self.group_members: dict[str, list[str]] = {}
        self._parsed: dict[tuple[str, str], object] = {}
        try:
            split = self._split(text)
        except ValueError:  # a build reformatted by a tool (jq, an editor): read it whole
            self.spans, self.small, split = {}, {}, False
        if not split:
            data = json.loads(text)
            for key, value in data.items():
                if isinstance(value, dict) and key in (
                    *SECTIONS,
                    "origins",
                    "services",
                    "inputs",
                    "lock",
                ):
                    # the compact text snavc writes: the text searches of the impact use it
                    self._raw[key] = {
                        k: json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
                        for k, v in value.items()
                    }
                else:
                    self.small[key] = value

    def _split(self, text: str) -> bool:
        lines = self.lines = text.split("\n")
        if not lines or lines[0] != "{":
            return False
        i, n = 1, len(lines)
        while i < n:
            line = lines[i]
            if not line or line == "}":
                i += 1
                continue
            key, _, rest = line.partition(":")
            name = json.loads(key)
            if rest != "{":
                self.small[name] = json.loads(rest[:-1] if rest.endswith(",") else rest)
                i += 1
                continue
            start = i = i + 1
            while i < n and lines[i] not in ("}", "},"):
                i += 1
            if i >= n:
                raise ValueError("unterminated section")
            self.spans[name] = (start, i)
            i += 1
        return True

    def section_lines(self, section: str) -> list[str]:
        start, end = self.spans.get(section, (0, 0))
        return self.lines[start:end]

    def raw(self, section: str) -> dict[str, str]:
        """``ID -> JSON text`` of a section's objects (built on first use)."""
        found = self._raw.get(section)
        if found is None:
            found = self._raw[section] = dict(_entry(line) for line in self.section_lines(section))
        return found

    def texts(self, section: str) -> list[str]:
        """The text of a section's objects, for text searches (``"ID":{...}`` lines, or
        the objects' JSON for a reformatted build); :func:`key_of` gives the ID."""
        if section in self.spans:
            return self.section_lines(section)
        return [f"{json.dumps(k)}:{v}" for k, v in self.raw(section).items()]

    def _index(self, section: str) -> dict[str, int]:
        """``ID -> line number`` of a section written by snavc (keys only: cheap)."""
        found = self._indexes.get(section)
        if found is None:
            start, end = self.spans[section]
            found = self._indexes[section] = {_key(self.lines[i]): i for i in range(start, end)}
        return found

    def get(self, section: str, key: str):
        found = self._parsed.get((section, key))
        if found is None:
            if section in self.spans and section not in self._raw:
                at = self._index(section).get(key)
                text = _entry(self.lines[at])[1] if at is not None else None
            else:
                text = self.raw(section).get(key)
            if text is not None:
                found = self._parsed[(section, key)] = json.loads(text)
        return found

    def keys(self, section: str) -> set[str]:
        if section in self.spans and section not in self._raw:
            return set(self._index(section))
        return set(self.raw(section))

    def locked_by_origin(self) -> dict[str, int]:
        """``origin -> number of unit services that keep locked values`` (one pass)."""
        if self._locked is None:
            self._locked = {}
            for line in self.section_lines("equipment") if "equipment" in self.spans else ():
                if '"locked"' not in line:
                    continue
                for service in (
                    (self.get("equipment", _key(line)) or {}).get("services") or {}
                ).values():
                    if "locked" in service:
                        origin = service.get("origin")
                        self._locked[origin] = self._locked.get(origin, 0) + 1
            if "equipment" not in self.spans:
                for oid in self.raw("equipment"):
                    for service in (
                        (self.get("equipment", oid) or {}).get("services") or {}
                    ).values():
                        if "locked" in service:
                            origin = service.get("origin")
                            self._locked[origin] = self._locked.get(origin, 0) + 1
        return self._locked

    def attach_origins(self, text: str) -> None:
        """The ``services`` table of origins.json, lazily like the object sections, and
        the members of each contact group."""
        other = Build(text)
        self._raw["origins"] = other.raw("services")
        self.group_members = {k: json.loads(v) for k, v in other.raw("groups").items()}

    def table(self, name: str) -> dict:
        """A whole small section (``inputs``, ``lock``), parsed."""
        if name in self.small:
            return self.small[name] or {}
        return {
            k: v[1:-1]
            if v[:1] == '"' and "\\" not in v
            else json.loads(v)  # a hash: no need to parse
            for k, v in self.raw(name).items()
        }


def key_of(line: str) -> str:
    """The ID of an object line ``"ID":{...}``."""
    return _key(line)


def _key(line: str) -> str:
    end = line.index('":') + 1
    return line[1 : end - 1] if "\\" not in line[:end] else json.loads(line[:end])


def _entry(line: str) -> tuple[str, str]:
    end = line.index('":') + 1
    key = line[1 : end - 1] if "\\" not in line[:end] else json.loads(line[:end])
    return key, line[end + 1 : -1] if line[-1] == "," else line[end + 1 :]


def changed_keys(old: Build, new: Build, section: str) -> list[str]:
    """IDs of the objects of ``section`` whose text differs between two builds, sorted.

    Both builds list objects sorted by ID, one per line: a merge of the two lists, most
    lines equal at a glance (a trailing comma aside).
    """
    if section not in old.spans or section not in new.spans:
        a, b = old.raw(section), new.raw(section)
        return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    la, lb = old.section_lines(section), new.section_lines(section)
    out: list[str] = []
    i = j = 0
    while i < len(la) and j < len(lb):
        x, y = la[i], lb[j]
        if x == y or (len(x) - len(y) in (1, -1) and (x[:-1] == y or x == y[:-1])):
            i += 1
            j += 1
            continue
        kx, ky = _key(x), _key(y)
        if kx == ky:
            out.append(kx)
            i += 1
            j += 1
        elif kx < ky:
            out.append(kx)
            i += 1
        else:
            out.append(ky)
            j += 1
    out += [_key(x) for x in la[i:]] + [_key(y) for y in lb[j:]]
    return out


def read_build(folder: str | Path) -> Build:
    path = Path(folder) / EFFECTIVE
    if not Path(folder).is_dir():
        raise BuildError(f"{folder} does not exist or is not a folder")
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
    # node ID -> display name, for the reports (not part of the JSON report)
    names: dict[str, str] = field(default_factory=dict)

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


def _clean(obj: dict) -> dict:
    """An effective object without the provenance of its unit services (only there:
    a unit service may well be named "origin")."""
    services = obj.get("services")
    if not isinstance(services, dict):
        return obj
    return {**obj, "services": {name: _clean_service(s) for name, s in services.items()}}


def _clean_service(service: dict) -> dict:
    return {k: v for k, v in service.items() if k not in PROVENANCE}


def _field_changes(old: dict, new: dict) -> list[tuple[str, object, object]]:
    """``(path, old, new)`` per changed field; a list changes as a whole.

    A flat object (a unit service: scalars and lists) is compared key by key; nested ones
    go through deepdiff. Same answer either way (a test checks it); deepdiff costs a
    millisecond and a half an object, which 1 % of a million unit services would feel.
    """
    if not any(isinstance(v, dict) for v in (*old.values(), *new.values())):
        return [
            (k, old.get(k), new.get(k))
            for k in sorted(set(old) | set(new))
            if k not in old or k not in new or not _same(old[k], new[k])
        ]
    return _deep_field_changes(old, new)


def _same(a, b) -> bool:
    """Equal as JSON values: ``true`` is not ``1``, ``1`` is not ``1.0``."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def _deep_field_changes(old: dict, new: dict) -> list[tuple[str, object, object]]:
    from deepdiff import DeepDiff  # only when objects differ: it takes 0.15 s to import

    out: dict[str, tuple] = {}
    tree = DeepDiff(old, new, view="tree", verbose_level=2)
    for levels in tree.values():
        for level in levels:
            parts = level.path(output_format="list")
            cut = next((i for i, p in enumerate(parts) if isinstance(p, int)), None)
            if cut is not None:
                parts = parts[:cut]
            if parts and parts[0] in ("periods", "defaults"):
                parts = parts[:2]  # a period is its id and where it comes from, together
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


def diff(old: Build, new: Build, check_modes: bool = True) -> Report:
    """The semantic diff of two builds, with the impact of each changed input and,
    unless ``check_modes`` is false, M3 (``plan`` checks it on the trees, with positions)."""
    report = Report(base=old.name, head=new.name)
    for section, kind in SECTIONS.items():
        for key in changed_keys(old, new, section):
            _object_changes(report, old, new, section, kind, key)
    _impact(report, old, new)
    for c in report.changes:
        for level in ("partner", "client", "site"):
            node = c.get(level)
            if node and node not in report.names:
                found = new.get("nodes", node) or old.get("nodes", node) or {}
                report.names[node] = found.get("name") or node
    if check_modes:
        report.errors += mode_changes(old, new)
    return report


def mode_changes(old: Build, new: Build) -> list[dict]:
    """M3 between two builds: a client's mode changed while the old build had equipment
    on it or its sites, or a CRM reference there."""
    out = []
    for client in sorted(old.keys("nodes") & new.keys("nodes")):
        a, b = old.get("nodes", client), new.get("nodes", client)
        if a["kind"] != "client" or a.get("mode") == b.get("mode"):
            continue
        scope = [client] + [
            n for n in old.keys("nodes") if (old.get("nodes", n) or {}).get("parent") == client
        ]
        needles = {f'"at":"{n}"' for n in scope}
        count = sum(1 for line in old.texts("equipment") if any(x in line for x in needles))
        crm = [n for n in sorted(scope) if (old.get("nodes", n) or {}).get("crm_ref")]
        reasons = ([f"{count} equipment on it or its sites"] if count else []) + (
            [f"a CRM reference (crm_ref) on {', '.join(crm)}"] if crm else []
        )
        if reasons:
            out.append(
                {
                    "severity": "error",
                    "code": "SNV422",
                    "rule": "M3",
                    "message": f"client '{client}' changes mode from {a.get('mode')} to {b.get('mode')}, but "
                    f"the old build has {' and '.join(reasons)}: the mode may change only when there is none. "
                    "In two steps: first remove the equipment and clear crm_ref, deploy; then change the mode",
                    "file": None,
                    "line": None,
                    "column": None,
                    "related": [],
                }
            )
    return out


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
    if a == b:  # only its unit services changed (the values' types are fixed per field)
        return
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
    changed = {}
    for key in changed_keys(old, new, "inputs"):  # line by line, like the objects
        a, b = old.get("inputs", key), new.get("inputs", key)
        if a != b:
            changed[key] = "added" if a is None else "removed" if b is None else "changed"
    if not changed:
        return
    touched: dict[str, dict[tuple[str, str], None]] = {k: {} for k in changed}
    for c in report.changes:
        for key in _change_inputs(old, new, c) & changed.keys():
            touched[key][(c["kind"], c["id"])] = None
    users_new = _dependents(new, [k for k, op in changed.items() if op != "removed"])
    users_old = _dependents(old, [k for k, op in changed.items() if op == "removed"])
    lock = new.table("lock")
    for key, op in changed.items():
        hits = list(touched[key])
        users = (users_old if op == "removed" else users_new).get(key) or _no_users()
        entry = {
            "input": key,
            "op": op,
            # the effective objects this input changed...
            "counts": {
                k: sum(1 for kind, _ in hits if kind == k)
                for k in ("equipment", "unit-service", "user-service", "node")
            },
            "objects": [f"{kind}/{ident}" for kind, ident in hits[:LISTED]],
            # ...and every one that depends on it, changed or not (a contact's new email
            # changes no effective value, but reaches every equipment that notifies it)
            "affects": {k: len(v) for k, v in users.items()},
            "affected": sorted(f"{k}/{i}" for k, ids in users.items() for i in ids)[:LISTED],
            "lock": None,
        }
        template = _template_of(key)
        if template is not None and template in lock:
            stats = lock[template]
            entry["lock"] = {
                "template": template,
                "services": stats.get("services", 0),
                # existing services this input reaches that keep their creation values (T5)
                "not_applied": _locked_services(new, key),
                "reapplied": stats.get("reapplied", 0),
                # services that appear with this change, and so get the new values
                "new": _new_services(report, template),
            }
        report.inputs.append(entry)


def _no_users() -> dict[str, set[str]]:
    return {"equipment": set(), "unit-service": set(), "user-service": set()}


def _dependencies(build: Build, section: str, key: str) -> set[str]:
    """The input objects (``label/ID``) an effective equipment or user service uses."""
    obj = build.get(section, key)
    if obj is None:
        return set()
    deps = set()
    if section == "equipment":
        deps.add(f"box/{obj['box']}")
        if obj.get("template"):
            deps.add(f"equipment-template/{obj['template']}")
        deps.update(f"monitoring-account/{a}" for a in obj.get("accounts", ()))
        for service in (obj.get("services") or {}).values():
            deps.update((build.get("origins", service.get("origin", "")) or {}).get("inputs", ()))
            deps.add(f"service-template/{service['template']}")
    notification = obj.get("notification") or {}
    deps.update(f"contact/{c}" for c in notification.get("contacts", ()))
    deps.update(f"contact-group/{g}" for g in notification.get("groups", ()))
    for g in notification.get("groups", ()):  # notified through a group: its members too
        deps.update(f"contact/{c}" for c in build.group_members.get(g, ()))
    deps.update(f"time-period/{p['id']}" for p in (obj.get("periods") or {}).values())
    return deps


DEPENDED_ON = (
    "box",
    "contact",
    "contact-group",
    "monitoring-account",
    "equipment-template",
    "time-period",
)


def _origin_keys(build: Build, key: str) -> set[str]:
    """The unit service origins whose values depend on input ``key``."""
    return {
        okey
        for okey, raw in build.raw("origins").items()
        if key in raw and key in (build.get("origins", okey) or {}).get("inputs", ())
    }


def _dependents(build: Build, keys: list[str]) -> dict[str, dict[str, set[str]]]:
    """For each input key, the equipment, unit services and user services of ``build``
    that depend on it.

    An equipment's or user service's own definition is used by itself only. For the
    others, one pass over the objects' text picks the candidate lines (those naming one
    of the inputs' IDs, or an origin that depends on one), then each candidate's
    dependencies are checked exactly: linear in the build, whatever the number of inputs.
    """
    out: dict[str, dict[str, set[str]]] = {}
    wanted: dict[str, list[str]] = {}  # ID -> keys of inputs with that ID
    by_origin: dict[str, set[str]] = {}  # origin -> keys of inputs it depends on
    for key in keys:
        label, _, ident = key.partition("/")
        out[key] = _no_users()
        if label in ("equipment", "user-service"):
            section = "equipment" if label == "equipment" else "user_services"
            if build.get(section, ident) is not None:
                out[key][label].add(ident)
            continue
        if label not in (*DEPENDED_ON, "service-template", "service-template-override"):
            continue
        wanted.setdefault(ident, []).append(key)
        if label == "contact":  # equipment notify it through its groups too
            for group, members in build.group_members.items():
                if ident in members:
                    wanted.setdefault(group, []).append(key)
        if label in ("service-template", "service-template-override", "time-period"):
            for okey in _origin_keys(build, key):
                by_origin.setdefault(okey, set()).add(key)
    if not wanted:
        return out
    origins = (
        re.compile(
            '"origin":"('
            + "|".join(re.escape(o) for o in sorted(by_origin, key=len, reverse=True))
            + ')"'
        )
        if by_origin
        else None
    )
    needles = re.compile(
        "|".join(sorted((re.escape(f'"{i}"') for i in wanted), key=len, reverse=True))
    )
    for section, kind in (("equipment", "equipment"), ("user_services", "user-service")):
        for raw in build.texts(section):
            via_origin = (
                {k for m in origins.findall(raw) for k in by_origin.get(m, ())}
                if origins
                else set()
            )
            named = {k for m in needles.findall(raw) for k in wanted.get(m[1:-1], ())}
            if not via_origin and not named:
                continue
            oid = key_of(raw)
            deps = _dependencies(build, section, oid)
            obj = build.get(section, oid) or {}
            for key in named | via_origin:
                label, _, ident = key.partition("/")
                if key in deps:
                    out[key][kind].add(oid)
                for name, service in (obj.get("services") or {}).items():
                    reached = key in (
                        (build.get("origins", service.get("origin", "")) or {}).get("inputs", ())
                    )
                    if reached or (
                        label == "service-template" and service.get("template") == ident
                    ):
                        out[key]["unit-service"].add(f"{oid}/{name}")
                        out[key][kind].add(oid)
    return out


def _locked_services(build: Build, key: str) -> int:
    """Unit services that input ``key`` reaches but that keep their locked values (T5)."""
    locked = build.locked_by_origin()
    return sum(locked.get(okey, 0) for okey in _origin_keys(build, key))


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
