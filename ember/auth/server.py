"""The authorization server's shared state: the store, the settings, the signing key and the
token checker, plus the URLs every endpoint and discovery document must agree on."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import Request

from ember.auth.keys import load_signing_key
from ember.auth.tokens import TokenSigner, TokenVerifier
from ember.settings import Settings
from ember.store.base import Store

FHIR_PREFIX = "/fhir"
AUTH_PREFIX = "/auth"


@dataclass(slots=True)
class AuthServer:
    """Built with the app; `start` loads (or creates) the key once the store is open."""

    store: Store
    settings: Settings
    signer: TokenSigner | None = field(default=None)
    verifier: TokenVerifier | None = field(default=None)

    async def start(self) -> None:
        key = await load_signing_key(self.store, self.settings.signing_key_file)
        self.signer = TokenSigner(key, self.settings.access_token_seconds)
        self.verifier = TokenVerifier(key, self.store, self.settings.revocation_refresh_seconds)

    @property
    def enforcing(self) -> bool:
        return self.settings.auth != "off"

    def tokens(self) -> tuple[TokenSigner, TokenVerifier]:
        if self.signer is None or self.verifier is None:
            raise RuntimeError("The authorization server is used before start-up")
        return self.signer, self.verifier

    def fhir_base(self, request: Request) -> str:
        """The FHIR base URL: the configured one, else derived from the request like the FHIR
        endpoint derives it, so token audiences match what clients call."""
        if self.settings.base_url:
            return self.settings.base_url.rstrip("/")
        return f"{request.url.scheme}://{request.headers.get('host', request.url.netloc)}{FHIR_PREFIX}"

    def issuer(self, request: Request) -> str:
        return self.settings.auth_issuer or self.fhir_base(request)

    def auth_url(self, request: Request, path: str) -> str:
        return auth_url(self.fhir_base(request), path)


def auth_url(fhir_base: str, path: str) -> str:
    """The absolute URL of the endpoint `path` under /auth, on the FHIR base's origin."""
    origin = fhir_base[: -len(FHIR_PREFIX)] if fhir_base.endswith(FHIR_PREFIX) else fhir_base
    return f"{origin}{AUTH_PREFIX}/{path}"
