"""Conditional criteria: `If-None-Exist` on create and conditional references
(`"reference": "Patient?identifier=http://x|123"`), resolved inside the writer's transaction.

Criteria are any search parameters, with commas for OR and repeated parameters for AND,
matched inside the same store transaction as the write (a transaction Bundle also resolves
them once before, against the committed state, to check its resources outside the writer).
`identifier` and `_id`, what feeds send in practice, take a direct index lookup.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from ember.access import AccessContext
from ember.fhir.model import is_resource_type
from ember.fhir.outcome import FhirError, Issue, error
from ember.fhir.reference_walk import location_of, references_in
from ember.interactions.code_sets import needs_terminology
from ember.store.base import Lookups
from ember.store.search_parse import parse_parameter

_INDEXED_LOOKUPS = ("identifier", "_id")


async def matching_ids(lookups: Lookups, resource_type: str, query: str, where: str) -> set[str]:
    """Ids of the current resources of `resource_type` matching every criterion of `query`
    (at most a few: callers only tell none, one and several apart)."""
    criteria = parse_qsl(query, keep_blank_values=True)
    if not criteria:
        raise error(400, "invalid", "Conditional criteria must not be empty", where)
    if all(name in _INDEXED_LOOKUPS for name, _ in criteria):
        return await _identifier_matches(lookups, resource_type, criteria)
    conditions = []
    for name, value in criteria:
        try:
            condition = parse_parameter(resource_type, name, value)
        except FhirError as failure:
            raise failure.relocated(where, replacing=name) from None
        if condition is None:
            raise error(400, "not-supported", f"Unknown search parameter '{name[:40]}' in the criteria", where)
        if needs_terminology(condition):
            # The terminology service reads the store, which must not happen inside this write.
            message = f"'{name[:40]}' needs the terminology service, which conditional criteria cannot use"
            raise error(400, "not-supported", message, where)
        conditions.append(condition)
    return set(await lookups.search_ids(AccessContext.system(), resource_type, conditions))


async def _identifier_matches(lookups: Lookups, resource_type: str, criteria: list[tuple[str, str]]) -> set[str]:
    """The common case (what HL7 v2 and Synthea feeds send) without the search planner."""
    matches: set[str] | None = None
    for name, value in criteria:
        found: set[str] = set()
        for alternative in value.split(","):
            found |= await _ids_for(lookups, resource_type, name, alternative)
        matches = found if matches is None else matches & found
    return matches or set()


async def _ids_for(lookups: Lookups, resource_type: str, name: str, value: str) -> set[str]:
    if name == "_id":
        current = await lookups.current([(resource_type, value)])
        return {value} if (resource_type, value) in current and not current[(resource_type, value)].deleted else set()
    system, separator, code = value.rpartition("|")
    return set(await lookups.find_by_token(resource_type, "identifier", system if separator else None, code))


def has_conditional_reference(references: list[dict[str, Any]]) -> bool:
    """Does any of these reference objects name its target by criteria (`Type?query`)? Only
    then does the resource depend on what the store holds, and must be checked inside the
    store transaction."""
    return any(_criteria(node["reference"]) is not None for node in references)


def _criteria(reference: str) -> tuple[str, str] | None:
    """(type, query) of a conditional reference, None for any other reference."""
    resource_type, question_mark, query = reference.partition("?")
    return (resource_type, query) if question_mark and is_resource_type(resource_type) else None


async def resolve_conditional_references(
    lookups: Lookups, resource: Any, where: str, references: list[dict[str, Any]] | None = None
) -> None:
    """Replace each `Type?criteria` reference with the one resource it matches (412 otherwise).
    `references` are the resource's reference objects when the caller has found them already."""
    issues: list[Issue] = []
    for node in references_in(resource) if references is None else references:
        criteria = _criteria(node["reference"])
        if criteria is None:
            continue
        resource_type, query = criteria
        location = f"{location_of(resource, node, where)}.reference"
        ids = await matching_ids(lookups, resource_type, query, location)
        if len(ids) == 1:
            node["reference"] = f"{resource_type}/{ids.pop()}"
        else:
            found = "no resource" if not ids else "more than one resource"
            message = f"Conditional reference '{node['reference'][:120]}' matches {found}"
            issues.append(Issue("not-found" if not ids else "multiple-matches", message, "error", (location,)))
    if issues:
        raise FhirError(412, issues)
