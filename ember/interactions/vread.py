"""vread: GET [base]/[type]/[id]/_history/[vid]."""

from __future__ import annotations

from ember.access import AccessContext
from ember.fhir.outcome import error
from ember.interactions.read import deleted_error
from ember.interactions.request import FhirRequest, FhirResponse
from ember.interactions.versioning import version_headers
from ember.store.base import Store


async def handle(ctx: AccessContext, request: FhirRequest, store: Store) -> FhirResponse:
    assert request.resource_type and request.id and request.version_id is not None
    label = f"{request.resource_type}/{request.id}/_history/{request.version_id[:20]}"
    if not request.version_id.isdigit() or len(request.version_id) > 18:
        raise error(404, "not-found", f"Version {label} is not known")
    stored = await store.vread(ctx, request.resource_type, request.id, int(request.version_id))
    if stored is None:
        raise error(404, "not-found", f"Version {label} is not known")
    if stored.deleted:
        raise deleted_error(stored)
    return FhirResponse(200, body=stored.body, headers=version_headers(stored, request.base_url))
