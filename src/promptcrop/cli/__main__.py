"""``python -m promptcrop.cli``: the same entry point as the ``promptcrop`` command."""

import sys

from promptcrop.cli.main import main

sys.exit(main())
