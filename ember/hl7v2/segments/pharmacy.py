"""RXE / RXO -> MedicationRequest (RDE^O11, ORM^O01 pharmacy orders), RXA -> Immunization
(VXU^V04), RXR -> their route and site."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ember.hl7v2.codes import IMMUNIZATION_STATUS
from ember.hl7v2.context import MappingContext, MappingError
from ember.hl7v2.datatypes import codeable_concept, compact, date, date_time, decimal
from ember.hl7v2.message import Segment
from ember.hl7v2.segments.observations import quantity


@dataclass(frozen=True, slots=True)
class _Layout:
    """Where RXE and RXO keep the same facts (they differ by one field or two)."""

    code: int
    dose: int
    dose_units: int
    amount: int
    amount_units: int
    refills: int


_LAYOUTS = {"RXE": _Layout(2, 3, 5, 10, 11, 12), "RXO": _Layout(1, 2, 4, 11, 12, 13)}
#: Pharmacy messages whose RXE is the order as encoded by the pharmacy: their RXO is not mapped.
_ENCODED_ORDER_MESSAGES = frozenset({"RDE", "RDS", "RGV", "RAS"})


def map_medication_order(segment: Segment, ctx: MappingContext) -> None:
    """RXE, or RXO in an order message: a MedicationRequest keyed by its order (ORC) numbers."""
    if segment.name == "RXO" and ctx.message.message_code in _ENCODED_ORDER_MESSAGES:
        return
    layout = _LAYOUTS[segment.name]
    patient = ctx.require_patient(segment)
    if not segment.field(layout.code):
        raise MappingError(
            f"{segment.name}-{layout.code} (the medication) is required", segment.name, 1, layout.code, "101"
        )
    dose = quantity(decimal(segment.value(layout.dose)), _unit(segment, layout.dose_units))
    request = compact(
        {
            "resourceType": "MedicationRequest",
            "status": ctx.order_status or "active",
            "intent": "order",
            "medicationCodeableConcept": codeable_concept(segment.field(layout.code)[0]),
            "subject": patient,
            "encounter": ctx.encounter,
            "authoredOn": ctx.order_authored,
            "dosageInstruction": [{"doseAndRate": [{"doseQuantity": dose}]}] if dose else [],
            "dispenseRequest": _dispense(segment, layout),
        }
    )
    assert request is not None
    if ctx.order_entry is not None and ctx.order_request is not None and "code" not in ctx.order_request:
        ctx.entries.pop(ctx.order_entry, None)  # the ORC's ServiceRequest is this MedicationRequest
        ctx.order_request = ctx.order_entry = None
    ctx.add(request, None if ctx.order_key is None else f"medication-order|{ctx.order_key}")
    ctx.administration = request


def map_rxr(segment: Segment, ctx: MappingContext) -> None:
    """RXR: route (RXR-1) and site (RXR-2) of the medication or vaccine just mapped."""
    target = ctx.administration
    if target is None:
        return
    route = codeable_concept(segment.field(1)[0]) if segment.field(1) else None
    site = codeable_concept(segment.field(2)[0]) if segment.field(2) else None
    if target["resourceType"] == "Immunization":
        target.update(compact({"route": route, "site": site}) or {})
    elif route or site:
        dosages = target.setdefault("dosageInstruction", [{}])
        dosages[0].update(compact({"route": route, "site": site}) or {})


def _unit(segment: Segment, number: int) -> dict[str, Any] | None:
    code, text = segment.value(number, 1), segment.value(number, 2)
    return {"unit": text or code} if code or text else None


def _dispense(segment: Segment, layout: _Layout) -> dict[str, Any] | None:
    amount = decimal(segment.value(layout.amount))
    refills = segment.value(layout.refills)
    return compact(
        {
            "quantity": quantity(amount, _unit(segment, layout.amount_units)),
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
    ctx.administration = immunization
