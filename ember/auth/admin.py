"""Client registration: the admin API (HTTP Basic as an admin user) and, when
`dynamic_registration` is on, RFC 7591 dynamic registration for anyone.

Dynamically registered clients may not ask for `system/` scopes: backend-service access is
granted by an administrator only. Launch contexts for EHR launch are created here too.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ember.auth.client_auth import basic_credentials
from ember.auth.clients import ClientError, list_clients, register_client, remove_client
from ember.auth.errors import NO_STORE, OAuthError
from ember.auth.scopes import split
from ember.auth.server import AuthServer
from ember.auth.users import LoginRefused, UserError, add_user, authenticate

#: RFC 7591 token_endpoint_auth_method -> SMART client kind.
KIND_BY_METHOD = {
    "none": "public",
    "client_secret_basic": "confidential-symmetric",
    "client_secret_post": "confidential-symmetric",
    "private_key_jwt": "confidential-asymmetric",
}
LAUNCH = "auth_launch"
_LAUNCH_SECONDS = 3600
_MAX_BODY = 256 * 1024


async def dynamic_register(server: AuthServer, request: Request) -> Response:
    if server.settings.dynamic_registration != "on":
        raise OAuthError("access_denied", "Dynamic client registration is disabled on this server", 403)
    metadata = await _json(request)
    if any(scope.startswith("system/") for scope in split(metadata.get("scope"))):
        raise OAuthError("invalid_client_metadata", "system/ scopes are granted by an administrator only")
    return await _register(server, metadata)


async def admin_clients(server: AuthServer, request: Request) -> Response:
    await _require_admin(server, request)
    if request.method == "GET":
        return JSONResponse([client.public_view() for client in await list_clients(server.store)])
    return await _register(server, await _json(request))


async def admin_remove_client(server: AuthServer, request: Request) -> Response:
    await _require_admin(server, request)
    removed = await remove_client(server.store, request.path_params["client_id"])
    return Response(status_code=204 if removed else 404)


async def admin_users(server: AuthServer, request: Request) -> Response:
    await _require_admin(server, request)
    body = await _json(request)
    try:
        user = await add_user(
            server.store,
            str(body.get("username", "")),
            str(body.get("password", "")),
            str(body.get("role", "")),
            body.get("fhir_user"),
        )
    except UserError as refused:
        raise OAuthError("invalid_request", str(refused)) from None
    return JSONResponse({"username": user.username, "role": user.role, "fhir_user": user.fhir_user}, 201)


async def admin_launch(server: AuthServer, request: Request) -> Response:
    """An EHR stores the context it launches an app in; the app receives the returned id as
    its `launch` parameter."""
    await _require_admin(server, request)
    body = await _json(request)
    launch = await create_launch(server, body.get("patient"), body.get("encounter"))
    return JSONResponse({"launch": launch}, 201, headers=NO_STORE)


async def create_launch(server: AuthServer, patient: Any, encounter: Any) -> str:
    if not isinstance(patient, str) or not patient or not isinstance(encounter, str | None):
        raise OAuthError("invalid_request", "A launch context needs a patient id (and optionally an encounter id)")
    launch = secrets.token_urlsafe(16)
    async with server.store.transaction() as tx:
        await tx.put_record(
            LAUNCH, launch, {"patient": patient, "encounter": encounter}, expires_at=time.time() + _LAUNCH_SECONDS
        )
    return launch


async def _register(server: AuthServer, metadata: dict[str, Any]) -> Response:
    method = metadata.get("token_endpoint_auth_method", "client_secret_basic")
    if method not in KIND_BY_METHOD:
        raise OAuthError("invalid_client_metadata", f"Unsupported token_endpoint_auth_method '{method}'")
    redirect_uris = metadata.get("redirect_uris", [])
    if not isinstance(redirect_uris, list) or not all(isinstance(uri, str) for uri in redirect_uris):
        raise OAuthError("invalid_redirect_uri", "redirect_uris must be a list of URLs")
    try:
        client, secret = await register_client(
            server.store,
            name=str(metadata.get("client_name", "")),
            kind=KIND_BY_METHOD[method],
            redirect_uris=redirect_uris,
            scopes=split(metadata.get("scope")),
            jwks=metadata.get("jwks"),
            jwks_uri=metadata.get("jwks_uri"),
        )
    except ClientError as refused:
        raise OAuthError("invalid_client_metadata", str(refused)) from None
    response = {**client.public_view(), "client_id_issued_at": int(time.time())}
    response["token_endpoint_auth_method"] = method
    response["scope"] = " ".join(client.scopes)
    if secret is not None:
        response["client_secret"] = secret
        response["client_secret_expires_at"] = 0
    return JSONResponse(response, 201, headers=NO_STORE)


async def _require_admin(server: AuthServer, request: Request) -> None:
    authorization = request.headers.get("authorization")
    if not authorization:
        raise OAuthError("invalid_client", "The admin API needs HTTP Basic credentials of an admin user", 401)
    username, password = basic_credentials(authorization)
    settings = server.settings
    try:
        user = await authenticate(
            server.store, username, password, settings.login_max_failures, settings.login_lockout_seconds
        )
    except LoginRefused as refused:
        raise OAuthError("invalid_client", str(refused), 401) from None
    if user.role != "admin":
        raise OAuthError("access_denied", "Only admin users may use the admin API", 403)


async def _json(request: Request) -> dict[str, Any]:
    body = await request.body()
    if len(body) > _MAX_BODY:
        raise OAuthError("invalid_request", "The request body is too large", 413)
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise OAuthError("invalid_request", "The body must be a JSON object") from None
    if not isinstance(document, dict):
        raise OAuthError("invalid_request", "The body must be a JSON object")
    return document
