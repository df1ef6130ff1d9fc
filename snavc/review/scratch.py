"""The plan's scratch folder, removed in the background once the plan is done.

``plan`` works in a temporary folder: the base's checkout (which becomes the working
tree's folder: hard links to the working tree's files), the head's build and its
engine state. At 100k equipment that is 11,000 links in 1,000 folders and 400 MB of
outputs; removing it took 0.1 to 2.7 s on this machine's ext4 (mounted with
``discard``, and slower while other work writes), on the plan's path after the
comparison. :func:`scratch` hands it instead to a detached ``rm -rf`` once the plan no
longer needs it, as ``bazel clean --async`` does: the report is written while the
folder goes.

A folder whose plan or removal was killed is removed by the next plan of the same user
on the machine (:func:`sweep`): every folder holds an advisory lock (``flock``) for as
long as a process uses it (the plan, its base's build, the ``rm`` removing it), and a
folder named as ours, owned by this user, older than :data:`SETTLED` and whose lock is
free is a leftover. Removing a folder only unlinks names inside it: a hard link to the
working tree's file goes, the file stays (``rm`` never follows a symbolic link), so a
removal, killed or not, never touches the working tree.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from pathlib import Path

from ..engine.faults import _removals, remove, wait_removals  # noqa: F401 - the last two: tests

PREFIX = "snavc-plan."  # (earlier snavcs used "snavc-plan-" and removed theirs in place)
SETTLED = 10.0  # seconds: a folder younger than this may be one a plan is about to lock


@contextlib.contextmanager
def scratch():
    """A new temporary folder (a Path), locked for this process and those it forks,
    removed in the background when the block ends, however it ends; leftovers of
    earlier plans are removed first, in the background too."""
    sweep()
    folder = tempfile.mkdtemp(prefix=PREFIX)
    try:
        fd = _locked(folder, wait=True)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    try:
        yield Path(folder)
    finally:
        discard([(folder, fd)])


def sweep(root: str | None = None) -> list[str]:
    """Remove (in the background) the scratch folders of plans that ended without
    removing theirs: killed, or whose removal was. Returns their paths."""
    root = root or tempfile.gettempdir()
    found = []
    now = time.time()
    try:
        entries = list(os.scandir(root))
    except OSError:
        return []
    for entry in entries:
        if not entry.name.startswith(PREFIX):
            continue
        try:
            st = entry.stat(follow_symlinks=False)
            if (
                not entry.is_dir(follow_symlinks=False)
                or st.st_uid != os.geteuid()
                or now - st.st_mtime < SETTLED
            ):
                continue
            fd = _locked(entry.path, wait=False)
        except OSError:
            continue  # in use (its lock is held), or gone meanwhile
        found.append((entry.path, fd))
    if found:
        discard(found)
    return [path for path, _ in found]


def discard(folders: list[tuple[str, int]]) -> None:
    """Remove ``folders`` (path, the descriptor holding its lock) in a detached ``rm
    -rf``, which holds their locks until it ends; in place where it cannot start. The
    descriptors are closed."""
    fds = tuple(fd for _, fd in folders)
    try:
        remove([path for path, _ in folders], pass_fds=fds, detach=True)
    finally:
        for fd in fds:
            os.close(fd)


def _locked(path: str, wait: bool) -> int:
    """A descriptor of folder ``path`` holding its lock; OSError when ``wait`` is
    False and another process holds it."""
    import fcntl

    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_NOFOLLOW", 0))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BaseException:
        os.close(fd)
        raise
    return fd
