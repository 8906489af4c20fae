"""The core terminology cached in the store, once per database, at start-up.

`ensure_core(store)` puts the R4 core code systems and value sets into the database: one row per
resource in `terminology_core`, their is-a closures in `terminology_closure` beside users' code
systems (so `:below`/`:above` and any SQL consumer read one table), and the record
`terminology-core`/`loaded` naming the digest of the generated file. A restart finds the same
digest and does nothing but that one record read; an upgraded package (another file) reloads once.
Workers starting together take turns on a lock record (a row lock on PostgreSQL; SQLite has one
writer at a time anyway): the first loads, the others then find its digest and do nothing.

Users' resources keep winning: loading leaves the closure of every url a user's CodeSystem owns
alone, and when a user's resource gives a core url up, the core closure comes back
(ember.terminology.canonical).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ember.store import terminology_index
from ember.store.base import Store, Transaction
from ember.terminology.canonical import CANONICAL
from ember.terminology.core import CoreTerminology, package_core

KIND = "terminology-core"
_LOADED = "loaded"
_LOCK = "lock"


@dataclass(frozen=True, slots=True)
class CoreLoad:
    """What `ensure_core` did: `loaded` False when the store already had this digest."""

    digest: str
    loaded: bool
    resources: int = 0
    closure_rows: int = 0
    seconds: float = 0.0


async def stored_digest(store: Store) -> str | None:
    """The digest of the core cached in `store`, None when none is."""
    async with store.transaction() as tx:
        return await _digest(tx)


async def _digest(tx: Transaction) -> str | None:
    state = await tx.get_record(KIND, _LOADED)
    return None if state is None else str(state["digest"])


async def ensure_core(store: Store, core: CoreTerminology | None = None) -> CoreLoad:
    """Cache `core` (the package's) in `store` unless it already holds that digest."""
    core = core or package_core()
    if await stored_digest(store) == core.digest:
        return CoreLoad(core.digest, loaded=False)
    started = time.perf_counter()
    async with store.transaction() as tx:
        await tx.put_record(KIND, _LOCK, {"digest": core.digest})  # concurrent loaders wait here
        if await _digest(tx) == core.digest:
            return CoreLoad(core.digest, loaded=False)
        closure_rows = await _load(tx, core)
        count = len(core.rows())
        await tx.put_record(KIND, _LOADED, {"digest": core.digest, "resources": count, "closureRows": closure_rows})
    return CoreLoad(core.digest, True, count, closure_rows, time.perf_counter() - started)


async def _load(tx: Transaction, core: CoreTerminology) -> int:
    """Replace the cached core resources and their closures; the closure rows written."""
    owned = await _user_code_systems(tx)
    previous = set(await terminology_index.core_urls(tx, "CodeSystem"))
    await terminology_index.replace_core(tx, core.rows())
    closures = {}
    for url in core.urls("CodeSystem"):
        index = core.build_index(url) if url not in owned else None
        if index is not None:
            closures[url] = list(index.closure_pairs())
    await terminology_index.delete_closures(tx, sorted(previous - set(closures) - owned))
    return await terminology_index.replace_closures(tx, closures)


async def _user_code_systems(tx: Transaction) -> set[str]:
    records = await tx.list_records(CANONICAL, prefix="CodeSystem ", limit=1_000_000)
    return {key.partition(" ")[2] for key, _ in records if "|" not in key}


async def read_core(store: Store) -> CoreTerminology | None:
    """The core cached in `store` (parsed lazily, like the package's); None when none is."""
    async with store.transaction() as tx:
        digest = await _digest(tx)
        rows = await terminology_index.core_rows(tx) if digest is not None else []
    return None if digest is None else CoreTerminology(digest, rows)
