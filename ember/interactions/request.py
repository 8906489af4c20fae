"""The plain values that cross from the HTTP edge into the services and back.

No Starlette object goes below the edge: it turns a request into a FhirRequest (already parsed
and converted to a JSON-shaped dict, whatever the wire format) and renders the FhirResponse.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ember.access import AccessContext
from ember.store.base import Store


@dataclass(slots=True)
class FhirRequest:
    """One FHIR interaction, independent of how it arrived (HTTP, a Bundle entry, the CLI)."""

    interaction: str
    resource_type: str | None = None
    id: str | None = None
    version_id: str | None = None
    operation: str | None = None
    params: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    base_url: str = ""
    method: str = "GET"
    #: (compartment type, id) of a compartment search: GET [base]/Patient/123/Observation.
    compartment: tuple[str, str] | None = None

    def param(self, name: str) -> str | None:
        """The last value of a query parameter, or None."""
        for key, value in reversed(self.params):
            if key == name:
                return value
        return None


@dataclass(slots=True)
class FhirResponse:
    """A result to render. `body` holds stored canonical JSON bytes of `resource` when the
    edge can send them as they are; `resource` is the dict form when it was built here."""

    status: int = 200
    resource: dict[str, Any] | None = None
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[AccessContext, FhirRequest, Store], Awaitable[FhirResponse]]
