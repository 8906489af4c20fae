"""The authorization server's routes, mounted beside the FHIR endpoint by the app.

Each handler takes the AuthServer and a Starlette request; the wrapper turns an OAuthError into
RFC 6749 JSON (or, on the HTML pages, an error page), so handlers only raise.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ember.auth import admin, authorize, discovery, introspection, token_endpoint
from ember.auth.errors import OAuthError
from ember.auth.pages import error_page
from ember.auth.server import AUTH_PREFIX, FHIR_PREFIX, AuthServer

Endpoint = Callable[[AuthServer, Request], Awaitable[Response]]


def auth_routes(server: AuthServer) -> list[BaseRoute]:
    def api(endpoint: Endpoint) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            try:
                return await endpoint(server, request)
            except OAuthError as failure:
                return failure.response()

        return handle

    def page(endpoint: Endpoint) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            try:
                return await endpoint(server, request)
            except OAuthError as failure:
                return error_page(failure.description, failure.status)

        return handle

    return [
        Route(f"{FHIR_PREFIX}/.well-known/smart-configuration", api(discovery.smart_configuration)),
        Route(f"{FHIR_PREFIX}/.well-known/openid-configuration", api(discovery.openid_configuration)),
        Route("/.well-known/openid-configuration", api(discovery.openid_configuration)),
        Route(f"{AUTH_PREFIX}/jwks", api(discovery.jwks)),
        Route(f"{AUTH_PREFIX}/smart-style.json", api(discovery.smart_style)),
        Route(f"{AUTH_PREFIX}/authorize", page(authorize.authorize)),
        Route(f"{AUTH_PREFIX}/login", page(authorize.login), methods=["POST"]),
        Route(f"{AUTH_PREFIX}/patient", page(authorize.choose_patient), methods=["POST"]),
        Route(f"{AUTH_PREFIX}/consent", page(authorize.consent), methods=["POST"]),
        Route(f"{AUTH_PREFIX}/token", api(token_endpoint.token), methods=["POST"]),
        Route(f"{AUTH_PREFIX}/introspect", api(introspection.introspect), methods=["POST"]),
        Route(f"{AUTH_PREFIX}/revoke", api(introspection.revoke), methods=["POST"]),
        Route(f"{AUTH_PREFIX}/register", api(admin.dynamic_register), methods=["POST"]),
        Route(f"{AUTH_PREFIX}/admin/clients", api(admin.admin_clients), methods=["GET", "POST"]),
        Route(f"{AUTH_PREFIX}/admin/clients/{{client_id}}", api(admin.admin_remove_client), methods=["DELETE"]),
        Route(f"{AUTH_PREFIX}/admin/users", api(admin.admin_users), methods=["POST"]),
        Route(f"{AUTH_PREFIX}/admin/launch", api(admin.admin_launch), methods=["POST"]),
    ]
