"""The forms `Reference.reference` may take, and the resource type each one names.

Accepted forms: a relative `Type/id` (optionally `/_history/vid`), an absolute URL (whose
trailing `Type/id`, when it has one, is taken as the type), a `#id` fragment naming a contained
resource (`#` alone names the container), `urn:uuid:` and `urn:oid:` (placeholders a transaction
Bundle resolves) and a conditional `Type?query` (also resolved by transactions).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ember.fhir import model

_ID = r"[A-Za-z0-9\-\.]{1,64}"
_RELATIVE = re.compile(rf"([A-Z][A-Za-z]+)/{_ID}(?:/_history/{_ID})?")
_ABSOLUTE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s/?#]+\S*")
_ABSOLUTE_TAIL = re.compile(rf"/([A-Z][A-Za-z]+)/{_ID}(?:/_history/{_ID})?")
_CONDITIONAL = re.compile(r"([A-Z][A-Za-z]+)\?\S+")
_FRAGMENT = re.compile(rf"#(?:{_ID})?")
_UUID = re.compile(r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_OID = re.compile(r"urn:oid:[0-2](\.(0|[1-9][0-9]*))+")


@dataclass(frozen=True, slots=True)
class ParsedReference:
    """What a reference string says: the type it names (when it names one) and, for a local
    reference, the id of the contained resource (the empty string for the container itself)."""

    resource_type: str | None = None
    fragment: str | None = None


_UNTYPED = ParsedReference()


def parse(reference: str) -> ParsedReference | str:
    """The parsed reference, or a message saying why the string is not a valid reference."""
    first = reference[0]
    if first == "#":
        if _FRAGMENT.fullmatch(reference) is None:
            return f"'{reference[:100]}' is not a valid local reference to a contained resource"
        return ParsedReference(fragment=reference[1:])
    if reference.startswith("urn:"):
        if _UUID.fullmatch(reference) is None and _OID.fullmatch(reference) is None:
            return f"'{reference[:100]}' is neither a urn:uuid: nor a urn:oid: reference"
        return _UNTYPED
    match = _RELATIVE.fullmatch(reference) or _CONDITIONAL.fullmatch(reference)
    if match is not None:
        return _typed(match.group(1), reference)
    if _ABSOLUTE.fullmatch(reference) is not None:
        tail = _ABSOLUTE_TAIL.search(reference)
        if tail is not None and tail.end() == len(reference) and model.is_resource_type(tail.group(1)):
            return ParsedReference(resource_type=tail.group(1))
        return _UNTYPED
    return f"'{reference[:100]}' is not a valid reference (Type/id, absolute URL, #id, urn:uuid: or Type?query)"


def _typed(resource_type: str, reference: str) -> ParsedReference | str:
    if not model.is_resource_type(resource_type):
        return f"'{resource_type}' in reference '{reference[:100]}' is not a resource type"
    return ParsedReference(resource_type=resource_type)
