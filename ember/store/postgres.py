"""The PostgreSQL store: asyncpg over a connection pool, for several worker processes.

Durability, ids and ordering all come from the database, never from process memory: `seq` is an
identity column, optimistic concurrency is a conditional UPDATE / `INSERT ... ON CONFLICT DO
NOTHING` on the `resource` row, and a write is one SQL statement that appends history and moves
the current row together. Bodies are BYTEA, not JSONB: the store never looks inside them and jsonb
parsing costs more than half the insert throughput.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import TypeAlias

import asyncpg
import asyncpg.pool
import orjson

from ember.access import AccessContext
from ember.store.base import (
    HistoryEntry,
    HistoryQuery,
    NewVersion,
    ReindexEntry,
    StoredVersion,
    VersionConflict,
)
from ember.store.history_sql import history_sql, token_lookup_sql
from ember.store.index_tables import INDEX_TABLES
from ember.store.jobs_records import JobsAndRecords, RecordReads
from ember.store.migrations import migration_scripts
from ember.store.read_batcher import ReadBatcher
from ember.store.read_connection import ReadConnection
from ember.store.searching import Searcher, SearchingStore, TransactionSearch, too_costly

# A plain connection, or a pooled one (a proxy with the same API).
Connection: TypeAlias = "asyncpg.Connection | asyncpg.pool.PoolConnectionProxy"

# Any constant works as long as every Ember process uses the same one ("ember" in ASCII).
_MIGRATION_LOCK = 0x656D626572

_PING_TIMEOUT_SECONDS = 2.0
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

#: Every connection's session settings (see PostgresStore.open for why).
_SERVER_SETTINGS = {"jit": "off", "max_parallel_workers_per_gather": "0"}

_VERSION_COLUMNS = "resource_type, id, version, last_updated, deleted, body"

_READ_SQL = f"SELECT {_VERSION_COLUMNS} FROM resource WHERE resource_type = $1 AND id = $2"
_VREAD_SQL = f"SELECT {_VERSION_COLUMNS} FROM resource_version WHERE resource_type = $1 AND id = $2 AND version = $3"
# Locks are taken in key order (LockRows runs above the sort), so two transactions locking
# overlapping key sets cannot deadlock on each other here.
_CURRENT_SQL = """
SELECT r.resource_type, r.id, r.version, r.last_updated, r.deleted, r.body
FROM resource r JOIN unnest($1::text[], $2::text[]) AS k(resource_type, id) USING (resource_type, id)
ORDER BY r.resource_type, r.id
FOR UPDATE OF r
"""

# One round trip per write, whatever the batch size (measured faster than executemany and than
# COPY + upsert for 1-500 rows). `expected_version` is the version the key's *first* row expects;
# `is_head` marks each key's last row, the one that becomes current. The UPDATE re-checks the
# version after waiting for a concurrent writer's row lock, and ON CONFLICT DO NOTHING waits for
# a concurrent creator's outcome, so a key is accepted only if its expectation still held; history
# is appended for accepted keys only, in input order so `seq` follows the batch. The search index
# rows (column arrays from $9 on, those of the non-deleted heads) replace the old ones of updated
# keys: every part of the statement sees the same snapshot, so a DELETE cannot remove the rows
# being inserted.
_WRITE_HEAD = """
WITH input AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::timestamptz[], $5::bool[],
                         $6::bytea[], $7::int[], $8::bool[]) WITH ORDINALITY
        AS t(resource_type, id, version, last_updated, deleted, body, expected_version, is_head, ord)
),
updated AS (
    UPDATE resource r
    SET version = i.version, last_updated = i.last_updated, deleted = i.deleted, body = i.body
    FROM input i
    WHERE i.is_head AND i.expected_version > 0
      AND r.resource_type = i.resource_type AND r.id = i.id AND r.version = i.expected_version
    RETURNING r.resource_type, r.id
),
created AS (
    INSERT INTO resource (resource_type, id, version, last_updated, deleted, body)
    SELECT resource_type, id, version, last_updated, deleted, body FROM input
    WHERE is_head AND expected_version = 0
    ON CONFLICT (resource_type, id) DO NOTHING
    RETURNING resource_type, id
),
accepted AS (SELECT * FROM updated UNION ALL SELECT * FROM created),
appended AS (
    INSERT INTO resource_version (resource_type, id, version, last_updated, deleted, body)
    SELECT i.resource_type, i.id, i.version, i.last_updated, i.deleted, i.body
    FROM input i JOIN accepted a USING (resource_type, id)
    ORDER BY i.ord
)"""


def _index_statements(first_parameter: int, replaced: str = "updated", kept: str = "accepted") -> str:
    """The CTE parts that replace the index rows of every table, each table's rows bound as one
    JSON array of row arrays from `$first_parameter` on (see `_index_documents`): rows of the
    resources in `replaced` are deleted, and new rows inserted for the resources in `kept`."""
    parts = []
    for offset, table in enumerate(INDEX_TABLES):
        types = ["text", "text", "text", *(kind for _, kind in table.columns), "int"]
        values = ", ".join(f"(r->>{n})::{kind}" for n, kind in enumerate(types))
        parts.append(
            f"unindexed_{table.kind} AS (DELETE FROM {table.name} x USING {replaced} u "
            "WHERE x.resource_type = u.resource_type AND x.id = u.id)"
        )
        parts.append(
            f"indexed_{table.kind} AS (INSERT INTO {table.name} ({', '.join(table.column_names)}) "
            f"SELECT {values} FROM jsonb_array_elements(${first_parameter + offset}::jsonb) r "
            f"JOIN {kept} a ON a.resource_type = r->>0 AND a.id = r->>1)"
        )
    return ",\n".join(parts)


_WRITE_SQL = f"{_WRITE_HEAD},\n{_index_statements(9)}\nSELECT resource_type, id FROM accepted"

# Reindexing: new index rows for current versions that are still the version the reindexer read.
_REINDEX_SQL = f"""
WITH input AS (SELECT * FROM unnest($1::text[], $2::text[], $3::int[]) AS t(resource_type, id, version)),
kept AS (
    SELECT r.resource_type, r.id FROM resource r JOIN input i USING (resource_type, id)
    WHERE r.version = i.version AND NOT r.deleted
),
{_index_statements(4, replaced="kept", kept="kept")}
SELECT count(*) FROM kept
"""

# The two-int form of the lock is a key space of its own, apart from _MIGRATION_LOCK (one bigint).
_TOKEN_LOCK_SQL = "SELECT pg_advisory_xact_lock(1, hashtext($1))"

_CREATE_MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)
"""


async def migrate(conn: Connection, migrations: Sequence[tuple[int, str]]) -> list[int]:
    """Apply the missing (version, SQL) migrations in one transaction; return the versions
    applied.

    The transaction-scoped advisory lock makes workers that start together take turns: the
    first applies everything, the others then find nothing left to do. A failing step rolls
    back every step of this run, so the schema is never half-migrated.
    """
    applied_now = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
        await conn.execute(_CREATE_MIGRATIONS_TABLE)
        applied = {row["version"] for row in await conn.fetch("SELECT version FROM schema_migrations")}
        for version, script in migrations:
            if version in applied:
                continue
            # No arguments: the simple query protocol runs a multi-statement script.
            await conn.execute(script)
            await conn.execute("INSERT INTO schema_migrations (version) VALUES ($1)", version)
            applied_now.append(version)
    return applied_now


def _stored(row: asyncpg.Record) -> StoredVersion:
    return StoredVersion(
        resource_type=row["resource_type"],
        id=row["id"],
        version=row["version"],
        last_updated=row["last_updated"],
        deleted=row["deleted"],
        body=row["body"],
    )


def _write_columns(versions: Sequence[NewVersion]) -> list[object]:
    """The batch as the parameters of _WRITE_SQL: column arrays, then the index documents.

    Several versions of one resource in a batch must form a chain (each expects the one before
    it); the key's first expectation is then checked against the database, its last version
    becomes current and provides the token rows.
    """
    first_expected: dict[tuple[str, str], int] = {}
    head: dict[tuple[str, str], NewVersion] = {}
    for version in versions:
        key = (version.resource_type, version.id)
        previous = head.get(key)
        if previous is None:
            first_expected[key] = version.expected_version
        elif version.expected_version != previous.version:
            raise VersionConflict(*key)
        head[key] = version
    keys = [(v.resource_type, v.id) for v in versions]
    return [
        [v.resource_type for v in versions],
        [v.id for v in versions],
        [v.version for v in versions],
        [v.last_updated for v in versions],
        [v.deleted for v in versions],
        [v.body for v in versions],
        [first_expected[key] for key in keys],
        [head[key] is v for key, v in zip(keys, versions, strict=True)],
        *_index_documents([v for v in head.values() if not v.deleted]),
    ]


def _index_documents(versions: Sequence[NewVersion]) -> list[str]:
    """The index rows of `versions`, one JSON array of row arrays per table.

    Bound as column arrays, the rows cost asyncpg ~70 us of CPU per Synthea resource more (its
    array encoder checks every element against `collections.abc` types; orjson writes a table
    in one call), and PostgreSQL no more. JSON has no infinities, which open ranges use: they
    travel as the strings float8 reads."""
    documents = []
    for table in INDEX_TABLES:
        rows = [(v.resource_type, v.id, *row) for v in versions for row in v.index.get(table.kind, ())]
        if table.kind in _FLOAT_TABLES:
            rows = [tuple(_finite_or_text(value) for value in row) for row in rows]
        documents.append(orjson.dumps(rows).decode())
    return documents


_FLOAT_TABLES = frozenset(table.kind for table in INDEX_TABLES if any(kind == "float8" for _, kind in table.columns))


def _finite_or_text(value: object) -> object:
    if isinstance(value, float) and math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


class PostgresLookups(TransactionSearch, RecordReads):
    """Conditional lookups of the committed state on the pool, outside any transaction: they
    lock nothing and take no advisory lock (the transaction that then writes asks again)."""

    def __init__(self, store: PostgresStore) -> None:
        self._store = store

    async def current(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], StoredVersion]:
        unique = list(dict.fromkeys(keys))
        rows = await asyncio.gather(*(self._store.read_row(*key) for key in unique))
        return {key: _stored(row) for key, row in zip(unique, rows, strict=True) if row is not None}

    async def find_by_token(self, resource_type: str, param: str, system: str | None, code: str) -> list[str]:
        sql, params = token_lookup_sql(resource_type, param, system, code, placeholder=_dollar)
        return [row["id"] for row in await self._rows(sql, params)]

    async def _rows(self, sql: str, params: Sequence[object]) -> list[Sequence[object]]:
        return list(await self._store._connected().fetch(sql, *params))

    def _placeholder(self, position: int) -> str:
        return _dollar(position)


class PostgresTransaction(JobsAndRecords, TransactionSearch):
    """A unit of work on one pooled connection (READ COMMITTED plus row locks).

    After a conflict the unit is spoiled: versions accepted earlier in it must not commit, so
    every later call, and the end of the block, raises the conflict again.
    """

    _skip_locked = " FOR UPDATE SKIP LOCKED"

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._conflict: VersionConflict | None = None

    async def current(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], StoredVersion]:
        self.raise_if_spoiled()
        if not keys:
            return {}
        try:
            rows = await self._conn.fetch(_CURRENT_SQL, [k[0] for k in keys], [k[1] for k in keys])
        except asyncpg.DeadlockDetectedError as exc:
            raise self._spoil(VersionConflict(*keys[0])) from exc
        return {(row["resource_type"], row["id"]): _stored(row) for row in rows}

    async def write(self, versions: Sequence[NewVersion]) -> None:
        self.raise_if_spoiled()
        if not versions:
            return
        try:
            columns = _write_columns(versions)
            rows = await self._conn.fetch(_WRITE_SQL, *columns)
        except VersionConflict as conflict:
            raise self._spoil(conflict) from None
        except (asyncpg.UniqueViolationError, asyncpg.DeadlockDetectedError) as exc:
            # A concurrent writer won a race the conditional statement could not see coming
            # (a duplicate history row, or two batches locking rows in opposite orders).
            raise self._spoil(VersionConflict(versions[0].resource_type, versions[0].id)) from exc
        accepted = {(row["resource_type"], row["id"]) for row in rows}
        for version in versions:
            if (version.resource_type, version.id) not in accepted:
                raise self._spoil(VersionConflict(version.resource_type, version.id))

    async def find_by_token(self, resource_type: str, param: str, system: str | None, code: str) -> list[str]:
        """See Transaction.find_by_token. Also serialises the transactions asking the same
        question, so two conditional creates of one identifier cannot both find nothing: the
        lock ignores `system` (so `|code` and `system|code` callers meet), and the lookup runs
        as its own statement after the lock, with a snapshot that sees the winner's commit."""
        self.raise_if_spoiled()
        try:
            await self._conn.execute(_TOKEN_LOCK_SQL, f"{resource_type}|{param}|{code}")
        except asyncpg.DeadlockDetectedError as exc:
            raise self._spoil(VersionConflict(resource_type, code)) from exc
        sql, params = token_lookup_sql(resource_type, param, system, code, placeholder=_dollar)
        return [row["id"] for row in await self._conn.fetch(sql, *params)]

    async def _rows(self, sql: str, params: Sequence[object]) -> list[Sequence[object]]:
        self.raise_if_spoiled()
        return list(await self._conn.fetch(sql, *params))

    def _placeholder(self, position: int) -> str:
        return _dollar(position)

    async def reindex(self, entries: Sequence[ReindexEntry]) -> int:
        self.raise_if_spoiled()
        if not entries:
            return 0
        heads = [NewVersion(e.resource_type, e.id, e.version, _EPOCH, False, b"", 0, e.index) for e in entries]
        columns = [[e.resource_type for e in entries], [e.id for e in entries], [e.version for e in entries]]
        count: int = await self._conn.fetchval(_REINDEX_SQL, *columns, *_index_documents(heads))
        return count

    async def _serialise(self, key: str) -> None:
        self.raise_if_spoiled()
        try:
            await self._conn.execute(_TOKEN_LOCK_SQL, key)
        except asyncpg.DeadlockDetectedError as exc:
            raise self._spoil(VersionConflict("search", key)) from exc

    def raise_if_spoiled(self) -> None:
        if self._conflict is not None:
            raise self._conflict

    def _spoil(self, conflict: VersionConflict) -> VersionConflict:
        self._conflict = conflict
        return conflict


async def _session_needs_no_reset(connection: asyncpg.Connection) -> None:
    """Ember never changes session state (no SET, LISTEN, cursors or session-level advisory
    locks; transactions are closed by asyncpg itself), so the pool's default reset query, a second
    round trip on every release that halved read throughput, has nothing to undo."""


class PostgresStore(SearchingStore):
    """The Store protocol on PostgreSQL: `postgresql://user@host:port/db`."""

    def __init__(self, url: str, *, min_size: int = 2, max_size: int = 10, search_timeout: float | None = None) -> None:
        self._url = url
        self._min_size = min_size
        self._max_size = max_size
        self._search_timeout = search_timeout
        self._pool: asyncpg.Pool | None = None
        self._searcher = Searcher(self._scan, _dollar)
        self._read_connection: ReadConnection | None = None
        self._reads = ReadBatcher(self._read_rows, _READ_SQL, _VERSION_COLUMNS)

    async def open(self) -> None:
        # JIT compiles a plan for every statement PostgreSQL estimates as costly; for search
        # queries that answer in milliseconds it cost 50-230 ms (measured on 860k resources).
        # Parallel workers only add start-up and merging to a search that reads one page: a
        # sorted search took 128 ms with two and 30-45 ms without (same data), and every
        # request is already served by a connection of its own.
        pool = await asyncpg.create_pool(
            self._url,
            min_size=self._min_size,
            max_size=self._max_size,
            reset=_session_needs_no_reset,
            server_settings=_SERVER_SETTINGS,
        )
        try:
            async with pool.acquire() as conn:
                await migrate(conn, migration_scripts("postgres"))
        except BaseException:
            await pool.close()
            raise
        self._pool = pool
        self._read_connection = ReadConnection(self._url, _SERVER_SETTINGS)

    async def close(self) -> None:
        if self._read_connection is not None:
            await self._read_connection.close()
            self._read_connection = None
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def ping(self) -> bool:
        if self._pool is None:
            return False
        try:
            # The timeout also bounds waiting for a free connection of a saturated pool.
            async with asyncio.timeout(_PING_TIMEOUT_SECONDS):
                answer = await self._pool.fetchval("SELECT 1")
            return bool(answer == 1)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            # OSError covers refused connections and TimeoutError; /readyz wants a yes or no.
            return False

    async def read(self, ctx: AccessContext, resource_type: str, resource_id: str) -> StoredVersion | None:
        row = await self.read_row(resource_type, resource_id)
        if row is None or (not ctx.unrestricted and not await self._may_know(ctx, resource_type, resource_id)):
            return None
        return _stored(row)

    async def vread(
        self, ctx: AccessContext, resource_type: str, resource_id: str, version: int
    ) -> StoredVersion | None:
        row = await self._connected().fetchrow(_VREAD_SQL, resource_type, resource_id, version)
        if row is None or (not ctx.unrestricted and not await self._may_know(ctx, resource_type, resource_id)):
            return None
        return _stored(row)

    async def history(self, ctx: AccessContext, query: HistoryQuery) -> list[HistoryEntry]:
        sql, params = history_sql(
            query, count_only=False, placeholder=_dollar, instant=_as_is, access=self._searcher.history_access(ctx)
        )
        rows = await self._connected().fetch(sql, *params)
        return [HistoryEntry(seq=row["seq"], version=_stored(row)) for row in rows]

    async def history_count(self, ctx: AccessContext, query: HistoryQuery) -> int:
        sql, params = history_sql(
            query, count_only=True, placeholder=_dollar, instant=_as_is, access=self._searcher.history_access(ctx)
        )
        count: int = await self._connected().fetchval(sql, *params)
        return count

    async def read_row(self, resource_type: str, resource_id: str) -> asyncpg.Record | None:
        """The current version's row (deleted or not), coalesced with concurrent reads."""
        return await self._reads.read(resource_type, resource_id)

    def lookups(self) -> PostgresLookups:
        return PostgresLookups(self)

    async def _read_rows(self, sql: str, *params: object) -> list[asyncpg.Record]:
        if self._read_connection is None:
            raise RuntimeError("PostgresStore is not open: call open() first")
        return await self._read_connection.fetch(sql, *params)

    async def _scan(self, sql: str, params: list[object]) -> list[asyncpg.Record]:
        """A search statement, as an unnamed prepared statement: PostgreSQL plans it for its
        values every time. A cached statement switches to a generic plan after five runs, and a
        generic plan cannot tell a rare code from a common one (a token search went from 2 ms to
        1 s). Past the search timeout the statement is cancelled and the search answers 400."""
        async with self._connected().acquire() as conn:
            try:
                async with asyncio.timeout(self._search_timeout):
                    statement = await conn.prepare(sql, name="")
                    return list(await statement.fetch(*params))
            except TimeoutError:
                assert self._search_timeout is not None
                raise too_costly(self._search_timeout) from None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PostgresTransaction]:
        async with self._connected().acquire() as conn, conn.transaction():
            unit = PostgresTransaction(conn)
            yield unit
            # A caller that swallowed a VersionConflict must not commit the half it wrote.
            unit.raise_if_spoiled()

    def _connected(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("PostgresStore is not open: call open() first")
        return self._pool


def _dollar(position: int) -> str:
    return f"${position}"


def _as_is(moment: datetime) -> datetime:
    """asyncpg sends aware datetimes as timestamptz directly."""
    return moment
