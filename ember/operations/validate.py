"""$validate: the checks a create or update would run, reported without storing anything.

Accepts the resource itself as the body, or a Parameters resource with a `resource` parameter
(as the spec's OperationDefinition describes). The answer is always an OperationOutcome with
status 200; a failed validation is reported in its issues, not as an HTTP error.
"""

from __future__ import annotations

from typing import Any

from ember.access import AccessContext
from ember.fhir.outcome import error, operation_outcome
from ember.fhir.validation import check_resource
from ember.interactions.request import FhirRequest, FhirResponse
from ember.store.base import Store


async def handle(ctx: AccessContext, request: FhirRequest, store: Store) -> FhirResponse:
    resource = _resource_to_validate(request.body, request.resource_type)
    issues = check_resource(resource, expected_type=request.resource_type, expected_id=request.id)
    return FhirResponse(200, resource=operation_outcome(issues))


def _resource_to_validate(body: Any, resource_type: str | None) -> Any:
    if isinstance(body, dict) and body.get("resourceType") == "Parameters" and resource_type != "Parameters":
        for parameter in body.get("parameter", []):
            if isinstance(parameter, dict) and parameter.get("name") == "resource":
                return parameter.get("resource")
        raise error(400, "required", "Parameters must contain a 'resource' parameter", "Parameters.parameter")
    if body is None:
        raise error(400, "required", "$validate needs a resource in the request body")
    return body
