"""Validation of resources on write, against the FHIR R4 structure model.

`validate_resource` returns every issue it finds, each located by a FHIRPath expression
(`Patient.name[0].given[1]`, `Observation.valueQuantity.value`), so a client fixes a payload in
one round trip. It checks: the resource type; unknown elements at any depth; JSON types, arrays
and nulls; cardinality; primitive formats (official regexes, 32-bit integer ranges, real calendar
days); primitive extensions (`_birthDate`); one type per choice element; Reference formats and
target types; codes of required bindings; contained resources (dom-2, local `#id` references);
the narrative div; and the resource type and id the URL expects. It never raises on any JSON
value: hostile nesting and huge arrays come back as issues. FHIRPath invariants are not
evaluated here. docs/validation.md lists the details, the value sets left unchecked and the
measured cost.
"""

from __future__ import annotations

from typing import Any

from ember.fhir import model
from ember.fhir.outcome import FhirError, Issue
from ember.fhir.validation.primitives import preview
from ember.fhir.validation.walker import MAX_ISSUES, TooManyIssues, Walker

__all__ = ["raise_for_issues", "validate_resource"]

_ERROR_SEVERITIES = frozenset({"fatal", "error"})


def validate_resource(
    resource: Any, *, expected_type: str | None = None, expected_id: str | None = None
) -> list[Issue]:
    """Every issue of `resource`, a parsed FHIR JSON value; an empty list when it is valid.

    `expected_type` and `expected_id` are what the URL says (`PUT /Patient/123`): a body of
    another type, or with another id, is reported as "invalid".
    """
    if type(resource) is not dict:
        return [Issue(code="structure", diagnostics="The body must be a JSON object holding a FHIR resource")]
    resource_type = resource.get("resourceType")
    root = expected_type or "Resource"
    if isinstance(resource_type, str) and model.is_resource_type(resource_type):
        root = resource_type
    walker = Walker()
    try:
        walker.resource(resource, (None, root, None), 0)
    except TooManyIssues:
        walker.issues.append(Issue(code="too-costly", diagnostics=f"Validation stopped after {MAX_ISSUES} issues"))
    issues = walker.issues
    if expected_type is not None and resource_type != expected_type:
        message = f"resourceType must be '{expected_type}' (the type in the URL), found {preview(resource_type)}"
        issues.append(Issue(code="invalid", diagnostics=message, expression=(root,)))
    if expected_id is not None:
        issues.extend(_id_issues(resource.get("id"), expected_id, root))
    return issues


def _id_issues(resource_id: Any, expected_id: str, root: str) -> list[Issue]:
    expression = (f"{root}.id",)
    if resource_id is None:
        message = f"The resource must carry the id of the URL ('{expected_id}')"
        return [Issue(code="required", diagnostics=message, expression=expression)]
    if resource_id != expected_id:
        message = f"The id in the body ({preview(resource_id)}) differs from the id in the URL ('{expected_id}')"
        return [Issue(code="invalid", diagnostics=message, expression=expression)]
    return []


def raise_for_issues(issues: list[Issue]) -> None:
    """Raise FhirError(400) carrying all `issues` when one of them is an error.

    400 is right for what this module finds (the payload is malformed for the spec). A caller that
    runs business rules or profile checks on a structurally valid resource should raise 422
    (Unprocessable Entity) itself, as the FHIR REST specification asks.
    """
    if any(issue.severity in _ERROR_SEVERITIES for issue in issues):
        raise FhirError(400, issues)
