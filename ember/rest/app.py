"""The ASGI application: health probes and one FHIR endpoint that routes everything.

The FHIR endpoint is a plain ASGI app that receives FHIR requests before Starlette does
(`EmberApp`): it reads method, path, query and headers straight from the ASGI scope, because
building Starlette's Request/URL objects cost more than the database read on the hot path, and
Starlette's middleware and router, which only the health probes, the authorization server and
the HL7 route need, cost a read as much again.
FhirError becomes an OperationOutcome here, once; an unexpected exception is logged and answered
with a 500 OperationOutcome, never a stack trace.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from ember import terminology
from ember.access import AccessContext
from ember.audit.hooks import auth_event
from ember.audit.outbox import READ_BUFFER
from ember.audit.records import auth_record, failure_detail
from ember.auth.break_glass import PURPOSE_HEADER, with_purpose
from ember.auth.discovery import with_security
from ember.auth.edge import bearer_context
from ember.auth.routes import auth_routes
from ember.auth.server import AuthServer
from ember.fhir import jsonio
from ember.fhir.model import type_definition
from ember.fhir.outcome import FhirError, error
from ember.hl7v2.bridge import Bridge
from ember.interactions import search
from ember.interactions.dispatch import dispatch
from ember.interactions.prefer import apply_return_preference, preferred_return
from ember.interactions.request import FhirResponse
from ember.interactions.router import route
from ember.jobs import JOB_HANDLERS, JobRunner
from ember.rest.formats import parse_body, response_format
from ember.rest.render import Representation, render, render_error
from ember.rest.wire import WireResponse
from ember.settings import Settings
from ember.store import create_store
from ember.store.base import Store

log = logging.getLogger("ember.rest")

FHIR_PREFIX = "/fhir"
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
#: Parameters about the representation, handled here and never passed to the services.
_REPRESENTATION_PARAMS = frozenset({"_format", "_pretty", "_summary", "_elements"})
#: Representation parameters a service still needs to see (`_summary=count` changes a search).
_SHARED_PARAMS = frozenset({"_summary"})
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_WRITES = frozenset({"create", "update", "patch", "conditional-update"})


class FhirEndpoint:
    """The ASGI app for everything under /fhir."""

    def __init__(self, store: Store, settings: Settings, auth: AuthServer | None = None) -> None:
        self.store = store
        self.settings = settings
        #: None: every caller is trusted (auth off); otherwise every request needs a token.
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
        representation = Representation()
        try:
            query = scope["query_string"]
            params = parse_qsl(query.decode("latin-1"), keep_blank_values=True) if query else []
            representation = _representation(headers, params)
            response = await self._handle(scope, receive, headers, params, representation)
        except FhirError as failure:
            response = render_error(failure, representation)
        except Exception:  # the edge: whatever happened, the client gets an OperationOutcome
            log.exception("Unhandled error on %s %s", scope["method"], scope["path"])
            response = render_error(error(500, "exception", "Internal server error"), representation)
        if scope["method"] == "HEAD":
            response = response.head_only()
        await response(scope, receive, send)

    async def _handle(
        self,
        scope: Scope,
        receive: Receive,
        headers: dict[str, str],
        params: list[tuple[str, str]],
        representation: Representation,
    ) -> WireResponse:
        method = scope["method"]
        fhir_request = route(method, scope["path"][len(FHIR_PREFIX) :], _service_params(params))
        fhir_request.base_url = self.settings.base_url or _base_url(scope, headers)
        fhir_request.headers = headers
        ctx = await self._caller(scope, headers, fhir_request.interaction, fhir_request.base_url)
        if method in _BODY_METHODS:
            body = await self._body(receive, headers)
            if fhir_request.interaction.startswith("search-"):
                # POST [type]/_search: the parameters arrive as a form (http.html#search)
                fhir_request.params = fhir_request.params + _service_params(_form(body, headers))
            elif body or not fhir_request.interaction.startswith("operation-"):
                # An operation may be POSTed without a body (all its parameters in the URL).
                fhir_request.body = parse_body(body, headers.get("content-type"))
        result = await dispatch(ctx, fhir_request, self.store)
        if fhir_request.interaction == "capabilities" and self.auth is not None and result.resource is not None:
            result = FhirResponse(
                result.status, with_security(result.resource, fhir_request.base_url), None, result.headers
            )
        if fhir_request.interaction in _WRITES:
            result = apply_return_preference(result, preferred_return(headers.get("prefer")))
        return render(result, representation)

    async def _body(self, receive: Receive, headers: dict[str, str]) -> bytes:
        """The request body, refused with 413 as soon as it exceeds the configured limit."""
        limit = self.settings.max_body_bytes
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise error(413, "too-costly", f"Request body larger than {limit} bytes")
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise error(400, "incomplete", "The client disconnected before sending the whole body")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise error(413, "too-costly", f"Request body larger than {limit} bytes")
            chunks.append(chunk)
            more = message.get("more_body", False)
        return b"".join(chunks)

    async def _caller(self, scope: Scope, headers: dict[str, str], interaction: str, base_url: str) -> AccessContext:
        """Who is calling: trusted when auth is off (see `ember serve`'s warning), else the
        bearer token's holder. The CapabilityStatement is public, as SMART requires."""
        client = scope.get("client")
        source_ip = client[0] if client else None
        if self.auth is None:
            return _trusted_context(source_ip)
        if interaction == "capabilities":
            return AccessContext(source_ip=source_ip)
        _, verifier = self.auth.tokens()
        try:
            ctx = await bearer_context(verifier, headers.get("authorization"), base_url, source_ip)
        except FhirError as refused:
            await self._alert(refused, interaction, base_url, AccessContext(source_ip=source_ip))
            raise
        try:
            return await with_purpose(ctx, headers.get(PURPOSE_HEADER), self.store)
        except FhirError as refused:
            await self._alert(refused, interaction, base_url, ctx)
            raise

    async def _alert(self, refused: FhirError, interaction: str, base_url: str, ctx: AccessContext) -> None:
        """Audit a caller refused at the edge (bad token, forbidden purpose) as a security alert."""
        record = auth_record(
            "alert",
            interaction,
            refused.status,
            server=base_url,
            ip=ctx.source_ip,
            detail=failure_detail(refused),
            subject=ctx.subject,
            client_id=ctx.client_id,
            fhir_user=ctx.fhir_user,
        )
        await auth_event(self.store, record)


@lru_cache(maxsize=1024)
def _trusted_context(source_ip: str | None) -> AccessContext:
    return AccessContext(unrestricted=True, source_ip=source_ip)


def _form(body: bytes, headers: dict[str, str]) -> list[tuple[str, str]]:
    media = headers.get("content-type", "application/x-www-form-urlencoded").split(";")[0].strip()
    if media != "application/x-www-form-urlencoded":
        raise error(415, "not-supported", "POST _search takes an application/x-www-form-urlencoded body")
    try:
        return parse_qsl(body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        raise error(400, "invalid", "The search form is not UTF-8") from None


def _service_params(params: list[tuple[str, str]]) -> list[tuple[str, str]]:
    kept = [param for param in params if param[0] not in _REPRESENTATION_PARAMS or param[0] in _SHARED_PARAMS]
    return kept if params else params


def _base_url(scope: Scope, headers: dict[str, str]) -> str:
    host = headers.get("host")
    if host is None:
        server: Any = scope.get("server") or ("localhost", 80)
        host = f"{server[0]}:{server[1]}"
    return f"{scope.get('scheme', 'http')}://{host}{FHIR_PREFIX}"


def _representation(headers: dict[str, str], params: list[tuple[str, str]]) -> Representation:
    values = {name: value for name, value in params if name in _REPRESENTATION_PARAMS} if params else {}
    return _negotiated(
        values.get("_format"),
        headers.get("accept"),
        values.get("_pretty"),
        values.get("_summary"),
        values.get("_elements"),
    )


@lru_cache(maxsize=512)
def _negotiated(
    format_param: str | None, accept: str | None, pretty: str | None, summary: str | None, elements: str | None
) -> Representation:
    """Clients send the same few combinations over and over; negotiate each once."""
    return Representation.from_params(response_format(format_param, accept), pretty, summary, elements)


def create_app(settings: Settings, store: Store | None = None) -> Starlette:
    """The ASGI app; opens the store on start-up and closes it on shutdown. With auth on
    (the default) the SMART authorization server is mounted and every FHIR request needs a
    token; with `auth = "off"` every caller is trusted."""
    if settings.auth not in ("on", "off"):
        raise ValueError(f"The auth setting must be 'on' or 'off', not '{settings.auth}'")
    store = store or create_store(settings)
    terminology.install()
    auth = AuthServer(store, settings) if settings.auth == "on" else None
    endpoint = FhirEndpoint(store, settings, auth)
    hl7 = Bridge(store, settings, auth)
    search.LIMITS.default_count = settings.search_default_count
    search.LIMITS.max_count = settings.search_max_count
    READ_BUFFER.interval = settings.audit_flush_ms / 1000

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await store.open()
        core = await terminology.start(store)
        if core.loaded:
            log.info("cached the core terminology in the store (%d resources) in %.1f s", core.resources, core.seconds)
        if auth is not None:
            await auth.start()
        settle_heap()
        jobs = asyncio.create_task(JobRunner(store, JOB_HANDLERS).run_forever())
        audit_flusher = asyncio.create_task(READ_BUFFER.run(store))
        await hl7.start()
        try:
            yield
        finally:
            await hl7.stop()
            for task in (jobs, audit_flusher):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await READ_BUFFER.flush(store)  # the audit records of the last requests
            await store.close()

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        ready = await store.ping()
        return JSONResponse({"status": "ready" if ready else "unavailable"}, 200 if ready else 503)

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        outcome = error(status, "not-found" if status == 404 else "not-supported", str(exc)).outcome()
        return Response(jsonio.dumps(outcome), status, media_type="application/fhir+json")

    routes = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        *hl7.routes(),
        *(auth_routes(auth) if auth is not None else []),
        # One route for the base and everything below it ("/fhirX" reaches route() and gets a 404).
        Route(FHIR_PREFIX + "{path:path}", endpoint, methods=list(_METHODS)),
    ]
    app = EmberApp(endpoint, routes=routes, lifespan=lifespan, exception_handlers={HTTPException: http_error})
    app.state.auth = auth  # for in-process tests, which start it themselves (no lifespan)
    return app


class EmberApp(Starlette):
    """Starlette for the lifespan and the routes beside FHIR; a FHIR request goes straight to the
    FHIR endpoint, which answers every failure itself (py-spy on `bench/core.py`'s reads:
    Starlette's middleware and router took 40% of a read's Python time). The FHIR route stays
    in the router for what skips this lane: methods FHIR does not use (Starlette's 405) and the
    fixed paths other routes hold under the FHIR base (`.well-known` discovery documents)."""

    def __init__(self, fhir: FhirEndpoint, *, routes: list[Route], **kwargs: Any) -> None:
        super().__init__(routes=routes, **kwargs)
        self.fhir = fhir
        self._held_paths = frozenset(
            r.path for r in routes if r.path.startswith(FHIR_PREFIX + "/") and r.endpoint is not fhir
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"] if scope["type"] == "http" else ""
        if path.startswith(FHIR_PREFIX) and scope["method"] in _METHODS and path not in self._held_paths:
            await self.fhir(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)


def settle_heap() -> None:
    """Move everything loaded at start-up (the R4 model, compiled expressions) out of the
    collector's sight and collect young objects less often: a request allocates a few hundred
    short-lived objects, and with the default threshold a full generation walk kept revisiting
    the long-lived ones."""
    type_definition("Patient")  # load the structure model now, not on the first write
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)


def app_from_environment() -> Starlette:
    """Factory for server workers: each worker process reads the EMBER_* settings."""
    return create_app(Settings.load())
