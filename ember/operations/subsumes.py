"""CodeSystem/$subsumes: how code A relates to code B (equivalent, subsumes, subsumed-by,
not-subsumed), answered from the precomputed is-a closure."""

from __future__ import annotations

from ember.access import AccessContext
from ember.fhir.outcome import error
from ember.interactions.request import FhirRequest, FhirResponse
from ember.store.base import Store
from ember.terminology.parameters import coded_inputs, output, read_inputs
from ember.terminology.resolve import Terminology, code_system_for


async def handle(ctx: AccessContext, request: FhirRequest, store: Store) -> FhirResponse:
    inputs = read_inputs(request)
    first, second = coded_inputs(inputs, "A"), coded_inputs(inputs, "B")
    if not first or not second:
        raise error(400, "required", "$subsumes needs codeA and codeB (with system) or codingA and codingB")
    systems = {s for s in (inputs.text("system"), first[0][0], second[0][0]) if s}
    if len(systems) > 1:
        raise error(400, "invalid", "codeA and codeB must be in the same code system")
    index = await code_system_for(
        Terminology(ctx, store), request.id, next(iter(systems), None), inputs.text("version")
    )
    codes = []
    for _, code, _ in (first[0], second[0]):
        concept = index.find(code)
        if concept is None:
            raise error(400, "invalid", f"Code '{code[:100]}' is not in the code system '{index.url}'")
        codes.append(concept.code)
    outcome = index.subsumption(codes[0], codes[1])
    return FhirResponse(200, resource=output(("outcome", "valueCode", outcome)))
