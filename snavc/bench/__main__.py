"""``python -m snavc.bench generate --equipment N OUT``."""

from pathlib import Path

import click

from .generate import generate


@click.group()
def main():
    """snavc benchmarks."""


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


main()
