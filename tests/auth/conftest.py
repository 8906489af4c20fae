"""An auth-on Ember app in process, on both store back ends, with a user, a patient and apps.

`browser_flow` plays a user's browser through the server-rendered pages (GET authorize, POST
login, picker and consent forms) the way a person would, without JavaScript.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from ember.auth.clients import register_client
from ember.auth.server import AuthServer
from ember.auth.users import add_user
from ember.rest.app import create_app
from ember.settings import Settings
from ember.store.base import Store

ORIGIN = "http://ember.test"
BASE = f"{ORIGIN}/fhir"
REDIRECT = "https://app.example/callback"
PASSWORD = "correct horse battery"
APP_SCOPES = "launch launch/patient openid fhirUser offline_access online_access patient/*.cruds user/*.cruds"


@dataclass
class AuthApp:
    http: httpx.AsyncClient
    auth: AuthServer
    store: Store
    client_id: str
    patient_id: str


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


@pytest.fixture
def auth_settings() -> Settings:
    return Settings(auth="on", login_max_failures=3, login_lockout_seconds=60)


@pytest.fixture
async def auth_app(store: Store, auth_settings: Settings) -> AsyncIterator[AuthApp]:
    app = create_app(auth_settings, store)
    auth: AuthServer = app.state.auth
    await auth.start()
    client, _ = await register_client(
        store, name="Test app", kind="public", redirect_uris=[REDIRECT], scopes=APP_SCOPES.split()
    )
    await add_user(store, "dr.who", PASSWORD, "practitioner", "Practitioner/doc1")
    await add_user(store, "admin", PASSWORD, "admin", None)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ORIGIN) as http:
        patient_id = await _seed_patient(http, auth)
        yield AuthApp(http, auth, store, client.client_id, patient_id)


async def _seed_patient(http: httpx.AsyncClient, auth: AuthServer) -> str:
    """One Patient, written with a system-level token issued by the server's own signer."""
    from ember.auth.tokens import Authorization

    signer, _ = auth.tokens()
    token, _ = signer.access_token(Authorization("seed", "seed", ("system/*.cruds",)), BASE, BASE)
    patient = {"resourceType": "Patient", "name": [{"family": "Chalmers", "given": ["Peter"]}]}
    response = await http.post("/fhir/Patient", json=patient, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def authorize_params(client_id: str, challenge: str, scope: str, **extra: str) -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "scope": scope,
        "state": "s-123",
        "aud": BASE,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **extra,
    }


def hidden_fields(html: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', html))


async def browser_flow(
    http: httpx.AsyncClient,
    params: dict[str, str],
    *,
    username: str = "dr.who",
    patient: str | None = None,
    keep_scopes: list[str] | None = None,
) -> dict[str, list[str]]:
    """Go through login, (picker) and consent; the query of the redirect back to the app."""
    page = await http.get("/auth/authorize", params=params)
    assert page.status_code == 200, page.text
    page = await http.post("/auth/login", data={**hidden_fields(page.text), "username": username, "password": PASSWORD})
    assert page.status_code == 200, page.text
    if 'action="patient"' in page.text:
        assert patient is not None, "the patient picker was shown"
        page = await http.post("/auth/patient", data={**hidden_fields(page.text), "patient": patient})
    scopes = keep_scopes if keep_scopes is not None else re.findall(r'name="scope" value="([^"]*)"', page.text)
    form = [*hidden_fields(page.text).items(), ("decision", "approve"), *(("scope", s) for s in scopes)]
    form_type = {"Content-Type": "application/x-www-form-urlencoded"}
    redirect = await http.post("/auth/consent", content=urlencode(form), headers=form_type)
    assert redirect.status_code == 303, redirect.text
    location = redirect.headers["location"]
    assert location.startswith(REDIRECT)
    return parse_qs(urlsplit(location).query)


async def token_for(app: AuthApp, scope: str, patient: str | None = None) -> dict[str, object]:
    """A full standalone launch: the token response."""
    verifier, challenge = pkce_pair()
    query = await browser_flow(app.http, authorize_params(app.client_id, challenge, scope), patient=patient)
    response = await exchange_code(app, query["code"][0], verifier)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def exchange_code(app: AuthApp, code: str, verifier: str, redirect_uri: str = REDIRECT) -> httpx.Response:
    """The token request of a public client redeeming `code`."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "client_id": app.client_id,
        "code_verifier": verifier,
    }
    return await app.http.post("/auth/token", data=form)


def bearer(token: object) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
