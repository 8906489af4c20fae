"""Throwaway PostgreSQL databases for tests, so any suite can run against a real server.

Each test run gets its own database (`ember_test_<random>`), created through an admin connection
to an existing database and dropped at the end, so runs never see each other's rows, even when
pytest-xdist runs workers side by side. The server is taken from EMBER_TEST_POSTGRES_URL
(default: user postgres with trust auth on 127.0.0.1:5432, database `test`).
"""

from __future__ import annotations

import asyncio
import functools
import os
import secrets
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

import asyncpg
import pytest

ADMIN_URL = os.environ.get("EMBER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
DATABASE_PREFIX = "ember_test_"
UNREACHABLE = "PostgreSQL is not reachable"

T = TypeVar("T")


def _database_url(name: str) -> str:
    """ADMIN_URL with its database name replaced (the name is the last path segment)."""
    base, _, rest = ADMIN_URL.rpartition("/")
    query = rest.partition("?")[2]
    return f"{base}/{name}" + (f"?{query}" if query else "")


def _database_name(url: str) -> str:
    name = url.rpartition("/")[2].partition("?")[0]
    if not name.startswith(DATABASE_PREFIX):
        # Never drop a database these helpers did not create.
        raise ValueError(f"{url} is not a test database")
    return name


async def create_test_database() -> str:
    """Create an empty database and return its URL."""
    name = DATABASE_PREFIX + secrets.token_hex(6)
    admin = await asyncpg.connect(ADMIN_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return _database_url(name)


async def drop_test_database(url: str) -> None:
    """Drop a database made by create_test_database, disconnecting anyone still in it."""
    name = _database_name(url)
    admin = await asyncpg.connect(ADMIN_URL)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from synchronous code, even inside a running event loop
    (then on a helper thread), so sync fixtures and collection hooks can use the helpers."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    result: list[T] = []
    thread = threading.Thread(target=lambda: result.append(asyncio.run(coroutine)))
    thread.start()
    thread.join()
    if not result:
        raise RuntimeError("the coroutine failed on the helper thread")
    return result[0]


async def _can_connect() -> bool:
    try:
        connection = await asyncpg.connect(ADMIN_URL, timeout=3)
    except (OSError, asyncpg.PostgresError):
        # Refused, unreachable, timed out (TimeoutError is an OSError) or rejected credentials.
        return False
    await connection.close()
    return True


@functools.cache
def postgres_available() -> bool:
    """True when the test server accepts connections; asked once per process."""
    return run_sync(_can_connect())


def require_postgres() -> None:
    """Skip the calling test when the server is down, or fail it when CI=true: a green CI run
    must have exercised PostgreSQL. The skip reason starts with UNREACHABLE, which the store
    suite's terminal summary looks for to print its warning."""
    if postgres_available():
        return
    reason = f"{UNREACHABLE} at {ADMIN_URL}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} and CI=true: PostgreSQL tests must run in CI", pytrace=False)
    pytest.skip(reason)
