"""The audit job: outbox records become hash-chained AuditEvents (verify.py checks the chain).

Every AuditEvent the job writes has the id `chain-<sequence>` and two extensions: its sequence
number and the SHA-256 of the previous event (hex; 64 zeros before the first). An event's hash
is that of its stored JSON without `meta` (keys sorted), so it covers the previous hash too:
changing, removing or reordering any stored event breaks the link after it, and the head record
(`audit_chain`/`head`: last sequence and hash) catches a change to the last one.

The chain cannot fork. Writers take turns: each transaction first upserts the `audit_chain`/`lock`
record, which PostgreSQL holds locked until commit (SQLite already runs one writer at a time),
and only then reads the head, so it reads the head the previous writer committed. Should two
writers ever extend the same head anyway, both create the same next id and the store lets one
commit; the other retries from the new head. The head record is written in the same
transaction as the events.

One run takes its job and up to `JOBS_PER_RUN - 1` other queued audit jobs (waiting
`GATHER_SECONDS` for more when the queue was short: under a stream of single writes this keeps
the audit worker's transactions, each a disk sync on SQLite, few), resolves their patients
outside any transaction, and writes all their events and marks all of them done in one
transaction, so a crash leaves them queued and a repeat cannot duplicate them.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from typing import Any

import orjson

from ember.audit.events import audit_events
from ember.audit.outbox import AUDIT_WRITER, CHAIN_ID_PREFIX, KIND
from ember.audit.patients import resolve_patients
from ember.fhir import jsonio
from ember.fhir.search_index import index_rows
from ember.interactions.observers import write_versions
from ember.interactions.versioning import now, stamp
from ember.store.base import Job, NewVersion, Store, Transaction, VersionConflict

SEQUENCE_URL = "http://ember.dev/fhir/StructureDefinition/audit-chain-sequence"
PREVIOUS_URL = "http://ember.dev/fhir/StructureDefinition/audit-chain-previous-hash"
GENESIS = "0" * 64
HEAD_KIND, HEAD_KEY, LOCK_KEY = "audit_chain", "head", "lock"
JOBS_PER_RUN = 50
#: How long a run that found fewer jobs than it could take waits for more (audit latency it adds).
GATHER_SECONDS = 0.2
_ATTEMPTS = 10
_LEASE_SECONDS = 300.0


def chain_id(sequence: int) -> str:
    """Zero-padded, so id order is chain order."""
    return f"{CHAIN_ID_PREFIX}{sequence:012d}"


def event_hash(body: bytes) -> str:
    """SHA-256 of a stored AuditEvent without its server-assigned `meta`, keys sorted."""
    resource = {key: value for key, value in jsonio.loads(body).items() if key != "meta"}
    return hashlib.sha256(orjson.dumps(resource, option=orjson.OPT_SORT_KEYS, default=str)).hexdigest()


async def run(job: Job, store: Store) -> dict[str, Any]:
    """The job handler (kind "audit")."""
    extra = await _claim_more(store, job, [])
    if len(extra) < JOBS_PER_RUN - 1:  # a trickle: let a few more arrive, fewer transactions
        await asyncio.sleep(GATHER_SECONDS)
        extra = await _claim_more(store, job, extra)
    jobs = [job, *extra]
    records = [record for claimed in jobs for record in claimed.payload.get("records", [])]
    await resolve_patients(store, records)
    events = [event for record in records for event in audit_events(record)]
    written = False
    try:
        for _ in range(_ATTEMPTS):
            try:
                async with store.transaction() as tx:
                    head = await _append(tx, events)
                    for claimed in extra:
                        await tx.finish_job(claimed.id, {"written_by_job": job.id})
                    await tx.finish_job(job.id)
                written = True
                return {"events": len(events), "jobs": len(jobs), "head": head}
            except VersionConflict:  # another worker extended the chain first: append after its events
                await asyncio.sleep(random.uniform(0, 0.02))  # so the losers do not collide again at once
        raise RuntimeError("the audit chain head kept moving; will retry")
    finally:
        if not written:
            await _release(store, extra)


async def _claim_more(store: Store, job: Job, claimed: list[Job]) -> list[Job]:
    """`claimed` plus queued audit jobs, up to JOBS_PER_RUN with `job`, in one transaction."""
    claimed = list(claimed)
    async with store.transaction() as tx:
        while len(claimed) < JOBS_PER_RUN - 1:
            more = await tx.claim_job([KIND], f"audit-run-{job.id}", _LEASE_SECONDS)
            if more is None:
                break
            claimed.append(more)
    return claimed


async def _release(store: Store, jobs: list[Job]) -> None:
    """Put jobs this run claimed but could not write back in the queue."""
    if jobs:
        async with store.transaction() as tx:
            for claimed in jobs:
                await tx.fail_job(claimed.id, "released by a failed audit run", retry_at=0.0)


async def _append(tx: Transaction, events: list[dict[str, Any]]) -> int:
    """Chain `events` after the head and write them; the new head's sequence."""
    await tx.put_record(HEAD_KIND, LOCK_KEY, {})  # wait for the previous writer to commit
    head = await tx.get_record(HEAD_KIND, HEAD_KEY) or {"sequence": 0, "hash": GENESIS}
    sequence, previous = int(head["sequence"]), str(head["hash"])
    moment = now()
    versions: list[NewVersion] = []
    for event in events:
        sequence += 1
        event["extension"] = [
            {"url": SEQUENCE_URL, "valueString": str(sequence)},
            {"url": PREVIOUS_URL, "valueString": previous},
        ]
        # Built here, not validated like client input: events.py makes only valid AuditEvents
        # (tests/audit/test_event_shapes.py validates every kind), and validation was a third
        # of the cost of writing one.
        resource_id = chain_id(sequence)
        body = stamp(event, resource_id, 1, moment)
        version = NewVersion("AuditEvent", resource_id, 1, moment, False, body, 0, index_rows(event))
        versions.append(version)
        previous = event_hash(version.body)
    if versions:
        await write_versions(AUDIT_WRITER, tx, versions)
        await tx.put_record(HEAD_KIND, HEAD_KEY, {"sequence": sequence, "hash": previous})
    return sequence
