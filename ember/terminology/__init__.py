"""Ember's terminology service: code systems, value sets and concept maps for the rest of Ember.

The operations live in ember/operations/ ($lookup, $validate-code, $subsumes, $expand, $translate);
this package is what they and other features call. Public hooks (typed, documented, stable):

* `install()`: registers the write observers that keep canonical urls and stored closures current,
  and makes this worker's snapshot (ember.terminology.snapshot) answer the model layer's
  synchronous questions: required bindings on write, FHIRPath `memberOf()`/`subsumes()`
  (ember.fhir.terminology_hooks.installed()). Every entry point (the REST app, the CLI) calls it.
* `start(store)`: at start-up, caches the R4 core in the store (once per database, see
  ember.terminology.core.stored) and reads the snapshot.
* `keep_current(store)`: brings the snapshot up to date; the dispatcher calls it before each request.
* `value_set_codes(ctx, store, url)`: the (system, code) pairs of an expansion, for `:in`/`:not-in`.
* `ancestors(store, system, code)` / `descendants(store, system, code)`: for `:above`/`:below`,
  from the stored closure (users' and the cached core's code systems; the in-memory core for a
  database whose core was never cached).
* `translate_code(ctx, store, concept_map_url, system, code)`: ConceptMap translation for the
  HL7 v2 bridge (ember.terminology.translation).
"""

from __future__ import annotations

from ember.access import AccessContext
from ember.interactions.observers import WRITE_OBSERVERS
from ember.store import terminology_index
from ember.store.base import Store
from ember.terminology import snapshot
from ember.terminology.canonical import CANONICAL, canonical_key, track_terminology_writes
from ember.terminology.core import core_code_system
from ember.terminology.core.stored import CoreLoad, ensure_core
from ember.terminology.expansion import expand
from ember.terminology.resolve import Terminology
from ember.terminology.snapshot import keep_current
from ember.terminology.translation import Match, translate_code

__all__ = [
    "Match",
    "ancestors",
    "descendants",
    "install",
    "keep_current",
    "start",
    "translate_code",
    "value_set_codes",
]


def install() -> None:
    """Register the terminology write observers (once) and answer the model layer from a fresh
    snapshot (core only until the first `keep_current`)."""
    for observer in (track_terminology_writes, snapshot.notice_writes):
        if observer not in WRITE_OBSERVERS:
            WRITE_OBSERVERS.append(observer)
    snapshot.install_fresh()


async def start(store: Store) -> CoreLoad:
    """At start-up (after `install()`): cache the core in `store` unless it already holds this
    package's, then read this worker's snapshot."""
    load = await ensure_core(store)
    await keep_current(store)
    return load


async def value_set_codes(ctx: AccessContext, store: Store, url: str) -> list[tuple[str, str]] | None:
    """The (system, code) pairs of value set `url`'s expansion; None when the value set is unknown.
    Cached per value set version, so a search can call it per query."""
    term = Terminology(ctx, store)
    value_set = await term.resource("ValueSet", url)
    if value_set is None:
        return None
    return [(member.system, member.code) for member in await expand(term, value_set)]


async def descendants(store: Store, system: str, code: str) -> list[str]:
    """`code` and every code below it in `system` (`:below`); empty when unknown."""
    return await _closure(store, system, code, below=True)


async def ancestors(store: Store, system: str, code: str) -> list[str]:
    """`code` and every code above it in `system` (`:above`); empty when unknown."""
    return await _closure(store, system, code, below=False)


async def _closure(store: Store, system: str, code: str, *, below: bool) -> list[str]:
    async with store.transaction() as tx:
        lookup = terminology_index.descendants if below else terminology_index.ancestors
        stored = await lookup(tx, system, code)
        owned = stored or await tx.get_record(CANONICAL, canonical_key("CodeSystem", system)) is not None
    if owned:
        return stored
    # A database whose core is not cached (tools that never started the server) still has it here.
    index = core_code_system(system)
    if index is None or index.find(code) is None:
        return []
    related = index.descendants(code) if below else sorted(index.ancestors.get(code, frozenset()))
    return sorted({code, *related})
