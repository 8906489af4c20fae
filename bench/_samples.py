"""What the component benchmarks share: the Synthea sample resources and a best-pass timer."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

_CANDIDATES = [
    os.environ.get("EMBER_CONFORMANCE", ""),
    str(Path(__file__).resolve().parents[2] / "shared" / "conformance"),
    "/work/shared/conformance",
]
#: The official material: EMBER_CONFORMANCE, else shared/conformance beside the checkout (as
#: tests/conformance.py finds it).
CONFORMANCE = next((Path(c) for c in _CANDIDATES if c and Path(c).is_dir()), Path(_CANDIDATES[1]))
SYNTHEA = CONFORMANCE / "synthea"
MEASURE_SECONDS = 2.5


def sample_resources() -> list[bytes]:
    """The JSON bytes of every resource of every sample bundle."""
    blobs = []
    for path in sorted(SYNTHEA.glob("*/*.json")):
        bundle = orjson.loads(Path(path).read_bytes())
        blobs += [orjson.dumps(entry["resource"]) for entry in bundle["entry"]]
    return blobs


def rate(count: int, run: Callable[[], Any]) -> float:
    """Items per second of `run` (which handles `count` items): the best pass of a few seconds,
    the least disturbed by whatever else the machine is doing."""
    best = float("inf")
    deadline = time.perf_counter() + MEASURE_SECONDS
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return count / best
