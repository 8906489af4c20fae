"""patch: PATCH [base]/[type]/[id] with a JSON Patch (RFC 6902, application/json-patch+json)
or a FHIRPath Patch (a Parameters resource, application/fhir+json or +xml).

The patched resource goes through exactly the same checks as an update, so a patch can never
store what a PUT would have refused.
"""

from __future__ import annotations

from typing import Any

import jsonpatch

from ember.access import AccessContext
from ember.fhir import jsonio
from ember.fhir.fhirpath import FhirPathError
from ember.fhir.fhirpath.patch import FhirPathPatchError, apply_fhirpath_patch
from ember.fhir.outcome import error, not_found
from ember.interactions.observers import write_versions
from ember.interactions.read import deleted_error
from ember.interactions.request import FhirRequest, FhirResponse
from ember.interactions.versioning import now, version_headers
from ember.interactions.writes import check_update, in_transaction, plan_update
from ember.store.base import NewVersion, Store, Transaction


async def handle(ctx: AccessContext, request: FhirRequest, store: Store) -> FhirResponse:
    assert request.resource_type and request.id
    key = (request.resource_type, request.id)

    async def write(transaction: Transaction) -> NewVersion:
        current = (await transaction.current([key])).get(key)
        if current is None:
            raise not_found(*key)
        if current.deleted:
            raise deleted_error(current)
        patched = apply_patch(jsonio.loads(current.body), request.body)
        moment = now()
        checked = check_update(patched, request.id or "", moment)
        planned = plan_update(checked, request.id or "", current, moment, request.headers.get("if-match"))
        await write_versions(ctx, transaction, [planned])
        return planned

    planned = await in_transaction(store, write)
    return FhirResponse(200, body=planned.body, headers=version_headers(planned.as_stored(), request.base_url))


def apply_patch(resource: dict[str, Any], patch: Any) -> dict[str, Any]:
    """Apply a JSON Patch document (an array) or a FHIRPath Patch (a Parameters resource)."""
    if isinstance(patch, dict) and patch.get("resourceType") == "Parameters":
        try:
            return apply_fhirpath_patch(resource, patch)
        except FhirPathError as exc:
            where = exc.expression if isinstance(exc, FhirPathPatchError) else "Parameters"
            raise error(400, "processing", f"The FHIRPath Patch could not be applied: {exc}", where) from None
    if not isinstance(patch, list):
        raise error(400, "structure", "A patch must be a JSON Patch array or a FHIRPath Patch Parameters resource")
    try:
        patched = jsonpatch.JsonPatch(patch).apply(resource)
    except (jsonpatch.JsonPatchTestFailed, jsonpatch.JsonPointerException) as exc:
        raise error(422, "processing", f"The patch could not be applied: {exc}") from None
    except (jsonpatch.InvalidJsonPatch, jsonpatch.JsonPatchException, TypeError, KeyError) as exc:
        raise error(400, "structure", f"Invalid JSON Patch: {exc}") from None
    if not isinstance(patched, dict):
        raise error(422, "processing", "The patch replaced the whole resource with a non-object")
    return patched
