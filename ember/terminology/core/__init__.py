"""The R4 core code systems and value sets (FHIR, v3, v2 tables) this worker serves.

They come as generated data in the package (terminology.ndjson.gz, made by generate.py: one
resource per line behind its type, url and version, named by the SHA-256 digest of the file) and
are cached in each database at start-up (stored.py). The worker serves the core its database
holds: the package's own copy whenever the digests agree (start-up makes them agree), else the
stored rows (a database a newer Ember version refreshed while this worker runs; see
ember.terminology.snapshot). Either way a resource is parsed, and a code system indexed, only
when first used, so a worker holds the few hundred it needs, not all 2,378. Users' own resources
of the same canonical url take precedence over both (see resolve.py).
"""

from __future__ import annotations

import gzip
import hashlib
from functools import cache
from importlib import resources
from typing import Any

import orjson

from ember.store.terminology_index import CoreRow
from ember.terminology.concepts import CodeSystemIndex, index_code_system


class CoreTerminology:
    """One generation of the core, named by `digest`: resources by type and canonical url."""

    def __init__(self, digest: str, rows: list[CoreRow]) -> None:
        self.digest = digest
        self._rows = {(row[0], row[1]): row for row in rows}
        self._parsed: dict[tuple[str, str], dict[str, Any]] = {}
        self._indexes: dict[str, CodeSystemIndex | None] = {}

    @classmethod
    def from_resources(cls, digest: str, items: list[dict[str, Any]]) -> CoreTerminology:
        rows = [(item["resourceType"], item["url"], item.get("version"), orjson.dumps(item).decode()) for item in items]
        return cls(digest, rows)

    def rows(self) -> list[CoreRow]:
        return list(self._rows.values())

    def urls(self, resource_type: str) -> list[str]:
        return sorted(url for kind, url in self._rows if kind == resource_type)

    def resource(self, resource_type: str, url: str) -> dict[str, Any] | None:
        key = (resource_type, url)
        if key not in self._parsed:
            found = self._parse(key)
            if found is None:
                return None
            self._parsed[key] = found
        return self._parsed[key]

    def code_system(self, url: str) -> CodeSystemIndex | None:
        """The index of a code system (kept); None when unknown or when its content is not in
        the package (content "not-present", as for externally defined systems)."""
        if url not in self._indexes:
            self._indexes[url] = self.build_index(url)
        return self._indexes[url]

    def build_index(self, url: str) -> CodeSystemIndex | None:
        """`code_system(url)` without keeping anything: caching the whole core in the store
        indexes every code system once, which a worker need not hold afterwards."""
        resource = self._parsed.get(("CodeSystem", url)) or self._parse(("CodeSystem", url))
        if resource is None or resource.get("content") == "not-present":
            return None
        return index_code_system(resource)

    def _parse(self, key: tuple[str, str]) -> dict[str, Any] | None:
        row = self._rows.get(key)
        return None if row is None else orjson.loads(row[3])


@cache
def package_core() -> CoreTerminology:
    """The core shipped in this package."""
    raw_file = (resources.files(__package__) / "terminology.ndjson.gz").read_bytes()
    rows: list[CoreRow] = []
    for line in gzip.decompress(raw_file).decode().splitlines():
        resource_type, url, version, text = line.split("\t", 3)
        rows.append((resource_type, url, version or None, text))
    return CoreTerminology(hashlib.sha256(raw_file).hexdigest(), rows)


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
