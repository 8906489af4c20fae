"""The R4 core code systems and value sets (FHIR, v3, v2 tables), read from generated data.

They are read-only and the same for every server, so they live in the package (terminology.json.gz,
made by generate.py) and are indexed lazily, once per process, rather than copied into each
database; users' own resources of the same canonical url take precedence (see resolve.py).
"""

from __future__ import annotations

import gzip
from functools import cache
from importlib import resources
from typing import Any

import orjson

from ember.terminology.concepts import CodeSystemIndex, index_code_system


@cache
def _core() -> dict[str, dict[str, dict[str, Any]]]:
    raw = orjson.loads(gzip.decompress((resources.files(__package__) / "terminology.json.gz").read_bytes()))
    return {
        "CodeSystem": {r["url"]: r for r in raw["codeSystems"]},
        "ValueSet": {r["url"]: r for r in raw["valueSets"]},
    }


def core_resource(resource_type: str, url: str) -> dict[str, Any] | None:
    """The core CodeSystem or ValueSet with canonical `url` (no version suffix), or None."""
    return _core().get(resource_type, {}).get(url)


@cache
def core_code_system(url: str) -> CodeSystemIndex | None:
    """The index of a core code system; None when unknown or when its content is not in the
    package (content "not-present", as for externally defined systems)."""
    resource = core_resource("CodeSystem", url)
    if resource is None or resource.get("content") == "not-present":
        return None
    return index_code_system(resource)


def core_urls(resource_type: str) -> list[str]:
    """Canonical urls of every core resource of a type, for listings and tests."""
    return sorted(_core().get(resource_type, {}))
