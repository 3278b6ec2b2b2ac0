"""``python -m citycov`` runs the command-line interface."""

from citycov.cli import main

main()
