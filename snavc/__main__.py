"""``python -m snavc`` runs the command line."""

from .cli import main

main()
