"""Storage back ends behind one interface (see base.py)."""

from __future__ import annotations

from urllib.parse import urlparse

from ember.settings import Settings
from ember.store.base import Store


def create_store(settings: Settings) -> Store:
    """The store for `settings.database_url`: `sqlite:///path.db` or `postgresql://user@host:port/db`."""
    database_url = settings.database_url
    scheme = urlparse(database_url).scheme
    if scheme == "sqlite":
        from ember.store.sqlite import SqliteStore

        # As in SQLAlchemy: sqlite:///relative.db, sqlite:////absolute/path.db
        path = database_url.removeprefix("sqlite:///")
        return SqliteStore(
            path or "ember.db", synchronous=settings.sqlite_synchronous, search_timeout=search_timeout(settings)
        )
    if scheme in ("postgresql", "postgres"):
        from ember.store.postgres import PostgresStore

        size = settings.postgres_pool_size
        return PostgresStore(database_url, min_size=size, max_size=size, search_timeout=search_timeout(settings))
    raise ValueError(f"Unsupported database URL '{database_url}': use sqlite:///path or postgresql://...")


def search_timeout(settings: Settings) -> float | None:
    """Seconds a search statement may run (`search_timeout_ms`; 0 is no limit)."""
    return settings.search_timeout_ms / 1000 if settings.search_timeout_ms > 0 else None
