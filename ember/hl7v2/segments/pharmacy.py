"""RXE -> MedicationRequest (RDE^O11), RXA -> Immunization (VXU^V04)."""

from __future__ import annotations

from typing import Any

from ember.hl7v2.codes import IMMUNIZATION_STATUS
from ember.hl7v2.context import MappingContext, MappingError
from ember.hl7v2.datatypes import codeable_concept, compact, date, date_time, decimal
from ember.hl7v2.message import Segment
from ember.hl7v2.segments.observations import quantity


def map_rxe(segment: Segment, ctx: MappingContext) -> None:
    """RXE: the pharmacy's encoded order, keyed by its order (ORC) numbers."""
    patient = ctx.require_patient(segment)
    if not segment.field(2):
        raise MappingError("RXE-2 (give code) is required", "RXE", 1, 2, code="101")
    dose = quantity(decimal(segment.value(3)), _unit(segment, 5))
    request = compact(
        {
            "resourceType": "MedicationRequest",
            "status": ctx.order_status or "active",
            "intent": "order",
            "medicationCodeableConcept": codeable_concept(segment.field(2)[0]),
            "subject": patient,
            "encounter": ctx.encounter,
            "authoredOn": ctx.order_authored,
            "dosageInstruction": [{"doseAndRate": [{"doseQuantity": dose}]}] if dose else [],
            "dispenseRequest": _dispense(segment),
        }
    )
    assert request is not None
    ctx.add(request, None if ctx.order_key is None else f"medication-order|{ctx.order_key}")


def _unit(segment: Segment, number: int) -> dict[str, Any] | None:
    code, text = segment.value(number, 1), segment.value(number, 2)
    return {"unit": text or code} if code or text else None


def _dispense(segment: Segment) -> dict[str, Any] | None:
    amount = decimal(segment.value(10))
    refills = segment.value(12)
    return compact(
        {
            "quantity": quantity(amount, _unit(segment, 11)),
            "numberOfRepeatsAllowed": int(refills) if refills.isdigit() and len(refills) < 9 else None,
        }
    )


def map_rxa(segment: Segment, ctx: MappingContext) -> None:
    """RXA: an administered (or refused) vaccine."""
    patient = ctx.require_patient(segment)
    occurred = date_time(segment.value(3), ctx.default_offset)
    if not segment.field(5) or occurred is None:
        raise MappingError("RXA-3 (start time) and RXA-5 (administered code) are required", "RXA", 1, 5, code="101")
    status = IMMUNIZATION_STATUS.get(segment.value(20), "completed")
    if segment.value(21) == "D":
        status = "entered-in-error"
    amount = segment.value(6)
    immunization = compact(
        {
            "resourceType": "Immunization",
            "status": status,
            "vaccineCode": codeable_concept(segment.field(5)[0]),
            "patient": patient,
            "encounter": ctx.encounter,
            "occurrenceDateTime": occurred,
            "lotNumber": segment.value(15) or None,
            "expirationDate": date(segment.value(16)),
            "manufacturer": {"display": name} if (name := segment.value(17, 2) or segment.value(17)) else None,
            "doseQuantity": None if amount == "999" else quantity(decimal(amount), _unit(segment, 7)),
        }
    )
    assert immunization is not None
    key = ctx.order_key or ctx.scoped_key(segment.value(3), segment.value(5))
    ctx.add(immunization, None if key is None else f"immunization|{key}")
