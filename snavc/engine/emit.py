"""Emit: a resolved tree -> the effective configuration, as deterministic JSON.

Fifth stage. ``effective(resolution)`` builds the document of INTERFACE §2 (nodes with
their default summary, equipment with unit services, user services) and ``origins``
where each value comes from (``OUT/origins.json``); :class:`BuildWriter` writes a build
atomically as the rules resolve it: a failed or interrupted build leaves an existing
output folder as it was. Same input, same bytes: keys sorted, no timestamps, no absolute
paths, no file names in effective.json.
"""

from __future__ import annotations

import bisect
import fcntl
import json
import mmap
import os
import queue
import re
import shutil
import tempfile
import threading
from pathlib import Path

from .. import diagnostics as dg
from . import cache, hashing
from .faults import crash_point, remove, replace_file
from .load import BUILD_MARKER

FORMAT = 1
EFFECTIVE = "effective.json"
ORIGINS = "origins.json"
DIAGNOSTICS = "diagnostics.json"
LOCK_REPORT = "lock-report.json"  # what the build did to snav.lock (not configuration)
MARKER_TEXT = "written by snavc build; the whole folder is replaced by the next build\n"


class OutputError(Exception):
    """The output folder cannot be written (not a snavc build, not writable...)."""


def effective(resolution, inputs: dict[str, str] | None = None) -> dict:
    """The effective document. ``inputs`` gives the input hashes when they were taken
    before a streaming build consumed the equipment models."""
    tree = resolution.tree
    lock = resolution.lock
    out = {
        "format": FORMAT,
        "nodes": node_entries(resolution),
        "equipment": resolution.equipment,
        "user_services": resolution.user_services,
        "inputs": inputs if inputs is not None else input_hashes(tree),
        # what the lock keeps (a function of the inputs, snav.lock being one); what a
        # build did to the lock goes to lock-report.json (:func:`lock_report`)
        "lock": {
            t: {"not_applied": s["not_applied"], "services": s["services"]}
            for t, s in sorted(lock.stats.items())
        }
        if lock is not None
        else {},
    }
    if resolution.maintenance_windows:  # W1-W3: only when there are some
        out["maintenance_windows"] = resolution.maintenance_windows
    return out


def node_entries(resolution, only=None) -> dict:
    """effective.json's ``nodes``: each node of the tree with its default summary
    (``only``: of those node IDs)."""
    nodes = {}
    for node_id, node in resolution.tree.nodes.items():
        if node.kind == "product" or (only is not None and node_id not in only):
            continue
        nodes[node_id] = {
            "kind": node.kind,
            "name": node.name,
            "parent": node.parent.id if node.parent.kind != "product" else None,
            "mode": node.mode,
            "crm_ref": getattr(node.obj, "crm_ref", None),
            "defaults": resolution.nodes.get(node_id),
        }
    return nodes


def lock_report(lock) -> dict:
    """What a build did to ``snav.lock`` (T5), for ``OUT/lock-report.json``: whether it
    rewrote it, how many entries went (services removed), and per template the
    services that entered the lock (``new``) or were given the current values by
    ``--reapply`` (``reapplied``). Not part of effective.json: the same inputs give the
    same configuration whether or not the lock had to be written first."""
    if lock is None:
        return {"format": FORMAT, "written": False, "removed": 0, "templates": {}}
    templates = {
        t: {"new": s["new"], "reapplied": s["reapplied"]}
        for t, s in sorted(lock.stats.items())
        if s["new"] or s["reapplied"]
    }
    return {
        "format": FORMAT,
        "written": lock.changed,
        "removed": lock.removed,
        "templates": templates,
    }


def origins(resolution) -> dict:
    """Where every resolved value comes from, as (node, file, line): ``OUT/origins.json``.

    Kept apart from effective.json so that the effective configuration does not depend
    on how the repository is split into files (merge, split or rename files: same
    effective.json). ``services`` is keyed by the ``origin`` of each unit service (its
    template's fields, the notification period, and the inputs they depend on);
    ``explicit`` gives the values set on an equipment or user service itself;
    ``defaults`` the default period of each node and aspect (``NODE/ASPECT``), where a
    period entry ``{"id", "from": NODE}`` of effective.json comes from.
    """
    resolver = resolution.resolver
    return {
        "format": FORMAT,
        "services": resolver.origins,
        "explicit": resolver.explicit_origins,
        "defaults": default_origins(resolution),
        # who is notified through each group: a contact's change reaches its groups' users
        "groups": group_members(resolution.tree),
    }


def default_origins(resolution) -> dict:
    """origins.json's ``defaults``: per ``NODE/ASPECT``, the default period and where."""
    defaults = {}
    for node_id, aspects in resolution.ctx.defaults.items():
        for aspect, period in aspects.items():
            loc = period.doc.loc("default_for")
            defaults[f"{node_id}/{aspect}"] = {
                "id": period.id,
                "origin": [node_id, loc.file, loc.line],
            }
    return defaults


def group_members(tree) -> dict:
    """origins.json's ``groups``: the members of each contact group of the repository."""
    return {g.id: sorted(set(g.members)) for g in tree_groups(tree)}


def tree_groups(tree) -> list:
    return [g for g in tree.objects.get("ContactGroup", {}).values() if not g.doc.catalog]


def input_hashes(tree) -> dict[str, str]:
    """``label/ID`` -> content hash of every input object (catalogue included), so that
    ``snavc diff`` can tell which inputs a change touched without the repositories."""
    from ..tree import object_key  # here: diff reads builds without the models (pydantic)

    out = {}
    objects = [o for table in tree.objects.values() for o in table.values()]
    objects += [o for by_at in tree.overrides.values() for o in by_at.values()]
    for obj in objects:
        out[object_key(obj)] = obj.doc.digest
    return out


# what JSON text escapes in a string (the NUL aside: it joins the strings checked), and
# the lone surrogates no encoder writes: a string without any is written as it is
_ESCAPED = re.compile(r'["\\\x01-\x1f\ud800-\udfff]')

# the kinds of pieces :func:`iter_pieces` gives
EDGE, LINE, HEAD, ENTRIES, CLOSE = range(5)


def iter_pieces(document: dict, batch: int = 4096):
    """The bytes of :func:`dumps` in pieces of whole lines, as ``(kind, key, bytes)``:
    EDGE for the document's ``{`` and ``}``, LINE for a one-line section, HEAD, ENTRIES
    and CLOSE for an object section (its ``"KEY":{`` line, its entries ``batch`` lines
    at a time, its closing ``}``). An entry whose key and value are strings JSON writes
    as they are (IDs, versions) is written without a call per entry: a 100k build's
    lock and inputs are a million such lines."""
    yield EDGE, None, b"{\n"
    sections = sorted(document)
    for i, key in enumerate(sections):
        value = document[key]
        tail = "," if i < len(sections) - 1 else ""
        if isinstance(value, dict) and value:
            yield HEAD, key, f"{_compact(key)}:{{\n".encode()
            yield from ((ENTRIES, key, chunk) for chunk in _entry_chunks(value, batch))
            yield CLOSE, key, f"}}{tail}\n".encode()
        else:
            yield LINE, key, f"{_compact(key)}:{_compact(value)}{tail}\n".encode()
    yield EDGE, None, b"}\n"


def _entry_chunks(value: dict, batch: int):
    """The entry lines of the non-empty object ``value``, sorted by key, ``batch`` at a
    time; each line ends with a comma but the last."""
    keys = list(value)
    names = sorted(keys)
    # a section made in its order (the lock's) is read in that order, not looked up
    values = list(value.values()) if names == keys else [value[k] for k in names]
    del keys
    for start in range(0, len(names), batch):
        part, vals = names[start : start + batch], values[start : start + batch]
        if not _plain(part):
            chunk = "".join(
                f"{_compact(k)}:{_compact(v)},\n" for k, v in zip(part, vals, strict=True)
            )
        elif _plain(vals):
            chunk = '"' + '",\n"'.join(map('":"'.join, zip(part, vals, strict=True))) + '",\n'
        else:
            texts = map(_compact, vals)
            chunk = '"' + ',\n"'.join(map('":'.join, zip(part, texts, strict=True))) + ",\n"
        chunk = chunk.encode()
        yield chunk if start + batch < len(names) else chunk[:-2] + b"\n"


def _plain(items: list) -> bool:
    """Whether each of ``items`` is a string JSON writes as it is between quotes
    (:data:`_ESCAPED`)."""
    try:
        text = "\0".join(items)
    except TypeError:  # not all strings
        return False
    return _ESCAPED.search(text) is None and text.count("\0") == len(items) - 1


def iter_lines(document: dict):
    """The lines of :func:`dumps`, one at a time, without their newline."""
    for _kind, _key, data in iter_pieces(document):
        yield from data.decode().split("\n")[:-1]


def dumps(document: dict) -> str:
    """JSON with sorted keys, one line per object of each top-level section.

    Compact enough for a million unit services, and a line per equipment keeps a
    text diff of two builds readable.
    """
    return "\n".join(iter_lines(document)) + "\n"


class Lines:
    """A build file read back as the lines :func:`iter_lines` wrote, to be patched.

    Each top-level section is one line (a scalar, or an empty object) or an object with
    one line per entry, ``"KEY":VALUE``, sorted by key (keys are IDs and labels: never
    escaped). An incremental build (snavc.engine.incremental) replaces a few entries and
    writes the bytes :func:`dumps` would give for the patched document. The file is
    mapped, not read; entries are found by binary search and the rest is copied as it
    is: a 100k-equipment effective.json is patched without looking at its other lines.
    """

    def __init__(self, data, sections: dict[bytes, tuple[int, int] | bytes], fd=None):
        self.data = data  # bytes, or the file's mmap
        self.fd = fd  # the file's descriptor, for a kernel copy of its ranges (or None)
        # name -> scalar JSON, or the (start, end) of its entry lines in `data`: each
        # line ends with ",\n" but the last, which ends with "\n"
        self.sections = sections
        self.patches: dict[bytes, dict[bytes, bytes | None]] = {}

    @classmethod
    def open(cls, path: Path, layout: dict | None = None) -> Lines:
        """The file at ``path``, mapped. ``layout`` is the :attr:`sections` that
        :meth:`write` returned for it (else it is found by reading the file through).
        ValueError when ``path`` is not in emit's format."""
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
            fd = os.dup(f.fileno())
        try:
            if layout is not None:
                for name, span in layout.items():  # the layout must fit the file
                    if isinstance(span, tuple) and span[0] != span[1]:
                        header = b'"' + name + b'":{\n'
                        if data[span[0] - len(header) : span[0]] != header or data[span[1]] != 125:
                            raise ValueError(f"{path}: the layout does not fit the file")
                return cls(data, dict(layout), fd)
            return cls(data, cls._layout(data, path), fd)
        except BaseException:
            os.close(fd)
            raise

    @staticmethod
    def _layout(data, path) -> dict:
        if data[:2] != b"{\n" or data[-3:] != b"\n}\n":
            raise ValueError(f"{path}: not a snavc build file")
        sections: dict = {}
        pos, stop = 2, len(data) - 2
        while pos < stop:
            eol = data.find(b"\n", pos)
            line = data[pos:eol].removesuffix(b",")
            name = line_key(line)
            if line.endswith(b":{"):
                end = section_end(data, eol + 1)
                sections[name] = (eol + 1, end)
                pos = data.find(b"\n", end) + 1
            else:
                value = line[len(name) + 3 :]
                sections[name] = (0, 0) if value == b"{}" else value
                pos = eol + 1
        return sections

    def close(self) -> None:
        if isinstance(self.data, mmap.mmap):
            self.data.close()
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def _find(self, start: int, end: int, key: bytes) -> int:
        return find_line(self.data, start, end, key)

    def get(self, section: bytes, key: bytes) -> bytes | None:
        """The entry line of ``key`` (as read, before any patch), or None."""
        span = self.sections.get(section)
        if not isinstance(span, tuple):
            return None
        at = self._find(*span, key)
        if at >= span[1]:
            return None
        eol = self.data.find(b"\n", at)
        line = self.data[at:eol].removesuffix(b",")
        return line if line_key(line) == key else None

    def entries(self, section: bytes) -> dict[bytes, bytes]:
        """Every entry line of a (small) section, by key."""
        span = self.sections.get(section)
        if not isinstance(span, tuple) or span[0] == span[1]:
            return {}
        lines = self.data[span[0] : span[1] - 1].split(b",\n")
        return {line_key(line): line for line in lines}

    def set(self, section: bytes, key: bytes, line: bytes | None) -> None:
        """Replace (or add) the entry ``key`` with ``line``; None removes it."""
        if not isinstance(self.sections.setdefault(section, (0, 0)), tuple):
            raise ValueError(f"section {section!r} holds no entries")
        self.patches.setdefault(section, {})[key] = line

    def set_scalar(self, section: bytes, value: bytes) -> None:
        self.sections[section] = value

    def write(self, f) -> dict:
        """The bytes of :func:`dumps` of the patched document, to the binary file ``f``;
        returns their layout (for :meth:`open`)."""
        layout: dict = {}
        pos = f.write(b"{\n")
        names = sorted(self.sections)
        for i, name in enumerate(names):
            tail = b",\n" if i < len(names) - 1 else b"\n"
            value = self.sections[name]
            if isinstance(value, tuple):
                chunks = self._chunks(name, *value)
                if chunks:
                    pos += f.write(b'"' + name + b'":{\n')
                    start = pos
                    lines: list[bytes] = []  # new lines, written together (one piece to
                    for chunk in chunks:  # hash, not one per line)
                        if isinstance(chunk, tuple):  # a range of this file, as it is
                            if lines:
                                pos += f.write(b"".join(lines))
                                lines.clear()
                            pos += self._copy(f, *chunk)
                        else:
                            lines.append(chunk)
                    if lines:
                        pos += f.write(b"".join(lines))
                    layout[name] = (start, pos)
                    pos += f.write(b"}" + tail)
                    continue
                layout[name] = (0, 0)
                value = b"{}"
            else:
                layout[name] = value
            pos += f.write(b'"' + name + b'":' + value + tail)
        f.write(b"}\n")
        return layout

    def _copy(self, f, start: int, end: int) -> int:
        """Write ``data[start:end]`` to ``f``: by the kernel when ``f`` can take a range
        of another file (:class:`RangeFile`), else through a view of the mapping."""
        copy = getattr(f, "copy_range", None)
        if copy is not None and self.fd is not None:
            return copy(self.fd, self.data, start, end)
        return f.write(memoryview(self.data)[start:end])

    def _chunks(self, name: bytes, start: int, end: int) -> list:
        """The section's entry lines as pieces to write: ranges ``(start, end)`` of the
        old text between the new lines (bytes). Every line ends with ",\n", but the
        last."""
        out: list = []

        def old(a: int, b: int) -> None:
            if b <= a:
                return
            if b == end:  # the old last line: its comma was not written
                out.extend(((a, end - 1), b",\n"))
            else:
                out.append((a, b))

        cur = start
        for key, line in sorted(self.patches.get(name, {}).items()):
            at = self._find(cur, end, key)
            old(cur, at)
            cur = at
            if at < end and self.data[at + 1 : self.data.find(b'":', at)] == key:
                cur = self.data.find(b"\n", at) + 1  # the old line goes
            if line is not None:
                out.append(line + b",\n")
        if cur < end:
            old(cur, end)
        if out:  # every piece ends with ",\n": the last line keeps no comma
            last = out[-1]
            out[-1] = (last[0], last[1] - 2) if isinstance(last, tuple) else last[:-2]
            out.append(b"\n")
        return out


class LineWriter:
    """Writes the lines of :func:`iter_lines` to a binary file and notes where each
    section lies (the layout :meth:`Lines.open` takes), without reading it back."""

    def __init__(self, f):
        self.f = f
        self.pos = 0
        self.layout: dict = {}
        self.hash = BlockHash()
        self._open: tuple[bytes, int] | None = None  # the object section being written

    def write(self, line: str) -> None:
        data = line.encode() + b"\n"
        if self._open is None:
            if line.endswith(":{"):
                self._open = (line_key(data), self.pos + len(data))
            elif line not in ("{", "}"):
                name = line_key(data)
                value = data[len(name) + 3 : -1].removesuffix(b",")
                self.layout[name] = (0, 0) if value == b"{}" else value
        elif line in ("}", "},"):
            self.layout[self._open[0]] = (self._open[1], self.pos)
            self._open = None
        self.f.write(data)
        self.hash.feed_line(data)
        self.pos += len(data)

    def write_pieces(self, pieces) -> None:
        """Write pieces of :func:`iter_pieces` (whole lines), noting where each section
        lies as :meth:`write` does."""
        for kind, _key, data in pieces:
            if kind == HEAD:
                opened = (line_key(data), self.pos + len(data))
            elif kind == CLOSE:
                self.layout[opened[0]] = (opened[1], self.pos)
            elif kind == LINE:
                name = line_key(data)
                value = data[len(name) + 3 : -1].removesuffix(b",")
                self.layout[name] = (0, 0) if value == b"{}" else value
            self.f.write(data)
            self.hash.feed(data, 0, len(data))
            self.pos += len(data)

    def digest(self) -> str:
        """The content hash of what was written (:func:`output_digest`), once all is;
        its blocks are then in :attr:`blocks`."""
        digest = self.hash.finish()
        self.blocks = self.hash.blocks
        return digest

    def append_file(self, path: Path) -> None:
        """Append the content of the file at ``path``, whole lines inside the section
        being written (no layout to note), copied by the kernel and hashed from a
        mapping of it: no Python loop over its bytes.

        The file is mapped one window (:data:`HASH_WINDOW`, 4 MiB) at a time: a mapping's pages
        count in this process's resident memory while it is mapped, and a shard's part
        of a 100k build (150 MB) mapped whole was the peak of the build
        (docs/performance.md, "Peak memory of a sharded build")."""
        self.f.flush()
        with open(path, "rb") as src:
            size = os.fstat(src.fileno()).st_size
            if not size:
                return
            for start in range(0, size, HASH_WINDOW):
                length = min(HASH_WINDOW, size - start)
                with mmap.mmap(src.fileno(), length, access=mmap.ACCESS_READ, offset=start) as data:
                    self.hash.feed(data, 0, length)
            copy_file(src.fileno(), self.f.fileno(), size)
        self.f.seek(0, os.SEEK_END)  # the buffered file's position, after the copy
        self.pos += size


# the bytes of a shard's part mapped at once to hash them (a multiple of any system's
# mapping granularity)
HASH_WINDOW = 4 << 20


def equipment_line(eq_id: str, effective: dict) -> str:
    """effective.json's line of one equipment (without its comma). One orjson call for
    the whole equipment: faster than assembling the text of its unit services, even of
    services shared by thousands of equipment."""
    return f"{_compact(eq_id)}:{_compact(effective)}"


def count_origins(okeys: dict[str, int], effective: dict) -> None:
    """Count the unit services of an equipment by origin key (the build state's)."""
    for service in effective["services"].values():
        okeys[service["origin"]] = okeys.get(service["origin"], 0) + 1


class EquipmentPart:
    """A run of effective.json's equipment lines written by a shard of the build
    (snavc.engine.shards) into ``path``, for :meth:`BuildWriter.adopt`: every line but
    the last, each with its comma; the last (``last``) is handed back, as the writer
    keeps its own last line until it knows what follows. ``okeys`` counts their unit
    services by origin key; ``alive()`` is called before each line (a shard gives up
    when its parent process is gone)."""

    def __init__(self, path: Path, alive=None):
        self.path = path
        self.file = open(path, "wb", buffering=1 << 20)
        self.last: str | None = None
        self.count = 0
        self.okeys: dict[str, int] = {}
        self.alive = alive

    def equipment(self, eq_id: str, effective: dict) -> None:
        if self.alive is not None:
            self.alive()
        if self.last is not None:
            self.file.write(self.last.encode() + b",\n")
        self.last = equipment_line(eq_id, effective)
        self.count += 1
        count_origins(self.okeys, effective)

    def close(self) -> None:
        self.file.close()

    def handed(self) -> tuple:
        """What the parent needs to :meth:`BuildWriter.adopt` it (with :meth:`of`)."""
        return str(self.path), self.last, self.count, self.okeys

    @classmethod
    def of(cls, handed: tuple) -> EquipmentPart:
        part = cls.__new__(cls)
        path, part.last, part.count, part.okeys = handed
        part.path, part.file, part.alive = Path(path), None, None
        return part


class RangeFile:
    """A binary file written from bytes and from ranges of other files: a range is
    copied by the kernel (``os.copy_file_range``: not through Python's memory, and a
    reflink on file systems that have them), falling back to a write of the mapped
    bytes where the kernel cannot (another file system, an old kernel)."""

    def __init__(self, f):
        self.f = f
        self._kernel = hasattr(os, "copy_file_range")

    def write(self, data) -> int:
        return self.f.write(data)

    def copy_range(self, fd: int, data, start: int, end: int) -> int:
        """Append ``start:end`` of the open file ``fd`` (whose bytes ``data`` maps)."""
        if self._kernel and end > start:
            self.f.flush()
            dst = self.f.fileno()
            at = self.f.tell()
            pos = start
            try:
                while pos < end:
                    n = os.copy_file_range(fd, dst, end - pos, pos, at + pos - start)
                    if n == 0:
                        break
                    pos += n
            except OSError:
                self._kernel = False
            if pos == end:
                self.f.seek(at + end - start)
                return end - start
            self.f.seek(at)  # (the bytes copied so far are written again below)
        return self.f.write(memoryview(data)[start:end])


class HashingFile(RangeFile):
    """A binary file that hashes what is written to it, as :func:`output_digest` would.

    The hash runs in a second thread, fed the pieces as they are written (hashing and
    file writes release the GIL). With ``old``, ``(data, blocks)`` of the file whose
    ranges are copied (a previous build's output, its blocks checked against their
    digests: state.outputs_intact), a block of it copied whole keeps its digest rather
    than being hashed again: a patched 100k-equipment build copies 300 MB and hashes
    the few blocks around its new lines. The pieces (mapped files) must stay valid
    until :meth:`digest` or :meth:`stop`."""

    def __init__(self, f, old=None):
        super().__init__(f)
        self.blocks = BlockHash()
        self._old = old
        if old is not None:
            self._starts = [start for start, _ in old[1]]
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (piece := self._queue.get()) is not None:
            src, start, end = piece
            if self._old is not None and src is self._old[0]:
                self._copied(start, end)
            else:
                self.blocks.feed(src, start, end)

    def _copied(self, start: int, end: int) -> None:
        """Hash ``start:end`` of the old file: its whole blocks that fall on a block of
        this one by their digests, the rest by its bytes."""
        data, old = self._old
        blocks = self.blocks
        while start < end:
            j = bisect.bisect_right(self._starts, start) - 1
            whole = j + 1 < len(old)  # (every block but the last has BLOCK_LINES lines)
            stop = old[j + 1][0] if whole else len(data)
            if whole and start == old[j][0] and stop <= end and blocks.pos == blocks.start:
                blocks.reuse(old[j][1], stop - start)
            else:
                stop = min(stop, end)
                blocks.feed(data, start, stop)
            start = stop

    def write(self, data) -> int:
        n = self.f.write(data)
        data = bytes(data) if isinstance(data, memoryview) else data
        self._queue.put((data, 0, len(data)))
        return n

    def copy_range(self, fd: int, data, start: int, end: int) -> int:
        if self._kernel:
            n = super().copy_range(fd, data, start, end)
        else:
            n = self.f.write(memoryview(data)[start:end])
        self._queue.put((data, start, end))
        return n

    def stop(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def digest(self) -> str:
        self.stop()
        if not hasattr(self, "_digest"):
            self._digest = self.blocks.finish()
        return self._digest


def copy_file(src: int, dst: int, size: int) -> None:
    """Copy ``size`` bytes from the file descriptor ``src`` to ``dst``, each from its
    position, in the kernel (``copy_file_range``, else ``sendfile``), else through a
    buffer where neither works between these files."""
    while size > 0:
        try:
            if hasattr(os, "copy_file_range"):
                done = os.copy_file_range(src, dst, size)
            else:  # pragma: no cover - not Linux
                done = os.sendfile(dst, src, None, size)
        except OSError:  # pragma: no cover - e.g. a file system without either
            done = 0
        if done <= 0:  # pragma: no cover
            data = memoryview(os.read(src, min(size, 1 << 20)))
            if not data:
                raise OSError(f"copy_file: {size} bytes short")
            done = len(data)
            while data:
                data = data[os.write(dst, data) :]
        size -= done


def file_digest(path: Path) -> str:
    """The content hash of a file, read through a mapping: for a build's effective.json
    and origins.json, :func:`output_digest`; for any other file, the digest of its
    bytes (engine.hashing)."""
    if Path(path).name in (EFFECTIVE, ORIGINS):
        return output_digest(path)
    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            return hashing.hexdigest(b"")
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return hashing.hexdigest(data)


BLOCK_LINES = 1024  # lines per block of an output's digest (a few MB of equipment)


def output_digest(path: Path) -> str:
    """The content hash of a build output: the digest of the digests of each of its
    blocks of :data:`BLOCK_LINES` lines (:class:`BlockHash`). A warm build that copies
    most of the previous output takes the digests of the blocks it copies whole from
    the previous build's (checked when it read them) rather than hashing them again."""
    return output_blocks(path)[0]


def output_blocks(path: Path) -> tuple[str, list]:
    """``(digest, blocks)`` of a build output (:func:`output_digest`)."""
    blocks = BlockHash()
    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size:
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
                blocks.feed(data, 0, len(data))
    return blocks.finish(), blocks.blocks


def blocks_intact(path: Path, digest: str, blocks: list) -> bool:
    """Whether the file at ``path`` holds the blocks ``blocks`` (``(start, digest)``,
    as :class:`BlockHash` made them) whose digest is ``digest``: each block's bytes hash
    to its digest, and the blocks tile the file."""
    if _top([d for _, d in blocks]) != digest:
        return False
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if not blocks:
            return size == 0
        if blocks[0][0] != 0:
            return False
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            view = memoryview(data)
            try:
                ends = [start for start, _ in blocks[1:]] + [size]
                for (start, block), end in zip(blocks, ends, strict=True):
                    if end <= start or hashing.digest(view[start:end]) != block:
                        return False
            finally:
                view.release()
    return True


def _top(digests: list) -> str:
    return hashing.hexdigest(b"".join(digests))


class BlockHash:
    """The digest of :func:`output_digest`, made from bytes fed in order: a block ends
    after every :data:`BLOCK_LINES` newlines (the last one may be shorter).
    :attr:`blocks` lists each block as ``(start offset, digest)``."""

    def __init__(self):
        self.blocks: list[tuple[int, bytes]] = []
        self.pos = 0  # bytes fed
        self.start = 0  # where the open block starts
        self.lines = 0  # newlines in the open block
        self._hash = hashing.hasher()

    @property
    def line(self) -> int:
        """Newlines fed so far (every closed block holds BLOCK_LINES)."""
        return len(self.blocks) * BLOCK_LINES + self.lines

    def feed_line(self, data: bytes) -> None:
        """Feed one line, its newline included (the cold build's writer)."""
        self._hash.update(data)
        self.pos += len(data)
        self.lines += 1
        if self.lines == BLOCK_LINES:
            self._close()

    def feed(self, src, start: int, end: int) -> None:
        """Feed ``src[start:end]`` (bytes or a mapping)."""
        view = memoryview(src)
        try:
            while start < end:
                pos = start
                need = BLOCK_LINES - self.lines
                found = 0
                while found < need:
                    nl = src.find(b"\n", pos, end)
                    if nl < 0:
                        break
                    pos = nl + 1
                    found += 1
                if found < need:
                    self._hash.update(view[start:end])
                    self.pos += end - start
                    self.lines += found
                    return
                self._hash.update(view[start:pos])
                self.pos += pos - start
                self.lines += found
                self._close()
                start = pos
        finally:
            view.release()

    def reuse(self, digest: bytes, length: int) -> None:
        """Take a whole block of BLOCK_LINES lines, ``length`` bytes, by its digest (at
        the start of a block only)."""
        if self.pos != self.start:
            raise ValueError("a block is taken whole at a block's start only")
        self.blocks.append((self.pos, digest))
        self.pos = self.start = self.pos + length

    def _close(self) -> None:
        self.blocks.append((self.start, self._hash.digest()))
        self.start = self.pos
        self.lines = 0
        self._hash = hashing.hasher()

    def finish(self) -> str:
        """Close the last block; the digest."""
        if self.pos > self.start:
            self._close()
        return _top([d for _, d in self.blocks])


def find_line(data, start: int, end: int, key: bytes) -> int:
    """Offset of the first entry line in ``data[start:end]`` (lines sorted by key) whose
    key is ``key`` or after it: a binary search, looking at a few lines of 100,000."""
    lo, hi = start, end  # lo is always a line start
    while lo < hi:
        line = data.rfind(b"\n", lo, (lo + hi) // 2) + 1 or lo
        if _unescaped(data[line + 1 : data.find(b'":', line)]) < key:
            lo = data.find(b"\n", line) + 1
        else:
            hi = line
    return lo


_LINE_OF_BRACE = re.compile(rb"\n\}")


def section_end(data, pos: int) -> int:
    """The start of the line "}" or "}," that closes the section whose lines start at
    ``pos`` (entry lines start with '"', never '}'). Where lines are long (an
    equipment's is 3 KB), hopping from newline to newline (memchr) finds it twice as
    fast as a regex search for it. ValueError when the section is not closed."""
    hop = data.find(b"\n", pos) - pos > 1024
    while True:
        if not hop:
            found = _LINE_OF_BRACE.search(data, pos - 1)
            if found is None:
                break
            pos = found.start() + 1
        if pos >= len(data):
            break
        end = data.find(b"\n", pos)
        end = len(data) if end < 0 else end
        if data[pos] == 0x7D and data[pos:end] in (b"}", b"},"):  # "}": copy no other line
            return pos
        pos = end + 1
    raise ValueError("unterminated section")


def line_key(line: bytes) -> bytes:
    """The key of an entry line ``"KEY":VALUE``, as UTF-8 (which sorts as the text
    does: as the lines were sorted); ValueError when ``line`` is not one."""
    end = line.find(b'":', 1)
    if not line.startswith(b'"') or end < 0:
        raise ValueError(f"not an entry line: {line[:80]!r}")
    return _unescaped(line[1:end])


def _unescaped(key: bytes) -> bytes:
    # IDs need no escape; a build another tool rewrote may hold keys that do
    return key if b"\\" not in key else json.loads(b'"' + key + b'"').encode()


def entry(key: str, value_json: str) -> bytes:
    """The line of one entry, as :func:`iter_lines` writes it."""
    return f"{_compact(key)}:{value_json}".encode()


try:  # 7x faster than json for the same bytes (sorted keys, compact, UTF-8): see docs
    import orjson

    def _json(value) -> bytes:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)

except ImportError:  # pragma: no cover - orjson is a dependency; keep working without it

    def _json(value) -> bytes:
        return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def _compact(value) -> str:
    return _json(value).decode()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: Path, document: dict) -> None:
    """Replace the lock ``path`` with :func:`dumps` of ``document`` in one rename,
    flushed to the disk (the lock is the user's file: faults.replace_file). Written a
    few thousand lines at a time: the text of a million services' lock, its lines and
    their bytes made whole, was 150 MB on top of the build (docs/performance.md, "Peak
    memory of a sharded build")."""
    replace_file(path, _line_chunks(document), durable=True, point="lock")


def _line_chunks(document: dict):
    """The bytes of :func:`dumps` of ``document``, a few thousand lines at a time."""
    return (data for _kind, _key, data in iter_pieces(document))


class OutputBusy(OutputError):
    """Another snavc build is writing the same output folder now."""


def check_output(repo: Path, out: Path) -> None:
    """Refuse an output folder whose replacement would destroy what it must not: the
    repository (``OUT`` is the repository or holds it: the swap would delete it, its
    ``.git`` with it), a git folder, or the repository's cache (``.snavc``). Raises
    :class:`OutputError` (a usage error). Paths are compared resolved (symbolic links
    followed), as the build writes through them."""
    repo_path, out_path = Path(repo).resolve(), Path(out).resolve()
    if out_path == repo_path or repo_path.is_relative_to(out_path):
        raise OutputError(
            f"output folder {out} holds the repository {repo}: a build replaces its whole output "
            "folder; choose a folder outside the repository or below it (e.g. build/)"
        )
    if ".git" in out_path.parts:
        raise OutputError(f"output folder {out} is inside a git folder: refusing to write there")
    if out_path.is_relative_to(repo_path / ".snavc"):
        raise OutputError(
            f"output folder {out} is inside the repository's cache (.snavc/): refusing to write there"
        )


def recover_output(out: Path) -> None:
    """Put right what a killed build left beside ``out`` (:func:`recover`), under the
    output's lock; nothing when another build holds it (that build does it). Run first
    by every build, so that even a build that then fails on its input restores a
    previous build that an interrupted swap left parked."""
    out = Path(out).resolve()
    if not out.parent.is_dir():
        return
    try:
        lock = _OutputLock(out.parent / f".{out.name}.lock", out)
    except (OSError, OutputError):  # busy, or a folder we may not write: the writer says
        return
    try:
        recover(out)
    finally:
        lock.release()


def _close_quietly(f) -> None:
    """Close ``f``, ignoring a failure to flush (a full disk): the caller is cleaning up."""
    try:
        f.close()
    except OSError:
        pass


class BuildWriter:
    """Writes a build into a temporary sibling of ``OUT`` while the rules run, then swaps
    it in with renames (atomic: a failed build leaves an existing ``OUT`` untouched).

    Equipment come one at a time, in ID order, from the rules engine and go straight to
    ``effective.json``: a 100k-equipment build never holds them all in memory. The bytes
    are those of :func:`dumps` of the whole document.

    One build at a time writes an ``OUT``: the writer holds a lock (``flock`` on
    ``.OUT.lock`` beside it) from its start to the end of the swap, and first puts right
    what a killed build left there: the previous build back in ``OUT`` when a kill fell
    between the two renames of the swap, and its temporary folders removed. A symbolic
    link ``OUT`` stays a link: the folder it points to is the one replaced.
    """

    keeps = True  # its equipment are written (shards.Discard: validate's, which are not)

    def __init__(self, out: Path):
        shown = Path(out)
        self.out = shown.resolve()  # through a symbolic link: the swap is at its target
        self.parent = self.out.parent
        self.parent.mkdir(parents=True, exist_ok=True)
        self._lock = _OutputLock(self.parent / f".{self.out.name}.lock", shown)
        try:
            recover(self.out)
            if self.out.exists():
                if not self.out.is_dir():
                    raise OutputError(f"{shown} exists and is not a folder")
                if any(self.out.iterdir()) and not (self.out / BUILD_MARKER).exists():
                    raise OutputError(
                        f"{shown} is not empty and is not a snavc build (no {BUILD_MARKER} "
                        "marker): refusing to replace it"
                    )
            self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.tmp-", dir=self.parent))
            os.chmod(self.tmp, 0o777 & ~_umask())  # mkdtemp's 0700 would leak into OUT
            self.file = open(self.tmp / EFFECTIVE, "wb")
        except BaseException:
            if getattr(self, "tmp", None) is not None:
                shutil.rmtree(self.tmp, ignore_errors=True)
            self._lock.release()
            raise
        self.lines = LineWriter(self.file)
        self.pending: str | None = None  # the last equipment line: its comma waits
        self.count = 0
        # origin key -> how many unit services have it (an incremental build's state)
        self.okeys: dict[str, int] = {}
        self.layouts: dict[str, dict] = {}  # file name -> its Lines layout, once written
        # file name -> content hash (engine.hashing), once written
        self.digests: dict[str, str] = {}
        self._hashing: dict[str, HashingFile] = {}  # file name -> its hash, still running
        self.blocks: dict[str, list] = {}  # file name -> the blocks of its digest (BlockHash)
        self.parked: Path | None = None  # the previous build, kept aside (finish_patched)
        # file name -> cache.as_written() once closed and backdated (:func:`backdate`):
        # what state.save_state may vouch for
        self.written: dict[str, tuple] = {}

    def equipment(self, eq_id: str, effective: dict) -> None:
        self._next_line()
        self.pending = equipment_line(eq_id, effective)
        self.count += 1
        count_origins(self.okeys, effective)
        if self.count == 2:
            crash_point("resolve")

    def _next_line(self) -> None:
        """Before an equipment line: the section's start, or the last line's comma."""
        if self.pending is None:
            self.lines.write("{")
            self.lines.write('"equipment":{')
        else:
            self.lines.write(self.pending + ",")

    def flush(self) -> None:
        """Write out what is buffered (before a fork: a child must not inherit it)."""
        self.file.flush()

    def adopt(self, part: EquipmentPart) -> None:
        """Append the equipment lines a shard wrote (:class:`EquipmentPart`, of the
        equipment after those written so far), copied by the kernel: the bytes are
        those :meth:`equipment` would have written for each of them."""
        if not part.count:
            return
        self._next_line()
        self.lines.append_file(part.path)
        self.pending = part.last
        self.count += part.count
        for okey, n in part.okeys.items():
            self.okeys[okey] = self.okeys.get(okey, 0) + n

    def detach(self) -> None:
        """In a forked shard (snavc.engine.shards): let go of the output's lock without
        releasing it (the parent holds it; a shard left running by a killed parent must
        not keep the next build out). The output file is the parent's too: flushed
        before the fork (:meth:`flush`), never written here."""
        if self._lock.fd is not None:
            os.close(self._lock.fd)
            self._lock.fd = None

    def finish(
        self, document: dict, diagnostics: list, provenance: dict, lock_report: dict
    ) -> None:
        """``document`` is the effective document without its equipment (already written)."""
        try:
            rest = iter_pieces({k: v for k, v in document.items() if k != "equipment"})
            next(rest)  # its "{": written with the equipment
            if self.pending is None:  # no equipment: as dumps() writes an empty section
                self.lines.write("{")
                self.lines.write('"equipment":{},')
            else:
                self.lines.write(self.pending)
                self.lines.write("},")
            self.lines.write_pieces(rest)
            self.file.close()
            self.layouts[EFFECTIVE] = self.lines.layout
            self.digests[EFFECTIVE] = self.lines.digest()
            self.blocks[EFFECTIVE] = self.lines.blocks
            with open(self.tmp / ORIGINS, "wb") as f:
                writer = LineWriter(f)
                writer.write_pieces(iter_pieces(provenance))
                self.layouts[ORIGINS] = writer.layout
                self.digests[ORIGINS] = writer.digest()
                self.blocks[ORIGINS] = writer.blocks
            self._backdate()
            self._write_rest(diagnostics, lock_report, self.layouts)
        except BaseException:
            self.abort()
            raise
        self._swap()

    def finish_patched(
        self,
        effective: Lines,
        provenance: Lines,
        diagnostics: list,
        lock_report: dict,
        blocks: dict | None = None,
        meanwhile=None,
    ) -> tuple[dict, object]:
        """Write a build patched from the previous one (snavc.engine.incremental), then swap;
        returns the layout of the files written (file name -> Lines layout) and what
        ``meanwhile()`` returned. Their content hashes are still being made, in
        threads, from the pieces written (the views of ``effective`` and
        ``provenance``, which must stay open till then): :meth:`hashed` waits for them,
        so that the caller's work goes on meanwhile. ``blocks`` gives the checked
        blocks of each file patched (HashingFile).

        ``meanwhile``: the caller's work that does not read the outputs, run in this
        thread while another writes them (most of a patched file is the kernel's copy
        of the previous one, 0.1-0.2 s for 300 MB, with the GIL free); nothing is
        swapped unless both end well."""
        done: dict = {}

        def write(name: str, lines: Lines) -> None:
            try:
                done[name] = self._write_patched(name, lines, blocks)
            except BaseException as e:  # (raised below, in the caller's thread)
                done.setdefault("error", e)

        self.file.close()
        writing = [
            threading.Thread(target=write, args=(name, lines), name=f"snavc-write-{name}")
            for name, lines in ((EFFECTIVE, effective), (ORIGINS, provenance))
        ]
        for thread in writing:
            thread.start()
        try:
            try:
                value = meanwhile() if meanwhile is not None else None
            finally:
                for thread in writing:
                    thread.join()
            if "error" in done:
                raise done["error"]
            layouts = {EFFECTIVE: done[EFFECTIVE], ORIGINS: done[ORIGINS]}
            self._backdate()
            self._write_rest(diagnostics, lock_report, layouts)
        except BaseException:
            self.abort()
            raise
        self._swap(keep=True)
        return layouts, value

    def _write_patched(self, name: str, lines: Lines, blocks: dict | None) -> dict:
        """Write ``name`` of ``lines`` patched; returns its layout."""
        # a new file, not the empty one truncated: ext4 flushes a file truncated to
        # nothing at its close (auto_da_alloc), 0.1 s for 300 MB
        (self.tmp / name).unlink(missing_ok=True)
        with open(self.tmp / name, "wb") as f:
            old = (lines.data, blocks[name]) if blocks and name in blocks else None
            self._hashing[name] = HashingFile(f, old)
            return lines.write(self._hashing[name])

    def finish_linked(
        self, folder: Path, diagnostics: list, lock_report: dict, layouts: dict
    ) -> None:
        """Write a build whose effective.json and origins.json are the files of the same
        names in ``folder`` (the build state's links to the previous build's: nothing it
        read changed; ``layouts`` theirs), hard-linked rather than copied; then swap."""
        try:
            self.file.close()
            for name in (EFFECTIVE, ORIGINS):
                (self.tmp / name).unlink(missing_ok=True)
                try:
                    os.link(folder / name, self.tmp / name)
                except OSError:  # another file system (EXDEV), or one without links
                    shutil.copyfile(folder / name, self.tmp / name)  # a kernel copy on Linux
            self._write_rest(diagnostics, lock_report, layouts)
        except BaseException:
            self.abort()
            raise
        self._swap()

    def _backdate(self) -> None:
        """effective.json and origins.json, new files of this folder's (closed: written
        as their digests say), backdated (:attr:`written`). Not for a linking build:
        its files are another folder's."""
        for name in (EFFECTIVE, ORIGINS):
            self.written[name] = backdate(self.tmp / name)

    def _write_rest(self, diagnostics: list, lock_report: dict, layouts: dict) -> None:
        """The small files."""
        for name, data in rest_files(diagnostics, lock_report, layouts).items():
            (self.tmp / name).write_bytes(data)
        crash_point("finish")

    def _swap(self, keep: bool = False) -> None:
        """Swap; the previous build is removed, or kept aside in :attr:`parked` for
        :meth:`discard` when ``keep`` (its files are still open: their last close,
        when removed, would free them in this process)."""
        try:
            parked = _swap(self.tmp, self.out, self.parent)
        finally:
            self._lock.release()
        if keep:
            self.parked = parked
        else:
            discard(parked)

    def discard(self) -> None:
        """Remove the previous build a patched build kept aside (:meth:`_swap`), once
        the files of it are closed."""
        parked, self.parked = self.parked, None
        discard(parked)

    def hashed(self) -> dict[str, str]:
        """:attr:`digests`, once the hashes :meth:`finish_patched` left running end."""
        for name, running in self._hashing.items():
            self.digests[name] = running.digest()
            self.blocks[name] = running.blocks.blocks
        self._hashing.clear()
        return self.digests

    def stop_hashing(self) -> None:
        """End the hashes still running (their pieces may then go)."""
        for running in self._hashing.values():
            running.stop()

    def abort(self) -> None:
        """Remove the temporary folder; never raises (it runs while an error, a full
        disk say, is on its way up, and must not hide it or leave the folder)."""
        self.stop_hashing()
        _close_quietly(self.file)
        shutil.rmtree(self.tmp, ignore_errors=True)
        self._lock.release()


def backdate(path: Path) -> tuple[int, int, int] | None:
    """Set the modification time of ``path``, a file of this build's own folder (no
    other process writes there), one nanosecond before the stamp of its last write;
    returns its identity then (cache.as_written). Any write after this gets a stamp of
    the clock's tick or later, another time: its record can be vouched for at once,
    with no wait for the clock to pass a tick (state.save_state). None where the time
    cannot be set (the next build then checks the file by its hash)."""
    try:
        st = os.stat(path)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns - 1))
    except OSError:
        return None
    return cache.as_written(cache.identity(path))


def rest_files(diagnostics: list, lock_report: dict, layouts: dict) -> dict[str, bytes]:
    """The small files of a build beside effective.json and origins.json (whose
    :class:`Lines` layouts are ``layouts``): name -> bytes."""
    return {
        DIAGNOSTICS: dg.render_json(diagnostics).encode("utf-8"),
        LOCK_REPORT: dumps(lock_report).encode("utf-8"),
        BUILD_MARKER: marker(layouts),
    }


def marker(layouts: dict) -> bytes:
    """The ``.snavc-build`` marker: a sentence for whoever opens the folder, then, on
    one line, where the sections of effective.json and origins.json lie (their
    :class:`Lines` layouts). A reader of a build (`diff`) then finds the sections of a
    300 MB file without going through its lines; :func:`marked_layout` checks that the
    layout still fits the file."""
    found = {
        name: {
            k.decode(): list(v) if isinstance(v, tuple) else v.decode()
            for k, v in layouts[name].items()
        }
        for name in (EFFECTIVE, ORIGINS)
        if name in layouts
    }
    return (MARKER_TEXT + json.dumps(found, sort_keys=True, separators=(",", ":")) + "\n").encode()


def marked_layout(folder: Path, name: str, data) -> dict | None:
    """The layout (:attr:`Lines.sections`) that the marker of the build ``folder`` gives
    for its file ``name``, whose bytes are ``data``; None when there is none (a build of
    an older snavc) or it does not fit these bytes exactly (a file edited since): every
    line outside the sections is where the layout puts it, as :meth:`Lines.write`
    writes it, down to the file's last byte."""
    try:
        with open(Path(folder) / BUILD_MARKER, "rb") as f:
            text = f.read(1 << 20)
        layout = json.loads(text.partition(b"\n")[2])[name]
        sections: dict = {}
        pos, names = 2, sorted(layout)
        if data[:2] != b"{\n":
            return None
        for i, key in enumerate(names):
            tail = b",\n" if i < len(names) - 1 else b"\n"
            value, label = layout[key], key.encode()
            if isinstance(value, list) and value != [0, 0]:
                start, end = value
                header = b'"' + label + b'":{\n'
                if (
                    start != pos + len(header)
                    or data[pos:start] != header
                    or end <= start
                    or data[end - 1 : end + 1 + len(tail)] != b"\n}" + tail
                ):
                    return None
                sections[label] = (start, end)
                pos = end + 1 + len(tail)
                continue
            sections[label] = (0, 0) if isinstance(value, list) else value.encode()
            line = b'"' + label + b'":' + (b"{}" if isinstance(value, list) else value.encode())
            if data[pos : pos + len(line) + len(tail)] != line + tail:
                return None
            pos += len(line) + len(tail)
        return sections if pos + 2 == len(data) and data[pos:] == b"}\n" else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError):
        return None


def output_holds(
    out: Path, folder: Path, diagnostics: list, lock_report: dict, layouts: dict
) -> bool:
    """Whether the output folder ``out`` holds exactly the build that
    :meth:`BuildWriter.finish_linked` would write there (its effective.json and
    origins.json the very files of ``folder``, the other files these bytes, nothing
    else): then a build has nothing to write. Looked at under the output's lock; False
    when another build holds it (the caller's writer then says so)."""
    out = Path(out).resolve()
    try:
        lock = _OutputLock(out.parent / f".{out.name}.lock", out)
    except (OSError, OutputError):
        return False
    try:
        rest = rest_files(diagnostics, lock_report, layouts)
        if sorted(os.listdir(out)) != sorted([EFFECTIVE, ORIGINS, *rest]):
            return False
        for name in (EFFECTIVE, ORIGINS):
            mine, theirs = os.stat(out / name), os.stat(folder / name)
            if (mine.st_dev, mine.st_ino) != (theirs.st_dev, theirs.st_ino):
                return False
        for name, data in rest.items():
            with open(out / name, "rb") as f:
                if f.read(len(data) + 1) != data:
                    return False
        return True
    except OSError:
        return False
    finally:
        lock.release()


def _swap(tmp: Path, out: Path, parent: Path) -> Path | None:
    """Put ``tmp`` in the place of ``out`` with two renames (``out`` to a hidden
    ``.OUT.old-*`` folder, ``tmp`` to ``out``). A kill between them leaves ``out``
    missing and the previous build in the ``.old-*`` folder: :func:`recover` (run by
    the next build) puts it back. Returns the previous build, renamed to a
    ``.OUT.trash-*`` folder (never put back), for the caller to remove
    (:func:`discard`) once it has closed the files of it it holds; None if none."""
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=parent))
        os.replace(out, old / "build")
        crash_point("swap")
    try:
        os.replace(tmp, out)
    except BaseException:
        if old is not None:  # put the previous build back
            os.replace(old / "build", out)
            shutil.rmtree(old, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if old is None:
        return None
    trash = old.with_name(old.name.replace(".old-", ".trash-", 1))
    try:
        os.replace(old, trash)
    except OSError:
        shutil.rmtree(old, ignore_errors=True)
        return None
    return trash


def discard(folder: Path | None) -> None:
    """Remove a previous build :func:`_swap` set aside: in the background when it is
    large (faults.remove)."""
    if folder is not None:
        remove([folder])


def _leftovers(out: Path, kind: str) -> list[Path]:
    prefix = f".{out.name}.{kind}-"
    try:
        return sorted(p for p in out.parent.iterdir() if p.name.startswith(prefix))
    except OSError:
        return []


def recover(out: Path) -> None:
    """Put right what a killed build left beside ``out`` (the caller holds the output's
    lock, so no live build owns these): a previous build parked by an unfinished swap
    goes back to ``out`` when ``out`` is missing; temporary and parked folders go."""
    for old in _leftovers(out, "old"):
        parked = old / "build"
        if not os.path.lexists(out) and (parked / BUILD_MARKER).is_file():
            os.replace(parked, out)
        shutil.rmtree(old, ignore_errors=True)
    for tmp in _leftovers(out, "tmp"):
        shutil.rmtree(tmp, ignore_errors=True)
    trash = _leftovers(out, "trash")  # (a removal killed, or still running: harmless)
    if trash:
        remove(trash)


class _OutputLock:
    """An exclusive ``flock`` on ``path`` (made if absent, removed on release), so that
    one build at a time writes an output folder. The kernel drops the lock of a killed
    process: a lock file left by one is taken over by the next build."""

    def __init__(self, path: Path, shown: Path):
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise OutputBusy(
                    f"another snavc build is writing {shown} now: try again when it has ended"
                ) from None
            except OSError:
                os.close(fd)
                raise
            try:  # the file may have been removed by its last holder since we opened it
                same = os.fstat(fd).st_ino == os.stat(path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        self.path, self.fd = path, fd

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            os.unlink(self.path)  # before unlocking: a waiter then sees a new file
        except OSError:
            pass
        os.close(self.fd)
        self.fd = None
