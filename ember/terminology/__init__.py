"""Ember's terminology service: code systems, value sets and concept maps for the rest of Ember.

The operations live in ember/operations/ ($lookup, $validate-code, $subsumes, $expand, $translate);
this package is what they and other features call. Public hooks (typed, documented, stable):

* `install()`: registers the write observer that keeps canonical urls and stored closures current;
  every entry point that writes (the REST app, the CLI) calls it once.
* `member_of(coded_value, value_set_url)`: the FHIRPath `memberOf()` hook (synchronous; core value
  sets only, None when it cannot tell).
* `value_set_codes(ctx, store, url)`: the (system, code) pairs of an expansion, for `:in`/`:not-in`.
* `ancestors(store, system, code)` / `descendants(store, system, code)`: for `:above`/`:below`,
  from the stored closure (users' code systems) or the core index.
* `translate_code(ctx, store, concept_map_url, system, code)`: ConceptMap translation for the
  HL7 v2 bridge (ember.terminology.translation).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from ember.access import AccessContext
from ember.interactions.observers import WRITE_OBSERVERS
from ember.store import terminology_index
from ember.store.base import Store
from ember.terminology.canonical import track_terminology_writes
from ember.terminology.core import core_code_system, core_resource
from ember.terminology.expansion import expand
from ember.terminology.resolve import Terminology
from ember.terminology.translation import Match, translate_code

__all__ = ["Match", "ancestors", "descendants", "install", "member_of", "translate_code", "value_set_codes"]


def install() -> None:
    """Register the terminology write observer (idempotent)."""
    if track_terminology_writes not in WRITE_OBSERVERS:
        WRITE_OBSERVERS.append(track_terminology_writes)


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
    if stored:
        return stored
    index = core_code_system(system)
    if index is None or index.find(code) is None:
        return []
    related = index.descendants(code) if below else sorted(index.ancestors.get(code, frozenset()))
    return sorted({code, *related})


def member_of(coded_value: Any, value_set_url: str) -> bool | None:
    """FHIRPath `memberOf()`: is a code, Coding or CodeableConcept in a core value set whose
    includes are concept lists or whole code systems? None when that cannot be told here (users'
    value sets need the store, which a synchronous FHIRPath evaluation cannot reach)."""
    members = _core_members(value_set_url.partition("|")[0])
    if members is None:
        return None
    codes = {code for _, code in members}
    return any(code in codes if system is None else (system, code) in members for system, code in _codings(coded_value))


@cache
def _core_members(url: str) -> frozenset[tuple[str, str]] | None:
    """The (system, code) members of a core value set, or None when it is unknown or uses
    filters or imports (those need the expansion engine, which is asynchronous)."""
    value_set = core_resource("ValueSet", url)
    if value_set is None:
        return None
    members: set[tuple[str, str]] = set()
    for include in (value_set.get("compose") or {}).get("include") or []:
        if include.get("filter") or include.get("valueSet") or not include.get("system"):
            return None
        listed = [c["code"] for c in include.get("concept") or []]
        if not listed:
            index = core_code_system(include["system"])
            if index is None:
                return None
            listed = list(index.concepts)
        members |= {(include["system"], code) for code in listed}
    return frozenset(members)


def _codings(value: Any) -> list[tuple[str | None, str]]:
    if isinstance(value, str):
        return [(None, value)]
    if not isinstance(value, dict):
        return []
    if isinstance(value.get("code"), str):
        return [(value.get("system"), value["code"])]
    return [(c.get("system"), c["code"]) for c in value.get("coding") or [] if isinstance(c.get("code"), str)]
