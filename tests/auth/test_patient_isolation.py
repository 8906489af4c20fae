"""Real SMART tokens against two Synthea patients: patient A's token never returns patient B's
data, whatever the scope pattern and the read path, and v2 query restrictions narrow further.

The tokens are signed by the server's own key and checked by the edge like any client's.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from ember.auth.tokens import Authorization
from tests.auth.conftest import BASE, AuthApp
from tests.conformance import CONFORMANCE

pytestmark = pytest.mark.anyio

SYNTHEA = CONFORMANCE / "synthea" / "smart-synthea-v2.4"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"

SCOPE_PATTERNS = [
    ("patient/*.read",),
    ("patient/*.rs",),
    ("patient/Observation.rs", "patient/Patient.rs", "patient/Encounter.rs", "patient/Condition.rs"),
    ("patient/*.cruds",),
]
READ_PATHS = [
    "/fhir/Observation?_count=500",
    "/fhir/Observation?_count=500&_include=Observation:subject&_include=Observation:encounter",
    "/fhir/Patient?_revinclude=Observation:subject&_revinclude=Condition:subject&_count=500",
    "/fhir/Patient?_has:Observation:subject:status=final",
    "/fhir/Observation?subject.gender=male,female&_count=500",
    "/fhir/Encounter?_revinclude=Observation:encounter&_revinclude:iterate=Observation:has-member&_count=500",
    "/fhir/Condition?_include=*&_count=500",
    "/fhir/Observation/_history?_count=500",
    "/fhir/_history?_count=500",
    "/fhir?_type=Patient,Observation,Condition&_count=500",
]


def _token(app: AuthApp, scopes: tuple[str, ...], patient: str | None) -> str:
    signer, _ = app.auth.tokens()
    token, _ = signer.access_token(Authorization(app.client_id, "tester", scopes, patient=patient), BASE, BASE)
    return str(token)


async def _load_two(app: AuthApp) -> tuple[str, str]:
    system = {"Authorization": f"Bearer {_token(app, ('system/*.cruds',), None)}"}
    ids = []
    for path in sorted(SYNTHEA.glob("*.json"))[:2]:
        answer = await app.http.post(
            "/fhir", content=path.read_bytes(), headers={**system, "content-type": "application/fhir+json"}
        )
        assert answer.status_code == 200, answer.text[:300]
        locations = [entry["response"]["location"] for entry in answer.json()["entry"]]
        ids.append(next(loc.split("/")[1] for loc in locations if loc.startswith("Patient/")))
    return ids[0], ids[1]


def _resources(answer: dict[str, Any]) -> list[dict[str, Any]]:
    if answer.get("resourceType") == "Bundle":
        return [entry["resource"] for entry in answer.get("entry", []) if "resource" in entry]
    return [answer] if answer.get("resourceType") not in (None, "OperationOutcome") else []


def _belongs_to(resource: dict[str, Any], patient: str) -> bool:
    return f'"Patient/{patient}"' in json.dumps(resource) or (
        resource.get("resourceType") == "Patient" and resource.get("id") == patient
    )


@pytest.mark.parametrize("scopes", SCOPE_PATTERNS, ids=lambda s: " ".join(s))
async def test_patient_token_never_returns_another_patients_data(auth_app: AuthApp, scopes: tuple[str, ...]) -> None:
    a, b = await _load_two(auth_app)
    headers = {"Authorization": f"Bearer {_token(auth_app, scopes, a)}"}
    seen_own = False
    for path in READ_PATHS:
        response = await auth_app.http.get(path, headers=headers)
        assert response.status_code in (200, 403), (path, response.text[:200])
        found = _resources(response.json())
        leaked = [f"{r['resourceType']}/{r['id']}" for r in found if _belongs_to(r, b)]
        assert not leaked, (path, leaked[:5])
        seen_own = seen_own or any(_belongs_to(r, a) for r in found)
    assert seen_own
    own = (await auth_app.http.get(f"/fhir/Patient/{a}/$everything", headers=headers)).json()
    assert own.get("entry") and not [r for r in _resources(own) if _belongs_to(r, b)]
    for path in (
        f"/fhir/Patient/{b}",
        f"/fhir/Patient/{b}/_history/1",
        f"/fhir/Patient/{b}/Observation",
        f"/fhir/Patient/{b}/$everything",
    ):
        response = await auth_app.http.get(path, headers=headers)
        assert response.status_code in (403, 404) or not _resources(response.json()), path


async def test_v2_query_restriction_narrows_what_a_scope_sees(auth_app: AuthApp) -> None:
    a, _ = await _load_two(auth_app)
    restricted = f"patient/Observation.rs?category={CATEGORY}|laboratory"
    headers = {"Authorization": f"Bearer {_token(auth_app, (restricted,), a)}"}
    response = await auth_app.http.get("/fhir/Observation?_count=500&_include=Observation:subject", headers=headers)
    found = _resources(response.json())
    assert found, "patient A has laboratory observations"
    for resource in found:
        assert resource["resourceType"] == "Observation"  # Patient was not granted: not included
        codes = {c["code"] for cat in resource.get("category", []) for c in cat.get("coding", [])}
        assert "laboratory" in codes and _belongs_to(resource, a)
    vital = next(
        r
        for r in _resources(
            (
                await auth_app.http.get(
                    f"/fhir/Observation?category=vital-signs&subject=Patient/{a}&_count=1",
                    headers={"Authorization": f"Bearer {_token(auth_app, ('system/*.rs',), None)}"},
                )
            ).json()
        )
    )
    assert (await auth_app.http.get(f"/fhir/Observation/{vital['id']}", headers=headers)).status_code == 404


async def test_writes_of_a_patient_token_stay_in_its_compartment(auth_app: AuthApp) -> None:
    a, b = await _load_two(auth_app)
    headers = {"Authorization": f"Bearer {_token(auth_app, ('patient/*.cruds',), a)}"}
    own = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "x"},
        "subject": {"reference": f"Patient/{a}"},
    }
    other = {**own, "subject": {"reference": f"Patient/{b}"}}
    assert (await auth_app.http.post("/fhir/Observation", json=own, headers=headers)).status_code == 201
    refused = await auth_app.http.post("/fhir/Observation", json=other, headers=headers)
    assert refused.status_code == 403, refused.text
