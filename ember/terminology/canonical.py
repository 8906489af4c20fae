"""Find users' CodeSystem, ValueSet and ConceptMap resources by canonical url, kept by a write observer.

Terminology operations name their inputs by canonical url (`system`, `url`, `valueSet`), while the
store finds resources by id. `track_terminology_writes` runs inside every write's transaction
(ember.interactions.observers) and keeps two kinds of records in step with the data:
  "terminology-canonical" "<type> <url>"  -> {"type", "id", "version", "canonicalVersion"}
  "terminology-resource"  "<type>/<id>"   -> {"url", "version"}
and, for a CodeSystem, its stored is-a closure (ember.store.terminology_index). Other resource
types cost one set lookup.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from ember.store import terminology_index
from ember.store.base import NewVersion, Transaction
from ember.terminology.concepts import index_code_system

CANONICAL = "terminology-canonical"
RESOURCE = "terminology-resource"
TERMINOLOGY_TYPES = frozenset({"CodeSystem", "ValueSet", "ConceptMap"})


def canonical_key(resource_type: str, url: str) -> str:
    return f"{resource_type} {url}"


async def track_terminology_writes(tx: Transaction, versions: Sequence[NewVersion]) -> None:
    """The write observer: bring the canonical records and closures up to date."""
    latest = {(v.resource_type, v.id): v for v in versions if v.resource_type in TERMINOLOGY_TYPES}
    for version in latest.values():
        await _track(tx, version)


async def _track(tx: Transaction, version: NewVersion) -> None:
    ref = f"{version.resource_type}/{version.id}"
    body: dict[str, Any] = {} if version.deleted else orjson.loads(version.body)
    url = body.get("url") if isinstance(body.get("url"), str) else None
    previous = await tx.get_record(RESOURCE, ref)
    if previous is not None and previous["url"] != url:
        await _forget(tx, version.resource_type, version.id, previous["url"])
    if url is None:
        await tx.delete_record(RESOURCE, ref)
        return
    pointer = {"type": version.resource_type, "id": version.id, "version": version.version}
    pointer["canonicalVersion"] = body.get("version")
    await tx.put_record(CANONICAL, canonical_key(version.resource_type, url), pointer)
    await tx.put_record(RESOURCE, ref, {"url": url, "version": version.version})
    if version.resource_type == "CodeSystem":
        await terminology_index.replace_closure(tx, url, index_code_system(body).closure_pairs())


async def _forget(tx: Transaction, resource_type: str, resource_id: str, url: str) -> None:
    """Drop what pointed at `url` from this resource, unless another resource owns the url now."""
    key = canonical_key(resource_type, url)
    owner = await tx.get_record(CANONICAL, key)
    if owner is not None and owner["id"] == resource_id:
        await tx.delete_record(CANONICAL, key)
        if resource_type == "CodeSystem":
            await terminology_index.delete_closure(tx, url)
