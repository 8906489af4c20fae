"""Find users' CodeSystem, ValueSet and ConceptMap resources by canonical url, kept by a write observer.

Terminology operations name their inputs by canonical url (`system`, `url`, `valueSet`), while the
store finds resources by id. `track_terminology_writes` runs inside every write's transaction
(ember.interactions.observers) and keeps two kinds of records in step with the data:
  "terminology-canonical" "<type> <url>" and "<type> <url>|<version>"
                                           -> {"type", "id", "version", "canonicalVersion"}
  "terminology-resource"  "<type>/<id>"   -> {"url", "version", "canonicalVersion"}
and, for a CodeSystem, its stored is-a closure (ember.store.terminology_index); when no user's
CodeSystem owns a core url any more, the core's closure comes back. Other resource types cost one
set lookup.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from ember.store import terminology_index
from ember.store.base import NewVersion, Transaction
from ember.terminology.concepts import index_code_system
from ember.terminology.core import core_code_system

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
    canonical_version = body.get("version") if isinstance(body.get("version"), str) else None
    previous = await tx.get_record(RESOURCE, ref)
    if previous is not None and previous["url"] != url:
        await _forget(tx, version.resource_type, version.id, previous)
    if url is None:
        await tx.delete_record(RESOURCE, ref)
        return
    pointer = {"type": version.resource_type, "id": version.id, "version": version.version}
    pointer["canonicalVersion"] = canonical_version
    for key in _keys(version.resource_type, url, canonical_version):
        await tx.put_record(CANONICAL, key, pointer)
    await tx.put_record(RESOURCE, ref, {"url": url, "version": version.version, "canonicalVersion": canonical_version})
    if version.resource_type == "CodeSystem":
        await terminology_index.replace_closure(tx, url, index_code_system(body).closure_pairs())


def _keys(resource_type: str, url: str, canonical_version: str | None) -> list[str]:
    """The record keys of a resource: its url (the latest written wins) and, when it has a
    business version, `url|version`, which keeps naming this resource version after updates."""
    keys = [canonical_key(resource_type, url)]
    if canonical_version:
        keys.append(canonical_key(resource_type, f"{url}|{canonical_version}"))
    return keys


async def _forget(tx: Transaction, resource_type: str, resource_id: str, previous: dict[str, Any]) -> None:
    """Drop what pointed at the previous url from this resource, unless another resource owns it now."""
    for key in _keys(resource_type, previous["url"], previous.get("canonicalVersion")):
        owner = await tx.get_record(CANONICAL, key)
        if owner is not None and owner["id"] == resource_id:
            await tx.delete_record(CANONICAL, key)
    if resource_type == "CodeSystem":
        owner = await tx.get_record(CANONICAL, canonical_key(resource_type, previous["url"]))
        if owner is None:
            await _closure_without_users(tx, previous["url"])


async def _closure_without_users(tx: Transaction, url: str) -> None:
    """No user's CodeSystem owns `url` any more: its closure is the core's, if it is a core url."""
    core = core_code_system(url)
    if core is None:
        await terminology_index.delete_closure(tx, url)
    else:
        await terminology_index.replace_closure(tx, url, core.closure_pairs())
