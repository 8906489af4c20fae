"""Who is calling the token, introspection and revocation endpoints.

Public clients name themselves (`client_id`); confidential-symmetric ones prove it with their
secret (HTTP Basic or form fields); confidential-asymmetric ones with a `private_key_jwt`
assertion (RFC 7523) signed RS384 or ES384, whose `jti` may be used once
(SMART Backend Services). JWKS fetched from a client's `jwks_uri` are cached for five minutes.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

import httpx
import orjson
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from ember.auth.clients import Client, get_client
from ember.auth.errors import OAuthError
from ember.auth.passwords import secret_matches
from ember.store.base import Store

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_ALGORITHMS = ["RS384", "ES384"]
_MAX_ASSERTION_SECONDS = 300
_JWKS_CACHE_SECONDS = 300
_jwks_cache: dict[str, tuple[float, dict[str, Any]]] = {}


def _invalid_client(description: str) -> OAuthError:
    return OAuthError("invalid_client", description, 401)


async def authenticate_client(
    store: Store, form: Mapping[str, str], authorization: str | None, audience: str
) -> Client:
    """The calling client, authenticated as its kind requires; `audience` is the URL an
    assertion must be addressed to (the token endpoint)."""
    if form.get("client_assertion_type") == ASSERTION_TYPE:
        return await _by_assertion(store, form.get("client_assertion", ""), audience)
    client_id, secret = basic_credentials(authorization) if authorization else (form.get("client_id"), None)
    secret = secret if secret is not None else form.get("client_secret")
    client = await get_client(store, client_id or "")
    if client is None:
        raise _invalid_client("Unknown client")
    if client.kind == "confidential-asymmetric":
        raise _invalid_client("This client must authenticate with a private_key_jwt assertion")
    if client.kind == "confidential-symmetric" and not (
        secret is not None and client.secret_hash and secret_matches(client.secret_hash, secret)
    ):
        raise _invalid_client("Client authentication failed")
    return client


def basic_credentials(authorization: str) -> tuple[str, str]:
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic":
        raise _invalid_client("Unsupported Authorization scheme for client authentication")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise _invalid_client("Malformed HTTP Basic credentials") from None
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        raise _invalid_client("Malformed HTTP Basic credentials")
    return unquote(client_id), unquote(secret)


async def _by_assertion(store: Store, assertion: str, audience: str) -> Client:
    claims = _unverified_claims(assertion)
    client = await get_client(store, str(claims.get("iss", "")))
    if client is None or client.kind != "confidential-asymmetric":
        raise _invalid_client("The assertion's issuer is not a client registered for private_key_jwt")
    keys = await _client_keys(client)
    try:
        decoded = jwt.decode(assertion, keys, algorithms=ASSERTION_ALGORITHMS)
    except (JoseError, ValueError) as failure:
        raise _invalid_client(f"The client assertion is not validly signed ({failure})") from None
    _check_assertion_claims(decoded.claims, client.client_id, audience)
    async with store.transaction() as tx:
        fresh = await tx.insert_record(
            "auth_jti", f"{client.client_id} {decoded.claims['jti']}", {}, expires_at=decoded.claims["exp"]
        )
    if not fresh:
        raise _invalid_client("The client assertion's jti was already used")
    return client


def _unverified_claims(assertion: str) -> dict[str, Any]:
    """The claims before the signature is checked: only to find whose keys to check it with."""
    parts = assertion.split(".")
    try:
        if len(parts) != 3:
            raise ValueError("not three parts")
        claims = orjson.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError):
        raise _invalid_client("The client assertion is not a JWT") from None
    if not isinstance(claims, dict):
        raise _invalid_client("The client assertion is not a JWT")
    return claims


def _check_assertion_claims(claims: dict[str, Any], client_id: str, audience: str) -> None:
    now = time.time()
    expires = claims.get("exp")
    if claims.get("iss") != client_id or claims.get("sub") != client_id:
        raise _invalid_client("The assertion's iss and sub must both be the client_id")
    if claims.get("aud") != audience and not (isinstance(claims.get("aud"), list) and audience in claims["aud"]):
        raise _invalid_client(f"The assertion's aud must be the token endpoint {audience}")
    if not isinstance(expires, int | float) or expires <= now or expires > now + _MAX_ASSERTION_SECONDS:
        raise _invalid_client("The assertion must expire within five minutes from now")
    if not isinstance(claims.get("jti"), str) or not claims["jti"]:
        raise _invalid_client("The assertion needs a jti")


async def _client_keys(client: Client) -> KeySet:
    document = client.jwks if client.jwks is not None else await _fetch_jwks(client.jwks_uri or "")
    try:
        return KeySet.import_key_set(document)  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError, KeyError):
        raise _invalid_client("The client's JWKS cannot be read") from None


async def _fetch_jwks(uri: str) -> dict[str, Any]:
    cached = _jwks_cache.get(uri)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    try:
        async with httpx.AsyncClient(timeout=5.0, follow_redirects=False) as http:
            response = await http.get(uri, headers={"Accept": "application/json"})
        response.raise_for_status()
        document = response.json()
    except (httpx.HTTPError, ValueError):
        raise _invalid_client(f"The client's JWKS could not be fetched from {uri}") from None
    if not isinstance(document, dict):
        raise _invalid_client("The client's jwks_uri does not answer a JWK Set")
    _jwks_cache[uri] = (time.monotonic() + _JWKS_CACHE_SECONDS, document)
    return document
