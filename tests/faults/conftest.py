"""Helpers of the fault tests (issue 10): builds run in a forked process, so that a
test can kill one at a named point (``SNAVC_TEST_CRASH_AT``, snavc.engine.faults) the way
``kill -9`` would, and the comparisons every fault test ends with.

After any fault, two things must hold: the previous output and ``snav.lock`` are
intact (or, past the point of no return, replaced whole by the new ones), and the next
build gives, byte for byte, what a clean full build of the same repository gives
(a copy without ``.snavc``, built with ``SNAVC_NO_CACHE=1``), leaving nothing behind.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SEED = Path(__file__).resolve().parents[2] / "samples" / "seed"
OUTPUTS = ("effective.json", "origins.json", "diagnostics.json", "lock-report.json")

NEW_EQUIPMENT = """\
---
kind: Equipment
id: srv-fault-01
name: Fault server 01
at: client1-site2
address: 10.1.2.99
template: linux-server
box: box-client1-site2
configured_by: stephanie
"""


def copy_seed(dest: Path) -> Path:
    shutil.copytree(SEED, dest, ignore=shutil.ignore_patterns(".snavc"))
    return dest


def add_equipment(repo: Path) -> None:
    """A change an incremental build patches, and that adds entries to the lock."""
    with (repo / "clients" / "client1" / "site2" / "equipment.yaml").open("a") as f:
        f.write(NEW_EQUIPMENT)


def edit_equipment(repo: Path) -> None:
    """A change an incremental build patches, and that leaves the lock as it is."""
    path = repo / "clients" / "client1" / "site2" / "equipment.yaml"
    text = path.read_text()
    assert "address: 10.1.2.10\n" in text
    path.write_text(text.replace("address: 10.1.2.10\n", "address: 10.1.2.11\n", 1))


def change_configuration(repo: Path) -> None:
    """A change that needs a full build (a configuration document), and new lock entries."""
    path = repo / "partner" / "contacts.yaml"
    path.write_text(path.read_text().replace("noc@partner.example", "noc@fault.example"))
    add_equipment(repo)


def run(*args: str, crash: str | None = None, env: dict | None = None) -> int:
    """``snavc ARGS`` in a forked process (no interpreter start-up: milliseconds), its
    output thrown away; returns its exit status (137 when killed at ``crash``)."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        code = 3
        try:
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 1)
            os.dup2(null, 2)
            if crash is not None:
                os.environ["SNAVC_TEST_CRASH_AT"] = crash
            for k, v in (env or {}).items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
            from snavc.cli import cli

            try:
                cli.main(args=[str(a) for a in args], prog_name="snavc", standalone_mode=True)
                code = 0
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def files(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` (hidden ones included), by relative name."""
    if not folder.is_dir():
        return {}
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def outputs(out: Path) -> dict[str, bytes | None]:
    return {n: (out / n).read_bytes() if (out / n).is_file() else None for n in OUTPUTS}


def lock_of(repo: Path) -> bytes | None:
    path = repo / "snav.lock"
    return path.read_bytes() if path.exists() else None


def reference(repo: Path, tmp_path: Path, name: str = "reference") -> tuple[int, dict, bytes]:
    """A clean full build of a copy of ``repo`` as it is now: (exit, outputs, lock)."""
    copy = tmp_path / f"{name}-repo"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(repo, copy, ignore=shutil.ignore_patterns(".snavc"))
    out = tmp_path / f"{name}-out"
    code = run("build", copy, "-o", out, env={"SNAVC_NO_CACHE": "1"})
    return code, outputs(out), lock_of(copy)


TEMPORARY = re.compile(r"^\..*\.(tmp-.*|old-.*|trash-.*|lock|[0-9]+)$")


def leftovers(*folders: Path) -> list[str]:
    """Temporary files and folders snavc names (``.X.tmp-*``, ``.X.old-*``, ``.X.lock``,
    ``.X.PID``) found in ``folders`` and below their ``.snavc``."""
    found = []
    for folder in folders:
        for sub in (folder, folder / ".snavc", folder / ".snavc" / "build"):
            if sub.is_dir():
                found += [str(sub / n) for n in os.listdir(sub) if TEMPORARY.match(n)]
    return sorted(found)


def assert_next_build_is_clean(repo: Path, out: Path, tmp_path: Path) -> None:
    """The build after a fault gives the bytes of a clean full build and leaves nothing."""
    code, expected, expected_lock = reference(repo, tmp_path)
    assert code == 0
    assert run("build", repo, "-o", out) == 0
    assert outputs(out) == expected
    assert lock_of(repo) == expected_lock
    assert leftovers(out.parent, repo) == []
    # and the caches it left are right too: the build after it (patched, if it can
    # be) gives the bytes of a clean full build again (the lock is written by now)
    _, expected, expected_lock = reference(repo, tmp_path, "again")
    assert run("build", repo, "-o", out) == 0
    assert outputs(out) == expected
    assert lock_of(repo) == expected_lock


@pytest.fixture
def seed(tmp_path: Path) -> Path:
    """A copy of the seed built once: ``tmp_path/out`` holds its build."""
    repo = copy_seed(tmp_path / "repo")
    assert run("build", repo, "-o", tmp_path / "out") == 0
    return repo


# -- a full disk --------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MiB tmpfs (the tests run as root here and in CI)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs to fill needs root (and mount)")
    disk = tmp_path / "disk"
    disk.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield disk
    finally:
        if subprocess.run(["umount", str(disk)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(disk)], capture_output=True)  # busy: detach


def fill(disk: Path, leave: int) -> Path:
    """Fill ``disk`` but ``leave`` bytes (about)."""
    filler = disk / "filler"
    st = os.statvfs(disk)
    free = st.f_bavail * st.f_frsize
    with open(filler, "wb") as f:
        f.write(b"\0" * max(0, free - leave))
    return filler


def used(disk: Path) -> int:
    st = os.statvfs(disk)
    return (st.f_blocks - st.f_bavail) * st.f_frsize
