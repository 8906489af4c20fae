"""Write observers: code that must run with every write, inside the writer's store transaction.

Features that react to data (HL7 v2 outbound feeds, subscriptions, audit of writes) register an
observer here instead of hooking each interaction; `write_versions` is the one place every
interaction writes through, so nothing can bypass them. An observer typically enqueues a job
(the outbox), which then commits or rolls back together with the data.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from ember.store.base import NewVersion, Transaction

WriteObserver = Callable[[Transaction, Sequence[NewVersion]], Awaitable[None]]

WRITE_OBSERVERS: list[WriteObserver] = []


async def write_versions(transaction: Transaction, versions: Sequence[NewVersion]) -> None:
    """Append `versions` and let every observer see them, in the same transaction."""
    await transaction.write(versions)
    if versions:
        for observer in WRITE_OBSERVERS:
            await observer(transaction, versions)
