"""Keeps this worker's installed consent denials in step with the stored Consent resources.

The dispatcher calls `keep_current(store)` before each request (like custom SearchParameters).
A write of a Consent or a PractitionerRole (which places practitioners in an organization an
actor may name) through this worker marks the set stale, so the next request reloads it; every
few seconds a worker also compares the newest history position of both types with the one it
loaded, so a Consent written through another worker is enforced everywhere within
`REFRESH_SECONDS`. Loading happens only when something changed; between changes a request pays
one clock read.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence

from ember.access import AccessContext
from ember.consent.provisions import CONSENT_SCOPE_SYSTEM, denials_of
from ember.fhir import jsonio
from ember.interactions.observers import WRITE_OBSERVERS
from ember.store.base import NewVersion, Store, Transaction
from ember.store.consent_rules import ConsentDenial, ConsentDenials, install
from ember.store.positions import newest_positions
from ember.store.search_query import AnyOf, Condition, ReferenceCondition, SearchQuery, SortKey, TokenCondition

REFRESH_SECONDS = 2.0
_WATCHED = ("Consent", "PractitionerRole")
_CTX = AccessContext.system("consent")


@dataclasses.dataclass(slots=True)
class _Loaded:
    """What this worker installed: from which store, as of which history positions."""

    store: int | None = None
    marker: tuple[int, ...] = ()
    checked_at: float = float("-inf")
    stale: bool = True


_LOADED = _Loaded()


async def keep_current(store: Store) -> None:
    """Reload the denials when this worker wrote a Consent, another worker may have, or the store
    is not the one they were loaded from."""
    now = time.monotonic()
    same_store = _LOADED.store == id(store)
    if same_store and not _LOADED.stale and now - _LOADED.checked_at < REFRESH_SECONDS:
        return
    _LOADED.checked_at, stale = now, _LOADED.stale
    _LOADED.stale = False
    marker = await newest_positions(store, _WATCHED)
    if same_store and not stale and marker == _LOADED.marker:
        return
    install(ConsentDenials(await load_denials(store)))
    _LOADED.store, _LOADED.marker = id(store), marker


async def load_denials(store: Store) -> list[ConsentDenial]:
    """Every deny provision of the active patient-privacy Consents, organizations expanded."""
    conditions = (
        TokenCondition("status", None, "active"),
        TokenCondition("scope", CONSENT_SCOPE_SYSTEM, "patient-privacy"),
    )
    denials = [denial for body in await _bodies(store, "Consent", conditions) for denial in denials_of(body)]
    organizations = sorted({a for d in denials for a in d.actors if a.startswith("Organization/")})
    if not organizations:
        return denials
    members = await _organization_members(store, organizations)
    return [
        dataclasses.replace(d, actors=d.actors.union(*(members.get(a, ()) for a in d.actors))) if d.actors else d
        for d in denials
    ]


async def _organization_members(store: Store, organizations: Sequence[str]) -> dict[str, set[str]]:
    """Organization reference -> the practitioners (and their roles) a PractitionerRole places
    in it: a Consent denying the organization denies them (inactive roles too: when in doubt,
    deny)."""
    refs = tuple(ReferenceCondition("organization", "Organization", org.split("/")[1]) for org in organizations)
    conditions: tuple[Condition, ...] = (AnyOf(refs),)
    members: dict[str, set[str]] = {}
    for role in await _bodies(store, "PractitionerRole", conditions):
        organization = (role.get("organization") or {}).get("reference")
        practitioner = (role.get("practitioner") or {}).get("reference")
        keys = members.setdefault(str(organization), set())
        keys.add(f"PractitionerRole/{role['id']}")
        if isinstance(practitioner, str):
            keys.add(practitioner)
    return members


async def _bodies(store: Store, resource_type: str, conditions: tuple[Condition, ...]) -> list[dict]:
    query = SearchQuery((resource_type,), conditions, (SortKey("_id", None),), count=500)
    found: list[dict] = []
    while True:
        matches, more = await store.search(_CTX, query)
        found += [jsonio.loads(match.body) for match in matches]
        if not more:
            return found
        query = dataclasses.replace(query, after=matches[-1].position)


async def _notice_writes(transaction: Transaction, versions: Sequence[NewVersion]) -> None:
    if any(version.resource_type in _WATCHED for version in versions):
        _LOADED.stale = True


WRITE_OBSERVERS.append(_notice_writes)
