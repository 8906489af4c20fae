"""Getting audit records into the durable outbox (the store's job table, kind "audit").

Writes are audited inside the writer's own store transaction (`record_writes`), so the record
commits with the data or not at all. Everything else (reads, searches, history, operations,
refused requests, logins, token requests) is audited without touching the store on the request
path: `READ_BUFFER` collects the records in memory and a timer flushes them, in one transaction
per store, `interval` seconds after the first one arrives (and at shutdown). The records of that
window are what a crash of the process can lose; a break-the-glass request flushes at once.
"""

from __future__ import annotations

import asyncio
import logging
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
    """Audit records waiting in memory for the next flush, per store."""

    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self._pending: dict[int, tuple[Store, list[Record]]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._flushes: set[asyncio.Task[None]] = set()

    def add(self, store: Store, record: Record, *, urgent: bool = False) -> None:
        """Keep `record` for the next flush (at once when `urgent`)."""
        self._pending.setdefault(id(store), (store, []))[1].append(record)
        loop = asyncio.get_running_loop()
        if urgent:
            self._start_flush()
        elif self._timer is None or self._loop is not loop:
            self._loop = loop
            self._timer = loop.call_later(self.interval, self._start_flush)

    def pending(self, store: Store) -> int:
        """How many records for `store` wait for the next flush."""
        return len(self._pending.get(id(store), (store, []))[1])

    def _start_flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = None
        task = asyncio.get_running_loop().create_task(self.flush())
        self._flushes.add(task)
        task.add_done_callback(self._flushes.discard)

    async def flush(self) -> None:
        """Move every pending record into the outbox now (also what shutdown calls)."""
        pending, self._pending = self._pending, {}
        for store, records in pending.values():
            try:
                async with store.transaction() as tx:
                    for start in range(0, len(records), RECORDS_PER_JOB):
                        await tx.enqueue(KIND, {"records": records[start : start + RECORDS_PER_JOB]})
            except Exception:  # noqa: BLE001 - a background flush must survive an unreachable store
                log.exception("audit records could not be flushed; keeping %d for the next flush", len(records))
                kept = self._pending.setdefault(id(store), (store, []))[1]
                kept[:0] = records
                del kept[: max(0, len(kept) - MAX_PENDING)]


READ_BUFFER = ReadAuditBuffer()
