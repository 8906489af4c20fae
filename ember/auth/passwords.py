"""Argon2id password and client-secret hashes (argon2-cffi's defaults: RFC 9106 low-memory)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()


def hash_secret(secret: str) -> str:
    return _HASHER.hash(secret)


def secret_matches(stored_hash: str, candidate: str) -> bool:
    try:
        return _HASHER.verify(stored_hash, candidate)
    except (VerificationError, InvalidHashError):
        return False
