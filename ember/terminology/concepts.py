"""One code system in memory: its concepts by code and its is-a hierarchy, closed once.

Every terminology operation asks the same questions of a code system (is this code defined, what
is its display, is it a kind of that code, what lies below it). Building the transitive closure
once, when the index is built, means an `is-a` question is a set lookup instead of a tree walk
per request; indexes are cached per resource version (see ember/terminology/resolve.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

# Concept properties that carry the hierarchy instead of nesting (R4 concept-properties).
_PARENT_PROPERTIES = frozenset({"parent", "subsumedBy"})
_CHILD_PROPERTIES = frozenset({"child"})
_INACTIVE_STATUSES = frozenset({"retired", "inactive"})


@dataclass(slots=True)
class Concept:
    """One concept: what $lookup reports, plus its direct parents and children."""

    code: str
    display: str | None = None
    definition: str | None = None
    designations: list[dict[str, Any]] = field(default_factory=list)
    properties: list[dict[str, Any]] = field(default_factory=list)
    parents: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)

    def property_values(self, name: str) -> list[str]:
        """The values of property `name` as strings (codes, booleans, strings alike)."""
        values = []
        for prop in self.properties:
            if prop.get("code") == name:
                values += [_as_text(value) for key, value in prop.items() if key.startswith("value")]
        return values

    @property
    def inactive(self) -> bool:
        return "true" in self.property_values("inactive") or bool(
            _INACTIVE_STATUSES & set(self.property_values("status"))
        )

    @property
    def abstract(self) -> bool:
        return "true" in self.property_values("notSelectable")


@dataclass(slots=True)
class CodeSystemIndex:
    """The concepts of one code system (`url`, `version`), with `ancestors` precomputed."""

    url: str
    version: str | None
    name: str | None
    case_sensitive: bool
    concepts: dict[str, Concept]
    ancestors: dict[str, frozenset[str]]
    _folded: dict[str, str] | None = None

    def find(self, code: str) -> Concept | None:
        """The concept for `code`, ignoring case when the code system is case-insensitive."""
        concept = self.concepts.get(code)
        if concept is not None or self.case_sensitive:
            return concept
        if self._folded is None:
            self._folded = {key.lower(): key for key in self.concepts}
        original = self._folded.get(code.lower())
        return None if original is None else self.concepts[original]

    def is_a(self, code: str, ancestor: str) -> bool:
        """True when `code` is `ancestor` or lies below it."""
        return code == ancestor or ancestor in self.ancestors.get(code, frozenset())

    def descendants(self, code: str) -> list[str]:
        """Every code strictly below `code`, in definition order."""
        return [other for other, above in self.ancestors.items() if code in above]

    def subsumption(self, code_a: str, code_b: str) -> str:
        """The $subsumes outcome of A against B."""
        if code_a == code_b:
            return "equivalent"
        if self.is_a(code_b, code_a):
            return "subsumes"
        if self.is_a(code_a, code_b):
            return "subsumed-by"
        return "not-subsumed"

    def closure_pairs(self) -> Iterator[tuple[str, str]]:
        """(ancestor, descendant) pairs including each code with itself, for the stored closure."""
        for code, above in self.ancestors.items():
            yield code, code
            for ancestor in above:
                yield ancestor, code


def display_in(language: str | None, display: str | None, designations: list[dict[str, Any]]) -> str | None:
    """The display in `language` when a designation has it (en-US also takes en), else `display`:
    what `displayLanguage` asks of $expand and $lookup."""
    if language:
        for wanted in (language, language.split("-")[0]):
            for designation in designations:
                if designation.get("language") == wanted and isinstance(designation.get("value"), str):
                    return designation["value"]
    return display


def index_code_system(resource: dict[str, Any]) -> CodeSystemIndex:
    """The index of a CodeSystem resource (nested concepts and parent/child properties alike)."""
    concepts: dict[str, Concept] = {}
    for concept in _flatten(resource.get("concept") or [], None):
        existing = concepts.get(concept.code)
        if existing is None:
            concepts[concept.code] = concept
        else:
            existing.parents += [p for p in concept.parents if p not in existing.parents]
    _link_children(concepts)
    return CodeSystemIndex(
        url=str(resource.get("url") or ""),
        version=resource.get("version"),
        name=resource.get("name"),
        case_sensitive=resource.get("caseSensitive", True) is not False,
        concepts=concepts,
        ancestors=_close(concepts),
    )


def _flatten(raw_concepts: Iterable[Any], parent: str | None) -> Iterator[Concept]:
    for raw in raw_concepts:
        if not isinstance(raw, dict) or not isinstance(raw.get("code"), str):
            continue
        properties = [p for p in raw.get("property") or [] if isinstance(p, dict)]
        parents = [parent] if parent else []
        parents += [_as_text(p.get("valueCode")) for p in properties if p.get("code") in _PARENT_PROPERTIES]
        concept = Concept(
            code=raw["code"],
            display=raw.get("display"),
            definition=raw.get("definition"),
            designations=[d for d in raw.get("designation") or [] if isinstance(d, dict)],
            properties=properties,
            parents=list(dict.fromkeys(parents)),
            children=[_as_text(p.get("valueCode")) for p in properties if p.get("code") in _CHILD_PROPERTIES],
        )
        yield concept
        yield from _flatten(raw.get("concept") or [], concept.code)


def _link_children(concepts: dict[str, Concept]) -> None:
    """Make parent and child links agree, whichever side the resource stated them on."""
    for concept in concepts.values():
        for child in concept.children:
            if child in concepts and concept.code not in concepts[child].parents:
                concepts[child].parents.append(concept.code)
    for concept in concepts.values():
        concept.children = []
    for concept in concepts.values():
        for parent in concept.parents:
            if parent in concepts:
                concepts[parent].children.append(concept.code)


def _close(concepts: dict[str, Concept]) -> dict[str, frozenset[str]]:
    """Every concept's ancestors, memoised so each is computed once (cycles are cut)."""
    closed: dict[str, frozenset[str]] = {}
    for code in concepts:
        if code in closed:
            continue
        stack: list[tuple[str, bool]] = [(code, False)]
        visiting: set[str] = set()
        while stack:
            current, expanded = stack.pop()
            if current in closed:
                continue
            parents = [p for p in concepts[current].parents if p in concepts and p != current]
            if expanded:
                visiting.discard(current)
                above: set[str] = set(parents)
                for parent in parents:
                    above |= closed.get(parent, frozenset())
                above.discard(current)
                closed[current] = frozenset(above)
                continue
            visiting.add(current)
            stack.append((current, True))
            stack += [(p, False) for p in parents if p not in closed and p not in visiting]
    return closed


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return str(value.get("code", ""))
    return str(value)
