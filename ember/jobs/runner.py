"""The job runner: claims due jobs from the store and runs their handlers.

Every worker process runs one; the store's claim (SKIP LOCKED on PostgreSQL, the writer lock on
SQLite) guarantees a job runs in one place at a time, and the lease hands the job of a crashed
worker to another after `lease_seconds`. A handler that raises is retried with exponential
backoff up to `max_attempts`, then kept as a failed job (a dead letter) for an operator to retry.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from ember.store.base import Job, Store

JobHandler = Callable[[Job, Store], Awaitable[dict[str, Any] | None]]

log = logging.getLogger("ember.jobs")

_MAX_BACKOFF_SECONDS = 300.0


class JobFailed(Exception):
    """Raised by a handler for an error retrying cannot fix: the job fails at once."""


class JobRunner:
    """Runs the jobs of the kinds in `handlers` until stopped."""

    def __init__(
        self,
        store: Store,
        handlers: Mapping[str, JobHandler],
        *,
        poll_seconds: float = 0.5,
        lease_seconds: float = 300.0,
        max_attempts: int = 8,
    ) -> None:
        self._store = store
        self._handlers = handlers
        self._poll_seconds = poll_seconds
        self._lease_seconds = lease_seconds
        self._max_attempts = max_attempts
        self.worker = f"{socket.gethostname()}:{os.getpid()}"

    async def run_once(self) -> Job | None:
        """Claim and run one due job; the job as claimed, or None when nothing was due."""
        async with self._store.transaction() as tx:
            job = await tx.claim_job(list(self._handlers), self.worker, self._lease_seconds)
        if job is None:
            return None
        try:
            result = await self._handlers[job.kind](job, self._store)
        except JobFailed as exc:
            await self._fail(job, str(exc), retry=False)
        except Exception as exc:  # noqa: BLE001 - a handler's bug must not stop the runner
            log.exception("job %s (%s) failed", job.id, job.kind)
            await self._fail(job, f"{type(exc).__name__}: {exc}", retry=job.attempts < self._max_attempts)
        else:
            async with self._store.transaction() as tx:
                await tx.finish_job(job.id, result)
        return job

    async def run_until_idle(self) -> int:
        """Run due jobs until none is left; how many ran (tests and the CLI use this)."""
        ran = 0
        while await self.run_once() is not None:
            ran += 1
        return ran

    async def run_forever(self) -> None:
        """Poll for due jobs until cancelled."""
        if not self._handlers:
            return
        while True:
            if await self.run_once() is None:
                await asyncio.sleep(self._poll_seconds)

    async def _fail(self, job: Job, error: str, *, retry: bool) -> None:
        retry_at = time.time() + min(2.0**job.attempts, _MAX_BACKOFF_SECONDS) if retry else None
        async with self._store.transaction() as tx:
            await tx.fail_job(job.id, error, retry_at)
