"""Validation of resources on write, against the FHIR R4 structure model.

`validate_resource` returns every issue it finds, each located by a FHIRPath expression
(`Patient.name[0].given[1]`, `Observation.valueQuantity.value`), so a client fixes a payload in
one round trip. It checks: the resource type; unknown elements at any depth; JSON types, arrays
and nulls; cardinality; primitive formats (official regexes, 32-bit integer ranges, real calendar
days); primitive extensions (`_birthDate`); one type per choice element; Reference formats and
target types; codes of required bindings; contained resources (dom-2, local `#id` references);
the narrative div; and the resource type and id the URL expects. It never raises on any JSON
value: hostile nesting and huge arrays come back as issues. `check_resource` adds the FHIRPath
invariants of the R4 definitions (ember/fhir/invariants) once the structure is sound.
docs/validation.md lists the details, the value sets left unchecked and the measured cost.
"""

from __future__ import annotations

from typing import Any

from ember.fhir import model
from ember.fhir.invariants import check_invariants
from ember.fhir.outcome import FhirError, Issue
from ember.fhir.validation.primitives import preview
from ember.fhir.validation.walker import MAX_ISSUES, TooManyIssues, Walker

__all__ = ["check_resource", "raise_for_issues", "validate_resource"]

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


def check_resource(resource: Any, *, expected_type: str | None = None, expected_id: str | None = None) -> list[Issue]:
    """Structure first, then invariants: a constraint is only meaningful on a sound structure."""
    issues = validate_resource(resource, expected_type=expected_type, expected_id=expected_id)
    if not any(issue.severity in _ERROR_SEVERITIES for issue in issues):
        issues += check_invariants(resource)
    return issues


def raise_for_issues(issues: list[Issue]) -> None:
    """Raise a FhirError carrying all `issues` when one of them is an error.

    400 when the payload is malformed for the spec (structure, formats, bindings); 422
    (Unprocessable Entity) when it is well formed but breaks an invariant, a business rule, as
    the FHIR REST specification asks. Warnings alone never refuse a write.
    """
    errors = [issue for issue in issues if issue.severity in _ERROR_SEVERITIES]
    if errors:
        status = 422 if all(issue.code == "invariant" for issue in errors) else 400
        raise FhirError(status, errors)
