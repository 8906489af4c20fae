"""Is search-index extraction cheap enough to run on every write?

For every resource of the Synthea sample it evaluates, with Ember's compiled FHIRPath engine,
every R4 SearchParameter that applies to the resource's type, specialised to that type
(ember.fhir.search_parameters: what write-time indexing evaluates),
and compares that with the in-process cost of ingesting the same resources
through the transaction code path into SQLite (validation, invariants, reference rewriting,
storage): the ceiling it must stay under is a third of that ingest cost.

Run: .venv/bin/python bench/index_extraction.py   (about 30 s)
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._samples import SYNTHEA
from ember.access import AccessContext
from ember.fhir.search_parameters import compiled_for, search_parameters
from ember.interactions.dispatch import dispatch
from ember.interactions.request import FhirRequest
from ember.store.sqlite import SqliteStore

TARGET_SHARE = 1 / 3


def expressions_by_type(resource_types: set[str]) -> dict[str, list[Any]]:
    """Every applicable search parameter's expression, specialised and compiled, per type."""
    compiled: dict[str, list[Any]] = {}
    for resource_type in resource_types:
        expressions = (compiled_for(parameter, resource_type) for parameter in search_parameters(resource_type))
        compiled[resource_type] = [expression for expression in expressions if expression is not None]
    return compiled


def bundles() -> list[dict[str, Any]]:
    """The self-contained transaction bundles (no conditional references to load first)."""
    return [json.loads(path.read_bytes()) for path in sorted((SYNTHEA / "smart-synthea-v2.4").glob("*.json"))]


def extraction_seconds(resources: list[dict[str, Any]], compiled: dict[str, list[Any]]) -> tuple[float, int]:
    evaluations = 0
    start = time.perf_counter()
    for resource in resources:
        for expression in compiled[resource["resourceType"]]:
            expression(resource)
            evaluations += 1
    return time.perf_counter() - start, evaluations


async def ingest_seconds(transactions: list[dict[str, Any]]) -> float:
    with tempfile.TemporaryDirectory() as directory:
        store = SqliteStore(f"{directory}/bench.db")
        await store.open()
        try:
            start = time.perf_counter()
            for transaction in transactions:
                request = FhirRequest("transaction", body=transaction, method="POST")
                await dispatch(AccessContext.system("bench"), request, store)
            return time.perf_counter() - start
        finally:
            await store.close()


def main() -> None:
    sample = bundles()
    resources = [entry["resource"] for bundle in sample for entry in bundle["entry"]]
    compiled = expressions_by_type({resource["resourceType"] for resource in resources})
    extraction_seconds(resources, compiled)  # warm-up: first evaluations load type data
    best_extraction, evaluations = min(extraction_seconds(resources, compiled) for _ in range(3))
    best_ingest = min(asyncio.run(ingest_seconds(json.loads(json.dumps(sample)))) for _ in range(3))
    per_extraction = best_extraction / len(resources) * 1e6
    per_ingest = best_ingest / len(resources) * 1e6
    share = per_extraction / per_ingest
    print(f"{len(resources)} resources, {evaluations} search-parameter evaluations per pass")
    print(f"index extraction, every R4 search parameter : {per_extraction:8.1f} us/resource")
    print(f"ingest in-process (transaction -> SQLite)   : {per_ingest:8.1f} us/resource (the ceiling's base)")
    verdict = "met" if share <= TARGET_SHARE else "MISSED"
    print(f"extraction / ingest                         : {share:8.0%} ({verdict}; target <= {TARGET_SHARE:.0%})")


if __name__ == "__main__":
    main()
