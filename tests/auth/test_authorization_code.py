"""Authorization code + PKCE through the server-rendered pages, and what the token then allows."""

from __future__ import annotations

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.auth.conftest import (
    BASE,
    REDIRECT,
    AuthApp,
    authorize_params,
    bearer,
    browser_flow,
    exchange_code,
    hidden_fields,
    pkce_pair,
    token_for,
)

pytestmark = pytest.mark.anyio


async def test_standalone_launch_with_patient_picker_reads_the_patient(auth_app: AuthApp) -> None:
    body = await token_for(auth_app, "launch/patient patient/Patient.rs openid fhirUser", patient=auth_app.patient_id)
    assert body["patient"] == auth_app.patient_id
    assert body["token_type"] == "Bearer" and body["need_patient_banner"] is True
    assert str(body["smart_style_url"]).startswith("http://ember.test/auth/")
    read = await auth_app.http.get(f"/fhir/Patient/{auth_app.patient_id}", headers=bearer(body["access_token"]))
    assert read.status_code == 200
    assert read.json()["name"][0]["family"] == "Chalmers"


async def test_tokens_are_signed_with_the_published_key_and_carry_the_context(auth_app: AuthApp) -> None:
    body = await token_for(auth_app, "launch/patient patient/*.rs openid fhirUser", patient=auth_app.patient_id)
    keys = KeySet.import_key_set((await auth_app.http.get("/auth/jwks")).json())
    access = jwt.decode(str(body["access_token"]), keys, algorithms=["RS256"]).claims
    assert access["aud"] == BASE and access["patient"] == auth_app.patient_id
    assert access["scope"] == "launch/patient patient/*.rs openid fhirUser"
    identity = jwt.decode(str(body["id_token"]), keys, algorithms=["RS256"]).claims
    assert identity["fhirUser"] == "Practitioner/doc1"
    assert identity["aud"] == auth_app.client_id and identity["iss"] == BASE


async def test_the_user_can_narrow_scopes_on_the_consent_page(auth_app: AuthApp) -> None:
    verifier, challenge = pkce_pair()
    params = authorize_params(auth_app.client_id, challenge, "launch/patient patient/*.rs patient/*.cud")
    query = await browser_flow(
        auth_app.http, params, patient=auth_app.patient_id, keep_scopes=["launch/patient", "patient/*.rs"]
    )
    token = await exchange_code(auth_app, query["code"][0], verifier)
    assert token.json()["scope"] == "launch/patient patient/*.rs"
    create = await auth_app.http.post(
        "/fhir/Observation", json=_observation(auth_app.patient_id), headers=bearer(token.json()["access_token"])
    )
    assert create.status_code == 403
    assert create.json()["issue"][0]["code"] == "forbidden"


async def test_ehr_launch_resolves_the_stored_launch_context(auth_app: AuthApp) -> None:
    created = await auth_app.http.post(
        "/auth/admin/launch", json={"patient": auth_app.patient_id}, auth=("admin", "correct horse battery")
    )
    assert created.status_code == 201, created.text
    verifier, challenge = pkce_pair()
    params = authorize_params(auth_app.client_id, challenge, "launch patient/*.rs", launch=created.json()["launch"])
    query = await browser_flow(auth_app.http, params)  # no picker: the launch names the patient
    token = await exchange_code(auth_app, query["code"][0], verifier)
    assert token.json()["patient"] == auth_app.patient_id
    assert token.json()["need_patient_banner"] is False


async def test_unknown_launch_is_redirected_as_an_error(auth_app: AuthApp) -> None:
    _, challenge = pkce_pair()
    params = authorize_params(auth_app.client_id, challenge, "launch patient/*.rs", launch="nope")
    response = await auth_app.http.get("/auth/authorize", params=params)
    assert response.status_code == 303
    assert "error=invalid_request" in response.headers["location"] and "state=s-123" in response.headers["location"]


async def test_a_denied_consent_redirects_access_denied(auth_app: AuthApp) -> None:
    _, challenge = pkce_pair()
    page = await auth_app.http.get(
        "/auth/authorize", params=authorize_params(auth_app.client_id, challenge, "user/*.rs")
    )
    page = await auth_app.http.post(
        "/auth/login", data={**hidden_fields(page.text), "username": "dr.who", "password": "correct horse battery"}
    )
    response = await auth_app.http.post("/auth/consent", data={**hidden_fields(page.text), "decision": "deny"})
    assert response.status_code == 303
    assert response.headers["location"] == f"{REDIRECT}?error=access_denied&state=s-123"


async def test_forms_without_the_flow_cookie_are_refused(auth_app: AuthApp) -> None:
    """CSRF: a form posted from another browser (no flow cookie) does nothing."""
    _, challenge = pkce_pair()
    page = await auth_app.http.get(
        "/auth/authorize", params=authorize_params(auth_app.client_id, challenge, "user/*.rs")
    )
    fields = hidden_fields(page.text)
    async with httpx.AsyncClient(transport=auth_app.http._transport, base_url="http://ember.test") as other:
        response = await other.post(
            "/auth/login", data={**fields, "username": "dr.who", "password": "correct horse battery"}
        )
    assert response.status_code == 400
    assert "not sent by this browser" in response.text


async def test_repeated_wrong_passwords_lock_the_account(auth_app: AuthApp) -> None:
    _, challenge = pkce_pair()
    page = await auth_app.http.get(
        "/auth/authorize", params=authorize_params(auth_app.client_id, challenge, "user/*.rs")
    )
    fields = hidden_fields(page.text)
    for _ in range(3):  # login_max_failures=3 in the fixture
        wrong = await auth_app.http.post(
            "/auth/login", data={**fields, "username": "dr.who", "password": "guess-guess"}
        )
        assert wrong.status_code == 401
    right = await auth_app.http.post(
        "/auth/login", data={**fields, "username": "dr.who", "password": "correct horse battery"}
    )
    assert right.status_code == 401
    assert "locked" in right.text


def _observation(patient_id: str) -> dict[str, object]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "weight"},
        "subject": {"reference": f"Patient/{patient_id}"},
    }


async def test_a_patient_user_is_always_in_their_own_context(auth_app: AuthApp) -> None:
    from ember.auth.users import add_user

    await add_user(auth_app.store, "peter", "correct horse battery", "patient", f"Patient/{auth_app.patient_id}")
    verifier, challenge = pkce_pair()
    params = authorize_params(auth_app.client_id, challenge, "launch/patient patient/*.rs")
    query = await browser_flow(auth_app.http, params, username="peter")  # no picker for a patient
    token = await exchange_code(auth_app, query["code"][0], verifier)
    assert token.json()["patient"] == auth_app.patient_id
