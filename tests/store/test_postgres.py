"""What only the PostgreSQL store promises beyond the shared contract: its migration runner
(ordering, locking between processes, all-or-nothing) and its behaviour without a server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest

from ember.access import AccessContext
from ember.store.base import NewVersion
from ember.store.migrations import migration_scripts
from ember.store.postgres import PostgresStore, migrate
from ember.store.read_connection import ReadConnection
from tests.pg import create_test_database, drop_test_database, require_postgres

pytestmark = pytest.mark.anyio

UNREACHABLE_URL = "postgresql://postgres@127.0.0.1:1/ember"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def empty_database() -> AsyncIterator[str]:
    require_postgres()
    url = await create_test_database()
    try:
        yield url
    finally:
        await drop_test_database(url)


async def _applied(url: str) -> list[int]:
    connection = await asyncpg.connect(url)
    try:
        return [row[0] for row in await connection.fetch("SELECT version FROM schema_migrations ORDER BY 1")]
    finally:
        await connection.close()


async def test_every_migration_is_recorded_once_when_stores_open_together(empty_database: str) -> None:
    stores = [PostgresStore(empty_database, min_size=1, max_size=2) for _ in range(6)]
    await asyncio.gather(*(store.open() for store in stores))
    await asyncio.gather(*(store.close() for store in stores))
    assert await _applied(empty_database) == [version for version, _ in migration_scripts("postgres")]


async def test_advisory_lock_lets_one_of_several_processes_apply_a_slow_migration(empty_database: str) -> None:
    slow = [(1, "CREATE TABLE slow (x int); SELECT pg_sleep(0.3);")]
    connections = [await asyncpg.connect(empty_database) for _ in range(3)]
    try:
        results = await asyncio.gather(*(migrate(connection, slow) for connection in connections))
    finally:
        await asyncio.gather(*(connection.close() for connection in connections))
    assert sorted(results) == [[], [], [1]]


async def test_new_migrations_are_applied_to_an_existing_database_in_order(empty_database: str) -> None:
    connection = await asyncpg.connect(empty_database)
    try:
        assert await migrate(connection, [(1, "CREATE TABLE one (x int)")]) == [1]
        later = [(1, "CREATE TABLE one (x int)"), (3, "ALTER TABLE two ADD y int"), (2, "CREATE TABLE two (x int)")]
        assert await migrate(connection, sorted(later)) == [2, 3]
        assert await migrate(connection, sorted(later)) == []
    finally:
        await connection.close()


async def test_a_failing_migration_rolls_back_every_step_of_its_run(empty_database: str) -> None:
    connection = await asyncpg.connect(empty_database)
    try:
        with pytest.raises(asyncpg.PostgresSyntaxError):
            await migrate(connection, [(1, "CREATE TABLE one (x int)"), (2, "CREATE TABLE broken (")])
        tables = await connection.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    finally:
        await connection.close()
    assert tables == []


async def test_ping_is_false_before_open_and_open_fails_without_a_server() -> None:
    store = PostgresStore(UNREACHABLE_URL)
    assert await store.ping() is False
    with pytest.raises(OSError):
        await store.open()
    assert await store.ping() is False


async def test_reads_before_open_raise_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match="open"):
        await PostgresStore(UNREACHABLE_URL).read(AccessContext.system(), "Patient", "p1")


async def test_bodies_and_long_texts_are_compressed_with_lz4(empty_database: str) -> None:
    store = PostgresStore(empty_database, min_size=1, max_size=1)
    await store.open()
    await store.close()
    connection = await asyncpg.connect(empty_database)
    try:
        methods = await connection.fetch(
            "SELECT attrelid::regclass::text AS relation, attcompression::text FROM pg_attribute "
            "WHERE (attrelid, attname) IN (('resource'::regclass, 'body'), ('resource_version'::regclass, 'body'), "
            "('text_index'::regclass, 'value'))"
        )
    finally:
        await connection.close()
    assert {row["relation"]: row["attcompression"] for row in methods} == {
        "resource": "l",
        "resource_version": "l",
        "text_index": "l",
    }


async def _opened_with_a_patient(url: str) -> PostgresStore:
    store = PostgresStore(url, min_size=1, max_size=2)
    await store.open()
    body = b'{"resourceType":"Patient","id":"p1"}'
    async with store.transaction() as tx:
        await tx.write([NewVersion("Patient", "p1", 1, datetime.now(UTC), False, body, 0, {})])
    return store


async def test_reads_by_id_get_generic_plans_and_searches_keep_custom_ones(empty_database: str) -> None:
    """The setting that spares reads their planning must stay off the pool: searches are
    unnamed statements so that each is planned for its own values."""
    store = await _opened_with_a_patient(empty_database)
    try:
        assert (await store.read(AccessContext.system(), "Patient", "p1")) is not None
        assert await store._read_rows("SHOW plan_cache_mode") == [("force_generic_plan",)]
        assert await store._connected().fetchval("SHOW plan_cache_mode") == "auto"
    finally:
        await store.close()


async def test_a_lost_read_connection_is_replaced(empty_database: str) -> None:
    store = await _opened_with_a_patient(empty_database)
    ctx = AccessContext.system()
    try:
        assert (await store.read(ctx, "Patient", "p1")) is not None
        (pid,) = (await store._read_rows("SELECT pg_backend_pid()"))[0]
        assert await store._connected().fetchval("SELECT pg_terminate_backend($1)", pid)
        for _ in range(50):  # the backend goes away asynchronously
            if not await store._connected().fetchval("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid):
                break
            await asyncio.sleep(0.02)
        stored = await store.read(ctx, "Patient", "p1")
        assert stored is not None and stored.id == "p1"
        assert (await store._read_rows("SELECT pg_backend_pid()"))[0][0] != pid
    finally:
        await store.close()


async def test_reads_fail_rather_than_wait_when_postgresql_is_unreachable() -> None:
    connection = ReadConnection(UNREACHABLE_URL, {})
    with pytest.raises(OSError):
        await connection.fetch("SELECT 1")
