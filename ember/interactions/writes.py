"""What every write shares, whether it arrives alone or inside a Bundle.

A write is checked (`check_*`: validation and search index rows, no store needed), then
planned (`plan_*`: the NewVersion to append, given the current version read inside the store
transaction); `in_transaction` runs a unit of work and retries it when a concurrent writer won
a race (PostgreSQL: two creators of one new id).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from ember.fhir.outcome import FhirError, Issue, error
from ember.fhir.search_index import IndexRows, index_rows
from ember.fhir.validation import check_resource, raise_for_issues
from ember.interactions.versioning import check_id, fhir_instant, new_id, parse_etag, stamp
from ember.store.base import NewVersion, Store, StoredVersion, Transaction, VersionConflict

T = TypeVar("T")
_ATTEMPTS = 3


async def in_transaction(store: Store, work: Callable[[Transaction], Awaitable[T]]) -> T:
    """Run `work` in one store transaction, retrying when it lost a race with another writer."""
    for _ in range(_ATTEMPTS):
        try:
            async with store.transaction() as transaction:
                return await work(transaction)
        except VersionConflict:
            continue
    raise error(409, "conflict", "The resource was changed concurrently; retry the request")


def require_resource(body: Any, resource_type: str, location: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise error(400, "structure", "The request body must be a FHIR resource", location)
    if body.get("resourceType") != resource_type:
        raise error(
            400, "invalid", f"resourceType must be '{resource_type}', got '{body.get('resourceType')}'", location
        )
    return body


@dataclass(frozen=True, slots=True)
class CheckedResource:
    """A resource that passed validation, with its search index rows.

    Checking is the costly part of a write (validation, invariants, index extraction: most of
    the ~250 us of Python per Synthea resource). Callers run it before the store transaction
    whenever nothing in the resource depends on what the store holds (no conditional
    reference), so the writer's critical section - on SQLite one writer for every worker
    process - only checks versions and appends rows, and workers check in parallel.
    """

    resource: dict[str, Any]
    index: IndexRows


def check_create(resource: dict[str, Any], moment: datetime) -> CheckedResource:
    """Check a resource about to be created; the server assigns the id, so any client id goes."""
    resource.pop("id", None)
    return _checked(resource, moment, expected_id=None)


def check_update(resource: dict[str, Any], resource_id: str, moment: datetime) -> CheckedResource:
    """Check a resource about to become a version of `resource_id`."""
    resource_type = resource["resourceType"]
    check_id(resource_id, f"{resource_type}.id")
    if "id" not in resource:
        raise error(400, "required", "An update must carry the resource id in the body", f"{resource_type}.id")
    return _checked(resource, moment, expected_id=resource_id)


def _checked(resource: dict[str, Any], moment: datetime, expected_id: str | None) -> CheckedResource:
    raise_for_issues(check_resource(resource, expected_type=resource["resourceType"], expected_id=expected_id))
    # `_lastUpdated` is indexed from the resource: give it the server's time before extraction.
    resource["meta"] = {**(resource.get("meta") or {}), "lastUpdated": fhir_instant(moment)}
    return CheckedResource(resource, index_rows(resource))


def plan_create(checked: CheckedResource, moment: datetime, resource_id: str | None = None) -> NewVersion:
    """Version 1 of a new resource with a server-assigned id (`resource_id` when the caller
    assigned it already, as a transaction does for its fullUrls)."""
    resource = checked.resource
    assigned = resource_id or new_id()
    body = stamp(resource, assigned, 1, moment)
    return NewVersion(resource["resourceType"], assigned, 1, moment, False, body, 0, checked.index)


def plan_update(
    checked: CheckedResource,
    resource_id: str,
    current: StoredVersion | None,
    moment: datetime,
    if_match: str | None = None,
) -> NewVersion:
    """The next version of `resource_id` (version 1 when it does not exist: update as create)."""
    check_precondition(current, if_match)
    version = current.version + 1 if current else 1
    body = stamp(checked.resource, resource_id, version, moment)
    expected = current.version if current else 0
    return NewVersion(
        checked.resource["resourceType"], resource_id, version, moment, False, body, expected, checked.index
    )


def plan_delete(
    resource_type: str, resource_id: str, current: StoredVersion | None, moment: datetime, if_match: str | None = None
) -> NewVersion | None:
    """A deletion marker, or None when there is nothing to delete (deleting is idempotent)."""
    check_precondition(current, if_match)
    if current is None or current.deleted:
        return None
    return NewVersion(resource_type, resource_id, current.version + 1, moment, True, b"", current.version)


def check_precondition(current: StoredVersion | None, if_match: str | None) -> None:
    """Enforce If-Match: the write must be based on the current version (412 otherwise)."""
    if if_match is None:
        return
    expected = parse_etag(if_match)
    if expected is None:
        raise error(400, "invalid", f"Invalid If-Match value '{if_match[:40]}'")
    if current is None or current.deleted or current.version != expected:
        found = "none" if current is None or current.deleted else str(current.version)
        message = f"If-Match version {expected} does not match the current version ({found})"
        raise FhirError(412, [Issue(code="conflict", diagnostics=message)])
