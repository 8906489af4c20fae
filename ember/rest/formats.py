"""Content negotiation: which wire format a request body uses and which one to answer in."""

from __future__ import annotations

from typing import Any

from ember.fhir import jsonio
from ember.fhir.outcome import error
from ember.fhir.xml import xml_to_json

JSON = "application/fhir+json"
XML = "application/fhir+xml"
JSON_PATCH = "application/json-patch+json"
FORM = "application/x-www-form-urlencoded"

_JSON_TYPES = frozenset({JSON, "application/json", "application/json+fhir", "text/json"})
_XML_TYPES = frozenset({XML, "application/xml", "application/xml+fhir", "text/xml"})
_FORMAT_ALIASES = {"json": JSON, "xml": XML, "html": JSON, "text/html": JSON}


def media_type(header: str) -> str:
    """`application/fhir+json; charset=utf-8` -> `application/fhir+json`."""
    return header.split(";", 1)[0].strip().lower()


def parse_body(raw: bytes, content_type: str | None) -> Any:
    """The request body as JSON-shaped data (FHIR XML is converted), or 415 for other types."""
    kind = media_type(content_type or JSON)
    if kind in _JSON_TYPES or kind == JSON_PATCH:
        return jsonio.loads(raw)
    if kind in _XML_TYPES:
        return xml_to_json(raw)
    raise error(415, "not-supported", f"Unsupported Content-Type '{kind[:80]}': use {JSON} or {XML}")


def response_format(format_param: str | None, accept: str | None) -> str:
    """JSON or XML, from `_format` first, then the Accept header; JSON when unspecified."""
    if format_param:
        wanted = media_type(format_param)
        wanted = _FORMAT_ALIASES.get(wanted, wanted)
        if wanted in _XML_TYPES:
            return XML
        if wanted in _JSON_TYPES:
            return JSON
        raise error(406, "not-supported", f"Unsupported _format '{format_param[:80]}'")
    if accept:
        for candidate in accept.split(","):
            kind = media_type(candidate)
            if kind in _XML_TYPES:
                return XML
            if kind in _JSON_TYPES or kind in ("*/*", "application/*"):
                return JSON
    return JSON
