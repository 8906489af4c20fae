"""Resolve canonical urls to code systems, value sets and concept maps: users' first, then core.

A `Terminology` serves one request (or one job): it looks up the canonical record of a url in the
store (one small record read) and reuses the parsed resource or code system index cached for that
exact resource version, so a 100,000-concept code system is parsed and closed once per process and
version, not per request. A user's resource with a core url overrides the core one.

Membership and expansion themselves are synchronous (ember/terminology/expansion.py), so FHIRPath
and the validator can ask them too: they read `Canonicals`, which either were gathered ahead from a
`Terminology` (`Gathered`) or come from this worker's snapshot (ember/terminology/snapshot.py), and
raise `Unresolved` for anything not at hand.
"""

from __future__ import annotations

import gc
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol
from weakref import WeakKeyDictionary

import orjson

from ember.access import AccessContext
from ember.fhir.outcome import error, not_found
from ember.store.base import Store
from ember.terminology.canonical import CANONICAL, RESOURCE, canonical_key
from ember.terminology.concepts import CodeSystemIndex, index_code_system
from ember.terminology.core import core_code_system, core_resource

# A stamp names one stored resource version: (type, id, version); core resources have none.
Stamp = tuple[str, str, int]

_CACHE_SIZE = 64
_LARGE = 10_000  # concepts or members
_caches: WeakKeyDictionary[Any, OrderedDict[tuple[str, Stamp], Any]] = WeakKeyDictionary()


class Unresolved(Exception):
    """A canonical that synchronous code needed was not fetched ahead; whoever holds the
    `Canonicals` fetches it (asynchronously) and asks again."""

    def __init__(self, resource_type: str, url: str) -> None:
        super().__init__(f"{resource_type} {url} was not resolved ahead")
        self.resource_type = resource_type
        self.url = url


class Canonicals(Protocol):
    """Synchronous lookups of the value sets and code systems a value set names."""

    def value_set(self, url: str) -> dict[str, Any] | None:
        """The ValueSet with canonical `url` (or `url|version`); None when unknown."""
        ...

    def code_system(self, url: str) -> CodeSystemIndex | None:
        """The index of code system `url`; None when unknown (or its content is not present)."""
        ...


@dataclass(slots=True)
class Gathered:
    """Canonicals fetched ahead for one request (see expansion.gather)."""

    value_sets: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    code_systems: dict[str, CodeSystemIndex | None] = field(default_factory=dict)

    def value_set(self, url: str) -> dict[str, Any] | None:
        if url not in self.value_sets:
            raise Unresolved("ValueSet", url)
        return self.value_sets[url]

    def code_system(self, url: str) -> CodeSystemIndex | None:
        if url not in self.code_systems:
            raise Unresolved("CodeSystem", url)
        return self.code_systems[url]

    async def fetch(self, term: Terminology, missing: Unresolved) -> None:
        """Resolve what `missing` names through `term`."""
        if missing.resource_type == "ValueSet":
            self.value_sets[missing.url] = await term.resource("ValueSet", missing.url)
        else:
            self.code_systems[missing.url] = await term.code_system(missing.url)


class Terminology:
    """Canonical resolution for one caller on one store."""

    def __init__(self, ctx: AccessContext, store: Store) -> None:
        self.ctx = ctx
        self.store = store
        self._stamps: dict[tuple[str, str], Stamp | None] = {}

    async def stamp(self, resource_type: str, url: str) -> Stamp | None:
        """Which stored resource owns canonical `url` (`url|version` names one business version)
        now (None: none does), asked once per request."""
        key = (resource_type, url)
        if key not in self._stamps:
            async with self.store.transaction() as tx:
                record = await tx.get_record(CANONICAL, canonical_key(resource_type, url))
            self._stamps[key] = None if record is None else (record["type"], record["id"], record["version"])
        return self._stamps[key]

    def looked_up(self) -> dict[tuple[str, str], Stamp | None]:
        """Every canonical this request resolved and what it resolved to: what a cached result
        built from them depends on."""
        return dict(self._stamps)

    async def resource(self, resource_type: str, url: str) -> dict[str, Any] | None:
        """The CodeSystem/ValueSet/ConceptMap with canonical `url` or `url|version`; the core
        resource (whatever its version) when no stored one has it."""
        stamp = await self.stamp(resource_type, url)
        if stamp is None:
            return core_resource(resource_type, url.partition("|")[0])
        return await self.resource_at(stamp)

    async def code_system(self, url: str) -> CodeSystemIndex | None:
        """The index of the code system `url`, or None when neither the store nor the core has it."""
        stamp = await self.stamp("CodeSystem", url)
        if stamp is None:
            return core_code_system(url.partition("|")[0])
        return await self.code_system_at(stamp)

    async def resource_at(self, stamp: Stamp) -> dict[str, Any]:
        """The stored resource version `stamp`, parsed once per process."""
        return await self._cached("resource", stamp, _parse)

    async def code_system_at(self, stamp: Stamp) -> CodeSystemIndex:
        """The index of the stored CodeSystem version `stamp`, built once per process."""
        return await self._cached("index", stamp, _index)

    async def all_resources(self, resource_type: str, limit: int = 1000) -> list[dict[str, Any]]:
        """Every stored resource of `resource_type` that has a canonical url (at most `limit`)."""
        async with self.store.transaction() as tx:
            records = await tx.list_records(CANONICAL, prefix=f"{resource_type} ", limit=limit)
        # Only the unversioned keys: the latest resource per url, each once.
        stamps = [(record["type"], record["id"], record["version"]) for key, record in records if "|" not in key]
        return [await self.resource_at(stamp) for stamp in stamps]

    async def instance(self, resource_type: str, resource_id: str) -> dict[str, Any]:
        """The stored resource `resource_type/resource_id` (instance-level operations); 404 if absent."""
        return await self.resource_at(await self._instance_stamp(resource_type, resource_id))

    async def instance_code_system(self, resource_id: str) -> CodeSystemIndex:
        return await self.code_system_at(await self._instance_stamp("CodeSystem", resource_id))

    async def _instance_stamp(self, resource_type: str, resource_id: str) -> Stamp:
        async with self.store.transaction() as tx:
            record = await tx.get_record(RESOURCE, f"{resource_type}/{resource_id}")
        if record is not None:
            return (resource_type, resource_id, record["version"])
        stored = await self.store.read(self.ctx, resource_type, resource_id)
        if stored is None or stored.deleted:
            raise not_found(resource_type, resource_id)
        return (resource_type, resource_id, stored.version)

    async def _cached(self, kind: str, stamp: Stamp, build: Callable[[bytes], Any]) -> Any:
        cache = _caches.setdefault(self.store, OrderedDict())
        key = (kind, stamp)
        if key in cache:
            cache.move_to_end(key)
            return cache[key]
        stored = await self.store.vread(self.ctx, stamp[0], stamp[1], stamp[2])
        if stored is None or stored.deleted:
            raise error(404, "not-found", f"{stamp[0]}/{stamp[1]} is not available")
        value = build(stored.body)
        if isinstance(value, CodeSystemIndex):
            settle_if_large(len(value.concepts))
        cache[key] = value
        while len(cache) > _CACHE_SIZE:
            cache.popitem(last=False)
        return value


def settle_if_large(objects: int) -> None:
    """Take a large, long-lived cached structure out of the cyclic collector's sight (as the app
    does with the model at start-up): otherwise every full collection walks its hundreds of
    thousands of objects and shows up as latency spikes. The cached indexes and expansions hold
    no reference cycles, so reference counting still frees them when they leave the cache."""
    if objects >= _LARGE:
        gc.freeze()


def _parse(body: bytes) -> dict[str, Any]:
    return orjson.loads(body)


def _index(body: bytes) -> CodeSystemIndex:
    return index_code_system(_parse(body))


async def code_system_for(
    term: Terminology, instance_id: str | None, url: str | None, version: str | None = None
) -> CodeSystemIndex:
    """The code system an operation acts on: the instance it was invoked on, else `url` (at
    `version` when given); 4xx otherwise."""
    if instance_id is not None:
        return await term.instance_code_system(instance_id)
    if not url:
        raise error(400, "required", "Name the code system: invoke on an instance or pass 'system' (or 'url')")
    if version and "|" not in url:
        url = f"{url}|{version}"
    index = await term.code_system(url)
    if index is None:
        raise error(404, "not-found", f"Code system '{url[:200]}' is not known to this server")
    return index


async def resource_for(
    term: Terminology, resource_type: str, instance_id: str | None, url: str | None, inline: dict[str, Any] | None
) -> dict[str, Any]:
    """The ValueSet/ConceptMap an operation acts on: the instance, a resource passed in the
    Parameters, or the one with canonical `url`; 4xx when none is named or found."""
    if instance_id is not None:
        return await term.instance(resource_type, instance_id)
    if inline is not None:
        if inline.get("resourceType") != resource_type:
            raise error(400, "invalid", f"The resource parameter must be a {resource_type}")
        return inline
    if not url:
        raise error(400, "required", f"Name the {resource_type}: invoke on an instance, pass 'url' or the resource")
    found = await term.resource(resource_type, url)
    if found is None:
        raise error(404, "not-found", f"{resource_type} '{url[:200]}' is not known to this server")
    return found
