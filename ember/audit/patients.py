"""Which patients the resources of audit records belong to, worked out by the audit job.

The request path records only (type, id, version); here each resource is read back as the
system and its Patient-compartment references (the CompartmentDefinition's parameters, from
the same index extraction searches use) name its patients. A version that is a deletion is
judged by the version before it. Current versions are read in one search per type.
"""

from __future__ import annotations

from collections.abc import Sequence

from ember.access import AccessContext
from ember.audit.records import Record, compartment_patients
from ember.fhir import jsonio
from ember.fhir.search_index import index_rows
from ember.store.access_rules import compartment_params
from ember.store.base import Store
from ember.store.search_query import IdCondition, SearchQuery

_CTX = AccessContext.system("ember-audit-patients")
_BATCH = 500


async def resolve_patients(store: Store, records: Sequence[Record]) -> None:
    """Fill in, in place, the patients of every entity whose patients are not known yet."""
    unknown = [entity for record in records for entity in record["entities"] if entity[3] is None]
    params = compartment_params("Patient")
    current: dict[str, set[str]] = {}  # type -> ids whose current version to read
    for entity in unknown:
        resource_type, resource_id, version = entity[0], entity[1], entity[2]
        if resource_type == "Patient":
            entity[3] = [resource_id]
        elif resource_type not in params:
            entity[3] = []
        elif version is not None:
            entity[3] = await _patients_of_version(store, resource_type, resource_id, int(version))
        else:
            current.setdefault(resource_type, set()).add(resource_id)
    found = await _patients_of_current(store, current)
    for entity in unknown:
        if entity[3] is None:
            entity[3] = found.get((entity[0], entity[1]), [])


async def _patients_of_version(store: Store, resource_type: str, resource_id: str, version: int) -> list[str]:
    stored = await store.vread(_CTX, resource_type, resource_id, version)
    if stored is not None and stored.deleted and version > 1:
        stored = await store.vread(_CTX, resource_type, resource_id, version - 1)
    if stored is None or stored.deleted:
        return []
    reference_rows = index_rows(jsonio.loads(stored.body)).get("reference", ())
    return compartment_patients(resource_type, resource_id, reference_rows)


async def _patients_of_current(store: Store, ids: dict[str, set[str]]) -> dict[tuple[str, str], list[str]]:
    found: dict[tuple[str, str], list[str]] = {}
    for resource_type, wanted in ids.items():
        ordered = sorted(wanted)
        for start in range(0, len(ordered), _BATCH):
            chunk = tuple(ordered[start : start + _BATCH])
            matches, _ = await store.search(_CTX, SearchQuery((resource_type,), (IdCondition(chunk),), count=_BATCH))
            for match in matches:
                reference_rows = index_rows(jsonio.loads(match.body)).get("reference", ())
                found[(resource_type, match.id)] = compartment_patients(resource_type, match.id, reference_rows)
    return found
