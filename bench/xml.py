"""FHIR XML conversion speed over the Synthea resources, next to orjson as the ceiling.

Run `python bench/xml.py`. Prints resources per second for json_to_xml and xml_to_json and for
orjson.dumps/orjson.loads of the same resources (what JSON costs; XML cannot be cheaper).
Each measurement runs for about two seconds, so the whole bench stays well under 30 s.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._samples import SYNTHEA  # noqa: E402
from ember.fhir import jsonio  # noqa: E402
from ember.fhir.xml import json_to_xml, xml_to_json  # noqa: E402

SECONDS_PER_MEASUREMENT = 2.0


def synthea_resources() -> list[dict[str, Any]]:
    resources = []
    for path in sorted(SYNTHEA.glob("*/*.json")):
        bundle = jsonio.loads(path.read_bytes())
        resources += [entry["resource"] for entry in bundle["entry"]]
    return resources


def rate(convert: Callable[[Any], Any], inputs: list[Any]) -> float:
    """Resources per second of `convert`, repeating passes over `inputs` for a fixed time."""
    done = 0
    started = time.perf_counter()
    while True:
        for item in inputs:
            convert(item)
        done += len(inputs)
        elapsed = time.perf_counter() - started
        if elapsed >= SECONDS_PER_MEASUREMENT:
            return done / elapsed


def main() -> None:
    resources = synthea_resources()
    as_xml = [json_to_xml(resource) for resource in resources]
    as_json = [jsonio.dumps(resource) for resource in resources]
    xml_bytes, json_bytes = sum(map(len, as_xml)), sum(map(len, as_json))
    print(f"{len(resources)} Synthea resources: {xml_bytes / 1e6:.1f} MB as XML, {json_bytes / 1e6:.1f} MB as JSON")
    rows = [
        ("json_to_xml", rate(json_to_xml, resources), "orjson.dumps", rate(orjson.dumps, resources)),
        ("xml_to_json", rate(xml_to_json, as_xml), "orjson.loads", rate(orjson.loads, as_json)),
    ]
    for name, ours, ceiling_name, ceiling in rows:
        print(f"{name:12} {ours:>10,.0f} resources/s   {ceiling_name:13} {ceiling:>10,.0f} resources/s")


if __name__ == "__main__":
    main()
