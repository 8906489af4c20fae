"""Which patients the resources of audit records belong to, worked out by the audit job.

The request path records only (type, id, version); here each resource is read back as the
system and its Patient-compartment references (the CompartmentDefinition's parameters, from
the same index extraction searches use, limited to those parameters) name its patients. A
version that is a deletion is judged by the version before it. Current versions are read in one
search per type; only an entity of an older version is read on its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ember.access import AccessContext
from ember.audit.records import Record, compartment_patients
from ember.fhir import jsonio
from ember.fhir.search_index import reference_rows
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
        resource_type, resource_id = entity[0], entity[1]
        if resource_type == "Patient":
            entity[3] = [resource_id]
        elif resource_type not in params:
            entity[3] = []
        else:
            current.setdefault(resource_type, set()).add(resource_id)
    found = await _patients_of_current(store, current)
    for entity in unknown:
        if entity[3] is not None:
            continue
        resource_type, resource_id, version = entity[0], entity[1], entity[2]
        hit = found.get((resource_type, resource_id))
        if version is None or (hit is not None and hit[0] == int(version)):
            entity[3] = hit[1] if hit is not None else []
        else:  # an older version, or a deletion: read that version
            entity[3] = await _patients_of_version(store, resource_type, resource_id, int(version))


async def _patients_of_version(store: Store, resource_type: str, resource_id: str, version: int) -> list[str]:
    stored = await store.vread(_CTX, resource_type, resource_id, version)
    if stored is not None and stored.deleted and version > 1:
        stored = await store.vread(_CTX, resource_type, resource_id, version - 1)
    if stored is None or stored.deleted:
        return []
    return _patients(resource_type, resource_id, jsonio.loads(stored.body))


async def _patients_of_current(store: Store, ids: dict[str, set[str]]) -> dict[tuple[str, str], tuple[int, list[str]]]:
    """(current version, patients) of every id that exists, one search per type and batch
    (a burst of reads of single resources costs a few statements, not one each)."""
    found: dict[tuple[str, str], tuple[int, list[str]]] = {}
    for resource_type, wanted in ids.items():
        ordered = sorted(wanted)
        for start in range(0, len(ordered), _BATCH):
            chunk = tuple(ordered[start : start + _BATCH])
            matches, _ = await store.search(_CTX, SearchQuery((resource_type,), (IdCondition(chunk),), count=_BATCH))
            for match in matches:
                resource = jsonio.loads(match.body)
                version = int(resource["meta"]["versionId"])
                found[(resource_type, match.id)] = (version, _patients(resource_type, match.id, resource))
    return found


def _patients(resource_type: str, resource_id: str, resource: dict[str, Any]) -> list[str]:
    params = compartment_params("Patient").get(resource_type, ())
    return compartment_patients(resource_type, resource_id, reference_rows(resource, params))
