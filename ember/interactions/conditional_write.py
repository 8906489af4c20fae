"""Conditional update and delete: PUT / DELETE [base]/[type]?criteria (http.html#cond-update).

The criteria are resolved inside the same store transaction as the write, so the match and
the write see one state (see conditional.py for the criteria supported).
"""

from __future__ import annotations

from urllib.parse import urlencode

from ember.access import AccessContext
from ember.fhir.outcome import error
from ember.interactions.conditional import matching_ids
from ember.interactions.delete import delete_response, write_delete
from ember.interactions.request import FhirRequest, FhirResponse
from ember.interactions.update import check_in_transaction, update_response, write_update
from ember.interactions.versioning import new_id, now
from ember.interactions.writes import in_transaction, require_resource
from ember.store.base import NewVersion, Store, Transaction


async def handle_update(ctx: AccessContext, request: FhirRequest, store: Store) -> FhirResponse:
    """No match: create (with the body's id, or a new one); one match: update it; several: 412."""

    resource_type = request.resource_type or ""
    resource = dict(require_resource(request.body, resource_type, resource_type))
    moment = now()

    async def write(transaction: Transaction) -> NewVersion:
        ids = await _single_match(transaction, request)
        body_id = resource.get("id")
        if ids and body_id is not None and body_id != next(iter(ids)):
            message = f"The body id '{body_id}' differs from the matched resource '{next(iter(ids))}'"
            raise error(400, "invalid", message, f"{resource_type}.id")
        target = next(iter(ids)) if ids else (body_id or new_id())
        resource["id"] = target
        checked = await check_in_transaction(transaction, resource, target, moment)
        return await write_update(ctx, transaction, checked, target, request.headers.get("if-match"), moment)

    return update_response(await in_transaction(store, write), request.base_url)


async def handle_delete(ctx: AccessContext, request: FhirRequest, store: Store) -> FhirResponse:
    """Deletes the one match (nothing to do for none); several matches are 412."""

    async def write(transaction: Transaction) -> NewVersion | None:
        ids = await _single_match(transaction, request)
        if not ids:
            return None
        return await write_delete(
            ctx, transaction, (request.resource_type or "", ids.pop()), request.headers.get("if-match")
        )

    return delete_response(await in_transaction(store, write))


async def _single_match(transaction: Transaction, request: FhirRequest) -> set[str]:
    if not request.params:
        raise error(400, "invalid", f"Conditional {request.method} needs search criteria in the URL")
    ids = await matching_ids(transaction, request.resource_type or "", urlencode(request.params), "url")
    if len(ids) > 1:
        raise error(412, "multiple-matches", f"The criteria match {len(ids)} resources; refine them")
    return ids
