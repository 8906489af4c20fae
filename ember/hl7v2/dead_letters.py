"""The dead-letter store: inbound messages that were not applied, with why, until retried.

Kept as store records (kind `hl7v2-dead-letter`), so they live in the same database as the data,
on both back ends, and survive restarts. The key starts with the arrival time in milliseconds,
so listing in key order is listing in arrival order.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

from ember.store.base import Store

KIND = "hl7v2-dead-letter"


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: str
    received: float
    ack_code: str
    error: str
    control_id: str
    message: str

    @classmethod
    def from_record(cls, key: str, value: dict[str, Any]) -> DeadLetter:
        return cls(key, value["received"], value["ack_code"], value["error"], value["control_id"], value["message"])


async def add(store: Store, message: str, ack_code: str, error: str, control_id: str) -> str:
    """Keep a failed message; its dead-letter id."""
    now = time.time()
    key = f"{int(now * 1000):013d}-{secrets.token_hex(3)}"
    value = {"received": now, "ack_code": ack_code, "error": error, "control_id": control_id, "message": message}
    async with store.transaction() as tx:
        await tx.put_record(KIND, key, value)
    return key


async def list_all(store: Store, limit: int = 1000) -> list[DeadLetter]:
    async with store.transaction() as tx:
        records = await tx.list_records(KIND, limit=limit)
    return [DeadLetter.from_record(key, value) for key, value in records]


async def get(store: Store, letter_id: str) -> DeadLetter | None:
    async with store.transaction() as tx:
        value = await tx.get_record(KIND, letter_id)
    return None if value is None else DeadLetter.from_record(letter_id, value)


async def remove(store: Store, letter_id: str) -> bool:
    async with store.transaction() as tx:
        return await tx.delete_record(KIND, letter_id)
