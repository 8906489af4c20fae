"""The one storage interface both back ends implement.

The interaction layer decides *what* to write (ids, versions, meta, rewritten references);
a store only makes it durable and atomic, and answers reads. Keeping the store free of FHIR
rules is what lets SQLite and PostgreSQL pass one shared test suite.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from ember.access import AccessContext
from ember.store.search_query import Condition, IncludeSpec, SearchMatch, SearchQuery


@dataclass(frozen=True, slots=True)
class StoredVersion:
    """One version of a resource as stored: metadata plus the canonical JSON bytes.

    `body` already contains meta.versionId and meta.lastUpdated, so a read can send it as is.
    A deletion is a version with `deleted=True` and an empty body.
    """

    resource_type: str
    id: str
    version: int
    last_updated: datetime
    deleted: bool
    body: bytes


#: Search index rows by table kind ("token", "string"...: see ember/store/index_tables.py),
#: each row the table's columns after resource_type and id.
IndexRows = Mapping[str, Sequence[tuple[Any, ...]]]


@dataclass(frozen=True, slots=True)
class NewVersion:
    """A version to write. `expected_version` is the current version the writer based it on
    (0 for a resource that must not exist yet); the store refuses the write if it changed.
    Several versions of one resource may be written together as a chain (v1 expecting 0, then
    v2 expecting 1); the search index follows the last. `last_updated` is timezone-aware."""

    resource_type: str
    id: str
    version: int
    last_updated: datetime
    deleted: bool
    body: bytes
    expected_version: int
    index: IndexRows = field(default_factory=dict)

    def as_stored(self) -> StoredVersion:
        """The version as reads will return it once written."""
        return StoredVersion(self.resource_type, self.id, self.version, self.last_updated, self.deleted, self.body)


@dataclass(frozen=True, slots=True)
class ReindexEntry:
    """New search index rows for the current version `version` of a resource."""

    resource_type: str
    id: str
    version: int
    index: IndexRows


@dataclass(frozen=True, slots=True)
class HistoryQuery:
    """History of one instance (type and id), one type (type only) or the whole system.

    `since`/`at` follow the FHIR `_since`/`_at` parameters (`at` includes deletion markers that
    were current at that instant); `before_seq` is the keyset cursor of
    the next page, so pages stay stable while new versions are written.
    """

    resource_type: str | None = None
    id: str | None = None
    since: datetime | None = None
    at: datetime | None = None
    before_seq: int | None = None
    count: int = 50


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    seq: int
    version: StoredVersion


class VersionConflict(Exception):
    """A concurrent writer changed a resource between its read and this write.

    Raised by `Transaction.write`; the whole unit of work is rolled back (even if the caller
    catches it inside the block) and may be retried.
    """

    def __init__(self, resource_type: str, resource_id: str) -> None:
        super().__init__(f"{resource_type}/{resource_id} was changed concurrently")
        self.resource_type = resource_type
        self.resource_id = resource_id


JobState = str  # "queued", "running", "done" or "failed" (given up: a dead letter)


@dataclass(frozen=True, slots=True)
class Job:
    """One unit of background work in the durable job table (see DESIGN.md: reindex, exports,
    subscription and HL7 v2 deliveries, dead letters). Times are epoch seconds; `payload`,
    `progress` and `result` are JSON objects owned by whoever handles `kind`."""

    id: int
    kind: str
    key: str | None
    payload: dict[str, Any]
    state: JobState
    attempts: int
    run_after: float
    progress: dict[str, Any] | None
    result: dict[str, Any] | None
    error: str | None
    created: float
    updated: float


class Lookups(Protocol):
    """The reads that resolve conditional interactions and references: a Transaction's, which
    see and lock one state, or a Store's `lookups()`, which see what is committed now and lock
    nothing (a transaction uses those to check its resources before it takes the writer, then
    confirms inside that the store still answers the same)."""

    async def current(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], StoredVersion]:
        """The current versions (deleted ones included) of the given (type, id) keys; in a
        transaction, locked against concurrent writers until it ends."""
        ...

    async def find_by_token(self, resource_type: str, param: str, system: str | None, code: str) -> list[str]:
        """Ids of current, not deleted resources of a type indexed with `param` = system|code
        (`system` None matches any system), at most a few: callers only need to tell 0, 1, many."""
        ...

    async def search_ids(
        self, ctx: AccessContext, resource_type: str, conditions: Sequence[Condition], *, limit: int = 3
    ) -> list[str]:
        """Ids of up to `limit` current resources matching every condition. In a transaction, as
        it sees them, and concurrent units asking the same question take turns, so two
        conditional creates cannot both find nothing."""
        ...

    async def get_record(self, kind: str, key: str) -> dict[str, Any] | None:
        """A live record's value (see `put_record`), None when there is none."""
        ...


class Transaction(Lookups, Protocol):
    """A unit of work: reads inside it see a consistent state and lock what they read;
    everything written commits together or not at all."""

    async def write(self, versions: Sequence[NewVersion]) -> None:
        """Append the versions; raise VersionConflict if any `expected_version` is stale."""
        ...

    async def reindex(self, entries: Sequence[ReindexEntry]) -> int:
        """Replace the search index rows of the given resources, skipping any whose current
        version is no longer the one indexed (a write that raced the reindex indexed itself);
        how many were replaced."""
        ...

    # --- durable jobs (the outbox): they commit or vanish with the data written beside them ---

    async def enqueue(
        self, kind: str, payload: dict[str, Any], *, key: str | None = None, run_after: float | None = None
    ) -> int | None:
        """Queue a job; its id, or None when a job of this kind with this `key` already exists
        (whatever its state), which makes producers idempotent."""
        ...

    async def claim_job(self, kinds: Sequence[str], worker: str, lease_seconds: float) -> Job | None:
        """Take the oldest due job of one of `kinds`: queued with `run_after` passed, or running
        under an expired lease (its worker died). It becomes running, leased to `worker`, with one
        more attempt. Concurrent claimers never get the same job."""
        ...

    async def finish_job(self, job_id: int, result: dict[str, Any] | None = None) -> None:
        """Mark the job done."""
        ...

    async def fail_job(self, job_id: int, error: str, retry_at: float | None) -> None:
        """Record an error: queued again at `retry_at`, or failed for good (a dead letter) when None."""
        ...

    async def retry_job(self, job_id: int) -> bool:
        """Queue a failed job again now; False if it is not failed."""
        ...

    async def set_job_progress(self, job_id: int, progress: dict[str, Any]) -> None:
        """Save progress (for example a resume cursor) and renew nothing else."""
        ...

    async def get_job(self, job_id: int) -> Job | None: ...

    async def find_job(self, kind: str, key: str) -> Job | None: ...

    async def list_jobs(self, kind: str | None = None, state: JobState | None = None, *, limit: int = 100) -> list[Job]:
        """Newest first."""
        ...

    # --- records: small JSON documents by (kind, key), for state that is not a FHIR resource
    # (OAuth clients and codes, processed message ids...); expired ones read as absent. ---

    async def put_record(self, kind: str, key: str, value: dict[str, Any], *, expires_at: float | None = None) -> None:
        """Insert or replace."""
        ...

    async def insert_record(
        self, kind: str, key: str, value: dict[str, Any], *, expires_at: float | None = None
    ) -> bool:
        """Insert unless a live record has this key; False if one does (for one-time values
        such as a JWT `jti`)."""
        ...

    async def take_record(self, kind: str, key: str) -> dict[str, Any] | None:
        """Delete and return in one step, so a one-time value (an authorization code) is
        redeemed at most once even by concurrent requests."""
        ...

    async def delete_record(self, kind: str, key: str) -> bool: ...

    async def list_records(self, kind: str, *, prefix: str = "", limit: int = 1000) -> list[tuple[str, dict[str, Any]]]:
        """(key, value) pairs in key order."""
        ...


class Store(Protocol):
    """A FHIR resource store: versioned, durable, with history."""

    async def open(self) -> None:
        """Connect and bring the schema up to date (migrations are idempotent)."""
        ...

    async def close(self) -> None: ...

    async def ping(self) -> bool:
        """True when the database answers; used by /readyz."""
        ...

    async def read(self, ctx: AccessContext, resource_type: str, resource_id: str) -> StoredVersion | None:
        """The current version (possibly a deletion marker), or None if the id never existed."""
        ...

    async def vread(
        self, ctx: AccessContext, resource_type: str, resource_id: str, version: int
    ) -> StoredVersion | None: ...

    async def history(self, ctx: AccessContext, query: HistoryQuery) -> list[HistoryEntry]:
        """Versions newest first, at most `query.count`."""
        ...

    async def history_count(self, ctx: AccessContext, query: HistoryQuery) -> int:
        """How many versions the history query matches over all pages."""
        ...

    async def search(self, ctx: AccessContext, query: SearchQuery) -> tuple[list[SearchMatch], bool]:
        """One page of matches of `query` the caller may see, in order, and whether more follow."""
        ...

    async def search_count(self, ctx: AccessContext, query: SearchQuery) -> int:
        """How many resources the caller may see match `query` over all pages."""
        ...

    async def included(
        self, ctx: AccessContext, keys: Sequence[tuple[str, str]], spec: IncludeSpec, *, reverse: bool
    ) -> list[tuple[str, str, bytes]]:
        """(type, id, body) of what `keys` refer to through `spec` (`_include`), or of what refers
        to them (`reverse`: `_revinclude`), among what the caller may see."""
        ...

    def transaction(self) -> AbstractAsyncContextManager[Transaction]:
        """Begin a unit of work; it commits when the block exits normally."""
        ...

    def lookups(self) -> Lookups:
        """Lookups of the committed state outside any unit of work (they lock nothing)."""
        ...
