"""ValueSet expansion and membership: compose include/exclude by concept list, filter, whole
system and imported value sets.

`expand` enumerates every member (cached per value set version and the versions of everything it
drew on, so paging through a 100,000-code expansion does not rebuild it per page); `find_member`
answers "is this code in the value set" without expanding, which keeps $validate-code fast on big
code systems. Both read an include the same way, so they always agree.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any
from weakref import WeakKeyDictionary

from ember.fhir.outcome import error
from ember.terminology.concepts import CodeSystemIndex, Concept
from ember.terminology.filters import check_filter, matches
from ember.terminology.resolve import Stamp, Terminology, settle_if_large

_MAX_DEPTH = 10  # nested valueSet imports; deeper (or circular) is refused
_CACHE_SIZE = 32
_WORD_SPLIT = re.compile(r"[^\w]+")
_expansions: WeakKeyDictionary[Any, OrderedDict[str, tuple[dict[tuple[str, str], Stamp | None], list[Member]]]] = (
    WeakKeyDictionary()
)


@dataclass(slots=True)
class Member:
    """One code of an expansion."""

    system: str
    code: str
    display: str | None = None
    version: str | None = None
    inactive: bool = False
    abstract: bool = False
    designations: list[dict[str, Any]] = field(default_factory=list)
    _search_key: str | None = None

    def starts_a_word(self, text: str) -> bool:
        """The $expand `filter` test: `text` (lower case) begins the code or a word of the display
        ("abdo" finds "Abdominal pain"). The key is built once per cached expansion, so a
        type-ahead query over a large expansion is one substring search per member."""
        if self._search_key is None:
            words = _WORD_SPLIT.split(f"{self.code} {self.display or ''}".lower())
            self._search_key = " " + " ".join(words)
        return f" {text}" in self._search_key


def _member(system: CodeSystemIndex, concept: Concept) -> Member:
    return Member(
        system.url,
        concept.code,
        concept.display,
        system.version,
        concept.inactive,
        concept.abstract,
        concept.designations,
    )


async def expand(term: Terminology, value_set: dict[str, Any]) -> list[Member]:
    """Every member of `value_set`, in compose order, each (system, code) once."""
    url = value_set.get("url")
    stamp = await term.stamp("ValueSet", url) if isinstance(url, str) else None
    key = f"{url}|{stamp}"
    cache = _expansions.setdefault(term.store, OrderedDict())
    if isinstance(url, str) and key in cache:
        dependencies, members = cache[key]
        if all([await term.stamp(*dep) == owner for dep, owner in dependencies.items()]):
            return members
    members = await _expand(term, value_set, 0)
    if isinstance(url, str):
        settle_if_large(len(members))
        cache[key] = (term.looked_up(), members)
        while len(cache) > _CACHE_SIZE:
            cache.popitem(last=False)
    return members


async def _expand(term: Terminology, value_set: dict[str, Any], depth: int) -> list[Member]:
    compose = value_set.get("compose")
    if not isinstance(compose, dict):
        return _shipped_expansion(value_set)
    chosen: dict[tuple[str, str], Member] = {}
    for include in _parts(compose, "include"):
        for member in await _include_members(term, include, depth):
            chosen.setdefault((member.system, member.code), member)
    for exclude in _parts(compose, "exclude"):
        for member in await _include_members(term, exclude, depth):
            chosen.pop((member.system, member.code), None)
    if compose.get("inactive") is False:
        return [member for member in chosen.values() if not member.inactive]
    return list(chosen.values())


async def find_member(
    term: Terminology, value_set: dict[str, Any], system: str | None, code: str, depth: int = 0
) -> Member | None:
    """The member (system, code) of `value_set`, or None; `system` None matches any system."""
    compose = value_set.get("compose")
    if not isinstance(compose, dict):
        return next((m for m in _shipped_expansion(value_set) if m.code == code and system in (None, m.system)), None)
    found = None
    for include in _parts(compose, "include"):
        found = await _include_member(term, include, system, code, depth)
        if found is not None:
            break
    if found is None or (compose.get("inactive") is False and found.inactive):
        return None
    for exclude in _parts(compose, "exclude"):
        if await _include_member(term, exclude, found.system, found.code, depth) is not None:
            return None
    return found


async def _include_members(term: Terminology, include: dict[str, Any], depth: int) -> list[Member]:
    members = await _system_members(term, include) if isinstance(include.get("system"), str) else None
    for imported in await _imports(term, include, depth):
        inside = {(m.system, m.code) for m in await _expand(term, imported, depth + 1)}
        if members is None:
            members = await _expand(term, imported, depth + 1)
        else:
            members = [m for m in members if (m.system, m.code) in inside]
    return members or []


async def _include_member(
    term: Terminology, include: dict[str, Any], system: str | None, code: str, depth: int
) -> Member | None:
    found = None
    if isinstance(include.get("system"), str):
        if system not in (None, include["system"]):
            return None
        found = await _system_member(term, include, code)
        if found is None:
            return None
    for imported in await _imports(term, include, depth):
        inside = await find_member(term, imported, found.system if found else system, code, depth + 1)
        if inside is None:
            return None
        found = found or inside
    return found


async def _system_members(term: Terminology, include: dict[str, Any]) -> list[Member]:
    url = include["system"]
    index = await term.code_system(url)
    listed = _parts(include, "concept")
    if listed:
        return [_listed_member(url, index, raw) for raw in listed if index is None or index.find(raw["code"])]
    if index is None:
        raise error(422, "not-found", f"Code system '{url[:200]}' is not known to this server", "ValueSet.compose")
    filters = [check_filter(raw) for raw in include.get("filter") or []]
    return [_member(index, c) for c in index.concepts.values() if matches(index, c, filters)]


async def _system_member(term: Terminology, include: dict[str, Any], code: str) -> Member | None:
    url = include["system"]
    index = await term.code_system(url)
    listed = _parts(include, "concept")
    if listed:
        raw = next((raw for raw in listed if raw["code"] == code), None)
        if raw is None or (index is not None and index.find(code) is None):
            return None
        return _listed_member(url, index, raw)
    if index is None:
        raise error(422, "not-found", f"Code system '{url[:200]}' is not known to this server", "ValueSet.compose")
    concept = index.find(code)
    filters = [check_filter(raw) for raw in include.get("filter") or []]
    if concept is None or not matches(index, concept, filters):
        return None
    return _member(index, concept)


def _listed_member(url: str, index: CodeSystemIndex | None, raw: dict[str, Any]) -> Member:
    """A member enumerated in compose: its own display wins, the code system supplies the rest."""
    concept = index.find(raw["code"]) if index is not None else None
    member = _member(index, concept) if index is not None and concept is not None else Member(url, raw["code"])
    member.display = raw.get("display") or member.display
    member.designations = raw.get("designation") or member.designations
    return member


async def _imports(term: Terminology, include: dict[str, Any], depth: int) -> list[dict[str, Any]]:
    urls = [url for url in include.get("valueSet") or [] if isinstance(url, str)]
    if urls and depth >= _MAX_DEPTH:
        raise error(422, "too-costly", f"Value set imports nest deeper than {_MAX_DEPTH} (circular?)")
    value_sets = []
    for url in urls:
        value_set = await term.resource("ValueSet", url)
        if value_set is None:
            raise error(422, "not-found", f"Imported value set '{url[:200]}' is not known", "ValueSet.compose")
        value_sets.append(value_set)
    return value_sets


def _parts(holder: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """The well-formed entries (objects, with a string `code` for concepts) of a list element."""
    items = holder.get(name) or []
    if not isinstance(items, list):
        return []
    return [i for i in items if isinstance(i, dict) and (name != "concept" or isinstance(i.get("code"), str))]


def _shipped_expansion(value_set: dict[str, Any]) -> list[Member]:
    """The members of a value set that has an expansion but no compose (it is its own definition)."""
    members: list[Member] = []
    pending = list((value_set.get("expansion") or {}).get("contains") or [])
    while pending:
        item = pending.pop(0)
        if isinstance(item, dict) and isinstance(item.get("code"), str) and isinstance(item.get("system"), str):
            members.append(Member(item["system"], item["code"], item.get("display"), item.get("version")))
        if isinstance(item, dict):
            pending[:0] = item.get("contains") or []
    return members
