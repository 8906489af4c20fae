"""What clients discover before they ask for anything: SMART configuration, OpenID Connect
configuration, the JWKS, the CapabilityStatement security block and the SMART style.

Only what Ember actually implements is listed (SMART App Launch 2.x conformance page).
"""

from __future__ import annotations

import copy
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ember.auth.client_auth import ASSERTION_ALGORITHMS
from ember.auth.keys import ALGORITHM, public_jwks
from ember.auth.server import AuthServer, auth_url

SCOPES_SUPPORTED = [
    "openid",
    "fhirUser",
    "launch",
    "launch/patient",
    "offline_access",
    "online_access",
    "patient/*.cruds",
    "user/*.cruds",
    "system/*.cruds",
    "patient/*.read",
    "user/*.read",
    "system/*.read",
]
CAPABILITIES = [
    "launch-ehr",
    "launch-standalone",
    "client-public",
    "client-confidential-symmetric",
    "client-confidential-asymmetric",
    "context-ehr-patient",
    "context-standalone-patient",
    "context-banner",
    "context-style",
    "sso-openid-connect",
    "permission-offline",
    "permission-online",
    "permission-patient",
    "permission-user",
    "permission-v1",
    "permission-v2",
]
_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"]
_OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"


def _endpoints(server: AuthServer, request: Request) -> dict[str, Any]:
    endpoints = {
        "issuer": server.issuer(request),
        "jwks_uri": server.auth_url(request, "jwks"),
        "authorization_endpoint": server.auth_url(request, "authorize"),
        "token_endpoint": server.auth_url(request, "token"),
        "introspection_endpoint": server.auth_url(request, "introspect"),
        "revocation_endpoint": server.auth_url(request, "revoke"),
    }
    if server.settings.dynamic_registration == "on":
        endpoints["registration_endpoint"] = server.auth_url(request, "register")
    return endpoints


async def smart_configuration(server: AuthServer, request: Request) -> Response:
    document = {
        **_endpoints(server, request),
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "token_endpoint_auth_methods_supported": _AUTH_METHODS,
        "token_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGORITHMS,
        "scopes_supported": SCOPES_SUPPORTED,
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
        "capabilities": CAPABILITIES,
    }
    return JSONResponse(document, headers={"Cache-Control": "max-age=300"})


async def openid_configuration(server: AuthServer, request: Request) -> Response:
    document = {
        **_endpoints(server, request),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [ALGORITHM],
        "scopes_supported": ["openid", "fhirUser", "profile", "offline_access"],
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "nonce", "fhirUser"],
        "token_endpoint_auth_methods_supported": _AUTH_METHODS,
        "code_challenge_methods_supported": ["S256"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
    }
    return JSONResponse(document, headers={"Cache-Control": "max-age=300"})


async def jwks(server: AuthServer, request: Request) -> Response:
    signer, _ = server.tokens()
    return JSONResponse(public_jwks(signer.key), headers={"Cache-Control": "max-age=300"})


async def smart_style(server: AuthServer, request: Request) -> Response:
    """The `smart_style_url` document: colours and fonts an embedded app may follow."""
    style = {
        "color_background": "#fdfaf6",
        "color_error": "#9e2d2d",
        "color_highlight": "#c2410c",
        "color_modal_backdrop": "",
        "color_success": "#2d7d46",
        "color_text": "#1f2933",
        "dim_border_radius": "6px",
        "dim_font_size": "16px",
        "dim_spacing_size": "16px",
        "font_family_body": "system-ui, sans-serif",
        "font_family_heading": "system-ui, sans-serif",
    }
    return JSONResponse(style, headers={"Cache-Control": "max-age=3600"})


def with_security(statement: dict[str, Any], fhir_base: str) -> dict[str, Any]:
    """A copy of the CapabilityStatement whose rest entry declares SMART-on-FHIR security
    (the oauth-uris extension is what SMART v1 clients such as fhirclient discover)."""
    secured = copy.copy(statement)
    rest = dict(statement["rest"][0])
    rest["security"] = {
        "cors": False,  # no CORS headers yet: browser-only apps need a proxy
        "service": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                        "code": "SMART-on-FHIR",
                        "display": "SMART-on-FHIR",
                    }
                ],
                "text": "OAuth2 using SMART-on-FHIR profile (see http://docs.smarthealthit.org)",
            }
        ],
        "extension": [
            {
                "url": _OAUTH_URIS,
                "extension": [
                    {"url": name, "valueUri": auth_url(fhir_base, path)}
                    for name, path in (
                        ("authorize", "authorize"),
                        ("token", "token"),
                        ("introspect", "introspect"),
                        ("revoke", "revoke"),
                    )
                ],
            }
        ],
    }
    secured["rest"] = [rest, *statement["rest"][1:]]
    return secured
