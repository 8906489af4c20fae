"""ORC -> the order in scope, OBR -> ServiceRequest (orders) or DiagnosticReport (results)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ember.hl7v2.codes import ORDER_STATUS, ORDER_STATUS_CODE, REPORT_STATUS
from ember.hl7v2.context import MappingContext, MappingError
from ember.hl7v2.datatypes import (
    codeable_concept,
    compact,
    date_time,
    entity_identifier,
    instant,
    practitioner_reference,
)
from ember.hl7v2.message import Segment

#: Message types whose OBR is a result (a DiagnosticReport); in any other it is an order.
RESULT_MESSAGES = frozenset({"ORU", "OUL"})
#: Order messages: their ORC is a ServiceRequest even without an OBR (diet, supply orders).
ORDER_MESSAGES = frozenset({"ORM", "OML", "OMG", "OMD", "OMS", "OMN", "OMP", "OMI"})
_ID_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"


def order_identifiers(segment: Segment, placer: int, filler: int) -> list[dict[str, Any]]:
    """Placer (PLAC) and filler (FILL) order numbers, as typed Identifiers."""
    found = []
    for number, kind in ((placer, "PLAC"), (filler, "FILL")):
        value = entity_identifier(segment.field(number)[0]) if segment.field(number) else None
        if value is not None:
            found.append({**value, "type": {"coding": [{"system": _ID_TYPE, "code": kind}]}})
    return found


def order_match(found: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The identifier an order is known by: its filler number when known, else its placer number."""
    return found[-1] if found else None


def order_key(match: dict[str, Any] | None) -> str | None:
    return None if match is None else f"{match.get('system', '')}|{match['value']}"


def map_orc(segment: Segment, ctx: MappingContext) -> None:
    """ORC: opens an order group; what follows (OBR, RXO, RXE, RXA) belongs to this order. In an
    order message the ORC is itself a ServiceRequest, which a following OBR completes (and an
    RXO replaces with a MedicationRequest)."""
    found = order_identifiers(segment, 2, 3)
    ctx.order_match = order_match(found)
    ctx.order_key = order_key(ctx.order_match)
    ctx.order_status = ORDER_STATUS_CODE.get(segment.value(5)) or ORDER_STATUS.get(segment.value(1))
    ctx.order_authored = date_time(segment.value(9), ctx.default_offset)
    ctx.order_request = ctx.order_entry = ctx.administration = None
    if ctx.message.message_code in ORDER_MESSAGES:
        requester = practitioner_reference(segment.field(12)[0]) if segment.field(12) else None
        request = _request(ctx, ctx.require_patient(segment), None, found, requester)
        ctx.order_request = request
        key = None if ctx.order_key is None else f"order|{ctx.order_key}"
        reference = ctx.add(request, key, match=ctx.order_match)
        ctx.order_entry = key or reference["reference"]


def map_obr(segment: Segment, ctx: MappingContext) -> None:
    patient = ctx.require_patient(segment)
    if not segment.field(4):
        raise MappingError("OBR-4 (universal service identifier) is required", "OBR", 1, 4, code="101")
    code = codeable_concept(segment.field(4)[0])
    ctx.translate_later(code, segment.value(4, 3), segment.value(4, 1))
    found = order_identifiers(segment, 2, 3)
    match = order_match(found) or ctx.order_match
    facts = _Obr(patient, code, found, order_key(match), match)
    if ctx.message.message_code in RESULT_MESSAGES:
        _report(segment, ctx, facts)
    else:
        _service_request(segment, ctx, facts)


@dataclass(frozen=True, slots=True)
class _Obr:
    """What an OBR says whichever resource it becomes."""

    patient: dict[str, Any]
    code: dict[str, Any] | None
    identifiers: list[dict[str, Any]]
    key: str | None
    match: dict[str, Any] | None


def _report(segment: Segment, ctx: MappingContext, obr: _Obr) -> None:
    report = compact(
        {
            "resourceType": "DiagnosticReport",
            "identifier": obr.identifiers,
            "status": REPORT_STATUS.get(segment.value(25), "unknown"),
            "code": obr.code,
            "subject": obr.patient,
            "encounter": ctx.encounter,
            "effectiveDateTime": date_time(segment.value(7), ctx.default_offset),
            "issued": instant(segment.value(22), ctx.default_offset),
        }
    )
    assert report is not None
    ctx.report = report
    ctx.report_key = None if obr.key is None else f"report|{obr.key}"
    ctx.add(report, ctx.report_key, match=obr.match)


def _service_request(segment: Segment, ctx: MappingContext, obr: _Obr) -> None:
    """OBR in an order message: the code of the ORC's ServiceRequest, or a new one."""
    ctx.report = None
    ctx.report_key = None
    requester = practitioner_reference(segment.field(16)[0]) if segment.field(16) else None
    priority = {"S": "stat", "A": "asap", "R": "routine"}.get(segment.value(5))
    opened = ctx.order_request
    if opened is not None and "code" not in opened:
        opened.update(compact({"code": obr.code, "priority": priority}) or {})
        if requester:
            opened.setdefault("requester", requester)
        return
    request = _request(ctx, obr.patient, obr.code, obr.identifiers, requester)
    if priority:
        request["priority"] = priority
    ctx.add(request, None if obr.key is None else f"order|{obr.key}", match=obr.match)


def _request(
    ctx: MappingContext,
    patient: dict[str, Any],
    code: dict[str, Any] | None,
    found: list[dict[str, Any]],
    requester: dict[str, Any] | None,
) -> dict[str, Any]:
    request = compact(
        {
            "resourceType": "ServiceRequest",
            "identifier": found,
            "status": ctx.order_status or "active",
            "intent": "order",
            "code": code,
            "subject": patient,
            "encounter": ctx.encounter,
            "authoredOn": ctx.order_authored,
            "requester": requester,
        }
    )
    assert request is not None
    return request
