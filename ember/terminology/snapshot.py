"""This worker's synchronous view of the terminology, for what runs inside a write.

Required-binding validation and FHIRPath `memberOf()`/`subsumes()` (invariants on write, the
`ember fhirpath` command) are synchronous: they cannot look a canonical url up in the store. So each
worker keeps a `Snapshot`: which users' CodeSystem and ValueSet resources own which canonical urls
(every record of ember.terminology.canonical, read in one query), and the parsed resources that
the value sets of required bindings draw on, fetched ahead. Core resources need no fetching (they
are in memory, ember.terminology.core). Membership is the service's own (expansion.member_in), so
value sets with filters and imports work, and a user's resource with a core url wins here too.

The dispatcher calls `keep_current(store)` before each request: the snapshot is rebuilt when this
worker wrote a CodeSystem or ValueSet, and otherwise every REFRESH_SECONDS when the newest history
position of either type moved (one indexed query each), so a value set written through another
worker is enforced everywhere within that time; between changes a request pays one clock read.
A canonical nothing fetched ahead (a `memberOf()` on a value set no binding names) is unknown on
its first use (an empty result, which no invariant counts as violated), noted, and fetched at the
next `keep_current`; `settle` runs an evaluation again until nothing is missing (the CLI uses it).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from ember.access import AccessContext
from ember.fhir import model, terminology_hooks
from ember.fhir.outcome import FhirError
from ember.fhir.terminology_hooks import AllowedCodes
from ember.store.base import NewVersion, Store, Transaction
from ember.store.positions import newest_positions
from ember.terminology.canonical import CANONICAL
from ember.terminology.concepts import CodeSystemIndex
from ember.terminology.core import active_core, core_code_system, core_resource, package_core, use_core
from ember.terminology.core.stored import read_core, stored_digest
from ember.terminology.expansion import expand_in, member_in, touch
from ember.terminology.resolve import Stamp, Terminology, Unresolved

T = TypeVar("T")

REFRESH_SECONDS = 2.0
#: How often a worker checks which core its database holds (only another version's start changes it).
CORE_REFRESH_SECONDS = 60.0
#: Value sets with more members than this are tested code by code instead of enumerated.
ENUMERATED_LIMIT = 10_000
_WATCHED = ("CodeSystem", "ValueSet")
_MAX_NOTED = 256
_MAX_SETTLE_ROUNDS = 10
_CTX = AccessContext.system("terminology")
_MATCHING_OUTCOMES = frozenset({"equivalent", "subsumes"})

Key = tuple[str, str]  # (resource type, canonical url or url|version)


class Snapshot:
    """Canonical resolution without I/O: users' resources it holds, else the core. It answers
    the model layer's questions (ember.fhir.terminology_hooks.ModelTerminology) and is the
    `Canonicals` the synchronous membership logic reads."""

    def __init__(self, owners: dict[Key, Stamp] | None = None) -> None:
        self.owners: dict[Key, Stamp] = owners or {}
        self.held: dict[Stamp, Any] = {}
        self.noted: set[Key] = set()
        self._allowed: dict[str, AllowedCodes | None] = {}

    # --- Canonicals ---

    def value_set(self, url: str) -> dict[str, Any] | None:
        stamp = self.owners.get(("ValueSet", url))
        if stamp is None:
            return core_resource("ValueSet", url.partition("|")[0])
        return self._held(stamp, ("ValueSet", url))

    def code_system(self, url: str) -> CodeSystemIndex | None:
        stamp = self.owners.get(("CodeSystem", url))
        if stamp is None:
            return core_code_system(url.partition("|")[0])
        return self._held(stamp, ("CodeSystem", url))

    def _held(self, stamp: Stamp, key: Key) -> Any:
        if stamp not in self.held:
            raise Unresolved(*key)
        return self.held[stamp]

    # --- ModelTerminology ---

    def member_of(self, coded: Any, value_set: str) -> bool | None:
        try:
            found = self.value_set(value_set)
            if found is None:
                return None
            return any(member_in(self, found, system, code) is not None for system, code in coded_values(coded))
        except Unresolved as missing:
            self._note(missing)
        except FhirError:
            pass  # a value set that cannot be evaluated (an unknown system, circular imports)
        return None

    def subsumes(self, coded_a: Any, coded_b: Any) -> bool | None:
        """True when a coding of A is equivalent to or subsumes a coding of B in their (shared)
        code system; None when no pair shares a known code system with both codes in it."""
        answer = None
        for system_a, code_a in coded_values(coded_a):
            for system_b, code_b in coded_values(coded_b):
                if system_a is None or system_a != system_b:
                    continue
                outcome = self._subsumption(system_a, code_a, code_b)
                if outcome is not None:
                    if outcome in _MATCHING_OUTCOMES:
                        return True
                    answer = False
        return answer

    def _subsumption(self, system: str, code_a: str, code_b: str) -> str | None:
        try:
            index = self.code_system(system)
        except Unresolved as missing:
            self._note(missing)
            return None
        concept_a = index.find(code_a) if index is not None else None
        concept_b = index.find(code_b) if index is not None else None
        if index is None or concept_a is None or concept_b is None:
            return None
        return index.subsumption(concept_a.code, concept_b.code)

    def allowed_codes(self, value_set: str) -> AllowedCodes | None:
        try:
            return self._allowed[value_set]  # on every bound code of every write: one dict lookup
        except KeyError:
            pass
        try:
            allowed = self._allowed_codes(value_set)
        except Unresolved as missing:
            self._note(missing)
            return None  # not remembered: fetched at the next keep_current
        self._allowed[value_set] = allowed
        return allowed

    def _allowed_codes(self, url: str) -> AllowedCodes | None:
        found = self.value_set(url)
        if found is None:
            return None
        try:
            members = expand_in(self, found)
        except FhirError:
            return None  # its codes cannot be known here (a code system that is not loaded)
        systems = frozenset(member.system for member in members)
        if len(members) > ENUMERATED_LIMIT:
            return AllowedCodes(systems, lambda system, code: member_in(self, found, system, code) is not None)
        codes = frozenset(member.code for member in members)
        pairs = frozenset((member.system, member.code) for member in members)
        return AllowedCodes(systems, lambda system, code: code in codes if system is None else (system, code) in pairs)

    def _note(self, missing: Unresolved) -> None:
        if len(self.noted) < _MAX_NOTED:
            self.noted.add((missing.resource_type, missing.url))

    # --- fetching ahead ---

    async def fetch(self, store: Store, keys: Iterable[Key]) -> None:
        """Hold what answering about each canonical in `keys` needs (a value set: what it draws on)."""
        term = Terminology(_CTX, store)
        for resource_type, url in keys:
            while True:
                try:
                    if resource_type == "CodeSystem":
                        self.code_system(url)
                    elif (found := self.value_set(url)) is not None:
                        touch(self, found)
                    break
                except Unresolved as missing:
                    await self._fetch(term, (missing.resource_type, missing.url))

    async def _fetch(self, term: Terminology, key: Key) -> None:
        stamp = self.owners[key]
        try:
            if key[0] == "CodeSystem":
                self.held[stamp] = await term.code_system_at(stamp)
            else:
                self.held[stamp] = await term.resource_at(stamp)
        except FhirError:
            self.held[stamp] = None  # deleted since the owners were read: unknown until the next reload


def coded_values(value: Any) -> list[tuple[str | None, str]]:
    """(system, code) pairs of a code (no system), a Coding or a CodeableConcept; a system that
    is not a string counts as none."""
    if isinstance(value, str):
        return [(None, value)]
    if not isinstance(value, dict):
        return []
    codings = [value] if "code" in value else value.get("coding")
    if not isinstance(codings, list):
        return []
    pairs: list[tuple[str | None, str]] = []
    for coding in codings:
        if isinstance(coding, dict) and isinstance(coding.get("code"), str):
            system = coding.get("system")
            pairs.append((system if isinstance(system, str) else None, coding["code"]))
    return pairs


@dataclass(slots=True)
class _Installed:
    """The snapshot answering the model layer, which store it was read from, as of which
    history positions, and when the store's core was last checked."""

    snapshot: Snapshot
    store: int | None = None
    marker: tuple[int, ...] = ()
    checked_at: float = float("-inf")
    core_checked_at: float = float("-inf")
    stale: bool = True

    def use(self, snapshot: Snapshot, store: int | None = None, marker: tuple[int, ...] = ()) -> None:
        self.snapshot, self.store, self.marker = snapshot, store, marker
        terminology_hooks.install(snapshot)


_installed = _Installed(Snapshot())


def current() -> Snapshot:
    return _installed.snapshot


def install_fresh() -> None:
    """Start over with an empty snapshot (core only) answering the model layer."""
    _installed.use(Snapshot())
    _installed.checked_at = _installed.core_checked_at = float("-inf")
    _installed.stale = True


async def keep_current(store: Store) -> None:
    """Rebuild the snapshot when this worker wrote terminology, another worker may have, the
    store's core changed, or the store is not the one it was read from; fetch what the last
    evaluations found missing."""
    now = time.monotonic()
    same_store = _installed.store == id(store)
    if same_store and not _installed.stale and now - _installed.checked_at < REFRESH_SECONDS:
        await _fetch_noted(store, _installed.snapshot)
        return
    stale = _installed.stale
    _installed.checked_at, _installed.stale = now, False
    core_changed = await _serve_stored_core(store, now, same_store)
    marker = await newest_positions(store, _WATCHED)
    if same_store and not stale and not core_changed and marker == _installed.marker:
        await _fetch_noted(store, _installed.snapshot)
        return
    fresh = Snapshot(await _owners(store))
    await fresh.fetch(store, [("ValueSet", url) for url in model.required_value_set_urls()])
    await fresh.fetch(store, _installed.snapshot.noted)
    _installed.use(fresh, id(store), marker)


async def _serve_stored_core(store: Store, now: float, same_store: bool) -> bool:
    """Serve the core `store` holds (checked once a minute): the package's copy when the digests
    agree, and for a database with no core cached; else the stored rows (a newer Ember version
    refreshed them while this worker runs). Whether the served core changed."""
    if same_store and now - _installed.core_checked_at < CORE_REFRESH_SECONDS:
        return False
    _installed.core_checked_at = now
    package = package_core()
    wanted = await stored_digest(store) or package.digest
    if active_core().digest == wanted:
        return False
    use_core(package if wanted == package.digest else await read_core(store) or package)
    return True


async def _fetch_noted(store: Store, snapshot: Snapshot) -> None:
    noted, snapshot.noted = snapshot.noted, set()
    if noted:
        await snapshot.fetch(store, noted)


async def settle(store: Store, evaluate: Callable[[], T]) -> T:
    """`evaluate()` once every canonical it asks about is at hand: run it, fetch what it found
    missing, run it again (a few rounds at most: each round fetches one import level)."""
    await keep_current(store)
    result = evaluate()
    for _ in range(_MAX_SETTLE_ROUNDS):
        if not current().noted:
            break
        await keep_current(store)
        result = evaluate()
    return result


async def _owners(store: Store) -> dict[Key, Stamp]:
    """Every canonical url (and url|version) a user's CodeSystem or ValueSet owns."""
    owners: dict[Key, Stamp] = {}
    async with store.transaction() as tx:
        for resource_type in _WATCHED:
            records = await tx.list_records(CANONICAL, prefix=f"{resource_type} ", limit=1_000_000)
            for key, record in records:
                owners[(resource_type, key.partition(" ")[2])] = (record["type"], record["id"], record["version"])
    return owners


async def notice_writes(transaction: Transaction, versions: Sequence[NewVersion]) -> None:
    """Write observer: this worker changed terminology, so rebuild before the next request."""
    if any(version.resource_type in _WATCHED for version in versions):
        _installed.stale = True
