"""update: PUT [base]/[type]/[id]; creates the resource when the id is new (update as create)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ember.access import AccessContext
from ember.fhir.reference_walk import references_in
from ember.interactions.conditional import has_conditional_reference, resolve_conditional_references
from ember.interactions.observers import write_versions
from ember.interactions.request import FhirRequest, FhirResponse
from ember.interactions.versioning import now, version_headers
from ember.interactions.writes import CheckedResource, check_update, in_transaction, plan_update, require_resource
from ember.store.base import NewVersion, Store, Transaction


async def handle(ctx: AccessContext, request: FhirRequest, store: Store) -> FhirResponse:
    resource_id = request.id or ""
    resource_type = request.resource_type or ""
    resource = dict(require_resource(request.body, resource_type, resource_type))
    references = references_in(resource)
    moment = now()
    # Checked before the store transaction unless a conditional reference makes it depend on the store.
    early = None if has_conditional_reference(references) else check_update(resource, resource_id, moment)

    async def write(transaction: Transaction) -> NewVersion:
        checked = early or await check_in_transaction(transaction, resource, resource_id, moment, references)
        return await write_update(ctx, transaction, checked, resource_id, request.headers.get("if-match"), moment)

    planned = await in_transaction(store, write)
    return update_response(planned, request.base_url)


async def check_in_transaction(
    transaction: Transaction,
    resource: dict[str, Any],
    resource_id: str,
    moment: datetime,
    references: list[dict[str, Any]] | None = None,
) -> CheckedResource:
    """Resolve the resource's conditional references in the store, then check it."""
    await resolve_conditional_references(transaction, resource, resource["resourceType"], references)
    return check_update(resource, resource_id, moment)


async def write_update(
    ctx: AccessContext,
    transaction: Transaction,
    checked: CheckedResource,
    resource_id: str,
    if_match: str | None,
    moment: datetime,
) -> NewVersion:
    """Write a checked resource as the next version of `resource_id`, inside `transaction`."""
    key = (checked.resource["resourceType"], resource_id)
    current = (await transaction.current([key])).get(key)
    planned = plan_update(checked, resource_id, current, moment, if_match)
    await write_versions(ctx, transaction, [planned])
    return planned


def update_response(planned: NewVersion, base_url: str) -> FhirResponse:
    created = planned.version == 1
    headers = version_headers(planned.as_stored(), base_url, location=created)
    return FhirResponse(201 if created else 200, body=planned.body, headers=headers)
