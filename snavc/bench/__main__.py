"""``python -m snavc.bench generate --equipment N OUT`` and ``python -m snavc.bench run``."""

from pathlib import Path

import click

from .generate import generate


@click.group()
def main():
    """snavc benchmarks: generate large estates, time snavc on them."""


@main.command("generate")
@click.option(
    "--equipment", "n", type=int, default=1000, show_default=True, help="How many equipment."
)
@click.option(
    "--seed", type=int, default=1, show_default=True, help="Random seed (same seed, same files)."
)
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
def generate_cmd(n: int, seed: int, out: Path):
    """Write a generated estate of N equipment into OUT."""
    counts = generate(out, n, seed)
    click.echo(", ".join(f"{v} {k}" for k, v in counts.items()))


@main.command("run")
@click.option(
    "--sizes", default="1000,10000,100000", show_default=True, help="Estate sizes, comma-separated."
)
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".bench"),
    show_default=True,
    help="Where generated estates (kept between runs) and builds go.",
)
@click.option(
    "--report",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("bench/results.md"),
    show_default=True,
    help="Where the table is written.",
)
@click.option(
    "--rounds",
    type=int,
    default=1,
    show_default=True,
    help="Runs of the cold build and its peers (alternating), of each edit and of each"
    " plan; the fastest of each counts.",
)
def run_cmd(sizes: str, root: Path, report: Path, rounds: int):
    """Time validate, build (cold, warm, one file or document edited), diff, query,
    explain and plan, the peers (the libyaml floor, nagios4 -v) beside the cold build,
    and judge issue 14's targets."""
    from .run import run

    text = run([int(s) for s in sizes.split(",")], root, report, rounds)
    click.echo(text)


@main.command("servicenav")
@click.option("--hosts", "n", type=int, default=1000, show_default=True, help="How many hosts.")
@click.option("--language", type=click.Choice(["en", "fr"]), default="en", show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
def servicenav_cmd(n: int, language: str, seed: int, out: Path):
    """Write fabricated product exports (hosts.csv, services.csv) of N hosts into OUT."""
    from .servicenav import write_exports

    for path in write_exports(out, n, language, seed):
        click.echo(f"{path}: {path.stat().st_size:,} bytes")


@main.command("bridge")
@click.option("--hosts", "n", type=int, default=100000, show_default=True)
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".bench/bridge"),
    show_default=True,
)
def bridge_cmd(n: int, root: Path):
    """Time import, cold build, export and drift of a fabricated N-host export."""
    from .run_bridge import run_bridge

    click.echo(run_bridge(n, root))


main()
