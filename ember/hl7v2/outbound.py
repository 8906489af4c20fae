"""Outbound feed: new Observations and DiagnosticReports to subscribed MLLP endpoints as ORU^R01.

Endpoints are store records (kind `hl7v2-outbound`, managed by `ember hl7 outbound add/list/
remove`). A write observer enqueues one durable job per endpoint and written result, in the
writer's own transaction (the outbox): the job exists exactly when the write committed.
`ember.hl7v2.delivery` runs the jobs.

The observer runs on every write: it reads the endpoint list at most every few seconds per
process and returns at once when there is none.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from ember.fhir import jsonio
from ember.interactions.observers import WRITE_OBSERVERS
from ember.store.base import NewVersion, Store, Transaction

KIND = "hl7v2-outbound"
JOB_KIND = "hl7v2-outbound"  # its handler: ember.hl7v2.delivery.send_result
RESULT_TYPES = frozenset({"Observation", "DiagnosticReport"})
_REFRESH_SECONDS = 5.0


class _EndpointCache:
    """The endpoint names of this process, re-read at most every `_REFRESH_SECONDS`: a server
    process has one store, so one cache per process is enough (an endpoint added by another
    process is seen within that delay)."""

    names: tuple[str, ...] = ()
    expires = 0.0

    @classmethod
    async def current(cls, tx: Transaction) -> tuple[str, ...]:
        now = time.monotonic()
        if now >= cls.expires:
            cls.names = tuple(key for key, _ in await tx.list_records(KIND))
            cls.expires = now + _REFRESH_SECONDS
        return cls.names

    @classmethod
    def forget(cls) -> None:
        cls.expires = 0.0


async def enqueue_results(tx: Transaction, versions: Sequence[NewVersion]) -> None:
    """The write observer: a job per endpoint for each DiagnosticReport written, and for each
    Observation that is not a result of one of them (the report's ORU^R01 carries it)."""
    results = [v for v in versions if v.resource_type in RESULT_TYPES and not v.deleted]
    if not results:
        return
    endpoints = await _EndpointCache.current(tx)
    if not endpoints:
        return
    reported = _reported_observations(results)
    results = [v for v in results if f"{v.resource_type}/{v.id}" not in reported]
    for endpoint in endpoints:
        for version in results:
            payload = {"endpoint": endpoint, "type": version.resource_type, "id": version.id}
            key = f"{endpoint}|{version.resource_type}/{version.id}/{version.version}"
            await tx.enqueue(JOB_KIND, payload, key=key)


def _reported_observations(results: list[NewVersion]) -> set[str]:
    """`Observation/id` of every result the written reports list."""
    reported: set[str] = set()
    for version in results:
        if version.resource_type == "DiagnosticReport":
            report = jsonio.loads(version.body)
            reported.update(ref.get("reference", "") for ref in report.get("result", []) if isinstance(ref, dict))
    return reported


def install() -> None:
    """Register the observer once per process (and read the endpoints afresh)."""
    _EndpointCache.forget()
    if enqueue_results not in WRITE_OBSERVERS:
        WRITE_OBSERVERS.append(enqueue_results)


async def add_endpoint(store: Store, name: str, host: str, port: int) -> None:
    async with store.transaction() as tx:
        await tx.put_record(KIND, name, {"host": host, "port": port})
    _EndpointCache.forget()


async def list_endpoints(store: Store) -> list[tuple[str, dict[str, Any]]]:
    async with store.transaction() as tx:
        return await tx.list_records(KIND)


async def remove_endpoint(store: Store, name: str) -> bool:
    async with store.transaction() as tx:
        removed = await tx.delete_record(KIND, name)
    _EndpointCache.forget()
    return removed
