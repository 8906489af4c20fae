"""The Starlette application: health probes and one FHIR endpoint that routes everything.

Every FHIR request passes through `FhirEndpoint.handle`: it builds the plain FhirRequest and
AccessContext, dispatches, and renders. FhirError becomes an OperationOutcome here, once; an
unexpected exception is logged and answered with a 500 OperationOutcome, never a stack trace.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ember.access import AccessContext
from ember.fhir.outcome import FhirError, error
from ember.interactions.dispatch import dispatch
from ember.interactions.prefer import apply_return_preference, preferred_return
from ember.interactions.router import route
from ember.rest.formats import parse_body, response_format
from ember.rest.render import Representation, render, render_error
from ember.settings import Settings
from ember.store import create_store
from ember.store.base import Store

log = logging.getLogger("ember.rest")

FHIR_PREFIX = "/fhir"
_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
#: Parameters about the representation, handled here and never passed to the services.
_REPRESENTATION_PARAMS = frozenset({"_format", "_pretty", "_summary", "_elements"})
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_WRITES = frozenset({"create", "update", "patch"})


class FhirEndpoint:
    """The ASGI endpoint for everything under /fhir."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    async def handle(self, request: Request) -> Response:
        representation = Representation()
        try:
            params = request.query_params.multi_items()
            representation = _representation(request, params)
            response = await self._handle(request, params, representation)
        except FhirError as failure:
            response = render_error(failure, representation)
        except Exception:  # the edge: whatever happened, the client gets an OperationOutcome
            log.exception("Unhandled error on %s %s", request.method, request.url.path)
            response = render_error(error(500, "exception", "Internal server error"), representation)
        if request.method == "HEAD":
            return Response(status_code=response.status_code, headers=dict(response.headers))
        return response

    async def _handle(
        self, request: Request, params: list[tuple[str, str]], representation: Representation
    ) -> Response:
        path = request.url.path[len(FHIR_PREFIX) :]
        fhir_request = route(request.method, path, [p for p in params if p[0] not in _REPRESENTATION_PARAMS])
        fhir_request.base_url = self.settings.base_url or f"{request.url.scheme}://{request.url.netloc}{FHIR_PREFIX}"
        fhir_request.headers = dict(request.headers)
        if request.method in _BODY_METHODS:
            fhir_request.body = parse_body(await self._body(request), request.headers.get("content-type"))
        ctx = AccessContext(unrestricted=True, source_ip=request.client.host if request.client else None)
        result = await dispatch(ctx, fhir_request, self.store)
        if fhir_request.interaction in _WRITES:
            result = apply_return_preference(result, preferred_return(request.headers.get("prefer")))
        return render(result, representation)

    async def _body(self, request: Request) -> bytes:
        """The request body, refused with 413 as soon as it exceeds the configured limit."""
        limit = self.settings.max_body_bytes
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise error(413, "too-costly", f"Request body larger than {limit} bytes")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise error(413, "too-costly", f"Request body larger than {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)


def _representation(request: Request, params: list[tuple[str, str]]) -> Representation:
    values = {name: value for name, value in params if name in _REPRESENTATION_PARAMS}
    fmt = response_format(values.get("_format"), request.headers.get("accept"))
    return Representation.from_params(fmt, values.get("_pretty"), values.get("_summary"), values.get("_elements"))


def create_app(settings: Settings, store: Store | None = None) -> Starlette:
    """The ASGI app; opens the store on start-up and closes it on shutdown."""
    store = store or create_store(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
    endpoint = FhirEndpoint(store, settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await store.open()
        try:
            yield
        finally:
            await store.close()

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        ready = await store.ping()
        return JSONResponse({"status": "ready" if ready else "unavailable"}, 200 if ready else 503)

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        return render_error(
            error(status, "not-found" if status == 404 else "not-supported", str(exc)), Representation()
        )

    routes = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route(FHIR_PREFIX, endpoint.handle, methods=_METHODS),
        Route(FHIR_PREFIX + "/{path:path}", endpoint.handle, methods=_METHODS),
    ]
    return Starlette(routes=routes, lifespan=lifespan, exception_handlers={HTTPException: http_error})


def app_from_environment() -> Starlette:
    """Factory for server workers: each worker process reads the EMBER_* settings."""
    return create_app(Settings.load())
