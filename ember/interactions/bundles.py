"""Building response Bundles around stored bodies without parsing them again.

Stored bodies are canonical JSON already, so a Bundle embeds them as orjson Fragments: the
serialiser copies the bytes in, which keeps history and search pages cheap.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import orjson

from ember.interactions.versioning import etag, fhir_instant
from ember.store.base import StoredVersion


def entry_for(stored: StoredVersion, base_url: str) -> dict[str, Any]:
    """A Bundle entry with fullUrl and the stored resource."""
    return {
        "fullUrl": f"{base_url}/{stored.resource_type}/{stored.id}",
        "resource": orjson.Fragment(stored.body),
    }


def history_entry(stored: StoredVersion, base_url: str) -> dict[str, Any]:
    """A history entry: the version plus the request that produced it and its outcome.

    The store keeps no method column, so it is inferred: version 1 was a create (POST), a
    deletion marker a DELETE, anything else an update (PUT).
    """
    url = f"{stored.resource_type}/{stored.id}"
    response = {"etag": etag(stored.version), "lastModified": fhir_instant(stored.last_updated)}
    if stored.deleted:
        return {
            "fullUrl": f"{base_url}/{url}",
            "request": {"method": "DELETE", "url": url},
            "response": {"status": "204 No Content", **response},
        }
    entry = entry_for(stored, base_url)
    if stored.version == 1:
        entry["request"] = {"method": "POST", "url": stored.resource_type}
        entry["response"] = {"status": "201 Created", **response}
    else:
        entry["request"] = {"method": "PUT", "url": url}
        entry["response"] = {"status": "200 OK", **response}
    return entry


def link(relation: str, url: str, params: list[tuple[str, str]]) -> dict[str, str]:
    query = urlencode(params)
    return {"relation": relation, "url": f"{url}?{query}" if query else url}


def bundle(bundle_type: str, entries: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": "Bundle", "type": bundle_type}
    resource.update(extra)
    if entries:  # FHIR JSON has no empty arrays
        resource["entry"] = entries
    return resource
