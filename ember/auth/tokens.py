"""Signed JWT access and id tokens: issuing them, and verifying them on every request.

Verifying an RS256 signature costs ~60 us, more than a whole cached FHIR read, so verified
tokens are cached by their text until they expire. Revocation is checked on every use against a
per-process copy of the revoked-token list, refreshed from the store every few seconds (a
revocation made on another worker takes effect within `revocation_refresh_seconds`).
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

from ember.auth.keys import ALGORITHM
from ember.store.base import Store

_REVOKED = "auth_revoked"
_CACHE_SIZE = 10_000


@dataclass(frozen=True, slots=True)
class Authorization:
    """What an app was granted: the claims every token issued for it carries."""

    client_id: str
    subject: str  # the user's name, or the client id for backend services
    scopes: tuple[str, ...]
    patient: str | None = None
    fhir_user: str | None = None
    encounter: str | None = None

    def to_record(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "subject": self.subject,
            "scopes": list(self.scopes),
            "patient": self.patient,
            "fhir_user": self.fhir_user,
            "encounter": self.encounter,
        }

    @classmethod
    def from_record(cls, value: dict[str, Any]) -> Authorization:
        return cls(
            value["client_id"],
            value["subject"],
            tuple(value["scopes"]),
            value.get("patient"),
            value.get("fhir_user"),
            value.get("encounter"),
        )


class InvalidToken(Exception):
    """The bearer token is not one we issued for this server, or no longer valid."""


class TokenSigner:
    """Signs access tokens and id tokens with the server key."""

    def __init__(self, key: RSAKey, access_seconds: int) -> None:
        self.key = key
        self.access_seconds = access_seconds

    def access_token(self, authorization: Authorization, issuer: str, audience: str) -> tuple[str, dict[str, Any]]:
        """A signed access token and its claims."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": issuer,
            "aud": audience,
            "sub": authorization.subject,
            "client_id": authorization.client_id,
            "scope": " ".join(authorization.scopes),
            "iat": now,
            "exp": now + self.access_seconds,
            "jti": secrets.token_urlsafe(16),
        }
        for name, value in (("patient", authorization.patient), ("fhirUser", authorization.fhir_user)):
            if value is not None:
                claims[name] = value
        return self._sign("at+jwt", claims), claims

    def id_token(self, authorization: Authorization, issuer: str, nonce: str | None) -> str:
        """An OpenID Connect id_token for the logged-in user (`fhirUser` when asked for)."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": issuer,
            "aud": authorization.client_id,
            "sub": authorization.subject,
            "iat": now,
            "exp": now + self.access_seconds,
        }
        if "fhirUser" in authorization.scopes and authorization.fhir_user:
            claims["fhirUser"] = authorization.fhir_user
        if nonce:
            claims["nonce"] = nonce
        return self._sign("JWT", claims)

    def _sign(self, token_type: str, claims: dict[str, Any]) -> str:
        header = {"alg": ALGORITHM, "kid": self.key.kid or "", "typ": token_type}
        return jwt.encode(header, claims, self.key, algorithms=[ALGORITHM])


class TokenVerifier:
    """Checks bearer tokens: our signature, our issuer, this server as audience, not expired,
    not revoked."""

    def __init__(self, key: RSAKey, store: Store, refresh_seconds: float) -> None:
        self.key = key
        self.revoked = RevokedTokens(store, refresh_seconds)
        self._verified: OrderedDict[str, dict[str, Any]] = OrderedDict()

    async def claims(self, token: str, audience: str) -> dict[str, Any]:
        """The token's claims; InvalidToken when it must not be honoured."""
        claims = self._verified.get(token)
        if claims is None:
            claims = self._verify_signature(token)
            self._remember(token, claims)
        if claims["exp"] <= time.time():
            raise InvalidToken("The access token has expired")
        if claims["aud"] != audience:
            raise InvalidToken("The access token was issued for another server")
        if await self.revoked.contains(claims["jti"]):
            raise InvalidToken("The access token was revoked")
        return claims

    def _verify_signature(self, token: str) -> dict[str, Any]:
        try:
            decoded = jwt.decode(token, self.key, algorithms=[ALGORITHM])
        except (JoseError, ValueError) as failure:
            raise InvalidToken("The access token is malformed or its signature is wrong") from failure
        claims = decoded.claims
        if decoded.header.get("typ") != "at+jwt" or not _well_formed(claims):
            raise InvalidToken("The bearer token is not an Ember access token")
        return claims

    def _remember(self, token: str, claims: dict[str, Any]) -> None:
        self._verified[token] = claims
        if len(self._verified) > _CACHE_SIZE:
            self._verified.popitem(last=False)


def _well_formed(claims: dict[str, Any]) -> bool:
    return (
        isinstance(claims.get("exp"), int)
        and isinstance(claims.get("aud"), str)
        and isinstance(claims.get("jti"), str)
        and isinstance(claims.get("scope"), str)
    )


class RevokedTokens:
    """The jti of every revoked, not yet expired access token, as this process last saw it."""

    def __init__(self, store: Store, refresh_seconds: float) -> None:
        self.store = store
        self.refresh_seconds = refresh_seconds
        self._jtis: set[str] = set()
        self._loaded_at = float("-inf")

    async def contains(self, jti: str) -> bool:
        if time.monotonic() - self._loaded_at >= self.refresh_seconds:
            async with self.store.transaction() as tx:
                records = await tx.list_records(_REVOKED, limit=1_000_000)
            self._jtis = {key for key, _ in records}
            self._loaded_at = time.monotonic()
        return jti in self._jtis

    async def add(self, jti: str, expires_at: float) -> None:
        """Revoke now, here and (after their next refresh) in every other worker."""
        async with self.store.transaction() as tx:
            await tx.put_record(_REVOKED, jti, {}, expires_at=expires_at)
        self._jtis.add(jti)
