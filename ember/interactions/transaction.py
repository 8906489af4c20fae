"""transaction and batch: POST [base] with a Bundle.

A transaction is all or nothing: every write is planned and checked first, then appended in
one store transaction; a failure anywhere rolls everything back. Reads (GET entries) run after
the commit, so they see the transaction's own writes. A batch runs each entry on its own
through the same dispatcher as a plain HTTP request.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlencode

from ember.access import AccessContext
from ember.fhir import jsonio
from ember.fhir.outcome import FhirError, error, operation_outcome
from ember.fhir.reference_walk import references_in
from ember.interactions import patch as patch_interaction
from ember.interactions.batch import execute_batch, run_entry
from ember.interactions.bundle_entries import BundleEntry, processing_order, read_bundle
from ember.interactions.bundles import bundle
from ember.interactions.conditional import has_conditional_reference, matching_ids, resolve_conditional_references
from ember.interactions.create import existing_match
from ember.interactions.observers import write_versions
from ember.interactions.prefer import MINIMAL, OUTCOME, REPRESENTATION, preferred_return
from ember.interactions.references import assign_identities, rewrite_references
from ember.interactions.request import FhirRequest, FhirResponse
from ember.interactions.versioning import etag, fhir_instant, new_id, now
from ember.interactions.writes import (
    CheckedResource,
    check_create,
    check_update,
    in_transaction,
    plan_create,
    plan_delete,
    plan_update,
)
from ember.store.base import Lookups, NewVersion, Store, StoredVersion, Transaction

T = TypeVar("T")
#: Resources checked between two turns of the event loop (~1-2 ms of CPU).
_CHECKS_PER_TURN = 8
_WRITES = ("create", "update", "patch", "delete", "conditional-update", "conditional-delete", "conditional-patch")


async def handle(ctx: AccessContext, request: FhirRequest, store: Store) -> FhirResponse:
    bundle_type, entries = read_bundle(request.body, request.base_url)
    preference = preferred_return(request.headers.get("prefer"), default=MINIMAL)
    if bundle_type == "batch":
        return await execute_batch(ctx, entries, store, preference)
    return await execute_transaction(ctx, entries, store, preference)


async def execute_transaction(
    ctx: AccessContext,
    entries: list[BundleEntry | FhirError],
    store: Store,
    preference: str,
    *,
    alongside: Callable[[Transaction], Awaitable[None]] | None = None,
) -> FhirResponse:
    """Run a transaction bundle's entries. `alongside` runs in the same store transaction after
    the writes, so what it records (say, the id of the HL7 v2 message the bundle came from)
    commits with them or not at all; a FhirError it raises rolls everything back."""
    readable = _all_readable(entries)
    writes = [entry for entry in processing_order(readable) if entry.request.method != "GET"]
    _refuse_unsupported(writes)
    moment = now()
    references = {e.index: references_in(e.request.body) for e in readable if isinstance(e.request.body, dict)}
    resolution = _Resolution(readable, writes, references)
    # A bundle whose writes do not depend on what the store holds (no conditional interaction,
    # If-None-Exist or conditional reference) is resolved and checked before the store
    # transaction, so the writer's critical section only appends. Others are resolved twice:
    # against the committed state first, outside the store transaction, where their resources
    # are checked; then inside it, which keeps those checks if every lookup answered the same.
    early = guess = None
    if _needs_store(writes, references):
        guess = await _speculate(store.lookups(), resolution, moment)
    else:
        early = await _check_outside(resolution, moment)

    async def work(transaction: Transaction) -> dict[int, dict[str, Any]]:
        matched: dict[int, StoredVersion] = {}
        checked = early or {}
        if early is None:
            matched = await resolution.resolve(transaction)
            if guess is not None and guess.decisions == resolution.decisions(matched):
                checked = guess.checked
        pending = [entry for entry in writes if entry.index not in matched]
        _refuse_repeated_targets(pending)
        # Creates need no lookup: their ids are new, and write() refuses one that exists.
        keys = [
            (e.request.resource_type or "", e.request.id or "")
            for e in pending
            if e.request.id and e.request.interaction != "create"
        ]
        current = await transaction.current(keys)
        planned = {entry.index: _plan(entry, current, moment, checked.get(entry.index)) for entry in pending}
        await write_versions(ctx, transaction, [version for version in planned.values() if version is not None])
        if alongside is not None:
            await alongside(transaction)
        responses = {index: _write_response(version, preference) for index, version in planned.items()}
        responses.update({index: _existing_response(stored) for index, stored in matched.items()})
        return responses

    responses = await in_transaction(store, work)
    for entry in readable:
        if entry.request.method == "GET":
            responses[entry.index] = await run_entry(ctx, entry.request, store)
    return FhirResponse(200, resource=bundle("transaction-response", [responses[e.index] for e in readable]))


def _needs_store(writes: list[BundleEntry], references: dict[int, list[dict[str, Any]]]) -> bool:
    """Does resolving the bundle need the store (conditional writes or references)?"""
    conditional_write = any(
        e.request.interaction.startswith("conditional-") or "if-none-exist" in e.request.headers for e in writes
    )
    return conditional_write or any(has_conditional_reference(found) for found in references.values())


class _Resolution:
    """A bundle's references and conditional entries, resolved against the store as often as
    needed. Each pass starts from the bundle as sent: a retry after a lost race must not replay
    an earlier pass's choice when a match now exists, nor keep references an earlier pass
    pointed at its own choices. An entry that needs a new id gets the same one on every pass,
    so two passes that met the same answers from the store leave the same bundle."""

    def __init__(
        self, readable: list[BundleEntry], writes: list[BundleEntry], references: dict[int, list[dict[str, Any]]]
    ) -> None:
        self.readable = readable
        self.writes = writes
        self.references = references
        self._as_sent = [(node, node["reference"]) for found in references.values() for node in found]
        self._requests = [
            (e.request, e.request.interaction, list(e.request.params), e.request.id, _body_id(e)) for e in writes
        ]
        self._fresh: dict[int, str] = {}

    def fresh_id(self, index: int) -> str:
        if index not in self._fresh:
            self._fresh[index] = new_id()
        return self._fresh[index]

    async def resolve(self, lookups: Lookups) -> dict[int, StoredVersion]:
        """Resolve every conditional part with `lookups`; the conditional creates that matched."""
        self._restart()
        await _resolve_conditional_targets(lookups, self.writes, self.fresh_id)
        matched = await _conditional_create_matches(lookups, self.writes)
        await _point_references(lookups, self.readable, self.references, matched, self.fresh_id)
        return matched

    def decisions(self, matched: dict[int, StoredVersion]) -> tuple[Any, ...]:
        """All a pass chose: what each write became and on which id, which conditional creates
        matched what, where every reference points. Equal choices, equal bundle."""
        return (
            [(e.request.interaction, e.request.id) for e in self.writes],
            sorted((index, s.resource_type, s.id, s.version) for index, s in matched.items()),
            [node["reference"] for node, _ in self._as_sent],
        )

    def _restart(self) -> None:
        for request, interaction, params, resource_id, body_id in self._requests:
            request.interaction, request.params, request.id = interaction, params, resource_id
            if interaction == "conditional-update" and isinstance(request.body, dict):
                request.body.pop("id", None)  # the previous pass's choice
                if body_id is not None:
                    request.body["id"] = body_id
        for node, reference in self._as_sent:
            node["reference"] = reference


@dataclass(frozen=True, slots=True)
class _Guess:
    """A pass against the committed state, outside the store transaction: what it chose, and
    the resources it checked for those choices."""

    decisions: tuple[Any, ...]
    checked: dict[int, CheckedResource]


async def _speculate(lookups: Lookups, resolution: _Resolution, moment: datetime) -> _Guess | None:
    """Resolve and check a store-dependent bundle before its store transaction: validation and
    index extraction are most of a write's CPU, and inside the transaction they would hold the
    writer (on SQLite, every worker's). A bundle this pass refuses is resolved and checked again
    inside, whose answer counts: the store may have changed in between."""
    try:
        matched = await resolution.resolve(lookups)
        checked = await _check_writes(resolution.writes, moment, set(matched))
    except FhirError:
        return None
    return _Guess(resolution.decisions(matched), checked)


async def _check_outside(resolution: _Resolution, moment: datetime) -> dict[int, CheckedResource]:
    """Assign ids, rewrite references and check every created or updated resource, with no
    store in sight: the bundle does not depend on it."""
    identities = assign_identities(resolution.readable, {}, resolution.fresh_id)
    for entry in resolution.readable:
        if entry.index in resolution.references:
            where, found = f"{entry.location}.resource", resolution.references[entry.index]
            rewrite_references(entry.request.body, identities, where, found)
    return await _check_writes(resolution.writes, moment, set())


async def _check_writes(writes: list[BundleEntry], moment: datetime, skipped: set[int]) -> dict[int, CheckedResource]:
    """Check every created or updated resource but those of `skipped` entries.

    Checking a large bundle takes tens of milliseconds of CPU, so it lets the event loop run
    every `_CHECKS_PER_TURN` resources: a transaction of this worker that holds the store's
    writer (SQLite has one, for every worker) must not wait that long for its next step."""
    checked: dict[int, CheckedResource] = {}
    for entry in writes:
        if entry.index not in skipped and entry.request.interaction in ("create", "update"):
            if checked and len(checked) % _CHECKS_PER_TURN == 0:
                await asyncio.sleep(0)
            checked[entry.index] = _located(entry, lambda entry=entry: _check(entry, moment))
    return checked


async def _point_references(
    lookups: Lookups,
    readable: list[BundleEntry],
    references: dict[int, list[dict[str, Any]]],
    matched: dict[int, StoredVersion],
    fresh_id: Callable[[int], str],
) -> None:
    """Rewrite fullUrl references (conditional creates that matched keep the existing ids) and
    resolve conditional references in the store."""
    existing = {index: f"{s.resource_type}/{s.id}" for index, s in matched.items()}
    identities = assign_identities(readable, existing, fresh_id)
    for entry in readable:
        if entry.index in references and entry.index not in matched:
            where, found = f"{entry.location}.resource", references[entry.index]
            rewrite_references(entry.request.body, identities, where, found)
            await resolve_conditional_references(lookups, entry.request.body, where, found)


async def _conditional_create_matches(lookups: Lookups, writes: list[BundleEntry]) -> dict[int, StoredVersion]:
    """Entries whose If-None-Exist criteria matched an existing resource, by entry index."""
    matched = {}
    for entry in writes:
        criteria = entry.request.headers.get("if-none-exist")
        if entry.request.interaction == "create" and criteria is not None:
            where = f"{entry.location}.request.ifNoneExist"
            existing = await existing_match(lookups, entry.request.resource_type or "", criteria, where)
            if existing is not None:
                matched[entry.index] = existing
    return matched


async def _resolve_conditional_targets(
    lookups: Lookups, writes: list[BundleEntry], fresh_id: Callable[[int], str]
) -> None:
    """Turn `PUT/PATCH/DELETE Type?criteria` entries into plain instance writes on their match
    (http.html#cond-update): an update without a match creates (with the body's id or a new
    one), a delete without one does nothing, a patch without one is 404; several matches are 412.
    They are resolved first, so references to their fullUrl point at the resource they chose."""
    for entry in writes:
        request = entry.request
        if not request.interaction.startswith("conditional-"):
            continue
        where = f"{entry.location}.request.url"
        ids = await matching_ids(lookups, request.resource_type or "", urlencode(request.params), where)
        if len(ids) > 1:
            raise error(412, "multiple-matches", f"The criteria match {len(ids)} resources; refine them", where)
        match = next(iter(ids), None)
        request.interaction, request.params = request.interaction.removeprefix("conditional-"), []
        if request.interaction == "update":
            body_id = request.body.get("id") if isinstance(request.body, dict) else None
            if match is not None and body_id not in (None, match):
                message = f"The resource id '{body_id}' differs from the matched resource '{match}'"
                raise error(400, "invalid", message, f"{entry.location}.resource.id")
            request.id = match or body_id or fresh_id(entry.index)
            if isinstance(request.body, dict):
                request.body["id"] = request.id
        elif match is None and request.interaction == "patch":
            raise error(404, "not-found", "The conditional patch criteria match no resource", where)
        else:
            request.id = match  # None: a delete with nothing to delete


def _body_id(entry: BundleEntry) -> Any:
    return entry.request.body.get("id") if isinstance(entry.request.body, dict) else None


def _all_readable(entries: list[BundleEntry | FhirError]) -> list[BundleEntry]:
    issues = [issue for entry in entries if isinstance(entry, FhirError) for issue in entry.issues]
    if issues:
        raise FhirError(400, issues)
    return [entry for entry in entries if isinstance(entry, BundleEntry)]


def _refuse_unsupported(writes: list[BundleEntry]) -> None:
    for entry in writes:
        if entry.request.interaction not in _WRITES:
            raise error(
                400,
                "not-supported",
                f"'{entry.request.interaction}' cannot run inside a transaction",
                f"{entry.location}.request",
            )


def _refuse_repeated_targets(writes: list[BundleEntry]) -> None:
    """Two writes to one resource in one transaction have no defined order (http.html#trules)."""
    seen: set[tuple[str | None, str | None]] = set()
    for entry in writes:
        key = (entry.request.resource_type, entry.request.id)
        if key in seen:
            raise error(
                400, "invalid", f"{key[0]}/{key[1]} is written twice in one transaction", f"{entry.location}.request"
            )
        seen.add(key)


def _plan(
    entry: BundleEntry, current: dict[tuple[str, str], StoredVersion], moment: datetime, checked: CheckedResource | None
) -> NewVersion | None:
    request = entry.request
    if request.id is None and request.interaction == "delete":
        return None  # a conditional delete that matched nothing
    key = (request.resource_type or "", request.id or "")
    if_match = request.headers.get("if-match")

    def plan() -> NewVersion | None:
        if request.interaction == "create":
            return plan_create(checked or _check(entry, moment), moment, resource_id=request.id)
        if request.interaction == "update":
            return plan_update(checked or _check(entry, moment), key[1], current.get(key), moment, if_match)
        if request.interaction == "patch":
            return _plan_patch(entry, current.get(key), moment, if_match)
        return plan_delete(*key, current.get(key), moment, if_match)

    return _located(entry, plan)


def _check(entry: BundleEntry, moment: datetime) -> CheckedResource:
    if entry.request.interaction == "create":
        return check_create(_resource(entry), moment)
    return check_update(_resource(entry), entry.request.id or "", moment)


def _located(entry: BundleEntry, step: Callable[[], T]) -> T:
    """Run a step on one entry; its errors point into that entry."""
    try:
        return step()
    except FhirError as failure:
        raise failure.relocated(f"{entry.location}.resource", replacing=entry.request.resource_type) from None


def _resource(entry: BundleEntry) -> dict[str, Any]:
    body = entry.request.body
    if not isinstance(body, dict) or body.get("resourceType") != entry.request.resource_type:
        raise error(
            400, "invalid", f"The resource must be a {entry.request.resource_type}", f"{entry.location}.resource"
        )
    return body


def _plan_patch(
    entry: BundleEntry, current: StoredVersion | None, moment: datetime, if_match: str | None
) -> NewVersion:
    if current is None or current.deleted:
        raise error(404, "not-found", f"{entry.request.resource_type}/{entry.request.id} is not known")
    document = _patch_document(entry)
    patched = patch_interaction.apply_patch(jsonio.loads(current.body), document)
    return plan_update(
        check_update(patched, entry.request.id or "", moment), entry.request.id or "", current, moment, if_match
    )


def _patch_document(entry: BundleEntry) -> Any:
    """A PATCH entry's patch: a Parameters resource (FHIRPath Patch) as it is, or the JSON
    Patch held base64-encoded in a Binary resource (http.html#patch)."""
    body = entry.request.body
    if isinstance(body, dict) and body.get("resourceType") == "Parameters":
        return body
    if isinstance(body, dict) and body.get("resourceType") == "Binary" and isinstance(body.get("data"), str):
        try:
            return jsonio.loads(base64.b64decode(body["data"], validate=True))
        except binascii.Error:
            raise error(400, "structure", "Binary.data is not base64", f"{entry.location}.resource.data") from None
    message = "A PATCH entry needs a Parameters resource (FHIRPath Patch) or a Binary holding a JSON Patch"
    raise error(400, "structure", message, f"{entry.location}.resource")


def _existing_response(stored: StoredVersion) -> dict[str, Any]:
    location = f"{stored.resource_type}/{stored.id}/_history/{stored.version}"
    return {"response": {"status": "200 OK", "location": location, "etag": etag(stored.version)}}


def _write_response(version: NewVersion | None, preference: str) -> dict[str, Any]:
    if version is None:
        return {"response": {"status": "204 No Content"}}
    created = version.version == 1
    response: dict[str, Any] = {
        "status": "201 Created" if created else ("204 No Content" if version.deleted else "200 OK"),
        "location": f"{version.resource_type}/{version.id}/_history/{version.version}",
        "etag": etag(version.version),
        "lastModified": fhir_instant(version.last_updated),
    }
    entry: dict[str, Any] = {"response": response}
    if preference == REPRESENTATION and not version.deleted:
        entry["resource"] = jsonio.loads(version.body)
    elif preference == OUTCOME:
        entry["response"]["outcome"] = operation_outcome([])
    return entry
