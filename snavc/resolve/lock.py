"""The lock (T5): a unit service keeps the template values it was created with.

ServiceNav copies a template's values into a unit service when the service is created;
a later change of the template (or of an override) does not reach existing services.
snavc records those values in ``snav.lock`` at the repository root, written by
``build`` and committed like a package lock:

- a service in the lock keeps its locked values for the five template fields (T2's),
  even when the template now resolves otherwise ("not applied");
- a service not in the lock is new: it takes the template's current values and enters
  the lock;
- ``build --reapply TEMPLATE`` gives the services of TEMPLATE its current values again;
- a value set on the unit service itself wins over both the template and the lock.

The lock stores each distinct set of values once (a *version*, keyed by a hash of its
content) and, per unit service, the version it was created with: a million services
share a few thousand versions.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from ..model import OVERRIDABLE, TEMPLATE_DEFAULTS

LOCK_FILE = "snav.lock"
LOCK_FORMAT = 1


class LockError(ValueError):
    """What is wrong with ``snav.lock``, and where: the version (and its field) or the
    service entry at fault, for the position of the diagnostic (:func:`position`)."""

    def __init__(self, message: str, section: str | None = None, key=None, field=None):
        super().__init__(message)
        self.section, self.key, self.field = section, key, field


@dataclass(slots=True)
class Lock:
    versions: dict[str, dict] = field(default_factory=dict)  # version -> {"template", fields}
    services: dict[str, str] = field(default_factory=dict)  # "eq/name" -> version
    # versions whose key is not the hash of their content (edited by hand): left out of
    # ``versions``, with the services that named them (see :meth:`from_json`)
    edited: dict[str, list[str]] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"format": LOCK_FORMAT, "services": self.services, "versions": self.versions}

    @classmethod
    def read(cls, raw: bytes) -> Lock | None:
        """The lock of ``snav.lock``'s bytes laid out as snavc writes them (``emit.dumps``:
        one line per service), its services parsed a piece of :data:`PIECE` bytes at a
        time; None when they are laid out otherwise or anything is wrong with them (the
        caller then parses them whole, :meth:`from_json`, and reports what is wrong).

        The same lock as :meth:`from_json` of the whole document (the pieces are the
        services' entries in order, cut between lines), without its peak: a 100k
        estate's lock parsed whole (a million services) held the parser's own copy,
        then a string per service naming its version, 80 MB above the lock itself, on
        top of everything the build holds by then (docs/performance.md, "Peak memory
        of a sharded build")."""
        try:
            import orjson
        except ImportError:  # pragma: no cover - the whole document, parsed by json
            return None
        if not raw.startswith(_HEAD):
            return None
        start = len(_HEAD)
        end = raw.find(b"\n}", start - 1) + 1  # the line "}" that closes the services
        if end <= 0 or raw.find(b'"services"', end) >= 0:  # (a second one: read whole)
            return None
        try:
            data = orjson.loads(raw[:start] + raw[end:])
            if not isinstance(data, dict) or data.get("services") != {}:
                return None
            return cls.from_json(data, _pieces(raw, start, end))
        except ValueError:  # not JSON, or a LockError: said by the whole document's parse
            return None

    @classmethod
    def from_json(cls, data: dict, pieces=None) -> Lock:
        """The lock of ``snav.lock``'s JSON; :class:`LockError` says what is wrong with
        it: its shape, or a value out of the bounds the input language sets (the
        models' own, snavc.model.TemplateFields). A version whose content does not hash
        to its key was edited by hand: it is not trusted, and left out with the
        services that name it (they are new again: their templates' current values),
        listed in :attr:`edited` for the caller to report. With ``pieces`` (dicts, in
        the file's order: :meth:`read`), the services are theirs, not ``data``'s."""
        if data.get("format") != LOCK_FORMAT:
            raise LockError(
                f"unknown format {data.get('format')!r} (this snavc writes format {LOCK_FORMAT})"
            )
        versions, services = data.get("versions"), data.get("services")
        if not isinstance(versions, dict) or not isinstance(services, dict):
            raise LockError("'versions' and 'services' must be objects")
        edited: dict[str, list[str]] = {}
        for key, content in versions.items():
            problem = _version_problem(content)
            if problem:
                message, at = problem
                raise LockError(f"version {key!r}: {message}", "versions", key, at)
            if version_of(content["template"], content)[0] != key:
                edited[key] = []
        # each service names its version by the one string of the version's key (the
        # parser makes a string per entry: a million copies of a few thousand keys)
        key_of = {key: key for key in versions}
        named: dict[str, str] = {}
        for part in (services,) if pieces is None else pieces:
            for sid, version in part.items():
                if not isinstance(version, str) or version not in versions:
                    raise LockError(
                        f"service {sid!r} names version {version!r}, which the lock does not hold",
                        "services",
                        sid,
                    )
                if version in edited:
                    edited[version].append(sid)
                named[sid] = key_of[version]
        if edited:
            versions = {k: v for k, v in versions.items() if k not in edited}
            named = {s: v for s, v in named.items() if v not in edited}
        return cls(dict(versions), named, edited)


# how snav.lock starts as emit.dumps writes it, up to its services' first line
_HEAD = b'{\n"format":%d,\n"services":{\n' % LOCK_FORMAT
PIECE = 1 << 20  # bytes of services parsed at a time (Lock.read)


def _pieces(raw: bytes, start: int, end: int):
    """The services' entry lines ``raw[start:end]`` (each ends with ",\\n" but the last,
    which ends with "\\n"), parsed :data:`PIECE` bytes at a time, whole lines each:
    dicts, in order. ValueError where a piece is not entries, one a line."""
    import orjson

    pos = start
    while pos < end:
        stop = raw.find(b"\n", min(pos + PIECE, end - 1)) + 1
        if stop < end:
            if raw[stop - 2 : stop] != b",\n":
                raise ValueError("not one entry a line")
            text = raw[pos : stop - 2]
        else:
            text = raw[pos : end - 1]
        yield orjson.loads(b"{" + text + b"}")  # a dict: the only JSON "{...}" can be
        pos = stop


def position(text: str, error: LockError) -> tuple[int | None, int | None]:
    """``(line, column)`` in ``snav.lock``'s text of what ``error`` is about (its
    version or service entry, at its field if any); ``(None, None)`` when not found.
    Found by searching the text: the lock is snavc's JSON, one entry a line, but one
    reformatted by a tool is searched the same way."""
    if error.section is None:
        return None, None
    at = text.find(f'"{error.section}"')
    if at >= 0 and error.key is not None:
        at = text.find(json.dumps(error.key) + ":", at)
    if at < 0:
        return None, None
    if error.field is not None:
        found = text.find(f'"{error.field}"', at)
        end = text.find("}", at)
        at = found if 0 <= found < (end if end >= 0 else len(text)) else at
    line = text.count("\n", 0, at) + 1
    return line, at - (text.rfind("\n", 0, at) + 1) + 1


def _version_problem(content) -> tuple[str, str | None] | None:
    """What is wrong with a version's content (and the field at fault), by the rules
    of the input language: the five T2 fields with the types and bounds of
    :class:`snavc.model.TemplateFields` (one definition of each bound)."""
    from pydantic import ValidationError

    from ..model import TemplateFields

    if not isinstance(content, dict) or not isinstance(content.get("template"), str):
        return "not an object with a 'template'", None
    unknown = set(content) - {"template", *OVERRIDABLE, *TEMPLATE_DEFAULTS}
    if unknown:
        return f"unknown fields {sorted(unknown)}", None
    try:
        TemplateFields.model_validate({f: content.get(f) for f in OVERRIDABLE})
    except ValidationError as e:
        err = e.errors()[0]
        name = str(err["loc"][0]) if err["loc"] else None
        value = content.get(name)
        if err["type"].endswith("_type") or isinstance(value, bool):
            return f"{name} has the wrong type ({value!r})", name
        return f"{name} {value!r} is out of bounds: {err['msg'].lower()}", name
    missing = [f for f in OVERRIDABLE if content.get(f) is None]
    if missing:
        return f"missing {', '.join(missing)}", missing[0]
    for f, kind in (("arguments", dict), ("thresholds", dict), ("instructions", str)):
        v = content.get(f)
        if v is not None and not isinstance(v, kind):
            return f"{f} has the wrong type ({v!r})", f
    return None


def version_of(template: str, values: dict) -> tuple[str, dict]:
    """The version key and content of a template's values: the five T2 fields, and
    the defaults of S3/I1 (arguments, thresholds, instructions) when the template gives
    them (absent ones are left out: a version made before they existed keeps its key)."""
    content = {"template": template, **{f: values.get(f) for f in OVERRIDABLE}}
    for f in TEMPLATE_DEFAULTS:
        if values.get(f) is not None:
            content[f] = values[f]
    text = json.dumps(content, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16], content


def _slashed(equipment: str) -> str:
    return equipment + "/"


@dataclass(slots=True)
class LockState:
    """The lock as a build reads and rewrites it, with what it did, per template.

    Only the services whose lock entry changes are remembered while the rules run (a
    million unchanged entries need no copy); :meth:`finish` makes the new lock from the
    old one, those changes, and the unit services that exist now.
    """

    old: Lock | None
    reapply: frozenset[str] = frozenset()
    loader: Any = None  # reads `old` when first needed (a query may need no lock at all)
    stats: dict[str, dict[str, int]] = field(default_factory=dict)
    changes: dict[str, str] = field(default_factory=dict)  # service -> its new version
    new: Lock | None = None  # set by finish()
    seen_locked: int = 0  # services found in the old lock
    changed: bool = False  # set by finish(): would snav.lock change?
    removed: int = 0  # set by finish(): entries of the old lock no longer there
    _fresh: dict[str, dict] = field(default_factory=dict)  # versions not in the old lock
    # id() of a shared unit service base -> its version: hashed once, not once per service
    _versions: dict[int, tuple[str, dict]] = field(default_factory=dict)

    def apply(self, service_id: str, template: str, service: dict, values: dict) -> dict:
        """The service with its locked values where the lock has them (T5).

        ``service`` is the shared base (not mutated); ``values`` the template's current
        values. Returns the service to emit and records the lock entry to keep.
        """
        if self.loader is not None:
            self.old, self.loader = self.loader(), None
        known = self._versions.get(id(values))
        if known is None:
            known = self._versions[id(values)] = version_of(template, values)
        current, content = known
        stats = self.stats.get(template)
        if stats is None:
            stats = self.stats[template] = {
                "services": 0,
                "new": 0,
                "not_applied": 0,
                "reapplied": 0,
            }
        stats["services"] += 1
        locked = self.old.services.get(service_id) if self.old is not None else None
        if locked is not None:
            self.seen_locked += 1
        if locked == current:
            return service
        locked_content = self.old.versions.get(locked) if locked is not None else None
        if locked_content is None or locked_content.get("template") != template:
            stats["new"] += 1  # created now (or made from another template): current values
            self._change(service_id, current, content)
            return service
        if template in self.reapply:
            stats["reapplied"] += 1
            self._change(service_id, current, content)
            return service
        stats["not_applied"] += 1
        out = dict(service)
        for f in OVERRIDABLE:
            out[f] = locked_content.get(f)
        for f in TEMPLATE_DEFAULTS:  # S3: the defaults it was created with, or none
            if locked_content.get(f) is not None:
                out[f] = locked_content[f]
            else:
                out.pop(f, None)
        out["locked"] = locked
        return out

    def _change(self, service_id: str, version: str, content: dict) -> None:
        self.changes[service_id] = version
        if self.old is None or version not in self.old.versions:
            self._fresh.setdefault(version, content)

    def kept(self, sid: str) -> str | None:
        """T5: the version unit service ``sid`` is locked to after this build: the one
        it changed to (new, re-applied), else the one it had; None when not locked."""
        changed = self.changes.get(sid)
        if changed is not None:
            return changed
        return self.old.services.get(sid) if self.old is not None else None

    def split_off(self) -> None:
        """Record afresh from here (the old lock kept): in a process that resolves a shard
        of the equipment (snavc.engine.shards); the build's own lock state then takes
        in its :meth:`records` (:meth:`absorb`)."""
        self.stats, self.changes, self.seen_locked, self._fresh = {}, {}, 0, {}

    def records(self) -> tuple:
        """What :meth:`apply` recorded (since :meth:`split_off`), as plain data."""
        return self.stats, self.changes, self.seen_locked, self._fresh

    def absorb(self, records: tuple) -> None:
        """Add what a shard's lock state recorded (:meth:`records`), as if this state
        had applied the lock to its services itself, after its own."""
        stats, changes, seen_locked, fresh = records
        for template, counts in stats.items():
            mine = self.stats.get(template)
            if mine is None:
                self.stats[template] = counts
            else:
                for k, n in counts.items():
                    mine[k] += n
        self.changes.update(changes)
        self.seen_locked += seen_locked
        for version, content in fresh.items():
            self._fresh.setdefault(version, content)

    def finish(self, unit_services: dict[str, list[str]]) -> Lock:
        """The new lock: every unit service that exists now (``equipment -> names``), with
        its changed version or the one it had (:meth:`kept`); sets :attr:`changed`.
        Called once, last: it takes the changes recorded (:meth:`kept` is then the old
        lock's)."""
        old = self.old or Lock()
        if not self.changes and self.old is not None and self.seen_locked == len(old.services):
            # every service kept its entry and none went: the lock stays as it is
            self.new, self.changed = old, False
            return old
        # kept() of every service, the changes handed over as they are taken (this is the
        # lock state's last step): their IDs' memory serves the new lock's, and the new
        # lock is made from its sorted IDs, not a list of its sorted entries: a first
        # build at 100k holds a million of each (docs/performance.md)
        services = {}
        changes, locked = self.changes, old.services
        # the IDs in their sorted order, made so: an equipment ID holds no "/" (ID_PATTERN),
        # so "EQ/NAME" sorts as (EQ + "/", NAME); sorting the million IDs made, and the
        # dict again, was a third of this step
        ordered = not any("/" in eq for eq in unit_services)
        for eq in sorted(unit_services, key=_slashed) if ordered else unit_services:
            for name in sorted(unit_services[eq]) if ordered else unit_services[eq]:
                sid = f"{eq}/{name}"
                version = changes.pop(sid, None)
                if version is None:
                    version = locked.get(sid)
                if version is not None:
                    services[sid] = version
        used = set(services.values())
        versions = {v: old.versions.get(v) or self._fresh[v] for v in sorted(used)}
        if not ordered:
            services = {sid: services[sid] for sid in sorted(services)}
        self.new = Lock(versions, services)
        self.removed = sum(1 for sid in old.services if sid not in services)
        self.changed = services != old.services or set(versions) != set(old.versions)
        return self.new

    def finish_part(
        self, gone: list[str], present: dict[str, list[str]], uses: dict[str, int]
    ) -> tuple[dict, dict]:
        """:meth:`finish` for some of the services (an incremental build resolved them
        again; the others keep their entries): the entries of the services ``gone``
        (as the old lock had them) give way to those of the unit services ``present``
        now (``equipment -> names``), by the same rule (:meth:`kept`); a version stays
        while a service uses it. ``uses`` (version -> how many services) is updated.
        Returns ``(entries, versions)``: the service entries that change (version, or
        None: removed) and the versions that come (their content) or go (None); sets
        :attr:`changed` and :attr:`removed`."""
        old = self.old
        entries: dict[str, str | None] = {}
        for sid in gone:
            version = old.services.get(sid)
            if version is not None:
                uses[version] -= 1
                entries[sid] = None
        for eq, names in present.items():
            for name in names:
                sid = f"{eq}/{name}"
                version = self.kept(sid)
                if version is not None:
                    uses[version] = uses.get(version, 0) + 1
                    entries[sid] = version
        entries = {sid: v for sid, v in entries.items() if v != old.services.get(sid)}
        self.changed = bool(entries)
        self.removed = sum(1 for v in entries.values() if v is None)
        versions: dict[str, dict | None] = {}
        if self.changed:
            for version in [v for v, n in uses.items() if n == 0]:
                del uses[version]
                versions[version] = None
            for version in uses:
                if version not in old.versions:
                    versions[version] = self.content_of(version)
        return entries, versions

    def content_of(self, version: str) -> dict:
        """The locked values of ``version``, old or made by this build."""
        found = self.old.versions.get(version) if self.old is not None else None
        return found if found is not None else self._fresh[version]
