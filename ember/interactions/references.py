"""Transaction identity: give every urn:uuid / urn:oid fullUrl its server id and point every
reference in the Bundle at it (http.html#trules "resolving references")."""

from __future__ import annotations

from typing import Any

from ember.fhir.outcome import FhirError, Issue, error
from ember.interactions.bundle_entries import BundleEntry
from ember.interactions.versioning import new_id

_PLACEHOLDER_PREFIXES = ("urn:uuid:", "urn:oid:")


def assign_identities(entries: list[BundleEntry]) -> dict[str, str]:
    """fullUrl -> `Type/id` for every entry that creates or updates a resource.

    POSTed resources get fresh ids now, so references can be rewritten before anything is
    written; a fullUrl used twice makes the Bundle ambiguous and is refused.
    """
    identities: dict[str, str] = {}
    for entry in entries:
        request = entry.request
        if request.interaction == "create":
            request.id = new_id()
        if entry.full_url is None or request.method not in ("POST", "PUT"):
            continue
        if entry.full_url in identities:
            raise error(400, "invalid", f"Duplicate fullUrl '{entry.full_url[:100]}'", f"{entry.location}.fullUrl")
        if request.id is not None:
            identities[entry.full_url] = f"{request.resource_type}/{request.id}"
    return identities


def rewrite_references(resource: Any, identities: dict[str, str], where: str) -> None:
    """Replace references to Bundle fullUrls in place; a urn: reference to nothing is a 400."""
    issues: list[Issue] = []
    stack: list[tuple[Any, str]] = [(resource, where)]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict):
            reference = node.get("reference")
            if isinstance(reference, str):
                target = identities.get(reference)
                if target is not None:
                    node["reference"] = target
                elif reference.startswith(_PLACEHOLDER_PREFIXES):
                    issues.append(
                        Issue("not-found", f"Reference '{reference[:100]}' matches no entry fullUrl", "error", (f"{path}.reference",))
                    )
            stack.extend((value, f"{path}.{key}") for key, value in node.items() if isinstance(value, (dict, list)))
        elif isinstance(node, list):
            stack.extend((value, f"{path}[{index}]") for index, value in enumerate(node) if isinstance(value, (dict, list)))
    if issues:
        raise FhirError(400, issues)
