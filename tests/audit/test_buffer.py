"""The read-audit buffer: the app's flusher moves records into the durable outbox on its own,
and records a flush could not deliver stay for the next one."""

from __future__ import annotations

import asyncio

import pytest

from ember.audit.outbox import KIND, ReadAuditBuffer
from ember.audit.records import auth_record
from ember.store.base import Store
from tests.backends import Backend

pytestmark = pytest.mark.anyio


def _record(n: int) -> dict[str, object]:
    return auth_record("alert", "read", 401, server="http://x/fhir", ip=f"10.0.0.{n}")


async def test_the_flusher_moves_buffered_records_into_the_outbox(store: Store) -> None:
    buffer = ReadAuditBuffer(interval=0.05)
    buffer.add(store, _record(1))
    buffer.add(store, _record(2))
    flusher = asyncio.create_task(buffer.run(store))
    jobs = []
    try:
        for _ in range(250):  # a flush takes the records before its transaction commits: wait for the commit
            await asyncio.sleep(0.02)
            async with store.transaction() as tx:
                jobs = await tx.list_jobs(KIND)
            if jobs:
                break
    finally:
        flusher.cancel()
    assert not buffer.pending(store)
    assert [[r["agent"]["ip"] for r in job.payload["records"]] for job in jobs] == [["10.0.0.1", "10.0.0.2"]]


async def test_records_a_flush_could_not_deliver_are_kept(backend: Backend, store: Store, store_location: str) -> None:
    unopened = backend.store(store_location)  # a store whose database cannot be reached
    buffer = ReadAuditBuffer()
    buffer.add(unopened, _record(1))
    with pytest.raises(RuntimeError):
        await buffer.flush(unopened)
    assert buffer.pending(unopened) == 1
