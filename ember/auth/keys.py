"""The server's token signing key: generated once, then shared by every worker.

By default the private JWK is a record in the database, so every worker process and every
machine on one PostgreSQL database signs with the same key without any file to distribute.
`signing_key_file` keeps it in a file instead (created with mode 0600 when missing).
"""

from __future__ import annotations

import os
from pathlib import Path

import orjson
from joserfc.jwk import RSAKey

from ember.store.base import Store

ALGORITHM = "RS256"  # what every OpenID Connect relying party must accept for id_tokens
_RECORD_KIND = "auth_signing_key"
_RECORD_KEY = "current"


def _generate() -> RSAKey:
    key = RSAKey.generate_key(2048, parameters={"alg": ALGORITHM, "use": "sig"}, private=True)
    key.ensure_kid()
    return key


async def load_signing_key(store: Store, key_file: str) -> RSAKey:
    """The signing key, created on first use. Two workers starting together agree on one key:
    the first insert wins and the loser reads the winner's."""
    if key_file:
        return _from_file(Path(key_file))
    async with store.transaction() as tx:
        stored = await tx.get_record(_RECORD_KIND, _RECORD_KEY)
        if stored is None:
            candidate = _generate().as_dict(private=True)
            if not await tx.insert_record(_RECORD_KIND, _RECORD_KEY, candidate):
                stored = await tx.get_record(_RECORD_KIND, _RECORD_KEY)
            stored = stored or candidate
    return RSAKey.import_key(stored)


def _from_file(path: Path) -> RSAKey:
    if not path.exists():
        data = orjson.dumps(_generate().as_dict(private=True))
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
    return RSAKey.import_key(orjson.loads(path.read_bytes()))


def public_jwks(key: RSAKey) -> dict[str, list[dict[str, object]]]:
    """The JWKS document clients verify our tokens with."""
    return {"keys": [dict(key.as_dict(private=False))]}
