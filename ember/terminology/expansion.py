"""ValueSet expansion and membership: compose include/exclude by concept list, filter, whole
system and imported value sets.

`expand` enumerates every member (cached per value set version and the versions of everything it
drew on, so paging through a 100,000-code expansion does not rebuild it per page); `find_member`
answers "is this code in the value set" without expanding, which keeps $validate-code fast on big
code systems. Both read an include the same way, so they always agree.

The logic itself (`expand_in`, `member_in`) is synchronous over `Canonicals`: the asynchronous
entry points first `gather` every value set and code system the compose names (its imports,
recursively), then run it; FHIRPath `memberOf()` and required bindings run it on this worker's
snapshot instead (ember/terminology/snapshot.py).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any
from weakref import WeakKeyDictionary

from ember.fhir.outcome import error
from ember.terminology.concepts import CodeSystemIndex, Concept
from ember.terminology.core import active_core
from ember.terminology.filters import check_filter, matches
from ember.terminology.resolve import Canonicals, Gathered, Stamp, Terminology, Unresolved, settle_if_large

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


async def gather(term: Terminology, value_set: dict[str, Any]) -> Gathered:
    """Every canonical `value_set` names (its imports' too), resolved through `term`."""
    gathered = Gathered()
    while True:
        try:
            touch(gathered, value_set)
            return gathered
        except Unresolved as missing:
            await gathered.fetch(term, missing)


def touch(canonicals: Canonicals, value_set: dict[str, Any], depth: int = 0, seen: set[str] | None = None) -> None:
    """Look up what expanding or testing `value_set` will look up (raising Unresolved for what is
    not at hand). Past the import depth limit the expansion itself reports the error."""
    compose = value_set.get("compose")
    if not isinstance(compose, dict):
        return
    seen = set() if seen is None else seen
    for part in _parts(compose, "include") + _parts(compose, "exclude"):
        if isinstance(part.get("system"), str):
            canonicals.code_system(part["system"])
        for url in _import_urls(part) if depth < _MAX_DEPTH else []:
            if url not in seen:
                seen.add(url)
                imported = canonicals.value_set(url)
                if imported is not None:
                    touch(canonicals, imported, depth + 1, seen)


async def expand(term: Terminology, value_set: dict[str, Any]) -> list[Member]:
    """Every member of `value_set`, in compose order, each (system, code) once."""
    url = value_set.get("url")
    stamp = await term.stamp("ValueSet", url) if isinstance(url, str) else None
    key = f"{url}|{stamp}|{active_core().digest}"  # core resources have no stamp, but a digest
    cache = _expansions.setdefault(term.store, OrderedDict())
    if isinstance(url, str) and key in cache:
        dependencies, members = cache[key]
        if all([await term.stamp(*dep) == owner for dep, owner in dependencies.items()]):
            return members
    members = expand_in(await gather(term, value_set), value_set)
    if isinstance(url, str):
        settle_if_large(len(members))
        cache[key] = (term.looked_up(), members)
        while len(cache) > _CACHE_SIZE:
            cache.popitem(last=False)
    return members


async def find_member(term: Terminology, value_set: dict[str, Any], system: str | None, code: str) -> Member | None:
    """The member (system, code) of `value_set`, or None; `system` None matches any system."""
    return member_in(await gather(term, value_set), value_set, system, code)


def expand_in(canonicals: Canonicals, value_set: dict[str, Any], depth: int = 0) -> list[Member]:
    """Every member of `value_set`, in compose order, each (system, code) once."""
    compose = value_set.get("compose")
    if not isinstance(compose, dict):
        return _shipped_expansion(value_set)
    chosen: dict[tuple[str, str], Member] = {}
    for include in _parts(compose, "include"):
        for member in _include_members(canonicals, include, depth):
            chosen.setdefault((member.system, member.code), member)
    for exclude in _parts(compose, "exclude"):
        for member in _include_members(canonicals, exclude, depth):
            chosen.pop((member.system, member.code), None)
    if compose.get("inactive") is False:
        return [member for member in chosen.values() if not member.inactive]
    return list(chosen.values())


def member_in(
    canonicals: Canonicals, value_set: dict[str, Any], system: str | None, code: str, depth: int = 0
) -> Member | None:
    """The member (system, code) of `value_set`, or None; `system` None matches any system."""
    compose = value_set.get("compose")
    if not isinstance(compose, dict):
        return next((m for m in _shipped_expansion(value_set) if m.code == code and system in (None, m.system)), None)
    found = None
    for include in _parts(compose, "include"):
        found = _include_member(canonicals, include, system, code, depth)
        if found is not None:
            break
    if found is None or (compose.get("inactive") is False and found.inactive):
        return None
    for exclude in _parts(compose, "exclude"):
        if _include_member(canonicals, exclude, found.system, found.code, depth) is not None:
            return None
    return found


def _include_members(canonicals: Canonicals, include: dict[str, Any], depth: int) -> list[Member]:
    members = _system_members(canonicals, include) if isinstance(include.get("system"), str) else None
    for imported in _imports(canonicals, include, depth):
        inside = expand_in(canonicals, imported, depth + 1)
        if members is None:
            members = inside
        else:
            kept = {(m.system, m.code) for m in inside}
            members = [m for m in members if (m.system, m.code) in kept]
    return members or []


def _include_member(
    canonicals: Canonicals, include: dict[str, Any], system: str | None, code: str, depth: int
) -> Member | None:
    found = None
    if isinstance(include.get("system"), str):
        if system not in (None, include["system"]):
            return None
        found = _system_member(canonicals, include, code)
        if found is None:
            return None
    for imported in _imports(canonicals, include, depth):
        inside = member_in(canonicals, imported, found.system if found else system, code, depth + 1)
        if inside is None:
            return None
        found = found or inside
    return found


def _system_members(canonicals: Canonicals, include: dict[str, Any]) -> list[Member]:
    url = include["system"]
    index = canonicals.code_system(url)
    listed = _parts(include, "concept")
    if listed:
        return [_listed_member(url, index, raw) for raw in listed if index is None or index.find(raw["code"])]
    if index is None:
        raise error(422, "not-found", f"Code system '{url[:200]}' is not known to this server", "ValueSet.compose")
    filters = [check_filter(raw) for raw in include.get("filter") or []]
    return [_member(index, c) for c in index.concepts.values() if matches(index, c, filters)]


def _system_member(canonicals: Canonicals, include: dict[str, Any], code: str) -> Member | None:
    url = include["system"]
    index = canonicals.code_system(url)
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


def _imports(canonicals: Canonicals, include: dict[str, Any], depth: int) -> list[dict[str, Any]]:
    urls = _import_urls(include)
    if urls and depth >= _MAX_DEPTH:
        raise error(422, "too-costly", f"Value set imports nest deeper than {_MAX_DEPTH} (circular?)")
    value_sets = []
    for url in urls:
        value_set = canonicals.value_set(url)
        if value_set is None:
            raise error(422, "not-found", f"Imported value set '{url[:200]}' is not known", "ValueSet.compose")
        value_sets.append(value_set)
    return value_sets


def _import_urls(include: dict[str, Any]) -> list[str]:
    urls = include.get("valueSet") or []
    return [url for url in urls if isinstance(url, str)] if isinstance(urls, list) else []


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
