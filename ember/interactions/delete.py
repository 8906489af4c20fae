"""delete: DELETE [base]/[type]/[id]; history keeps a deletion marker, later reads are 410."""

from __future__ import annotations

from ember.access import AccessContext
from ember.interactions.observers import write_versions
from ember.interactions.request import FhirRequest, FhirResponse
from ember.interactions.versioning import etag, now
from ember.interactions.writes import in_transaction, plan_delete
from ember.store.base import NewVersion, Store, Transaction


async def handle(ctx: AccessContext, request: FhirRequest, store: Store) -> FhirResponse:
    key = (request.resource_type or "", request.id or "")
    planned = await in_transaction(store, lambda tx: write_delete(ctx, tx, key, request.headers.get("if-match")))
    return delete_response(planned)


async def write_delete(
    ctx: AccessContext, transaction: Transaction, key: tuple[str, str], if_match: str | None
) -> NewVersion | None:
    """Append a deletion marker for `key` inside `transaction` (None: nothing to delete)."""
    current = (await transaction.current([key])).get(key)
    planned = plan_delete(*key, current, now(), if_match)
    if planned is not None:
        await write_versions(ctx, transaction, [planned])
    return planned


def delete_response(planned: NewVersion | None) -> FhirResponse:
    return FhirResponse(204, headers={"etag": etag(planned.version)} if planned else {})
