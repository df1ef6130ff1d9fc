"""Emit: a resolved tree -> the effective configuration, as deterministic JSON.

Fifth stage. ``effective(result, resolution)`` builds the document of INTERFACE §2
(nodes with their default summary, equipment with unit services, user services), with
the origin of every resolved value; ``write_build`` writes it atomically: a failed or
interrupted build leaves an existing output folder as it was. Same input, same bytes:
keys sorted, no timestamps, no absolute paths.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from . import diagnostics as dg
from .load import BUILD_MARKER
from .tree import object_key

FORMAT = 1
EFFECTIVE = "effective.json"
ORIGINS = "origins.json"
DIAGNOSTICS = "diagnostics.json"


class OutputError(Exception):
    """The output folder cannot be written (not a snavc build, not writable...)."""


def effective(resolution) -> dict:
    tree = resolution.tree
    nodes = {}
    for node_id, node in tree.nodes.items():
        if node.kind == "product":
            continue
        nodes[node_id] = {
            "kind": node.kind,
            "name": node.name,
            "parent": node.parent.id if node.parent.kind != "product" else None,
            "mode": node.mode,
            "crm_ref": getattr(node.obj, "crm_ref", None),
            "defaults": resolution.nodes.get(node_id),
        }
    lock = resolution.lock
    return {
        "format": FORMAT,
        "nodes": nodes,
        "equipment": resolution.equipment,
        "user_services": resolution.user_services,
        "inputs": input_hashes(tree),
        "lock": dict(sorted(lock.stats.items())) if lock is not None else {},
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
    defaults = {}
    for node_id, aspects in resolution.ctx.defaults.items():
        for aspect, period in aspects.items():
            loc = period.doc.loc("default_for")
            defaults[f"{node_id}/{aspect}"] = {
                "id": period.id,
                "origin": [node_id, loc.file, loc.line],
            }
    return {
        "format": FORMAT,
        "services": resolver.origins,
        "explicit": resolver.explicit_origins,
        "defaults": defaults,
    }


def input_hashes(tree) -> dict[str, str]:
    """``label/ID`` -> content hash of every input object (catalogue included), so that
    ``snavc diff`` can tell which inputs a change touched without the repositories."""
    out = {}
    objects = [o for table in tree.objects.values() for o in table.values()]
    objects += [o for by_at in tree.overrides.values() for o in by_at.values()]
    for obj in objects:
        obj.doc.seal()
        out[object_key(obj)] = obj.doc.digest
    return out


def iter_lines(document: dict, shared: set[int] = frozenset()):
    """The lines of :func:`dumps`, one at a time (a 100k build is ~400 MB of text).

    ``shared`` holds the ``id()`` of unit service dicts used by many equipment: each is
    serialised once.
    """
    memo: dict[int, str] = {}

    def service(value: dict) -> str:
        key = id(value)
        text = memo.get(key)
        if text is None:
            text = _compact(value)
            if key in shared:
                memo[key] = text
        return text

    def equipment(value: dict) -> str:
        parts = []
        for k in sorted(value):
            v = value[k]
            if k == "services" and isinstance(v, dict):
                inner = ",".join(f"{_compact(n)}:{service(v[n])}" for n in sorted(v))
                parts.append(f'"services":{{{inner}}}')
            else:
                parts.append(f"{_compact(k)}:{_compact(v)}")
        return "{" + ",".join(parts) + "}"

    yield "{"
    sections = sorted(document)
    for i, key in enumerate(sections):
        value = document[key]
        tail = "," if i < len(sections) - 1 else ""
        if isinstance(value, dict) and value:
            yield f"{_compact(key)}:{{"
            encode = equipment if key == "equipment" else _compact
            names = sorted(value)
            last = len(names) - 1
            for j, k in enumerate(names):
                yield f"{_compact(k)}:{encode(value[k])}{',' if j < last else ''}"
            yield "}" + tail
        else:
            yield f"{_compact(key)}:{_compact(value)}{tail}"
    yield "}"


def dumps(document: dict, shared: set[int] = frozenset()) -> str:
    """JSON with sorted keys, one line per object of each top-level section.

    Compact enough for a million unit services, and a line per equipment keeps a
    text diff of two builds readable.
    """
    return "\n".join(iter_lines(document, shared)) + "\n"


try:  # 7x faster than json for the same bytes (sorted keys, compact, UTF-8): see docs
    import orjson

    def _compact(value) -> str:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()

except ImportError:  # pragma: no cover - orjson is a dependency; keep working without it

    def _compact(value) -> str:
        return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def shared_services(resolution) -> set[int]:
    """The ``id()`` of the unit service bases many equipment share (for :func:`iter_lines`)."""
    return {id(s) for s in resolution.resolver.shared_services()}


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one rename: readers see the old or the new file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 would stick to the file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_build(
    out: Path,
    document: dict,
    diagnostics: list,
    shared: set[int] = frozenset(),
    provenance: dict | None = None,
) -> None:
    """Write ``OUT/effective.json``, ``OUT/origins.json`` and ``OUT/diagnostics.json``
    atomically.

    The new build is written to a sibling temporary folder, then swapped in with renames.
    An existing ``OUT`` that is not a snavc build (no marker) and not empty is refused.
    """
    out = Path(out)
    if out.exists():
        if not out.is_dir():
            raise OutputError(f"{out} exists and is not a folder")
        if any(out.iterdir()) and not (out / BUILD_MARKER).exists():
            raise OutputError(
                f"{out} is not empty and is not a snavc build (no {BUILD_MARKER} marker): refusing to replace it"
            )
    parent = out.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp's 0700 would leak into OUT
    try:
        with open(tmp / EFFECTIVE, "w", encoding="utf-8") as f:
            for line in iter_lines(document, shared):
                f.write(line)
                f.write("\n")
        (tmp / DIAGNOSTICS).write_text(dg.render_json(diagnostics), encoding="utf-8")
        if provenance is not None:
            with open(tmp / ORIGINS, "w", encoding="utf-8") as f:
                for line in iter_lines(provenance):
                    f.write(line)
                    f.write("\n")
        (tmp / BUILD_MARKER).write_text(
            "written by snavc build; the whole folder is replaced by the next build\n"
        )
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=parent))
        os.replace(out, old / "build")
    try:
        os.replace(tmp, out)
    except BaseException:
        if old is not None:  # put the previous build back
            os.replace(old / "build", out)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
