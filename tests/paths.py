"""Where tests find the project's shared data (never copied into the repository).

The real GAIC captions live in ``shared/data/gaic-text`` beside the checkout (as CI lays it out);
``PROMPTCROP_GAIC_TEXT`` overrides that. Tests that need them skip when the folder is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
GAIC_TEXT_DIR = Path(
    os.environ.get("PROMPTCROP_GAIC_TEXT", REPO_ROOT.parent / "shared" / "data" / "gaic-text")
)
