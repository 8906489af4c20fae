"""Reads by id on PostgreSQL, coalesced: the reads that arrive together share one statement.

A read by id is one index lookup for PostgreSQL, but each statement also costs a round trip
through asyncpg (~90 us of the worker's CPU) and the backend's per-statement work, on the same
two cores as everything else: that capped reads at a quarter of what the HTTP stack serves.
Under concurrent load, many reads wait at the same moment; sending every key that is waiting as
one `unnest` lookup costs about what one read did. Nothing is cached: each read is answered by
a statement that started after the read was asked, so it sees every write acknowledged before
it (read-your-writes across worker processes holds).

At most `MAX_IN_FLIGHT` statements run at once per worker; keys that arrive meanwhile wait for
the next. One is best here: each read then costs the least CPU (bench/core.py's reads over 32
connections, CPU per read of the worker + backend: 83 + 13 us with one, 104-115 + 19-21 us with
two, 155 + 35 us with eight), and a statement's round trip is short beside a request's. A
read is sent at the end of the event loop's turn, not at once, so the requests granian hands
over together share a statement (alternated 5 s runs: 4-20% more reads/s, ~10% less CPU each).
With no concurrency a read goes out alone, at the end of its turn, on the plain single-key
statement.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

Key = tuple[str, str]
# (statement, arguments) -> rows; the pool's fetch.
Fetch = Callable[..., Awaitable[Sequence[Any]]]

MAX_IN_FLIGHT = 1
_BATCH_SQL_TEMPLATE = (
    "SELECT {columns} FROM resource r JOIN unnest($1::text[], $2::text[]) AS k(resource_type, id) "
    "USING (resource_type, id)"
)


class ReadBatcher:
    """Coalesces concurrent reads of current versions into `unnest` lookups."""

    def __init__(self, fetch: Fetch, single_sql: str, columns: str) -> None:
        self._fetch = fetch
        self._single_sql = single_sql
        self._batch_sql = _BATCH_SQL_TEMPLATE.format(columns=", ".join(f"r.{c.strip()}" for c in columns.split(",")))
        self._waiting: dict[Key, list[asyncio.Future[Any]]] = {}
        self._in_flight = 0
        self._scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()  # held, or the loop may drop a running lookup

    async def read(self, resource_type: str, resource_id: str) -> Any:
        """The row of the current version, or None."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault((resource_type, resource_id), []).append(future)
        self._schedule()
        return await future

    def _schedule(self) -> None:
        """Send at the end of this turn of the event loop, so the reads that arrive in the same
        turn (granian hands over many requests at once) share the statement."""
        if not self._scheduled and self._in_flight < MAX_IN_FLIGHT:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._send)

    def _send(self) -> None:
        self._scheduled = False
        if not self._waiting:
            return
        batch, self._waiting = self._waiting, {}
        self._in_flight += 1
        task = asyncio.get_running_loop().create_task(self._answer(batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, batch: dict[Key, list[asyncio.Future[Any]]]) -> None:
        try:
            rows = await self._lookup(list(batch))
        except Exception as exc:  # every waiter gets the failure (a dropped connection...)
            for future in _waiters(batch):
                future.set_exception(exc)
        except BaseException:  # cancelled: shutting down
            for future in _waiters(batch):
                future.cancel()
            raise
        else:
            found = {(row["resource_type"], row["id"]): row for row in rows}
            for key, futures in batch.items():
                for future in futures:
                    if not future.done():
                        future.set_result(found.get(key))
        finally:
            self._in_flight -= 1
            if self._waiting:
                self._schedule()

    async def _lookup(self, keys: list[Key]) -> Sequence[Any]:
        if len(keys) == 1:
            return await self._fetch(self._single_sql, *keys[0])
        return await self._fetch(self._batch_sql, [key[0] for key in keys], [key[1] for key in keys])


def _waiters(batch: dict[Key, list[asyncio.Future[Any]]]) -> list[asyncio.Future[Any]]:
    """The futures of a batch still waiting (a reader that gave up has cancelled its own)."""
    return [future for futures in batch.values() for future in futures if not future.done()]
