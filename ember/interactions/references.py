"""Transaction identity: give every urn:uuid / urn:oid fullUrl its server id and point every
reference in the Bundle at it (http.html#trules "resolving references")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ember.fhir.outcome import FhirError, Issue, error
from ember.fhir.reference_walk import location_of, references_in
from ember.interactions.bundle_entries import BundleEntry

_PLACEHOLDER_PREFIXES = ("urn:uuid:", "urn:oid:")


def assign_identities(
    entries: list[BundleEntry], existing: dict[int, str], fresh_id: Callable[[int], str]
) -> dict[str, str]:
    """fullUrl -> `Type/id` for every entry that creates or updates a resource.

    POSTed resources get fresh ids now (`fresh_id(entry index)`), so references can be
    rewritten before anything is written, except conditional creates that matched a resource
    (`existing`, by entry index), whose fullUrl then means that resource. A fullUrl used twice
    is ambiguous and refused.
    """
    identities: dict[str, str] = {}
    for entry in entries:
        request = entry.request
        if entry.index in existing:
            request.resource_type, _, request.id = existing[entry.index].partition("/")
        elif request.interaction == "create" and request.id is None:
            request.id = fresh_id(entry.index)
        if entry.full_url is None or request.method not in ("POST", "PUT"):
            continue
        if entry.full_url in identities:
            raise error(400, "invalid", f"Duplicate fullUrl '{entry.full_url[:100]}'", f"{entry.location}.fullUrl")
        if request.id is not None:
            identities[entry.full_url] = f"{request.resource_type}/{request.id}"
    return identities


def rewrite_references(
    resource: Any, identities: dict[str, str], where: str, references: list[dict[str, Any]] | None = None
) -> None:
    """Replace references to Bundle fullUrls in place; a urn: reference to nothing is a 400.
    `references` are the resource's reference objects when the caller has found them already."""
    issues: list[Issue] = []
    for node in references_in(resource) if references is None else references:
        reference = node["reference"]
        target = identities.get(reference)
        if target is not None:
            node["reference"] = target
        elif reference.startswith(_PLACEHOLDER_PREFIXES):
            message = f"Reference '{reference[:100]}' matches no entry fullUrl"
            location = f"{location_of(resource, node, where)}.reference"
            issues.append(Issue("not-found", message, "error", (location,)))
    if issues:
        raise FhirError(400, issues)
