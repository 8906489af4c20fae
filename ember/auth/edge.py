"""From an `Authorization: Bearer` header to the AccessContext every FHIR request carries.

A missing or unusable token is 401 with a `WWW-Authenticate` challenge (RFC 6750); whether a
valid token's scopes allow the request is decided later, by the dispatcher (403).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from ember.access import AccessContext, ScopeGrant
from ember.auth.scopes import parse_grants
from ember.auth.tokens import InvalidToken, TokenVerifier
from ember.fhir.outcome import FhirError, Issue


async def bearer_context(
    verifier: TokenVerifier, authorization: str | None, audience: str, source_ip: str | None
) -> AccessContext:
    """The caller of a FHIR request, from its bearer token."""
    if not authorization:
        raise _unauthorized(None, "This server requires a SMART access token (Authorization: Bearer ...)")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("invalid_request", "The Authorization header must be 'Bearer <token>'")
    try:
        claims = await verifier.claims(token.strip(), audience)
    except InvalidToken as failure:
        raise _unauthorized("invalid_token", str(failure)) from None
    context = _contexts.get((token, source_ip))
    if context is None:
        context = _context(claims, source_ip)
        if len(_contexts) >= _CONTEXT_CACHE_SIZE:
            _contexts.clear()
        _contexts[(token, source_ip)] = context
    return context


#: Building a frozen AccessContext costs more than checking the token again: each client sends
#: the same token from the same address many times, so the context is built once per pair.
_CONTEXT_CACHE_SIZE = 10_000
_contexts: dict[tuple[str, str | None], AccessContext] = {}


def _context(claims: dict[str, Any], source_ip: str | None) -> AccessContext:
    scopes, grants = _scopes(claims["scope"])
    return AccessContext(
        subject=claims.get("sub"),
        scopes=scopes,
        patient=claims.get("patient"),
        source_ip=source_ip,
        grants=grants,
        client_id=claims.get("client_id"),
        fhir_user=claims.get("fhirUser"),
    )


@lru_cache(maxsize=1024)
def _scopes(scope: str) -> tuple[frozenset[str], tuple[ScopeGrant, ...]]:
    """Tokens of one app carry the same scope string over and over: parse each once."""
    words = frozenset(scope.split())
    return words, parse_grants(words)


def _unauthorized(code: str | None, message: str) -> FhirError:
    challenge = 'Bearer realm="ember"'
    if code is not None:
        challenge += f', error="{code}", error_description="{message}"'
    issue = Issue(code="login", diagnostics=message)
    return FhirError(401, [issue], {"www-authenticate": challenge})
