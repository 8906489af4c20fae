"""Group commit on SQLite: write units of one process that queue up while one runs share its
transaction and COMMIT, each inside a savepoint, and none returns before that COMMIT."""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from ember.store.sqlite import SqliteStore
from tests.backends import opened

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    async with opened(SqliteStore(str(tmp_path / "ember.db"))) as ready:
        yield ready


def _committed_keys(store: SqliteStore) -> set[str]:
    """The records another connection sees: what is committed."""
    connection = sqlite3.connect(store.path)
    try:
        return {row[0] for row in connection.execute("SELECT record_key FROM record WHERE kind = 'test'")}
    finally:
        connection.close()


def _count_commits(store: SqliteStore, monkeypatch: pytest.MonkeyPatch) -> list[str | None]:
    ended: list[str | None] = []
    end = store._end

    def counted(statement: str | None) -> None:
        ended.append(statement)
        end(statement)

    monkeypatch.setattr(store, "_end", counted)
    return ended


async def _holding_first(
    store: SqliteStore, ending: asyncio.Event, before_ending: Callable[[], None] = lambda: None
) -> asyncio.Task[None]:
    """A task whose unit has written `first` and holds the write lock until `ending` is set, so
    that units started meanwhile queue behind it and join its group."""
    writing = asyncio.Event()

    async def first() -> None:
        async with store.transaction() as tx:
            await tx.put_record("test", "first", {})
            writing.set()
            await ending.wait()
            before_ending()

    task = asyncio.create_task(first())
    await writing.wait()
    return task


async def _put(store: SqliteStore, key: str) -> None:
    async with store.transaction() as tx:
        await tx.put_record("test", key, {})


async def _queued_behind_first(
    store: SqliteStore, *units: Callable[[], Coroutine[Any, Any, None]]
) -> list[asyncio.Task[None]]:
    """Tasks of a first unit and of `units`, which queue behind it in that order; then the
    first is let go: with slow groups they all share one group."""
    finish_first = asyncio.Event()
    tasks = [await _holding_first(store, finish_first)]
    for unit in units:
        tasks.append(asyncio.create_task(unit()))
        await asyncio.sleep(0.02)  # queued for the write lock
    finish_first.set()
    return tasks


async def test_units_queued_together_share_one_commit_and_return_after_it(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    ended = _count_commits(store, monkeypatch)
    seen_after_return: dict[str, bool] = {}

    async def put(key: str) -> None:
        await _put(store, key)
        seen_after_return[key] = key in _committed_keys(store)

    keys = [f"k{n}" for n in range(20)]
    await asyncio.gather(*(put(key) for key in keys))
    assert seen_after_return == dict.fromkeys(keys, True)
    assert 1 <= ended.count("COMMIT") < len(keys)


@pytest.fixture
def slow_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    """Groups that stay open however long their first unit takes (these tests' units wait on
    events), so the next queued unit joins."""
    monkeypatch.setattr("ember.store.sqlite._GROUP_SECONDS", 60.0)


@pytest.mark.usefixtures("slow_groups")
async def test_a_failing_unit_leaves_no_trace_and_its_group_commits(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    ended = _count_commits(store, monkeypatch)

    async def failing() -> None:
        async with store.transaction() as tx:
            await tx.put_record("test", "failed", {})
            raise ValueError("rejected")

    writer, rejected, after = await _queued_behind_first(store, failing, lambda: _put(store, "after"))
    await writer
    with pytest.raises(ValueError):
        await rejected
    await after
    assert _committed_keys(store) == {"first", "after"}
    assert ended == ["COMMIT"]


@pytest.mark.usefixtures("slow_groups")
async def test_a_group_left_open_for_a_waiter_that_gives_up_still_commits(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    ended = _count_commits(store, monkeypatch)
    finish_first = asyncio.Event()
    waiters: list[asyncio.Task[None]] = []
    # The first unit ends while the waiter still counts as waiting: the group stays open for it.
    writer = await _holding_first(store, finish_first, before_ending=lambda: waiters[0].cancel())
    waiters.append(asyncio.create_task(_put(store, "second")))
    await asyncio.sleep(0.05)  # the waiter queues for the write lock
    finish_first.set()
    await asyncio.wait_for(writer, timeout=10)
    with pytest.raises(asyncio.CancelledError):
        await waiters[0]
    assert _committed_keys(store) == {"first"}
    assert ended == ["COMMIT"]


@pytest.mark.usefixtures("slow_groups")
async def test_a_failure_that_rolls_back_the_transaction_fails_the_whole_group(store: SqliteStore) -> None:
    """A full disk or an I/O error makes SQLite roll back the whole transaction: the units
    already done in it lost their writes too, and must not report success."""

    async def second() -> None:
        async with store.transaction() as tx:
            await tx.put_record("test", "second", {})
            store.writer_connection().execute("ROLLBACK")  # what SQLite does on such errors
            raise OSError("disk full")

    writer, failing, queued_after = await _queued_behind_first(store, second, lambda: _put(store, "third"))
    with pytest.raises(sqlite3.OperationalError):
        await writer
    with pytest.raises(OSError):
        await failing
    await queued_after  # in a group of its own
    assert _committed_keys(store) == {"third"}
    probe = os.open(store.path + "-writer.lock", os.O_RDWR)
    try:
        fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the writers' lock is free again
        fcntl.flock(probe, fcntl.LOCK_UN)
    finally:
        os.close(probe)


def _temporary_files_open() -> list[str]:
    """SQLite's temporary files this process holds open (`etilqs_*`, unlinked once opened)."""
    found = []
    for entry in Path("/proc/self/fd").iterdir():
        try:
            target = os.readlink(entry)
        except OSError:
            continue
        if "etilqs_" in target:
            found.append(target)
    return found


async def test_a_unit_keeps_its_savepoint_journal_in_memory(store: SqliteStore) -> None:
    """The originals of the pages a unit's savepoint changes are kept in memory: in a temporary
    file each was one more write (a Synthea bundle: ~10 pages per resource, more than the WAL)."""
    for value in ("first", "second"):  # the second unit changes pages the database already has
        async with store.transaction() as tx:
            for number in range(200):
                await tx.put_record("test", f"key-{number}", {"value": value, "padding": "x" * 2000})
            assert _temporary_files_open() == []
    assert len(_committed_keys(store)) == 200
