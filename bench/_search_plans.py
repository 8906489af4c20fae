"""The query plans of the SQL a search really runs, on either back end.

The searches are replayed in this process, through the same app and store code the server runs
(an in-process ASGI client), on a store that records every statement it runs: the SQL and
arguments its searcher runs on a one-connection PostgreSQL pool, SQLite's trace callback (SQL
with the values bound) on each of the store's connections. Each read is then explained on a
connection of its own:
  - PostgreSQL: `EXPLAIN (ANALYZE, BUFFERS)` inside a transaction that is rolled back; a table
    read whole shows as `Seq Scan`;
  - SQLite: `EXPLAIN QUERY PLAN`, timed by running the statement once; a table or index read
    whole shows as a `SCAN` line (`SEARCH` is an index lookup).
The store has no public hook for its SQL yet, so the tracers reach into it directly. A search or
statement running longer than STATEMENT_TIMEOUT_SECONDS is stopped (the store's search timeout;
PostgreSQL statement_timeout, SQLite interrupt / progress handler when explained) and shown
with its plan alone.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import asyncpg
import httpx

from ember.rest.app import create_app
from ember.settings import Settings
from ember.store.base import Store
from ember.store.postgres import PostgresStore
from ember.store.sqlite import SqliteStore

#: A replayed search, and each statement run to time it, is stopped after this long.
STATEMENT_TIMEOUT_SECONDS = 10.0
_READS = ("SELECT", "WITH", "(")
#: Index columns that only narrow a lookup to one search parameter of one resource type.
_PARAMETER_COLUMNS = frozenset({"resource_type", "param"})
_PG_CONDITION_COLUMN = re.compile(r"(?:\w+\.)?(\w+) (?:=|<>|>=|<=|>|<|~~|~>=~|~<~)")
_SQLITE_INDEX = re.compile(r"USING (?:COVERING )?INDEX \S+ \(([^)]*)\)")
_SQLITE_CONDITION_COLUMN = re.compile(r"(\w+)(?:=|>|<)")
#: A statement of scalar `min()`/`max()` subqueries (SQLite's extent of a range parameter), and of
#: a date parameter's shape by primary key: each reads one entry at the end of an index or table,
#: though the plan shows it narrowed to a parameter.
_EXTENT_PART = r"\(SELECT (?:min\(\w+\)|max\(\w+\)|max_span|max_values) FROM \w+ WHERE [^()]*\)"
_SQLITE_EXTENT = re.compile(rf"SELECT {_EXTENT_PART}(?:, {_EXTENT_PART})*")
Statement = tuple[str, tuple[object, ...]]


@dataclass(frozen=True)
class StatementPlan:
    """One explained statement. `full_scans` are the plan lines that read a whole table;
    `parameter_ranges` those that use an index only to find every row of one resource type or
    of one of its search parameters (its conditions name no column beyond resource_type and
    param; on PostgreSQL also an index read with no condition at all): on a large data set that
    reads as much as a scan, and once per outer row when it is correlated. Some are walks in
    the order a page needs, filtered until LIMIT rows are found (the primary key or an index
    table's `_resource` index in id order, a sort parameter's index in value order): fast when
    matches are common, a scan when they are rare."""

    sql: str
    plan: str
    execution_ms: float
    full_scans: list[str]
    parameter_ranges: list[str]
    #: Ran past STATEMENT_TIMEOUT_SECONDS and was stopped: the plan has no run-time figures.
    cut_off: bool = False


@dataclass(frozen=True)
class SearchPlans:
    """The reads one search ran (`status` is what the search answered)."""

    path: str
    status: int
    statements: list[StatementPlan]

    @property
    def full_scans(self) -> list[str]:
        return [line for statement in self.statements for line in statement.full_scans]

    @property
    def parameter_ranges(self) -> list[str]:
        return [line for statement in self.statements for line in statement.parameter_ranges]

    @property
    def slowest(self) -> StatementPlan | None:
        return max(self.statements, key=lambda statement: statement.execution_ms, default=None)


class _Tracer(Protocol):
    """A store that records its statements, and a way to explain them."""

    store: Store
    captured: list[Statement]

    async def explain(self, sql: str, args: tuple[object, ...]) -> StatementPlan: ...

    def interrupt(self) -> None:
        """Stop the statement the store is running (its search was given up on)."""

    async def close(self) -> None: ...


async def explain_searches(
    backend: str, database_url: str, paths: dict[str, str], planner: Mapping[str, str] | None = None
) -> dict[str, SearchPlans]:
    """For each case key, the plans of the reads its search `path` ran. A search is given up
    after STATEMENT_TIMEOUT_SECONDS (status 0), its statements still explained. `planner`:
    PostgreSQL settings for the explaining session (tests use `enable_seqscan=off` to ask
    whether each table has a way in other than a scan, whatever its size)."""
    # A search stopped by the store's timeout answers 400 too-costly; the status says enough.
    logging.getLogger("ember.rest").disabled = True
    tracer: _Tracer = await (
        _PostgresTracer.open(database_url, planner or {}) if backend == "postgres" else _SqliteTracer.open(database_url)
    )
    try:
        transport = httpx.ASGITransport(app=create_app(Settings(database_url=database_url, auth="off"), tracer.store))
        results = {}
        async with httpx.AsyncClient(transport=transport, base_url="http://bench.local", timeout=None) as client:
            for key, path in paths.items():
                tracer.captured.clear()
                status = 0
                try:
                    async with asyncio.timeout(STATEMENT_TIMEOUT_SECONDS + 5):
                        status = (await client.get(path)).status_code
                except TimeoutError:
                    tracer.interrupt()
                reads = [(sql, args) for sql, args in tracer.captured if _belongs_to(path, sql, args)]
                results[key] = SearchPlans(path, status, [await tracer.explain(*read) for read in reads])
        return results
    finally:
        logging.getLogger("ember.rest").disabled = False
        await tracer.close()


def _belongs_to(path: str, sql: str, args: tuple[object, ...]) -> bool:
    """Whether a captured statement is a read of the search itself. Every few seconds a worker
    refreshes, inside whichever request comes next, its custom SearchParameters
    (ember/interactions/custom_parameters.py) and its snapshot of users' code systems and value
    sets (ember/terminology/snapshot.py): those reads are not the search's."""
    if not sql.lstrip().upper().startswith(_READS):
        return False
    refreshed = [name for name in _REFRESHED if name in sql or name in args]
    return not refreshed or any(path.startswith(f"/fhir/{name}") for name in refreshed)


_REFRESHED = ("SearchParameter", "CodeSystem", "ValueSet", "terminology-")


class _PostgresTracer:
    """A one-connection store whose searcher records the statements it runs (they are prepared
    statements, which asyncpg's query logger does not see), with the search timeout; explained
    on a connection of its own, with the store's session settings."""

    def __init__(self, store: PostgresStore, explainer: asyncpg.Connection) -> None:
        self.store = store
        self.captured: list[Statement] = []
        self._explainer = explainer

    @classmethod
    async def open(cls, url: str, planner: Mapping[str, str]) -> _PostgresTracer:
        store = PostgresStore(url, min_size=1, max_size=1, search_timeout=STATEMENT_TIMEOUT_SECONDS)
        await store.open()
        settings = {
            "statement_timeout": str(int(STATEMENT_TIMEOUT_SECONDS * 1000)),
            "jit": "off",
            "max_parallel_workers_per_gather": "0",
            **planner,
        }
        tracer = cls(store, await asyncpg.connect(url, server_settings=settings))
        searcher = store._searcher
        run = searcher._fetch

        async def recorded(sql: str, params: list[object]) -> Sequence[Sequence[object]]:
            tracer.captured.append((sql, tuple(params)))
            return await run(sql, params)

        searcher._fetch = recorded
        return tracer

    async def explain(self, sql: str, args: tuple[object, ...]) -> StatementPlan:
        """EXPLAIN ANALYZE, rolled back; a plain EXPLAIN when it runs past the timeout."""
        cut_off = False
        transaction = self._explainer.transaction()
        await transaction.start()
        try:
            try:
                async with self._explainer.transaction():  # a savepoint, so the fallback can run
                    rows = await self._explainer.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", *args)
            except asyncpg.QueryCanceledError:
                cut_off = True
                rows = await self._explainer.fetch(f"EXPLAIN {sql}", *args)
        finally:
            await transaction.rollback()
        lines = [row[0] for row in rows]
        timing = [line for line in lines if line.startswith("Execution Time:")]
        milliseconds = STATEMENT_TIMEOUT_SECONDS * 1000 if cut_off else float(timing[0].split()[2]) if timing else 0.0
        scans = [_node(line) for line in lines if "Seq Scan" in line]
        return StatementPlan(sql, "\n".join(lines), milliseconds, scans, _pg_parameter_ranges(lines), cut_off)

    def interrupt(self) -> None:
        """Nothing to do: the statement timeout ends it."""

    async def close(self) -> None:
        await self._explainer.close()
        await self.store.close()


class _SqliteTracer:
    """The store's connections with SQLite's trace callback (SQL with values bound); explained
    with EXPLAIN QUERY PLAN on a read-only connection, then timed by running it once."""

    def __init__(self, store: SqliteStore, explainer: sqlite3.Connection) -> None:
        self.store = store
        self.captured: list[Statement] = []
        self._explainer = explainer

    @classmethod
    async def open(cls, url: str) -> _SqliteTracer:
        path = url.removeprefix("sqlite:///")
        store = SqliteStore(path, search_timeout=STATEMENT_TIMEOUT_SECONDS)
        await store.open()
        tracer = cls(store, sqlite3.connect(f"file:{path}?mode=ro", uri=True))
        for connection in tracer._connections():
            connection.set_trace_callback(lambda sql: tracer.captured.append((sql, ())))
        return tracer

    def _connections(self) -> list[sqlite3.Connection]:
        found = (self.store._reader, self.store._writer, self.store._scanner)
        return [connection for connection in found if connection is not None]

    async def explain(self, sql: str, args: tuple[object, ...]) -> StatementPlan:
        rows = self._explainer.execute(f"EXPLAIN QUERY PLAN {sql}").fetchall()
        depth = {0: -1}
        lines = []
        for node, parent, _, detail in rows:
            depth[node] = depth.get(parent, -1) + 1
            lines.append("  " * depth[node] + detail)
        started = time.perf_counter()
        deadline = started + STATEMENT_TIMEOUT_SECONDS
        self._explainer.set_progress_handler(lambda: int(time.perf_counter() > deadline), 10_000)
        try:
            self._explainer.execute(sql).fetchall()
            cut_off = False
        except sqlite3.OperationalError:  # interrupted by the progress handler
            cut_off = True
        finally:
            self._explainer.set_progress_handler(None, 0)
        milliseconds = (time.perf_counter() - started) * 1000
        # `SCAN p` of a subquery the plan materialised (a page of keys) reads no table, nor does
        # `SCAN CONSTANT ROW` (a SELECT without FROM).
        derived = {line.split()[1] for line in lines if line.strip().startswith(("MATERIALIZE ", "CO-ROUTINE "))}
        derived.add("CONSTANT")
        scans = [line.strip() for line in lines if line.strip().startswith("SCAN ") and line.split()[1] not in derived]
        ranges = [
            line.strip()
            for line in lines
            if (index := _SQLITE_INDEX.search(line))
            and _only_parameter(_SQLITE_CONDITION_COLUMN.findall(index.group(1)))
            and not _SQLITE_EXTENT.fullmatch(sql)
        ]
        return StatementPlan(sql, "\n".join(lines), milliseconds, scans, ranges, cut_off)

    def interrupt(self) -> None:
        for connection in self._connections():
            connection.interrupt()

    async def close(self) -> None:
        self._explainer.close()
        await self.store.close()


def _pg_parameter_ranges(lines: list[str]) -> list[str]:
    """Index scans whose `Index Cond` names no column beyond resource_type and param, or that
    have none (the whole index, in its order), with the node line they belong to."""
    found = []
    for number, line in enumerate(lines):
        text = line.strip()
        if text.startswith("Index Cond:") and _only_parameter(_PG_CONDITION_COLUMN.findall(text)):
            node = next((lines[n] for n in range(number - 1, -1, -1) if "->" in lines[n] or n == 0), "")
            found.append(f"{_node(node)}: {text}")
        elif " Scan " in text and "Index" in text.split(" Scan ")[0] and not _has_index_cond(lines, number):
            found.append(f"{_node(line)}: no Index Cond")
    return found


def _has_index_cond(lines: list[str], node: int) -> bool:
    """Whether the plan node on line `node` has an `Index Cond` among its own detail lines."""
    for line in lines[node + 1 :]:
        text = line.strip()
        if text.startswith("->") or not text:
            return False
        if text.startswith("Index Cond:"):
            return True
    return False


def _node(line: str) -> str:
    """A plan node without its arrow and its cost and timing figures."""
    return line.strip().removeprefix("->").strip().split("  (")[0]


def _only_parameter(columns: list[str]) -> bool:
    return bool(columns) and set(columns) <= _PARAMETER_COLUMNS
