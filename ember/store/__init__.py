"""Storage back ends behind one interface (see base.py)."""

from __future__ import annotations

from urllib.parse import urlparse

from ember.store.base import Store


def create_store(database_url: str, *, sqlite_synchronous: str = "FULL") -> Store:
    """The store for a database URL: `sqlite:///path.db` or `postgresql://user@host:port/db`."""
    scheme = urlparse(database_url).scheme
    if scheme == "sqlite":
        from ember.store.sqlite import SqliteStore

        # As in SQLAlchemy: sqlite:///relative.db, sqlite:////absolute/path.db
        path = database_url.removeprefix("sqlite:///")
        return SqliteStore(path or "ember.db", synchronous=sqlite_synchronous)
    if scheme in ("postgresql", "postgres"):
        from ember.store.postgres import PostgresStore

        return PostgresStore(database_url)
    raise ValueError(f"Unsupported database URL '{database_url}': use sqlite:///path or postgresql://...")
