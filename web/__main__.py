"""``python -m web`` runs the ``polis`` command line."""

from web.cli import main

main()
