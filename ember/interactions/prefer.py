"""The Prefer header (http.html#ops): how much of a written resource to send back."""

from __future__ import annotations

from ember.fhir.outcome import operation_outcome
from ember.interactions.request import FhirResponse

MINIMAL = "minimal"
REPRESENTATION = "representation"
OUTCOME = "OperationOutcome"


def preferred_return(prefer_header: str | None, default: str = REPRESENTATION) -> str:
    """The `return=` preference in a Prefer header, or `default`."""
    for part in (prefer_header or "").split(";"):
        for token in part.split(","):
            name, _, value = token.strip().partition("=")
            if name.strip() == "return" and value.strip().strip('"') in (MINIMAL, REPRESENTATION, OUTCOME):
                return value.strip().strip('"')
    return default


def apply_return_preference(response: FhirResponse, preference: str) -> FhirResponse:
    """Drop the body (minimal) or replace it with an OperationOutcome, as the client prefers."""
    if preference == MINIMAL:
        return FhirResponse(response.status, headers=response.headers)
    if preference == OUTCOME:
        return FhirResponse(response.status, resource=operation_outcome([]), headers=response.headers)
    return response
