"""create: POST [base]/[type]; the server assigns the id and version 1.

With `If-None-Exist: criteria` it is a conditional create: an existing match is returned
instead (200), more than one match is 412.
"""

from __future__ import annotations

from ember.access import AccessContext
from ember.fhir.outcome import error
from ember.fhir.reference_walk import references_in
from ember.interactions.conditional import has_conditional_reference, matching_ids, resolve_conditional_references
from ember.interactions.observers import write_versions
from ember.interactions.request import FhirRequest, FhirResponse
from ember.interactions.versioning import now, version_headers
from ember.interactions.writes import check_create, in_transaction, plan_create, require_resource
from ember.store.base import Lookups, Store, StoredVersion, Transaction


async def handle(ctx: AccessContext, request: FhirRequest, store: Store) -> FhirResponse:
    resource_type = request.resource_type or ""
    resource = require_resource(request.body, resource_type, resource_type)
    criteria = request.headers.get("if-none-exist")
    moment = now()
    body = dict(resource)
    references = references_in(body)
    # Checked before the store transaction unless what the store holds can change the outcome.
    early = None if criteria is not None or has_conditional_reference(references) else check_create(body, moment)

    async def write(transaction: Transaction) -> tuple[StoredVersion, bool]:
        if criteria is not None:
            existing = await existing_match(transaction, resource_type, criteria)
            if existing is not None:
                return existing, False
        checked = early
        if checked is None:
            await resolve_conditional_references(transaction, body, resource_type, references)
            checked = check_create(body, moment)
        planned = plan_create(checked, moment, resource_id=request.id)
        await write_versions(ctx, transaction, [planned])
        return planned.as_stored(), True

    stored, created = await in_transaction(store, write)
    headers = version_headers(stored, request.base_url, location=True)
    return FhirResponse(201 if created else 200, body=stored.body, headers=headers)


async def existing_match(
    lookups: Lookups, resource_type: str, criteria: str, where: str = "If-None-Exist"
) -> StoredVersion | None:
    """The one resource matching If-None-Exist criteria, None for no match, 412 for several."""
    ids = await matching_ids(lookups, resource_type, criteria.removeprefix(f"{resource_type}?"), where)
    if len(ids) > 1:
        raise error(412, "multiple-matches", f"If-None-Exist criteria match {len(ids)} resources", where)
    if not ids:
        return None
    key = (resource_type, ids.pop())
    return (await lookups.current([key]))[key]
