"""POST /auth/token: the authorization_code, refresh_token and client_credentials grants.

Every grant authenticates the client first (client_auth.py). Refresh tokens rotate: each use
consumes the old one and returns a new one, and may only narrow the original scopes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ember.auth.client_auth import authenticate_client
from ember.auth.clients import Client
from ember.auth.codes import (
    mark_redeemed,
    peek_refresh_token,
    redeem_code,
    store_refresh_token,
    take_redeemed,
    take_refresh_token,
)
from ember.auth.errors import NO_STORE, OAuthError
from ember.auth.forms import read_form
from ember.auth.scopes import grantable, split
from ember.auth.server import AuthServer
from ember.auth.tokens import Authorization

Grant = Callable[[AuthServer, Request, Client, dict[str, str]], Awaitable[dict[str, Any]]]


async def token(server: AuthServer, request: Request) -> Response:
    form, _ = await read_form(request)
    grant = _GRANTS.get(form.get("grant_type", ""))
    if grant is None:
        raise OAuthError(
            "unsupported_grant_type", "grant_type must be authorization_code, refresh_token or client_credentials"
        )
    audience = server.auth_url(request, "token")
    client = await authenticate_client(server.store, form, request.headers.get("authorization"), audience)
    return JSONResponse(await grant(server, request, client, form), headers=NO_STORE)


async def _authorization_code(
    server: AuthServer, request: Request, client: Client, form: dict[str, str]
) -> dict[str, Any]:
    code = form.get("code", "")
    granted = await redeem_code(server.store, code)
    if granted is None:
        await _revoke_replayed(server, code)
        raise OAuthError("invalid_grant", "The authorization code is unknown, expired or already used")
    authorization = Authorization.from_record(granted["authorization"])
    if authorization.client_id != client.client_id:
        raise OAuthError("invalid_grant", "The authorization code was issued to another client")
    if form.get("redirect_uri") != granted["redirect_uri"]:
        raise OAuthError("invalid_grant", "redirect_uri differs from the one of the authorization request")
    if not _pkce_matches(form.get("code_verifier", ""), granted["challenge"]):
        raise OAuthError("invalid_grant", "The PKCE code_verifier does not match the code_challenge")
    body, claims = await _issue(server, request, authorization, granted.get("nonce"))
    if authorization.patient is not None:
        body["need_patient_banner"] = granted["need_patient_banner"]
    issued = {"jti": claims["jti"], "jti_exp": claims["exp"], "refresh": body.get("refresh_token")}
    await mark_redeemed(server.store, code, issued, time.time() + server.settings.refresh_token_seconds)
    return body


def _pkce_matches(verifier: str, challenge: str) -> bool:
    if not 43 <= len(verifier) <= 128:
        return False
    computed = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return hmac.compare_digest(computed, challenge)


async def _revoke_replayed(server: AuthServer, code: str) -> None:
    issued = await take_redeemed(server.store, code) if code else None
    if issued is None:
        return
    _, verifier = server.tokens()
    await verifier.revoked.add(issued["jti"], issued["jti_exp"])
    if issued.get("refresh"):
        await take_refresh_token(server.store, issued["refresh"])


async def _refresh_token(server: AuthServer, request: Request, client: Client, form: dict[str, str]) -> dict[str, Any]:
    presented = form.get("refresh_token", "")
    current = await peek_refresh_token(server.store, presented)
    if current is None or current["authorization"]["client_id"] != client.client_id:
        raise OAuthError("invalid_grant", "The refresh token is unknown, expired, revoked or not this client's")
    original = Authorization.from_record(current["authorization"])
    scopes = original.scopes
    if "scope" in form:
        requested = split(form["scope"])
        if grantable(requested, list(original.scopes)) != requested:
            raise OAuthError("invalid_scope", "A refresh may only narrow the originally granted scopes")
        scopes = tuple(requested)
    if await take_refresh_token(server.store, presented) is None:
        raise OAuthError("invalid_grant", "The refresh token was used concurrently")
    narrowed = Authorization(
        original.client_id, original.subject, scopes, original.patient, original.fhir_user, original.encounter
    )
    return (await _issue(server, request, narrowed, None))[0]


async def _client_credentials(
    server: AuthServer, request: Request, client: Client, form: dict[str, str]
) -> dict[str, Any]:
    if client.kind != "confidential-asymmetric":
        raise OAuthError("unauthorized_client", "client_credentials needs a client registered for private_key_jwt")
    requested = [scope for scope in split(form.get("scope")) if scope.startswith("system/")]
    scopes = grantable(requested, list(client.scopes))
    if not scopes:
        raise OAuthError("invalid_scope", "None of the requested system/ scopes may be granted to this client")
    return (await _issue(server, request, Authorization(client.client_id, client.client_id, tuple(scopes)), None))[0]


async def _issue(
    server: AuthServer, request: Request, authorization: Authorization, nonce: str | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The token response body, and the access token's claims."""
    signer, _ = server.tokens()
    access_token, claims = signer.access_token(authorization, server.issuer(request), server.fhir_base(request))
    body: dict[str, Any] = {
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": server.settings.access_token_seconds,
        "scope": " ".join(authorization.scopes),
    }
    if authorization.patient is not None:
        body["patient"] = authorization.patient
        body["smart_style_url"] = server.auth_url(request, "smart-style.json")
    if authorization.encounter is not None:
        body["encounter"] = authorization.encounter
    if "openid" in authorization.scopes and authorization.subject != authorization.client_id:
        body["id_token"] = signer.id_token(authorization, server.issuer(request), nonce)
    lifetime = _refresh_lifetime(server, authorization.scopes)
    if lifetime:
        body["refresh_token"] = await store_refresh_token(server.store, authorization, lifetime)
    return body, claims


def _refresh_lifetime(server: AuthServer, scopes: tuple[str, ...]) -> int:
    if "offline_access" in scopes:
        return server.settings.refresh_token_seconds
    if "online_access" in scopes:
        return server.settings.online_refresh_token_seconds
    return 0


_GRANTS: dict[str, Grant] = {
    "authorization_code": _authorization_code,
    "refresh_token": _refresh_token,
    "client_credentials": _client_credentials,
}
