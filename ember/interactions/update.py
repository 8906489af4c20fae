"""update: PUT [base]/[type]/[id]; creates the resource when the id is new (update as create)."""

from __future__ import annotations

from ember.access import AccessContext
from ember.interactions.conditional import resolve_conditional_references
from ember.interactions.request import FhirRequest, FhirResponse
from ember.interactions.versioning import now, version_headers
from ember.interactions.writes import in_transaction, plan_update, require_resource
from ember.store.base import NewVersion, Store, Transaction


async def handle(ctx: AccessContext, request: FhirRequest, store: Store) -> FhirResponse:
    assert request.resource_type and request.id
    resource_type, resource_id = request.resource_type, request.id

    async def write(transaction: Transaction) -> NewVersion:
        resource = dict(require_resource(request.body, resource_type, resource_type))
        await resolve_conditional_references(transaction, resource, resource_type)
        current = (await transaction.current([(resource_type, resource_id)])).get((resource_type, resource_id))
        planned = plan_update(resource, resource_id, current, now(), request.headers.get("if-match"))
        await transaction.write([planned])
        return planned

    planned = await in_transaction(store, write)
    created = planned.version == 1
    headers = version_headers(planned.as_stored(), request.base_url, location=created)
    return FhirResponse(201 if created else 200, body=planned.body, headers=headers)
