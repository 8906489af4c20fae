"""The one storage interface both back ends implement.

The interaction layer decides *what* to write (ids, versions, meta, rewritten references);
a store only makes it durable and atomic, and answers reads. Keeping the store free of FHIR
rules is what lets SQLite and PostgreSQL pass one shared test suite.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from ember.access import AccessContext


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


@dataclass(frozen=True, slots=True)
class TokenKey:
    """One token search index row of a resource: `param` (a search parameter name) matched
    `system|code`. The interaction layer extracts them; the store keeps them with the current
    version so conditional operations and searches find resources by identifier."""

    param: str
    system: str
    code: str


@dataclass(frozen=True, slots=True)
class NewVersion:
    """A version to write. `expected_version` is the current version the writer based it on
    (0 for a resource that must not exist yet); the store refuses the write if it changed.
    Several versions of one resource may be written together as a chain (v1 expecting 0, then
    v2 expecting 1); the token index follows the last. `last_updated` is timezone-aware."""

    resource_type: str
    id: str
    version: int
    last_updated: datetime
    deleted: bool
    body: bytes
    expected_version: int
    tokens: tuple[TokenKey, ...] = ()

    def as_stored(self) -> StoredVersion:
        """The version as reads will return it once written."""
        return StoredVersion(self.resource_type, self.id, self.version, self.last_updated, self.deleted, self.body)


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


class Transaction(Protocol):
    """A unit of work: reads inside it see a consistent state and lock what they read;
    everything written commits together or not at all."""

    async def current(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], StoredVersion]:
        """The current versions (deleted ones included) of the given (type, id) keys, locked
        against concurrent writers until the transaction ends."""
        ...

    async def write(self, versions: Sequence[NewVersion]) -> None:
        """Append the versions; raise VersionConflict if any `expected_version` is stale."""
        ...

    async def find_by_token(self, resource_type: str, param: str, system: str | None, code: str) -> list[str]:
        """Ids of current, not deleted resources of a type indexed with `param` = system|code
        (`system` None matches any system), at most a few: callers only need to tell 0, 1, many."""
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

    def transaction(self) -> AbstractAsyncContextManager[Transaction]:
        """Begin a unit of work; it commits when the block exits normally."""
        ...
