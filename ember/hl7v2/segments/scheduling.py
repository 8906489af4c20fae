"""SCH (+ TQ1, AIS, AIG, AIL, AIP) -> Appointment (SIU^S12-S17)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ember.hl7v2.codes import APPOINTMENT_STATUS, APPOINTMENT_STATUS_BY_EVENT
from ember.hl7v2.context import MappingContext
from ember.hl7v2.datatypes import codeable_concept, compact, entity_identifier, instant
from ember.hl7v2.message import Segment

#: Statuses FHIR allows without start and end (invariant app-3).
_UNSCHEDULED = frozenset({"proposed", "cancelled", "waitlist"})
_SECONDS = {"s": 1, "min": 60, "m": 60, "h": 3600, "hr": 3600, "d": 86400}


def map_sch(segment: Segment, ctx: MappingContext) -> None:
    """SCH: the appointment; the patient and the times may come in later segments."""
    found = [i for number in (1, 2) if segment.field(number) and (i := entity_identifier(segment.field(number)[0]))]
    status = APPOINTMENT_STATUS.get(segment.value(25)) or APPOINTMENT_STATUS_BY_EVENT.get(ctx.event, "booked")
    appointment = compact(
        {
            "resourceType": "Appointment",
            "identifier": found,
            "status": status,
            "reasonCode": [concept] if segment.field(7) and (concept := codeable_concept(segment.field(7)[0])) else [],
            "appointmentType": codeable_concept(segment.field(8)[0]) if segment.field(8) else None,
            "description": segment.value(6, 2) or None,
            "start": instant(segment.value(11, 4), ctx.default_offset),
            "end": instant(segment.value(11, 5), ctx.default_offset),
        }
    )
    assert appointment is not None
    appointment["participant"] = []
    ctx.appointment = appointment
    duration = _seconds(segment.value(9), segment.value(10, 1))
    ctx.finishers.append(lambda done: _finish(done, appointment, duration))
    key = f"{found[0].get('system', '')}|{found[0]['value']}" if found else None
    ctx.add(appointment, None if key is None else f"appointment|{key}", match=found[0] if found else None)


def map_tq1(segment: Segment, ctx: MappingContext) -> None:
    """TQ1 after an SCH: its start (TQ1-7) and end (TQ1-8) date/time (v2.5+)."""
    if ctx.appointment is None:
        return
    for number, element in ((7, "start"), (8, "end")):
        moment = instant(segment.value(number), ctx.default_offset)
        if moment:
            ctx.appointment[element] = moment


def map_resource(segment: Segment, ctx: MappingContext) -> None:
    """AIS/AIG/AIL/AIP: a service, resource, location or person taking part (named, not created)."""
    if ctx.appointment is None:
        return
    display = segment.value(3, 2) or segment.value(3, 1)
    if segment.name == "AIP":
        display = " ".join(p for p in (segment.value(3, 3), segment.value(3, 2)) if p) or segment.value(3, 1)
    if display:
        ctx.appointment["participant"].append({"actor": {"display": display}, "status": "accepted"})
    if segment.name == "AIS" and "start" not in ctx.appointment:
        start = instant(segment.value(4), ctx.default_offset)
        if start:
            ctx.appointment["start"] = start


def _seconds(amount: str, units: str) -> int | None:
    return int(amount) * _SECONDS[units] if amount.isdigit() and len(amount) < 7 and units in _SECONDS else None


def _finish(ctx: MappingContext, appointment: dict[str, Any], duration: int | None) -> None:
    """Add the patient, fill the end from the duration, and keep invariants app-2/app-3 true."""
    if ctx.patient is not None:
        appointment["participant"].insert(0, {"actor": ctx.patient, "status": "accepted"})
    if not appointment["participant"]:
        appointment["participant"].append({"actor": {"display": "unknown"}, "status": "needs-action"})
    if "start" in appointment and "end" not in appointment and duration is not None:
        start = datetime.fromisoformat(appointment["start"])
        appointment["end"] = (start + timedelta(seconds=duration)).isoformat()
    if ("start" in appointment) != ("end" in appointment) or appointment.get("start", "") > appointment.get("end", ""):
        appointment.pop("start", None)
        appointment.pop("end", None)
    if "start" not in appointment and appointment["status"] not in _UNSCHEDULED:
        appointment["status"] = "proposed"
