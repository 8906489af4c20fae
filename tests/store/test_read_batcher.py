"""Coalesced reads by id (PostgreSQL): every reader gets its own row, a statement never answers
a read asked before a write with data older than that write, and failures reach every reader."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from ember.access import AccessContext
from ember.store.base import NewVersion, Store
from ember.store.read_batcher import MAX_IN_FLIGHT, ReadBatcher

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class _Recorder:
    """A fetch that answers from a dict after a pause, recording the keys of each statement."""

    def __init__(self, rows: dict[tuple[str, str], dict[str, Any]], fail: bool = False) -> None:
        self.rows, self.fail = rows, fail
        self.statements: list[list[tuple[str, str]]] = []
        self.running = self.most_running = 0

    async def __call__(self, sql: str, *args: Any) -> Sequence[Any]:
        keys = list(zip(args[0], args[1], strict=True)) if isinstance(args[0], list) else [(args[0], args[1])]
        self.statements.append(keys)
        self.running += 1
        self.most_running = max(self.most_running, self.running)
        try:
            await asyncio.sleep(0.01)
            if self.fail:
                raise ConnectionResetError("server went away")
            return [self.rows[key] for key in keys if key in self.rows]
        finally:
            self.running -= 1


def _row(resource_type: str, resource_id: str) -> dict[str, Any]:
    return {"resource_type": resource_type, "id": resource_id, "body": f"{resource_type}/{resource_id}"}


async def test_concurrent_reads_share_statements_and_each_gets_its_own_row() -> None:
    rows = {("Patient", str(n)): _row("Patient", str(n)) for n in range(50)}
    fetch = _Recorder(rows)
    batcher = ReadBatcher(fetch, "single", "resource_type, id, body")
    wanted = [("Patient", str(n % 60)) for n in range(120)]  # repeats, and 10 unknown ids
    answers = await asyncio.gather(*(batcher.read(*key) for key in wanted))
    for key, answer in zip(wanted, answers, strict=True):
        assert answer == rows.get(key)
    assert len(fetch.statements) < 10  # 120 reads, a handful of statements
    assert fetch.most_running <= MAX_IN_FLIGHT


async def test_a_lone_read_goes_out_at_once_on_the_single_key_statement() -> None:
    fetch = _Recorder({("Patient", "1"): _row("Patient", "1")})
    batcher = ReadBatcher(fetch, "single", "resource_type, id, body")
    assert (await batcher.read("Patient", "1"))["body"] == "Patient/1"
    assert await batcher.read("Patient", "2") is None
    assert fetch.statements == [[("Patient", "1")], [("Patient", "2")]]


async def test_a_failed_statement_fails_every_reader_it_carried_and_the_next_reads_work() -> None:
    fetch = _Recorder({("Patient", "1"): _row("Patient", "1")}, fail=True)
    batcher = ReadBatcher(fetch, "single", "resource_type, id, body")
    results = await asyncio.gather(*(batcher.read("Patient", str(n)) for n in range(5)), return_exceptions=True)
    assert all(isinstance(result, ConnectionResetError) for result in results)
    fetch.fail = False
    assert (await batcher.read("Patient", "1"))["body"] == "Patient/1"


async def test_a_reader_that_gives_up_does_not_disturb_the_others() -> None:
    fetch = _Recorder({("Patient", str(n)): _row("Patient", str(n)) for n in range(4)})
    batcher = ReadBatcher(fetch, "single", "resource_type, id, body")
    tasks = [asyncio.create_task(batcher.read("Patient", str(n))) for n in range(4)]
    await asyncio.sleep(0)
    tasks[1].cancel()
    done = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(done[1], asyncio.CancelledError)
    assert [answer["body"] for n, answer in enumerate(done) if n != 1] == ["Patient/0", "Patient/2", "Patient/3"]


async def test_postgres_reads_under_concurrent_writes_see_every_acknowledged_write(store: Store) -> None:
    """Each write is acknowledged before its read is asked; hundreds of reads race alongside:
    every read answers the version written last before it was asked, or a later one."""
    if type(store).__name__ != "PostgresStore":
        pytest.skip("coalesced reads are PostgreSQL's")
    ctx = AccessContext.system()
    moment = datetime.now(UTC)

    async def write(resource_id: str, version: int) -> None:
        body = b'{"resourceType":"Basic","id":"%s"}' % resource_id.encode()
        async with store.transaction() as tx:
            await tx.write([NewVersion("Basic", resource_id, version, moment, False, body, version - 1, {})])

    async def writer_then_reader(resource_id: str) -> None:
        for version in range(1, 6):
            await write(resource_id, version)
            stored = await store.read(ctx, "Basic", resource_id)
            assert stored is not None and stored.version >= version

    async def noise() -> None:
        for _ in range(40):
            await store.read(ctx, "Basic", "absent")

    await asyncio.gather(*(writer_then_reader(f"b{n}") for n in range(8)), *(noise() for _ in range(8)))
