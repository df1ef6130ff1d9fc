"""Shared pieces of the review tests: the seed sample, small edits of its files, the CLI
in-process, git in a sandbox, the report's JSON Schema and a small estate for M3.

Every edit helper fails when the text it edits is not there, so that a test whose
premise silently stops holding (the seed changed) fails instead of passing vacuously.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import textwrap
from pathlib import Path

import jsonschema
from click.testing import CliRunner, Result

from snavc.cli import cli

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "samples" / "seed"
SCHEMA_FILE = ROOT / "snavc" / "schemas" / "report.schema.json"

# the seed's files these tests edit
SITE1_EQ = "clients/client1/site1/equipment.yaml"  # srv-web-01 (François), srv-db-01
SITE2_EQ = "clients/client1/site2/equipment.yaml"  # srv-file-02 (Stéphanie's)
CLIENT1_OVERRIDE = "clients/client1/templates.yaml"  # cpu override at client1
PARTNER_TEMPLATES = "partner/templates.yaml"
USER_SERVICES = "clients/client1/user-services.yaml"


def snav(*args, exit_code: int | None = 0, cwd: Path | None = None) -> Result:
    """``snavc ARGS`` in-process, in folder ``cwd`` (default: here); checks the exit code
    (None: unchecked).

    An exception escaping a command is a bug whatever the input (the real entry point
    would print "internal error" and exit 3): it always fails the test.
    """
    with contextlib.chdir(cwd or Path.cwd()):
        result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=True)
    shown = " ".join(map(str, args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"snavc {shown} raised {result.exception!r}") from result.exception
    if exit_code is not None:
        assert result.exit_code == exit_code, (
            f"snavc {shown}: exit {result.exit_code}, expected {exit_code}\n{result.output}"
        )
    return result


def report_of(*args, exit_code: int | None = 0) -> dict:
    """The JSON report of ``snavc diff|plan ARGS --format json``."""
    return json.loads(snav(*args, "--format", "json", exit_code=exit_code).stdout)


def build(repo: Path, out: Path, *args, exit_code: int | None = 0) -> Path:
    snav("build", repo, "-o", out, *args, exit_code=exit_code)
    return out


def edit(root: Path, rel: str, old: str, new: str) -> None:
    """Replace the one occurrence of ``old`` in ``root/rel`` by ``new``."""
    path = root / rel
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{rel}: expected exactly one {old!r}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def append(root: Path, rel: str, yaml: str) -> None:
    """Add a YAML document (dedented) at the end of ``root/rel`` (created if needed)."""
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    doc = textwrap.dedent(yaml).strip() + "\n"
    path.write_text(text + ("---\n" if text.strip() else "") + doc, encoding="utf-8")


def documents(root: Path, rel: str) -> list[str]:
    """The YAML documents of a file, as text (comments above a document belong to it)."""
    text = (root / rel).read_text(encoding="utf-8")
    return [d.strip("\n") + "\n" for d in text.split("\n---\n")]


def write_documents(root: Path, rel: str, docs: list[str]) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("---\n".join(docs), encoding="utf-8")


def take_document(root: Path, rel: str, marker: str) -> str:
    """Remove from ``root/rel`` the one document holding ``marker``; return it."""
    docs = documents(root, rel)
    hits = [d for d in docs if marker in d]
    assert len(hits) == 1, f"{rel}: expected one document with {marker!r}"
    rest = [d for d in docs if d is not hits[0]]
    if rest:
        write_documents(root, rel, rest)
    else:
        (root / rel).unlink()
    return hits[0]


def change_entries(report: dict, kind: str | None = None, ident: str | None = None) -> list[dict]:
    return [
        c
        for c in report["changes"]
        if (kind is None or c["kind"] == kind) and (ident is None or c["id"] == ident)
    ]


def input_entry(report: dict, key: str) -> dict:
    found = [i for i in report["inputs"] if i["input"] == key]
    assert len(found) == 1, [i["input"] for i in report["inputs"]]
    return found[0]


def schema() -> dict:
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


def validate_report(report: dict) -> None:
    jsonschema.Draft202012Validator(schema()).validate(report)


# -- git, isolated from the user's configuration ----------------------------------------------

GIT_ENV = {
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "Review Test",
    "GIT_AUTHOR_EMAIL": "review@example.net",
    "GIT_COMMITTER_NAME": "Review Test",
    "GIT_COMMITTER_EMAIL": "review@example.net",
}


def git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(root), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_ENV},
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout


def git_init(root: Path, message: str = "base") -> Path:
    """``root`` as a git repository with everything in it committed."""
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "--no-gpg-sign", "-m", message)
    return root


# -- a small estate (M3): one managed and one resale client, no partner object in use -------

SMALL = {
    "snav.yaml": """\
        kind: Project
        name: review
        default_user: francois
        """,
    "partner.yaml": """\
        kind: Partner
        id: partner
        name: Partner
        ---
        kind: Role
        id: admin
        permissions: [configure_equipment, configure_services, create_templates]
        ---
        kind: User
        id: francois
        at: partner
        role: admin
        """,
    "c1/client.yaml": """\
        kind: Client
        id: c1
        name: Client 1
        parent: partner
        mode: managed
        crm_ref: null
        ---
        kind: Site
        id: c1-s1
        name: Client 1 Site 1
        parent: c1
        crm_ref: null
        ---
        kind: Site
        id: c1-s2
        name: Client 1 Site 2
        parent: c1
        crm_ref: null
        ---
        kind: Box
        id: box-c1
        at: c1
        """,
    "c2/client.yaml": """\
        kind: Client
        id: c2
        name: Client 2
        parent: partner
        mode: resale
        crm_ref: null
        ---
        kind: Site
        id: c2-s1
        name: Client 2 Site 1
        parent: c2
        crm_ref: null
        ---
        kind: Box
        id: box-c2
        at: c2
        """,
}


def write_files(root: Path, files: dict[str, str | None]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for rel, body in files.items():
        path = root / rel
        if body is None:
            path.unlink(missing_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(body), encoding="utf-8")
    return root


def equipment_yaml(ident: str, at: str, box: str, template: str = "linux-server") -> str:
    return f"""\
        kind: Equipment
        id: {ident}
        name: {ident}
        at: {at}
        template: {template}
        box: {box}
        """
