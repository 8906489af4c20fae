"""$validate-code on CodeSystem and ValueSet (one operation name, two resource types).

CodeSystem: is the code defined in the code system (instance, or `url`/`system`). ValueSet: is it
a member of the value set (instance, `url`, or a `valueSet` resource in the Parameters). Codes come
as code+system, a `coding` or a `codeableConcept`; the answer is always 200 with `result`.
"""

from __future__ import annotations

from ember.access import AccessContext
from ember.interactions.request import FhirRequest, FhirResponse
from ember.store.base import Store
from ember.terminology.parameters import read_inputs, required_codes
from ember.terminology.resolve import Terminology, code_system_for, resource_for
from ember.terminology.validation import validate_in_code_system, validate_in_value_set


async def handle(ctx: AccessContext, request: FhirRequest, store: Store) -> FhirResponse:
    inputs = read_inputs(request)
    coded = required_codes(inputs, "validate-code")
    term = Terminology(ctx, store)
    if request.resource_type == "CodeSystem":
        url = inputs.text("url") or coded[0][0]
        index = await code_system_for(term, request.id, url, inputs.text("version"))
        verdict = await validate_in_code_system(index, [(s or index.url, c, d) for s, c, d in coded])
    else:
        value_set = await resource_for(term, "ValueSet", request.id, inputs.text("url"), inputs.complex("valueSet"))
        verdict = await validate_in_value_set(term, value_set, coded, abstract_ok=inputs.boolean("abstract", True))
    return FhirResponse(200, resource=verdict.to_parameters())
