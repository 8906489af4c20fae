"""update: PUT [base]/[type]/[id]; creates the resource when the id is new (update as create)."""

from __future__ import annotations

from ember.access import AccessContext
from ember.interactions.conditional import resolve_conditional_references
from ember.interactions.observers import write_versions
from ember.interactions.request import FhirRequest, FhirResponse
from ember.interactions.versioning import now, version_headers
from ember.interactions.writes import in_transaction, plan_update, require_resource
from ember.store.base import NewVersion, Store, Transaction


async def handle(ctx: AccessContext, request: FhirRequest, store: Store) -> FhirResponse:
    resource_id = request.id or ""
    planned = await in_transaction(store, lambda transaction: write_update(ctx, transaction, request, resource_id))
    return update_response(planned, request.base_url)


async def write_update(
    ctx: AccessContext, transaction: Transaction, request: FhirRequest, resource_id: str
) -> NewVersion:
    """Write the request's resource as the next version of `resource_id`, inside `transaction`."""
    resource_type = request.resource_type or ""
    resource = dict(require_resource(request.body, resource_type, resource_type))
    await resolve_conditional_references(transaction, resource, resource_type)
    key = (resource_type, resource_id)
    current = (await transaction.current([key])).get(key)
    planned = plan_update(resource, resource_id, current, now(), request.headers.get("if-match"))
    await write_versions(ctx, transaction, [planned])
    return planned


def update_response(planned: NewVersion, base_url: str) -> FhirResponse:
    created = planned.version == 1
    headers = version_headers(planned.as_stored(), base_url, location=created)
    return FhirResponse(201 if created else 200, body=planned.body, headers=headers)
