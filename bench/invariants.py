"""How much do FHIRPath invariants cost on write? Resources per second over the Synthea sample.

Every entry's resource of /work/shared/conformance/synthea/*/*.json is serialised once; then we
time `orjson.loads` of those bytes (the ceiling: parsing alone), `check_invariants` of the parsed
values, and both together. The first pass (compiling the expressions of each type met) is run
before timing, as a server has done it after its first writes. Each measurement repeats whole
passes for about bench._samples.MEASURE_SECONDS, so the script ends well within 30 seconds.

Run: .venv/bin/python bench/invariants.py
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from functools import partial
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._samples import rate, sample_resources
from ember.fhir.invariants import check_invariants

#: Resource types whose own cost is printed too: the most common ones and the largest one.
SHOWN_TYPES = ("Observation", "Organization", "ExplanationOfBenefit")


def check_each(resources: list[Any]) -> None:
    for resource in resources:
        check_invariants(resource)


def main() -> None:
    blobs = sample_resources()
    parsed = [orjson.loads(blob) for blob in blobs]
    started = time.perf_counter()
    found = Counter((issue.severity, issue.details_code) for resource in parsed for issue in check_invariants(resource))
    first_pass = time.perf_counter() - started
    size = sum(map(len, blobs)) / len(blobs)
    print(f"{len(blobs)} resources, {size:.0f} bytes on average; first pass (compiling) {first_pass:.2f} s")
    print("issues:", dict(found) or "none")

    def parse_all() -> None:
        for blob in blobs:
            orjson.loads(blob)

    def parse_and_check_all() -> None:
        for blob in blobs:
            check_invariants(orjson.loads(blob))

    ceiling = rate(len(blobs), parse_all)
    for label, run in (
        ("check_invariants", partial(check_each, parsed)),
        ("orjson.loads + check", parse_and_check_all),
    ):
        per_second = rate(len(blobs), run)
        print(
            f"{label:24} {per_second:10,.0f} resources/s  {1e6 / per_second:6.1f} us/resource"
            f"  ({per_second / ceiling:.1%} of the ceiling)"
        )
    print(f"{'orjson.loads (ceiling)':24} {ceiling:10,.0f} resources/s  {1e6 / ceiling:6.1f} us/resource")
    for resource_type in SHOWN_TYPES:
        subset: list[Any] = [resource for resource in parsed if resource["resourceType"] == resource_type]
        per_second = rate(len(subset), partial(check_each, subset))
        print(f"{resource_type:24} {per_second:10,.0f} resources/s  {1e6 / per_second:6.1f} us/resource")


if __name__ == "__main__":
    main()
