"""Faults: files written whole or not at all (temporary files renamed into place,
swept when a killed process left them), and the test hook that kills a build at a
named point of its work (tests/faults/).

``SNAVC_TEST_CRASH_AT=<point>`` makes the process end there at once, as ``kill -9``
would (``os._exit(137)``: no cleanup, no ``finally``). The points, in a build's order:
``load`` (the inputs read), ``resolve`` (equipment half written), ``finish`` (the new
output complete in its temporary folder), ``swap`` (between the two renames of the
output swap), ``swapped`` (the output replaced, the lock not yet), ``lock`` (the new
lock written beside ``snav.lock``, not yet renamed), ``locked`` (the lock replaced, the
caches not yet), ``snapshot`` (between the two files of the snapshot cache) and
``state`` (between the build state's links); ``shard`` (a shard of a large build,
snavc.engine.shards, ends at its second equipment, the build going on without it); and
``import`` (an imported repository complete in its temporary folder, not yet renamed). Unset, each check is one
dictionary look-up.
"""

from __future__ import annotations

import os
import shutil
import subprocess
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
)  # a build's points; `import` is the bridge's


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
            left = path.parent / name
            try:
                if left.is_dir() and not left.is_symlink():  # an import's folder
                    shutil.rmtree(left)
                else:
                    os.unlink(left)
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


# -- writing in one step -----------------------------------------------------------------


def replace_file(path: Path, data, *, durable: bool = False, point: str = "") -> None:
    """Replace ``path`` with ``data`` (bytes, or pieces of bytes in order) in one rename:
    readers see the old or the new file, never a part. A failed write (a full disk)
    removes its temporary file.

    ``durable`` flushes the data to the disk before the rename and the folder after
    it, so that a power cut cannot leave an empty file in place of the old one: for the
    user's own files (``snav.lock``, an imported repository), not for build outputs that
    the next build makes again (docs/design.md, Guarantees)."""
    path = Path(path)
    tmp = temporary(path)
    try:
        with open(tmp, "wb") as f:
            if isinstance(data, (bytes, bytearray, memoryview)):
                f.write(data)
            else:
                for piece in data:
                    f.write(piece)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        if point:
            crash_point(point)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        sync_folder(path.parent)


def sync_folder(folder: Path) -> None:
    """Flush a folder's entries (a rename into it) to the disk; where folders cannot be
    opened for that (not Linux), the rename stands as the file system keeps it."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def read_marshalled(file) -> object:
    """The value a forked process marshalled into ``file`` (an open, unnamed temporary
    file), read through a mapping of it rather than into a bytes object: glibc's malloc
    serves a block of 20 MB by a mapping of its own and, freeing it, raises the size from
    which it maps blocks apart (its dynamic mmap threshold): a build's later large
    buffers then came from the heap, 11 MiB more at its peak. ValueError for an empty
    file, ValueError, EOFError or TypeError for one that is not marshal's."""
    import marshal
    import mmap

    with mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
        return marshal.loads(data)


def readable(fd: int, seconds: float = 0) -> bool:
    """Whether ``fd`` (a pipe's reading end: :func:`forked`'s) has something to read,
    or its writer is gone, waiting up to ``seconds``. By poll, not select: select
    refuses a descriptor numbered past 1023, which a process with many files open
    (a long test session) hands out."""
    import select

    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(max(seconds, 0) * 1000))


def read_exactly(fd: int, n: int) -> bytes:
    """``n`` bytes read from ``fd`` (a pipe's reading end), or fewer when its writer
    is gone first."""
    data = b""
    while len(data) < n and (more := os.read(fd, n - len(data))):
        data += more
    return data


def forked(work) -> tuple[int, int]:
    """Run ``work(fd)`` in a forked process, ``fd`` the writing end of a pipe; returns
    ``(pid, fd)``, the reading end here. The child exits with 0 when ``work`` returned,
    1 when it raised, and never returns into this process's code (``os._exit``: no
    atexit, no cleanup of this process's files): the caller reads what it wrote and
    makes up for a child that failed. OSError, nothing forked, when there is no
    descriptor or process left."""
    read, write = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(read)
        os.close(write)
        raise
    if pid == 0:
        code = 1
        try:
            os.close(read)
            work(write)
            code = 0
        except BaseException:  # noqa: BLE001, S110 - the caller says the child stopped
            pass
        finally:
            os._exit(code)
    os.close(write)
    return pid, read


# -- removing in the background ------------------------------------------------------------

# A folder of at least this many bytes is removed by a detached process: freeing a
# 360 MB build took 0.1-0.2 s of the build's own time on this machine's ext4
# (mounted with ``discard``), a twelfth of a warm build at 100k equipment.
DETACH_BYTES = 64 << 20

_removals: list[subprocess.Popen] = []  # started here, reaped by the next call


def remove(folders: list, pass_fds: tuple = (), detach: bool | None = None) -> None:
    """Remove ``folders`` (paths): by a detached ``rm -rf`` when ``detach``, or, when it
    is None, when their files hold :data:`DETACH_BYTES` or more; here otherwise, and
    where no process can start. ``pass_fds`` stay open in the ``rm`` till it ends (the
    locks of review.scratch). The files must be closed here first: the last close of a
    removed file frees it, and that is the cost this saves."""
    for proc in list(_removals):  # (reaped: no process is left a zombie)
        if proc.poll() is not None:
            _removals.remove(proc)
    folders = [str(f) for f in folders]
    if detach is None:
        detach = _size(folders) >= DETACH_BYTES
    if detach:
        try:
            _removals.append(
                subprocess.Popen(
                    ["rm", "-rf", "--", *folders],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    pass_fds=pass_fds,
                    start_new_session=True,  # an interrupt of snavc does not stop it
                    cwd="/",
                )
            )
            return
        except OSError:  # no rm, no process left to start: removed here
            pass
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


def wait_removals() -> None:
    """Wait for the removals this process started (tests; a process about to measure
    the disk)."""
    while _removals:
        _removals.pop().wait()


def _size(folders: list[str]) -> int:
    total = 0
    for folder in folders:
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        total += _size([entry.path])
                    else:
                        total += entry.stat(follow_symlinks=False).st_size
        except OSError:
            pass
        if total >= DETACH_BYTES:
            break
    return total
