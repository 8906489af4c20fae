"""How fast is validation on write? Resources per second over the Synthea sample bundles.

Every entry's resource of /work/shared/conformance/synthea/*/*.json is serialised once; then we
time `orjson.loads` of those bytes (the ceiling: parsing alone), `validate_resource` of the parsed
values, and both together (what a write pays). Each measurement repeats whole passes for about
bench._samples.MEASURE_SECONDS, so the script ends well within 30 seconds.

Run: .venv/bin/python bench/validation.py
"""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._samples import rate, sample_resources
from ember.fhir.validation import validate_resource

#: Resource types whose own cost is printed too: the most common one and the largest one.
SHOWN_TYPES = ("Observation", "ExplanationOfBenefit")


def validate_each(resources: list[Any]) -> None:
    for resource in resources:
        validate_resource(resource)


def main() -> None:
    blobs = sample_resources()
    parsed = [orjson.loads(blob) for blob in blobs]
    invalid = sum(1 for resource in parsed if validate_resource(resource))
    size = sum(map(len, blobs)) / len(blobs)
    print(f"{len(blobs)} resources, {size:.0f} bytes on average, {invalid} with issues")

    def parse_all() -> None:
        for blob in blobs:
            orjson.loads(blob)

    def parse_and_validate_all() -> None:
        for blob in blobs:
            validate_resource(orjson.loads(blob))

    ceiling = rate(len(blobs), parse_all)
    for label, run in (
        ("validate_resource", partial(validate_each, parsed)),
        ("orjson.loads + validate", parse_and_validate_all),
    ):
        per_second = rate(len(blobs), run)
        print(f"{label:24} {per_second:10,.0f} resources/s  {1e6 / per_second:6.1f} us/resource")
    print(f"{'orjson.loads (ceiling)':24} {ceiling:10,.0f} resources/s  {1e6 / ceiling:6.1f} us/resource")
    for resource_type in SHOWN_TYPES:
        subset: list[Any] = [resource for resource in parsed if resource["resourceType"] == resource_type]
        per_second = rate(len(subset), partial(validate_each, subset))
        print(f"{resource_type:24} {per_second:10,.0f} resources/s  {1e6 / per_second:6.1f} us/resource")


if __name__ == "__main__":
    main()
