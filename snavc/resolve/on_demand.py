"""One equipment or user service resolved when asked for (a query over the snapshot
cache resolves only what it is asked about). Apart from the package's ``__init__``,
which imports the rule modules, so that a rule module (locks: L1's references) can
use it without an import cycle."""

from __future__ import annotations


def effective_of(res, kind: str, ident: str) -> dict | None:
    """The effective configuration of one equipment or user service, resolved on demand
    when the resolution ``res`` (a :class:`snavc.resolve.Resolution`) did not do them all
    (a query from the snapshot cache)."""
    table = res.equipment if kind == "Equipment" else res.user_services
    if ident not in table:
        obj = res.tree.get(kind, ident)
        if obj is not None:
            if kind == "Equipment":
                found = res.resolver.equipment(obj, res.boxes)
            else:
                found = res.resolver.user_service(obj)
            if found is not None:
                table[ident] = found
    return table.get(ident)
