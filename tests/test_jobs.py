"""The job runner over a real store."""

from __future__ import annotations

from typing import Any

import pytest

from ember.jobs import JobFailed, JobRunner
from ember.store.base import Job, Store

pytestmark = pytest.mark.anyio


async def test_runner_runs_due_jobs_and_records_results(store: Store) -> None:
    seen: list[dict[str, Any]] = []

    async def handle(job: Job, _: Store) -> dict[str, Any]:
        seen.append(job.payload)
        return {"ok": job.payload["n"]}

    async with store.transaction() as tx:
        first = await tx.enqueue("echo", {"n": 1})
        await tx.enqueue("echo", {"n": 2})
        await tx.enqueue("unhandled", {"n": 3})
    assert await JobRunner(store, {"echo": handle}).run_until_idle() == 2
    assert seen == [{"n": 1}, {"n": 2}]
    async with store.transaction() as tx:
        job = await tx.get_job(first or 0)
        untouched = await tx.list_jobs("unhandled")
    assert job is not None and job.state == "done" and job.result == {"ok": 1}
    assert untouched[0].state == "queued"


async def test_runner_retries_with_backoff_then_keeps_a_dead_letter(store: Store) -> None:
    async def flaky(job: Job, _: Store) -> None:
        raise ConnectionError("peer down")

    async def hopeless(job: Job, _: Store) -> None:
        raise JobFailed("malformed payload")

    async with store.transaction() as tx:
        flaky_id = await tx.enqueue("flaky", {})
        hopeless_id = await tx.enqueue("hopeless", {})
    runner = JobRunner(store, {"flaky": flaky, "hopeless": hopeless}, max_attempts=2)
    assert await runner.run_until_idle() == 2  # the flaky one is now waiting for its backoff
    async with store.transaction() as tx:
        waiting = await tx.get_job(flaky_id or 0)
        dead = await tx.get_job(hopeless_id or 0)
    assert waiting is not None and waiting.state == "queued" and "peer down" in (waiting.error or "")
    assert dead is not None and dead.state == "failed" and dead.error == "malformed payload"
