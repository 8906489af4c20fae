"""Patient/[id]/$everything: the patient and everything in their compartment, in one searchset.

Each resource type of the official Patient CompartmentDefinition is searched with the
compartment condition, through the same store search (and so the caller's access rules) as any
other read. `_type` narrows the types, `_since` keeps resources changed since an instant, and
`_count` caps the resources per type (default and maximum: the search limits).
"""

from __future__ import annotations

from typing import Any

import orjson

from ember.access import AccessContext
from ember.fhir.dates import date_range
from ember.fhir.model import is_resource_type
from ember.fhir.outcome import error, not_found
from ember.interactions import search
from ember.interactions.bundles import bundle
from ember.interactions.request import FhirRequest, FhirResponse
from ember.store.access_rules import compartment_params
from ember.store.base import Store
from ember.store.search_query import (
    CompartmentCondition,
    Condition,
    IdCondition,
    RangeCondition,
    SearchQuery,
    SortKey,
)


async def handle(ctx: AccessContext, request: FhirRequest, store: Store) -> FhirResponse:
    patient = request.id or ""
    if await store.read(ctx, "Patient", patient) is None:
        raise not_found("Patient", patient)
    count = _count(request.param("_count"))
    since = _since(request.param("_since"))
    entries: list[dict[str, Any]] = []
    for resource_type in _types(request.param("_type")):
        conditions: list[Condition] = [_membership(resource_type, patient)]
        if since is not None:
            conditions.append(since)
        query = SearchQuery((resource_type,), tuple(conditions), (SortKey("_id", None),), count=max(count, 1))
        matches, _ = await store.search(ctx, query)
        entries += [
            {
                "fullUrl": f"{request.base_url}/{m.resource_type}/{m.id}",
                "resource": orjson.Fragment(m.body),
                "search": {"mode": "match"},
            }
            for m in matches
        ]
    return FhirResponse(200, resource=bundle("searchset", entries, total=len(entries)))


def _count(text: str | None) -> int:
    if text is None:
        return search.LIMITS.max_count
    if not text.isdigit():
        raise error(400, "invalid", f"_count must be a whole number, not '{text[:20]}'", "_count")
    return min(int(text), search.LIMITS.max_count)


def _types(requested: str | None) -> list[str]:
    compartment = ["Patient", *sorted(t for t in compartment_params("Patient") if t != "Patient")]
    if not requested:
        return compartment
    types = [t.strip() for t in requested.split(",") if t.strip()]
    for resource_type in types:
        if not is_resource_type(resource_type) or resource_type not in compartment:
            raise error(400, "invalid", f"'{resource_type[:60]}' is not in the Patient compartment", "_type")
    return types


def _membership(resource_type: str, patient: str) -> Condition:
    if resource_type == "Patient":
        return IdCondition((patient,))
    return CompartmentCondition("Patient", patient, compartment_params("Patient")[resource_type])


def _since(text: str | None) -> Condition | None:
    if text is None:
        return None
    bounds = date_range(text)
    if bounds is None:
        raise error(400, "invalid", f"_since '{text[:40]}' is not a FHIR instant", "_since")
    return RangeCondition("date", "_lastUpdated", "ge", bounds[0], bounds[1])
