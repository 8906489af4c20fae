"""Token introspection (RFC 7662) and revocation (RFC 7009).

Both need an authenticated client. Introspection answers `{"active": false}` for anything not
currently valid, without saying why; revocation always answers 200 (RFC 7009 section 2.2), and
only revokes tokens that belong to the calling client.
"""

from __future__ import annotations

from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ember.auth.client_auth import authenticate_client
from ember.auth.codes import peek_refresh_token, take_refresh_token
from ember.auth.errors import NO_STORE
from ember.auth.forms import read_form
from ember.auth.keys import ALGORITHM
from ember.auth.server import AuthServer
from ember.auth.tokens import InvalidToken

_CLAIMS = ("scope", "client_id", "sub", "exp", "iat", "iss", "aud", "jti", "patient", "fhirUser")


async def introspect(server: AuthServer, request: Request) -> Response:
    form, _ = await read_form(request)
    await authenticate_client(
        server.store, form, request.headers.get("authorization"), server.auth_url(request, "token")
    )
    presented = form.get("token", "")
    _, verifier = server.tokens()
    body: dict[str, Any] = {"active": False}
    try:
        claims = await verifier.claims(presented, server.fhir_base(request))
        body = {"active": True, "token_type": "Bearer", **{k: claims[k] for k in _CLAIMS if k in claims}}
    except InvalidToken:
        refresh = await peek_refresh_token(server.store, presented)
        if refresh is not None:
            granted = refresh["authorization"]
            body = {
                "active": True,
                "token_type": "refresh_token",
                "scope": " ".join(granted["scopes"]),
                "client_id": granted["client_id"],
                "sub": granted["subject"],
                "exp": int(refresh["expires_at"]),
            }
    return JSONResponse(body, headers=NO_STORE)


async def revoke(server: AuthServer, request: Request) -> Response:
    form, _ = await read_form(request)
    client = await authenticate_client(
        server.store, form, request.headers.get("authorization"), server.auth_url(request, "token")
    )
    presented = form.get("token", "")
    refresh = await peek_refresh_token(server.store, presented)
    if refresh is not None and refresh["authorization"]["client_id"] == client.client_id:
        await take_refresh_token(server.store, presented)
        return Response(status_code=200, headers=NO_STORE)
    signer, verifier = server.tokens()
    try:
        claims = jwt.decode(presented, signer.key, algorithms=[ALGORITHM]).claims
    except (JoseError, ValueError):
        return Response(status_code=200, headers=NO_STORE)
    if claims.get("client_id") == client.client_id and isinstance(claims.get("jti"), str):
        await verifier.revoked.add(claims["jti"], float(claims.get("exp", 0)))
    return Response(status_code=200, headers=NO_STORE)
