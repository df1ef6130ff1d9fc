"""Hostile input to the load stage (issue 10, items 1, 2, 3, 5 and 18): each case is a
repository a careless user or an attacker could hand snavc, run through ``snavc
validate`` as a user would, with the exact diagnostics it must give (code, file, line,
column, message) and exit 1. Never exit 3, never a hang, never a silent skip.

The corpus is a table of repositories written at run time: most cases are generated
(an integer of 5,000 digits, a tree 1,100 folders deep) or cannot live in git (a FIFO,
a device, a socket, a folder without permissions).

Permissions: the tests run as root, whom ``chmod 000`` does not stop. A folder snavc
cannot read is simulated twice: in-process, with ``os.scandir`` raising
``PermissionError`` for that folder (always runs), and for real, ``chmod 000`` with
snavc run as the user ``nobody`` through ``setpriv`` (as root; directly otherwise;
skipped when neither can drop the permission).
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest
from conftest import run, write_repo

import snavc.cli
import snavc.engine.load as loadmod
import snavc.engine.pipeline
from snavc.engine import faults
from snavc.engine.load import discover, load_text

E, W = "error", "warning"
BACKENDS = ["fast", "ruamel"]

INT_RANGE = (
    "integers are 64-bit, from -9,223,372,036,854,775,808 to 9,223,372,036,854,775,807; "
    "quote the value if it is text"
)
TOO_DEEP = "document is nested too deeply: more than 100 levels of mappings and lists"


def contact(field: str) -> str:
    return f"kind: Contact\nid: noc\nat: partner\nname: NOC\n{field}\n"


def override(field: str) -> str:
    return f"kind: ServiceTemplateOverride\ntemplate: ping\nat: partner\n{field}\n"


def diagnostics(repo: Path, *options: str, exit_code: int = 1) -> list[tuple]:
    out = run("validate", "--format", "json", *options, repo, exit_code=exit_code).output
    return [
        (d["severity"], d["code"], d["file"], d["line"], d["column"], d["message"])
        for d in json.loads(out)
    ]


# -- the corpus of text cases: (id, {file: text or bytes}, expected diagnostics) ----------

CORPUS = [
    # item 1: numbers past what Python converts (4,300 digits) or JSON carries (64 bits)
    (
        "integer-of-5000-digits",
        {"c.yaml": contact("email: " + "9" * 5000)},
        [
            (
                E,
                "SNV114",
                "c.yaml",
                5,
                8,
                f"integer 99999999999999999999... (5,000 characters) is out of range: {INT_RANGE}",
            )
        ],
    ),
    (
        "hex-integer-of-5000-digits",
        {"c.yaml": contact("email: 0x" + "f" * 5000)},
        [
            (
                E,
                "SNV114",
                "c.yaml",
                5,
                8,
                f"integer 0xffffffffffffffffff... (5,002 characters) is out of range: {INT_RANGE}",
            )
        ],
    ),
    (
        "octal-integer-of-5000-digits",
        {"c.yaml": contact("email: 0o" + "7" * 5000)},
        [
            (
                E,
                "SNV114",
                "c.yaml",
                5,
                8,
                f"integer 0o777777777777777777... (5,002 characters) is out of range: {INT_RANGE}",
            )
        ],
    ),
    (
        "tagged-integer-above-64-bits-in-a-list",
        {
            "c.yaml": "kind: ContactGroup\nid: g\nat: partner\nmembers: [a, !!int 0x10000000000000000]\n"
        },
        [
            (
                E,
                "SNV114",
                "c.yaml",
                4,
                14,
                f"integer 0x10000000000000000 is out of range: {INT_RANGE}",
            )
        ],
    ),
    (
        "check-interval-above-64-bits",
        {"o.yaml": override("check_interval: 18446744073709551617")},
        [
            (
                E,
                "SNV114",
                "o.yaml",
                4,
                17,
                f"integer 18446744073709551617 is out of range: {INT_RANGE}",
            )
        ],
    ),
    (
        "check-interval-of-64-bits",
        {"o.yaml": override("check_interval: 9223372036854775807")},
        [
            (
                E,
                "SNV205",
                "o.yaml",
                4,
                17,
                "invalid value 9223372036854775807 for 'check_interval' in "
                "override of 'ping' at 'partner': input should be less than or equal to 2678400",
            ),
        ],
    ),
    (
        "check-interval-of-a-month-and-a-second",
        {"o.yaml": override("check_interval: 2678401")},
        [
            (
                E,
                "SNV205",
                "o.yaml",
                4,
                17,
                "invalid value 2678401 for 'check_interval' in "
                "override of 'ping' at 'partner': input should be less than or equal to 2678400",
            ),
        ],
    ),
    (
        "criticality-of-64-bits",
        {"o.yaml": override("criticality: -9223372036854775808")},
        [
            (
                E,
                "SNV205",
                "o.yaml",
                4,
                14,
                "invalid value -9223372036854775808 for 'criticality' in "
                "override of 'ping' at 'partner': input should be greater than or equal to 1",
            ),
        ],
    ),
    (
        "availability-target-overflowing-to-infinity",
        {"o.yaml": override("availability_target: 1e999")},
        [
            (
                E,
                "SNV205",
                "o.yaml",
                4,
                22,
                "invalid value for 'availability_target' in "
                "override of 'ping' at 'partner': Input should be a finite number",
            ),
        ],
    ),
    # item 3: a NUL character where a path is expected
    (
        "nul-in-project-catalog",
        {"snav.yaml": 'kind: Project\ndefault_user: francois\ncatalog: "cat\\0x"\n'},
        [
            (
                E,
                "SNV205",
                "snav.yaml",
                3,
                10,
                "invalid value for 'catalog' in Project: a folder path cannot hold a NUL character",
            )
        ],
    ),
    # item 18: positions of SNV102 count characters, and lines broken by CR alone
    (
        "not-utf8-in-a-cr-only-file",
        {
            "c.yaml": "kind: Contact\rid: noc\rname: Éé \xff\r".encode("latin-1").replace(
                b"\xc9\xe9", "Éé".encode()
            )
        },
        [(E, "SNV102", "c.yaml", 3, 10, "file is not valid UTF-8 (byte 0xff); save it as UTF-8")],
    ),
    (
        "not-utf8-in-a-crlf-file",
        {"c.yaml": "kind: Contact\r\nid: noc\r\nname: ÉéÉ\r\n".encode() + b"at: \xfe\r\n"},
        [(E, "SNV102", "c.yaml", 4, 5, "file is not valid UTF-8 (byte 0xfe); save it as UTF-8")],
    ),
    (
        "tab-indent-in-a-cr-only-file",
        {"c.yaml": b"kind: Contact\rid: noc\r\tat: partner\r"},
        [
            (
                E,
                "SNV103",
                "c.yaml",
                3,
                1,
                "tab character in indentation: YAML indents with spaces only",
            )
        ],
    ),
    (
        "control-character-in-a-cr-only-file",
        {"c.yaml": b"kind: Contact\rid: noc\rname: \x07\r"},
        [
            (
                E,
                "SNV101",
                "c.yaml",
                3,
                7,
                "YAML syntax error: unacceptable character #x0007: special characters are not allowed",
            )
        ],
    ),
    # item 18: SNV109 at the collection that opens the level too many
    (
        "deep-block-nesting",
        {"d.yaml": "".join("  " * i + "a:\n" for i in range(1_100))},
        [(E, "SNV109", "d.yaml", 101, 201, TOO_DEEP)],
    ),
    (
        "deep-flow-nesting",
        {"d.yaml": "a: " + "[" * 10_000 + "]" * 10_000 + "\n"},
        [(E, "SNV109", "d.yaml", 1, 103, TOO_DEEP)],
    ),
    (
        "nesting-just-too-deep-for-snavc",
        {"d.yaml": "kind: Contact\nid: x\nname: " + "[" * 100 + "]" * 100 + "\n"},
        [(E, "SNV109", "d.yaml", 3, 106, TOO_DEEP)],
    ),
    # SNV107 was at the document's 1:1: at the alias now
    (
        "recursive-alias-in-a-block-mapping",
        {"c.yaml": contact("foo: &a\n  bar: *a")},
        [
            (
                E,
                "SNV107",
                "c.yaml",
                6,
                8,
                "a recursive alias (a node that contains itself) cannot be expanded",
            )
        ],
    ),
    # a second `<<` in one mapping built with exit 0, mixing both merges
    (
        "duplicate-merge-key",
        {"o.yaml": override("<<: {criticality: 2}\n<<: {criticality: 3, check_interval: 77}")},
        [
            (
                E,
                "SNV104",
                "o.yaml",
                5,
                1,
                "duplicate key '<<': a key may appear once per mapping; "
                "merge several mappings with one `<<: [*a, *b]`",
            )
        ],
    ),
]

SLOW_ON_RUAMEL = {"deep-flow-nesting"}  # ruamel's scanner takes seconds on it (not a hang)


@pytest.mark.parametrize("loader", BACKENDS)
@pytest.mark.parametrize(("case", "files", "expected"), [pytest.param(*c, id=c[0]) for c in CORPUS])
def test_hostile_text(make_repo, case, files, expected, loader):
    if loader == "ruamel" and case in SLOW_ON_RUAMEL:
        pytest.skip("ruamel's scanner takes seconds on 10,000 nested '[' (same diagnostics)")
    assert diagnostics(make_repo(files), "--loader", loader) == expected


def test_a_huge_integer_never_reaches_build(make_repo, tmp_path):
    """Item 1: an integer above 64 bits in check_interval passed validate and crashed
    build in orjson (exit 3); now build refuses it like validate, and writes nothing."""
    repo = make_repo({"o.yaml": override("check_interval: 18446744073709551617")})
    out = run("build", repo, "-o", tmp_path / "out", exit_code=1, cwd=repo).output
    assert out.startswith("o.yaml:4:17: error[SNV114] integer 18446744073709551617 is out of range")
    assert not (tmp_path / "out").exists()


def test_a_month_is_the_longest_check_interval(make_repo):
    assert (
        diagnostics(make_repo({"o.yaml": override("check_interval: 2678400")}), exit_code=0) == []
    )


def test_every_scalar_conversion_failure_is_a_diagnostic(monkeypatch):
    """Item 1: whatever Python raises converting a scalar is SNV114 at the scalar (here
    float() made to fail), not an internal error."""

    def broken_float(text):
        raise OverflowError("no such float")

    from snavc.engine import scalars  # where plain scalars are converted

    monkeypatch.setattr(loadmod, "float", broken_float, raising=False)
    monkeypatch.setattr(scalars, "float", broken_float, raising=False)
    for backend in BACKENDS:
        docs, diags = load_text("f.yaml", b"kind: Contact\nid: x\nname: 1.5\n", backend)
        assert docs == []
        assert [(d.code, d.line, d.column, d.message) for d in diags] == [
            ("SNV114", 3, 7, "cannot read '1.5': no such float")
        ]


# -- item 2: size of the input ----------------------------------------------------------


def test_documents_of_a_file_are_loaded_in_linear_time(monkeypatch):
    """Item 2: each document scanned the whole text of its file (a 100k-document file
    took over 300 s). Counted, not timed: no call made while loading a file of 2,000
    documents may work on the whole text more than a few times in all."""
    body = "".join(f"---\nkind: Contact\nid: c{i}\nname: C {i}\nat: partner\n" for i in range(2000))
    whole = len(body)
    calls = []

    def profile(frame, event, arg):
        if event == "c_call" and isinstance(getattr(arg, "__self__", None), str):
            if len(arg.__self__) >= whole:
                calls.append(arg.__name__)

    sys.setprofile(profile)
    try:
        docs, diags = load_text("many.yaml", body.encode(), "fast")
    finally:
        sys.setprofile(None)
    assert (len(docs), diags) == (2000, [])
    assert len(calls) <= 5, calls[:10]


def test_empty_documents_point_at_their_own_separator_in_a_cr_only_file():
    docs, diags = load_text("f.yaml", b"kind: Contact\rid: a\r---\r---\rkind: Contact\rid: b\r")
    assert [(d.code, d.line, d.column) for d in diags] == [("SNV105", 3, 1)]


def test_a_folder_tree_1100_levels_deep_is_walked(tmp_path):
    """Item 2: os.walk recursed once per level (RecursionError, exit 3)."""
    repo = write_repo(tmp_path / "repo", {})
    folder = repo
    for _ in range(1_100):  # one by one: mkdir(parents=True) recurses too
        folder = folder / "d"
        folder.mkdir()
    (folder / "c.yaml").write_text(contact("email: a@b.example"), encoding="utf-8")
    try:
        found, diags = discover(repo)
        assert diags == []
        deep = [p.relative_to(repo).as_posix() for p in found if p.name == "c.yaml"]
        assert [p.count("/") for p in deep] == [1100]
        assert diagnostics(repo, exit_code=0) == []
    finally:  # shutil.rmtree (and so pytest's clean-up) recurses once per level too
        (folder / "c.yaml").unlink()
        while folder != repo:
            folder.rmdir()
            folder = folder.parent


# -- item 3: what is not a regular file ---------------------------------------------------


NOT_REGULAR = "not a regular file: only regular files are read"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_a_fifo_is_refused_without_waiting(make_repo):
    """Item 3: opening a FIFO blocked until a writer came, forever. A writer is started
    here so that the old behaviour fails (empty read) instead of hanging the suite."""
    repo = make_repo()
    fifo = repo / "x.yaml"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: open(fifo, "wb").close(), daemon=True)
    writer.start()
    try:
        assert diagnostics(repo) == [
            (E, "SNV115", "x.yaml", 1, 1, f"file is a named pipe (FIFO), {NOT_REGULAR}")
        ]
    finally:
        os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))  # lets the writer go
        writer.join(5)


def test_a_socket_is_refused(make_repo):
    repo = make_repo()
    path = repo / "s.yaml"
    if len(str(path)) > 100:
        pytest.skip("path too long for a Unix socket")
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(path))
        assert diagnostics(repo) == [
            (E, "SNV115", "s.yaml", 1, 1, f"file is a socket, {NOT_REGULAR}")
        ]
    finally:
        server.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="creating a device node needs root")
def test_a_character_device_is_refused_unread(make_repo):
    """Item 3: a /dev/zero node named x.yaml was read until memory ran out. The node
    made here is /dev/null's (1, 3): were it read, the test fails without eating the
    memory of the machine."""
    repo = make_repo()
    os.mknod(repo / "x.yaml", 0o644 | stat.S_IFCHR, os.makedev(1, 3))
    os.symlink("x.yaml", repo / "link.yaml")
    assert diagnostics(repo) == [
        (E, "SNV115", "link.yaml", 1, 1, f"file is a character device, {NOT_REGULAR}"),
        (E, "SNV115", "x.yaml", 1, 1, f"file is a character device, {NOT_REGULAR}"),
    ]


def test_a_file_growing_past_the_limit_while_read_is_refused(tmp_path, monkeypatch):
    """The size is checked before reading and what is read is capped: a file that grows
    after it was measured is not read past the limit."""
    monkeypatch.setattr(loadmod, "MAX_FILE_BYTES", 10)
    path = tmp_path / "f.yaml"
    path.write_bytes(b"a: 1\n")
    real_fstat = os.fstat

    def grown(fd):  # the file grows once open, after the size was measured
        measured = list(real_fstat(fd))
        path.write_bytes(b"a: 1\n" * 100)
        return os.stat_result(measured)

    monkeypatch.setattr(loadmod.os, "fstat", grown)
    docs, diags = loadmod.load_file(path, "f.yaml")
    assert [(d.code, d.line, d.column, d.message) for d in diags] == [
        (
            "SNV108",
            1,
            1,
            "file is over the 10-byte limit: split it into several files",
        )
    ]


OUT_OF_MEMORY = (
    "snavc: out of memory: the machine ran out of memory for this repository; run snavc "
    "with more memory (this is not an error in the configuration)\n"
)


def test_out_of_memory_is_a_resource_error_not_a_bug(make_repo):
    """Item 3: MemoryError was "internal error ... please report" (exit 3). snavc
    stops at once (os._exit): run in a process of its own."""
    script = (
        "import sys, snavc.engine.pipeline, snavc.cli\n"
        "def no_memory(*args, **kwargs):\n"
        "    raise MemoryError\n"
        "snavc.engine.pipeline._check = no_memory\n"
        "sys.argv = ['snavc', 'validate', sys.argv[1]]\n"
        "snavc.cli.main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(make_repo())],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(Path(snavc.cli.__file__).parents[1])},
    )
    assert (done.returncode, done.stdout, done.stderr) == (4, "", OUT_OF_MEMORY)


def test_a_loading_child_that_dies_does_not_hang_the_run(tmp_path, monkeypatch):
    """Out of memory in the forked loader (here: killed) made ``Pool.get`` wait
    forever; the parent now reads the child's files itself."""
    monkeypatch.setattr(loadmod, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(loadmod.os, "cpu_count", lambda: 2)
    for name in "abcd":
        (tmp_path / f"{name}.yaml").write_text(contact(f"email: {name}"), encoding="utf-8")
    monkeypatch.setattr(loadmod, "_load_chunk_marshalled", lambda *a: os._exit(9))
    docs, diags = loadmod.load_files(tmp_path, sorted(tmp_path.glob("*.yaml")))
    assert ([d.file for d in docs], diags) == ([f"{n}.yaml" for n in "abcd"], [])


def test_a_file_name_that_is_not_utf8_is_refused(make_repo, tmp_path):
    """A name with a byte that is not UTF-8 reached origins.json and crashed build
    (UnicodeEncodeError, exit 3); it is refused at discovery, the file unread."""
    repo = make_repo()
    with open(os.path.join(os.fsencode(repo), b"\xff-x.yaml"), "wb") as f:
        f.write(contact("email: a@b.example").encode())
    message = "file name is not valid UTF-8: rename it (snavc's outputs name files in UTF-8)"
    assert diagnostics(repo) == [(E, "SNV102", "\ufffd-x.yaml", 1, 1, message)]
    out = run("build", repo, "-o", tmp_path / "out", exit_code=1, cwd=repo).output
    assert out.startswith("\ufffd-x.yaml:1:1: error[SNV102] file name is not valid UTF-8")


# -- item 5: what cannot be read --------------------------------------------------------


def test_an_unreadable_folder_is_an_error_simulated(make_repo, monkeypatch):
    """Item 5, in-process: ``os.scandir`` refuses one folder as a permission would."""
    repo = make_repo({"clients/locked/c.yaml": contact("email: a@b.example")})
    locked = str(repo / "clients" / "locked")
    real = os.scandir

    def scandir(path="."):
        if os.fspath(path) == locked:
            raise PermissionError(13, "Permission denied", locked)
        return real(path)

    monkeypatch.setattr(loadmod.os, "scandir", scandir)
    assert diagnostics(repo) == [
        (
            E,
            "SNV111",
            "clients/locked",
            None,
            None,
            "cannot read folder: Permission denied; the files in it are not loaded",
        )
    ]


def _as_unprivileged() -> list[str] | None:
    """The command prefix that runs snavc without the power to read a chmod 000 folder."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        return None
    if setpriv is None:
        return None
    return [setpriv, f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups"]


@pytest.mark.skipif(_as_unprivileged() is None, reason="cannot drop root's permissions here")
def test_an_unreadable_folder_and_file_for_real():
    """Item 5, for real: ``chmod 000`` on a folder and a file, snavc run as ``nobody``.
    Before, the folder's files vanished and validate said "no problems found"."""
    prefix = _as_unprivileged()
    top = Path(tempfile.mkdtemp(prefix="snavc-perm-"))
    try:
        repo = write_repo(
            top / "repo",
            {
                "clients/locked/c.yaml": contact("email: a@b.example"),
                "secret.yaml": contact("email: x"),
            },
        )
        for path in [top, *top.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        (repo / "clients" / "locked").chmod(0)
        (repo / "secret.yaml").chmod(0)
        if not prefix and os.access(repo / "secret.yaml", os.R_OK):
            pytest.skip("permissions are not enforced for this user")
        done = subprocess.run(
            [*prefix, sys.executable, "-m", "snavc", "validate", "--format", "json", str(repo)],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=top,  # not the worktree: `python -m` imports from the current folder first
            env={**os.environ, "PYTHONPATH": str(Path(snavc.cli.__file__).parents[1])},
        )
        assert done.returncode == 1, done.stderr
        got = [
            (d["code"], d["file"], d["line"], d["column"], d["message"])
            for d in json.loads(done.stdout)
        ]
        assert got == [
            (
                "SNV111",
                "clients/locked",
                None,
                None,
                "cannot read folder: Permission denied; the files in it are not loaded",
            ),
            ("SNV111", "secret.yaml", 1, 1, "cannot read file: Permission denied"),
        ]
    finally:
        for path in [top, *top.rglob("*")]:
            if not path.is_symlink():
                path.chmod(0o755)
        shutil.rmtree(top)


# -- item 18: positions of whole-file diagnostics ---------------------------------------


def test_whole_file_problems_are_at_line_1_column_1(make_repo, tmp_path):
    """A problem with a file as a whole points at its 1:1 (as SNV110 did); one about a
    folder has no position, for none exists."""
    outside = tmp_path / "outside"
    (outside / "dir").mkdir(parents=True)
    (outside / "o.yaml").write_text(contact("email: secret"), encoding="utf-8")
    repo = make_repo({"empty.yaml": "# nothing yet\n"})
    (repo / "out.yaml").symlink_to(outside / "o.yaml")
    (repo / "out-dir").symlink_to(outside / "dir")
    (repo / "gone.yaml").symlink_to(repo / "nowhere.yaml")
    linked = "symbolic link points outside the repository; not followed"
    assert diagnostics(repo) == [  # the load error first (a root cause), then by path
        (E, "SNV111", "gone.yaml", 1, 1, "cannot read file: No such file or directory"),
        (W, "SNV110", "empty.yaml", 1, 1, "file holds no YAML document"),
        (W, "SNV113", "out-dir", None, None, linked),
        (W, "SNV113", "out.yaml", 1, 1, linked),
    ]
    # the text output never prints a line of the file outside the repository
    text = run("validate", repo, exit_code=1, cwd=repo).output
    assert "secret" not in text
    assert "out.yaml:1:1: warning[SNV113]" in text


def test_a_file_over_the_limit_is_at_line_1_column_1(make_repo, monkeypatch):
    monkeypatch.setattr(loadmod, "MAX_FILE_BYTES", 100_000)
    repo = make_repo({"big.yaml": "# padding\n" * 20_000})
    assert diagnostics(repo) == [
        (
            E,
            "SNV108",
            "big.yaml",
            1,
            1,
            "file is 200,000 bytes, over the 100,000-byte limit: split it into several files",
        )
    ]


# -- directives: a %YAML version snavc does not read ------------------------------------


@pytest.mark.parametrize("version", ["1.0", "1.3", "1.9"])
def test_a_yaml_version_snavc_does_not_read_is_a_diagnostic_in_every_command(
    make_repo, tmp_path, version
):
    """``%YAML 1.3`` (any 1.x but 1.1 and 1.2) crashed every command inside ruamel.yaml
    (exit 3, an AssertionError); it is refused as libyaml refuses it (and as %YAML 2.0
    was): SNV101 at the directive, exit 1, with either loader and in every command."""
    repo = make_repo({"snav.yaml": f"%YAML {version}\n---\nkind: Project\nname: x\n"})
    message = (
        f"YAML syntax error: found incompatible YAML document (version {version}: "
        "snavc reads 1.1 and 1.2; write %YAML 1.2 or remove the directive)"
    )
    for loader in BACKENDS:
        assert (E, "SNV101", "snav.yaml", 1, 1, message) in diagnostics(repo, "--loader", loader)
    shown = f"snav.yaml:1:1: error[SNV101] {message}"
    commands = [
        ("build", repo, "-o", tmp_path / "out"),
        ("explain", repo, "admin"),
        ("query", "selectable", repo, "--as", "admin", "--at", "partner", "--kind", "box"),
    ]
    for args in commands:
        assert shown in run(*args, exit_code=1, cwd=repo).output, args[0]
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.net"}
    env |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.net"}
    for git in (["init", "-q"], ["add", "-A"], ["commit", "-q", "--no-gpg-sign", "-m", "x"]):
        subprocess.run(["git", "-C", str(repo), *git], env=env, check=True, capture_output=True)
    try:
        plan = run("plan", repo, "--base", "HEAD", exit_code=1, cwd=repo).output
    finally:
        faults.wait_removals()  # plan's scratch folders, removed by a detached rm
    assert shown in plan  # (plan prints file:line:column too)


def test_a_link_that_loops_is_a_file_at_line_1_column_1(make_repo):
    """A ``*.yaml`` link to itself was "cannot read folder", with no line or column (null
    in JSON, no region in SARIF): it is an unreadable file, at 1:1 as a broken link."""
    repo = make_repo({})
    (repo / "self.yaml").symlink_to("self.yaml")
    message = "cannot read file: Too many levels of symbolic links"
    assert diagnostics(repo) == [(E, "SNV111", "self.yaml", 1, 1, message)]
    sarif = json.loads(run("validate", "--format", "sarif", repo, exit_code=1).output)
    (result,) = sarif["runs"][0]["results"]
    assert result["locations"][0]["physicalLocation"]["region"] == {
        "startLine": 1,
        "startColumn": 1,
    }
