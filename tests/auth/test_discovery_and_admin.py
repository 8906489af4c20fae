"""Discovery documents, the admin API and RFC 7591 dynamic registration."""

from __future__ import annotations

import json

import pytest

from ember.settings import Settings
from tests.auth.conftest import PASSWORD, AuthApp
from tests.conformance import CONFORMANCE

pytestmark = pytest.mark.anyio
WELL_KNOWN = CONFORMANCE / "smart" / "well-known"
#: Fields the SMART conformance page requires in .well-known/smart-configuration.
REQUIRED = {
    "issuer",
    "jwks_uri",
    "authorization_endpoint",
    "token_endpoint",
    "grant_types_supported",
    "capabilities",
    "code_challenge_methods_supported",
}


async def test_smart_configuration_has_every_required_field_and_the_example_keys(auth_app: AuthApp) -> None:
    document = (await auth_app.http.get("/fhir/.well-known/smart-configuration")).json()
    assert REQUIRED <= document.keys()
    example = json.loads((WELL_KNOWN / "smart-configuration.conformance-page-example.json").read_text())
    not_offered = {"management_endpoint", "associated_endpoints", "registration_endpoint"}
    assert set(example) - not_offered <= document.keys()
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert {"launch-ehr", "launch-standalone", "client-confidential-asymmetric", "permission-v2"} <= set(
        document["capabilities"]
    )
    assert document["token_endpoint_auth_signing_alg_values_supported"] == ["RS384", "ES384"]
    for endpoint in (
        "authorization_endpoint",
        "token_endpoint",
        "jwks_uri",
        "introspection_endpoint",
        "revocation_endpoint",
    ):
        path = document[endpoint].removeprefix("http://ember.test")
        answer = await auth_app.http.get(path)
        assert answer.status_code != 404, endpoint


async def test_openid_configuration_and_jwks(auth_app: AuthApp) -> None:
    for path in ("/.well-known/openid-configuration", "/fhir/.well-known/openid-configuration"):
        document = (await auth_app.http.get(path)).json()
        assert document["issuer"] == "http://ember.test/fhir"
        assert document["id_token_signing_alg_values_supported"] == ["RS256"]
    keys = (await auth_app.http.get("/auth/jwks")).json()["keys"]
    assert len(keys) == 1 and keys[0]["kty"] == "RSA" and "d" not in keys[0]


async def test_admin_api_registers_a_confidential_client_with_a_secret_shown_once(auth_app: AuthApp) -> None:
    metadata = {
        "client_name": "Portal",
        "redirect_uris": ["https://portal.example/cb"],
        "scope": "user/*.rs",
        "token_endpoint_auth_method": "client_secret_basic",
    }
    created = await auth_app.http.post("/auth/admin/clients", json=metadata, auth=("admin", PASSWORD))
    assert created.status_code == 201, created.text
    secret = created.json()["client_secret"]
    listed = (await auth_app.http.get("/auth/admin/clients", auth=("admin", PASSWORD))).json()
    assert any(c["client_id"] == created.json()["client_id"] for c in listed)
    assert secret not in json.dumps(listed)
    # The secret authenticates the client at the token endpoint (a bad one does not).
    for candidate, expected in ((secret, "invalid_grant"), ("wrong", "invalid_client")):
        answer = await auth_app.http.post(
            "/auth/token",
            data={"grant_type": "authorization_code", "code": "x"},
            auth=(created.json()["client_id"], candidate),
        )
        assert answer.json()["error"] == expected


async def test_admin_api_needs_an_admin(auth_app: AuthApp) -> None:
    assert (await auth_app.http.get("/auth/admin/clients")).status_code == 401
    assert (await auth_app.http.get("/auth/admin/clients", auth=("admin", "wrong-password"))).status_code == 401
    assert (await auth_app.http.get("/auth/admin/clients", auth=("nobody", PASSWORD))).status_code == 401
    assert (await auth_app.http.get("/auth/admin/clients", auth=("dr.who", PASSWORD))).status_code == 403


async def test_dynamic_registration_is_off_by_default(auth_app: AuthApp) -> None:
    response = await auth_app.http.post(
        "/auth/register", json={"client_name": "x", "redirect_uris": ["https://x.example/cb"]}
    )
    assert response.status_code == 403
    assert "registration_endpoint" not in (await auth_app.http.get("/fhir/.well-known/smart-configuration")).json()


@pytest.mark.parametrize("auth_settings", [Settings(auth="on", dynamic_registration="on")])
async def test_dynamic_registration_when_on_refuses_system_scopes(auth_app: AuthApp) -> None:
    public = {
        "client_name": "Phone app",
        "redirect_uris": ["https://phone.example/cb"],
        "scope": "patient/*.rs launch/patient",
        "token_endpoint_auth_method": "none",
    }
    created = await auth_app.http.post("/auth/register", json=public)
    assert created.status_code == 201
    assert "client_secret" not in created.json() and created.json()["kind"] == "public"
    backend = {
        **public,
        "scope": "system/*.cruds",
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks": {"keys": []},
    }
    refused = await auth_app.http.post("/auth/register", json=backend)
    assert (refused.status_code, refused.json()["error"]) == (400, "invalid_client_metadata")
    bad_uri = await auth_app.http.post("/auth/register", json={**public, "redirect_uris": ["not a url"]})
    assert bad_uri.json()["error"] == "invalid_client_metadata"
