"""Shards: a cold build's "resolve and write" stage on every core (issue 14, item 3).

Once the tree is linked and the user services and maintenance windows are resolved,
the equipment that are left are independent of one another: each is resolved from the
shared objects alone, and what its resolution records (its line of effective.json, its
explicit origins, the bases of its unit services and their origins, its lock entries,
its diagnostics) is its own, added after what the equipment before it recorded. So the
sorted equipment IDs are cut into contiguous ranges of about equal work (unit services
counted), and each range after the first is resolved by a forked process (a *shard*)
with the rules' own code (:func:`snavc.resolve.resolve_equipment`) while this process
resolves the first. A shard writes its equipment lines to a file in the build's
temporary folder and hands back, pickled through a pipe, what it recorded; this process
then takes in each shard in ID order: its lines appended by the kernel
(:meth:`snavc.engine.emit.BuildWriter.adopt`), its records added to the resolver's
(:meth:`~snavc.resolve.objects.Resolver.absorb`) and the lock state's
(:meth:`~snavc.resolve.lock.LockState.absorb`), its diagnostics and their owners
appended. The outputs and the build state are byte for byte those of one process
(``tests/test_shards.py``).

The ranges are of equal work, but the processes are not of equal speed: a shard's
core may be shared with other work, and what a shard reads is copied into it page by
page as it writes reference counts (copy-on-write). So this process, once its own
range is resolved, takes the second half of what the last shard has not resolved yet
(it asks through a pipe; the shard answers between two blocks of :data:`BLOCK`
equipment, where its range now ends), resolves it into a part of its own, and asks
again until what is left is too little to share (:data:`MIN_STEAL`); the parts go
after the shard's, in ID order.

Each shard may cost as much memory as the build holds when it forks (copy-on-write,
:func:`room`): no more are forked than the available memory has room for. A shard
that dies (killed, out of memory) or fails, or cannot be started, hands back nothing:
its range is then resolved here, after the ranges before it, as one process would
have (a failure of the rules' code itself then fails this process the usual way). A
shard whose parent is gone stops at its next equipment; it never writes outside its
own file, and lets go of the output's lock at once. Small builds stay in one process
(:data:`MIN_EQUIPMENT`), as do platforms without ``fork`` and machines whose cores are
busy with other work (:func:`jobs`); ``SNAVC_JOBS=N`` sets the number of processes
(1: no shard).
"""

from __future__ import annotations

import os
import pickle
import shutil
import signal
import tempfile
from pathlib import Path

from .faults import forked, read_exactly, readable

# below this many equipment, a build resolves in one process: a fork and the hand-back
# cost more than half of a small build's resolution saves
MIN_EQUIPMENT = 4000
MIN_PER_SHARD = 2000  # no shard of fewer equipment than this
MAX_JOBS = 4  # by default; SNAVC_JOBS may ask for more
EQUIPMENT_WEIGHT = 2  # an equipment's own work, counted in unit services
BLOCK = 16  # a shard resolves this many equipment between two looks at the pipe
MIN_STEAL = 32  # no fewer equipment than this are taken from the last shard
# the weight of this process's own range against a shard's: a little less, so that it
# is done first and takes what the last shard has left (it can take from a shard, a
# shard cannot take from it); at 300k equipment this process was the slower
FIRST = 0.8


def jobs() -> int:
    """How many processes resolve a large build's equipment: ``SNAVC_JOBS`` when set
    (a whole number, at least 1), else this process and one per idle core it may run
    on (at most :data:`MAX_JOBS`); 1 where processes cannot fork.

    A core is idle when the load average of the last minute leaves it free (this build
    counted as one): on a machine whose cores other work keeps busy, a second process
    gets no more CPU than the build had alone (Linux shares CPU between sessions, not
    processes: autogroup), and the shard's copy-on-write would only cost time and
    memory (docs/performance.md)."""
    if not hasattr(os, "fork"):
        return 1
    asked = os.environ.get("SNAVC_JOBS", "").strip()
    if asked.isdigit():
        return max(1, int(asked))
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_JOBS, 1 + idle_cores(cores)))


def idle_cores(cores: int) -> int:
    """The cores the last minute's load average leaves idle, besides this build's own
    (all of them where it cannot be read)."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # pragma: no cover - no load average here
        return cores
    return max(0, round(cores - max(load, 1.0)))


def room() -> int:
    """How many shards the machine's memory has room for: each may come to cost as much
    as this process holds now (copy-on-write: a page either process writes after the
    fork is copied, and CPython's reference counts write to every object read), so
    shards are only forked into memory that is available (``MemAvailable``), not into
    swap or the out-of-memory killer. Unlimited where that cannot be read."""
    try:
        with open("/proc/meminfo", "rb") as f:
            available = next(
                int(line.split()[1]) * 1024 for line in f if line.startswith(b"MemAvailable:")
            )
        with open("/proc/self/statm", "rb") as f:
            held = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, StopIteration):
        return MAX_JOBS * 64
    return available // max(held, 1)


def ranges(ids: list[str], weights: list[int], n: int, first: float = 1.0) -> list[list[str]]:
    """``ids`` cut into ``n`` contiguous ranges (some possibly empty) of about equal
    total weight, the first ``first`` times the others' weight."""
    total = sum(weights)
    out: list[list[str]] = []
    start, done = 0, 0
    for i, w in enumerate(weights):
        done += w
        if len(out) < n - 1 and done * (first + n - 1) >= total * (first + len(out)):
            out.append(ids[start : i + 1])
            start = i + 1
    out.append(ids[start:])
    out.extend([] for _ in range(n - len(out)))
    return out


def resolve_and_write(res, ids: list[str], writer, owners: list, leaves=None) -> None:
    """Resolve the equipment ``ids`` of ``res`` (sorted) into ``writer`` (an
    emit.BuildWriter), ``owners`` as for :func:`snavc.resolve.resolve_all`: in shards on
    every core when the build is large enough (see the module's docstring), else here.
    With ``leaves`` (an inputs.Leaves), each equipment's record for the snapshot is put
    there too, what it costs found by the process that resolves it.

    Each equipment's model leaves the tree of the process that resolves it (as
    ``resolve_all``'s ``consume``). Those a shard resolved stay in this process's tree,
    which nothing reads after this stage: freeing 50,000 models here would cost a 100k
    build about a second, for a process that ends with ``os._exit``."""
    from ..resolve import resolve_equipment

    n = min(jobs(), len(ids) // MIN_PER_SHARD) if len(ids) >= MIN_EQUIPMENT else 1
    n = min(n, 1 + room())

    def here(part: list[str]) -> None:
        if leaves is not None:
            leaves.record(res.tree, part)
        resolve_equipment(res, part, writer.equipment, consume=True, owners=owners)

    if n < 2:
        here(ids)
        return
    services = res.tree.unit_services
    weights = [EQUIPMENT_WEIGHT + len(services.get(i, ())) for i in ids]
    first, *rest = ranges(ids, weights, n, FIRST)
    writer.flush()  # a shard must not inherit buffered bytes of the output
    shards: list[_Shard] = []
    taken: list = []  # the parts resolved here of the last shard's range, last first
    try:
        last = max((k for k, part in enumerate(rest, 1) if part), default=0)
        for k, part in enumerate(rest, 1):
            if part:
                shards.append(_Shard(res, part, writer, k, leaves, k == last))
        here(first)
        while shards and (part := shards[-1].take()):
            taken.append(_resolve_apart(res, part, writer, owners, leaves, len(taken)))
        for shard in shards:
            answer = shard.result()
            if answer is None:  # it died or failed: its range is resolved here
                here(shard.kept)
            else:
                _absorb(res, writer, owners, answer)
                if leaves is not None:
                    leaves.take(res.tree, shard.kept, answer[5])
        for part in reversed(taken):
            _adopt(writer, part)
        taken = []
    finally:
        for shard in shards:
            shard.stop()
        for part in taken:
            if part is not None:
                part.path.unlink(missing_ok=True)


def _resolve_apart(res, ids: list[str], writer, owners: list, leaves, k: int):
    """Resolve ``ids``, taken from the last shard, into a part of their own (None for
    a writer that keeps no line): they go after the shard's lines."""
    from ..resolve import resolve_equipment
    from .emit import EquipmentPart

    if leaves is not None:
        leaves.record(res.tree, ids)
    if not writer.keeps:  # (validate: Discard.equipment writes nothing)
        resolve_equipment(res, ids, writer.equipment, consume=True, owners=owners)
        return None
    part = EquipmentPart(writer.tmp / f".equipment-taken-{k}.part")
    try:
        resolve_equipment(res, ids, part.equipment, consume=True, owners=owners)
    finally:
        part.close()
    return part


def _adopt(writer, part) -> None:
    if part is not None:
        try:
            writer.adopt(part)
        finally:
            part.path.unlink(missing_ok=True)


def resolve_and_discard(res) -> None:
    """Every rule over every object of ``res``, nothing kept (``validate``: only the
    diagnostics count), in shards as a build's :func:`resolve_and_write`: a shard then
    writes no line, and hands back its diagnostics and records alone."""
    from ..resolve import resolve_before_equipment

    ids = resolve_before_equipment(res, consume=True)
    writer = Discard()
    try:
        resolve_and_write(res, ids, writer, [])
    finally:
        writer.close()


class Discard:
    """The writer of :func:`resolve_and_discard`: equipment go nowhere; ``tmp`` holds
    the shards' (empty) files of lines, a temporary folder made only when a shard asks
    for it."""

    keeps = False

    def __init__(self):
        self._tmp: Path | None = None

    @property
    def tmp(self) -> Path:
        if self._tmp is None:
            self._tmp = Path(tempfile.mkdtemp(prefix="snavc-validate-"))
        return self._tmp

    def close(self) -> None:
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)

    def equipment(self, eq_id: str, effective: dict) -> None:
        pass

    def flush(self) -> None:
        pass

    def detach(self) -> None:
        pass

    def adopt(self, part) -> None:
        pass


def _absorb(res, writer, owners: list, answer: tuple) -> None:
    """Take in what a shard handed back, after everything resolved so far."""
    from .emit import EquipmentPart

    part, diagnostics, owned, records, lock_records, _leaves = answer
    part = EquipmentPart.of(part)
    try:
        writer.adopt(part)
    finally:
        part.path.unlink(missing_ok=True)
    base = len(res.diagnostics)
    res.diagnostics.extend(diagnostics)
    owners.extend((owner, start + base, end + base) for owner, start, end in owned)
    res.resolver.absorb(records)
    if lock_records is not None:
        res.lock.absorb(lock_records)


class _Shard:
    """A forked process resolving the equipment ``ids``; :meth:`result` waits for what
    it hands back (None when it died or failed, or could not be started: never a hang,
    its pipe's end is EOF once it is gone), :meth:`stop` kills it if it still runs."""

    # with ``shared``: this process's ends of the pipes through which it asks for a part
    # of the range (:meth:`take`) and the shard answers where the range now ends
    asks: int | None = None
    answers: int | None = None
    end: int | None = None  # where the shard's range ends, once parts are taken

    def __init__(self, res, ids: list[str], writer, k: int, leaves=None, shared=False):
        self.ids = ids
        self.path = writer.tmp / f".equipment-{k}.part"
        self.pid: int | None = None
        self.read: int | None = None
        parent = os.getpid()
        pipes: tuple = ()
        try:  # (a shard that fails: the parent resolves its range itself)
            if shared:
                pipes = (*os.pipe(), *os.pipe())  # asks (read, write), answers (read, write)

            def work(write: int) -> None:
                if pipes:
                    os.close(pipes[1])
                    os.close(pipes[2])
                asked = (pipes[0], pipes[3]) if pipes else None
                _shard(res, ids, writer, self.path, write, parent, leaves, asked)

            self.pid, self.read = forked(work)
        except OSError:  # no descriptor, memory or process left for it: resolved here
            for fd in pipes:
                os.close(fd)
            return
        if pipes:
            os.close(pipes[0])
            os.close(pipes[3])
            self.asks, self.answers = pipes[1], pipes[2]
            self.end = len(ids)

    @property
    def kept(self) -> list[str]:
        """The IDs of the range not taken from the shard (:meth:`take`)."""
        return self.ids if self.end is None else self.ids[: self.end]

    def take(self) -> list[str]:
        """Ask the shard for the second half of what it has not resolved yet: the IDs
        it gives up (empty once it has too few left, has ended, or died; it is then
        asked no more)."""
        if self.asks is None:
            return []
        given = b""
        try:
            os.write(self.asks, b"?")
            given = read_exactly(self.answers, 8)
        except OSError:  # gone (EPIPE): nothing given
            pass
        end = int.from_bytes(given, "little") if len(given) == 8 else self.end
        if not 0 <= end < self.end:
            self._unshare()
            return []
        part, self.end = self.ids[end : self.end], end
        return part

    def _unshare(self) -> None:
        for fd in (self.asks, self.answers):
            if fd is not None:
                os.close(fd)
        self.asks = self.answers = None

    def result(self) -> tuple | None:
        if self.pid is None:  # never started
            return None
        # unpickled as it comes (the pickle's frames), not read whole first: its bytes
        # and the records made of them were held together, at the build's peak then
        with os.fdopen(self.read, "rb") as f:
            self.read = None
            try:
                answer = pickle.load(f)
            except Exception:  # noqa: BLE001 - cut short: resolved here instead
                answer = None
        _, status = os.waitpid(self.pid, 0)
        self.pid = None
        if answer is None or not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
            self.path.unlink(missing_ok=True)
            return None
        return answer

    def stop(self) -> None:
        self._unshare()
        if self.read is not None:
            os.close(self.read)
            self.read = None
        if self.pid is not None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:  # pragma: no cover - already gone
                pass
            os.waitpid(self.pid, 0)
            self.pid = None


def _shard(
    res, ids: list[str], writer, path, fd: int, parent: int, leaves=None, asked=None
) -> None:
    """The shard's work, in the forked process: resolve ``ids`` (as the build would,
    after those before them), write their lines to ``path``, and hand back through
    ``fd`` what the build needs of the rest (pickled), with ``leaves`` the costly part
    of their records for the snapshot (inputs.Leaves.found). With ``asked`` (the pipes
    ``(asks, answers)``), the build may ask for the second half of what is not resolved
    yet: the range then ends where the answer says, and the build resolves the rest."""
    from ..resolve import resolve_equipment
    from .emit import EquipmentPart
    from .faults import crash_point

    writer.detach()
    if res.lock is not None:
        res.lock.split_off()
    mark = res.resolver.mark()
    start = len(res.diagnostics)
    seen = [0]

    def alive() -> None:
        seen[0] += 1
        if seen[0] == 2:
            crash_point("shard")
        if not seen[0] % 64 and os.getppid() != parent:
            os._exit(1)  # the build is gone: nobody will read this

    found = leaves.found(res.tree, ids) if leaves is not None else None
    part = EquipmentPart(path, alive)
    owners: list = []
    if writer.keeps:
        sink = part.equipment
    else:  # validate: no line written

        def sink(_id: str, _effective: dict) -> None:
            alive()

    end, done = len(ids), 0
    while done < end:
        if asked is not None and readable(asked[0]):
            if os.read(asked[0], 1):
                left = end - done
                end -= left // 2 if left // 2 >= MIN_STEAL else 0
                os.write(asked[1], end.to_bytes(8, "little"))
            else:  # the build asks no more
                asked = None
        following = min(done + BLOCK, end) if asked is not None else end
        resolve_equipment(res, ids[done:following], sink, consume=True, owners=owners)
        done = following
    if asked is not None:  # (a question asked meanwhile now reads the end of the pipe)
        os.close(asked[1])
    part.close()
    answer = (
        part.handed(),
        res.diagnostics[start:],
        [(owner, s - start, e - start) for owner, s, e in owners],
        res.resolver.records_since(mark),
        res.lock.records() if res.lock is not None else None,
        found if found is None else found[:end],
    )
    # pickled whole before it is written: the parent reads it only once its own range
    # is resolved, and a pickler stopped by the full pipe would do the rest of its work
    # then, while the parent waits (this process's peak is below the parent's)
    data = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
