"""PV1 -> Encounter: class, status from the trigger event, visit number, period, location."""

from __future__ import annotations

from typing import Any

from ember.hl7v2.codes import ENCOUNTER_STATUS_BY_EVENT, PATIENT_CLASS, V2_TABLE
from ember.hl7v2.context import MappingContext
from ember.hl7v2.datatypes import compact, date_time, practitioner_reference
from ember.hl7v2.datatypes import identifier as cx_identifier
from ember.hl7v2.message import Segment

_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
_UNKNOWN_CLASS = {"system": "http://terminology.hl7.org/CodeSystem/v3-NullFlavor", "code": "UNK"}


def map_pv1(segment: Segment, ctx: MappingContext) -> None:
    """PV1: the visit, matched by its visit number (PV1-19) when the sender gives one."""
    patient = ctx.require_patient(segment)
    visit = cx_identifier(segment.field(19)[0]) if segment.field(19) else None
    start = date_time(segment.value(44), ctx.default_offset)
    end = date_time(segment.value(45), ctx.default_offset)
    encounter = compact(
        {
            "resourceType": "Encounter",
            "identifier": [visit] if visit else [],
            "status": _status(ctx, end),
            "class": _encounter_class(segment.value(2)),
            "subject": patient,
            "participant": _participants(segment),
            "period": compact({"start": start, "end": end}) if start is None or end is None or start <= end else None,
            "location": [{"location": {"display": where}}] if (where := _location(segment)) else [],
        }
    )
    assert encounter is not None
    key = f"encounter|{visit.get('system', '')}|{visit['value']}" if visit else None
    ctx.encounter = ctx.add(encounter, key, match=visit)


def _status(ctx: MappingContext, end: str | None) -> str:
    if ctx.message.message_code == "ADT" and ctx.event in ENCOUNTER_STATUS_BY_EVENT:
        return ENCOUNTER_STATUS_BY_EVENT[ctx.event]
    return "finished" if end else ("in-progress" if ctx.message.message_code == "ADT" else "unknown")


def _encounter_class(patient_class: str) -> dict[str, Any]:
    if patient_class in PATIENT_CLASS:
        code, display = PATIENT_CLASS[patient_class]
        return {"system": _ACT_CODE, "code": code, "display": display}
    if patient_class:
        return {"system": V2_TABLE.format(table="0004"), "code": patient_class}
    return dict(_UNKNOWN_CLASS)


def _participants(segment: Segment) -> list[dict[str, Any]]:
    """Attending (PV1-7), referring (PV1-8), consulting (PV1-9) and admitting (PV1-17) doctors."""
    roles = ((7, "ATND"), (8, "REF"), (9, "CON"), (17, "ADM"))
    participants = []
    for number, role in roles:
        for rep in segment.field(number):
            individual = practitioner_reference(rep)
            if individual:
                kind = {
                    "coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": role}]
                }
                participants.append({"type": [kind], "individual": individual})
    return participants


def _location(segment: Segment) -> str | None:
    """PV1-3 (point of care, room, bed, facility) as one display text."""
    parts = [segment.value(3, n) for n in (1, 2, 3, 4)]
    return ", ".join(part for part in parts if part) or None
