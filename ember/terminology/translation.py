"""ConceptMap translation: a code in a source system to its codes in target systems (and back).

Used by $translate and by the HL7 v2 bridge (`translate_code`, local lab codes to LOINC). A map's
group pairs one source system with one target system; `reverse` reads the map from target to
source, as the R4 operation defines.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ember.access import AccessContext
from ember.store.base import Store
from ember.terminology.parameters import output
from ember.terminology.resolve import Terminology

_NOT_A_MATCH = frozenset({"unmatched", "disjoint"})


@dataclass(frozen=True, slots=True)
class Match:
    """One translation: `equivalence` (R4 ConceptMapEquivalence) to `system#code`."""

    equivalence: str
    system: str | None
    code: str | None
    display: str | None
    source: str | None  # the ConceptMap's url

    @property
    def is_match(self) -> bool:
        return self.equivalence not in _NOT_A_MATCH

    def to_parameter(self) -> dict[str, Any]:
        concept = {k: v for k, v in (("system", self.system), ("code", self.code), ("display", self.display)) if v}
        parts: list[dict[str, Any]] = [{"name": "equivalence", "valueCode": self.equivalence}]
        if concept:
            parts.append({"name": "concept", "valueCoding": concept})
        if self.source:
            parts.append({"name": "source", "valueUri": self.source})
        return {"name": "match", "part": parts}


def translate(
    concept_map: dict[str, Any],
    system: str | None,
    code: str,
    *,
    target_system: str | None = None,
    reverse: bool = False,
) -> list[Match]:
    """The matches of `system#code` in `concept_map` (`system` None: any source system)."""
    matches: list[Match] = []
    for group in _list(concept_map, "group"):
        source, target = (
            (group.get("target"), group.get("source")) if reverse else (group.get("source"), group.get("target"))
        )
        if system not in (None, source) or target_system not in (None, target):
            continue
        found = _group_matches(group, code, target, concept_map.get("url"), reverse)
        matches += found or _unmapped(group, code, target, concept_map.get("url"))
    return matches


def _group_matches(group: dict[str, Any], code: str, target: str | None, url: str | None, reverse: bool) -> list[Match]:
    matches = []
    for element in _list(group, "element"):
        for mapped in _list(element, "target"):
            equivalence = mapped.get("equivalence", "equivalent")
            if not reverse and element.get("code") == code:
                matches.append(Match(equivalence, target, mapped.get("code"), mapped.get("display"), url))
            elif reverse and mapped.get("code") == code:
                matches.append(Match(_reversed(equivalence), target, element.get("code"), element.get("display"), url))
    return matches


def _unmapped(group: dict[str, Any], code: str, target: str | None, url: str | None) -> list[Match]:
    """What the group says for codes it does not list: the same code, or a fixed one."""
    unmapped = group.get("unmapped")
    if not isinstance(unmapped, dict):
        return []
    if unmapped.get("mode") == "provided":
        return [Match("equal", target, code, None, url)]
    if unmapped.get("mode") == "fixed" and isinstance(unmapped.get("code"), str):
        return [Match("equivalent", target, unmapped["code"], unmapped.get("display"), url)]
    return []


def _reversed(equivalence: str) -> str:
    """Read backwards, a wider mapping is a narrower one."""
    return {"wider": "narrower", "narrower": "wider", "subsumes": "specializes", "specializes": "subsumes"}.get(
        equivalence, equivalence
    )


def _list(holder: dict[str, Any], name: str) -> list[dict[str, Any]]:
    items = holder.get(name) or []
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def result_parameters(matches: list[Match]) -> dict[str, Any]:
    """The $translate output for `matches`."""
    found = [m for m in matches if m.is_match]
    message = None if found else "No translation was found"
    return output(
        ("result", "valueBoolean", bool(found)),
        ("message", "valueString", message),
        *(m.to_parameter() for m in matches),
    )


async def translate_code(
    ctx: AccessContext, store: Store, concept_map_url: str, system: str, code: str, *, target_system: str | None = None
) -> list[Match]:
    """Hook for the HL7 v2 bridge: the matches of `system#code` in the ConceptMap `concept_map_url`
    (empty when the map is unknown or has no match), best first as the map lists them."""
    concept_map = await Terminology(ctx, store).resource("ConceptMap", concept_map_url)
    if concept_map is None:
        return []
    return [m for m in translate(concept_map, system, code, target_system=target_system) if m.is_match]
