"""The SQLite writers' lock: polled for on the event loop while another process holds it,
statements inline once held, and never left held by a transaction that was cancelled while
waiting for it.

Two SqliteStore objects on one file stand for two worker processes: each opens its own lock
file descriptor, and flock locks of different descriptors exclude each other."""

from __future__ import annotations

import asyncio
import fcntl
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ember.store.base import NewVersion
from ember.store.sqlite import SqliteStore
from tests.backends import opened

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def two_workers(tmp_path: Path) -> AsyncIterator[tuple[SqliteStore, SqliteStore]]:
    path = str(tmp_path / "ember.db")
    async with opened(SqliteStore(path)) as first, opened(SqliteStore(path)) as second:
        yield first, second


def _basic(resource_id: str) -> NewVersion:
    body = b'{"resourceType":"Basic","id":"' + resource_id.encode() + b'"}'
    return NewVersion("Basic", resource_id, 1, datetime.now(UTC), False, body, 0, {})


async def test_a_writer_cancelled_while_waiting_for_the_lock_does_not_keep_it(
    two_workers: tuple[SqliteStore, SqliteStore],
) -> None:
    first, second = two_workers
    holding = asyncio.Event()
    release = asyncio.Event()

    async def hold() -> None:
        async with first.transaction() as tx:
            await tx.write([_basic("held")])
            holding.set()
            await release.wait()

    holder = asyncio.create_task(hold())
    await holding.wait()

    async def wait_for_the_lock() -> None:
        async with second.transaction() as tx:
            await tx.write([_basic("never")])

    waiter = asyncio.create_task(wait_for_the_lock())
    await asyncio.sleep(0.2)  # the waiter is polling for the lock
    waiter.cancel()
    release.set()
    await holder
    with pytest.raises(asyncio.CancelledError):
        await waiter
    await asyncio.sleep(0.1)

    probe = os.open(first.path + "-writer.lock", os.O_RDWR)
    try:
        fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)  # nobody holds the lock now
        fcntl.flock(probe, fcntl.LOCK_UN)
    finally:
        os.close(probe)
    async with first.transaction() as tx:
        await tx.write([_basic("after")])
    async with second.transaction() as tx:
        current = await tx.current([("Basic", "held"), ("Basic", "never"), ("Basic", "after")])
    assert set(current) == {("Basic", "held"), ("Basic", "after")}


async def test_writes_of_two_workers_take_turns_and_all_commit(two_workers: tuple[SqliteStore, SqliteStore]) -> None:
    first, second = two_workers

    async def write(store: SqliteStore, name: str) -> None:
        for n in range(20):
            async with store.transaction() as tx:
                await tx.write([_basic(f"{name}-{n}")])
                await asyncio.sleep(0)  # a turn of the event loop while holding the lock

    await asyncio.gather(write(first, "a"), write(second, "b"), write(first, "c"))
    async with first.transaction() as tx:
        current = await tx.current([("Basic", f"{name}-{n}") for name in "abc" for n in range(20)])
    assert len(current) == 60
