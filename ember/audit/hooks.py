"""What the choke points call: the dispatcher after every FHIR request, the edge and the
authorization server after every login, token request and refused caller.

Successful writes are audited in their own transaction (outbox.record_writes), so here a
write is only audited when it failed. A trusted caller's reads (auth off, the CLI, background
jobs: `ctx.unrestricted`) have no identity to record and are not audited.
"""

from __future__ import annotations

from ember.access import AccessContext
from ember.audit.outbox import READ_BUFFER
from ember.audit.records import Record, failure_detail, request_record
from ember.fhir.outcome import FhirError
from ember.interactions.request import FhirRequest, FhirResponse
from ember.store.base import Store
from ember.store.consent_rules import BREAK_THE_GLASS

#: Interactions that read; the writes' successes are audited with the data.
READS = frozenset(
    {
        "read",
        "vread",
        "history-instance",
        "history-type",
        "history-system",
        "search-type",
        "search-system",
        "search-compartment",
        "operation-system",
        "operation-type",
        "operation-instance",
    }
)
#: Neither reads nor writes of their own: each entry of a Bundle is audited on its own.
_UNAUDITED = frozenset({"capabilities", "batch"})


async def request_done(ctx: AccessContext, request: FhirRequest, store: Store, response: FhirResponse) -> None:
    """Audit a successful read-type request of an identified caller."""
    if ctx.unrestricted or request.interaction not in READS:
        return
    await _keep(store, request_record(ctx, request, response.status, None, response), ctx.purpose == BREAK_THE_GLASS)


async def request_failed(ctx: AccessContext, request: FhirRequest, store: Store, failure: FhirError) -> None:
    """Audit a refused or failed request of an identified caller (reads and writes alike)."""
    if ctx.unrestricted or request.interaction in _UNAUDITED:
        return
    record = request_record(ctx, request, failure.status, failure_detail(failure), None)
    await _keep(store, record, ctx.purpose == BREAK_THE_GLASS)


async def auth_event(store: Store, record: Record) -> None:
    """Audit a login, a token request or a refused bearer token. A failed login or token request
    is flushed at once (each already cost a store transaction); refused bearer tokens wait for
    the flusher, so a flood of them cannot turn into a flood of transactions."""
    await _keep(store, record, record["outcome"] >= 400 and record["event"] != "alert")


async def _keep(store: Store, record: Record, urgent: bool) -> None:
    READ_BUFFER.add(store, record)
    if urgent:
        await READ_BUFFER.flush(store)
