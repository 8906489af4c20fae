"""A patient's active privacy Consent that denies an actor (practitioner, organization, app), a
purpose of use, resource types or security labels hides exactly those resources from that
actor on every read path; break-the-glass overrides it only for a user with that right, and is
audited."""

from __future__ import annotations

from typing import Any

import pytest

from ember.auth.users import add_user
from ember.consent import CLIENT_ID_SYSTEM
from tests.audit.support import audit_events, drain, observation, system, token
from tests.auth.conftest import PASSWORD, AuthApp

pytestmark = pytest.mark.anyio

CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
READER = ("user/*.rs",)


async def _post(app: AuthApp, resource: dict[str, Any]) -> str:
    answer = await app.http.post(f"/fhir/{resource['resourceType']}", json=resource, headers=system(app))
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


async def _world(app: AuthApp) -> dict[str, str]:
    """Patient A (the fixture's) with a plain and a restricted Observation and a Condition;
    patient B with an Observation."""
    a = app.patient_id
    b = await _post(app, {"resourceType": "Patient", "name": [{"family": "Other"}]})
    return {
        "a": a,
        "b": b,
        "plain": await _post(app, observation(a)),
        "restricted": await _post(
            app,
            {**observation(a), "meta": {"security": [{"system": CONFIDENTIALITY, "code": "R"}]}},
        ),
        "condition": await _post(
            app, {"resourceType": "Condition", "subject": {"reference": f"Patient/{a}"}, "code": {"text": "flu"}}
        ),
        "other": await _post(app, observation(b)),
    }


async def _consent(app: AuthApp, patient: str, provision: dict[str, Any], status: str = "active") -> str:
    return await _post(
        app,
        {
            "resourceType": "Consent",
            "status": status,
            "scope": {
                "coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]
            },
            "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
            "patient": {"reference": f"Patient/{patient}"},
            "policyRule": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTIN"}]},
            "provision": provision,
        },
    )


async def _visible(app: AuthApp, headers: dict[str, str], world: dict[str, str]) -> set[str]:
    """Every resource the caller reaches through search, includes, compartments, history and reads."""
    a = world["a"]
    paths = [
        "/fhir/Observation?_count=100",
        "/fhir/Condition",
        f"/fhir/Patient?_id={a},{world['b']}&_revinclude=Observation:subject",
        "/fhir/Observation?_include=Observation:subject",
        "/fhir/Observation/_history",
        f"/fhir/Patient/{a}/Observation",
        "/fhir/Observation?subject.name=Chalmers",
        f"/fhir/Patient/{a}",
        f"/fhir/Observation/{world['plain']}",
        f"/fhir/Observation/{world['restricted']}/_history/1",
    ]
    seen: set[str] = set()
    for path in paths:
        answer = await app.http.get(path, headers=headers)
        assert answer.status_code in (200, 404), (path, answer.text[:200])
        body = answer.json()
        resources = (
            [e["resource"] for e in body.get("entry", []) if "resource" in e]
            if body["resourceType"] == "Bundle"
            else [body]
        )
        seen |= {f"{r['resourceType']}/{r['id']}" for r in resources if r["resourceType"] != "OperationOutcome"}
    return seen


def _of_a(world: dict[str, str]) -> set[str]:
    return {
        f"Patient/{world['a']}",
        f"Observation/{world['plain']}",
        f"Observation/{world['restricted']}",
        f"Condition/{world['condition']}",
    }


async def test_denied_practitioner_sees_nothing_of_the_patient_on_any_path(auth_app: AuthApp) -> None:
    world = await _world(auth_app)
    await _consent(auth_app, world["a"], {"type": "deny", "actor": [_actor("Practitioner/doc1")]})
    denied = await _visible(auth_app, token(auth_app, READER), world)
    assert not denied & _of_a(world) and f"Observation/{world['other']}" in denied
    colleague = await _visible(auth_app, token(auth_app, READER, subject="dr.no", fhir_user="Practitioner/doc2"), world)
    assert _of_a(world) <= colleague
    write = observation(world["a"])
    refused = await auth_app.http.post("/fhir/Observation", json=write, headers=token(auth_app, ("user/*.cruds",)))
    assert refused.status_code == 403


async def test_denying_an_organization_denies_its_practitioners(auth_app: AuthApp) -> None:
    world = await _world(auth_app)
    organization = await _post(auth_app, {"resourceType": "Organization", "name": "Clinic"})
    role = {
        "resourceType": "PractitionerRole",
        "practitioner": {"reference": "Practitioner/doc1"},
        "organization": {"reference": f"Organization/{organization}"},
    }
    await _post(auth_app, role)
    await _consent(auth_app, world["a"], {"type": "deny", "actor": [_actor(f"Organization/{organization}")]})
    assert not await _visible(auth_app, token(auth_app, READER), world) & _of_a(world)
    outsider = token(auth_app, READER, subject="dr.no", fhir_user="Practitioner/doc2")
    assert _of_a(world) <= await _visible(auth_app, outsider, world)


async def test_denying_an_app_by_client_id(auth_app: AuthApp) -> None:
    world = await _world(auth_app)
    app_actor = {"role": _role(), "reference": {"identifier": {"system": CLIENT_ID_SYSTEM, "value": "research-app"}}}
    await _consent(auth_app, world["a"], {"type": "deny", "actor": [app_actor]})
    research = token(auth_app, ("system/*.rs",), subject="research-app", fhir_user=None, client_id="research-app")
    assert not await _visible(auth_app, research, world) & _of_a(world)
    assert _of_a(world) <= await _visible(auth_app, token(auth_app, READER), world)


async def test_denying_a_purpose_of_use(auth_app: AuthApp) -> None:
    world = await _world(auth_app)
    purpose = {"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "HRESCH"}
    await _consent(auth_app, world["a"], {"type": "deny", "purpose": [purpose]})
    research = {**token(auth_app, READER), "X-Purpose-Of-Use": "HRESCH"}
    assert not await _visible(auth_app, research, world) & _of_a(world)
    treatment = {**token(auth_app, READER), "X-Purpose-Of-Use": "TREAT"}
    assert _of_a(world) <= await _visible(auth_app, treatment, world)
    bad = await auth_app.http.get(
        "/fhir/Observation", headers={**token(auth_app, READER), "X-Purpose-Of-Use": "no such"}
    )
    assert bad.status_code == 400


async def test_denying_a_class_of_resources(auth_app: AuthApp) -> None:
    world = await _world(auth_app)
    observation_class = {"system": "http://hl7.org/fhir/resource-types", "code": "Observation"}
    await _consent(
        auth_app, world["a"], {"type": "deny", "actor": [_actor("Practitioner/doc1")], "class": [observation_class]}
    )
    seen = await _visible(auth_app, token(auth_app, READER), world)
    assert f"Patient/{world['a']}" in seen and f"Condition/{world['condition']}" in seen
    assert not {f"Observation/{world['plain']}", f"Observation/{world['restricted']}"} & seen


async def test_denying_a_security_label(auth_app: AuthApp) -> None:
    world = await _world(auth_app)
    label = {"system": CONFIDENTIALITY, "code": "R"}
    await _consent(auth_app, world["a"], {"type": "deny", "securityLabel": [label]})
    seen = await _visible(auth_app, token(auth_app, READER), world)
    assert _of_a(world) - {f"Observation/{world['restricted']}"} <= seen
    assert f"Observation/{world['restricted']}" not in seen


async def test_only_active_privacy_consents_of_the_patient_count_and_the_patient_keeps_access(
    auth_app: AuthApp,
) -> None:
    world = await _world(auth_app)
    consent = await _consent(auth_app, world["a"], {"type": "deny"})  # denies everyone
    assert not await _visible(auth_app, token(auth_app, READER), world) & _of_a(world)
    own = token(auth_app, ("patient/*.rs",), subject="pat", patient=world["a"], fhir_user=f"Patient/{world['a']}")
    assert _of_a(world) <= await _visible(auth_app, own, world)
    stored = (await auth_app.http.get(f"/fhir/Consent/{consent}", headers=system(auth_app))).json()
    stored["status"] = "inactive"
    updated = await auth_app.http.put(f"/fhir/Consent/{consent}", json=stored, headers=system(auth_app))
    assert updated.status_code == 200, updated.text
    assert _of_a(world) <= await _visible(auth_app, token(auth_app, READER), world)


async def test_break_the_glass_only_for_a_user_with_the_right_and_always_audited(auth_app: AuthApp) -> None:
    world = await _world(auth_app)
    await add_user(auth_app.store, "dr.glass", PASSWORD, "practitioner", "Practitioner/doc1", break_glass=True)
    await _consent(auth_app, world["a"], {"type": "deny", "actor": [_actor("Practitioner/doc1")]})
    glass = token(auth_app, READER, subject="dr.glass")
    assert not await _visible(auth_app, glass, world) & _of_a(world)  # no override without asking
    assert _of_a(world) <= await _visible(auth_app, {**glass, "X-Purpose-Of-Use": "BTG"}, world)
    refused = await auth_app.http.get(
        f"/fhir/Patient/{world['a']}", headers={**token(auth_app, READER), "X-Purpose-Of-Use": "BTG"}
    )
    assert refused.status_code == 403
    app_itself = token(auth_app, ("system/*.rs",), subject="dr.glass", fhir_user=None, client_id="dr.glass")
    assert (
        await auth_app.http.get("/fhir/Patient", headers={**app_itself, "X-Purpose-Of-Use": "BTG"})
    ).status_code == 403
    await drain(auth_app.store)
    events = await audit_events(auth_app, f"patient={world['a']}")
    purposes = [
        (agent["who"]["identifier"]["value"], event["outcome"])
        for event in events
        for agent in event["agent"]
        if any(c["code"] == "BTG" for p in agent.get("purposeOfUse", []) for c in p["coding"])
    ]
    assert ("dr.glass", "0") in purposes
    alerts = [e for e in await audit_events(auth_app, "type=110113") if "break the glass" in e.get("outcomeDesc", "")]
    assert len(alerts) == 2


def _role() -> dict[str, Any]:
    return {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "IRCP"}]}


def _actor(reference: str) -> dict[str, Any]:
    return {"role": _role(), "reference": {"reference": reference}}
