"""The R4 core code systems and value sets (FHIR, v3, v2 tables) this worker serves.

They come as generated data in the package (terminology.json.gz, made by generate.py, named by
the SHA-256 digest of that file) and are cached in each database at start-up (stored.py). The
worker serves the core its database holds: the package's own copy, parsed and indexed lazily in
memory, whenever the digests agree (start-up makes them agree), else the stored rows (a database
a newer Ember version refreshed while this worker runs; see ember.terminology.snapshot). Users'
own resources of the same canonical url take precedence over both (see resolve.py).
"""

from __future__ import annotations

import gzip
import hashlib
from functools import cache
from importlib import resources
from typing import Any

import orjson

from ember.terminology.concepts import CodeSystemIndex, index_code_system


class CoreTerminology:
    """One generation of the core: resources by type and canonical url, code systems indexed on
    first use."""

    def __init__(self, digest: str, resources_by_type: dict[str, dict[str, dict[str, Any]]]) -> None:
        self.digest = digest
        self.resources = resources_by_type
        self._indexes: dict[str, CodeSystemIndex | None] = {}

    @classmethod
    def from_resources(cls, digest: str, items: list[dict[str, Any]]) -> CoreTerminology:
        by_type: dict[str, dict[str, dict[str, Any]]] = {"CodeSystem": {}, "ValueSet": {}}
        for item in items:
            by_type.setdefault(item["resourceType"], {})[item["url"]] = item
        return cls(digest, by_type)

    def resource(self, resource_type: str, url: str) -> dict[str, Any] | None:
        return self.resources.get(resource_type, {}).get(url)

    def code_system(self, url: str) -> CodeSystemIndex | None:
        """The index of a code system; None when unknown or when its content is not in the
        package (content "not-present", as for externally defined systems)."""
        if url not in self._indexes:
            resource = self.resource("CodeSystem", url)
            absent = resource is None or resource.get("content") == "not-present"
            self._indexes[url] = None if resource is None or absent else index_code_system(resource)
        return self._indexes[url]

    def all_resources(self) -> list[dict[str, Any]]:
        return [item for by_url in self.resources.values() for item in by_url.values()]


@cache
def package_core() -> CoreTerminology:
    """The core shipped in this package."""
    raw_file = (resources.files(__package__) / "terminology.json.gz").read_bytes()
    raw = orjson.loads(gzip.decompress(raw_file))
    return CoreTerminology.from_resources(hashlib.sha256(raw_file).hexdigest(), raw["codeSystems"] + raw["valueSets"])


_active: list[CoreTerminology] = []


def active_core() -> CoreTerminology:
    """The core this worker serves now (the package's until told otherwise)."""
    if not _active:
        _active.append(package_core())
    return _active[0]


def use_core(core: CoreTerminology) -> None:
    """Serve `core` from now on."""
    _active[:] = [core]


def core_resource(resource_type: str, url: str) -> dict[str, Any] | None:
    """The core CodeSystem or ValueSet with canonical `url` (no version suffix), or None."""
    return active_core().resource(resource_type, url)


def core_code_system(url: str) -> CodeSystemIndex | None:
    """The index of a core code system; None when unknown or its content is not present."""
    return active_core().code_system(url)
