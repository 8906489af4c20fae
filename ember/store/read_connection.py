"""The PostgreSQL connection that reads by id (the read batcher's statements) run on.

The batcher's `unnest` lookup is one statement with two array parameters. On a pooled
connection PostgreSQL plans it anew on every run: a custom plan for the actual arrays always
looks cheaper than the generic one (estimated for arrays of 10), so the plan cache never
switches (pg_prepared_statements: 4,000 custom plans of 4,000 runs). The plan is the same every
time, a nested loop over the primary key. With `plan_cache_mode = force_generic_plan` a batch
of 5 cost the backend 15.5 us of CPU per read instead of 29-34 alone; under bench/core.py's
reads (batches of ~5-6, both cores busy) 21 us instead of 24. That setting cannot go on the
pool: searches run as unnamed statements precisely so that each is planned for its own values
(see PostgresStore._scan), and it would give them generic plans too. So reads get a connection
of their own, with that one setting, and skip the pool's acquire and release as well.

The batcher runs one statement at a time (read_batcher.MAX_IN_FLIGHT); the lock keeps a second
one, should that change, from meeting the first on the connection. A connection that was lost
(PostgreSQL restarted, a backend terminated, a network cut) is replaced and the statement sent
once more on the new one: it only reads, so asking twice is harmless. Only a second failure in
a row reaches the readers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import asyncpg
from asyncpg.exceptions import InternalClientError, OperatorInterventionError, PostgresConnectionError

#: What a lost connection raises: refused or cut sockets, a backend that was terminated or shut
#: down, and asyncpg's protocol errors on a connection whose backend went away mid-statement.
_LOST = (OSError, PostgresConnectionError, OperatorInterventionError, asyncpg.InterfaceError, InternalClientError)


class ReadConnection:
    """A lazily (re)opened asyncpg connection with generic plans for its prepared statements."""

    def __init__(self, url: str, server_settings: Mapping[str, str]) -> None:
        self._url = url
        # Named, so that an operator (pg_stat_activity) can tell these sessions from the pool's.
        self._settings = {**server_settings, "plan_cache_mode": "force_generic_plan", "application_name": "ember-reads"}
        self._connection: asyncpg.Connection | None = None
        self._lock = asyncio.Lock()

    async def fetch(self, sql: str, *params: object) -> list[asyncpg.Record]:
        async with self._lock:
            try:
                return await self._fetch_once(sql, params)
            except _LOST:
                self._drop()
                return await self._fetch_once(sql, params)

    async def _fetch_once(self, sql: str, params: tuple[object, ...]) -> list[asyncpg.Record]:
        connection = self._connection
        if connection is None or connection.is_closed():
            connection = self._connection = await asyncpg.connect(self._url, server_settings=self._settings)
        return list(await connection.fetch(sql, *params))

    def _drop(self) -> None:
        if self._connection is not None:
            self._connection.terminate()
            self._connection = None

    async def close(self) -> None:
        """Close the connection once the statement running on it (if any) is done."""
        async with self._lock:
            if self._connection is not None:
                await self._connection.close()
                self._connection = None
