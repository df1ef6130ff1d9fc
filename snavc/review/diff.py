"""Diff: two builds -> what changed in the effective configuration, and why.

Sixth stage. Objects are matched by ID, never by list position: nodes, equipment, unit
services (``EQUIPMENT/NAME``) and user services. A build writes one line per object,
sorted by ID, so two builds are compared as bytes first: their common bytes are skipped
a block at a time, and only the objects whose line differs are parsed and compared
field by field (a walk of both when they nest).

Provenance (origins, file and line of a value) is not configuration: moving a
definition to another file changes no effective value, so it is not a change.

The report also says which *input* objects changed (the build records a content hash
per input) and, for each, the effective objects it changed (impact), and for each
changed template what the lock (T5) did: how many existing services it was not applied
to, how many new services got it.
"""

from __future__ import annotations

import json
import mmap
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..engine.emit import (
    EFFECTIVE,
    LOCK_REPORT,
    ORIGINS,
    find_line,
    line_key,
    marked_layout,
    section_end,
)

try:  # parses an object line several times faster than json, to the same values
    import orjson
except ImportError:  # pragma: no cover - orjson is a dependency; keep working without it
    orjson = None

SECTIONS = {"nodes": "node", "equipment": "equipment", "user_services": "user-service"}
# The keys of a unit service that say where its values come from, not what they are.
PROVENANCE = ("origin", "locked", "explicit")
LISTED = 20  # impact lists at most this many objects per input (the count is exact)
BLOCK = 1 << 14  # bytes compared at once when skipping what two builds have in common
RELEASE = 1 << 22  # bytes of a mapped build compared before their pages are given back


class BuildError(Exception):
    """A build folder that is missing or not a snavc build."""


class Build:
    """A build's effective.json (or its origins.json), as bytes.

    snavc writes one line per object, sorted by ID, one section per kind: 100k equipment
    are 100,000 lines and 270 MB. None of it is decoded as a whole. A section is a byte
    range of the file; two builds are compared by skipping their common bytes
    (:func:`changed_keys`); an object is found by a binary search on its ID and parsed
    when asked for; a text search runs once over a whole section (:meth:`grep`). A build
    reformatted by another tool (jq, an editor) is parsed whole and written back one
    object per line.
    """

    def __init__(self, data: bytes | str, name: str = "", layout: dict | None = None):
        self.name = name
        self.data = data.encode() if isinstance(data, str) else data
        self.spans: dict[str, tuple[int, int]] = {}  # section -> the byte range of its lines
        self.small: dict[str, object] = {}  # the other top-level values
        self.origins: Build | None = None  # origins.json, once attached
        self.group_members: dict[str, list[str]] = {}
        self.origin_users: dict[str, set[str]] = {}  # input -> origins (see _origin_keys)
        self._lines: dict[tuple[str, str], bytes | None] = {}  # the object lines found so far
        self._parsed: dict[tuple[str, str], object] = {}
        self._locked: dict[str, int] | None = None
        self.lock_report: dict = {}  # lock-report.json: what the build did to the lock
        if layout is not None:  # where the build's marker says the sections are
            for section, span in layout.items():
                if isinstance(span, tuple) and span != (0, 0):
                    self.spans[section.decode()] = span
                else:
                    self.small[section.decode()] = {} if span == (0, 0) else json.loads(span)
            return
        try:
            self._split()
        except ValueError:  # a build reformatted by a tool: read it whole
            self.spans, self.small = {}, {}
            document = json.loads(self.data[:])
            if not isinstance(document, dict):
                raise BuildError(
                    f"{_shown(name)} is not a snavc build: its top level is not a JSON object"
                ) from None
            self.data = _one_per_line(document)
            self._split()
        _release(self.data, 0, len(self.data))  # (_split read it all)
        for section in (*SECTIONS, *TABLES):
            found = self.small.get(section, {})
            if not isinstance(found, dict):
                raise BuildError(
                    f"{_shown(name)} is not a snavc build: '{section}' is "
                    f"{json_type(found)}, not an object"
                )

    def _split(self) -> None:
        """Find the sections and read the other top-level values; ValueError if the file
        is not laid out as snavc writes it."""
        data, pos = self.data, 2
        if data[:2] != b"{\n":
            raise ValueError("not one object per line")
        while pos < len(data):
            end = data.find(b"\n", pos)
            end = len(data) if end < 0 else end
            line, pos = data[pos:end], end + 1
            if not line or line == b"}":
                continue
            key, _, rest = line.partition(b":")
            name = json.loads(key)
            if rest != b"{":
                self.small[name] = json.loads(rest[:-1] if rest.endswith(b",") else rest)
                continue
            close = section_end(data, pos)
            self.spans[name] = (pos, close)
            pos = close + 2  # past "}" or "},": the loop skips what is left of the line

    def attach_origins(self, data: bytes | str, layout: dict | None = None) -> None:
        """origins.json: the ``services`` table (read like the object sections) and the
        members of each contact group."""
        self.origins = Build(data, layout=layout)
        self.group_members = {k: self._parse(v) for k, v in self.origins.raw("groups").items()}

    def lines(self, section: str) -> list[bytes]:
        start, end = self.spans.get(section, (0, 0))
        return self.data[start:end].split(b"\n")[:-1]

    def raw(self, section: str) -> dict[str, bytes]:
        """``ID -> JSON text`` of a whole section (for the small ones)."""
        return {key_of(line): _value(line) for line in self.lines(section)}

    def line(self, section: str, key: str) -> bytes | None:
        """The line of object ``key``: a binary search, as lines are sorted by ID."""
        found = self._lines.get((section, key), False)
        if found is not False:
            return found
        data, wanted, found = self.data, key.encode(), None
        lo, hi = self.spans.get(section, (0, 0))
        at = find_line(data, lo, hi, wanted)
        if at < hi:
            line = data[at : data.find(b"\n", at, hi)]
            found = line if line_key(line) == wanted else None
        self._lines[(section, key)] = found
        return found

    def grep(self, section: str, pattern: re.Pattern[bytes]) -> list[bytes]:
        """The lines of ``section`` in which ``pattern`` (that never matches a newline)
        matches: one search over the whole section, not one per line."""
        data, found = self.data, []
        pos, end = self.spans.get(section, (0, 0))
        while (match := pattern.search(data, pos, end)) is not None:
            start = data.rfind(b"\n", 0, match.start()) + 1
            pos = data.find(b"\n", match.end(), end) + 1
            found.append(data[start : pos - 1])
            self._lines[(section, key_of(found[-1]))] = found[-1]
        return found

    def get(self, section: str, key: str):
        """Object ``key`` of ``section`` (``origins``: the origin of a unit service), parsed."""
        if section == "origins":
            return self.origins.get("services", key) if self.origins is not None else None
        found = self._parsed.get((section, key))
        if found is None:
            line = self.line(section, key)
            if line is not None:
                found = self._parsed[(section, key)] = self._parse(_value(line))
                if section in SHAPES:
                    problem = shape_problem(section, found)
                    if problem is not None:
                        raise BuildError(
                            f"{_shown(self.name)} is not a snavc build: {section} "
                            f"'{key}' {problem} (edited since it was built? build it again)"
                        )
        return found

    def _parse(self, text: bytes):
        try:
            return _loads(text)
        except ValueError as e:  # found only now: the file was never decoded whole
            raise BuildError(f"{self.name or 'a build'} is not valid JSON: {e}") from None

    def keys(self, section: str) -> set[str]:
        return {key_of(line) for line in self.lines(section)}

    def locked_by_origin(self) -> dict[str, int]:
        """``origin -> number of unit services that keep locked values`` (one search)."""
        if self._locked is None:
            self._locked = {}
            for line in self.grep("equipment", re.compile(rb'"locked"')):
                for service in (
                    (self.get("equipment", key_of(line)) or {}).get("services") or {}
                ).values():
                    if "locked" in service:
                        origin = service.get("origin")
                        self._locked[origin] = self._locked.get(origin, 0) + 1
        return self._locked

    def table(self, name: str) -> dict:
        """A whole small section (``inputs``, ``lock``), parsed."""
        if name in self.small:
            found = self.small[name] or {}
        else:
            found = {  # a hash is a plain string: no need to parse it
                k: v[1:-1].decode() if v[:1] == b'"' and b"\\" not in v else self._parse(v)
                for k, v in self.raw(name).items()
            }
        kind = TABLE_VALUES.get(name)
        for key, value in found.items():
            if kind is not None and not isinstance(value, kind):
                raise BuildError(
                    f"{_shown(self.name)} is not a snavc build: {name} {key!r} is "
                    f"{json_type(value)} (edited since it was built? build it again)"
                )
        return found


# the small sections, parsed whole (Build.table), and the maintenance windows
TABLES = ("inputs", "lock", "maintenance_windows")
TABLE_VALUES = {"inputs": str, "lock": dict}  # what each entry of a table is

# What a build holds in each object of a section, by JSON type: what the review and the
# bridge (snavc.bridge.exporter) read of it. A build snavc wrote always fits
# (tests/review/test_diff.py, tests/bridge/test_builds.py); one edited by hand, or
# another tool's, may not, and is then refused with what is wrong rather than failing
# deep in a comparison or an export.
_OBJECT, _LIST, _TEXT, _MAYBE = dict, list, str, (str, type(None))
_NUMBER, _WHOLE = (int, float, type(None)), (int, type(None))
_TEXTS = "strings"  # a list of strings (IDs)
_VALUES = "values"  # an object whose values are strings or null (thresholds, arguments)
SHAPES = {
    "nodes": {"kind": _TEXT, "parent": _MAYBE, "mode": _MAYBE, "name": _MAYBE, "defaults": _OBJECT},
    "equipment": {
        "at": _TEXT,
        "services": _OBJECT,
        "periods": _OBJECT,
        "notification": _OBJECT,
        "accounts": _TEXTS,
        "labels": _TEXTS,
        "parents": _TEXTS,
        "templates": _TEXTS,
        "name": _MAYBE,
        "box": _MAYBE,
        "servicenav_id": _MAYBE,
        "address": _MAYBE,
        "category": _MAYBE,
        "template": _MAYBE,
        "function": _MAYBE,
        "instructions": _MAYBE,
        "criticality": _WHOLE,
        "availability_target": _NUMBER,
        "check_interval": _WHOLE,
    },
    "user_services": {
        "at": _TEXT,
        "members": _TEXTS,
        "components": _LIST,
        "periods": _OBJECT,
        "notification": _OBJECT,
    },
    "maintenance_windows": {"at": _TEXT, "targets": _TEXTS, "notify": _OBJECT},
}
_REQUIRED = {"nodes": ("kind",)}
SERVICE = {
    "origin": _MAYBE,
    "template": _MAYBE,
    "labels": _TEXTS,
    "accounts": _TEXTS,
    "servicenav_id": _MAYBE,
    "availability_period": _MAYBE,
    "check_period": _MAYBE,
    "notification_period": _MAYBE,
    "instructions": _MAYBE,
    "criticality": _WHOLE,
    "availability_target": _NUMBER,
    "check_interval": _WHOLE,
    "thresholds": _VALUES,
    "arguments": _VALUES,
}
PERIOD = {"id": _MAYBE, "from": _MAYBE}  # an entry of periods, or of a node's defaults


def shape_problem(section: str, value) -> str | None:
    """What makes ``value``, an object of ``section``, other than what a build holds
    (as words after its ID: "has 'labels' as a number"), or None."""
    if not isinstance(value, dict):
        return f"is {json_type(value)}, not an object"
    for name in _REQUIRED.get(section, ()):
        if name not in value:
            return f"has no {name}"
    for key, types in SHAPES[section].items():
        if key in value and (problem := _misfit(key, value[key], types)) is not None:
            return f"has {problem}"
    for key in ("periods", "defaults"):  # aspect -> {id, from}
        for aspect, entry in (value.get(key) or {}).items():
            if not isinstance(entry, dict):
                return f"has {key}.{aspect} as {json_type(entry)}, not an object"
            for name, types in PERIOD.items():
                if name in entry and not _fits(entry[name], types):
                    return f"has {key}.{aspect}.{name} as {json_type(entry[name])}"
    if section == "equipment":
        for name, service in value.get("services", {}).items():
            if not isinstance(service, dict):
                return f"has unit service {name!r} as {json_type(service)}, not an object"
            for key, types in SERVICE.items():
                if key in service and (problem := _misfit(key, service[key], types)) is not None:
                    return f"has unit service {name!r} with {problem}"
    return None


def _misfit(key: str, value, types) -> str | None:
    """What is wrong with field ``key`` holding ``value`` (words after "has"), or None."""
    if _fits(value, types):
        return None
    if types is _TEXTS and isinstance(value, list):
        item = next(x for x in value if not isinstance(x, str))
        return f"{key!r} as a list holding {json_type(item)}, not a list of IDs"
    if types is _TEXTS:
        return f"{key!r} as {json_type(value)}, not a list of IDs"
    if types is _VALUES and isinstance(value, dict):
        k, v = next((k, v) for k, v in value.items() if not isinstance(v, _MAYBE))
        return f"'{key}.{k}' as {json_type(v)}"
    return f"{key!r} as {json_type(value)}"


def _fits(value, types) -> bool:
    if types is _TEXTS:
        return isinstance(value, list) and all(isinstance(x, str) for x in value)
    if types is _VALUES:
        return value is None or (
            isinstance(value, dict) and all(isinstance(v, _MAYBE) for v in value.values())
        )
    # (JSON's true is no number: Python's bool is an int)
    return isinstance(value, types) and not (isinstance(value, bool) and bool not in types)


def _shown(name: str) -> str:
    """The effective.json of the build folder ``name``, as an error names it."""
    return f"{name}/{EFFECTIVE}" if name else "a build"


def json_type(value) -> str:
    """``value``'s JSON type, as words (also the bridge's, reading a build)."""
    if value is None:
        return "null"
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string"}
    names.update({list: "a list", dict: "an object"})
    return names.get(type(value), type(value).__name__)


def _loads(text: bytes):
    if orjson is not None:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:  # NaN, integers beyond 64 bits...: json reads them
            pass
    return json.loads(text)


def key_of(line: bytes) -> str:
    """The ID of an object line ``"ID":{...}``."""
    return line_key(line).decode()


def _value(line: bytes) -> bytes:
    end = line.index(b'":') + 1
    return line[end + 1 : -1] if line.endswith(b",") else line[end + 1 :]


def _one_per_line(document: dict) -> bytes:
    """A build reformatted by another tool, written back as snavc writes it: every
    non-empty object a section of one line per entry, sorted by ID."""
    items = []
    for key, value in document.items():
        if isinstance(value, dict) and value:
            lines = ",\n".join(f"{_compact(k)}:{_compact(v)}" for k, v in sorted(value.items()))
            items.append(f"{_compact(key)}:{{\n{lines}\n}}")
        else:
            items.append(f"{_compact(key)}:{_compact(value)}")
    return ("{\n" + ",\n".join(items) + "\n}\n").encode()


def _compact(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def changed_keys(old: Build, new: Build, section: str) -> list[str]:
    """IDs of the objects of ``section`` whose line differs between two builds, sorted.

    Both builds list objects sorted by ID, one per line: a merge of the two lists that
    skips their common bytes (:func:`_common_prefix`) and looks at lines only where the
    builds differ (a trailing comma aside).
    """
    a, b = old.data, new.data
    i, end_a = old.spans.get(section, (0, 0))
    j, end_b = new.spans.get(section, (0, 0))
    out: list[str] = []
    while i < end_a and j < end_b:
        cut = a.rfind(b"\n", i, i + _common_prefix(a, i, b, j, min(end_a - i, end_b - j))) + 1
        if cut:  # the lines before the first difference are the same in both
            i, j = cut, j + cut - i
            if i == end_a or j == end_b:
                break
        x, y = a[i : a.find(b"\n", i, end_a)], b[j : b.find(b"\n", j, end_b)]
        if x == y or (len(x) - len(y) in (1, -1) and (x[:-1] == y or x == y[:-1])):
            i, j = i + len(x) + 1, j + len(y) + 1
            continue
        kx, ky = key_of(x), key_of(y)
        key = min(kx, ky)  # the other build, whose next ID is greater, has no such object
        out.append(key)
        old._lines[(section, key)] = x if kx == key else None
        new._lines[(section, key)] = y if ky == key else None
        if kx == key:
            i += len(x) + 1
        if ky == key:
            j += len(y) + 1
    for build, rest in ((old, a[i:end_a]), (new, b[j:end_b])):  # one of them is empty
        for line in rest.split(b"\n")[:-1]:
            out.append(key_of(line))
            build._lines[(section, out[-1])] = line
    return out


def _common_prefix(a, i: int, b, j: int, n: int) -> int:
    """The length of the common prefix of ``a[i:i+n]`` and ``b[j:j+n]``: whole blocks are
    compared (memcmp), and the one that differs halved down to the first difference."""
    done, step, kept = 0, BLOCK, 0
    while done < n:
        size = min(step, n - done)
        if a[i + done : i + done + size] == b[j + done : j + done + size]:
            done += size
            if done - kept >= RELEASE:
                _release(a, i + kept, i + done)
                _release(b, j + kept, j + done)
                kept = done
        elif size == 1:
            break
        else:
            step = size // 2
    return done


def _release(data, start: int, end: int) -> None:
    """Give back the pages of ``data[start:end]`` when ``data`` is a mapped file: pages
    read count in the process's memory, and two builds read whole would double a plan's
    peak (1.6 GB at 100k equipment). Looked at again, they are read from the system's
    cache."""
    if isinstance(data, mmap.mmap) and hasattr(mmap, "MADV_DONTNEED"):
        page = mmap.PAGESIZE
        start, end = -(-start // page) * page, end // page * page
        if end > start:
            data.madvise(mmap.MADV_DONTNEED, start, end - start)


def read_build(folder: str | Path) -> Build:
    path = Path(folder) / EFFECTIVE
    if not Path(folder).is_dir():
        raise BuildError(f"{folder} does not exist or is not a folder")
    if not path.is_file():
        raise BuildError(
            f"{folder} is not a snavc build: no {EFFECTIVE} (run `snavc build -o {folder}`)"
        )
    try:
        data = _read(path)
        build = Build(data, str(folder), marked_layout(folder, EFFECTIVE, data))
        origins = Path(folder) / ORIGINS
        if origins.is_file():  # the inputs of each unit service, for the impact analysis
            data = _read(origins)
            build.attach_origins(data, marked_layout(folder, ORIGINS, data))
        report = Path(folder) / LOCK_REPORT
        if report.is_file():
            found = json.loads(report.read_bytes())
            build.lock_report = found if isinstance(found, dict) else {}
        return build
    except (ValueError, UnicodeDecodeError) as e:
        raise BuildError(f"{path} is not valid JSON: {e}") from None


def _read(path: Path) -> bytes | mmap.mmap:
    """A file's bytes, mapped rather than read: no copy of a 280 MB effective.json."""
    with open(path, "rb") as f:
        try:
            return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        except (ValueError, OSError):  # an empty file, or one that cannot be mapped
            return f.read()


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
    # why no comparison was made (plan: a version does not build), or "" when it was:
    # the JSON report then says `"compared": false`, the others say why (not "no change")
    not_compared: str = ""

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
        from .report import collapse

        return {
            "base": self.base,
            "head": self.head,
            "summary": self.summary,
            "changes": self.changes,
            # identical changes of many objects, one group each (snavc.review.report.collapse)
            "collapsed": collapse(self.changes)[0],
            "inputs": self.inputs,
            "errors": self.errors,
            # optional, only when no comparison was made: absent means compared
            **({"compared": False} if self.not_compared else {}),
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
    are walked (:func:`_deep_field_changes`). Same answer either way (a test checks it).
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
    """``(path, old, new)`` per changed leaf of two nested objects, by one walk of both:
    a key added, removed or of another value (type-strict, as :func:`_same`); a list
    changes as a whole; a period (``periods.X``, ``defaults.X``) is its id and where it
    comes from, together. It gives deepdiff's answer (a test checks it on nested
    objects) 300 times faster: deepdiff took 20 s of a 45 s plan over 3,131 changed
    equipment (issue 11)."""
    out: dict[str, tuple] = {}
    _walk(old, new, (), out, old, new)
    return [out[k] for k in sorted(out)]


def _walk(a: dict, b: dict, parts: tuple, out: dict, old: dict, new: dict) -> None:
    for k in a.keys() | b.keys():
        here = parts + (k,)
        if k in a and k in b:
            x, y = a[k], b[k]
            if type(x) is dict and type(y) is dict:
                _walk(x, y, here, out, old, new)
                continue
            if _same_deep(x, y):
                continue
        if here[0] in ("periods", "defaults"):
            here = here[:2]
        path = ".".join(str(p) for p in here)
        out[path] = (path, _at(old, here), _at(new, here))


def _same_deep(a, b) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(_same_deep(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same_deep(a[k], b[k]) for k in a)
    return a == b


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
    for client in changed_keys(old, new, "nodes"):  # a new mode changes the client's line
        a, b = old.get("nodes", client), new.get("nodes", client)
        if a is None or b is None or a["kind"] != "client" or a.get("mode") == b.get("mode"):
            continue
        scope = [client] + [
            n for n in old.keys("nodes") if (old.get("nodes", n) or {}).get("parent") == client
        ]
        needles = re.compile("|".join(re.escape(f'"at":"{n}"') for n in scope).encode())
        count = len(old.grep("equipment", needles))
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
    if a is None and b is None:  # a line found by the merge and not by its ID
        raise BuildError(
            f"{_shown(new.name)} or {_shown(old.name)} is not a snavc build: {section} {key!r}"
        )
    node = key if section == "nodes" else (b if b is not None else a).get("at")
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
    "templates": "equipment-template",
    "parents": "equipment",
    "labels": "label",
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
            deps.update(f"equipment-template/{t}" for t in eq.get("templates", ()))
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
    users_new, locked = _dependents(new, [k for k, op in changed.items() if op != "removed"])
    users_old, _ = _dependents(old, [k for k, op in changed.items() if op == "removed"])
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
                "not_applied": locked[key] if key in locked else _locked_services(new, key),
                "reapplied": new.lock_report.get("templates", {})
                .get(template, {})
                .get("reapplied", 0),
                # services that appear with this change, and so get the new values
                "new": _new_services(report, template, new, key),
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
        deps.update(f"equipment-template/{t}" for t in obj.get("templates", ()))
        deps.update(f"monitoring-account/{a}" for a in obj.get("accounts", ()))
        deps.update(f"equipment/{p}" for p in obj.get("parents", ()))  # H4: its parents
        deps.update(f"label/{la}" for la in obj.get("labels", ()))
        for service in (obj.get("services") or {}).values():
            deps.update((build.get("origins", service.get("origin", "")) or {}).get("inputs", ()))
            deps.add(f"service-template/{service['template']}")
    notification = obj.get("notification") or {}
    deps.update(f"contact/{c}" for c in notification.get("contacts", ()))
    deps.update(f"contact-group/{g}" for g in notification.get("groups", ()))
    for e in notification.get("escalations", ()):  # A1: escalation levels notify too
        deps.update(f"contact/{c}" for c in e["contacts"])
        deps.update(f"contact-group/{g}" for g in e["groups"])
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
    "label",
)


def _origin_keys(build: Build, keys: list[str]) -> dict[str, set[str]]:
    """For each input key, the unit service origins whose values depend on it: one search
    over origins.json for all of them (remembered: the lock statistics ask again)."""
    known = build.origin_users
    todo = sorted({k for k in keys if k not in known}, key=len, reverse=True)
    known.update((k, set()) for k in todo)
    if todo and build.origins is not None:
        quoted = re.compile(b'"(' + b"|".join(re.escape(k.encode()) for k in todo) + b')"')
        for line in build.origins.grep("services", quoted):
            okey = key_of(line)
            inputs = (build.get("origins", okey) or {}).get("inputs", ())
            for k in {m.decode() for m in quoted.findall(line)}:
                if k in inputs:
                    known[k].add(okey)
    return {k: known[k] for k in keys}


def _alternatives(texts, before: str = "", after: str = "") -> re.Pattern[bytes] | None:
    """A pattern matching any of ``texts`` (the longest first) between ``before`` and
    ``after``; None for no texts.

    The texts are written as a trie (``eq-00001`` and ``eq-00002`` as ``eq-0000(?:1|2)``):
    Python's ``re`` tries a plain alternation's branches one by one at every position,
    so a search with one branch per changed input (a thousand equipment IDs when 1 % of
    100k changed) cost the number of inputs times the size of the build."""
    texts, trie = list(texts), {}
    for text in texts:
        node = trie
        for ch in text:
            node = node.setdefault(ch, {})
        node[""] = None  # a text ends here
    if not trie:
        return None
    try:
        return re.compile(f"{before}({_trie(trie)}){after}".encode())
    except (RecursionError, re.error):  # texts nested a thousand deep: the plain way
        escaped = sorted((re.escape(t) for t in texts), key=len, reverse=True)
        return re.compile(f"{before}({'|'.join(escaped)}){after}".encode())


def _trie(node: dict) -> str:
    chain = ""
    while len(node) == 1 and "" not in node:  # one way on: no group
        ((ch, node),) = node.items()
        chain += re.escape(ch)
    ends = "" in node
    branches = [re.escape(ch) + _trie(child) for ch, child in node.items() if ch != ""]
    branches.sort(key=len, reverse=True)
    if not branches:
        return chain
    # greedy: a longer text first, the one that ends here last
    return chain + "(?:" + "|".join(branches) + (")?" if ends else ")")


def _findall(pattern: re.Pattern[bytes] | None, line: bytes) -> list[str]:
    return [m.decode() for m in pattern.findall(line)] if pattern else []


_PARENTS = re.compile(rb'"parents":\[([^\]]*)\]')  # an equipment's parent hosts (H4)
_QUOTED = re.compile(rb'"([^"]*)"')


def _dependents(
    build: Build, keys: list[str]
) -> tuple[dict[str, dict[str, set[str]]], dict[str, int]]:
    """For each input key, the equipment, unit services and user services of ``build``
    that depend on it; and how many of the unit services whose origin depends on it keep
    locked values (T5): all of them are among the candidates below.

    An equipment's or user service's own definition is used by itself only. For the
    others, one search over the objects' text picks the candidate lines (those naming one
    of the inputs' IDs, or an origin that depends on one), then each candidate's
    dependencies are checked exactly: linear in the build, whatever the number of inputs.
    """
    out: dict[str, dict[str, set[str]]] = {}
    locked = dict.fromkeys(keys, 0)
    wanted: dict[str, list[str]] = {}  # ID -> keys of inputs with that ID
    # equipment -> its keys: an equipment is used by the equipment it is a parent of
    # (H4) and by nothing else an effective object holds (no origin has it as an
    # input), so it is looked for in "parents" lists only, a literal search
    parents: dict[str, list[str]] = {}
    by_origin: dict[str, set[str]] = {}  # origin -> keys of inputs it depends on
    through_origins = ("service-template", "service-template-override", "time-period")
    origin_keys = _origin_keys(build, [k for k in keys if k.partition("/")[0] in through_origins])
    for key in keys:
        label, _, ident = key.partition("/")
        out[key] = _no_users()
        if label == "maintenance-window":  # W3: a window is used by its targets
            window = build.get("maintenance_windows", ident) or {}
            for target in window.get("targets", ()):
                eq_id, _, name = target.partition("/")
                out[key]["equipment"].add(eq_id)
                if name:
                    out[key]["unit-service"].add(target)
            continue
        if label in ("equipment", "user-service"):
            section = "equipment" if label == "equipment" else "user_services"
            if build.get(section, ident) is not None:
                out[key][label].add(ident)
            if label == "equipment":  # a parent host's change reaches its children (H4)
                parents.setdefault(ident, []).append(key)
            continue
        if label not in (*DEPENDED_ON, "service-template", "service-template-override"):
            continue
        # an override's ID is in no effective object, and its users are found through
        # its origins: searching for the ID would find no one more
        if label != "service-template-override":
            wanted.setdefault(ident, []).append(key)
        if label == "contact":  # equipment notify it through its groups too
            for group, members in build.group_members.items():
                if ident in members:
                    wanted.setdefault(group, []).append(key)
        for okey in origin_keys.get(key, ()):
            by_origin.setdefault(okey, set()).add(key)
    if not wanted and not by_origin and not parents:
        return out, locked
    origins = _alternatives(by_origin, '"origin":"', '"')
    needles = _alternatives(wanted, '"', '"')
    # a parents list naming one of them (the line is then checked exactly, below)
    children = _alternatives(parents, r'"parents":\[[^\]]*?"', '"')
    for section, kind in (("equipment", "equipment"), ("user_services", "user-service")):
        # one search per pattern: each starts with its own text ('"origin":"memory@p'),
        # which re looks for as a whole; their alternation starts with '"' only, that
        # a build holds every few bytes (0.9 s against 0.5 s for both at 100k)
        searched = (origins, needles, children if section == "equipment" else None)
        lines = {}
        for pattern in filter(None, searched):
            lines.update((key_of(line), line) for line in build.grep(section, pattern))
        for oid, line in sorted(lines.items()):
            via_origin = {k for m in _findall(origins, line) for k in by_origin[m]}
            named = {k for m in _findall(needles, line) for k in wanted[m]}
            if section == "equipment" and parents:
                for found in _PARENTS.findall(line):
                    for p in _QUOTED.findall(found):
                        named.update(parents.get(p.decode(), ()))
            if not via_origin and not named:
                continue
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
                    if reached and "locked" in service and section == "equipment":
                        locked[key] += 1
    return out, locked


def _locked_services(build: Build, key: str) -> int:
    """Unit services that input ``key`` reaches but that keep their locked values (T5),
    for an input that :func:`_dependents` did not search ``build`` for (a removed one)."""
    origins = _origin_keys(build, [key])[key]
    locked = build.locked_by_origin() if origins else {}
    return sum(locked.get(okey, 0) for okey in origins)


def _new_services(report: Report, template: str, build: Build, key: str) -> int:
    """Unit services made from ``template`` that the change adds (their own, or with
    their equipment) and that input ``key`` reaches: they are created with its current
    values (T5). A template reaches all its services; an override only those on its
    path (the inputs of the service's origin name it: `explain` shows it applied), not
    a new service of the template at another client (issue 11)."""
    override = key.startswith("service-template-override/")

    def reached(eq: str, name: str) -> bool:
        if not override:
            return True
        service = ((build.get("equipment", eq) or {}).get("services") or {}).get(name) or {}
        origin = build.get("origins", service.get("origin", "")) or {}
        return key in origin.get("inputs", ())

    count = 0
    for c in report.changes:
        if c["op"] != "added":
            continue
        if c["kind"] == "unit-service" and (c["new"] or {}).get("template") == template:
            eq, _, name = c["id"].partition("/")
            count += reached(eq, name)
        elif c["kind"] == "equipment":
            services = (c["new"] or {}).get("services") or {}
            count += sum(
                1
                for name, s in services.items()
                if s.get("template") == template and reached(c["id"], name)
            )
    return count


def _template_of(key: str) -> str | None:
    label, _, ident = key.partition("/")
    if label == "service-template":
        return ident
    if label == "service-template-override":
        return ident.partition("@")[0]
    return None
