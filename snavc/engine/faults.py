"""A test hook: a build killed at a named point of its work (tests/faults/).

``SNAVC_TEST_CRASH_AT=<point>`` makes the process end there at once, as ``kill -9``
would (``os._exit(137)``: no cleanup, no ``finally``). The points, in a build's order:
``load`` (the inputs read), ``resolve`` (equipment half written), ``finish`` (the new
output complete in its temporary folder), ``swap`` (between the two renames of the
output swap), ``swapped`` (the output replaced, the lock not yet), ``lock`` (the new
lock written beside ``snav.lock``, not yet renamed), ``locked`` (the lock replaced, the
caches not yet), ``snapshot`` (between the two files of the snapshot cache) and
``state`` (between the build state's links). Unset, each check is one dictionary look-up.
"""

from __future__ import annotations

import os
from pathlib import Path

POINTS = (
    "load",
    "resolve",
    "finish",
    "swap",
    "swapped",
    "lock",
    "locked",
    "snapshot",
    "state",
)


def crash_point(point: str) -> None:
    if os.environ.get("SNAVC_TEST_CRASH_AT") == point:
        os._exit(137)


# -- temporary files --------------------------------------------------------------------


def temporary(path: Path) -> Path:
    """The temporary file that is renamed to ``path`` once complete: ``.NAME.PID``
    beside it, after removing those that killed processes left (:func:`sweep`)."""
    sweep(path)
    return path.with_name(f".{path.name}.{os.getpid()}")


def sweep(path: Path) -> None:
    """Remove the temporaries of ``path`` (``.NAME.PID``) whose process is gone: a
    kill between writing one and renaming it leaves it behind. One of this process's
    own number is from an earlier process (this one writes one at a time)."""
    prefix = f".{path.name}."
    try:
        names = [n for n in os.listdir(path.parent) if n.startswith(prefix)]
    except OSError:
        return
    for name in names:
        pid = name[len(prefix) :]
        if pid.isdigit() and (int(pid) == os.getpid() or not _alive(int(pid))):
            try:
                os.unlink(path.parent / name)
            except OSError:
                pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process: alive
        return True
    return True
