"""Reports of `snavc diff` and `snavc plan`: the report data, rendered by jinja2.

The shipped templates (``snavc/templates/*.j2``) render text and markdown; ``--template
FILE`` renders a user's own template in jinja2's sandbox, with the report data (the
JSON of docs/review.md, plus ``groups``) as its only input.
"""

from __future__ import annotations

import json
import re
import signal
import threading
import time
from pathlib import Path

import jinja2
import jinja2.sandbox
import markupsafe

from ..diagnostics import clean_text

TEMPLATES = Path(__file__).parent.parent / "templates"
SHIPPED = {"text": "report.txt.j2", "markdown": "report.md.j2"}
# the markdown report's default --max-bytes: under GitHub's 65,536-character comment limit
MARKDOWN_MAX_BYTES = 60_000
EXAMPLES = 3  # objects named in a collapsed row; a group larger than this is collapsed


class TemplateError(Exception):
    """A user template that cannot be read or rendered."""


# -- the budget of a user's template (issue 10 item 4) ------------------------------------
#
# jinja2's sandbox keeps a template from the file system and from Python's internals, not
# from spending: nested `range(99999)` loops run for hours, `10**10**8` computes for
# minutes, `"x" * 10**10` or `"x"|center(10**10)` fills the memory. A user's template
# gets a budget instead, and the first overrun stops it with a TemplateError (exit 2):
# - ``range()`` yields at most RANGE_ITEMS items over the whole rendering (not each);
# - ``**``, ``*`` and the padding calls (center, ljust, indent...) refuse a result of more
#   than VALUE_BYTES (estimated before it is computed);
# - the output stops at OUTPUT_BYTES (UTF-8) and the rendering at TIME_SECONDS of wall
#   clock (a SIGALRM timer, in the main thread: what any other loop cannot escape).
# The shipped templates are trusted and have no budget.

RANGE_ITEMS = 1_000_000
VALUE_BYTES = 16 * 2**20
OUTPUT_BYTES = 64 * 2**20
TIME_SECONDS = 30.0


class BudgetExceeded(Exception):
    """A user template spent more than its budget."""


class _Budget:
    def __init__(self):
        self.range_items = RANGE_ITEMS

    def take(self, n: int) -> None:
        self.range_items -= n
        if self.range_items < 0:
            raise BudgetExceeded(f"range() over {RANGE_ITEMS:,} items in all")


class _Range:
    """``range()`` in a user's template: a sequence whose items are paid for when
    iterated (``|length``, ``[i]`` and ``in`` are free)."""

    def __init__(self, r: range, budget: _Budget):
        self._r, self._budget = r, budget

    def __iter__(self):
        for i, item in enumerate(self._r):
            if i % 1024 == 0:
                self._budget.take(min(1024, len(self._r) - i))
            yield item

    def __reversed__(self):
        return iter(_Range(self._r[::-1], self._budget))

    def __len__(self):
        return len(self._r)

    def __getitem__(self, i):
        return self._r[i]

    def __contains__(self, x):
        return x in self._r

    def __repr__(self):
        return repr(self._r)


def _too_big(what: str):
    raise BudgetExceeded(f"{what} would be over {VALUE_BYTES // 2**20} MiB")


def _checked_power(left, right):
    if isinstance(left, int) and isinstance(right, int) and abs(left) > 1 and right > 0:
        if right * abs(left).bit_length() > VALUE_BYTES * 8:
            _too_big(f"{left} ** {right}")
    elif isinstance(left, float) or isinstance(right, float):
        try:
            return float(left) ** float(right)
        except OverflowError:
            raise BudgetExceeded(f"{left} ** {right} overflows") from None
    return left**right


def _size(value) -> int:
    if isinstance(value, str):
        return len(value.encode("utf-8", "surrogatepass")) if len(value) < 4096 else 4 * len(value)
    if isinstance(value, bytes | list | tuple):
        return len(value) * (1 if isinstance(value, bytes) else 8)
    return 0


def _checked_times(left, right):
    for seq, n in ((left, right), (right, left)):
        if isinstance(n, int) and not isinstance(n, bool) and _size(seq) * max(n, 0) > VALUE_BYTES:
            _too_big("a repeated string or list")
    return left * right


_PADDING = {"center", "ljust", "rjust", "zfill", "expandtabs", "indent", "wordwrap"}


def _width_args(args, kwargs) -> int:
    return max((abs(a) for a in (*args, *kwargs.values()) if isinstance(a, int)), default=0)


class _BudgetSandbox(jinja2.sandbox.ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"**", "*"})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.budget = _Budget()
        for name in ("center", "indent", "wordwrap"):
            self.filters[name] = self._padding_filter(self.filters[name], name)
        self.filters["format"] = self._format_filter(self.filters["format"])

    def _padding_filter(self, f, name):
        def checked(value, *args, **kwargs):
            if _width_args(args, kwargs) * 4 > VALUE_BYTES:
                _too_big(f"|{name}")
            return f(value, *args, **kwargs)

        return checked

    def _format_filter(self, f):
        def checked(value, *args, **kwargs):
            # a width or precision in the format itself: "%999999999d"
            if re.search(r"\d{7,}", str(value)):
                _too_big("|format")
            return f(value, *args, **kwargs)

        return checked

    def call_binop(self, context, operator, left, right):
        if operator == "**":
            return _checked_power(left, right)
        if operator == "*":
            return _checked_times(left, right)
        return super().call_binop(context, operator, left, right)

    def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805 (jinja2's signature)
        if __obj is jinja2.sandbox.safe_range or __obj is range:
            return _Range(__context.call(jinja2.sandbox.safe_range, *args, **kwargs), __self.budget)
        if (
            getattr(__obj, "__name__", None) in _PADDING
            and _width_args(args, kwargs) * 4 > VALUE_BYTES
        ):
            _too_big(f".{__obj.__name__}()")
        if getattr(__obj, "__name__", None) == "format" and re.search(
            r"\d{7,}", str(getattr(__obj, "__self__", ""))
        ):
            _too_big(".format()")
        return super().call(__context, __obj, *args, **kwargs)


def _stream(template, variables: dict) -> str:
    """Render ``template`` within OUTPUT_BYTES and TIME_SECONDS."""
    out: list[str] = []
    size = 0

    def alarm(signum, frame):
        raise BudgetExceeded(f"still rendering after {TIME_SECONDS:g} seconds")

    timed = threading.current_thread() is threading.main_thread() and hasattr(signal, "SIGALRM")
    if timed:
        previous = signal.signal(signal.SIGALRM, alarm)
        # an embedding program's own timer is put back afterwards, less the time spent
        started, (delay, interval) = (
            time.monotonic(),
            signal.setitimer(signal.ITIMER_REAL, TIME_SECONDS),
        )
    try:
        for chunk in template.generate(**variables):
            size += len(chunk.encode("utf-8", "surrogatepass"))
            if size > OUTPUT_BYTES:
                raise BudgetExceeded(f"output over {OUTPUT_BYTES // 2**20} MiB")
            out.append(chunk)
    finally:
        if timed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
            if delay:
                left = max(delay - (time.monotonic() - started), 0.001)
                signal.setitimer(signal.ITIMER_REAL, left, interval)
    return "".join(out)


def show(value, width: int = 80) -> str:
    """A value in one short line (JSON for lists and mappings)."""
    if value is None:
        return "(none)"
    text = (
        value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False)
    )
    return text if len(text) <= width else text[: width - 1] + "…"


# characters markdown gives a meaning to, inside a table cell (after HTML escaping)
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~#!])")
_PLAIN = re.compile(r"^[A-Za-z0-9 .,:;/@+=()'→−-]*\Z")


def md(value) -> str:
    """A user's text, safe inside a markdown table cell or an HTML element of a comment:
    HTML-escaped (markupsafe: a client named ``</details>`` or ``<img src=x>`` is shown,
    not obeyed), markdown punctuation backslash-escaped, on one line."""
    text = str(value).replace("\r", " ").replace("\n", " ")
    if _PLAIN.match(text):
        return text  # the usual case: nothing to escape
    # quotes stay as typed: user text is only ever element content, never an attribute
    escaped = str(markupsafe.escape(text)).replace("&#39;", "'").replace("&#34;", '"')
    return _MD_SPECIAL.sub(r"\\\1", escaped)


def code(value) -> str:
    """Inline code: `` `text` `` for a plain identifier, else ``<code>`` with the text
    HTML-escaped (a backtick span cannot hold every text, and shows entities as typed)."""
    text = str(value).replace("\r", " ").replace("\n", " ")
    if "`" not in text and "|" not in text:
        return f"`{text}`"  # HTML inside a code span is shown as typed
    return f"<code>{str(markupsafe.escape(text)).replace('|', '&#124;')}</code>"


def change(c: dict) -> str:
    """One change in a few words: ``30 → 15``, ``−a +b`` for lists, ``id (from)`` for periods."""
    old, new = c.get("old"), c.get("new")
    if isinstance(old, list) or isinstance(new, list):
        a, b = old or [], new or []
        parts = [f"−{x}" for x in a if x not in b] + [f"+{x}" for x in b if x not in a]
        return " ".join(parts) or "reordered"
    return f"{_value(old)} → {_value(new)}"


def _value(v) -> str:
    if isinstance(v, dict) and set(v) == {"id", "from"}:
        return f"{v['id']} ({v['from']})"
    return show(v, 40)


def added(c: dict) -> str:
    """What an added or removed object is, in a few words."""
    obj = c.get("new") if c["op"] == "added" else c.get("old")
    if not isinstance(obj, dict):
        return c["op"]
    if c["kind"] == "equipment":
        made = (
            f"{obj['template']} on {obj.get('box')}"
            if obj.get("template")
            else f"on {obj.get('box')}"
        )
        if "services" not in obj:  # (drift's hosts: the services export lists theirs)
            return f"{c['op']}: {made}"
        n = len(obj["services"] or {})
        return f"{c['op']}: {made}, {n} unit service{'s' if n != 1 else ''}"
    if c["kind"] == "unit-service":
        return f"{c['op']}: template {obj.get('template')}"
    return c["op"]


def objects(n: int, kind: str) -> str:
    """``11,043 equipment``, ``2 unit services``: a count of objects of a report kind."""
    word = {"unit-service": "unit service", "user-service": "user service"}.get(kind, kind)
    return f"{n:,} {word}{'' if n == 1 or kind == 'equipment' else 's'}"


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def grouped(changes: list[dict], names: dict | None = None) -> list[dict]:
    """partner -> client -> site -> object -> changes, every level sorted.

    An object at the partner itself has no client level; one at a client no site level.
    """
    names = names or {}
    tree: dict = {}
    for c in changes:
        partner, client, site = c.get("partner") or "", c.get("client") or "", c.get("site") or ""
        objects = tree.setdefault(partner, {}).setdefault(client, {}).setdefault(site, {})
        objects.setdefault((c["kind"], c["id"]), []).append(c)
    out = []
    for partner in sorted(tree):
        clients = []
        for client in sorted(tree[partner]):
            sites = []
            ops: dict[str, int] = {}
            for site in sorted(tree[partner][client]):
                objs = []
                for (kind, ident), items in sorted(tree[partner][client][site].items()):
                    kinds = {i["op"] for i in items}
                    op = next((o for o in ("added", "removed", "moved") if o in kinds), "changed")
                    ops[op] = ops.get(op, 0) + 1
                    objs.append({"kind": kind, "id": ident, "op": op, "changes": items})
                sites.append({"site": site, "name": names.get(site, site), "objects": objs})
            count = sum(len(s["objects"]) for s in sites)
            order = ("added", "changed", "removed", "moved")  # as in the headline
            summary = ", ".join(f"{ops[op]} {op}" for op in order if op in ops)
            clients.append(
                {
                    "client": client,
                    "name": names.get(client, client),
                    "sites": sites,
                    "count": count,
                    "ops": summary,
                }
            )
        out.append({"partner": partner, "name": names.get(partner, partner), "clients": clients})
    return out


def collapse(changes: list[dict]) -> tuple[list[dict], set[tuple[str, str]]]:
    """Identical changes, one group each: objects of one kind whose changes (every field,
    the same old and new values; or the same move) are the same. A group of more than
    :data:`EXAMPLES` objects is *collapsed*: one row, a count and a few examples, where a
    partner default's new period would otherwise give one row per equipment (issue 11:
    11,043 identical rows). Added and removed objects are never collapsed (each differs).

    Returns the collapsed groups (largest first) and the ``(kind, id)`` of their objects.

    >>> groups, _ = collapse(changes)                       # doctest: +SKIP
    >>> groups[0]["count"], groups[0]["changes"][0]["path"]  # doctest: +SKIP
    (11043, 'periods.check')
    """
    by_object: dict[tuple[str, str], list[dict]] = {}
    for c in changes:
        by_object.setdefault((c["kind"], c["id"]), []).append(c)
    by_sig: dict[tuple, list[tuple[str, str, dict]]] = {}
    for (kind, ident), items in by_object.items():
        if any(c["op"] in ("added", "removed") for c in items):
            continue
        sig = (kind,) + tuple(
            sorted((c["op"], c["path"] or "", _canon(c["old"]), _canon(c["new"])) for c in items)
        )
        by_sig.setdefault(sig, []).append((kind, ident, items[0]))
    groups, members = [], set()
    for sig, objs in by_sig.items():
        if len(objs) <= EXAMPLES:
            continue
        objs.sort(key=lambda o: o[1])
        first = by_object[(objs[0][0], objs[0][1])]
        groups.append(
            {
                "kind": sig[0],
                "count": len(objs),
                "changes": [
                    {"op": c["op"], "path": c["path"], "old": c["old"], "new": c["new"]}
                    for c in sorted(first, key=lambda c: (c["op"] != "moved", c["path"] or ""))
                ],
                "examples": [ident for _, ident, _ in objs[:EXAMPLES]],
                "clients": len({c["client"] for _, _, c in objs if c.get("client")}),
            }
        )
        members.update((kind, ident) for kind, ident, _ in objs)
    groups.sort(key=lambda g: (-g["count"], g["kind"], g["examples"][0]))
    return groups, members


def _canon(value) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def data(report) -> dict:
    """The report data templates get: a copy (a template cannot change the report, nor
    so the exit code), with ``groups`` for partner -> client -> site rendering of the
    changes not in a collapsed group, and ``cut`` (nothing cut: see :func:`render`)."""
    out = json.loads(json.dumps(report.to_json()))
    _, members = collapse(out["changes"])
    rest = [c for c in out["changes"] if (c["kind"], c["id"]) not in members]
    out["groups"] = grouped(out["changes"], report.names)
    # the markdown report lists the collapsed groups apart, and the other objects here
    out["uncollapsed"] = grouped(rest, report.names) if members else out["groups"]
    out["names"] = dict(report.names)
    out["not_compared"] = report.not_compared
    out["cut"] = None
    out["full"] = None
    return out


def limit(d: dict, n: int, rows: str = "uncollapsed") -> dict:
    """``d`` (from :func:`data`) with at most ``n`` items in each list a reader scrolls
    through (errors, inputs, collapsed groups, object rows across all clients: those of
    ``d[rows]``, ``groups`` or ``uncollapsed``), and
    ``cut`` saying how many of each were left out. The summary is never cut."""
    out = dict(d)
    cut = {
        "errors": max(0, len(d["errors"]) - n),
        "inputs": max(0, len(d["inputs"]) - n),
        "collapsed": max(0, len(d["collapsed"]) - n),
        "objects": 0,
    }
    out["errors"], out["inputs"], out["collapsed"] = (
        d["errors"][:n],
        d["inputs"][:n],
        d["collapsed"][:n],
    )
    budget = n
    partners = []
    for p in d[rows]:
        clients = []
        for c in p["clients"]:
            sites = []
            for st in c["sites"]:
                keep = st["objects"][: max(0, budget)]
                budget -= len(keep)
                cut["objects"] += len(st["objects"]) - len(keep)
                if keep:
                    sites.append({**st, "objects": keep})
            if sites:
                clients.append({**c, "sites": sites})
        if clients:
            partners.append({**p, "clients": clients})
    out[rows] = partners
    out["cut"] = cut if any(cut.values()) else None
    return out


def _printable(value):
    return clean_text(value) if isinstance(value, str) else value


def _env(sandboxed: bool, loader) -> jinja2.Environment:
    # a user's template: jinja2's immutable sandbox (it cannot even change its copy of
    # the data); shipped and user templates alike trim the newline after a block tag
    cls = _BudgetSandbox if sandboxed else jinja2.Environment
    env = cls(
        loader=loader,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
        # every value a template prints comes from the input (names, IDs, messages):
        # control characters escaped (issue 10 item 17); the template's own text is
        # left as written
        finalize=_printable,
    )
    env.filters["show"] = show
    env.filters["md"] = md
    env.filters["code"] = code
    env.filters["count"] = lambda n: f"{n:,}"
    env.filters["change"] = change
    env.filters["added"] = added
    env.globals["plural"] = plural
    env.globals["objects"] = objects
    env.trim_blocks = True
    env.lstrip_blocks = True
    return env


def render(report, fmt: str, max_bytes: int | None = None, full: str | None = None) -> str:
    """Render with a shipped template (``text`` or ``markdown``) or as JSON.

    ``max_bytes`` (text and markdown; 0 or None: no cap) bounds the UTF-8 size: the
    summary, errors, changed inputs and collapsed groups come first and the rows of each
    list are cut, the same number from each, to fit, with a note that says what was cut
    and where the full report is (``full``: the file ``--full-report`` wrote, if any).
    JSON is never cut (it would not parse).
    """
    if fmt == "json":
        return json.dumps(report.to_json(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    env = _env(False, jinja2.FileSystemLoader(TEMPLATES))
    template = env.get_template(SHIPPED[fmt])
    d = data(report)
    d["full"] = full
    text = template.render(report=d)
    if not max_bytes or len(text.encode()) <= max_bytes:
        return text
    rows = "uncollapsed" if fmt == "markdown" else "groups"
    if fmt != "markdown":
        d["collapsed"] = []  # the text report lists every object, collapsed or not
    longest = max(
        len(d["errors"]),
        len(d["inputs"]),
        len(d["collapsed"]),
        sum(len(st["objects"]) for p in d[rows] for c in p["clients"] for st in c["sites"]),
    )
    lo, hi = 0, longest  # the most rows per list that fit: a binary search, ~log2 renders
    best = template.render(report=limit(d, 0, rows))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        attempt = template.render(report=limit(d, mid, rows))
        if len(attempt.encode()) <= max_bytes:
            lo, best = mid, attempt
        else:
            hi = mid - 1
    if len(best.encode()) > max_bytes:  # even the title is too long: the summary alone
        note = f"\n(cut at {max_bytes} bytes)\n"
        summary = next(
            (
                line
                for line in best.splitlines()
                if line.startswith(("**", "No change", "Not compared", "+"))
            ),
            "",
        )
        room = max(0, max_bytes - len(note.encode()))
        best = summary.encode()[:room].decode(errors="ignore") + note
    return best


def render_user(report, template: Path) -> str:
    """Render a user's template in the sandbox: it sees the report data and nothing else."""
    try:
        source = Path(template).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise TemplateError(f"cannot read template {template}: {e}") from None
    env = _env(True, None)
    try:
        return _stream(env.from_string(source), {"report": data(report)})
    except BudgetExceeded as e:
        raise TemplateError(f"template {template}: stopped: {e}") from None
    except RecursionError:
        raise TemplateError(f"template {template}: stopped: recursion too deep") from None
    except MemoryError:
        raise TemplateError(f"template {template}: stopped: out of memory") from None
    except jinja2.TemplateError as e:
        where = f" (line {e.lineno})" if getattr(e, "lineno", None) else ""
        raise TemplateError(f"template {template}{where}: {e.message or e}") from None
    except Exception as e:  # the template's own fault (an include, a bad filter call...)
        raise TemplateError(f"template {template}: {type(e).__name__}: {e}") from None
