"""The terminology tables, written once for both back ends: the stored is-a closure of code
systems (users' and the core's) and the core code systems and value sets cached at start-up.

The terminology service writes the closure whenever a CodeSystem resource is written (a write
observer) or loaded in bulk, and the core tables when it caches the core; searches with
`:below`/`:above` and the hierarchy hooks read the closure. The functions work on any
`Transaction` through the primitives every store's transaction has (`_rows`, `_placeholder`, not
part of the Transaction protocol, hence `tx: Any`), like jobs_records.py, so neither store module
needs to know about terminology.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from itertools import islice
from typing import Any

#: Parameters per statement: under SQLite's and PostgreSQL's limit of 32,766.
_MAX_PARAMETERS = 15_000
#: Bytes of core resource bodies per INSERT, so one statement stays a few megabytes.
_MAX_BODY_BYTES = 4_000_000

#: A cached core resource: (resource type, canonical url, business version or None, compact JSON).
CoreRow = tuple[str, str, str | None, str]


def _sql(tx: Any, template: str, count: int) -> str:
    """`template` with `{0}`, `{1}`... replaced by the back end's placeholders."""
    return template.format(*(tx._placeholder(i + 1) for i in range(count)))


def _values(tx: Any, width: int, count: int) -> str:
    """`(?1, ?2), (?3, ?4)...`: `count` rows of `width` placeholders."""
    return _numbered_values(tx._placeholder(1).removesuffix("1"), width, count)


@lru_cache(maxsize=32)
def _numbered_values(prefix: str, width: int, count: int) -> str:
    """Built once per shape: both back ends number their placeholders (`?1`, `$1`)."""
    return ", ".join("(" + ", ".join(f"{prefix}{width * i + k + 1}" for k in range(width)) + ")" for i in range(count))


async def _insert(tx: Any, into: str, width: int, rows: Iterable[Sequence[Any]]) -> int:
    """INSERT `rows` (each `width` values) `into` a table, many rows per statement; how many."""
    stored = 0
    iterator = iter(rows)
    while batch := list(islice(iterator, _MAX_PARAMETERS // width)):
        values = _values(tx, width, len(batch))
        await tx._rows(f"INSERT INTO {into} VALUES {values} ON CONFLICT DO NOTHING", [v for row in batch for v in row])
        stored += len(batch)
    return stored


async def replace_closure(tx: Any, system: str, pairs: Iterable[tuple[str, str]]) -> int:
    """Replace the closure of `system` with (ancestor, descendant) `pairs`; how many were stored."""
    return await replace_closures(tx, {system: pairs})


async def replace_closures(tx: Any, closures: Mapping[str, Iterable[tuple[str, str]]]) -> int:
    """Replace the closures of several systems at once (the core's); how many rows were stored."""
    await delete_closures(tx, list(closures))
    rows = ((system, ancestor, descendant) for system, pairs in closures.items() for ancestor, descendant in pairs)
    return await _insert(tx, "terminology_closure (system, ancestor, descendant)", 3, rows)


async def delete_closure(tx: Any, system: str) -> None:
    await delete_closures(tx, [system])


async def delete_closures(tx: Any, systems: Sequence[str]) -> None:
    for start in range(0, len(systems), _MAX_PARAMETERS):
        batch = systems[start : start + _MAX_PARAMETERS]
        placeholders = ", ".join(tx._placeholder(i + 1) for i in range(len(batch)))
        await tx._rows(f"DELETE FROM terminology_closure WHERE system IN ({placeholders})", batch)


async def descendants(tx: Any, system: str, code: str) -> list[str]:
    """`code` and every code below it in `system` (empty when the code is not stored)."""
    sql = _sql(tx, "SELECT descendant FROM terminology_closure WHERE system = {0} AND ancestor = {1}", 2)
    return sorted(row[0] for row in await tx._rows(sql, [system, code]))


async def ancestors(tx: Any, system: str, code: str) -> list[str]:
    """`code` and every code above it in `system` (empty when the code is not stored)."""
    sql = _sql(tx, "SELECT ancestor FROM terminology_closure WHERE system = {0} AND descendant = {1}", 2)
    return sorted(row[0] for row in await tx._rows(sql, [system, code]))


async def replace_core(tx: Any, rows: Sequence[CoreRow]) -> None:
    """Replace the cached core resources with `rows`."""
    await tx._rows("DELETE FROM terminology_core", [])
    start = 0
    while start < len(rows):
        end, size = start, 0
        while end < len(rows) and (end == start or size + len(rows[end][3]) <= _MAX_BODY_BYTES):
            size += len(rows[end][3])
            end += 1
        await _insert(tx, "terminology_core (resource_type, url, version, body)", 4, rows[start:end])
        start = end


async def core_urls(tx: Any, resource_type: str) -> list[str]:
    """The urls of the cached core resources of one type."""
    sql = _sql(tx, "SELECT url FROM terminology_core WHERE resource_type = {0}", 1)
    return [row[0] for row in await tx._rows(sql, [resource_type])]


async def core_rows(tx: Any) -> list[CoreRow]:
    """Every cached core resource."""
    rows = await tx._rows("SELECT resource_type, url, version, body FROM terminology_core", [])
    return [(row[0], row[1], row[2], row[3]) for row in rows]
