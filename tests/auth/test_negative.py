"""What must be refused: bad tokens at the FHIR edge, bad codes, PKCE and redirect mistakes,
scope escalation, replays; and what a valid token still may not do."""

from __future__ import annotations

import base64
import time

import pytest

from ember.auth.tokens import Authorization, TokenSigner
from tests.auth.conftest import (
    BASE,
    REDIRECT,
    AuthApp,
    authorize_params,
    bearer,
    browser_flow,
    exchange_code,
    pkce_pair,
    token_for,
)

pytestmark = pytest.mark.anyio


async def _code(app: AuthApp, scope: str = "user/*.rs offline_access") -> tuple[str, str]:
    verifier, challenge = pkce_pair()
    query = await browser_flow(app.http, authorize_params(app.client_id, challenge, scope))
    return query["code"][0], verifier


async def _exchange(app: AuthApp, code: str, verifier: str, redirect_uri: str = REDIRECT) -> dict[str, object]:
    response = await exchange_code(app, code, verifier, redirect_uri)
    return {"status": response.status_code, **response.json()}


async def test_no_token_is_401_with_a_bearer_challenge(auth_app: AuthApp) -> None:
    response = await auth_app.http.get(f"/fhir/Patient/{auth_app.patient_id}")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["resourceType"] == "OperationOutcome"


async def test_metadata_is_public_and_names_the_oauth_endpoints(auth_app: AuthApp) -> None:
    statement = (await auth_app.http.get("/fhir/metadata")).json()
    security = statement["rest"][0]["security"]
    assert security["service"][0]["coding"][0]["code"] == "SMART-on-FHIR"
    uris = {e["url"]: e["valueUri"] for e in security["extension"][0]["extension"]}
    assert uris["authorize"] == "http://ember.test/auth/authorize" and uris["token"] == "http://ember.test/auth/token"


@pytest.mark.parametrize("damage", ["tampered", "expired", "wrong-audience", "foreign-key", "garbage"])
async def test_unusable_tokens_are_401(auth_app: AuthApp, damage: str) -> None:
    signer, _ = auth_app.auth.tokens()
    grant = Authorization(auth_app.client_id, "dr.who", ("user/*.rs",))
    token, _ = signer.access_token(grant, BASE, BASE)
    if damage == "tampered":  # the payload claims more than was signed
        header, payload, signature = token.split(".")
        claims = base64.urlsafe_b64decode(payload + "==").replace(b"user/*.rs", b"user/*.cruds")
        token = ".".join([header, base64.urlsafe_b64encode(claims).rstrip(b"=").decode(), signature])
    elif damage == "expired":
        token, _ = TokenSigner(signer.key, -1).access_token(grant, BASE, BASE)
    elif damage == "wrong-audience":
        token, _ = signer.access_token(grant, BASE, "https://other.example/fhir")
    elif damage == "foreign-key":
        from ember.auth.keys import _generate

        token, _ = TokenSigner(_generate(), 300).access_token(grant, BASE, BASE)
    else:
        token = "not.a.jwt"
    response = await auth_app.http.get(f"/fhir/Patient/{auth_app.patient_id}", headers=bearer(token))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_a_revoked_token_is_401(auth_app: AuthApp) -> None:
    body = await token_for(auth_app, "user/*.rs")
    url = f"/fhir/Patient/{auth_app.patient_id}"
    assert (await auth_app.http.get(url, headers=bearer(body["access_token"]))).status_code == 200
    revoked = await auth_app.http.post(
        "/auth/revoke", data={"token": body["access_token"], "client_id": auth_app.client_id}
    )
    assert revoked.status_code == 200
    assert (await auth_app.http.get(url, headers=bearer(body["access_token"]))).status_code == 401
    introspected = await auth_app.http.post(
        "/auth/introspect", data={"token": body["access_token"], "client_id": auth_app.client_id}
    )
    assert introspected.json() == {"active": False}


async def test_introspection_describes_an_active_token(auth_app: AuthApp) -> None:
    body = await token_for(auth_app, "user/*.rs")
    introspected = await auth_app.http.post(
        "/auth/introspect", data={"token": body["access_token"], "client_id": auth_app.client_id}
    )
    description = introspected.json()
    assert description["active"] is True and description["scope"] == "user/*.rs"
    assert description["client_id"] == auth_app.client_id and description["sub"] == "dr.who"


async def test_pkce_mismatch_is_invalid_grant(auth_app: AuthApp) -> None:
    code, _ = await _code(auth_app)
    other_verifier, _ = pkce_pair()
    result = await _exchange(auth_app, code, other_verifier)
    assert (result["status"], result["error"]) == (400, "invalid_grant")


async def test_plain_pkce_and_missing_pkce_are_refused(auth_app: AuthApp) -> None:
    verifier, _ = pkce_pair()
    for method in ("plain", None):
        params = authorize_params(auth_app.client_id, verifier, "user/*.rs")
        if method is None:
            params.pop("code_challenge_method")
        else:
            params["code_challenge_method"] = method
        response = await auth_app.http.get("/auth/authorize", params=params)
        assert response.status_code == 303
        assert "error=invalid_request" in response.headers["location"]


async def test_a_reused_code_fails_and_revokes_what_it_gave(auth_app: AuthApp) -> None:
    code, verifier = await _code(auth_app)
    first = await _exchange(auth_app, code, verifier)
    assert first["status"] == 200
    url = f"/fhir/Patient/{auth_app.patient_id}"
    assert (await auth_app.http.get(url, headers=bearer(first["access_token"]))).status_code == 200
    again = await _exchange(auth_app, code, verifier)
    assert (again["status"], again["error"]) == (400, "invalid_grant")
    assert (await auth_app.http.get(url, headers=bearer(first["access_token"]))).status_code == 401
    refresh = await auth_app.http.post(
        "/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"], "client_id": auth_app.client_id},
    )
    assert refresh.json()["error"] == "invalid_grant"


async def test_unregistered_redirect_uri_is_never_redirected_to(auth_app: AuthApp) -> None:
    _, challenge = pkce_pair()
    params = authorize_params(auth_app.client_id, challenge, "user/*.rs")
    params["redirect_uri"] = "https://evil.example/callback"
    response = await auth_app.http.get("/auth/authorize", params=params)
    assert response.status_code == 400 and "location" not in response.headers
    assert "redirect_uri" in response.text


async def test_redirect_uri_must_match_at_the_token_endpoint(auth_app: AuthApp) -> None:
    code, verifier = await _code(auth_app)
    result = await _exchange(auth_app, code, verifier, redirect_uri="https://app.example/other")
    assert result["error"] == "invalid_grant"


async def test_wrong_audience_at_authorize_is_refused(auth_app: AuthApp) -> None:
    _, challenge = pkce_pair()
    params = authorize_params(auth_app.client_id, challenge, "user/*.rs", aud="https://other.example/fhir")
    response = await auth_app.http.get("/auth/authorize", params=params)
    assert "error=invalid_request" in response.headers["location"]


async def test_refresh_rotates_and_refuses_scope_escalation(auth_app: AuthApp) -> None:
    body = await token_for(auth_app, "user/*.rs offline_access")

    async def refresh(token: object, scope: str | None = None) -> dict[str, object]:
        form = {"grant_type": "refresh_token", "refresh_token": str(token), "client_id": auth_app.client_id}
        if scope is not None:
            form["scope"] = scope
        response = await auth_app.http.post("/auth/token", data=form)
        return {"status": response.status_code, **response.json()}

    escalated = await refresh(body["refresh_token"], "user/*.cruds offline_access")
    assert (escalated["status"], escalated["error"]) == (400, "invalid_scope")
    narrowed = await refresh(body["refresh_token"], "user/Patient.rs offline_access")
    assert narrowed["status"] == 200 and narrowed["scope"] == "user/Patient.rs offline_access"
    assert narrowed["refresh_token"] != body["refresh_token"]
    replay = await refresh(body["refresh_token"])  # rotated: the old one is gone
    assert (replay["status"], replay["error"]) == (400, "invalid_grant")
    observation = await auth_app.http.get("/fhir/Observation/x", headers=bearer(narrowed["access_token"]))
    assert observation.status_code == 403


async def test_scopes_the_client_is_not_registered_for_are_not_granted(auth_app: AuthApp) -> None:
    body = await token_for(auth_app, "user/*.rs system/*.cruds")
    assert body["scope"] == "user/*.rs"


async def test_a_transaction_with_one_forbidden_entry_writes_nothing(auth_app: AuthApp) -> None:
    body = await token_for(auth_app, "user/Observation.cruds")
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": {"resourceType": "Observation", "status": "final", "code": {"text": "x"}},
                "request": {"method": "POST", "url": "Observation"},
            },
            {"request": {"method": "DELETE", "url": f"Patient/{auth_app.patient_id}"}},
        ],
    }
    response = await auth_app.http.post("/fhir", json=bundle, headers=bearer(body["access_token"]))
    assert response.status_code == 403
    history = await auth_app.http.get("/fhir/Observation/_history", headers=bearer(body["access_token"]))
    assert history.json()["total"] == 0


async def test_batch_entries_are_checked_one_by_one(auth_app: AuthApp) -> None:
    body = await token_for(auth_app, "user/Patient.rs")
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {"request": {"method": "GET", "url": f"Patient/{auth_app.patient_id}"}},
            {"request": {"method": "DELETE", "url": f"Patient/{auth_app.patient_id}"}},
        ],
    }
    response = await auth_app.http.post("/fhir", json=bundle, headers=bearer(body["access_token"]))
    statuses = [entry["response"]["status"] for entry in response.json()["entry"]]
    assert statuses == ["200 OK", "403 Forbidden"]


async def test_expired_authorization_codes_are_refused(auth_app: AuthApp, monkeypatch: pytest.MonkeyPatch) -> None:
    code, verifier = await _code(auth_app)
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + auth_app.auth.settings.auth_code_seconds + 1)
    result = await _exchange(auth_app, code, verifier)
    assert result["error"] == "invalid_grant"
