"""H8: a host's control (check) slot must equal or cover its availability slot.

ServiceNav's documentation ("Availability and checks"): the control slot is "equal to or
covering the availability slot". Compared per weekday on the periods' ``ranges``: every
range of the availability period must lie inside the union of the check period's ranges
of that weekday (adjacent check ranges join: ``00:00-12:00`` and ``12:00-24:00`` cover
``10:00-14:00``). **Decision:** time slot exceptions (X1, X2) are not compared: they
change single days, and a weekly slot that covers is what the product's form asks for.

The answer depends only on the two period IDs: it is computed once per pair
(:class:`Coverage`), so 100k equipment sharing a few pairs cost a dict lookup each.
"""

from __future__ import annotations

from ..model import parse_range
from ..tree import Tree

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _merged(ranges: list[str]) -> list[tuple[int, int]]:
    """The union of ``"HH:MM-HH:MM"`` ranges as sorted disjoint minute intervals."""
    out: list[list[int]] = []
    for start, end in sorted(parse_range(r) for r in ranges):
        if out and start <= out[-1][1]:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end])
    return [(s, e) for s, e in out]


def _fmt(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def uncovered(check: dict, availability: dict) -> list[str]:
    """Per weekday, the availability time the check ranges leave out, as
    ``"monday 18:00-24:00"`` strings (empty: the check period covers)."""
    out = []
    for day in WEEKDAYS:
        covered = _merged(check.get(day, []))
        for start, end in _merged(availability.get(day, [])):
            at = start
            for cs, ce in covered:  # walk the gaps of the check ranges inside [start, end)
                if ce <= at:
                    continue
                if cs >= end:
                    break
                if cs > at:
                    out.append(f"{day} {_fmt(at)}-{_fmt(cs)}")
                at = max(at, ce)
                if at >= end:
                    break
            if at < end:
                out.append(f"{day} {_fmt(at)}-{_fmt(end)}")
    return out


class Coverage:
    """The H8 answer per (check period ID, availability period ID), memoised."""

    def __init__(self, tree: Tree) -> None:
        self.tree = tree
        self._memo: dict[tuple[str, str], tuple[str, ...]] = {}

    def gaps(self, check_id: str, availability_id: str) -> tuple[str, ...]:
        """What of the availability period the check period leaves out (empty: fine;
        also when either period is unknown: that is reported by its own rule)."""
        if check_id == availability_id:
            return ()
        key = (check_id, availability_id)
        found = self._memo.get(key)
        if found is None:
            check = self.tree.get("TimePeriod", check_id)
            availability = self.tree.get("TimePeriod", availability_id)
            if check is None or availability is None:
                found = ()
            else:
                found = tuple(uncovered(check.ranges, availability.ranges))
            self._memo[key] = found
        return found
