"""The query plans of the SQL a search really runs, on either back end.

The searches are replayed in this process, through the same app and store code the server runs
(an in-process ASGI client), on a store whose connections record every statement they run:
asyncpg's query logger (SQL and arguments) on a one-connection PostgreSQL pool, SQLite's trace
callback (SQL with the values bound) on each of the store's connections. Each read is then
explained on a connection of its own:
  - PostgreSQL: `EXPLAIN (ANALYZE, BUFFERS)` inside a transaction that is rolled back; a table
    read whole shows as `Seq Scan`;
  - SQLite: `EXPLAIN QUERY PLAN`, timed by running the statement once; a table or index read
    whole shows as a `SCAN` line (`SEARCH` is an index lookup).
The store has no public hook for its SQL yet, so the tracers reach its connections directly.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg
import httpx

from ember.rest.app import create_app
from ember.settings import Settings
from ember.store.base import Store
from ember.store.postgres import PostgresStore
from ember.store.sqlite import SqliteStore

_READS = ("SELECT", "WITH", "(")
#: Index columns that only narrow a lookup to one search parameter of one resource type.
_PARAMETER_COLUMNS = frozenset({"resource_type", "param"})
_PG_CONDITION_COLUMN = re.compile(r"(?:\w+\.)?(\w+) (?:=|<>|>=|<=|>|<|~~|~>=~|~<~)")
_SQLITE_INDEX = re.compile(r"USING (?:COVERING )?INDEX \S+ \(([^)]*)\)")
_SQLITE_CONDITION_COLUMN = re.compile(r"(\w+)(?:=|>|<)")
Statement = tuple[str, tuple[object, ...]]


@dataclass(frozen=True)
class StatementPlan:
    """One explained statement. `full_scans` are the plan lines that read a whole table;
    `parameter_ranges` those that use an index only to find every row of one resource type or
    of one of its search parameters (its conditions name no column beyond resource_type and
    param): on a large data set that reads as much as a scan, and once per outer row when it
    is correlated (on PostgreSQL also the walk of a primary key in ORDER BY order, filtered
    until LIMIT rows are found, which is fast only when matches are common)."""

    sql: str
    plan: str
    execution_ms: float
    full_scans: list[str]
    parameter_ranges: list[str]


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


async def explain_searches(backend: str, database_url: str, paths: dict[str, str]) -> dict[str, SearchPlans]:
    """For each case key, the plans of the reads its search `path` ran."""
    captured: list[Statement] = []
    if backend == "postgres":
        store, explain, close = await _traced_postgres(database_url, captured)
    else:
        store, explain, close = await _traced_sqlite(database_url, captured)
    try:
        transport = httpx.ASGITransport(app=create_app(Settings(database_url=database_url), store))
        results = {}
        async with httpx.AsyncClient(transport=transport, base_url="http://bench.local") as client:
            for key, path in paths.items():
                captured.clear()
                response = await client.get(path)
                reads = [(sql, args) for sql, args in captured if sql.lstrip().upper().startswith(_READS)]
                results[key] = SearchPlans(path, response.status_code, [await explain(*read) for read in reads])
        return results
    finally:
        await close()
        await store.close()


Explain = Callable[[str, tuple[object, ...]], Awaitable[StatementPlan]]


async def _traced_postgres(url: str, captured: list[Statement]) -> tuple[Store, Explain, Callable[[], Awaitable[None]]]:
    store = PostgresStore(url, min_size=1, max_size=1)
    await store.open()
    # One pooled connection: the logger attached now sees every statement of the store.
    async with store._connected().acquire() as connection:
        connection.add_query_logger(lambda query: captured.append((query.query, tuple(query.args))))
    explainer = await asyncpg.connect(url)

    async def explain(sql: str, args: tuple[object, ...]) -> StatementPlan:
        transaction = explainer.transaction()
        await transaction.start()
        try:
            rows = await explainer.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", *args)
        finally:
            await transaction.rollback()
        plan = "\n".join(row[0] for row in rows)
        timing = [line for line in plan.splitlines() if line.startswith("Execution Time:")]
        milliseconds = float(timing[0].split()[2]) if timing else 0.0
        lines = plan.splitlines()
        scans = [_node(line) for line in lines if "Seq Scan" in line]
        return StatementPlan(sql, plan, milliseconds, scans, _pg_parameter_ranges(lines))

    return store, explain, explainer.close


async def _traced_sqlite(url: str, captured: list[Statement]) -> tuple[Store, Explain, Callable[[], Awaitable[None]]]:
    path = url.removeprefix("sqlite:///")
    store = SqliteStore(path)
    await store.open()
    for connection in (store._reader, store._writer, store._scanner):
        if connection is not None:
            connection.set_trace_callback(lambda sql: captured.append((sql, ())))
    explainer = sqlite3.connect(f"file:{path}?mode=ro", uri=True)

    async def explain(sql: str, args: tuple[object, ...]) -> StatementPlan:
        rows = explainer.execute(f"EXPLAIN QUERY PLAN {sql}").fetchall()
        depth = {0: -1}
        lines = []
        for node, parent, _, detail in rows:
            depth[node] = depth.get(parent, -1) + 1
            lines.append("  " * depth[node] + detail)
        started = time.perf_counter()
        explainer.execute(sql).fetchall()
        milliseconds = (time.perf_counter() - started) * 1000
        scans = [line.strip() for line in lines if line.strip().startswith("SCAN ")]
        ranges = [
            line.strip()
            for line in lines
            if (index := _SQLITE_INDEX.search(line))
            and _only_parameter(_SQLITE_CONDITION_COLUMN.findall(index.group(1)))
        ]
        return StatementPlan(sql, "\n".join(lines), milliseconds, scans, ranges)

    async def close() -> None:
        explainer.close()

    return store, explain, close


def _pg_parameter_ranges(lines: list[str]) -> list[str]:
    """Index scans whose `Index Cond` names no column beyond resource_type and param, with the
    node line they belong to."""
    found = []
    for number, line in enumerate(lines):
        text = line.strip()
        if not text.startswith("Index Cond:"):
            continue
        if _only_parameter(_PG_CONDITION_COLUMN.findall(text)):
            node = next((lines[n] for n in range(number - 1, -1, -1) if "->" in lines[n] or n == 0), "")
            found.append(f"{_node(node)}: {text}")
    return found


def _node(line: str) -> str:
    """A plan node without its arrow and its cost and timing figures."""
    return line.strip().removeprefix("->").strip().split("  (")[0]


def _only_parameter(columns: list[str]) -> bool:
    return bool(columns) and set(columns) <= _PARAMETER_COLUMNS
