"""Dispatch a routed FhirRequest to its registered handler (interaction or operation).

Every request of an identified caller is audited here, whatever its outcome (ember/audit/hooks.py),
and what requests depend on is kept current before it runs: the consent denials the store's access
filter applies, custom search parameters, and the terminology the validator asks on write.
"""

from __future__ import annotations

from ember import consent, terminology
from ember.access import AccessContext
from ember.audit.hooks import request_done, request_failed
from ember.fhir.outcome import FhirError, error
from ember.interactions import INTERACTIONS, capabilities, custom_parameters
from ember.interactions.bundle_entries import BundleEntry, read_bundle
from ember.interactions.request import FhirRequest, FhirResponse
from ember.operations import OPERATIONS
from ember.store.base import Store


async def dispatch(ctx: AccessContext, request: FhirRequest, store: Store) -> FhirResponse:
    """Run the request's handler, once the caller's scopes allow it (the one permission check:
    HTTP requests and batch entries arrive here, transaction entries are checked up front)."""
    try:
        response = await _dispatch(ctx, request, store)
    except FhirError as failure:
        await request_failed(ctx, request, store, failure)
        raise
    await request_done(ctx, request, store, response)
    return response


async def _dispatch(ctx: AccessContext, request: FhirRequest, store: Store) -> FhirResponse:
    if not ctx.unrestricted:
        check_permitted(ctx, request)
        await consent.keep_current(store)
    await custom_parameters.keep_current(store)
    await terminology.keep_current(store)
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


def check_permitted(ctx: AccessContext, request: FhirRequest) -> None:
    """403 unless `ctx` may make `request`. A transaction Bundle is all or nothing, so each of
    its entries is checked before any runs; batch entries come back through `dispatch` one by
    one and fail on their own."""
    if not ctx.permits(request.interaction, request.resource_type):
        target = request.resource_type or "the whole system"
        message = f"The access token's scopes do not allow '{request.interaction}' on {target}"
        raise error(403, "forbidden", message)
    if (
        request.interaction == "transaction"
        and isinstance(request.body, dict)
        and request.body.get("type") == "transaction"
    ):
        _, entries = read_bundle(request.body, request.base_url)
        for entry in entries:
            if isinstance(entry, BundleEntry):
                check_permitted(ctx, entry.request)
