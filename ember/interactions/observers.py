"""Write observers: code that must run with every write, inside the writer's store transaction.

Features that react to data (HL7 v2 outbound feeds, subscriptions, audit of writes) register an
observer here instead of hooking each interaction; `write_versions` is the one place every
interaction writes through, so nothing can bypass them. An observer typically enqueues a job
(the outbox), which then commits or rolls back together with the data.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from ember.access import AccessContext
from ember.fhir.outcome import error, not_found
from ember.store.base import NewVersion, Transaction
from ember.store.search_query import IdCondition

WriteObserver = Callable[[Transaction, Sequence[NewVersion]], Awaitable[None]]

WRITE_OBSERVERS: list[WriteObserver] = []


async def write_versions(ctx: AccessContext, transaction: Transaction, versions: Sequence[NewVersion]) -> None:
    """Append `versions` and let every observer see them, in the same transaction.

    A restricted caller may only change what it may see, and only into something it may see:
    a resource it cannot see is 404 before the write, and a new version outside its access
    (an Observation for another patient, a category its scope excludes) is 403 after it, which
    rolls the whole unit back. Both checks run the store's own access filter on the
    transaction's view of the index, so writes obey exactly the rules reads do.
    """
    if not ctx.unrestricted:
        await _check_visible(ctx, transaction, [v for v in versions if v.expected_version > 0], 404)
    await transaction.write(versions)
    if not ctx.unrestricted:
        await _check_visible(ctx, transaction, [v for v in versions if not v.deleted], 403)
    if versions:
        for observer in WRITE_OBSERVERS:
            await observer(transaction, versions)


async def _check_visible(
    ctx: AccessContext, transaction: Transaction, versions: Sequence[NewVersion], status: int
) -> None:
    by_type: dict[str, set[str]] = {}
    for version in versions:
        by_type.setdefault(version.resource_type, set()).add(version.id)
    for resource_type, ids in by_type.items():
        found = await transaction.search_ids(ctx, resource_type, [IdCondition(tuple(sorted(ids)))], limit=len(ids))
        hidden = sorted(ids - set(found))
        if hidden:
            if status == 404:
                raise not_found(resource_type, hidden[0])
            message = f"This access token may not write {resource_type}/{hidden[0]} as it is"
            raise error(403, "forbidden", message, resource_type)
