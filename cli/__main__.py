"""``python -m cli`` runs the ``polis`` command line."""

from cli.main import main

main()
