"""The durable job table and records, on every back end."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import pytest

from ember.store.base import Store
from ember.store.postgres import PostgresStore

pytestmark = pytest.mark.anyio


async def test_enqueued_job_is_claimed_once_and_finished(store: Store) -> None:
    async with store.transaction() as tx:
        job_id = await tx.enqueue("reindex", {"type": "Patient"})
    async with store.transaction() as tx:
        job = await tx.claim_job(["reindex"], "w1", 60)
        assert job is not None and job.id == job_id and job.payload == {"type": "Patient"}
        assert job.state == "running" and job.attempts == 1
        assert await tx.claim_job(["reindex"], "w2", 60) is None
        await tx.set_job_progress(job_id, {"cursor": "Patient/9"})
        await tx.finish_job(job_id, {"indexed": 10})
    async with store.transaction() as tx:
        done = await tx.get_job(job_id)
    assert done is not None and done.state == "done" and done.result == {"indexed": 10}
    assert done.progress == {"cursor": "Patient/9"}


async def test_job_keys_make_producers_idempotent(store: Store) -> None:
    async with store.transaction() as tx:
        first = await tx.enqueue("hl7", {"n": 1}, key="MSG1")
        again = await tx.enqueue("hl7", {"n": 2}, key="MSG1")
        other_kind = await tx.enqueue("other", {"n": 3}, key="MSG1")
        found = await tx.find_job("hl7", "MSG1")
    assert first is not None and again is None and other_kind is not None
    assert found is not None and found.payload == {"n": 1}


async def test_job_enqueued_in_a_rolled_back_transaction_vanishes(store: Store) -> None:
    with pytest.raises(RuntimeError):
        async with store.transaction() as tx:
            await tx.enqueue("deliver", {}, key="k")
            raise RuntimeError("abort")
    async with store.transaction() as tx:
        assert await tx.find_job("deliver", "k") is None


async def test_failed_job_is_retried_later_or_kept_as_dead_letter(store: Store) -> None:
    async with store.transaction() as tx:
        job_id = await tx.enqueue("deliver", {})
        assert job_id is not None
        await tx.claim_job(["deliver"], "w", 60)
        await tx.fail_job(job_id, "connection refused", retry_at=time.time() + 3600)
        assert await tx.claim_job(["deliver"], "w", 60) is None  # not due yet
        await tx.fail_job(job_id, "gave up", retry_at=None)
        dead = await tx.list_jobs("deliver", "failed")
        assert [job.error for job in dead] == ["gave up"]
        assert await tx.retry_job(job_id)
        assert not await tx.retry_job(job_id)
        again = await tx.claim_job(["deliver"], "w", 60)
    assert again is not None and again.id == job_id and again.attempts == 2


async def test_job_of_a_dead_worker_is_claimed_after_its_lease(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.enqueue("export", {})
        assert await tx.claim_job(["export"], "dead-worker", lease_seconds=-1) is not None
        rescued = await tx.claim_job(["export"], "w2", 60)
    assert rescued is not None and rescued.attempts == 2


async def test_concurrent_claimers_never_share_a_job(store: Store) -> None:
    async with store.transaction() as tx:
        for n in range(10):
            await tx.enqueue("work", {"n": n})

    async def claim_all(worker: str) -> list[int]:
        claimed = []
        while True:
            async with store.transaction() as tx:
                job = await tx.claim_job(["work"], worker, 60)
            if job is None:
                return claimed
            claimed.append(job.payload["n"])

    results = await asyncio.gather(*(claim_all(f"w{i}") for i in range(3)))
    everything = [n for claimed in results for n in claimed]
    assert sorted(everything) == list(range(10))


async def test_records_put_get_take_delete_list(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.put_record("client", "app-1", {"name": "one"})
        await tx.put_record("client", "app-1", {"name": "uno"})
        await tx.put_record("client", "app-2", {"name": "two"})
        await tx.put_record("client", "other%_", {"name": "wild"})
        await tx.put_record("code", "abc", {"sub": "u1"})
        assert await tx.get_record("client", "app-1") == {"name": "uno"}
        assert [key for key, _ in await tx.list_records("client", prefix="app-")] == ["app-1", "app-2"]
        assert await tx.take_record("code", "abc") == {"sub": "u1"}
        assert await tx.take_record("code", "abc") is None
        assert await tx.delete_record("client", "app-2")
        assert not await tx.delete_record("client", "app-2")
        assert await tx.get_record("client", "missing") is None


async def test_expired_records_read_as_absent_and_can_be_inserted_again(store: Store) -> None:
    async with store.transaction() as tx:
        assert await tx.insert_record("jti", "j1", {}, expires_at=time.time() - 1)
        assert await tx.get_record("jti", "j1") is None
        assert await tx.take_record("jti", "j1") is None
        assert await tx.insert_record("jti", "j1", {"n": 2}, expires_at=time.time() + 60)
        assert not await tx.insert_record("jti", "j1", {"n": 3}, expires_at=time.time() + 60)
        assert await tx.get_record("jti", "j1") == {"n": 2}


async def test_a_claim_reads_only_the_jobs_still_to_run(store: Store) -> None:
    """Every write transaction queues an audit job, so finished jobs pile up by the million: a
    claim that read every job of its kind (it did, through job_kind_key) slowed every write."""
    async with store.transaction() as tx:
        for _ in range(300):
            await tx.enqueue("audit", {})
        while (finished := await tx.claim_job(["audit"], "w", 60)) is not None:
            await tx.finish_job(finished.id)
        await tx.enqueue("audit", {"last": True})
        if isinstance(store, PostgresStore):
            await tx._rows("ANALYZE job", [])  # what autovacuum does for a server in service
    statements: list[tuple[str, list[Any]]] = []
    async with store.transaction() as tx:
        run = tx._rows

        async def recorded(sql: str, params: Sequence[Any]) -> list[Sequence[Any]]:
            statements.append((sql, list(params)))
            return await run(sql, params)

        tx._rows = recorded  # type: ignore[method-assign]
        claimed = await tx.claim_job(["audit"], "w", 60)
        assert claimed is not None and claimed.payload == {"last": True}
        [(claim, params)] = statements
        explain = "EXPLAIN " if isinstance(store, PostgresStore) else "EXPLAIN QUERY PLAN "
        plan = " / ".join(str(row[-1]) for row in await run(explain + claim, params))
    assert "job_active" in plan and "job_kind_key" not in plan and "Seq Scan" not in plan, plan
