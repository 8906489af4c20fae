"""`ember audit verify`: recompute the AuditEvent hash chain and report the first broken link.

The chained events are read in id order (which is sequence order) a page at a time, so a long
chain is checked in constant memory. A link is broken when an event is missing (a gap in the
sequence), carries another sequence number, does not carry the hash of the event before it, or
when the last event's hash is not the head's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from ember.access import AccessContext
from ember.audit.chain import GENESIS, HEAD_KEY, HEAD_KIND, PREVIOUS_URL, SEQUENCE_URL, chain_id, event_hash
from ember.audit.outbox import CHAIN_ID_PREFIX
from ember.fhir import jsonio
from ember.store.base import Store
from ember.store.search_query import SearchQuery, SortKey

_CTX = AccessContext.system("ember-audit-verify")
_PAGE = 500


@dataclass(frozen=True, slots=True)
class ChainReport:
    """How many events checked out, the hash they lead to, and the first broken link if any."""

    verified: int
    head: str
    broken_at: int | None = None
    problem: str | None = None

    @property
    def intact(self) -> bool:
        return self.problem is None


async def verify(store: Store) -> ChainReport:
    """Walk the whole chain; stop at the first broken link."""
    sequence, previous = 0, GENESIS
    query = SearchQuery(("AuditEvent",), (), (SortKey("_id", None),), count=_PAGE)
    while True:
        matches, more = await store.search(_CTX, query)
        for match in matches:
            if not match.id.startswith(CHAIN_ID_PREFIX):
                continue  # an AuditEvent a client recorded: not part of the chain
            sequence += 1
            problem = _link_problem(match.id, jsonio.loads(match.body), sequence, previous)
            if problem is not None:
                return ChainReport(sequence - 1, previous, sequence, problem)
            previous = event_hash(match.body)
        if not more:
            break
        query = replace(query, after=matches[-1].position)
    async with store.transaction() as tx:
        head = await tx.get_record(HEAD_KIND, HEAD_KEY) or {"sequence": 0, "hash": GENESIS}
    if (int(head["sequence"]), head["hash"]) != (sequence, previous):
        problem = f"the chain ends at {sequence} with hash {previous[:12]}..., the head says {head['sequence']}"
        return ChainReport(sequence, previous, sequence, problem)
    return ChainReport(sequence, previous)


def _link_problem(resource_id: str, event: dict[str, Any], sequence: int, previous: str) -> str | None:
    if resource_id != chain_id(sequence):
        return f"AuditEvent/{chain_id(sequence)} is missing (next is AuditEvent/{resource_id})"
    extensions = {ext.get("url"): ext.get("valueString") for ext in event.get("extension") or []}
    if extensions.get(SEQUENCE_URL) != str(sequence):
        return f"AuditEvent/{resource_id} carries sequence {extensions.get(SEQUENCE_URL)}"
    if extensions.get(PREVIOUS_URL) != previous:
        return f"AuditEvent/{resource_id} does not carry the hash of the event before it (one of the two was changed)"
    return None
