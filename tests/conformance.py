"""Where the official test material lives (../shared/conformance beside the checkout).

One place decides, so a checkout elsewhere (a scratch clone, CI) finds it the same way:
EMBER_CONFORMANCE if set, else `shared/conformance` beside the checkout, else the workplace's
/work/shared/conformance.
"""

from __future__ import annotations

import os
from pathlib import Path

_CANDIDATES = [
    os.environ.get("EMBER_CONFORMANCE", ""),
    str(Path(__file__).resolve().parents[2] / "shared" / "conformance"),
    "/work/shared/conformance",
]

CONFORMANCE = next((Path(c) for c in _CANDIDATES if c and Path(c).is_dir()), Path(_CANDIDATES[1]))
