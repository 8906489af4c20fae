"""Registered OAuth clients (SMART apps), kept as records of kind `auth_client`.

Three kinds, as SMART App Launch names them: `public` (a browser or native app: PKCE only),
`confidential-symmetric` (a client secret, shown once and stored as an argon2 hash) and
`confidential-asymmetric` (private_key_jwt: the app's public keys inline or at a JWKS URL;
required for backend services).
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

from ember.auth.passwords import hash_secret
from ember.auth.scopes import is_known
from ember.store.base import Store

CLIENT_KINDS = ("public", "confidential-symmetric", "confidential-asymmetric")
_KIND = "auth_client"


class ClientError(ValueError):
    """A registration that cannot be accepted; the message says why."""


@dataclass(frozen=True, slots=True)
class Client:
    client_id: str
    name: str
    kind: str
    redirect_uris: tuple[str, ...]
    scopes: tuple[str, ...]  # the most this client may ever be granted
    secret_hash: str | None = None
    jwks: dict[str, Any] | None = None
    jwks_uri: str | None = None

    def public_view(self) -> dict[str, Any]:
        """What the admin API and the CLI show: everything but the secret hash."""
        view = asdict(self)
        view.pop("secret_hash")
        return view


async def register_client(
    store: Store,
    *,
    name: str,
    kind: str,
    redirect_uris: list[str],
    scopes: list[str],
    jwks: dict[str, Any] | None = None,
    jwks_uri: str | None = None,
    client_id: str | None = None,
) -> tuple[Client, str | None]:
    """Store a new client; returns it with its secret (only for confidential-symmetric, and
    only now: Ember keeps just the hash)."""
    _check(kind, redirect_uris, scopes, jwks, jwks_uri)
    secret = secrets.token_urlsafe(32) if kind == "confidential-symmetric" else None
    client = Client(
        client_id or secrets.token_hex(12),  # hex: an id never looks like a command-line option
        name,
        kind,
        tuple(redirect_uris),
        tuple(scopes),
        hash_secret(secret) if secret else None,
        jwks,
        jwks_uri,
    )
    async with store.transaction() as tx:
        if not await tx.insert_record(_KIND, client.client_id, asdict(client)):
            raise ClientError(f"A client with id '{client.client_id}' already exists")
    return client, secret


def _check(
    kind: str, redirect_uris: list[str], scopes: list[str], jwks: dict[str, Any] | None, jwks_uri: str | None
) -> None:
    if kind not in CLIENT_KINDS:
        raise ClientError(f"Unknown client kind '{kind}': one of {', '.join(CLIENT_KINDS)}")
    for uri in redirect_uris:
        parts = urlsplit(uri)
        if not parts.scheme or not parts.netloc or parts.fragment:
            raise ClientError(f"Redirect URI '{uri}' must be absolute and without a fragment")
    unknown = [scope for scope in scopes if not is_known(scope)]
    if unknown:
        raise ClientError(f"Unknown scopes: {' '.join(unknown)}")
    if kind == "confidential-asymmetric" and (jwks is None) == (jwks_uri is None):
        raise ClientError("A confidential-asymmetric client needs exactly one of jwks and jwks_uri")
    if jwks is not None and not isinstance(jwks.get("keys"), list):
        raise ClientError("jwks must be a JWK Set: an object with a 'keys' array")
    if jwks_uri is not None and urlsplit(jwks_uri).scheme not in ("https", "http"):
        raise ClientError("jwks_uri must be an http(s) URL")


async def get_client(store: Store, client_id: str) -> Client | None:
    async with store.transaction() as tx:
        value = await tx.get_record(_KIND, client_id)
    return None if value is None else _client(value)


async def list_clients(store: Store) -> list[Client]:
    async with store.transaction() as tx:
        return [_client(value) for _, value in await tx.list_records(_KIND)]


async def remove_client(store: Store, client_id: str) -> bool:
    async with store.transaction() as tx:
        return await tx.delete_record(_KIND, client_id)


def _client(value: dict[str, Any]) -> Client:
    return Client(
        value["client_id"],
        value["name"],
        value["kind"],
        tuple(value["redirect_uris"]),
        tuple(value["scopes"]),
        value.get("secret_hash"),
        value.get("jwks"),
        value.get("jwks_uri"),
    )
