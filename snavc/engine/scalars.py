"""Plain scalars in YAML 1.2's core schema, and the nesting limit: what both front ends
(the libyaml path of load.py and the line scanner of scan.py) share, below both."""

from __future__ import annotations

import math
import re
from typing import Any

MAX_NESTING = 100  # SNV109: mappings and lists in one another (a real document nests ~5)


_INT = re.compile(r"[-+]?[0-9]+\Z")
_OCT = re.compile(r"0o[0-7]+\Z")
_HEX = re.compile(r"0x[0-9a-fA-F]+\Z")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?\Z")
_INF = re.compile(r"[-+]?\.(inf|Inf|INF)\Z")
_NAN = re.compile(r"\.(nan|NaN|NAN)\Z")
_NULLS = {"", "~", "null", "Null", "NULL"}
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}


# Integers are 64-bit signed, what JSON tools and the product take: a longer one is
# refused at its position (SNV114) before Python converts it (int() refuses past 4,300
# digits, and orjson past 64 bits, both far from the input).
INT_MIN, INT_MAX = -(2**63), 2**63 - 1
_MAX_DIGITS = {10: 19, 16: 16, 8: 22}  # digits of INT_MAX (and of -INT_MIN) per base


class ScalarError(ValueError):
    """A scalar that looks like a number and cannot be one (SNV114)."""


def resolve_plain(v: str) -> Any:
    """The value of a plain (unquoted, untagged) scalar, YAML 1.2 core schema.

    Raises :class:`ScalarError` for an integer outside ``INT_MIN..INT_MAX``.
    """
    if not v:
        return None
    c = v[0]
    if c in "-+.0123456789":
        if _INT.match(v):
            return _integer(v, v.lstrip("+-"), 10)
        if _FLOAT.match(v):
            return float(v)  # any length: a float overflows to inf, which models refuse
        if _INF.match(v):
            return -math.inf if c == "-" else math.inf
        if _NAN.match(v):
            return math.nan
        if _OCT.match(v):
            return _integer(v, v[2:], 8)
        if _HEX.match(v):
            return _integer(v, v[2:], 16)
        return v
    if c in "nN~":
        return None if v in _NULLS else v
    if c in "tTfF":
        return _BOOLS.get(v, v)
    return v


def _integer(text: str, digits: str, base: int) -> int:
    digits = digits.lstrip("0") or "0"
    if len(digits) <= _MAX_DIGITS[base]:
        n = int(digits, base)
        if text.startswith("-"):
            n = -n
        if INT_MIN <= n <= INT_MAX:
            return n
    shown = text if len(text) <= 24 else f"{text[:20]}... ({len(text):,} characters)"
    raise ScalarError(
        f"integer {shown} is out of range: integers are 64-bit, from {INT_MIN:,} to "
        f"{INT_MAX:,}; quote the value if it is text"
    )
