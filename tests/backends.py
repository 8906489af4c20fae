"""Fixtures that run any test suite against every store back end.

`store` is an open store on an empty database, once per back end. PostgreSQL uses one database
per test run (created and dropped by tests.pg) and empties its tables before each test, which is
much faster than a database per test; tests that need a brand-new database (migrations) ask
`backend.empty_database()` for one.

When PostgreSQL is unreachable its tests are skipped and the terminal summary says so loudly,
unless CI=true, where they fail: a green CI run must have exercised PostgreSQL.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypeVar

import asyncpg
import pytest

from ember.store.base import Store
from ember.store.postgres import PostgresStore
from tests.pg import (
    ADMIN_URL,
    UNREACHABLE,
    create_test_database,
    drop_test_database,
    require_postgres,
    run_sync,
)

S = TypeVar("S", bound=Store)

BACKENDS = ["sqlite", "postgres"]


class Backend:
    """Makes stores of one kind, and the empty databases they live in, for one test."""

    def __init__(self, name: str, directory: Path) -> None:
        self.name = name
        self._directory = directory
        self._created: list[str] = []

    async def empty_database(self) -> str:
        """The location (file path or URL) of a new, empty database, removed after the test."""
        if self.name == "sqlite":
            return str(self._directory / f"{secrets.token_hex(4)}.db")
        url = await create_test_database()
        self._created.append(url)
        return url

    def store(self, location: str) -> Store:
        if self.name == "sqlite":
            from ember.store.sqlite import SqliteStore

            return SqliteStore(location)
        return PostgresStore(location)

    async def drop_created(self) -> None:
        for url in self._created:
            await drop_test_database(url)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def postgres_run_database() -> Iterator[str]:
    """The database this test run shares between PostgreSQL tests."""
    url = run_sync(create_test_database())
    yield url
    run_sync(drop_test_database(url))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "postgres":
        require_postgres()
    made = Backend(request.param, tmp_path)
    yield made
    run_sync(made.drop_created())


@pytest.fixture
def store_location(request: pytest.FixtureRequest, backend: Backend, tmp_path: Path) -> str:
    if backend.name == "sqlite":
        return str(tmp_path / "ember.db")
    url: str = request.getfixturevalue("postgres_run_database")
    run_sync(_empty_tables(url))
    return url


@pytest.fixture
async def store(backend: Backend, store_location: str) -> AsyncIterator[Store]:
    async with opened(backend.store(store_location)) as ready:
        yield ready


@asynccontextmanager
async def opened(store: S) -> AsyncIterator[S]:
    """`store`, open for the block and closed after it, whatever happens in it."""
    await store.open()
    try:
        yield store
    finally:
        await store.close()


async def _empty_tables(url: str) -> None:
    """Delete every row but the migration record, and restart the sequences, between tests."""
    connection = await asyncpg.connect(url)
    try:
        tables = await connection.fetch(
            "SELECT quote_ident(tablename) AS name FROM pg_tables"
            " WHERE schemaname = 'public' AND tablename <> 'schema_migrations'"
        )
        if tables:
            names = ", ".join(row["name"] for row in tables)
            await connection.execute(f"TRUNCATE {names} RESTART IDENTITY")
    finally:
        await connection.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Shout when PostgreSQL was skipped: a quiet "s" would read as a pass. Counted from the
    reports, so it also works under pytest-xdist, where skips happen in the workers."""
    skipped = [
        report
        for report in terminalreporter.stats.get("skipped", [])
        if UNREACHABLE in str(getattr(report, "longrepr", ""))
    ]
    if skipped:
        terminalreporter.write_sep(
            "!",
            f"PostgreSQL NOT TESTED: {len(skipped)} tests skipped, no server at {ADMIN_URL}"
            " (start it, or set EMBER_TEST_POSTGRES_URL)",
            red=True,
            bold=True,
        )
