"""delete: DELETE [base]/[type]/[id]; history keeps a deletion marker, later reads are 410."""

from __future__ import annotations

from ember.access import AccessContext
from ember.interactions.request import FhirRequest, FhirResponse
from ember.interactions.versioning import etag, now
from ember.interactions.writes import in_transaction, plan_delete
from ember.store.base import NewVersion, Store, Transaction


async def handle(ctx: AccessContext, request: FhirRequest, store: Store) -> FhirResponse:
    assert request.resource_type and request.id
    key = (request.resource_type, request.id)

    async def write(transaction: Transaction) -> NewVersion | None:
        current = (await transaction.current([key])).get(key)
        planned = plan_delete(*key, current, now(), request.headers.get("if-match"))
        if planned is not None:
            await transaction.write([planned])
        return planned

    planned = await in_transaction(store, write)
    headers = {"ETag": etag(planned.version)} if planned else {}
    return FhirResponse(204, headers=headers)
