"""The stored is-a closure of users' code systems, written once for both back ends.

The terminology service writes it whenever a CodeSystem resource is written (a write observer) or
loaded in bulk; searches with `:below`/`:above` and the hierarchy hooks read it. The functions work
on any `Transaction` through the primitives every store's transaction has (`_rows`,
`_placeholder`, not part of the Transaction protocol, hence `tx: Any`), like jobs_records.py, so
neither store module needs to know about terminology.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import islice
from typing import Any

# Rows per INSERT: 3 parameters each stays under SQLite's and PostgreSQL's 32,766 limit.
_BATCH = 5000


def _sql(tx: Any, template: str, count: int) -> str:
    """`template` with `{0}`, `{1}`... replaced by the back end's placeholders."""
    return template.format(*(tx._placeholder(i + 1) for i in range(count)))


async def replace_closure(tx: Any, system: str, pairs: Iterable[tuple[str, str]]) -> int:
    """Replace the closure of `system` with (ancestor, descendant) `pairs`; how many were stored."""
    await delete_closure(tx, system)
    stored = 0
    iterator = iter(pairs)
    while batch := list(islice(iterator, _BATCH)):
        values = ", ".join(
            "(" + ", ".join(tx._placeholder(3 * i + k + 1) for k in range(3)) + ")" for i in range(len(batch))
        )
        params: list[str] = []
        for ancestor, descendant in batch:
            params += [system, ancestor, descendant]
        await tx._rows(
            f"INSERT INTO terminology_closure (system, ancestor, descendant) VALUES {values} ON CONFLICT DO NOTHING",
            params,
        )
        stored += len(batch)
    return stored


async def delete_closure(tx: Any, system: str) -> None:
    await tx._rows(_sql(tx, "DELETE FROM terminology_closure WHERE system = {0}", 1), [system])


async def descendants(tx: Any, system: str, code: str) -> list[str]:
    """`code` and every code below it in `system` (empty when the code is not stored)."""
    sql = _sql(tx, "SELECT descendant FROM terminology_closure WHERE system = {0} AND ancestor = {1}", 2)
    return sorted(row[0] for row in await tx._rows(sql, [system, code]))


async def ancestors(tx: Any, system: str, code: str) -> list[str]:
    """`code` and every code above it in `system` (empty when the code is not stored)."""
    sql = _sql(tx, "SELECT ancestor FROM terminology_closure WHERE system = {0} AND descendant = {1}", 2)
    return sorted(row[0] for row in await tx._rows(sql, [system, code]))
