"""capabilities: GET [base]/metadata, generated from the registries, never hand-written.

Built once per base URL and cached: the registries do not change while the server runs.
"""

from __future__ import annotations

from datetime import date
from functools import cache
from typing import Any

import ember
from ember.access import AccessContext
from ember.fhir.model import resource_types
from ember.fhir.search_parameters import DERIVED_CACHES, SearchParameter, search_parameters
from ember.interactions import INTERACTIONS
from ember.interactions.request import FhirRequest, FhirResponse
from ember.operations import OPERATIONS
from ember.store.base import Store


async def handle(ctx: AccessContext, request: FhirRequest, store: Store) -> FhirResponse:
    return FhirResponse(200, resource=capability_statement(request.base_url))


#: CapabilityStatement.rest.resource.interaction codes (the conditional variants are flags).
_TYPE_CODES = frozenset(
    {"read", "vread", "update", "patch", "delete", "history-instance", "history-type", "create", "search-type"}
)


@cache
def capability_statement(base_url: str) -> dict[str, Any]:
    type_codes = [code for code, entry in INTERACTIONS.items() if entry.level == "type" and code in _TYPE_CODES]
    system_codes = [code for code, entry in INTERACTIONS.items() if entry.level == "system"]
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": date.today().isoformat(),
        "publisher": "Ember",
        "kind": "instance",
        "software": {"name": "Ember", "version": ember.__version__},
        "implementation": {"description": "Ember FHIR server", "url": base_url},
        "fhirVersion": ember.FHIR_VERSION,
        "format": ["application/fhir+json", "application/fhir+xml", "json", "xml"],
        "patchFormat": ["application/json-patch+json"],
        "rest": [
            {
                "mode": "server",
                "resource": [_resource(name, type_codes) for name in sorted(resource_types())],
                "interaction": [{"code": code} for code in system_codes],
                "operation": [
                    _operation_entry(op.name, op.definition) for op in OPERATIONS.values() if "system" in op.levels
                ],
            }
        ],
    }


DERIVED_CACHES.append(capability_statement.cache_clear)


def _resource(name: str, type_codes: list[str]) -> dict[str, Any]:
    operations = [
        _operation_entry(op.name, op.definition)
        for op in OPERATIONS.values()
        if ("type" in op.levels or "instance" in op.levels) and (op.resource_types is None or name in op.resource_types)
    ]
    entry: dict[str, Any] = {
        "type": name,
        "interaction": [{"code": code} for code in type_codes],
        "versioning": "versioned-update",
        "readHistory": True,
        "updateCreate": True,
        "conditionalCreate": True,
        "conditionalRead": "full-support",
        "conditionalUpdate": "conditional-update" in INTERACTIONS,
        "conditionalDelete": "single" if "conditional-delete" in INTERACTIONS else "not-supported",
    }
    if "search-type" in INTERACTIONS:
        parameters = search_parameters(name)
        entry["searchInclude"] = ["*", *(f"{name}:{p.code}" for p in parameters if p.type == "reference")]
        entry["searchParam"] = [_search_param(parameter) for parameter in parameters]
    if operations:
        entry["operation"] = operations
    return entry


def _search_param(parameter: SearchParameter) -> dict[str, str]:
    described = {"name": parameter.code, "type": parameter.type}
    if parameter.url:
        described["definition"] = parameter.url
    if parameter.description:
        described["documentation"] = parameter.description
    return described


def _operation_entry(name: str, definition: str) -> dict[str, str]:
    return {"name": name, "definition": definition}
