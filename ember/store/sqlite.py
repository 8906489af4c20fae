"""The embedded store: SQLite in WAL mode.

Point reads run inline on the event loop: a lookup by key costs a few microseconds, less
than handing it to a thread. Scans (history, searches) run on a thread of their own with their
own connection. Writes are durable when COMMIT returns (synchronous=FULL by default).

Writers of several worker processes take an exclusive flock of a lock file beside the database
before BEGIN IMMEDIATE, on the event loop, looking again every 0.2-2 ms while another process
holds it (SQLite's own busy handler sleeps up to 100 ms between looks: two workers ingested 25%
less than one with it). Once a transaction holds the lock, its statements run inline on the
event loop; only the COMMIT (whose fsync waits on the disk with the GIL released) runs on the
writer thread, which lets the lock go. Statements on a thread held the lock across every turn
of the event loop between two statements and every hand-over of the GIL, and a lock taken on a
thread stayed held, unused, until the event loop came back to its coroutine: during a Synthea
ingest the job runner's claims held it ~50-70 ms each. Taking the lock on the event loop
ingested 15-18% more than taking it on a thread (alternated runs). Write units of one process
that queue up while one runs share its transaction and COMMIT, each in a savepoint (group
commit, see `SqliteStore.transaction`).

Checkpoints (copying the WAL back into the database file) run on their own thread once a
second, not inside a writer's COMMIT: with SQLite's default of a checkpoint whenever the WAL
passes 1,000 pages, nearly every Synthea bundle paid for one while holding the write lock
(commit took ~160 us per resource, ~80 without). The writer's own automatic checkpoint stays
as a backstop at a much larger WAL.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import sqlite3
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, TypeVar

from ember.access import AccessContext
from ember.store.base import (
    HistoryEntry,
    HistoryQuery,
    IndexRows,
    NewVersion,
    ReindexEntry,
    StoredVersion,
    VersionConflict,
)
from ember.store.history_sql import history_sql, token_lookup_sql
from ember.store.index_tables import INDEX_TABLES
from ember.store.jobs_records import JobsAndRecords, RecordReads
from ember.store.migrations import migration_scripts
from ember.store.searching import Searcher, SearchingStore, TransactionSearch, too_costly

T = TypeVar("T")

_COLUMNS = "resource_type, id, version, last_updated, deleted, body"
_READ_SQL = f"SELECT {_COLUMNS} FROM resource WHERE resource_type = ? AND id = ?"
_VREAD_SQL = f"SELECT {_COLUMNS} FROM resource_version WHERE resource_type = ? AND id = ? AND version = ?"
_INSERT_VERSION_SQL = f"INSERT INTO resource_version ({_COLUMNS}) VALUES"
_INSERT_CURRENT_SQL = f"INSERT INTO resource ({_COLUMNS}) VALUES"
_ON_CONFLICT_CURRENT = (
    " ON CONFLICT (resource_type, id) DO UPDATE SET version = excluded.version, "
    "last_updated = excluded.last_updated, deleted = excluded.deleted, body = excluded.body"
)
_WIDEN_DATE_SHAPE_SQL = "INSERT INTO date_shape (resource_type, param, max_span, max_values) VALUES"
_ON_CONFLICT_DATE_SHAPE = (
    " ON CONFLICT (resource_type, param) DO UPDATE SET max_span = max(max_span, excluded.max_span), "
    "max_values = max(max_values, excluded.max_values) "
    "WHERE excluded.max_span > date_shape.max_span OR excluded.max_values > date_shape.max_values"
)
#: `k CROSS JOIN resource`: SQLite keeps that order, one primary-key search per key (with a
#: row-value `IN` list it scanned the whole table).
_CURRENT_VERSIONS_SQL = (
    "SELECT r.resource_type, r.id, r.version FROM (VALUES {keys}) k "
    "CROSS JOIN resource r ON r.resource_type = k.column1 AND r.id = k.column2"
)
#: How often a writer looks again while another process holds the writers' lock (seconds).
_LOCK_POLL_FIRST = 0.0002
_LOCK_POLL_MAX = 0.002
#: Rows per multi-row statement: at most 11 columns, so under SQLite's old 999-parameter limit.
_ROWS_PER_STATEMENT = 64
_BUSY_TIMEOUT_MS = 30_000
#: Workers starting together wait this long for the one applying the migrations: rebuilding an
#: index or copying a table of a large database takes minutes (0310 and 0311 at 1M resources).
_MIGRATION_WAIT_MS = 30 * 60_000
_WRITER_CACHE_KIB = 256 * 1024
#: A group of write units (see SqliteStore.transaction) takes no more units after this long or
#: this many: its first unit's answer waits at most about this much longer for the COMMIT.
_GROUP_SECONDS = 0.005
_GROUP_UNITS = 64
_CHECKPOINT_SECONDS = 1.0
_WRITER_CHECKPOINT_PAGES = 50_000  # ~200 MB of WAL: only when the checkpoint thread falls behind
#: A running search checks its deadline every this many SQLite virtual-machine steps (well
#: under a millisecond of work each time).
_PROGRESS_STEPS = 10_000
#: How long a page may take in SearchSql's `optimistic` form before the other runs instead (see
#: Searcher). At 1M resources a common code's page took 0.3-4 ms with `_has`, 14-27 ms sorted.
_ATTEMPT_SECONDS = 0.025


def format_instant(moment: datetime) -> str:
    """Fixed-width ISO text, so SQLite orders instants correctly as strings."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _row_to_version(row: tuple[Any, ...]) -> StoredVersion:
    return StoredVersion(row[0], row[1], row[2], datetime.fromisoformat(row[3]), bool(row[4]), row[5])


class SqliteLookups(TransactionSearch, RecordReads):
    """Conditional lookups on one of the store's connections, inline on the event loop: the
    writer's inside a transaction, the reader's for `SqliteStore.lookups()` (the committed
    state: a WAL reader waits for no writer)."""

    _probes = True

    def __init__(self, connection: Callable[[], sqlite3.Connection]) -> None:
        self._connection = connection

    async def current(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], StoredVersion]:
        connection = self._connection()
        found = {}
        for key in dict.fromkeys(keys):
            row = connection.execute(_READ_SQL, key).fetchone()
            if row is not None:
                found[key] = _row_to_version(row)
        return found

    async def find_by_token(self, resource_type: str, param: str, system: str | None, code: str) -> list[str]:
        sql, params = token_lookup_sql(resource_type, param, system, code, placeholder=_qmark)
        return [row[0] for row in self._connection().execute(sql, params).fetchall()]

    async def _rows(self, sql: str, params: Sequence[Any]) -> list[Sequence[Any]]:
        return self._connection().execute(sql, params).fetchall()

    def _placeholder(self, position: int) -> str:
        return f"?{position}"  # numbered, so one value can be used twice


class SqliteTransaction(SqliteLookups, JobsAndRecords):
    """A unit of work on the writer connection; its statements run on the event loop, under the
    writers' lock (only the COMMIT goes to the writer thread)."""

    _claimable = "job INDEXED BY job_active"

    def __init__(self, store: SqliteStore) -> None:
        super().__init__(store.writer_connection)
        self.conflict: VersionConflict | None = None

    async def write(self, versions: Sequence[NewVersion]) -> None:
        try:
            _write_versions(self._connection(), versions)
        except VersionConflict as conflict:
            self.conflict = conflict
            raise

    async def reindex(self, entries: Sequence[ReindexEntry]) -> int:
        connection = self._connection()
        kept = {}
        for entry in entries:
            key = (entry.resource_type, entry.id)
            row = connection.execute("SELECT version, deleted FROM resource WHERE resource_type = ? AND id = ?", key)
            found = row.fetchone()
            if found is not None and found[0] == entry.version and not found[1]:
                kept[key] = entry.index
        _replace_index_rows(connection, kept, set(kept))
        return len(kept)


def _write_versions(connection: sqlite3.Connection, versions: Sequence[NewVersion]) -> None:
    """Check every expected version, then insert; the surrounding transaction makes it atomic.

    BEGIN IMMEDIATE holds the database write lock, so nobody can change a row between the
    check and the insert.
    """
    stored = _current_versions(connection, list(dict.fromkeys((v.resource_type, v.id) for v in versions)))
    pending: dict[tuple[str, str], int] = {}
    for version in versions:
        key = (version.resource_type, version.id)
        current = pending[key] if key in pending else stored.get(key, 0)
        if current != version.expected_version:
            raise VersionConflict(version.resource_type, version.id)
        pending[key] = version.version
    rows = [
        (v.resource_type, v.id, v.version, format_instant(v.last_updated), int(v.deleted), v.body) for v in versions
    ]
    try:
        _insert_rows(connection, _INSERT_VERSION_SQL, rows)
    except sqlite3.IntegrityError:
        # Two versions of one resource in the same write, both based on the same version.
        duplicate = versions[0]
        raise VersionConflict(duplicate.resource_type, duplicate.id) from None
    _insert_rows(connection, _INSERT_CURRENT_SQL, rows, _ON_CONFLICT_CURRENT)
    heads = {(v.resource_type, v.id): v for v in versions}  # the index follows each key's last version
    _replace_index_rows(connection, {key: v.index for key, v in heads.items() if not v.deleted}, set(stored))


def _current_versions(connection: sqlite3.Connection, keys: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """The current version of each of `keys` that exists, a chunk of keys per statement."""
    found: dict[tuple[str, str], int] = {}
    for start in range(0, len(keys), _ROWS_PER_STATEMENT):
        chunk = keys[start : start + _ROWS_PER_STATEMENT]
        sql = _CURRENT_VERSIONS_SQL.format(keys=_values_list(2, len(chunk)))
        for resource_type, resource_id, version in connection.execute(sql, [part for key in chunk for part in key]):
            found[(resource_type, resource_id)] = version
    return found


def _replace_index_rows(
    connection: sqlite3.Connection, latest: dict[tuple[str, str], IndexRows], existed: set[tuple[str, str]]
) -> None:
    """The search index follows each resource's last version (`latest`: the index of those
    not deleted); only resources that existed before this write can have rows to remove."""
    for table in INDEX_TABLES:
        if existed:
            connection.executemany(f"DELETE FROM {table.name} WHERE resource_type = ? AND id = ?", list(existed))
        rows = [(*key, *row) for key, index in latest.items() for row in index.get(table.kind, ())]
        if rows:
            _insert_rows(connection, f"INSERT INTO {table.name} ({', '.join(table.column_names)}) VALUES", rows)
    _widen_date_shapes(connection, latest)


def _widen_date_shapes(connection: sqlite3.Connection, latest: dict[tuple[str, str], IndexRows]) -> None:
    """Keep `date_shape` (migration 0331) at least as wide as every date row written: the
    widest span and the most values of one resource, per type and parameter. The upsert only
    writes when a figure grows, which after the first writes of a parameter is rare."""
    shapes: dict[tuple[str, str], tuple[int, int]] = {}
    for (resource_type, _), index in latest.items():
        values = Counter(row[0] for row in index.get("date", ()))
        for param, low, high, _grp in index.get("date", ()):
            key = (resource_type, param)
            span, count = shapes.get(key, (0, 0))
            shapes[key] = (max(span, high - low), max(count, values[param]))
    if shapes:
        rows = [(*key, *shape) for key, shape in shapes.items()]
        _insert_rows(connection, _WIDEN_DATE_SHAPE_SQL, rows, _ON_CONFLICT_DATE_SHAPE)


def _insert_rows(connection: sqlite3.Connection, head: str, rows: Sequence[Sequence[Any]], tail: str = "") -> None:
    """`head` (an INSERT ending in VALUES) for every row, many rows per statement: a Synthea
    bundle's ~2,900 rows are a few dozen calls into SQLite instead of one each (with the
    statements on a thread, each call also handed the GIL over and back)."""
    for start in range(0, len(rows), _ROWS_PER_STATEMENT):
        chunk = rows[start : start + _ROWS_PER_STATEMENT]
        sql = f"{head} {_values_list(len(chunk[0]), len(chunk))}{tail}"
        connection.execute(sql, [value for row in chunk for value in row])


@lru_cache(maxsize=256)
def _values_list(width: int, count: int) -> str:
    """`(?, ?), (?, ?)...`: `count` rows of `width` parameters."""
    row = f"({', '.join('?' * width)})"
    return ", ".join([row] * count)


class SqliteStore(SearchingStore):
    """The Store protocol on one SQLite database file."""

    def __init__(self, path: str, *, synchronous: str = "FULL", search_timeout: float | None = None) -> None:
        self.path = path
        self._synchronous = synchronous
        self._search_timeout = search_timeout
        self._reader: sqlite3.Connection | None = None
        self._writer: sqlite3.Connection | None = None
        self._scanner: sqlite3.Connection | None = None
        self._checkpointer: sqlite3.Connection | None = None
        self._checkpoints: asyncio.Task[None] | None = None
        self._writer_thread = ThreadPoolExecutor(1, thread_name_prefix="ember-sqlite-writer")
        self._scanner_thread = ThreadPoolExecutor(1, thread_name_prefix="ember-sqlite-scanner")
        self._checkpoint_thread = ThreadPoolExecutor(1, thread_name_prefix="ember-sqlite-checkpoint")
        self._write_lock = asyncio.Lock()
        self._waiting = 0  # units of this process waiting for the write lock
        self._group: _CommitGroup | None = None  # the open group, while a unit may still join it
        self._closers: set[asyncio.Task[None]] = set()
        self._lock_file: int | None = None
        self._searcher = Searcher(self._scan, _numbered, probes=True, attempt=self._attempt)

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        connection.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        _enable_wal(connection)
        connection.execute(f"PRAGMA synchronous = {self._synchronous}")
        # Reads straight from the mapped file skip a copy per page; it is only address space.
        connection.execute("PRAGMA mmap_size = 1073741824")
        return connection

    async def open(self) -> None:
        self._lock_file = os.open(self.path + "-writer.lock", os.O_RDWR | os.O_CREAT, 0o600)
        self._writer = self._connect()
        # Every write updates a dozen search-index B-trees at random places; with SQLite's
        # default 2 MB page cache the writer re-read them from the file for each insert.
        await self.on_writer(lambda connection: connection.execute(f"PRAGMA cache_size = -{_WRITER_CACHE_KIB}"))
        # Each write unit runs in a savepoint (see `transaction`), and SQLite keeps the original
        # of every page a savepoint changes in a sub-journal: by default a file in /var/tmp,
        # written page by page (a Synthea bundle: ~10 pages of 4 KB per resource, more than the
        # WAL got). In memory it is dropped at RELEASE; searches keep their own temp files.
        await self.on_writer(lambda connection: connection.execute("PRAGMA temp_store = MEMORY"))
        await self.on_writer(
            lambda connection: connection.execute(f"PRAGMA wal_autocheckpoint = {_WRITER_CHECKPOINT_PAGES}")
        )
        await self.on_writer(_migrate)
        self._checkpointer = await self._run(self._checkpoint_thread, lambda _: self._connect(), None)
        self._checkpoints = asyncio.create_task(self._checkpoint_regularly())
        self._scanner = await self._run(self._scanner_thread, lambda _: self._connect(), None)
        self._reader = self._connect()
        # An inline read must not stall the event loop waiting for a lock.
        self._reader.execute("PRAGMA busy_timeout = 100")

    async def close(self) -> None:
        await asyncio.gather(*self._closers, return_exceptions=True)
        if self._checkpoints is not None:
            self._checkpoints.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checkpoints
        for executor in (self._writer_thread, self._scanner_thread, self._checkpoint_thread):
            executor.shutdown(wait=True)
        for connection in (self._reader, self._writer, self._scanner, self._checkpointer):
            if connection is not None:
                connection.close()
        if self._lock_file is not None:
            os.close(self._lock_file)

    async def _checkpoint_regularly(self) -> None:
        """PASSIVE checkpoints never wait for, nor block, readers and the writer; one that
        cannot finish (a reader still needs old frames) copies what it can, the next goes on."""
        while True:
            await asyncio.sleep(_CHECKPOINT_SECONDS)
            try:
                await self._run(
                    self._checkpoint_thread, lambda c: c.execute("PRAGMA wal_checkpoint(PASSIVE)"), self._checkpointer
                )
            except sqlite3.Error:
                continue  # a busy or locked database now is no reason to stop checkpointing

    async def ping(self) -> bool:
        row = self._connection(self._reader).execute("SELECT 1").fetchone()
        return bool(row == (1,))

    async def read(self, ctx: AccessContext, resource_type: str, resource_id: str) -> StoredVersion | None:
        row = self._connection(self._reader).execute(_READ_SQL, (resource_type, resource_id)).fetchone()
        if row is None or (not ctx.unrestricted and not await self._may_know(ctx, resource_type, resource_id)):
            return None
        return _row_to_version(row)

    async def vread(
        self, ctx: AccessContext, resource_type: str, resource_id: str, version: int
    ) -> StoredVersion | None:
        row = self._connection(self._reader).execute(_VREAD_SQL, (resource_type, resource_id, version)).fetchone()
        if row is None or (not ctx.unrestricted and not await self._may_know(ctx, resource_type, resource_id)):
            return None
        return _row_to_version(row)

    async def history(self, ctx: AccessContext, query: HistoryQuery) -> list[HistoryEntry]:
        sql, params = history_sql(
            query,
            count_only=False,
            placeholder=_numbered,
            instant=format_instant,
            access=self._searcher.history_access(ctx),
        )
        rows = await self._run(self._scanner_thread, lambda c: c.execute(sql, params).fetchall(), self._scanner)
        return [HistoryEntry(row[0], _row_to_version(row[1:])) for row in rows]

    async def history_count(self, ctx: AccessContext, query: HistoryQuery) -> int:
        sql, params = history_sql(
            query,
            count_only=True,
            placeholder=_numbered,
            instant=format_instant,
            access=self._searcher.history_access(ctx),
        )
        row = await self._run(self._scanner_thread, lambda c: c.execute(sql, params).fetchone(), self._scanner)
        return int(row[0])

    async def _scan(self, sql: str, params: list[Any]) -> list[Any]:
        return await self._run(self._scanner_thread, lambda c: self._bounded(c, sql, params), self._scanner)

    def _bounded(self, connection: sqlite3.Connection, sql: str, params: list[Any]) -> list[Any]:
        """A search statement, interrupted once it runs past the search timeout (400 too-costly)."""
        timeout = self._search_timeout
        if timeout is None:
            return connection.execute(sql, params).fetchall()
        rows = _rows_within(connection, sql, params, timeout)
        if rows is None:
            raise too_costly(timeout)
        return rows

    async def _attempt(self, sql: str, params: list[Any]) -> list[Any] | None:
        """A search statement's rows, or None when it ran past `_ATTEMPT_SECONDS` (see Searcher)."""
        return await self._run(
            self._scanner_thread, lambda c: _rows_within(c, sql, params, _ATTEMPT_SECONDS), self._scanner
        )

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqliteTransaction]:
        """A write unit. Units of this process that queue up while one runs share its SQLite
        transaction and COMMIT (group commit): each runs inside a savepoint, so a failing unit
        leaves no trace while the others' writes stand, and each returns only once the shared
        COMMIT is durable. A stream of small writes (single creates, small bundles) so pays
        one fsync and one turn of the writers' lock per group instead of per write."""
        self._waiting += 1
        try:
            await self._write_lock.acquire()
        except BaseException:
            self._waiting -= 1
            self._commit_left_group_later()
            raise
        self._waiting -= 1
        group = self._group
        try:
            if group is None:
                group = await self._open_group()
            connection = self.writer_connection()
            connection.execute("SAVEPOINT unit")
            unit = SqliteTransaction(self)
            try:
                yield unit
                if unit.conflict is not None:
                    raise unit.conflict
                connection.execute("RELEASE unit")
            except BaseException:
                _undo_unit(connection, group)
                raise
        finally:
            try:
                if group is not None:
                    group.units += 1
                    if self._group_is_over(group):
                        await self._commit_group(group)
            finally:
                self._write_lock.release()
        await asyncio.shield(group.committed)

    async def _open_group(self) -> _CommitGroup:
        await self._lock_writer()
        try:
            self.writer_connection().execute("BEGIN IMMEDIATE")
        except BaseException:
            fcntl.flock(self._writer_lock_file(), fcntl.LOCK_UN)
            raise
        committed = asyncio.get_running_loop().create_future()
        committed.add_done_callback(_retrieved)
        self._group = _CommitGroup(time.monotonic(), committed)
        return self._group

    def _group_is_over(self, group: _CommitGroup) -> bool:
        """Whether the unit ending now commits its group rather than leave it to the next."""
        return (
            group.broken
            or not self._waiting
            or group.units >= _GROUP_UNITS
            or time.monotonic() - group.opened >= _GROUP_SECONDS
        )

    async def _commit_group(self, group: _CommitGroup) -> None:
        """COMMIT (or, if a failure took the transaction with it, drop) the group, holding the
        process's write lock until the writer connection is free again."""
        self._group = None
        if group.broken:
            try:
                self._end("ROLLBACK" if self.writer_connection().in_transaction else None)
            finally:
                group.committed.set_exception(sqlite3.OperationalError("a failed write rolled back its group"))
            return
        # The COMMIT's fsync waits on the disk with the GIL released: on the writer thread
        # the event loop meanwhile goes on with other requests.
        committed = asyncio.get_running_loop().run_in_executor(self._writer_thread, self._end, "COMMIT")
        try:
            await _finish_before_cancelling(committed)
        finally:
            committed.add_done_callback(lambda done: _settle(group.committed, done))

    def _commit_left_group_later(self) -> None:
        """A waiter that gave up may have been the one a group was left open for: then commit
        it from a task of its own, so its units do not wait forever."""
        if self._group is not None and not self._waiting and not self._write_lock.locked():
            task = asyncio.get_running_loop().create_task(self._commit_left_group())
            self._closers.add(task)
            task.add_done_callback(self._closers.discard)

    async def _commit_left_group(self) -> None:
        async with self._write_lock:
            if self._group is not None:
                await self._commit_group(self._group)

    async def _lock_writer(self) -> None:
        """Take the writers' flock on the event loop, polling while another process holds it:
        taken on a thread, the lock then stayed held, unused, until the event loop came back
        to this coroutine (~50 ms on average for a job claim during an ingest)."""
        lock_file = self._writer_lock_file()
        pause = _LOCK_POLL_FIRST
        while True:
            try:
                fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                await asyncio.sleep(pause)
                pause = min(pause * 2, _LOCK_POLL_MAX)

    def _end(self, statement: str | None) -> None:
        """Run `statement` (COMMIT or ROLLBACK; None when SQLite already ended the transaction)
        and let the writers' lock go."""
        try:
            if statement is not None:
                self.writer_connection().execute(statement)
        finally:
            fcntl.flock(self._writer_lock_file(), fcntl.LOCK_UN)

    def _writer_lock_file(self) -> int:
        if self._lock_file is None:
            raise RuntimeError("SqliteStore.open() was not called")
        return self._lock_file

    def writer_connection(self) -> sqlite3.Connection:
        return self._connection(self._writer)

    def lookups(self) -> SqliteLookups:
        return SqliteLookups(lambda: self._connection(self._reader))

    async def on_writer(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work` with the writer connection, now, on the event loop: the caller holds the
        write lock (a transaction) or is opening the store."""
        return work(self.writer_connection())

    @staticmethod
    async def _run(executor: ThreadPoolExecutor, work: Callable[[Any], T], connection: sqlite3.Connection | None) -> T:
        return await asyncio.get_running_loop().run_in_executor(executor, work, connection)

    @staticmethod
    def _connection(connection: sqlite3.Connection | None) -> sqlite3.Connection:
        if connection is None:
            raise RuntimeError("SqliteStore.open() was not called")
        return connection


@dataclass(eq=False)
class _CommitGroup:
    """Write units of one process sharing one SQLite transaction and its COMMIT."""

    opened: float
    committed: asyncio.Future[None]
    units: int = 0
    broken: bool = False  # a failure rolled back the whole transaction


def _undo_unit(connection: sqlite3.Connection, group: _CommitGroup) -> None:
    """Roll back a failed unit's savepoint. Some errors (a full disk, an I/O error) make
    SQLite roll back the whole transaction, the group's earlier units included: the group is
    then broken, and must not go on (a next unit's SAVEPOINT would open a new transaction)."""
    if not connection.in_transaction:
        group.broken = True
        return
    try:
        connection.execute("ROLLBACK TO unit")
        connection.execute("RELEASE unit")
    except sqlite3.Error:
        group.broken = True


def _settle(shared: asyncio.Future[None], commit: asyncio.Future[None]) -> None:
    """Pass the COMMIT's outcome to the group's units."""
    if shared.done():
        return
    if commit.cancelled():
        shared.cancel()
    elif commit.exception() is not None:
        shared.set_exception(commit.exception())  # type: ignore[arg-type]
    else:
        shared.set_result(None)


def _retrieved(future: asyncio.Future[None]) -> None:
    """A group whose units all failed has nobody awaiting its outcome: mark it seen, so a
    failed COMMIT is not also logged as an exception never retrieved."""
    if not future.cancelled():
        future.exception()


async def _finish_before_cancelling(work: asyncio.Future[None]) -> None:
    """Await `work` (the COMMIT on the writer thread); a cancellation meanwhile first waits for
    it to end: until then this transaction keeps the process's write lock, so the next one
    cannot meet a COMMIT still running on the writer connection."""
    try:
        await asyncio.shield(work)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await work
        raise


def _rows_within(connection: sqlite3.Connection, sql: str, params: list[Any], seconds: float) -> list[Any] | None:
    """The statement's rows, or None when SQLite was interrupted `seconds` after it started."""
    deadline = time.monotonic() + seconds
    connection.set_progress_handler(lambda: time.monotonic() > deadline, _PROGRESS_STEPS)
    try:
        return connection.execute(sql, params).fetchall()
    except sqlite3.OperationalError as failure:
        if failure.sqlite_errorname == "SQLITE_INTERRUPT":
            return None
        raise
    finally:
        connection.set_progress_handler(None, 0)


def _enable_wal(connection: sqlite3.Connection) -> None:
    """Switch to WAL, retrying: on a brand-new file several worker processes race to do it,
    and the switch needs a moment of exclusive access that busy_timeout does not wait for."""
    for attempt in range(50):
        try:
            connection.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == 49:
                raise
            time.sleep(0.02 * (attempt + 1))


def _qmark(_: int) -> str:
    return "?"


def _statements(script: str) -> list[str]:
    """Split a migration into statements (executescript would commit our transaction)."""
    code = "\n".join(line for line in script.splitlines() if not line.lstrip().startswith("--"))
    return [statement for statement in code.split(";") if statement.strip()]


def _migrate(connection: sqlite3.Connection) -> None:
    connection.execute(f"PRAGMA busy_timeout = {_MIGRATION_WAIT_MS}")
    try:
        connection.execute("BEGIN IMMEDIATE")
    finally:
        connection.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
    try:
        connection.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
        )
        applied = {row[0] for row in connection.execute("SELECT version FROM schema_migrations")}
        for version, script in migration_scripts("sqlite"):
            if version not in applied:
                for statement in _statements(script):
                    connection.execute(statement)
                connection.execute("INSERT INTO schema_migrations VALUES (?, datetime('now'))", (version,))
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def _numbered(position: int) -> str:
    """`?N`: search SQL repeats expressions (sort keys in SELECT and ORDER BY) that bind once."""
    return f"?{position}"
