"""ValueSet.compose filters (is-a, descendent-of, is-not-a, regex, =, in, exists) on one concept.

Expansion enumerates the concepts a filter accepts and validation tests one concept; both ask
`matches`, so a code validates exactly when it would appear in the expansion.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import re2

from ember.fhir.outcome import error
from ember.terminology.concepts import CodeSystemIndex, Concept

SUPPORTED_OPS = frozenset({"is-a", "descendent-of", "is-not-a", "regex", "=", "in", "not-in", "exists"})
_HIERARCHY_OPS = frozenset({"is-a", "descendent-of", "is-not-a"})
_REGEX_LIMIT = 1000  # characters; RE2 matches in linear time, so no pattern can hang a request


def check_filter(raw: Any) -> tuple[str, str, str]:
    """(property, op, value) of a filter, or a 400 naming what is wrong or unsupported."""
    if not isinstance(raw, dict) or not all(isinstance(raw.get(k), str) for k in ("property", "op", "value")):
        raise error(400, "invalid", "A compose filter needs string property, op and value", "ValueSet.compose")
    if raw["op"] not in SUPPORTED_OPS:
        raise error(400, "not-supported", f"Filter operator '{raw['op'][:40]}' is not supported", "ValueSet.compose")
    if raw["op"] == "regex":
        _regex(raw["value"])
    return raw["property"], raw["op"], raw["value"]


def matches(system: CodeSystemIndex, concept: Concept, filters: list[tuple[str, str, str]]) -> bool:
    """True when `concept` passes every filter (filters of one include are ANDed)."""
    return all(_matches_one(system, concept, *item) for item in filters)


def _matches_one(system: CodeSystemIndex, concept: Concept, prop: str, op: str, value: str) -> bool:
    if op in _HIERARCHY_OPS:
        if op == "descendent-of":
            return concept.code != value and system.is_a(concept.code, value)
        inside = system.is_a(concept.code, value)
        return inside if op == "is-a" else not inside
    values = _property_values(concept, prop)
    if op == "exists":
        return bool(values) == (value.lower() == "true")
    if op == "=":
        return value in values
    if op == "regex":
        pattern = _regex(value)
        return any(pattern.fullmatch(v) for v in values)
    listed = {item.strip() for item in value.split(",")}
    found = bool(listed & set(values))
    return found if op == "in" else not found


def _property_values(concept: Concept, prop: str) -> list[str]:
    if prop in ("concept", "code"):
        return [concept.code]
    if prop == "display":
        return [concept.display] if concept.display else []
    if prop == "parent":
        return list(concept.parents)
    if prop == "child":
        return list(concept.children)
    return concept.property_values(prop)


@lru_cache(maxsize=256)
def _regex(pattern: str) -> Any:
    if len(pattern) > _REGEX_LIMIT:
        raise error(400, "too-costly", f"A regex filter is limited to {_REGEX_LIMIT} characters")
    try:
        return re2.compile(pattern)
    except re2.error as exc:
        raise error(400, "invalid", f"Invalid regex filter: {exc}") from None
