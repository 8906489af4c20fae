"""Fixtures every test package shares: the store back ends (SQLite and PostgreSQL) and anyio.

They live in tests/backends.py; this file only makes them visible to the whole suite.
"""

from tests.backends import (  # noqa: F401  (pytest finds fixtures by name)
    anyio_backend,
    backend,
    postgres_run_database,
    pytest_terminal_summary,
    store,
    store_location,
)
