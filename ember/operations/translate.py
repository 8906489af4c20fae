"""ConceptMap/$translate: a code's equivalents in other systems through a ConceptMap.

The map is the instance, `url`, a `conceptMap` resource in the Parameters, or, at type level
without one, every stored ConceptMap whose `source`/`target` value sets match those given.
"""

from __future__ import annotations

from typing import Any

from ember.access import AccessContext
from ember.interactions.request import FhirRequest, FhirResponse
from ember.store.base import Store
from ember.terminology.parameters import OperationInput, read_inputs, required_codes
from ember.terminology.resolve import Terminology, resource_for
from ember.terminology.translation import result_parameters, translate


async def handle(ctx: AccessContext, request: FhirRequest, store: Store) -> FhirResponse:
    inputs = read_inputs(request)
    coded = required_codes(inputs, "translate")
    term = Terminology(ctx, store)
    maps = await _concept_maps(term, request, inputs)
    reverse = inputs.boolean("reverse", False)
    target_system = inputs.text("targetsystem")
    matches = [
        match
        for concept_map in maps
        for system, code, _ in coded
        for match in translate(concept_map, system, code, target_system=target_system, reverse=reverse)
    ]
    return FhirResponse(200, resource=result_parameters(matches))


async def _concept_maps(term: Terminology, request: FhirRequest, inputs: OperationInput) -> list[dict[str, Any]]:
    url, inline = inputs.text("url"), inputs.complex("conceptMap")
    if request.id is not None or url or inline is not None:
        return [await resource_for(term, "ConceptMap", request.id, url, inline)]
    source, target = inputs.text("source"), inputs.text("target")
    if inputs.boolean("reverse", False):
        source, target = target, source
    return [
        concept_map
        for concept_map in await term.all_resources("ConceptMap")
        if source in (None, _scope(concept_map, "source")) and target in (None, _scope(concept_map, "target"))
    ]


def _scope(concept_map: dict[str, Any], side: str) -> str | None:
    """The value set url of a map's source or target (sourceUri or sourceCanonical)."""
    return concept_map.get(f"{side}Uri") or concept_map.get(f"{side}Canonical")
