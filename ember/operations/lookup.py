"""CodeSystem/$lookup: a code's display, designations, properties, parents and children.

Invoked on a CodeSystem instance or at type level with `system` (or a `coding`), by GET or POST.
"""

from __future__ import annotations

from typing import Any

from ember.access import AccessContext
from ember.fhir.outcome import error
from ember.interactions.request import FhirRequest, FhirResponse
from ember.store.base import Store
from ember.terminology.concepts import CodeSystemIndex, Concept, display_in
from ember.terminology.parameters import output, read_inputs, required_codes
from ember.terminology.resolve import Terminology, code_system_for


async def handle(ctx: AccessContext, request: FhirRequest, store: Store) -> FhirResponse:
    inputs = read_inputs(request)
    coded = required_codes(inputs, "lookup")
    system, code, _ = coded[0]
    index = await code_system_for(Terminology(ctx, store), request.id, system, inputs.text("version"))
    concept = index.find(code)
    if concept is None:
        raise error(404, "not-found", f"Code '{code[:100]}' is not in the code system '{index.url}'")
    wanted = set(inputs.values.get("property") or [])
    language = inputs.text("displayLanguage")
    return FhirResponse(200, resource=lookup_parameters(index, concept, wanted, language))


def lookup_parameters(
    index: CodeSystemIndex, concept: Concept, wanted: set[str], language: str | None
) -> dict[str, Any]:
    """The $lookup output; `wanted` limits the properties reported (empty: all of them) and
    `language` picks the display among the designations."""
    designations = [_designation(d) for d in concept.designations]
    properties = [
        {"name": "property", "part": [{"name": "code", "valueCode": name}, {"name": "value", "valueCode": code}]}
        for name, codes in (("parent", concept.parents), ("child", concept.children))
        for code in codes
        if not wanted or name in wanted
    ]
    properties += [_property(p) for p in concept.properties if not wanted or p.get("code") in wanted]
    return output(
        ("name", "valueString", index.name or index.url),
        ("version", "valueString", index.version),
        ("display", "valueString", display_in(language, concept.display, concept.designations) or concept.code),
        ("definition", "valueString", concept.definition),
        ("abstract", "valueBoolean", concept.abstract),
        *designations,
        *properties,
    )


def _designation(designation: dict[str, Any]) -> dict[str, Any]:
    parts: list[dict[str, Any]] = []
    if designation.get("language"):
        parts.append({"name": "language", "valueCode": designation["language"]})
    if isinstance(designation.get("use"), dict):
        parts.append({"name": "use", "valueCoding": designation["use"]})
    parts.append({"name": "value", "valueString": str(designation.get("value", ""))})
    return {"name": "designation", "part": parts}


def _property(prop: dict[str, Any]) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [{"name": "code", "valueCode": str(prop.get("code", ""))}]
    parts += [{"name": "value", key: value} for key, value in prop.items() if key.startswith("value")]
    return {"name": "property", "part": parts}
