"""The command line: thin click commands over the library (snavc.pipeline).

Commands gather options, make one library call, and print. Exit codes (INTERFACE §2):
0 success, 1 validation errors, 2 usage errors (click's own, a missing repository, an
unknown user/node/object). Unexpected failures print one line, never a traceback,
unless SNAVC_DEBUG is set.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path

import click

from . import diagnostics as dg
from . import load as loadmod
from .pipeline import SHIPPED_CATALOG, SHIPPED_PREFIX, check

FORMATS = ("text", "json", "github")


def repo_argument(f):
    return click.argument(
        "repo",
        default=".",
        type=click.Path(exists=True, file_okay=False, dir_okay=True, path_type=Path),
    )(f)


def format_option(*choices):
    def deco(f):
        return click.option(
            "--format",
            "fmt",
            type=click.Choice(choices),
            default=choices[0],
            show_default=True,
            help="Output format: "
            + ", ".join(
                {
                    "text": "text (compiler-style, with source excerpts)",
                    "json": "json (machine-readable, INTERFACE §2)",
                    "github": "github (GitHub Actions annotations)",
                    "yaml": "yaml (the catalogue's source)",
                }[c]
                for c in choices
            )
            + ".",
        )(f)

    return deco


def backend_option(f):
    return click.option(
        "--loader",
        type=click.Choice(["fast", "ruamel"]),
        default="fast",
        show_default=True,
        help="YAML parser: libyaml (fast) or ruamel.yaml (reference); same results.",
    )(f)


def _source(repo: Path):
    @functools.lru_cache(maxsize=64)
    def lines(rel: str):
        if rel.startswith(SHIPPED_PREFIX + "/"):
            return loadmod.read_lines(SHIPPED_CATALOG, rel[len(SHIPPED_PREFIX) + 1 :])
        return loadmod.read_lines(repo, rel)

    return lines


def emit_diagnostics(diags, fmt: str, repo: Path) -> None:
    if fmt == "json":
        click.echo(dg.render_json(diags), nl=False)
    elif fmt == "github":
        click.echo(dg.render_github(diags), nl=False)
    else:
        click.echo(dg.render_text(diags, _source(repo)), nl=False)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="snavc", prog_name="snavc")
def cli():
    """snavc: compile a ServiceNav configuration repository.

    A repository is a folder of YAML files describing partners, clients, sites, boxes,
    users, contacts, groups, time periods, templates, overrides, equipment and user
    services. snavc checks it, and reports every problem at its file:line:column with
    the rule it breaks.

    \b
    Exit codes: 0 success; 1 errors found; 2 usage error.
    Docs: docs/ in the project (input language, rules, diagnostics).
    """


@cli.command()
@repo_argument
@format_option("text", "json", "github")
@backend_option
def validate(repo: Path, fmt: str, loader: str):
    """Check every file of REPO (default: the current folder).

    Loads every *.yaml/*.yml below REPO (hidden folders and build outputs skipped),
    validates each document, links the tree and reports every error and warning,
    sorted by file and line.

    \b
    Examples:
      snavc validate samples/seed
      snavc validate --format json . > diagnostics.json
      snavc validate --format github .     # annotations in a GitHub Actions job
    """
    result = check(repo, backend=loader)
    emit_diagnostics(result.diagnostics, fmt, repo)
    sys.exit(0 if result.ok else 1)


@cli.command()
@repo_argument
@format_option("text", "yaml", "json")
def catalog(repo: Path, fmt: str):
    """Print the product catalogue REPO uses (the shipped one unless Project.catalog).

    The catalogue holds the product's time periods and their defaults, service
    templates, equipment templates and built-in roles, all "at the product".
    """
    from .pipeline import load_catalog, load_settings, project_of
    from .validate import validate as validate_docs

    result_diags: list = []
    _, settings = load_settings(repo.resolve(), result_diags)
    docs, folder = load_catalog(repo.resolve(), project_of(settings), result_diags, "fast")
    objs = validate_docs(docs, catalog=True)
    result_diags += objs.diagnostics
    if dg.has_errors(result_diags):
        emit_diagnostics(dg.sort(result_diags), "text", repo)
        sys.exit(1)
    if fmt == "yaml":
        files = sorted(folder.rglob("*.y*ml")) if folder else sorted(SHIPPED_CATALOG.glob("*.yaml"))
        click.echo("\n---\n".join(p.read_text(encoding="utf-8").strip() for p in files))
        return
    rows = [o.model_dump(exclude_none=True) for o in objs.objects]
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2, sort_keys=True, ensure_ascii=False))
        return
    by_kind: dict[str, list] = {}
    for o in objs.objects:
        by_kind.setdefault(o.kind, []).append(o)
    for kind, items in by_kind.items():
        click.echo(f"{kind} ({len(items)})")
        for o in sorted(items, key=lambda o: o.id):
            click.echo(f"  {o.id:<22} {_catalog_line(o)}")


def _catalog_line(o) -> str:
    if o.kind == "TimePeriod":
        default = f"  default for {', '.join(o.default_for)}" if o.default_for else ""
        return f"{len(o.ranges)} days{default}"
    if o.kind == "ServiceTemplate":
        return (
            f"criticality {o.criticality}, target {o.availability_target}%, every {o.check_interval}s, "
            f"check {o.check_period}, availability {o.availability_period}"
        )
    if o.kind == "EquipmentTemplate":
        return ", ".join(o.services or [])
    if o.kind == "Role":
        return ", ".join(o.permissions) or "(no permission)"
    return ""


@cli.command()
@click.option(
    "-o",
    "--output",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("schemas"),
    show_default=True,
    help="Folder to write the schemas into (created if needed).",
)
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if the folder is not up to date.")
def schema(out: Path, check: bool):
    """Write the JSON Schemas of the input language, for editors.

    One schema per kind (Equipment.json...) and snavc.json for any document. Point
    yaml-language-server at it with a first line in each YAML file:

    \b
      # yaml-language-server: $schema=../schemas/snavc.json
    """
    from .schema import dumps, schemas

    stale = []
    for name, body in schemas().items():
        path = out / name
        text = dumps(body)
        if check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
            continue
        out.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    if check:
        if stale:
            click.echo(f"stale schemas in {out}: {', '.join(stale)}; run `snavc schema -o {out}`", err=True)
            sys.exit(1)
        click.echo(f"{out} is up to date")
    else:
        click.echo(f"wrote {len(schemas())} schemas to {out}")


def main() -> None:
    try:
        cli(standalone_mode=True)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as e:  # a bug in snavc, not bad input: say so in one line
        if os.environ.get("SNAVC_DEBUG"):
            raise
        click.echo(
            f"snavc: internal error: {type(e).__name__}: {e} (set SNAVC_DEBUG=1 for details; please report)",
            err=True,
        )
        sys.exit(3)
