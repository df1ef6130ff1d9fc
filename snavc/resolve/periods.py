"""Time periods: product periods, defaults per aspect and the default walk (P1-P10).

The walk (P3) goes up from an object's node to the top of the configuring user's scope
(V2), node by node, and takes the first default for the aspect; then the product's
(P4); else nothing, and the object cannot be created (P5). Walks are cached per
(aspect, top, node): the same few answers serve every equipment of a site.
"""

from __future__ import annotations

import datetime
from functools import lru_cache

from ..model import ASPECTS
from ..tree import PRODUCT, Node
from .context import Context, where
from .scope import scope_path


def collect_defaults(ctx: Context) -> None:
    """P2: any node (and the product) may mark periods default per aspect; one per aspect."""
    for period in ctx.tree.objects.get("TimePeriod", {}).values():
        at = getattr(period, "at", None) or PRODUCT
        mine = ctx.defaults.setdefault(at, {})
        for i, aspect in enumerate(period.default_for):
            first = mine.get(aspect)
            if first is not None:
                ctx.error(
                    "SNV407",
                    "P2",
                    f"'{period.id}' and '{first.id}' are both the default {aspect} period of '{at}': "
                    "a node has at most one default per aspect",
                    period,
                    "default_for",
                    i,
                    related=(
                        where(first, "default_for", message=f"'{first.id}' is the default here"),
                    ),
                )
            else:
                mine[aspect] = period


class DefaultWalk:
    """P3-P5 for every (aspect, top, node), cached."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.find = lru_cache(maxsize=None)(self._find)

    def _find(self, aspect: str, top: Node, node: Node) -> tuple[str, str] | None:
        return self.walk(aspect, top, node, None)

    def walk(
        self, aspect: str, top: Node, node: Node, trace: list | None
    ) -> tuple[str, str] | None:
        """``(period ID, from)`` where from is the node ID or ``"product"``; None (P5).

        With ``trace``, appends one step per node looked at (for ``explain``).
        """
        defaults = self.ctx.defaults
        for n in reversed(scope_path(top, node)):
            found = defaults.get(n.id, {}).get(aspect)
            if trace is not None:
                trace.append(_step(n, aspect, found))
            if found is not None:
                return found.id, n.id
        if trace is not None:
            for above in reversed(node.path[1 : top.depth]):
                trace.append(_skip_above(above, top, node))
        found = defaults.get(PRODUCT, {}).get(aspect)
        if trace is not None:
            trace.append(_step(self.ctx.tree.product, aspect, found))
        if found is not None:
            return found.id, PRODUCT
        return None


def _step(n: Node, aspect: str, found) -> dict:
    if found is None:
        return {"node": n.id, "result": "none", "why": f"no default {aspect} period here"}
    loc = found.doc.loc("default_for")
    return {
        "node": n.id,
        "result": "found",
        "why": f"'{found.id}' is the default {aspect} period here",
        "file": loc.file,
        "line": loc.line,
    }


def _skip_above(n: Node, top: Node, node: Node) -> dict:
    if (
        top.kind in ("client", "site")
        and top is node.company
        and node.mode == "resale"
        and n.kind == "partner"
    ):
        why = "the client is in resale mode, the partner does not monitor it (V2, P3)"
    else:
        why = f"above the top of the user's scope, '{top.id}' (V2, P3)"
    return {"node": n.id, "result": "skipped", "why": why}


def node_summary(ctx: Context, walk: DefaultWalk, node: Node) -> dict:
    """P10: per aspect, the default a partner user gets at ``node``, and where it is from."""
    top = ctx.scope.partner_top(node)
    out = {}
    for aspect in ASPECTS:
        found = walk.find(aspect, top, node)
        out[aspect] = {"id": found[0], "from": found[1]} if found else None
    return out


def check_nodes(ctx: Context, walk: DefaultWalk, under=None, checked=None) -> dict[str, dict]:
    """P9/P10: every node's default summary; a warning where an aspect has none.
    ``under`` (node IDs): only the nodes at or below them (the walk of the others
    passes none of them: their summaries cannot change). ``checked``: see
    :func:`.engine`."""
    summaries = {}
    for node in ctx.tree.nodes.values():
        if node.kind == "product":
            continue
        if under is not None and not any(n.id in under for n in node.path):
            continue
        if checked is not None:
            checked[f"{node.obj.kind}/{node.id}"] = len(ctx.diagnostics)
        summary = node_summary(ctx, walk, node)
        summaries[node.id] = summary
        missing = [a for a, v in summary.items() if v is None]
        if missing:
            ctx.warning(
                "SNV409",
                "P9",
                f"no default {', '.join(missing)} period at '{node.id}', above it, nor in the product: "
                "equipment cannot be created here until one is defined",
                node.obj,
                "id",
            )
    return summaries


def check_explicit(
    ctx: Context, obj, path: tuple, period_id: str, top: Node, node: Node, who: str
) -> bool:
    """P7: a period set explicitly must be selectable; reports and returns False if not."""
    if period_id in ctx.scope.selectable("TimePeriod", top, node):
        return True
    period = ctx.tree.get("TimePeriod", period_id)
    if period is None:
        return False  # dangling: reported by the tree stage
    ctx.error(
        "SNV403",
        "P7",
        f"time period '{period_id}' (defined at '{period.at or PRODUCT}') is not selectable at '{node.id}' "
        f"for {who}; selectable: {_names(ctx.scope.selectable('TimePeriod', top, node))}",
        obj,
        *path,
    )
    return False


def _names(table: dict) -> str:
    return ", ".join(sorted(table)) or "none"


_WEEK = datetime.timedelta(days=7)


def _rank():
    from ..model import EXCEPTION_TYPES

    return {t: i for i, t in enumerate(EXCEPTION_TYPES)}


EXCEPTION_RANK = _rank()


def exception_on(period, day) -> object | None:
    """X2: the exception of ``period`` that applies on ``day`` (a datetime.date), or
    None: a calendar date first, then a day and month, then a day of the month, then
    the Nth (or last) weekday of the month (of its ``month`` if set)."""
    from ..model import MONTHS, WEEKDAYS

    best, rank = None, None
    month = MONTHS[day.month - 1]
    weekday = WEEKDAYS[day.weekday()]
    for ex in period.exceptions:
        form = ex.type
        if form == "date":
            hit = ex.date == day.isoformat()
        elif form == "day-of-year":
            hit = ex.day == day.day and ex.month == month
        elif form == "day-of-month":
            hit = ex.day == day.day
        elif form == "nth-weekday":
            last = (day + _WEEK).month != day.month
            nth_ok = ex.nth == (day.day - 1) // 7 + 1 or (ex.nth == -1 and last)
            hit = ex.weekday == weekday and nth_ok and ex.month in (None, month)
        else:
            continue
        if hit:
            r = EXCEPTION_RANK[form]
            if rank is None or r < rank:
                best, rank = ex, r
    return best


def ranges_on(period, day) -> list[str]:
    """The ranges of ``period`` on ``day``: its exception's (X2), else its weekday's."""
    from ..model import WEEKDAYS

    ex = exception_on(period, day)
    if ex is not None:
        return list(ex.ranges)
    return list(period.ranges.get(WEEKDAYS[day.weekday()], ()))
