"""What every write shares, whether it arrives alone or inside a Bundle.

Each `plan_*` function turns a request into the NewVersion to append, given the current
version read inside the same store transaction; `in_transaction` runs a unit of work and
retries it when a concurrent writer won a race (PostgreSQL: two creators of one new id).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from ember.fhir.outcome import FhirError, Issue, error
from ember.fhir.search_index import index_rows
from ember.fhir.validation import check_resource, raise_for_issues
from ember.interactions.versioning import check_id, new_id, parse_etag, stamp
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


def plan_create(resource: dict[str, Any], moment: datetime, resource_id: str | None = None) -> NewVersion:
    """Version 1 of a new resource; the server assigns the id (any client id is replaced)."""
    resource_type = resource["resourceType"]
    resource.pop("id", None)
    raise_for_issues(check_resource(resource, expected_type=resource_type))
    assigned = resource_id or new_id()
    body = stamp(resource, assigned, 1, moment)
    return NewVersion(resource_type, assigned, 1, moment, False, body, 0, index_rows(resource))


def plan_update(
    resource: dict[str, Any],
    resource_id: str,
    current: StoredVersion | None,
    moment: datetime,
    if_match: str | None = None,
) -> NewVersion:
    """The next version of `resource_id` (version 1 when it does not exist: update as create)."""
    resource_type = resource["resourceType"]
    check_id(resource_id, f"{resource_type}.id")
    if "id" not in resource:
        raise error(400, "required", "An update must carry the resource id in the body", f"{resource_type}.id")
    raise_for_issues(check_resource(resource, expected_type=resource_type, expected_id=resource_id))
    check_precondition(current, if_match)
    version = current.version + 1 if current else 1
    body = stamp(resource, resource_id, version, moment)
    expected = current.version if current else 0
    return NewVersion(resource_type, resource_id, version, moment, False, body, expected, index_rows(resource))


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
