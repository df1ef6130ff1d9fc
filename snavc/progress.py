"""Progress of a long run, on a terminal: what the pipeline is doing, and for how long.

The stages name what they start (:func:`stage`); nothing is shown unless the CLI
turned the display on (:func:`start`), which it does only when standard error is a
terminal and not in CI (``CI`` set), so that logs and captured output never carry it.
The first line appears after two seconds, and is rewritten in place every half second
from a timer signal (no thread: the pipeline forks, and a child must not inherit one);
:func:`stop` erases it before the command prints its results.
"""

from __future__ import annotations

import os
import signal
import sys
import time

DELAY = 2.0  # seconds before anything is shown: short runs stay silent
EVERY = 0.5

_state = {"stage": "", "since": 0.0, "shown": False, "on": False, "stream": None}


def stage(name: str) -> None:
    """Say what the run does now (``"reading 20,000 files"``)."""
    _state["stage"] = name


def wanted(stream=None) -> bool:
    stream = stream or sys.stderr
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        return False
    return tty and not os.environ.get("CI") and hasattr(signal, "setitimer")


def start(stream=None) -> None:
    """Show progress on ``stream`` (standard error) from :data:`DELAY` seconds on."""
    if _state["on"] or not wanted(stream):
        return
    _state.update(since=time.monotonic(), shown=False, on=True, stream=stream or sys.stderr)
    try:
        signal.signal(signal.SIGALRM, _tick)
        signal.setitimer(signal.ITIMER_REAL, DELAY, EVERY)
    except (ValueError, OSError):  # not the main thread
        _state["on"] = False


def _tick(_signum, _frame) -> None:
    stream = _state["stream"]
    elapsed = time.monotonic() - _state["since"]
    what = _state["stage"] or "working"
    try:
        stream.write(f"\r\x1b[Ksnavc: {what}… {elapsed:.0f} s")
        stream.flush()
        _state["shown"] = True
    except (OSError, ValueError):
        pass


def stop() -> None:
    """Stop showing progress and erase its line (before the command prints)."""
    if not _state["on"]:
        return
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    _state["on"] = False
    if _state["shown"]:
        try:
            _state["stream"].write("\r\x1b[K")
            _state["stream"].flush()
        except (OSError, ValueError):
            pass
