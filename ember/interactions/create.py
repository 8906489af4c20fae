"""create: POST [base]/[type]; the server assigns the id and version 1."""

from __future__ import annotations

from ember.access import AccessContext
from ember.interactions.request import FhirRequest, FhirResponse
from ember.interactions.versioning import now, version_headers
from ember.interactions.writes import plan_create, require_resource
from ember.store.base import Store


async def handle(ctx: AccessContext, request: FhirRequest, store: Store) -> FhirResponse:
    assert request.resource_type
    resource = require_resource(request.body, request.resource_type, request.resource_type)
    planned = plan_create(resource, now())
    async with store.transaction() as transaction:
        await transaction.write([planned])
    headers = version_headers(planned.as_stored(), request.base_url, location=True)
    return FhirResponse(201, resource=resource, body=planned.body, headers=headers)
