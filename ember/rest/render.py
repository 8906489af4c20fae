"""Turning a FhirResponse into HTTP bytes in the format and shape the client asked for.

The common case (JSON, whole resource) sends stored bytes untouched. Anything else (XML,
_pretty, _summary, _elements) parses once, reshapes, and serialises.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ember.fhir import jsonio
from ember.fhir.outcome import FhirError, error
from ember.fhir.summary import SUMMARY_MODES, select_elements, summarize
from ember.fhir.xml import json_to_xml
from ember.interactions.request import FhirResponse
from ember.rest.formats import JSON, XML
from ember.rest.wire import WireResponse

_JSON_MEDIA = JSON + "; charset=utf-8"
_XML_MEDIA = XML + "; charset=utf-8"
#: Bundles whose entries, not the Bundle itself, are what _summary/_elements shape.
_RESULT_BUNDLES = frozenset({"searchset", "history"})


@dataclass(frozen=True, slots=True)
class Representation:
    """What the client asked the answer to look like."""

    format: str = JSON
    pretty: bool = False
    summary: str | None = None
    elements: tuple[str, ...] = ()

    @classmethod
    def from_params(cls, fmt: str, pretty: str | None, summary: str | None, elements: str | None) -> Representation:
        if summary is not None and summary not in SUMMARY_MODES:
            raise error(400, "value", f"Invalid _summary '{summary[:40]}': one of {', '.join(sorted(SUMMARY_MODES))}")
        names = tuple(name.strip() for name in elements.split(",")) if elements else ()
        return cls(fmt, pretty == "true", summary if summary not in (None, "false") else None, names)

    @property
    def is_plain_json(self) -> bool:
        return self.format == JSON and not self.pretty and self.summary is None and not self.elements


def render(response: FhirResponse, representation: Representation) -> WireResponse:
    headers = response.headers
    if response.body is None and response.resource is None:
        return WireResponse(response.status, headers=headers)
    if representation.is_plain_json:
        body = response.body if response.body is not None else jsonio.dumps(response.resource)
        return WireResponse(response.status, body, _JSON_MEDIA, headers)
    resource = jsonio.loads(response.body if response.body is not None else jsonio.dumps(response.resource))
    resource = _shape(resource, representation)
    if representation.format == XML:
        return WireResponse(response.status, json_to_xml(resource, pretty=representation.pretty), _XML_MEDIA, headers)
    return WireResponse(response.status, jsonio.dumps(resource, pretty=representation.pretty), _JSON_MEDIA, headers)


def render_error(failure: FhirError, representation: Representation) -> WireResponse:
    plain = Representation(representation.format, representation.pretty)
    return render(FhirResponse(failure.status, resource=failure.outcome(), headers=failure.headers), plain)


def _shape(resource: dict[str, Any], representation: Representation) -> dict[str, Any]:
    if representation.summary is None and not representation.elements:
        return resource
    if resource.get("resourceType") == "Bundle" and resource.get("type") in _RESULT_BUNDLES:
        for entry in resource.get("entry", []):
            if "resource" in entry:
                entry["resource"] = _shape_one(entry["resource"], representation)
        return resource
    return _shape_one(resource, representation)


def _shape_one(resource: dict[str, Any], representation: Representation) -> dict[str, Any]:
    if representation.summary is not None:
        return summarize(resource, representation.summary)
    return select_elements(resource, representation.elements)
