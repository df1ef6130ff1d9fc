"""snavc IDs for the product's objects, derived the same way on import, export and drift.

The product identifies objects by its own IDs (the export's ID columns) and shows names.
snavc IDs are readable slugs of the names: ``Box Paris`` -> ``box-paris``. Two objects of
one kind whose names give the same slug (or a slug taken by the shipped catalogue) get
the product's ID appended: ``site-1-4711``. An export finds a product ID back from either
form (:meth:`Names.product_id`), so the mapping needs no file of its own: it is
recomputed from the reference export every time.
"""

from __future__ import annotations

import functools
import re
import unicodedata

MAX_ID = 64


@functools.lru_cache(maxsize=1 << 16)
def slug(name: str) -> str:
    """``"Box Paris (2)"`` -> ``"box-paris-2"``: an ID from a name (accents dropped)."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    text = re.sub(r"[^a-z0-9._-]+", "-", text)
    text = re.sub(r"-{2,}", "-", text).strip("-._")
    return text[:MAX_ID].rstrip("-._")


def _suffixed(base: str, pid: str) -> str:
    tail = "-" + slug(pid)
    return (base[: MAX_ID - len(tail)].rstrip("-._") or "x") + tail


class Names:
    """kind -> product ID -> name, and the snavc ID of each.

    ``reserved`` are snavc IDs that stubs of a kind may not take (the catalogue's);
    ``reuse`` those that a product object of that name *is* (a product time slot
    "24x7" is the catalogue's ``24x7``).
    """

    def __init__(self, reserved: dict[str, set[str]] | None = None, reuse=None):
        self.names: dict[str, dict[str, str]] = {}
        self.reserved = reserved or {}
        self.reuse = reuse or {}
        self._ids: dict[str, dict[str, str]] | None = None

    def add(self, kind: str, pid: str, name: str | None) -> None:
        """Record an object; the first name given wins (``None``: not named here)."""
        pid = pid.strip()
        if not pid:
            return
        known = self.names.setdefault(kind, {})
        if not known.get(pid) and (name or "").strip():
            known[pid] = name.strip()
            self._ids = None
        elif pid not in known:
            known[pid] = ""
            self._ids = None

    def name(self, kind: str, pid: str) -> str | None:
        found = self.names.get(kind, {}).get(pid)
        return found or (pid if found is not None else None)

    def _assign(self) -> dict[str, dict[str, str]]:
        if self._ids is None:
            self._ids = {}
            for kind, names in self.names.items():
                bases = {
                    pid: slug(n) or f"{kind.split('-')[-1]}-{slug(pid)}" for pid, n in names.items()
                }
                count: dict[str, int] = {}
                for b in bases.values():
                    count[b] = count.get(b, 0) + 1
                reserved, reuse = self.reserved.get(kind, set()), self.reuse.get(kind, set())
                self._ids[kind] = {
                    pid: b
                    if b in reuse or (count[b] == 1 and b not in reserved)
                    else _suffixed(b, pid)
                    for pid, b in bases.items()
                }
        return self._ids

    def snavc_id(self, kind: str, pid: str) -> str | None:
        return self._assign().get(kind, {}).get(pid.strip())

    def product_id(self, kind: str, ident: str) -> str | None:
        """The product ID behind snavc ID ``ident`` (either form), or None."""
        ids = self._assign().get(kind, {})
        found = [pid for pid, sid in ids.items() if sid == ident]
        if len(found) == 1:
            return found[0]
        by_slug = [pid for pid, n in self.names.get(kind, {}).items() if slug(n) == ident]
        if len(by_slug) == 1:
            return by_slug[0]
        by_suffix = [
            pid
            for pid, n in self.names.get(kind, {}).items()
            if _suffixed(slug(n) or kind, pid) == ident
        ]
        return by_suffix[0] if len(by_suffix) == 1 else None

    def reverse(self, kind: str) -> dict[str, str]:
        """snavc ID -> product ID for every object of ``kind`` (both ID forms)."""
        out: dict[str, str] = {}
        ambiguous: set[str] = set()
        for pid, n in self.names.get(kind, {}).items():
            for sid in {self.snavc_id(kind, pid), slug(n), _suffixed(slug(n) or kind, pid)}:
                if sid is None:
                    continue
                if sid in out and out[sid] != pid:
                    ambiguous.add(sid)
                out.setdefault(sid, pid)
        for sid, pid in ((self.snavc_id(kind, p), p) for p in self.names.get(kind, {})):
            out[sid] = pid  # the assigned form always wins
            ambiguous.discard(sid)
        for sid in ambiguous:
            out.pop(sid, None)
        return out
