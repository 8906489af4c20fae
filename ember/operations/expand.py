"""ValueSet/$expand: the codes of a value set, with `filter` text (word starts), `count`/`offset` paging,
`activeOnly`, `displayLanguage` and `includeDesignations`.

The full expansion is computed once per value set version (see ember.terminology.expansion);
each request then filters and pages it, so `total` is always the size before paging.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from ember.access import AccessContext
from ember.interactions.request import FhirRequest, FhirResponse
from ember.store.base import Store
from ember.terminology.concepts import display_in
from ember.terminology.expansion import Member, expand
from ember.terminology.parameters import OperationInput, read_inputs
from ember.terminology.resolve import Terminology, resource_for

_DEFAULT_COUNT = 1000


async def handle(ctx: AccessContext, request: FhirRequest, store: Store) -> FhirResponse:
    inputs = read_inputs(request)
    term = Terminology(ctx, store)
    value_set = await resource_for(term, "ValueSet", request.id, inputs.text("url"), inputs.complex("valueSet"))
    members = _select(await expand(term, value_set), inputs)
    offset, count = inputs.count("offset", 0), inputs.count("count", _DEFAULT_COUNT)
    language = inputs.text("displayLanguage")
    designations = inputs.boolean("includeDesignations", False)
    contains = [_contains(m, language, designations) for m in members[offset : offset + count]]
    expansion: dict[str, Any] = {
        "identifier": f"urn:uuid:{uuid.uuid4()}",
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "total": len(members),
        "offset": offset,
        "parameter": _echo(inputs, offset, count),
    }
    if contains:
        expansion["contains"] = contains
    header = {k: value_set[k] for k in ("url", "version", "name", "status") if k in value_set}
    return FhirResponse(200, resource={"resourceType": "ValueSet", **header, "expansion": expansion})


def _select(members: list[Member], inputs: OperationInput) -> list[Member]:
    text = (inputs.text("filter") or "").lower()
    active_only = inputs.boolean("activeOnly", False)
    return [m for m in members if not (active_only and m.inactive) and (not text or m.starts_a_word(text))]


def _contains(member: Member, language: str | None, designations: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {"system": member.system, "code": member.code}
    if member.version:
        entry["version"] = member.version
    if member.abstract:
        entry["abstract"] = True
    if member.inactive:
        entry["inactive"] = True
    display = display_in(language, member.display, member.designations)
    if display:
        entry["display"] = display
    if designations and member.designations:
        entry["designation"] = member.designations
    return entry


def _echo(inputs: OperationInput, offset: int, count: int) -> list[dict[str, Any]]:
    """expansion.parameter: the inputs that shaped this expansion, as the spec asks."""
    echoed: list[dict[str, Any]] = [
        {"name": "offset", "valueInteger": offset},
        {"name": "count", "valueInteger": count},
    ]
    for name in ("filter", "displayLanguage"):
        value = inputs.text(name)
        if value is not None:
            echoed.append({"name": name, "valueString": value})
    if inputs.text("activeOnly") is not None:
        echoed.append({"name": "activeOnly", "valueBoolean": inputs.boolean("activeOnly", False)})
    return echoed
