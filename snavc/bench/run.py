"""`make bench`: time snavc on generated estates against its peers and its targets.

For each size, every operation runs as its own ``snavc`` process (as a user runs it);
its wall time and peak RSS come from ``os.wait4``. Two peers run on the same data in
the same run, alternating with snavc's cold build, so that ratios stay meaningful on a
shared, noisy machine: the floor, a plain parse of the same files with PyYAML's libyaml
``CSafeLoader`` in one process, and Nagios 4's ``nagios4 -v`` on the equivalent Nagios
object configuration (:mod:`snavc.bench.nagios`), installed by the bench when the
machine allows it (root or ``sudo -n``, and apt) and skipped with the reason otherwise.
The targets of issue 14 are then judged on the run's figures (:func:`targets`).
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .generate import generate
from .nagios import WRITER_VERSION, main_cfg, write_nagios

Measure = tuple[float, int, int]  # wall seconds, peak RSS in MiB, exit code
COLD = "build (cold)"
EDIT_EQUIPMENT = "build (one equipment file edited)"
EDIT_ERROR = "build (one equipment file edited into an error, exit 1)"
EDIT_CONFIGURATION = "build (one configuration document edited)"
PLAN = "plan --base HEAD~1 (fresh clone, one file changed)"
PLAN_STATE = "plan --base HEAD~1 (fresh clone, base state restored)"
GIB = 1024  # MiB

GENERATOR_VERSION = "5"  # 3-4: the product's fields (issue 12); 5: estates clean under H8


def estate(root: Path, n: int) -> Path:
    """The generated estate of ``n`` equipment, cached between runs."""
    return _generated(root / f"estate-{n}-v{GENERATOR_VERSION}", lambda p: generate(p, n))


def _generated(path: Path, make) -> Path:
    """``path``, made by ``make(path)`` unless a complete earlier run made it (its
    ``.generated`` marker is written last: a killed run's half folder is made again)."""
    marker = path / ".generated"
    if not marker.exists():
        shutil.rmtree(path, ignore_errors=True)
        make(path)
        marker.write_text("ok\n")
    return path


def floor(path: Path) -> tuple[float, int]:
    """(seconds, peak RSS in MiB) of PyYAML's CSafeLoader parsing every file, in a
    fresh process (the seconds are the parse's own, without Python's start)."""
    code = (
        "import sys, time, pathlib, yaml\n"
        "t = time.perf_counter()\n"
        "for p in sorted(pathlib.Path(sys.argv[1]).rglob('*.yaml')):\n"
        "    list(yaml.load_all(p.read_bytes(), Loader=yaml.CSafeLoader))\n"
        "print(time.perf_counter() - t)\n"
    )
    settle()
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True
    )
    out = proc.stdout.read() if proc.stdout is not None else ""
    _, status, usage = os.wait4(proc.pid, 0)
    if proc.stdout is not None:
        proc.stdout.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"the floor failed on {path}")
    return float(out.strip()), usage.ru_maxrss // 1024


def find_nagios(install: bool = True) -> tuple[str | None, str]:
    """(the ``nagios4`` binary or None, how it was found or why there is none).

    Installs Debian's ``nagios4-core`` with apt-get when it is missing and this user is
    root or has ``sudo -n``; never raises: a bench without the peer still runs.
    ``SNAVC_BENCH_NAGIOS=0`` leaves the peer out."""
    if os.environ.get("SNAVC_BENCH_NAGIOS") == "0":
        return None, "left out: SNAVC_BENCH_NAGIOS=0"
    for name in ("nagios4", "/usr/sbin/nagios4", "nagios", "/usr/sbin/nagios"):
        found = shutil.which(name)
        if found:
            return found, f"{found} (found)"
    if not install:
        return None, "nagios4 is not installed"
    if shutil.which("apt-get") is None:
        return None, "nagios4 is not installed and this machine has no apt-get to install it"
    if os.geteuid() == 0:
        sudo: list[str] = []
    elif (
        shutil.which("sudo")
        and subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode == 0
    ):
        sudo = ["sudo", "-n"]
    else:
        return None, "nagios4 is not installed, and installing nagios4-core needs root or sudo -n"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install_cmd = [
        *sudo,
        "apt-get",
        "install",
        "-y",
        "-q",
        "--no-install-recommends",
        "nagios4-core",
    ]
    error = ""
    for attempt in (install_cmd, [*sudo, "apt-get", "update", "-q"], install_cmd):
        print(f"bench: {' '.join(attempt)}", flush=True)
        try:
            done = subprocess.run(attempt, capture_output=True, text=True, env=env, timeout=900)
        except (OSError, subprocess.TimeoutExpired) as e:
            return None, f"installing nagios4-core failed: {e}"
        error = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        if done.returncode == 0 and "update" not in attempt:
            break
    for name in ("nagios4", "/usr/sbin/nagios4"):
        found = shutil.which(name)
        if found:
            return found, f"{found} (installed by the bench: apt-get install nagios4-core)"
    return None, f"apt-get install nagios4-core failed: {error}"


def nagios_config(root: Path, n: int, path: Path) -> Path:
    """``nagios.cfg`` of the Nagios configuration equivalent to estate ``path``,
    written once per generator and writer version."""
    out = root / f"nagios-{n}-v{GENERATOR_VERSION}.{WRITER_VERSION}"
    return main_cfg(_generated(out, lambda o: write_nagios(path, o)))


def _env() -> dict:
    """This environment, with Python's bytecode cache on: a user's snavc does not
    compile its modules again at every run (an editable install writes __pycache__
    once, a wheel ships it); a sandbox may turn it off with PYTHONDONTWRITEBYTECODE."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


# folders where the commands timed leave what a detached process removes after them (a
# build's previous output, `.OUT.trash-*`; a plan's scratch folder, `snavc-plan.*`)
SETTLE: list[Path] = []


def settle(timeout: float = 60.0) -> None:
    """Wait until the removals the last commands left running in the background have
    ended, then until the system has written out the files they wrote (``sync``): a
    measure is of one command, not of the cleanup of the one before it (a plan's 400 MB
    scratch folder took up to 2.7 s to remove on this machine, beside the next plan; a
    cold build leaves 500 MB for the kernel to write). A user's next command comes
    seconds later."""
    end = time.monotonic() + timeout
    while time.monotonic() < end and any(
        p.name.startswith("snavc-plan.") or ".trash-" in p.name
        for folder in SETTLE
        if folder.is_dir()
        for p in folder.iterdir()
    ):
        time.sleep(0.05)
    if hasattr(os, "sync"):
        os.sync()


def timed(
    args: list[str], env: dict | None = None, cwd: Path | None = None, expected: int = 0
) -> Measure:
    """(wall seconds, peak RSS in MiB, exit code) of one command, once the removals of
    the commands before it have ended (:func:`settle`); its standard error goes to a
    file (a pipe nobody reads would block a talkative command), whose last line is
    printed when the command does not exit with ``expected``."""
    settle()
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=err, env=env or _env(), cwd=cwd
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != expected:
            err.seek(0)
            last = (err.read().decode(errors="replace").strip().splitlines() or [""])[-1]
            print(f"bench: exit {proc.returncode}: {' '.join(args)}: {last}", flush=True)
    return wall, usage.ru_maxrss // 1024, proc.returncode


def _change_one_file(path: Path) -> Path:
    """Edit two values of the equipment of one site file (an equipment edit)."""
    site = sorted(path.rglob("*-s00.yaml"))[0]
    text = site.read_text()
    site.write_text(
        text.replace("check_interval: 30", "check_interval: 31", 1).replace(
            "check_interval: 60", "check_interval: 61", 1
        )
    )
    return site


def _break_one_file(path: Path) -> tuple[Path, str]:
    """Put an equipment of one site file in error: its template's name mistyped (as a
    user does). Returns the file and its text before, to put back."""
    site = sorted(path.rglob("*-s01.yaml"))[0]
    text = site.read_text()
    edited = text.replace("\ntemplate: p0-linux\n", "\ntemplate: p0-linx\n", 1)
    if edited == text:
        raise RuntimeError(f"{site}: no equipment template to mistype")
    site.write_text(edited)
    return site, text


def _change_configuration(path: Path) -> tuple[Path, str]:
    """Edit a configuration document: the first managed client's office hours become
    its check period default too (a period default, as a partner engineer edits one:
    the check period of the client's equipment that have no closer default changes).
    Returns the file and its text before, to put back."""
    client = sorted(path.rglob("client.yaml"))[0]
    text = client.read_text()
    edited = text.replace(
        "default_for: [notification]\n", "default_for: [notification, check]\n", 1
    )
    if edited == text:
        raise RuntimeError(f"{client}: no period default to edit")
    client.write_text(edited)
    return client, text


def _change_percent(path: Path, out: Path, percent: float) -> int:
    """A copy of the estate with ``percent`` of its equipment changed."""
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(path, out, ignore=shutil.ignore_patterns(".snavc", ".generated"))
    files = sorted(out.rglob("*-s*.yaml"))
    step = max(1, round(100 / percent))
    changed = 0
    for site in files[::step]:
        text = site.read_text()
        site.write_text(text.replace("criticality: 2", "criticality: 1"))
        changed += text.count("criticality: 2")
    return changed


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.invalid", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


def git_estate(root: Path, n: int, path: Path) -> Path:
    """A git repository of the estate: the estate as commit 1, a one-file change (an
    equipment edit) as commit 2; made once per generator version."""
    repo = root / f"git-{n}-v{GENERATOR_VERSION}"
    marker = repo / ".git" / "snavc-bench-ready"
    if not marker.exists():
        shutil.rmtree(repo, ignore_errors=True)
        shutil.copytree(path, repo, ignore=shutil.ignore_patterns(".snavc", ".generated"))
        (repo / ".gitignore").write_text(".snavc/\n")
        _git(repo, "init", "-q")
        _git(repo, "add", "-A")
        _git(repo, "commit", "-q", "-m", "the estate")
        _change_one_file(repo)
        _git(repo, "commit", "-q", "-a", "-m", "one site file edited")
        marker.write_text("ok\n")
    return repo


def fresh_clone(repo: Path, out: Path) -> Path:
    """A clone with every commit and no cache, as a CI job has it."""
    shutil.rmtree(out, ignore_errors=True)
    subprocess.run(
        ["git", "clone", "-q", "--no-local", str(repo), str(out)], check=True, capture_output=True
    )
    return out


def _best(runs: list[Measure], expected: int = 0) -> Measure:
    """The fastest of several runs of one command (the least disturbed by the machine's
    other work); a run that did not exit with ``expected`` wins, so that it shows."""
    failed = [r for r in runs if r[2] != expected]
    return failed[0] if failed else min(runs)


# Nagios runs beside the cold build up to this size: no target compares with it beyond
# (the 3x target is snavc's own scaling), and its check of 300k equipment takes minutes
# and 9 GB of memory
NAGIOS_MAX = 100_000


def nagios_at(n: int, found: str | None) -> str | None:
    """The Nagios 4 binary to run beside the cold build of ``n`` equipment, or None."""
    return found if n <= NAGIOS_MAX else None


def run(sizes: list[int], root: Path, report: Path, rounds: int = 1) -> str:
    snavc = [sys.executable, "-m", "snavc"]
    SETTLE[:] = [root, Path(tempfile.gettempdir())]
    found, nagios_how = find_nagios()
    print(f"bench: Nagios 4 peer: {nagios_how}", flush=True)
    if found and any(n > NAGIOS_MAX for n in sizes):
        nagios_how += (
            f"; left out above {NAGIOS_MAX:,} equipment (no target compares with it there)"
        )
    rows = []
    for n in sizes:
        path = estate(root, n)
        files = sum(1 for _ in path.rglob("*.yaml"))
        mb = sum(p.stat().st_size for p in path.rglob("*.yaml")) / 1e6
        cfg = None
        nagios = nagios_at(n, found)
        if nagios:
            try:
                cfg = nagios_config(root, n, path)
            except Exception as e:  # the peer is not the bench: report and go on
                found = nagios = None
                nagios_how = f"writing the Nagios configuration failed: {e!r}"
                print(f"bench: Nagios 4 peer: {nagios_how}", flush=True)
        out = root / f"build-{n}"
        cache = path / ".snavc"
        measures: dict[str, Measure] = {}
        shutil.rmtree(cache, ignore_errors=True)
        measures["validate (cold)"] = timed([*snavc, "validate", str(path)])
        # the cold build and its peers, alternating, on the same data
        floors, colds, nagioses = [], [], []
        for _ in range(rounds):
            floors.append(floor(path))
            shutil.rmtree(cache, ignore_errors=True)
            colds.append(timed([*snavc, "build", str(path), "-o", str(out)]))
            if nagios:
                nagioses.append(timed([nagios, "-v", str(cfg)]))
        base = min(floors)
        measures[COLD] = _best(colds)
        peers = {"floor": (base[0], base[1], 0)}
        if nagios:
            peers["nagios"] = _best(nagioses)
        measures["build (warm, no change)"] = timed([*snavc, "build", str(path), "-o", str(out)])
        # the edits, as the cold build, the best of ``rounds``: each edited, built,
        # then put back and built again (the next round starts from the same state)
        edits, checks, asks = [], [], []
        can_edit = [
            *snavc,
            "query",
            "can-edit",
            str(path),
            "--as",
            "p0-c00000-operator",
            "eq-000009",
        ]
        for _ in range(rounds):
            site = _change_one_file(path)
            asks.append(timed(can_edit))  # (the first query after the edit)
            checks.append(timed([*snavc, "validate", str(path)]))  # (a pre-commit hook)
            edits.append(timed([*snavc, "build", str(path), "-o", str(out)]))
            site.write_text(
                site.read_text()
                .replace("check_interval: 31", "check_interval: 30", 1)
                .replace("check_interval: 61", "check_interval: 60", 1)
            )
            timed([*snavc, "build", str(path), "-o", str(out)])  # back to the estate's state
        measures[EDIT_EQUIPMENT] = _best(edits)
        measures["validate (one equipment file edited, after a build)"] = _best(checks)
        measures["can-edit one equipment (one equipment file edited, after a build)"] = _best(asks)
        # an edit the build refuses (the user's next build: the error, at its place);
        # nothing is written, so the file put back leaves the estate's state as it was
        edits = []
        for _ in range(rounds):
            site, before = _break_one_file(path)
            edits.append(timed([*snavc, "build", str(path), "-o", str(out)], expected=1))
            site.write_text(before)
        measures[EDIT_ERROR] = _best(edits, expected=1)
        other = root / f"estate-{n}-changed"
        _change_percent(path, other, 1.0)
        out2 = root / f"build-{n}-changed"
        timed([*snavc, "build", str(other), "-o", str(out2)])
        measures["diff (1% changed)"] = timed([*snavc, "diff", str(out), str(out2)])
        # after the diff, whose OUT is then the estate's build (a diff where a period
        # default changed too is another case: its impact search is far slower)
        edits = []
        for _ in range(rounds):
            client, before = _change_configuration(path)
            edits.append(timed([*snavc, "build", str(path), "-o", str(out)]))
            client.write_text(before)
            timed([*snavc, "build", str(path), "-o", str(out)])
        measures[EDIT_CONFIGURATION] = _best(edits)
        query = [
            *snavc,
            "query",
            "selectable",
            str(path),
            "--as",
            "p0-admin",
            "--at",
            "p0-c00000-s00",
            "--kind",
            "box",
        ]
        shutil.rmtree(cache, ignore_errors=True)
        measures["query selectable (no snapshot)"] = timed(query)
        measures["query selectable (snapshot)"] = timed(query)
        measures["explain one equipment (snapshot)"] = timed(
            [*snavc, "explain", str(path), "eq-000000"]
        )
        measures["can-edit one equipment (snapshot)"] = timed(can_edit)
        shutil.rmtree(other, ignore_errors=True)
        # the plans, as the cold build, the best of ``rounds``, each in a fresh clone
        repo = git_estate(root, n, path)
        plans = []
        for _ in range(rounds):
            clone = fresh_clone(repo, root / f"clone-{n}")
            plans.append(timed([*snavc, "plan", ".", "--base", "HEAD~1"], cwd=clone))
            shutil.rmtree(clone, ignore_errors=True)
        measures[PLAN] = _best(plans)
        # a CI cache of the base's build (plan --base-state, made by the first job),
        # then new jobs restoring it
        saved = (root / f"base-state-{n}").resolve()  # the plans run in the clone
        shutil.rmtree(saved, ignore_errors=True)
        plans = []
        for i in range(rounds + 1):
            clone = fresh_clone(repo, root / f"clone-{n}")
            args = [*snavc, "plan", ".", "--base", "HEAD~1", "--base-state", str(saved)]
            got = timed(args, cwd=clone)
            if i > 0:
                plans.append(got)
            shutil.rmtree(clone, ignore_errors=True)
        measures[PLAN_STATE] = _best(plans)
        shutil.rmtree(saved, ignore_errors=True)
        rows.append(Row(n, files, mb, measures, peers))
        print(
            f"{n:>7} equipment: floor {base[0]:.2f}s"
            + (f"; nagios4 -v {peers['nagios'][0]:.2f}s" if nagios else "")
            + "; "
            + "; ".join(f"{k} {v[0]:.2f}s" for k, v in measures.items()),
            flush=True,
        )
    text = _table(rows, nagios_how)
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(text)
    return text


@dataclass
class Row:
    """One size's figures: snavc's operations and the peers of its cold build."""

    n: int
    files: int
    mb: float
    measures: dict[str, Measure]
    peers: dict[str, Measure]  # "floor" (exit 0), "nagios" when it ran


@dataclass
class Target:
    """One target of issue 14 as this run measured it."""

    name: str
    at: str  # the size it is judged at
    measured: str
    ratio: float | None  # in the target's own unit (x, %, GiB)
    limit: float
    unit: str  # "x", "%" or " GiB"
    status: str  # "met", "missed", "failed (exit N)" or "not measured: why"
    peers: str

    def cells(self) -> list[str]:
        def fmt(v: float) -> str:
            return f"{v * 100:.1f} %" if self.unit == "%" else f"{v:.2f}{self.unit}"

        ratio = fmt(self.ratio) if self.ratio is not None else "-"
        status = "**missed**" if self.status == "missed" else self.status
        return [
            self.name,
            self.at,
            self.measured,
            ratio,
            f"<= {fmt(self.limit)}",
            status,
            self.peers,
        ]


SCALING = [(1_000, 10_000), (10_000, 100_000), (100_000, 300_000)]
SCALING_SLACK = 1.05  # 10x the equipment <= 10.5x the time and memory


def _judge(value: float, limit: float, *codes: int) -> str:
    failed = [c for c in codes if c != 0]
    if failed:
        return f"failed (exit {failed[0]})"
    return "met" if value <= limit else "missed"


def _peers(row: Row, what: str = "time") -> str:
    out = []
    nag = row.peers.get("nagios")
    floor_ = row.peers["floor"]
    if what == "time":
        if nag:
            out.append(f"Nagios 4 -v {nag[0]:.2f} s")
        out.append(f"floor {floor_[0]:.2f} s")
    elif what == "memory":
        if nag:
            out.append(f"Nagios 4 -v {nag[1]:,} MiB")
        out.append(f"floor {floor_[1]:,} MiB")
    elif what == "edit":
        if nag:
            out.append(f"Nagios 4 -v again (it has no incremental check): {nag[0]:.2f} s")
        out.append(f"floor {floor_[0]:.2f} s")
    return "; ".join(out)


def targets(rows: list[Row], nagios_how: str) -> list[Target]:
    """Issue 14's targets judged on the figures of one run. A target at a size the run
    did not measure, or against a peer that did not run, is "not measured" with why;
    targets that name no size are judged at the largest size measured."""
    by = {r.n: r for r in rows}
    largest = max(rows, key=lambda r: r.n) if rows else None
    out: list[Target] = []

    def missing(name, at, limit, unit, why, peers=""):
        out.append(Target(name, at, "-", None, limit, unit, f"not measured: {why}", peers))

    for n, limit in ((10_000, 1.0), (100_000, 0.3)):
        name = f"cold build <= {limit:g}x Nagios 4 -v"
        at = f"{n:,}"
        r = by.get(n)
        if r is None:
            missing(name, at, limit, "x", f"{n:,} not in SIZES")
        elif "nagios" not in r.peers:
            missing(name, at, limit, "x", f"no Nagios 4 peer ({nagios_how})", _peers(r))
        else:
            b, nag = r.measures[COLD], r.peers["nagios"]
            out.append(
                Target(
                    name,
                    at,
                    f"{b[0]:.2f} s vs {nag[0]:.2f} s",
                    b[0] / nag[0],
                    limit,
                    "x",
                    _judge(b[0] / nag[0], limit, b[2], nag[2]),
                    _peers(r),
                )
            )
    name = "cold build peak RSS <= 1 GiB"
    r = by.get(100_000)
    if r is None:
        missing(name, "100,000", 1.0, " GiB", "100,000 not in SIZES")
    else:
        b = r.measures[COLD]
        out.append(
            Target(
                name,
                "100,000",
                f"{b[1]:,} MiB",
                b[1] / GIB,
                1.0,
                " GiB",
                _judge(b[1] / GIB, 1.0, b[2]),
                _peers(r, "memory"),
            )
        )
    for key, name, expected in (
        (EDIT_EQUIPMENT, "build after one equipment file edited <= 5 % of a cold build", 0),
        (
            EDIT_CONFIGURATION,
            "build after one configuration document edited <= 5 % of a cold build",
            0,
        ),
        (
            EDIT_ERROR,
            "build after one equipment file edited into an error <= 5 % of a cold build",
            1,
        ),
    ):
        r = by.get(100_000)
        if r is None:
            missing(name, "100,000", 0.05, "%", "100,000 not in SIZES")
            continue
        if key not in r.measures:  # (a run of an older bench)
            missing(name, "100,000", 0.05, "%", "not in this run")
            continue
        e, b = r.measures[key], r.measures[COLD]
        status = _judge(e[0] / b[0], 0.05, 0 if e[2] == expected else e[2], b[2])
        if e[2] != expected and e[2] == 0:
            status = "failed (exit 0: the error was not reported)"
        out.append(
            Target(
                name,
                "100,000",
                f"{e[0]:.2f} s vs {b[0]:.2f} s",
                e[0] / b[0],
                0.05,
                "%",
                status,
                _peers(r, "edit"),
            )
        )
    if largest is None:
        return out
    r, at = largest, f"{largest.n:,}"
    p, b = r.measures[PLAN], r.measures[COLD]
    out.append(
        Target(
            "CI plan --base, one file changed, fresh clone, no cache: time <= 1.3x a cold build",
            at,
            f"{p[0]:.2f} s vs {b[0]:.2f} s",
            p[0] / b[0],
            1.3,
            "x",
            _judge(p[0] / b[0], 1.3, p[2], b[2]),
            _peers(r),
        )
    )
    out.append(
        Target(
            "CI plan --base, same: peak RSS <= the cold build's",
            at,
            f"{p[1]:,} MiB vs {b[1]:,} MiB",
            p[1] / b[1],
            1.0,
            "x",
            _judge(p[1] / b[1], 1.0, p[2], b[2]),
            _peers(r, "memory"),
        )
    )
    name = "CI plan --base with the base's state restored <= 10 % of a cold build"
    if PLAN_STATE not in r.measures:
        missing(name, at, 0.10, "%", "this run did not restore a base state")
    else:
        p = r.measures[PLAN_STATE]
        out.append(
            Target(
                name,
                at,
                f"{p[0]:.2f} s vs {b[0]:.2f} s",
                p[0] / b[0],
                0.10,
                "%",
                _judge(p[0] / b[0], 0.10, p[2], b[2]),
                _peers(r),
            )
        )
    for n1, n2 in SCALING:
        k = n2 / n1
        limit = SCALING_SLACK * k
        name = f"{k:g}x the equipment: cold build time and memory <= {limit:g}x"
        at = f"{n1:,} -> {n2:,}"
        a, z = by.get(n1), by.get(n2)
        if a is None or z is None:
            absent = ", ".join(f"{n:,}" for n in (n1, n2) if n not in by)
            missing(name, at, limit, "x", f"{absent} not in SIZES")
            continue
        ba, bz = a.measures[COLD], z.measures[COLD]
        t, m = bz[0] / ba[0], bz[1] / ba[1]
        peers = [f"floor {z.peers['floor'][0] / a.peers['floor'][0]:.1f}x time"]
        if "nagios" in a.peers and "nagios" in z.peers:
            na, nz = a.peers["nagios"], z.peers["nagios"]
            peers.insert(0, f"Nagios 4 -v {nz[0] / na[0]:.1f}x time, {nz[1] / na[1]:.1f}x memory")
        out.append(
            Target(
                name,
                at,
                f"time {t:.1f}x, memory {m:.1f}x",
                max(t, m),
                limit,
                "x",
                _judge(max(t, m), limit, ba[2], bz[2]),
                "; ".join(peers),
            )
        )
    return out


def targets_table(found: list[Target]) -> list[str]:
    lines = [
        "| target | at (equipment) | measured | ratio | limit | | peers, same run |",
        "|---|---|---|---:|---:|---|---|",
    ]
    for t in found:
        lines.append("| " + " | ".join(t.cells()) + " |")
    return lines


def _table(rows: list[Row], nagios_how: str) -> str:
    cpu = platform.processor() or platform.machine()
    lines = [
        "# snavc benchmark",
        "",
        f"Machine: {os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, {platform.system()}.",
        "Ratio: the operation's wall time over the floor (PyYAML CSafeLoader parsing the same files in one",
        "process, measured in the same run). RSS: peak resident memory of the process.",
        f"Peer Nagios 4: {nagios_how}; `nagios4 -v` on the equivalent Nagios object",
        "configuration (snavc/bench/nagios.py), alternating with snavc's cold build and the floor.",
        "",
        "## Targets (issue 14)",
        "",
        *targets_table(targets(rows, nagios_how)),
        "",
    ]
    for r in rows:
        base = r.peers["floor"][0]
        lines += [
            f"## {r.n:,} equipment ({r.files:,} files, {r.mb:.1f} MB); floor {base:.2f} s",
            "",
            "| operation | wall (s) | ratio to floor | peak RSS (MiB) | exit |",
            "|---|---:|---:|---:|---:|",
        ]
        named = {"floor": "peer: floor (libyaml parse)", "nagios": "peer: nagios4 -v"}
        for name, (wall, rss, code) in [
            *r.measures.items(),
            *((named[k], v) for k, v in r.peers.items()),
        ]:
            lines.append(f"| {name} | {wall:.2f} | {wall / base:.2f} | {rss:,} | {code} |")
        lines.append("")
    if len(rows) > 1:
        lines += [
            "## Scaling",
            "",
            "| operation | "
            + " | ".join(f"{a.n:,} -> {b.n:,}" for a, b in zip(rows, rows[1:], strict=False))
            + " |",
        ]
        lines.append("|---|" + "---:|" * (len(rows) - 1))
        for name in rows[0].measures:
            ratios = [
                f"{b.measures[name][0] / a.measures[name][0]:.1f}x"
                for a, b in zip(rows, rows[1:], strict=False)
            ]
            lines.append(f"| {name} | " + " | ".join(ratios) + " |")
        for key, name in (("floor", "peer: floor"), ("nagios", "peer: nagios4 -v")):
            if all(key in r.peers for r in rows):
                ratios = [
                    f"{b.peers[key][0] / a.peers[key][0]:.1f}x"
                    for a, b in zip(rows, rows[1:], strict=False)
                ]
                lines.append(f"| {name} | " + " | ".join(ratios) + " |")
        lines.append("")
    return "\n".join(lines)
