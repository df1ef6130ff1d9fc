"""Fixtures of the bridge tests: fabricated exports, imported and built once per language.

``estate(lang)`` gives ``(exports folder, repository, build)`` of a fabricated export of
450 hosts (about 2,600 unit services) in English or French, imported and built once per
test session; tests that edit copy the repository first (:func:`copy_repo`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from snavc.bench.servicenav import write_exports
from snavc.cli import cli

HOSTS = 450


def run(*args, exit_code: int | None = 0):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    if exit_code is not None:
        assert result.exit_code == exit_code, result.output
    return result


@pytest.fixture(scope="session")
def estates(tmp_path_factory):
    made: dict[str, tuple[Path, Path, Path]] = {}

    def get(lang: str) -> tuple[Path, Path, Path]:
        if lang not in made:
            root = tmp_path_factory.mktemp(f"estate-{lang}")
            write_exports(root / "exports", HOSTS, lang)
            repo, build = root / "repo", root / "build"
            run("import", root / "exports/hosts.csv", root / "exports/services.csv", "-o", repo)
            run("build", repo, "-o", build)
            made[lang] = (root / "exports", repo, build)
        return made[lang]

    return get


def copy_repo(repo: Path, to: Path) -> Path:
    shutil.copytree(repo, to, ignore=shutil.ignore_patterns(".snavc"))
    return to


def edit_object(repo: Path, marker: str, old: str, new: str) -> Path:
    """In the YAML document holding ``marker`` (e.g. ``servicenav_id: "20005"``), replace
    the first ``old`` after it by ``new``; returns the file."""
    for path in sorted(repo.rglob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        at = text.find(marker)
        if at < 0:
            continue
        where = text.index(old, at)
        path.write_text(text[:where] + new + text[where + len(old) :], encoding="utf-8")
        return path
    raise AssertionError(f"{marker} in no file")


def cut_equipment(repo, sid: str) -> tuple[str, str]:
    """Remove the equipment of ServiceNav ID ``sid`` from its file; its ID and text."""
    for path in sorted(repo.rglob("equipment.yaml")):
        text = path.read_text(encoding="utf-8")
        at = text.find(f'servicenav_id: "{sid}"')
        if at < 0:
            continue
        start = text.rfind("---\n", 0, at)
        start = 0 if start < 0 else start + 4
        end = text.find("---\n", at)
        end = len(text) if end < 0 else end + 4
        doc = text[start:end]
        rest = (text[:start] + text[end:]).rstrip("-\n") + "\n"
        path.write_text(rest if rest.strip() else "", encoding="utf-8")
        return doc.split("\nid: ", 1)[1].split("\n", 1)[0], doc
    raise AssertionError(sid)


def leaf_host(hosts_csv: Path) -> str:
    """The ID of a host no other host has as parent (so that it can go)."""
    import csv
    import io

    text = hosts_csv.read_bytes().decode("utf-8-sig")
    rows = list(
        csv.reader(
            io.StringIO(text, newline=""), delimiter=";" if text.startswith('"ID";') else ","
        )
    )
    col = next(
        i for i, h in enumerate(rows[0]) if h in ("Parent host IDs", "ID des équipements parents")
    )
    parents = {p for r in rows[1:] for p in r[col].split(",") if p}
    return next(r[0] for r in rows[30:] if r[0] not in parents)


SMALL_HOSTS = (
    "ID,Name,IP address or DNS name,Company Name,Company ID,Parent company name,"
    "Parent company ID,Collector name,Collector ID,Criticality,Target availability rate,"
    "Check interval (min),Parent host IDs\n"
    "1,web,10.0.0.1,Shop,7,Partner,1,Box,8,3,99.5,5,\n"
    "2,db,10.0.0.2,Shop,7,Partner,1,Box,8,,,,1\n"
)
SMALL_SERVICES = (
    "ID,Name,Host ID,Service template,Service template ID,Criticality,Check interval (min)\n"
    "101,CPU,1,CPU check,80,3,5\n"
    "102,CPU,2,CPU check,80,4,5\n"
)


def small_estate(folder: Path, hosts: str = SMALL_HOSTS, services: str | None = SMALL_SERVICES):
    """A tiny export written to ``folder``, imported and built: ``(hosts.csv,
    services.csv or None, repository, build)``."""
    folder.mkdir(parents=True, exist_ok=True)
    h = folder / "hosts.csv"
    h.write_text(hosts, encoding="utf-8", newline="")
    s = None
    if services is not None:
        s = folder / "services.csv"
        s.write_text(services, encoding="utf-8", newline="")
    repo, build = folder / "repo", folder / "build"
    run("import", h, *([s] if s else []), "-o", repo)
    run("build", repo, "-o", build)
    return h, s, repo, build
