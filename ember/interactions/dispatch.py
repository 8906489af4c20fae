"""Dispatch a routed FhirRequest to its registered handler (interaction or operation)."""

from __future__ import annotations

from ember.access import AccessContext
from ember.fhir.outcome import error
from ember.interactions import INTERACTIONS, capabilities, custom_parameters
from ember.interactions.request import FhirRequest, FhirResponse
from ember.operations import OPERATIONS
from ember.store.base import Store


async def dispatch(ctx: AccessContext, request: FhirRequest, store: Store) -> FhirResponse:
    await custom_parameters.keep_current(store)
    if request.interaction.startswith("operation-"):
        return await _operation(ctx, request, store)
    if request.interaction == "capabilities":
        return await capabilities.handle(ctx, request, store)
    registered = INTERACTIONS.get(request.interaction)
    if registered is None:
        raise error(501, "not-supported", f"The '{request.interaction}' interaction is not supported by this server")
    return await registered.handler(ctx, request, store)


async def _operation(ctx: AccessContext, request: FhirRequest, store: Store) -> FhirResponse:
    level = request.interaction.removeprefix("operation-")
    name = request.operation or ""
    operation = OPERATIONS.get(name)
    if operation is None:
        raise error(404, "not-supported", f"Unknown operation '${name[:64]}'")
    if level not in operation.levels:
        raise error(400, "not-supported", f"${name} cannot be invoked at {level} level")
    if operation.resource_types is not None and request.resource_type not in operation.resource_types:
        raise error(400, "not-supported", f"${name} is not defined for {request.resource_type}")
    if operation.affects_state and request.method == "GET":
        raise error(405, "not-supported", f"${name} changes data: invoke it with POST")
    return await operation.handler(ctx, request, store)
