"""HTTP edge of the bridge: `POST /hl7v2` (one message in, its ACK out) and the dead letters.

`POST /hl7v2` with `Content-Type: x-application/hl7-v2+er7` answers 200 with the ACK as the
body in the same media type, whatever MSA-1 says (AA, AE or AR): the ACK is HL7's own answer, as
over MLLP. Requests the endpoint cannot take (wrong media type, too large) are answered with an
OperationOutcome and a 4xx. `GET /hl7v2/errors` lists the dead letters as a FHIR Bundle of
OperationOutcomes, one per failed message, for consoles and monitoring.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ember.access import AccessContext
from ember.auth.edge import bearer_context
from ember.auth.server import AuthServer
from ember.fhir import jsonio
from ember.fhir.outcome import FhirError, error
from ember.hl7v2 import dead_letters
from ember.hl7v2.ingest import Ingestor

log = logging.getLogger("ember.hl7v2")

MEDIA_TYPE = "x-application/hl7-v2+er7"
_FHIR_JSON = "application/fhir+json"
_ACK_CODES = "http://terminology.hl7.org/CodeSystem/v2-0008"


#: What the bridge writes: with auth on, a caller of /hl7v2 must hold system-level scopes to
#: create and update every one of these (`system/*.cu`, `system/*.cruds`...).
WRITTEN_TYPES = (
    "Patient",
    "RelatedPerson",
    "Encounter",
    "AllergyIntolerance",
    "Condition",
    "Coverage",
    "ServiceRequest",
    "DiagnosticReport",
    "Observation",
    "MedicationRequest",
    "Immunization",
    "Appointment",
)


def routes(ingestor: Ingestor, max_bytes: int, auth: AuthServer | None) -> list[Route]:
    """The routes to mount on the application; with `auth` every request needs a bearer token
    that may write everything the bridge writes (the dead letters hold whole messages too)."""

    async def receive(request: Request) -> Response:
        try:
            await _authorise(request, auth)
            body = await _message_body(request, max_bytes)
            outcome = await ingestor.receive(body)
        except FhirError as failure:
            return _outcome_response(failure)
        except Exception:  # noqa: BLE001 - the edge: an OperationOutcome, never a stack trace
            log.exception("HL7 v2 message over HTTP could not be processed")
            outcome_500 = error(500, "exception", "Internal server error; resend later").outcome()
            return Response(jsonio.dumps(outcome_500), 500, media_type=_FHIR_JSON)
        return Response(outcome.ack.encode(), 200, media_type=MEDIA_TYPE)

    async def errors(request: Request) -> Response:
        try:
            await _authorise(request, auth)
        except FhirError as failure:
            return _outcome_response(failure)
        letters = await dead_letters.list_all(ingestor.store)
        entries = [{"resource": _outcome(letter)} for letter in letters]
        bundle = {"resourceType": "Bundle", "type": "collection", "total": len(entries), "entry": entries}
        return Response(jsonio.dumps(bundle), 200, media_type=_FHIR_JSON)

    return [Route("/hl7v2", receive, methods=["POST"]), Route("/hl7v2/errors", errors, methods=["GET"])]


async def _authorise(request: Request, auth: AuthServer | None) -> None:
    """401 without a usable token, 403 when it may not write what the bridge writes."""
    if auth is None:
        return
    _, verifier = auth.tokens()
    client = request.client.host if request.client else None
    ctx = await bearer_context(verifier, request.headers.get("authorization"), auth.fhir_base(request), client)
    if not _may_feed(ctx):
        raise error(
            403, "forbidden", "The HL7 v2 bridge needs a token that may create and update " + ", ".join(WRITTEN_TYPES)
        )


def _may_feed(ctx: AccessContext) -> bool:
    """A feed writes for every patient: only unrestricted system-level grants (no patient or
    user level, no v2 query restriction) covering create and update of every written type."""
    grants = [grant for grant in ctx.grants if grant.level == "system" and not grant.query]
    return ctx.unrestricted or all(
        any(grant.covers(letter, resource_type) for grant in grants)
        for resource_type in WRITTEN_TYPES
        for letter in ("c", "u")
    )


def _outcome_response(failure: FhirError) -> Response:
    return Response(jsonio.dumps(failure.outcome()), failure.status, headers=failure.headers, media_type=_FHIR_JSON)


async def _message_body(request: Request, max_bytes: int) -> bytes:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != MEDIA_TYPE:
        raise error(415, "not-supported", f"POST /hl7v2 takes {MEDIA_TYPE}, not '{media_type or 'nothing'}'")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise error(413, "too-costly", f"Message larger than {max_bytes} bytes")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise error(413, "too-costly", f"Message larger than {max_bytes} bytes")
    if not body.strip():
        raise error(400, "required", "The request has no HL7 v2 message")
    return body


def _outcome(letter: dead_letters.DeadLetter) -> dict[str, Any]:
    """A dead letter as an OperationOutcome: id, the error, and the message kept verbatim."""
    return {
        "resourceType": "OperationOutcome",
        "id": letter.id,
        "issue": [
            {
                "severity": "error",
                "code": "processing",
                "details": {"coding": [{"system": _ACK_CODES, "code": letter.ack_code}], "text": letter.error},
                "diagnostics": f"MSH-10 '{letter.control_id}' received {letter.received:.3f}: {letter.message}",
            }
        ],
    }
