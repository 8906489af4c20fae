"""Every read, search and write of patient data, every login, token request and refused caller
becomes an AuditEvent (BALP shape) once the outbox drains, searchable by patient and date by a
caller with an AuditEvent scope; nothing is audited twice and AuditEvents are never audited."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ember.audit.outbox import READ_BUFFER
from tests.audit.support import audit_events, drain, observation, patients_of, query_of, subtype, system, token
from tests.auth.conftest import (
    PASSWORD,
    AuthApp,
    authorize_params,
    browser_flow,
    exchange_code,
    hidden_fields,
    pkce_pair,
)

pytestmark = pytest.mark.anyio


def _agent(event: dict[str, object], code: str) -> dict[str, object]:
    return next(a for a in event["agent"] if a["type"]["coding"][0]["code"] == code)  # type: ignore[index,union-attr]


async def test_reads_searches_and_writes_become_audit_events_by_patient(auth_app: AuthApp) -> None:
    patient = auth_app.patient_id
    await drain(auth_app.store)  # the seeded patient's write
    practitioner = token(auth_app, ("user/*.cruds",))
    created = await auth_app.http.post("/fhir/Observation", json=observation(patient), headers=practitioner)
    assert created.status_code == 201
    observation_id = created.json()["id"]
    assert (await auth_app.http.get(f"/fhir/Patient/{patient}", headers=practitioner)).status_code == 200
    found = await auth_app.http.get(f"/fhir/Observation?subject=Patient/{patient}", headers=practitioner)
    assert len(found.json()["entry"]) == 1
    await drain(auth_app.store)

    today = datetime.now(UTC).date().isoformat()
    events = await audit_events(auth_app, f"patient={patient}&date=ge{today}")
    by_subtype = {subtype(event): event for event in events}
    assert {"create", "read", "search-type"} <= set(by_subtype), sorted(by_subtype)
    create = by_subtype["create"]
    assert create["action"] == "C" and create["outcome"] == "0"
    assert f"Observation/{observation_id}/_history/1" in [e.get("what", {}).get("reference") for e in create["entity"]]
    read = by_subtype["read"]
    assert read["action"] == "R" and patients_of(read) == [f"Patient/{patient}"]
    client = _agent(read, "110153")
    assert client["who"]["identifier"]["value"] == auth_app.client_id  # type: ignore[index]
    assert client["network"]["address"] == "127.0.0.1"  # type: ignore[index]
    user = next(a for a in read["agent"] if a["requestor"])
    assert user["who"]["reference"] == "Practitioner/doc1" and user["who"]["identifier"]["value"] == "dr.who"
    search = by_subtype["search-type"]
    assert search["action"] == "E" and query_of(search) == f"Observation?subject=Patient/{patient}"
    assert all(event["type"]["code"] == "rest" for event in events)


async def test_a_search_over_two_patients_is_one_event_per_patient(auth_app: AuthApp) -> None:
    other = (
        await auth_app.http.post("/fhir/Patient", json={"resourceType": "Patient"}, headers=system(auth_app))
    ).json()["id"]
    for patient in (auth_app.patient_id, other):
        await auth_app.http.post("/fhir/Observation", json=observation(patient), headers=system(auth_app))
    await drain(auth_app.store)
    await auth_app.http.get("/fhir/Observation?code:text=pulse", headers=token(auth_app, ("user/Observation.rs",)))
    await drain(auth_app.store)
    searches = [
        e for e in await audit_events(auth_app, "subtype=search-type") if query_of(e) == "Observation?code:text=pulse"
    ]
    assert sorted(p for e in searches for p in patients_of(e)) == sorted(
        [f"Patient/{auth_app.patient_id}", f"Patient/{other}"]
    )
    assert all(len(patients_of(e)) == 1 for e in searches)


async def test_refused_and_failed_requests_are_audited_with_their_outcome(auth_app: AuthApp) -> None:
    patient_token = token(auth_app, ("patient/Observation.rs",), patient=auth_app.patient_id, fhir_user=None)
    forbidden = await auth_app.http.post(
        "/fhir/Observation", json=observation(auth_app.patient_id), headers=patient_token
    )
    assert forbidden.status_code == 403
    missing = await auth_app.http.get("/fhir/Observation/nope", headers=patient_token)
    assert missing.status_code == 404
    refused = await auth_app.http.get("/fhir/Patient", headers={"Authorization": "Bearer not-a-token"})
    assert refused.status_code == 401
    await drain(auth_app.store)
    events = await audit_events(auth_app)
    failures = {(subtype(e), e["outcome"]) for e in events if e["type"]["code"] == "rest"}
    assert {("create", "4"), ("read", "4")} <= failures
    alerts = [e for e in events if e["type"]["code"] == "110113"]
    assert len(alerts) == 1 and "malformed" in alerts[0]["outcomeDesc"]
    assert _agent(alerts[0], "110153")["network"]["address"] == "127.0.0.1"  # type: ignore[index]


async def test_logins_and_token_requests_are_audited(auth_app: AuthApp) -> None:
    verifier, challenge = pkce_pair()
    params = authorize_params(auth_app.client_id, challenge, "launch/patient patient/*.rs")
    page = await auth_app.http.get("/auth/authorize", params=params)
    wrong = {**hidden_fields(page.text), "username": "dr.who", "password": "wrong password"}
    assert (await auth_app.http.post("/auth/login", data=wrong)).status_code == 401
    query = await browser_flow(auth_app.http, params, patient=auth_app.patient_id)
    assert (await exchange_code(auth_app, query["code"][0], verifier)).status_code == 200
    assert (await exchange_code(auth_app, query["code"][0], verifier)).status_code == 400  # reused code
    await drain(auth_app.store)
    events = await audit_events(auth_app, "type=110114")
    logins = sorted(e["outcome"] for e in events if subtype(e) == "110122")
    assert logins == ["0", "4"]
    tokens = [e for e in events if subtype(e) == "token"]
    assert sorted(e["outcome"] for e in tokens) == ["0", "4"]
    issued = next(e for e in tokens if e["outcome"] == "0")
    assert patients_of(issued) == [f"Patient/{auth_app.patient_id}"]
    assert "invalid_grant" in next(e for e in tokens if e["outcome"] == "4")["outcomeDesc"]
    assert PASSWORD not in str(events)


async def test_audit_events_are_not_audited_and_cannot_be_changed(auth_app: AuthApp) -> None:
    await drain(auth_app.store)
    assert await drain(auth_app.store) == 0  # writing AuditEvents queued no further audit work
    events = await audit_events(auth_app)
    assert events
    chained = events[0]["id"]
    practitioner = token(auth_app, ("user/*.cruds",))
    assert (await auth_app.http.delete(f"/fhir/AuditEvent/{chained}", headers=practitioner)).status_code == 405
    changed = {**events[0], "outcome": "8"}
    assert (
        await auth_app.http.put(f"/fhir/AuditEvent/{chained}", json=changed, headers=practitioner)
    ).status_code == 405
    squat = {**events[0], "id": "chain-000099999999"}
    answer = await auth_app.http.put("/fhir/AuditEvent/chain-000099999999", json=squat, headers=practitioner)
    assert answer.status_code == 405


async def test_trusted_callers_reads_are_not_audited_but_their_writes_are(auth_app: AuthApp) -> None:
    from ember.access import AccessContext
    from ember.interactions.dispatch import dispatch
    from ember.interactions.request import FhirRequest

    await drain(auth_app.store)
    trusted = AccessContext(unrestricted=True)
    await dispatch(trusted, FhirRequest("read", "Patient", auth_app.patient_id), auth_app.store)
    assert READ_BUFFER.pending(auth_app.store) == 0
    body = {"resourceType": "Patient", "name": [{"family": "Trusted"}]}
    await dispatch(trusted, FhirRequest("create", "Patient", body=body), auth_app.store)
    async with auth_app.store.transaction() as tx:
        assert len(await tx.list_jobs("audit", "queued")) == 1
