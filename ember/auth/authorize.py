"""The authorization code flow's pages: authorize -> login -> (patient picker) -> consent.

`GET /auth/authorize` checks the request and starts a *flow* (a short-lived record holding the
request); each page posts the flow id with a CSRF token that must also match the flow cookie
set by `authorize`, so a form cannot be submitted from another site or another browser.
Errors about the client or its redirect_uri are shown on a page (never redirected to an
unregistered URI); every other error is redirected to the app as RFC 6749 requires.
"""

from __future__ import annotations

import hmac
import secrets
import time
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ember.access import AccessContext
from ember.auth.clients import Client, get_client
from ember.auth.codes import issue_code
from ember.auth.errors import OAuthError
from ember.auth.forms import read_form
from ember.auth.pages import consent_page, error_page, login_page, patient_picker
from ember.auth.scopes import grantable, split
from ember.auth.server import AUTH_PREFIX, AuthServer
from ember.auth.users import LoginRefused, authenticate
from ember.fhir import jsonio
from ember.store.base import HistoryQuery

_FLOW = "auth_flow"
_FLOW_SECONDS = 900
_COOKIE = "ember_flow"
_PICKER_SIZE = 200


async def authorize(server: AuthServer, request: Request) -> Response:
    params = dict(request.query_params)
    client = await get_client(server.store, params.get("client_id", ""))
    if client is None:
        return error_page("Unknown client_id: this app is not registered with Ember.")
    redirect_uri = params.get("redirect_uri", "")
    if redirect_uri not in client.redirect_uris:
        return error_page("The redirect_uri is not one registered for this app.")
    try:
        flow_id, flow = await _start_flow(server, request, client, params)
    except OAuthError as failure:
        return _redirect(redirect_uri, {"error": failure.error, "error_description": failure.description}, params)
    response = login_page(flow_id, flow["csrf"], client.name)
    response.set_cookie(_COOKIE, f"{flow_id}.{flow['csrf']}", httponly=True, samesite="lax", path=AUTH_PREFIX)
    return response


async def _start_flow(
    server: AuthServer, request: Request, client: Client, params: dict[str, str]
) -> tuple[str, dict[str, Any]]:
    if params.get("response_type") != "code":
        raise OAuthError("unsupported_response_type", "Only response_type=code is supported")
    if params.get("code_challenge_method") != "S256" or len(params.get("code_challenge", "")) < 43:
        raise OAuthError("invalid_request", "PKCE is required: code_challenge with code_challenge_method=S256")
    if params.get("aud", "").rstrip("/") != server.fhir_base(request):
        raise OAuthError("invalid_request", f"aud must be this FHIR server: {server.fhir_base(request)}")
    scopes = grantable(split(params.get("scope")), list(client.scopes))
    if not scopes:
        raise OAuthError("invalid_scope", "None of the requested scopes may be granted to this app")
    flow: dict[str, Any] = {
        "client_id": client.client_id,
        "redirect_uri": params["redirect_uri"],
        "state": params.get("state"),
        "scopes": scopes,
        "challenge": params["code_challenge"],
        "nonce": params.get("nonce"),
        "csrf": secrets.token_urlsafe(24),
        "ehr_launch": False,
    }
    if "launch" in scopes:
        await _resolve_launch(server, params.get("launch"), flow)
    flow_id = secrets.token_urlsafe(24)
    async with server.store.transaction() as tx:
        await tx.put_record(_FLOW, flow_id, flow, expires_at=_expiry())
    return flow_id, flow


async def _resolve_launch(server: AuthServer, launch: str | None, flow: dict[str, Any]) -> None:
    """EHR launch: the `launch` parameter names a launch context the EHR stored beforehand."""
    async with server.store.transaction() as tx:
        context = await tx.get_record("auth_launch", launch or "")
    if context is None:
        raise OAuthError("invalid_request", "The launch parameter is missing, unknown or expired")
    flow.update(patient=context.get("patient"), encounter=context.get("encounter"), ehr_launch=True)


async def login(server: AuthServer, request: Request) -> Response:
    form, _ = await read_form(request)
    flow_id, flow = await _checked_flow(server, request, form)
    client = await get_client(server.store, flow["client_id"])
    name = client.name if client else flow["client_id"]
    settings = server.settings
    try:
        user = await authenticate(
            server.store,
            form.get("username", ""),
            form.get("password", ""),
            settings.login_max_failures,
            settings.login_lockout_seconds,
        )
    except LoginRefused as refused:
        return login_page(flow_id, flow["csrf"], name, str(refused), 401)
    flow["user"] = {"username": user.username, "role": user.role, "fhir_user": user.fhir_user}
    if user.patient:
        flow["patient"] = user.patient  # a patient only ever acts in their own context
    if not user.fhir_user:
        flow["scopes"] = [scope for scope in flow["scopes"] if scope != "fhirUser"]
    await _save(server, flow_id, flow)
    if flow.get("patient") is None and _needs_patient(flow["scopes"]):
        return patient_picker(flow_id, flow["csrf"], await _patients(server))
    return consent_page(flow_id, flow["csrf"], name, flow["scopes"], flow.get("patient"))


def _needs_patient(scopes: list[str]) -> bool:
    return "launch/patient" in scopes or any(scope.startswith("patient/") for scope in scopes)


async def _patients(server: AuthServer) -> list[tuple[str, str]]:
    """Up to a page of current patients, for the picker (a search-free list from history)."""
    entries = await server.store.history(AccessContext.system(), HistoryQuery("Patient", count=_PICKER_SIZE))
    seen: dict[str, str] = {}
    for entry in entries:
        version = entry.version
        if version.id not in seen:
            seen[version.id] = "" if version.deleted else _display_name(jsonio.loads(version.body))
    return sorted((pid, name) for pid, name in seen.items() if name)


def _display_name(patient: dict[str, Any]) -> str:
    for name in patient.get("name", []):
        words = [*name.get("given", []), name.get("family", "")]
        text = name.get("text") or " ".join(word for word in words if word)
        if text:
            return str(text)
    return "(no name)"


async def choose_patient(server: AuthServer, request: Request) -> Response:
    form, _ = await read_form(request)
    flow_id, flow = await _checked_flow(server, request, form, logged_in=True)
    if flow["user"]["role"] == "patient":
        raise OAuthError("access_denied", "A patient cannot choose another patient", 403)
    chosen = (form.get("patient_id") or form.get("patient") or "").strip()
    stored = await server.store.read(AccessContext.system(), "Patient", chosen) if chosen else None
    if stored is None or stored.deleted:
        return patient_picker(flow_id, flow["csrf"], await _patients(server), "Choose a patient that exists.")
    flow["patient"] = chosen
    await _save(server, flow_id, flow)
    client = await get_client(server.store, flow["client_id"])
    return consent_page(flow_id, flow["csrf"], client.name if client else "", flow["scopes"], chosen)


async def consent(server: AuthServer, request: Request) -> Response:
    form, pairs = await read_form(request)
    flow_id, flow = await _checked_flow(server, request, form, logged_in=True)
    async with server.store.transaction() as tx:
        await tx.take_record(_FLOW, flow_id)
    chosen = [value for name, value in pairs if name == "scope" and value in flow["scopes"]]
    if form.get("decision") != "approve" or not chosen:
        return _redirect(flow["redirect_uri"], {"error": "access_denied"}, flow)
    if _needs_patient(chosen) and flow.get("patient") is None:
        return _redirect(flow["redirect_uri"], {"error": "access_denied", "error_description": "No patient"}, flow)
    flow["scopes"] = chosen
    code = await issue_code(server.store, flow, server.settings.auth_code_seconds)
    response = _redirect(flow["redirect_uri"], {"code": code}, flow)
    response.delete_cookie(_COOKIE, path=AUTH_PREFIX)
    return response


async def _checked_flow(
    server: AuthServer, request: Request, form: dict[str, str], *, logged_in: bool = False
) -> tuple[str, dict[str, Any]]:
    """The flow a form belongs to, after the CSRF checks; 400 when anything does not match."""
    flow_id, csrf = form.get("flow", ""), form.get("csrf", "")
    async with server.store.transaction() as tx:
        flow = await tx.get_record(_FLOW, flow_id) if flow_id else None
    cookie = request.cookies.get(_COOKIE, "")
    if (
        flow is None
        or not hmac.compare_digest(flow["csrf"], csrf)
        or not hmac.compare_digest(cookie, f"{flow_id}.{csrf}")
    ):
        raise OAuthError("invalid_request", "This sign-in form expired or was not sent by this browser")
    if logged_in and "user" not in flow:
        raise OAuthError("invalid_request", "Sign in first")
    return flow_id, flow


async def _save(server: AuthServer, flow_id: str, flow: dict[str, Any]) -> None:
    async with server.store.transaction() as tx:
        await tx.put_record(_FLOW, flow_id, flow, expires_at=_expiry())


def _expiry() -> float:
    return time.time() + _FLOW_SECONDS


def _redirect(uri: str, values: dict[str, str], source: dict[str, Any]) -> RedirectResponse:
    if source.get("state") is not None:
        values = {**values, "state": source["state"]}
    separator = "&" if "?" in uri else "?"
    return RedirectResponse(f"{uri}{separator}{urlencode(values)}", 303, headers={"Cache-Control": "no-store"})
