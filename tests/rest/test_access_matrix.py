"""Patient A's access never returns patient B's data, on every read path, on both stores.

Two Synthea patients are loaded; for each read path (read, vread, search, chained search,
_has, _include, _revinclude with :iterate, compartment search, history of every level) a
patient-scoped caller asks for everything it can think of, and every resource in every answer
is checked: nothing may refer to the other patient, and no resource of the other patient may
appear. The SMART edge builds such a context from a token; here it is built directly, which is
exactly what reaches the store (tests/auth/test_patient_isolation.py does the same with real
tokens through the edge).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from ember.access import AccessContext, ScopeGrant
from ember.fhir import jsonio
from ember.fhir.outcome import FhirError
from ember.interactions.dispatch import dispatch
from ember.interactions.router import route
from ember.store.base import Store
from tests.conformance import CONFORMANCE

pytestmark = pytest.mark.anyio

SYNTHEA = CONFORMANCE / "synthea" / "smart-synthea-v2.4"
BASE = "http://ember.test/fhir"


async def _call(ctx: AccessContext, store: Store, method: str, path: str, params: list[tuple[str, str]]) -> Any:
    request = route(method, path, params)
    request.base_url = BASE
    try:
        response = await dispatch(ctx, request, store)
    except FhirError as failure:
        return failure.status, failure.outcome()
    if response.resource is not None:
        return response.status, jsonio.loads(jsonio.dumps(response.resource))
    return response.status, jsonio.loads(response.body) if response.body else None


@pytest.fixture
async def loaded(store: Store) -> AsyncIterator[dict[str, Any]]:
    files = sorted(SYNTHEA.glob("*.json"))[:2]
    patients = []
    system = AccessContext.system()
    for path in files:
        request = route("POST", "", [])
        request.base_url = BASE
        request.body = json.loads(path.read_bytes())
        response = await dispatch(system, request, store)
        locations = [e["response"]["location"] for e in response.resource["entry"]]  # type: ignore[index]
        patients.append(next(loc.split("/")[1] for loc in locations if loc.startswith("Patient/")))
    yield {"a": patients[0], "b": patients[1]}


def _resources(answer: Any) -> list[dict[str, Any]]:
    if not isinstance(answer, dict):
        return []
    if answer.get("resourceType") == "Bundle":
        return [entry["resource"] for entry in answer.get("entry", []) if "resource" in entry]
    return [answer]


def _mentions(resource: dict[str, Any], patient: str) -> bool:
    return f'"Patient/{patient}"' in json.dumps(resource) or (
        resource.get("resourceType") == "Patient" and resource.get("id") == patient
    )


def patient_a(patient: str) -> AccessContext:
    """What the edge builds for a `patient/*.rs` token launched with `patient`."""
    return AccessContext(subject="patient-a", patient=patient, grants=(ScopeGrant("patient", "*", frozenset("rs")),))


SEARCH_PATHS = [
    ("Observation", []),
    ("Patient", []),
    ("Condition", [("_include", "Condition:subject"), ("_include", "Condition:encounter")]),
    ("Encounter", [("_revinclude", "Observation:encounter"), ("_revinclude:iterate", "Observation:has-member")]),
    ("Patient", [("_revinclude", "Observation:subject"), ("_revinclude", "Condition:patient")]),
    ("Patient", [("_has:Observation:subject:status", "final")]),
    ("Observation", [("subject.gender", "male,female")]),
    ("Observation", [("_include", "*")]),
    ("Procedure", [("_sort", "-date")]),
    ("Immunization", [("_total", "accurate")]),
]


@pytest.mark.parametrize(("resource_type", "params"), SEARCH_PATHS)
async def test_patient_a_never_sees_patient_b_through_search(
    store: Store, loaded: dict[str, Any], resource_type: str, params: list[tuple[str, str]]
) -> None:
    ctx = patient_a(loaded["a"])
    status, answer = await _call(ctx, store, "GET", resource_type, [*params, ("_count", "1000")])
    assert status == 200
    found = _resources(answer)
    assert not [r for r in found if _mentions(r, loaded["b"])]
    everything = [*params, ("_count", "1000")]
    unrestricted = _resources((await _call(AccessContext.system(), store, "GET", resource_type, everything))[1])
    assert any(_mentions(r, loaded["b"]) for r in unrestricted) or resource_type == "Immunization"


async def test_patient_a_never_sees_patient_b_through_reads_history_and_compartments(
    store: Store, loaded: dict[str, Any]
) -> None:
    ctx = patient_a(loaded["a"])
    system = AccessContext.system()
    everything_of_b = _resources(
        (await _call(system, store, "GET", f"Patient/{loaded['b']}/Observation", [("_count", "1000")]))[1]
    )
    assert everything_of_b
    for resource in everything_of_b[:20] + [{"resourceType": "Patient", "id": loaded["b"]}]:
        path = f"{resource['resourceType']}/{resource['id']}"
        for suffix in ("", "/_history", "/_history/1"):
            status, _ = await _call(ctx, store, "GET", path + suffix, [])
            assert status == 404 or (suffix == "/_history" and not _resources(_)), path + suffix
    for path in ("_history", "Observation/_history", f"Patient/{loaded['b']}/Observation"):
        status, answer = await _call(ctx, store, "GET", path, [("_count", "1000")])
        assert not [r for r in _resources(answer) if _mentions(r, loaded["b"])], path
    own = _resources((await _call(ctx, store, "GET", f"Patient/{loaded['a']}/Observation", []))[1])
    assert own and all(_mentions(r, loaded["a"]) for r in own)
