"""The state the rules share while resolving one tree: scope, caches, diagnostics."""

from __future__ import annotations

from .. import diagnostics as dg
from ..diagnostics import Diagnostic, Location
from ..model import Obj
from ..tree import Tree
from .scope import Scope

# Where a resolved value came from: (node ID, file, line), or None when unknown.
Origin = tuple[str, str, int | None]


class Context:
    def __init__(self, tree: Tree):
        self.tree = tree
        self.scope = Scope(tree)
        self.diagnostics: list[Diagnostic] = []
        # node ID -> aspect -> TimePeriod marked default there (P2); "product" included
        self.defaults: dict[str, dict[str, Obj]] = {}
        # small per-run memo tables of the rule modules, by name
        self.cache: dict[str, dict] = {}

    def report(
        self,
        severity: str,
        code: str,
        rule: str | None,
        message: str,
        obj: Obj | None,
        *path,
        key: bool = False,
        related: tuple[Location, ...] = (),
    ) -> None:
        at = obj.doc.loc(*path, key=key) if obj is not None and obj.doc is not None else None
        make = dg.error if severity == "error" else dg.warning
        self.diagnostics.append(make(code, message, at, rule=rule, related=related))

    def error(
        self, code: str, rule: str | None, message: str, obj: Obj | None, *path, **kw
    ) -> None:
        self.report("error", code, rule, message, obj, *path, **kw)

    def warning(
        self, code: str, rule: str | None, message: str, obj: Obj | None, *path, **kw
    ) -> None:
        self.report("warning", code, rule, message, obj, *path, **kw)


def origin(tree: Tree, obj: Obj, field: str | None = None) -> Origin:
    """Node, file and line that set ``field`` of ``obj`` (the document when no field)."""
    node = tree.node_of(obj).id
    loc = obj.doc.loc(field) if field else obj.doc.loc()
    return (node, loc.file, loc.line)


def where(obj: Obj, *path, message: str = "") -> Location:
    return obj.doc.loc(*path, message=message)
