"""The command line: thin click commands over the library (snavc.engine.pipeline).

Commands gather options, make one library call, and print. Exit codes (INTERFACE §2):
0 success, 1 validation errors, 2 usage errors (click's own, a missing repository, an
unknown user/node/object). Unexpected failures print one line, never a traceback,
unless SNAVC_DEBUG is set.
"""

from __future__ import annotations

import functools
import gc
import json
import os
import sys
from pathlib import Path

import click

from . import diagnostics as dg
from . import progress
from .names import ACTIONS, KIND_NAMES

# The stages are imported by the commands that run them, not here: `snavc --help`, a
# usage error or a query need not wait for pydantic, the models and the rules engine,
# nor for the diff, the report and the bridge (docs/performance.md, "Start-up";
# tests/test_startup.py keeps it so).

FORMATS = ("text", "json", "github", "sarif", "codequality")
# the formats that carry diagnostics only, for code hosts (``plan`` takes them too)
ANNOTATIONS = ("github", "sarif", "codequality")

FORMAT_HELP = {
    "text": "text (for people)",
    "json": "json (machine-readable, INTERFACE §2)",
    "github": "github (GitHub Actions annotations)",
    "sarif": "sarif (SARIF 2.1.0, for GitHub code scanning)",
    "codequality": "codequality (GitLab Code Quality report)",
    "yaml": "yaml (the catalogue's source)",
}


def _root(_ctx, _param, value: Path) -> Path:
    # a folder inside the estate means the estate: the nearest snav.yaml above it
    from .engine.pipeline import find_root

    return find_root(value)


def repo_argument(f):
    return click.argument(
        "repo",
        default=".",
        type=click.Path(exists=True, file_okay=False, dir_okay=True, path_type=Path),
        callback=_root,
    )(f)


def format_option(*choices):
    def deco(f):
        return click.option(
            "--format",
            "fmt",
            type=click.Choice(choices),
            default=choices[0],
            show_default=True,
            help="Output format: " + ", ".join(FORMAT_HELP[c] for c in choices) + ".",
        )(f)

    return deco


def backend_option(f):
    return click.option(
        "--loader",
        type=click.Choice(["fast", "ruamel"]),
        default="fast",
        show_default=True,
        help="YAML parser: snavc's line scanner, else libyaml (fast), or ruamel.yaml (reference); same results.",
    )(f)


def _source(repo: Path):
    from .engine import load as loadmod
    from .engine.pipeline import SHIPPED_CATALOG, SHIPPED_PREFIX

    @functools.lru_cache(maxsize=64)
    def lines(rel: str):
        if rel.startswith(SHIPPED_PREFIX + "/"):
            return loadmod.read_lines(SHIPPED_CATALOG, rel[len(SHIPPED_PREFIX) + 1 :])
        return loadmod.read_lines(repo, rel)

    return lines


def colour_wanted(stream=None) -> bool:
    """Colour on a terminal, unless NO_COLOR is set (no-color.org) or TERM=dumb."""
    stream = stream or sys.stdout
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        return False
    return tty and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def render_diagnostics(diags, fmt: str, repo: Path, err: bool = False) -> str:
    """``diags`` in format ``fmt``; paths as the reader needs them (snavc.review.formats)."""
    from .review.formats import Paths, render_codequality, render_sarif

    paths = Paths.of(repo)
    if fmt == "json":
        return dg.render_json(diags)
    if fmt == "github":
        return dg.render_github(diags, path=paths.checkout)
    if fmt == "sarif":
        from importlib.metadata import PackageNotFoundError, version

        try:
            ours = version("snavc")
        except PackageNotFoundError:
            ours = ""
        return render_sarif(diags, paths.checkout, ours)
    if fmt == "codequality":
        return render_codequality(diags, paths.checkout)
    colour = colour_wanted(sys.stderr if err else sys.stdout)
    return dg.render_text(diags, _source(repo), paths.text, colour)


def emit_diagnostics(diags, fmt: str, repo: Path) -> None:
    progress.stop()
    click.echo(render_diagnostics(diags, fmt, repo), nl=False)


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
@format_option(*FORMATS)
@backend_option
def validate(repo: Path, fmt: str, loader: str):
    """Check every file of REPO (default: the current folder) against every rule.

    Loads every *.yaml/*.yml below REPO (hidden folders, build outputs and the
    `exclude:` patterns of snav.yaml skipped), validates each document, links the tree,
    runs every rule of the rules engine and reports every error and warning, sorted by
    file and line. A REPO without snav.yaml inside an estate that has one (above it)
    means that estate. After a build, only what changed since is checked again (the
    build's state in REPO/.snavc): the same diagnostics in a fraction of the time.

    \b
    Examples:
      snavc validate samples/seed
      snavc validate --format json . > diagnostics.json
      snavc validate --format github .     # annotations in a GitHub Actions job
      snavc validate --format sarif . > snavc.sarif        # GitHub code scanning
      snavc validate --format codequality . > gl-code-quality.json   # GitLab
    """
    from .engine.pipeline import validate_repo

    result = validate_repo(repo, backend=loader)
    emit_diagnostics(result.diagnostics, fmt, repo)
    sys.exit(0 if result.ok else 1)


def _compiled(repo: Path, loader: str = "fast"):
    """Compile for a query: from the snapshot cache when the repository has not changed
    since a clean run; after an edit, checked from the last build's state first (which
    leaves the snapshot); else in full. Errors get their diagnostics and exit 1."""
    from .engine.pipeline import check_warm, compile_repo, quick_compile

    quick = quick_compile(repo, loader)
    if quick is not None:
        return quick
    # after an edit: checked from the last build's state, which leaves the snapshot
    checked = check_warm(repo, loader)
    if checked is not None and checked.status == "checked":
        quick = quick_compile(repo, loader)
        if quick is not None:
            return quick
    if checked is not None and checked.status == "errors":  # (a cold compile's errors)
        result, res = checked.result, None
    else:
        result, res = compile_repo(repo, backend=loader)
    if not result.ok or res is None:
        errors = [d for d in result.diagnostics if d.severity == "error"]
        progress.stop()
        click.echo(render_diagnostics(errors, "text", repo, err=True), nl=False, err=True)
        click.echo(f"snavc: {repo} has errors; fix them first (snavc validate)", err=True)
        sys.exit(1)
    progress.stop()
    return result, res


def _usage(message: str, detailed: bool = False):
    """A usage error: exit 2, or 1 under --detailed-exitcode, where 2 means "changes"."""
    progress.stop()
    click.echo(f"Error: {dg.clean_text(message)}", err=True)
    sys.exit(1 if detailed else 2)


@cli.command()
@repo_argument
@click.option(
    "-o",
    "--output",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder; replaced atomically, only if it is a previous snavc build or empty.",
)
@click.option(
    "--reapply",
    "reapply",
    multiple=True,
    metavar="TEMPLATE",
    help="Give the unit services of service template TEMPLATE its current values again, "
    "instead of those locked at their creation (T5). Repeatable.",
)
@click.option(
    "--locked",
    is_flag=True,
    help="Fail (exit 1, nothing written) if snav.lock would change: for CI.",
)
@format_option(*FORMATS)
@backend_option
def build(repo: Path, out: Path, reapply: tuple[str, ...], locked: bool, fmt: str, loader: str):
    """Validate REPO, then write its effective configuration to OUT/.

    Writes OUT/effective.json (every node with its default periods, every equipment
    with its unit services, every user service), OUT/origins.json (the node, file and
    line behind each resolved value, for explain and diff) and OUT/diagnostics.json. Deterministic: same input, same bytes. Atomic: when the
    build fails, an existing OUT is left untouched.

    Also writes REPO/snav.lock (rule T5): the template values each unit service was
    created with. Commit it: a later change of a template reaches new services only,
    unless --reapply TEMPLATE.

    A build leaves its state in REPO/.snavc/ (a cache: safe to delete, never stale).
    When few files changed since, the next build re-resolves only what the edit
    reaches and patches the previous output: the same bytes as a full build, in a
    fraction of its time, and "(incremental)" after its summary. An edit into an
    error is reported as fast, with the diagnostics of a full build (nothing written).
    SNAVC_NO_CACHE=1 always builds in full.

    \b
    Examples:
      snavc build samples/seed -o build/
      snavc build . -o build/ --locked          # in CI: the lock must be committed
      snavc build . -o build/ --reapply cpu     # apply cpu's new values everywhere
    """
    from .engine.emit import OutputBusy, OutputError
    from .engine.pipeline import build as run_build
    from .resolve.lock import LOCK_FILE

    try:
        built = run_build(repo, out, loader, reapply, locked)
    except OutputBusy as e:
        click.echo(f"snavc: {dg.clean_text(str(e))}", err=True)
        sys.exit(1)
    except OutputError as e:
        _usage(str(e))
    except OSError as e:
        where = dg.clean_text(str(e.filename or out))
        click.echo(f"snavc: cannot write {where}: {e.strerror}", err=True)
        sys.exit(1)
    result, res = built.result, built.resolution
    if built.status == "reapply":
        _usage(f"--reapply: no service template {', '.join(repr(t) for t in built.unknown)}")
    if built.status == "errors":
        emit_diagnostics(result.diagnostics, fmt, repo)
        sys.exit(1)
    if built.status == "lock":
        stats = res.lock.stats.values()
        new = sum(s["new"] + s["reapplied"] for s in stats)
        d = dg.error(
            "SNV423",
            f"{LOCK_FILE} is out of date ({new} unit services new or re-applied, or services removed): "
            f"run `snavc build` without --locked and commit {LOCK_FILE}",
            dg.Location(LOCK_FILE),
            rule="T5",
        )
        emit_diagnostics([d], fmt, repo)
        sys.exit(1)
    if result.diagnostics or fmt in ("sarif", "codequality"):  # (a log, even empty)
        emit_diagnostics(result.diagnostics, fmt, repo)
    progress.stop()
    if fmt == "text":
        n_eq, n_units, n_us = built.counts
        click.echo(
            f"built {n_eq} equipment, {n_units} unit services, {n_us} user services into {out}/"
            + (" (incremental)" if built.incremental else "")
        )


@cli.group()
def query():
    """Ask what a user may select, list or edit (the build's own rules answer)."""


def _query_options(f):
    f = click.option("--as", "as_user", required=True, help="The user asking (a User ID).")(f)
    return f


@query.command("selectable")
@repo_argument
@_query_options
@click.option("--at", "at", required=True, help="The selected node (partner, client or site ID).")
@click.option(
    "--kind", "kind", required=True, type=click.Choice(sorted(KIND_NAMES)), help="What to select."
)
@click.option(
    "--action",
    type=click.Choice(sorted(ACTIONS)),
    default="equipment",
    show_default=True,
    help="What the user is doing; sets the permission V1 checks.",
)
@format_option("text", "json")
def query_selectable(repo, as_user, at, kind, action, fmt):
    """What USER can select at NODE (rules V1-V7, C1, P1, P8, T1, T8, B1-B4).

    Exits 1 when the user may not configure at NODE (V1), 2 for an unknown user, node
    or kind.

    \b
    Example:
      snavc query selectable samples/seed --as stephanie --at client1-site2 --kind box
    """
    from .query import QueryError, Refused, selectable

    _, res = _compiled(repo)
    try:
        items = selectable(res, as_user, at, kind, action)
    except QueryError as e:
        _usage(str(e))
    except Refused as e:
        _refused(str(e), fmt)
    _print_items(items, fmt)


def _refused(message: str, fmt: str):
    if fmt == "json":
        click.echo(json.dumps({"refused": True, "message": message}, indent=2, ensure_ascii=False))
    else:
        click.echo(f"refused: {dg.clean_text(message)}", err=True)
    sys.exit(1)


def _print_items(items: list[dict], fmt: str) -> None:
    if fmt == "json":
        click.echo(json.dumps(items, indent=2, sort_keys=True, ensure_ascii=False))
        return
    if not items:
        click.echo("(nothing)")
        return
    extra = [
        k
        for k in ("type", "section", "default_for", "shared", "enabled", "selectable")
        if any(k in i for i in items)
    ]
    cols = ["id", "defined_at", "editor", *extra]
    rows = [[_cell(i.get(c)) for c in cols] for i in items]
    widths = [max(len(c), *(len(r[n]) for r in rows)) for n, c in enumerate(cols)]
    click.echo("  ".join(c.upper().ljust(w) for c, w in zip(cols, widths, strict=False)).rstrip())
    for r in rows:
        click.echo("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=False)).rstrip())


def _cell(v) -> str:
    # a cell may come from any partner's YAML (a client's name): escaped (issue 10 item 17)
    if isinstance(v, list):
        return dg.clean_text(",".join(map(str, v))) or "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    return "-" if v is None else dg.clean_text(str(v))


@query.command("list")
@repo_argument
@click.option(
    "--as", "as_user", default=None, help="The user looking (default: the project's default_user)."
)
@click.option("--at", "at", required=True, help="The selected node.")
@click.option(
    "--kind", "kind", required=True, type=click.Choice(sorted(KIND_NAMES)), help="What to list."
)
@click.option(
    "--with-subordinates",
    is_flag=True,
    help="Also list objects defined below NODE («Comptes et subordonnés», V5); never selectable.",
)
@click.option(
    "--action",
    type=click.Choice(sorted(ACTIONS)),
    default="equipment",
    show_default=True,
    help="What the user would be doing; without its permission nothing is selectable.",
)
@format_option("text", "json")
def query_list(repo, as_user, at, kind, with_subordinates, action, fmt):
    """The list view at NODE: what `selectable` gives, disabled contacts included and
    marked, plus with --with-subordinates what is defined below NODE (rule V5)."""
    from .query import QueryError, Refused, list_view

    result, res = _compiled(repo)
    as_user = as_user or res.tree.project.default_user
    if as_user is None:
        _usage("no user: pass --as USER or set default_user in snav.yaml")
    try:
        items = list_view(res, as_user, at, kind, with_subordinates, action)
    except QueryError as e:
        _usage(str(e))
    except Refused as e:
        _refused(str(e), fmt)
    _print_items(items, fmt)


@query.command("can-edit")
@repo_argument
@_query_options
@click.argument("obj", metavar="OBJECT")
@format_option("text", "json")
def query_can_edit(repo, as_user, obj, fmt):
    """Whether USER may modify OBJECT, and every reason not (rules L1-L4, V1, B2).

    OBJECT is KIND/ID (equipment/srv-01, user-service/webshop, service-template/cpu...),
    an ID unique across kinds, or a unit service EQUIPMENT/SERVICE. Exits 0 when
    editable, 1 when not, 2 for an unknown user or object.

    \b
    Example:
      snavc query can-edit samples/seed --as stephanie srv-web-01
    """
    from .query import QueryError, can_edit

    _, res = _compiled(repo)
    try:
        answer = can_edit(res, as_user, obj)
    except QueryError as e:
        _usage(str(e))
    if fmt == "json":
        click.echo(json.dumps(answer, indent=2, sort_keys=True, ensure_ascii=False))
    elif answer["editable"]:
        click.echo(dg.clean_text(f"{as_user} may edit {obj}"))
    else:
        click.echo(dg.clean_text(f"{as_user} may not edit {obj}:"))
        for r in answer["reasons"]:
            click.echo(f"  - {dg.clean_text(r['message'])} (rule {r['rule']})")
    sys.exit(0 if answer["editable"] else 1)


@cli.command()
@repo_argument
@click.argument("spec", metavar="OBJECT[.FIELD]")
@click.option(
    "--as", "as_user", default=None, help="For a service template: the user who would use it."
)
@click.option("--at", "at", default=None, help="For a service template: the node it is used at.")
@format_option("text", "json")
def explain(repo, spec, as_user, at, fmt):
    """Where each resolved value of OBJECT comes from, step by step.

    For an equipment, every field at once: box, periods (the default walk node by
    node, what was skipped and why), unit services (template, duplicate source,
    overrides applied or out of scope). FIELD narrows it: srv-web-01.periods.check,
    srv-web-01/cpu.criticality. A node explains its default summary (P10); a service
    template its values at --at NODE for --as USER.

    \b
    Examples:
      snavc explain samples/seed srv-web-01
      snavc explain samples/seed srv-web-01.services.cpu.criticality
      snavc explain samples/seed service-template/cpu --at client1-site2 --as stephanie
    """
    from .explain import explain as run
    from .explain import render_text
    from .query import QueryError, Refused

    _, res = _compiled(repo)
    try:
        out = run(res, spec, as_user, at)
    except QueryError as e:
        _usage(str(e))
    except Refused as e:
        _refused(str(e), fmt)
    if fmt == "json":
        click.echo(json.dumps(out, indent=2, sort_keys=True, ensure_ascii=False))
    else:
        click.echo(render_text(out), nl=False)


def report_options(f, annotations: bool = False):
    f = click.option(
        "--detailed-exitcode",
        is_flag=True,
        help="Exit 0 when nothing changed, 2 when something did (the effective configuration "
        "or an input object), 1 on errors (usage errors included).",
    )(f)
    f = click.option(
        "--full-report",
        "full_report",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Also write the whole report, never cut, to this file (a CI artifact); "
        "a cut report names it.",
    )(f)
    f = click.option(
        "--max-bytes",
        "max_bytes",
        type=click.IntRange(min=0),
        default=None,
        help="Cut the text or markdown report to this many bytes, keeping the summary and "
        "saying what was cut (0: never cut). Default: 60000 for markdown (a pull-request "
        "comment holds 65,536 characters), no cap for text. JSON is never cut.",
    )(f)
    f = click.option(
        "--template",
        "template",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        default=None,
        help="Render the report with this jinja2 template (sandboxed; it gets `report`).",
    )(f)
    f = click.option(
        "-o",
        "--output",
        "output",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Write the report to this file instead of standard output.",
    )(f)
    f = click.option(
        "--format",
        "fmt",
        type=click.Choice(["text", "markdown", "json", *(ANNOTATIONS if annotations else ())]),
        default="text",
        show_default=True,
        help="Report format: text, markdown (a pull-request comment) or json (docs/review.md)"
        + (
            "; or only the errors, as github annotations, sarif or codequality (as for validate)."
            if annotations
            else "."
        ),
    )(f)
    return f


def _emit_report(
    report,
    fmt: str,
    template,
    output,
    detailed: bool,
    errors=None,
    repo: Path | None = None,
    max_bytes=None,
    full_report=None,
) -> None:
    from .review.report import MARKDOWN_MAX_BYTES, TemplateError, render, render_user

    progress.stop()
    if max_bytes is None:
        max_bytes = MARKDOWN_MAX_BYTES if fmt == "markdown" and not template else 0
    try:
        if fmt in ANNOTATIONS:
            text = render_diagnostics(errors or [], fmt, repo)
        else:
            if full_report:
                whole = render_user(report, template) if template else render(report, fmt)
                _write(full_report, whole)
            text = (
                render_user(report, template)
                if template
                else render(report, fmt, max_bytes, str(full_report) if full_report else None)
            )
    except TemplateError as e:
        _usage(str(e), detailed)
    if output:
        _write(output, text)
    else:
        click.echo(text, nl=False)
    summary = report.summary
    if summary["errors"]:
        sys.exit(1)
    changed = any(summary[k] for k in ("added", "changed", "removed", "moved", "inputs"))
    sys.exit(2 if detailed and changed else 0)


def _write(path: Path, text: str) -> None:
    from .engine.faults import replace_file

    try:  # whole or not at all: a full disk leaves the previous report
        replace_file(path, text.encode("utf-8"))
    except OSError as e:
        click.echo(f"snavc: cannot write {path}: {e.strerror}", err=True)
        sys.exit(1)


@cli.command("diff")
@click.argument("old", type=click.Path(path_type=Path))
@click.argument("new", type=click.Path(path_type=Path))
@report_options
def diff_cmd(
    old: Path, new: Path, fmt, template, output, detailed_exitcode, max_bytes, full_report
):
    """Compare two builds (folders written by `snavc build`).

    A semantic diff of the effective configurations, keyed by object IDs: every
    equipment, unit service, user service and node added, removed, moved or changed,
    field by field, grouped by partner, client and site; then the input objects that
    changed, the effective objects each one changed, and what the lock (T5) kept.

    \b
    Example:
      snavc build . -o build/new && snavc diff build/old build/new --format markdown
    """
    from .review.diff import BuildError, diff, read_build

    if output is not None:
        for build in (old, new):  # the report would replace one of the builds' files
            if Path(output).resolve().is_relative_to(Path(build).resolve()):
                _usage(
                    f"-o {output} is inside the build {build}: write the report elsewhere",
                    detailed_exitcode,
                )
    try:
        report = diff(read_build(old), read_build(new))
    except BuildError as e:
        _usage(str(e), detailed_exitcode)
    _emit_report(
        report,
        fmt,
        template,
        output,
        detailed_exitcode,
        max_bytes=max_bytes,
        full_report=full_report,
    )


@cli.command("plan")
@repo_argument
@click.option(
    "--base", "base", required=True, help="The git revision deployed (a branch, tag or commit)."
)
@click.option(
    "--as",
    "as_user",
    default=None,
    help="Check that USER may edit every object the change touches (delegation: V1, L1-L4).",
)
@click.option(
    "--base-state",
    "base_state",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="SNAVC_BASE_STATE",
    default=None,
    help="A folder where the build of BASE is kept, keyed by its git tree: a plan against the "
    "same tree uses it instead of building BASE (a CI cache, docs/review.md). "
    "Default: $SNAVC_BASE_STATE.",
)
@functools.partial(report_options, annotations=True)
@backend_option
def plan_cmd(
    repo: Path,
    base: str,
    as_user,
    base_state,
    fmt,
    template,
    output,
    detailed_exitcode,
    max_bytes,
    full_report,
    loader,
):
    """Review the working tree of REPO against git revision BASE.

    Builds BASE (its stored tree, without .gitattributes: the working tree and the
    index are never touched) and the working tree as a commit would hold it (files git
    ignores left out), diffs them like `snavc diff`, and checks what only
    shows across versions: a client's mode change (M3) and, with --as USER, that USER
    may edit everything the change adds, modifies or removes. A BASE without REPO's
    folder (the change that adds the estate) is an empty estate. Of two definitions of
    one ID, the one the change adds is reported.

    \b
    Examples:
      snavc plan . --base origin/main --format markdown -o report.md
      snavc plan . --base origin/main --as stephanie --detailed-exitcode
      snavc plan . --base origin/main --format github     # errors as annotations
    """
    from .review.formats import Paths
    from .review.plan import PlanError, plan

    try:
        result = plan(repo, base, as_user, loader, base_state)
    except PlanError as e:
        _usage(str(e), detailed_exitcode)
    for note in result.notes:
        click.echo(f"snavc: {note}", err=True)
    if result.base_empty:
        click.echo(
            f"snavc: {Paths.of(repo).checkout('.')}/ is not in revision '{base}': "
            "compared with an empty estate",
            err=True,
        )
    _emit_report(
        result.report,
        fmt,
        template,
        output,
        detailed_exitcode,
        result.diagnostics,
        repo,
        max_bytes=max_bytes,
        full_report=full_report,
    )


def _bridge_settings(path: Path | None, fmt: str = "text") -> dict:
    """The ``servicenav`` settings of a snav.yaml (default: ./snav.yaml when present).

    The file is read and checked as `snavc validate` reads ``snav.yaml`` (snavc's loader,
    then the models): a YAML error or a setting the model refuses is a diagnostic at its
    ``file:line:column``, printed in the command's format, and the command exits 1 before
    reading any export."""
    from .bridge.columns import settings_of
    from .engine.load import load_file
    from .validate import PROJECT_FILE, validate

    if path is None:
        path = Path("snav.yaml")
        if not path.is_file():
            return {}
    # read as the repository's snav.yaml (the validator wants a Project there, SNV211),
    # reported under the name given: the diagnostics open from the current folder
    docs, diags = load_file(path, PROJECT_FILE)
    checked = validate(docs)
    diags = [_renamed(d, PROJECT_FILE, path.as_posix()) for d in (*diags, *checked.diagnostics)]
    if dg.has_errors(diags):
        emit_diagnostics(dg.sort(diags), "json" if fmt == "json" else "text", Path("."))
        click.echo(f"snavc: {path} has errors (the bridge's settings): nothing done", err=True)
        sys.exit(1)
    project = next((o for o in checked.objects if o.kind == "Project"), None)
    return settings_of(project)


def _bridge_failed(diags, fmt: str, note: str = ""):
    """Stop a bridge command on ``diags``: printed as JSON under ``--format json`` (as
    `import` and `validate` do), else as text; exit 1."""
    emit_diagnostics(dg.sort(diags), "json" if fmt == "json" else "text", Path("."))
    if note:
        click.echo(note, err=True)
    sys.exit(1)


def _an_input(target: Path | None, build_dir: Path, files) -> str | None:
    """Why writing ``target`` would touch a command's inputs: it is one of ``files``, or
    inside ``build_dir`` (its effective.json...); None when it would not."""
    if target is None:
        return None
    where = target.resolve()
    for f in files:
        same = where == f.resolve()
        if not same and target.exists():
            try:
                same = target.samefile(f)  # (a hard link)
            except OSError:
                same = False
        if same:
            return f"would overwrite the export {f}"
    if where.is_relative_to(build_dir.resolve()):
        return f"is inside the build {build_dir} (it would change what it reads)"
    return None


def _renamed(d, old: str, new: str):
    from dataclasses import replace

    def name(file):
        return new if file == old else file

    related = tuple(replace(r, file=name(r.file)) for r in d.related)
    return replace(d, file=name(d.file), related=related)


def _read_csv(path: Path, diags: list):
    from .bridge.csvio import CSVError, read

    try:
        return read(path)
    except CSVError as e:
        diags.append(dg.error("SNV801", str(e), dg.Location(path.name, e.line)))
        return None


def settings_option(f):
    return click.option(
        "--settings",
        "settings_path",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        default=None,
        help="A snav.yaml whose Project.servicenav adjusts the column map "
        "(default: ./snav.yaml when there is one).",
    )(f)


@cli.command("import")
@click.argument(
    "exports",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
)
@click.option(
    "-o",
    "--output",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The repository to write: a new or empty folder.",
)
@click.option(
    "--partner",
    "partner_name",
    default="Partner",
    show_default=True,
    help="The partner's name, when the exports have no parent-company columns.",
)
@click.option(
    "--name",
    "project_name",
    default="servicenav-import",
    show_default=True,
    help="The project's name, in snav.yaml.",
)
@click.option(
    "--check",
    is_flag=True,
    help="Then validate the repository, and report each problem at the CSV row it comes "
    "from (as long as a cold build).",
)
@click.option(
    "--skip-bad-rows",
    is_flag=True,
    help="Write the repository without the rows that cannot be mapped (each still "
    "reported); by default such rows stop the import and nothing is written.",
)
@settings_option
@format_option("text", "json")
def import_cmd(exports, out, partner_name, project_name, check, skip_bad_rows, settings_path, fmt):
    """Write a repository from the product's exports (hosts, and unit services).

    EXPORTS are the CSV files of Configuration > Hosts > List and Configuration >
    Services > List (UTF-8; BOM, separator and quoting detected; which is which is told
    by the header line). Companies become the partner, its clients and their sites;
    every host an Equipment with its unit services, each keeping its ServiceNav ID.
    Boxes, templates, time slots and labels become stubs to complete, listed at the
    end. Each object is preceded by `# from FILE:LINE`; with --check, every problem of
    the imported repository is reported at the row it came from.

    \b
    Example:
      snavc import hosts.csv services.csv -o acme/ --check
    """
    from .bridge import importer
    from .bridge.columns import ColumnMapError, detect

    settings = _bridge_settings(settings_path, fmt)
    diags: list = []
    tables = [t for t in (_read_csv(p, diags) for p in exports) if t is not None]
    hosts = services = None
    for t in tables:
        try:
            cmap = detect(t.header, settings)
        except ColumnMapError as e:
            diags.append(dg.error("SNV802", str(e), dg.Location(t.name, 1)))
            continue
        if cmap.entity == "hosts" and hosts is None:
            hosts = t
        elif cmap.entity == "services" and services is None:
            services = t
        else:
            diags.append(
                dg.error(
                    "SNV802",
                    f"a second {cmap.entity} export: give one of each",
                    dg.Location(t.name, 1),
                )
            )
    if hosts is None and not diags:
        _usage("no hosts export among EXPORTS (Configuration > Hosts > List)")
    if diags:
        emit_diagnostics(diags, fmt, Path("."))
        sys.exit(1)
    result = importer.import_exports(hosts, services, settings, partner_name, project_name)
    errors = [d for d in result.diagnostics if d.severity == "error"]
    if errors and not skip_bad_rows:
        emit_diagnostics(dg.sort(result.diagnostics), fmt, Path("."))
        click.echo(
            f"nothing written: {len(errors)} rows cannot be mapped (see --skip-bad-rows)", err=True
        )
        sys.exit(1)
    try:
        importer.write_repo(result, out)
    except importer.TargetError as e:
        _usage(str(e))
    except OSError as e:
        where = dg.clean_text(str(e.filename or out))
        click.echo(f"snavc: cannot write {where}: {e.strerror}", err=True)
        sys.exit(1)
    checked = importer.check_imported(out, result) if check else []
    all_diags = dg.sort(result.diagnostics) + checked
    if fmt == "json":
        click.echo(
            json.dumps(
                {
                    "hosts": result.hosts,
                    "services": result.services,
                    "skipped": result.skipped,
                    "language": result.language,
                    "stubs": [s.to_json() for s in result.stubs],
                    "diagnostics": [d.to_json() for d in all_diags],
                },
                indent=2,
                ensure_ascii=False,
            )
        )
    else:
        if all_diags:
            emit_diagnostics(all_diags, "text", Path("."))
        # stubs quote the exports' cells: escaped, line by line
        click.echo(dg.clean_text(importer.render_stubs(result), keep="\n"), nl=False)
        click.echo(
            f"imported {result.hosts} hosts, {result.services} unit services "
            f"({result.language} headers) into {out}/"
            + (f"; {result.skipped} rows left out" if result.skipped else "")
        )
    sys.exit(1 if dg.has_errors(checked) or (errors and not skip_bad_rows) else 0)


@cli.command("export")
@click.argument("build_dir", metavar="BUILD", type=click.Path(path_type=Path))
@click.option(
    "--like",
    "likes",
    multiple=True,
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A reference export from the product (hosts or unit services), whose layout "
    "and rows the output follows. Repeatable: one per entity.",
)
@click.option(
    "-o",
    "--output",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write into; each file is named as its reference.",
)
@click.option(
    "--mode",
    type=click.Choice(["both", "update", "create"]),
    default="both",
    show_default=True,
    help="Rows to write: updates (rows with an ID), creations (without), or both; the "
    "product's import mode should be the same.",
)
@click.option(
    "--changed-only",
    is_flag=True,
    help="Leave out the rows whose known cells are all unchanged (a smaller import; an "
    "unchanged row would change nothing in the product anyway).",
)
@settings_option
@format_option("text", "json")
def export_cmd(build_dir, likes, out, mode, changed_only, settings_path, fmt):
    """Write the product's bulk-import CSVs from BUILD, laid out like the references.

    Each file keeps its reference's headers, column order, separator, quoting, line
    endings, BOM and language. A row of an object the build has is the reference row
    with the changed cells replaced (byte for byte the same when nothing changed);
    columns snavc does not know are carried over; new objects get rows without an ID.
    Objects only the product has are listed, never written: the import cannot delete.

    \b
    Example:
      snavc export build/ --like hosts.csv --like services.csv -o to-import/
    """
    from .bridge.exporter import BindError, export, write_files
    from .review.diff import BuildError

    settings = _bridge_settings(settings_path, fmt)
    diags: list = []
    tables = [t for t in (_read_csv(p, diags) for p in likes) if t is not None]
    names = [t.name for t in tables]
    if len(set(names)) != len(names):
        _usage("two --like files with the same name: they would be written to the same file")
    for like in likes:
        if (out / like.name).resolve() == like.resolve():
            _usage(f"-o {out} would overwrite the reference {like}: write into another folder")
    from .engine.load import BUILD_MARKER

    for folder in (out, *out.resolve().parents):
        if (folder / BUILD_MARKER).is_file():  # the next build replaces the whole folder
            _usage(f"-o {out} is inside the build {folder}, which the next build replaces")
    if diags:
        _bridge_failed(diags, fmt, "nothing written")
    try:
        result = export(build_dir, tables, settings, mode, changed_only=changed_only)
    except BuildError as e:
        _usage(str(e))
    except BindError as e:
        _bridge_failed(e.diagnostics, fmt, "nothing written")
    if not result.ok:
        _bridge_failed(result.diagnostics, fmt, "nothing written")
    try:
        write_files(result, out)
    except OSError as e:
        where = dg.clean_text(str(e.filename or out))
        click.echo(f"snavc: cannot write {where}: {e.strerror}", err=True)
        sys.exit(1)
    if fmt == "json":
        click.echo(
            json.dumps(
                {
                    "files": [
                        {
                            "file": f.name,
                            "entity": f.entity,
                            "unchanged": f.unchanged,
                            "updated": f.updated,
                            "created": f.created,
                            "not_in_build": f.left_out,
                        }
                        for f in result.files
                    ],
                    "diagnostics": [d.to_json() for d in dg.sort(result.diagnostics)],
                },
                indent=2,
                ensure_ascii=False,
            )
        )
        return
    for f in result.files:
        click.echo(
            f"{out / f.name}: {f.updated} updated, {f.created} created, {f.unchanged} unchanged"
            + (f"; {len(f.left_out)} in the product only, not written" if f.left_out else "")
        )
    for f in result.files:
        for item in f.left_out[:20]:
            click.echo(
                dg.clean_text(
                    f"  in the product only: {f.name}:{item['line']} ID {item['id']} {item['name']}"
                )
            )
        if len(f.left_out) > 20:
            click.echo(f"  ... and {len(f.left_out) - 20} more (--format json lists them all)")


@cli.command("drift")
@click.argument("build_dir", metavar="BUILD", type=click.Path(path_type=Path))
@click.option(
    "--export",
    "exports",
    multiple=True,
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A fresh export from the product (hosts or unit services). Repeatable.",
)
@settings_option
@report_options
def drift_cmd(
    build_dir,
    exports,
    settings_path,
    fmt,
    template,
    output,
    detailed_exitcode,
    max_bytes,
    full_report,
):
    """What differs between BUILD (git) and the product (its exports).

    Objects in git and not in the product (added: the next export creates them), in
    the product and not in git (removed: the import cannot delete them), and every
    field that differs (old: the product's value; new: git's), grouped by partner,
    client and site. Same formats and exit codes as `snavc diff`.

    \b
    Example:
      snavc drift build/ --export hosts.csv --export services.csv --detailed-exitcode
    """
    from .bridge.drift import drift
    from .bridge.exporter import BindError
    from .review.diff import BuildError

    for option, target in (("-o", output), ("--full-report", full_report)):
        clash = _an_input(target, build_dir, exports)
        if clash:
            _usage(f"{option} {target} {clash}: write the report elsewhere", detailed_exitcode)
    settings = _bridge_settings(settings_path, fmt)
    diags: list = []
    tables = [t for t in (_read_csv(p, diags) for p in exports) if t is not None]
    if diags:
        _bridge_failed(diags, fmt)
    try:
        report = drift(build_dir, tables, settings)
    except BuildError as e:
        _usage(str(e), detailed_exitcode)
    except BindError as e:
        _bridge_failed(e.diagnostics, fmt)
    _emit_report(
        report,
        fmt,
        template,
        output,
        detailed_exitcode,
        max_bytes=max_bytes,
        full_report=full_report,
    )


@cli.command()
@repo_argument
@format_option("text", "yaml", "json")
def catalog(repo: Path, fmt: str):
    """Print the product catalogue REPO uses (the shipped one unless Project.catalog).

    The catalogue holds the product's time periods and their defaults, service
    templates, equipment templates and built-in roles, all "at the product".
    """
    from .engine.load import discover, read_texts
    from .engine.pipeline import SHIPPED_CATALOG, load_catalog, load_settings, project_of
    from .validate import validate as validate_docs

    result_diags: list = []
    _, settings = load_settings(repo.resolve(), result_diags)
    docs, folder = load_catalog(repo.resolve(), project_of(settings), result_diags, "fast")
    objs = validate_docs(docs, catalog=True)
    result_diags += objs.diagnostics
    if dg.has_errors(result_diags):
        emit_diagnostics(dg.sort(result_diags), "text", repo)  # (paths: cwd-relative)
        sys.exit(1)
    if fmt == "yaml":
        files = discover(folder)[0] if folder else sorted(SHIPPED_CATALOG.glob("*.yaml"))
        source = "\n---\n".join(text.strip() for text in read_texts(files))
        click.echo(dg.clean_text(source, keep="\t\n"))
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
            click.echo(dg.clean_text(f"  {o.id:<22} {_catalog_line(o)}"))


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
@click.option(
    "--check", is_flag=True, help="Write nothing; exit 1 if the folder is not up to date."
)
def schema(out: Path, check: bool):
    """Write the JSON Schemas of the input language, for editors.

    One schema per kind (Equipment.json...) and snavc.json for any document. Point
    yaml-language-server at it with a first line in each YAML file:

    \b
      # yaml-language-server: $schema=../schemas/snavc.json
    """
    from .engine.faults import replace_file
    from .schema import dumps, schemas

    stale = []
    for name, body in schemas().items():
        path = out / name
        text = dumps(body)
        if check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
            continue
        try:
            out.mkdir(parents=True, exist_ok=True)
            replace_file(path, text.encode("utf-8"))
        except OSError as e:
            where = dg.clean_text(str(e.filename or path))
            click.echo(f"snavc: cannot write {where}: {e.strerror}", err=True)
            sys.exit(1)
    if check:
        if stale:
            click.echo(
                f"stale schemas in {out}: {', '.join(stale)}; run `snavc schema -o {out}`", err=True
            )
            sys.exit(1)
        click.echo(f"{out} is up to date")
    else:
        click.echo(f"wrote {len(schemas())} schemas to {out}")


EXIT_OUT_OF_MEMORY = 4
_OUT_OF_MEMORY = (
    b"snavc: out of memory: the machine ran out of memory for this repository; "
    b"run snavc with more memory (this is not an error in the configuration)\n"
)


def _out_of_memory() -> None:
    """Say so and stop at once, allocating nothing: raising SystemExit, flushing a
    buffer or a clean-up at exit may each fail again for want of memory, or wait for
    a child process that will never answer. (The stages' own clean-up, such as a
    build's temporary folder, ran as the error went up to here.)"""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001, S110 - nothing more can be done
            pass
    try:
        os.write(2, _OUT_OF_MEMORY)
    finally:
        os._exit(EXIT_OUT_OF_MEMORY)


def main() -> None:
    """The ``snavc`` command: runs it, then ends the process at once with its exit code.

    Once a command has returned, everything it writes is written and closed (outputs,
    lock and caches are renamed into place as they end; no atexit hook, finalizer nor
    thread is left to write anything); only standard output and error may still hold
    buffered text, flushed here. What Python's own exit would do next is tear down
    every object the run made, one at a time: a sixth of a 100k build's time, for
    nothing. ``SNAVC_CLEAN_EXIT=1`` exits the usual way (for coverage and profiling
    tools, which write their data at exit). Exit codes are those of :func:`run`.
    """
    try:
        run()
    except SystemExit as e:
        code = e.code
    else:
        code = 0
    leave(code)


def leave(code) -> None:
    """Exit with ``code`` (as ``sys.exit`` takes it), skipping the interpreter's
    teardown once the standard streams are flushed; the usual way under
    ``SNAVC_CLEAN_EXIT``, for a code that is not a number, or when a stream cannot be
    flushed (a closed pipe: Python then reports it and exits 120, as it always did)."""
    if code is None:
        code = 0
    if os.environ.get("SNAVC_CLEAN_EXIT") or type(code) is not int:
        sys.exit(code)
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except Exception:  # noqa: BLE001 - the interpreter's exit reports it, as before
        sys.exit(code)
    os._exit(code)


def run() -> None:
    """The command line, its errors turned into messages and exit codes (``SystemExit``)."""
    # a short-lived process: the cyclic collector only slows it (see pipeline.gc_paused)
    gc.disable()
    progress.start()  # only on a terminal, from 2 s on (snavc.progress)
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Exit as e:  # --help, --version
        sys.exit(e.exit_code)
    except click.ClickException as e:
        progress.stop()
        e.show()
        # under --detailed-exitcode, 2 means "changes": a usage error is an error, 1
        detailed = "--detailed-exitcode" in sys.argv[1:]
        sys.exit(1 if detailed and e.exit_code == 2 else e.exit_code)
    except (KeyboardInterrupt, click.exceptions.Abort):
        progress.stop()
        click.echo("interrupted", err=True)
        sys.exit(130)
    except SystemExit:
        raise
    except MemoryError:
        # the machine, not snavc nor the input: every input is bounded at load (file
        # size, alias expansion, nesting, only regular files), so what is left is an
        # estate larger than the memory given to the process
        _out_of_memory()
    except Exception as e:  # a bug in snavc, not bad input: say so in one line
        progress.stop()
        if os.environ.get("SNAVC_DEBUG"):
            raise
        click.echo(
            f"snavc: internal error: {type(e).__name__}: {dg.clean_text(str(e))} "
            "(set SNAVC_DEBUG=1 for details; please report)",
            err=True,
        )
        sys.exit(3)
    finally:
        progress.stop()
