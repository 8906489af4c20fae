"""batch: every entry runs on its own, through the same dispatcher as an HTTP request, and
fails on its own; the response Bundle reports each entry's status in submission order."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from ember.access import AccessContext
from ember.fhir import jsonio
from ember.fhir.outcome import FhirError, operation_outcome
from ember.interactions.bundle_entries import BundleEntry, processing_order
from ember.interactions.bundles import bundle
from ember.interactions.prefer import MINIMAL, OUTCOME
from ember.interactions.references import rewrite_references
from ember.interactions.request import FhirRequest, FhirResponse
from ember.store.base import Store


async def execute_batch(
    ctx: AccessContext, entries: list[BundleEntry | FhirError], store: Store, preference: str
) -> FhirResponse:
    results: dict[int, dict[str, Any]] = {
        index: failed_entry(entry) for index, entry in enumerate(entries) if isinstance(entry, FhirError)
    }
    readable = [entry for entry in entries if isinstance(entry, BundleEntry)]
    for entry in processing_order(readable):
        try:
            if isinstance(entry.request.body, dict):
                # Batch entries may not depend on each other, so a urn: reference cannot resolve.
                rewrite_references(entry.request.body, {}, f"{entry.location}.resource")
        except FhirError as failure:
            results[entry.index] = failed_entry(failure)
            continue
        results[entry.index] = await run_entry(ctx, entry.request, store, preference)
    return FhirResponse(200, resource=bundle("batch-response", [results[i] for i in range(len(entries))]))


async def run_entry(
    ctx: AccessContext, request: FhirRequest, store: Store, preference: str = MINIMAL
) -> dict[str, Any]:
    """One entry through the dispatcher; its failure becomes that entry's outcome."""
    # Imported here because the dispatcher's registry includes this module's handler.
    from ember.interactions.dispatch import dispatch

    try:
        response = await dispatch(ctx, request, store)
    except FhirError as failure:
        return failed_entry(failure)
    entry = response_entry(response)
    if request.method != "GET" and preference == MINIMAL:
        entry.pop("resource", None)
    elif request.method != "GET" and preference == OUTCOME:
        entry.pop("resource", None)
        entry["response"]["outcome"] = operation_outcome([])
    return entry


def response_entry(response: FhirResponse) -> dict[str, Any]:
    entry: dict[str, Any] = {"response": {"status": status_text(response.status)}}
    for header, field in (("location", "location"), ("etag", "etag")):
        if header in response.headers:
            entry["response"][field] = response.headers[header]
    if response.resource is not None:
        entry["resource"] = response.resource
    elif response.body is not None:
        entry["resource"] = jsonio.loads(response.body)
    return entry


def failed_entry(failure: FhirError) -> dict[str, Any]:
    return {"response": {"status": status_text(failure.status), "outcome": failure.outcome()}}


def status_text(status: int) -> str:
    return f"{status} {HTTPStatus(status).phrase}"
