"""_summary and _elements: the subsets of a resource a client may ask for.

Filtering is applied to top-level elements, as HAPI and Medplum do; mandatory elements, id and
meta always stay, and the result is tagged SUBSETTED so nobody mistakes it for the whole.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ember.fhir.model import type_definition

SUBSETTED = {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "SUBSETTED"}
SUMMARY_MODES = frozenset({"true", "false", "text", "data", "count"})
_ALWAYS = frozenset({"resourceType", "id", "meta"})


def summarize(resource: dict[str, Any], mode: str) -> dict[str, Any]:
    """The `_summary=mode` view of `resource` ("false" and "count" leave it whole)."""
    if mode == "data":
        return _tagged({k: v for k, v in resource.items() if k != "text"}) if "text" in resource else resource
    if mode == "text":
        return _keep(resource, {"text"})
    if mode == "true":
        return _keep(resource, _summary_names(resource["resourceType"]))
    return resource


def select_elements(resource: dict[str, Any], elements: Iterable[str]) -> dict[str, Any]:
    """The `_elements=a,b` view: the named top-level elements plus the mandatory ones."""
    return _keep(resource, {name.split(".", 1)[0] for name in elements if name})


def _keep(resource: dict[str, Any], names: set[str]) -> dict[str, Any]:
    wanted = names | _ALWAYS | _mandatory_names(resource["resourceType"])
    kept = {}
    for key, value in resource.items():
        base = key[1:] if key.startswith("_") else key
        if base in wanted or _choice_base(resource["resourceType"], base) in wanted:
            kept[key] = value
    return _tagged(kept)


def _choice_base(resource_type: str, json_name: str) -> str | None:
    definition = type_definition(resource_type)
    found = definition.lookup(json_name) if definition else None
    return found[0].base_name if found else None


def _summary_names(resource_type: str) -> set[str]:
    definition = type_definition(resource_type)
    if definition is None:
        return set()
    return {element.base_name for element in definition.elements.values() if element.summary}


def _mandatory_names(resource_type: str) -> set[str]:
    definition = type_definition(resource_type)
    if definition is None:
        return set()
    return {element.base_name for element in definition.elements.values() if element.min > 0}


def _tagged(resource: dict[str, Any]) -> dict[str, Any]:
    meta = dict(resource.get("meta") or {})
    meta["tag"] = [*meta.get("tag", []), SUBSETTED]
    return {**resource, "meta": meta}
