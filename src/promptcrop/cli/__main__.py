"""``python -m promptcrop.cli``: the same entry point as the ``promptcrop`` command."""

from promptcrop.cli.main import run

run()
