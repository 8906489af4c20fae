"""Authorization codes and refresh tokens: one-time secrets kept only as SHA-256 digests.

A code is redeemed with `take_record`, so two concurrent redemptions cannot both succeed. A
redeemed code leaves a marker naming the tokens it produced: presenting the code again
revokes them (RFC 6749 section 4.1.2: a replayed code means it leaked).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Any

from ember.auth.tokens import Authorization
from ember.store.base import Store

CODE = "auth_code"
REDEEMED = "auth_code_redeemed"
REFRESH = "auth_refresh"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def issue_code(store: Store, flow: dict[str, Any], lifetime: int) -> str:
    """A code for the flow the user just approved."""
    user = flow["user"]
    authorization = Authorization(
        flow["client_id"],
        user["username"],
        tuple(flow["scopes"]),
        flow.get("patient"),
        user.get("fhir_user"),
        flow.get("encounter"),
    )
    value = {
        "authorization": authorization.to_record(),
        "redirect_uri": flow["redirect_uri"],
        "challenge": flow["challenge"],
        "nonce": flow.get("nonce"),
        "need_patient_banner": not flow.get("ehr_launch", False),
    }
    code = secrets.token_urlsafe(32)
    async with store.transaction() as tx:
        await tx.put_record(CODE, digest(code), value, expires_at=time.time() + lifetime)
    return code


async def _take(store: Store, kind: str, secret: str) -> dict[str, Any] | None:
    """The record a one-time secret names, removed in the same step (at most one taker wins)."""
    async with store.transaction() as tx:
        return await tx.take_record(kind, digest(secret))


async def redeem_code(store: Store, code: str) -> dict[str, Any] | None:
    """The code's grant, once; None for an unknown, expired or already redeemed code."""
    return await _take(store, CODE, code)


async def mark_redeemed(store: Store, code: str, tokens: dict[str, Any], until: float) -> None:
    """Remember what a code produced (`jti`, `jti_exp`, `refresh`) until those tokens expire."""
    async with store.transaction() as tx:
        await tx.put_record(REDEEMED, digest(code), tokens, expires_at=until)


async def take_redeemed(store: Store, code: str) -> dict[str, Any] | None:
    return await _take(store, REDEEMED, code)


async def store_refresh_token(store: Store, authorization: Authorization, lifetime: int) -> str:
    token = secrets.token_urlsafe(32)
    value = {"authorization": authorization.to_record(), "expires_at": time.time() + lifetime}
    async with store.transaction() as tx:
        await tx.put_record(REFRESH, digest(token), value, expires_at=time.time() + lifetime)
    return token


async def peek_refresh_token(store: Store, token: str) -> dict[str, Any] | None:
    async with store.transaction() as tx:
        return await tx.get_record(REFRESH, digest(token))


async def take_refresh_token(store: Store, token: str) -> dict[str, Any] | None:
    return await _take(store, REFRESH, token)
