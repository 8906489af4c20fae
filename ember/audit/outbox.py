"""Getting audit records into the durable outbox (the store's job table, kind "audit").

Writes are audited inside the writer's own store transaction (`record_writes`), so the record
commits with the data or not at all. Everything else (reads, searches, history, operations,
refused requests, logins, token requests) is audited without touching the store on the request
path: `READ_BUFFER` collects the records in memory and the app's flusher moves them, in one
transaction, every `interval` seconds (and at shutdown). The records of that window are what a
crash of the process can lose; break-the-glass requests and failed logins and token requests
are flushed at once, inside their own request.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Sequence

from ember.access import AccessContext
from ember.audit.records import Record, write_record
from ember.fhir.outcome import error
from ember.store.base import NewVersion, Store, Transaction

KIND = "audit"
#: The unrestricted caller the audit job writes AuditEvents as; its writes are not audited.
AUDIT_WRITER = AccessContext.system("ember-audit")
#: AuditEvent ids of the hash chain (ember/audit/chain.py), which nobody else may take.
CHAIN_ID_PREFIX = "chain-"
#: Records per outbox job, so one job is one modest transaction for the audit worker.
RECORDS_PER_JOB = 500
#: Records kept in memory for a store the flush cannot reach, beyond which the oldest go.
MAX_PENDING = 100_000

log = logging.getLogger("ember.audit")


async def record_writes(ctx: AccessContext, transaction: Transaction, versions: Sequence[NewVersion]) -> None:
    """Queue the audit record of `versions` in the writer's transaction. AuditEvents are the
    audit itself: the audit worker's are not audited again, and nobody else may change, delete
    or take the id of a chained one (405), so the log can only grow."""
    if ctx is not AUDIT_WRITER:
        _refuse_audit_tampering(versions)
    audited = [version for version in versions if version.resource_type != "AuditEvent"]
    if audited:
        await transaction.enqueue(KIND, {"records": [write_record(ctx, audited)]})


def _refuse_audit_tampering(versions: Sequence[NewVersion]) -> None:
    for version in versions:
        if version.resource_type == "AuditEvent" and (
            version.deleted or version.expected_version > 0 or version.id.startswith(CHAIN_ID_PREFIX)
        ):
            raise error(405, "not-supported", "AuditEvent records can be created, never changed or deleted")


class ReadAuditBuffer:
    """Audit records waiting in memory for the next flush, per store.

    Nothing here runs on its own: the app's lifespan runs `run(store)` (flush every `interval`
    seconds, then once more at shutdown, before the store closes), and callers flush at once
    what must not wait. A store that is gone takes its unflushed records with it (weak keys).
    """

    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self._pending: weakref.WeakKeyDictionary[Store, list[Record]] = weakref.WeakKeyDictionary()

    def add(self, store: Store, record: Record) -> None:
        """Keep `record` for the next flush of `store`'s records."""
        pending = self._pending.setdefault(store, [])
        pending.append(record)
        if len(pending) > MAX_PENDING:  # the store has been unreachable for a long time
            del pending[: len(pending) - MAX_PENDING]
            log.error("audit buffer full: the oldest audit records were dropped")

    def pending(self, store: Store) -> int:
        """How many records for `store` wait for the next flush."""
        return len(self._pending.get(store, ()))

    async def flush(self, store: Store) -> None:
        """Move `store`'s pending records into its outbox now, in one transaction."""
        records = self._pending.pop(store, [])
        if not records:
            return
        try:
            async with store.transaction() as tx:
                for start in range(0, len(records), RECORDS_PER_JOB):
                    await tx.enqueue(KIND, {"records": records[start : start + RECORDS_PER_JOB]})
        except BaseException:
            self._pending.setdefault(store, [])[:0] = records  # kept for the next flush
            raise

    async def run(self, store: Store) -> None:
        """Flush every `interval` seconds until cancelled; an unreachable store is logged and
        its records kept for the next round."""
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.flush(store)
            except Exception:  # noqa: BLE001 - the flusher must outlive a database outage
                log.exception("audit records could not be flushed; kept for the next flush")


READ_BUFFER = ReadAuditBuffer()
