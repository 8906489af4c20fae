"""Has anything of these types been written since? Asked by workers that keep what stored resources
say in memory (consent denials, the terminology snapshot) to notice other workers' writes."""

from __future__ import annotations

from collections.abc import Sequence

from ember.access import AccessContext
from ember.store.base import HistoryQuery, Store

_CTX = AccessContext.system("history positions")


async def newest_positions(store: Store, resource_types: Sequence[str]) -> tuple[int, ...]:
    """The newest history position of each type (0 when it has none): it moves with every write
    of that type by any worker, and costs one indexed lookup per type."""
    positions = []
    for resource_type in resource_types:
        newest = await store.history(_CTX, HistoryQuery(resource_type, count=1))
        positions.append(newest[0].seq if newest else 0)
    return tuple(positions)
