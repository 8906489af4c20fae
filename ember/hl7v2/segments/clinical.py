"""AL1 -> AllergyIntolerance, DG1 -> Condition, IN1 -> Coverage: facts about the patient."""

from __future__ import annotations

from ember.hl7v2.codes import ALLERGY_CATEGORY, ALLERGY_CRITICALITY
from ember.hl7v2.context import MappingContext
from ember.hl7v2.datatypes import codeable_concept, compact, date, date_time
from ember.hl7v2.datatypes import identifier as cx_identifier
from ember.hl7v2.message import Segment

_CLINICAL = "http://terminology.hl7.org/CodeSystem/{kind}-clinical"


def _clinical_status(kind: str) -> dict[str, object]:
    return {"coding": [{"system": _CLINICAL.format(kind=kind), "code": "active"}]}


def map_al1(segment: Segment, ctx: MappingContext) -> None:
    """AL1: an allergy, keyed by the patient and the allergen code."""
    patient = ctx.require_patient(segment)
    allergen = codeable_concept(segment.field(3)[0]) if segment.field(3) else None
    reactions = [{"text": text} for rep in segment.field(5) if (text := rep[0][0] if rep and rep[0] else "")]
    allergy = compact(
        {
            "resourceType": "AllergyIntolerance",
            "clinicalStatus": _clinical_status("allergyintolerance"),
            "category": [category] if (category := ALLERGY_CATEGORY.get(segment.value(2))) else [],
            "criticality": ALLERGY_CRITICALITY.get(segment.value(4)),
            "code": allergen,
            "patient": patient,
            "onsetDateTime": date(segment.value(6)),
            "reaction": [{"manifestation": reactions}] if reactions else [],
        }
    )
    assert allergy is not None
    ctx.add(allergy, ctx.scoped_key("AL1", segment.value(3) or segment.value(3, 2)))


def map_dg1(segment: Segment, ctx: MappingContext) -> None:
    """DG1: an encounter diagnosis (code DG1-3, or the v2.3 description DG1-4)."""
    patient = ctx.require_patient(segment)
    code = codeable_concept(segment.field(3)[0]) if segment.field(3) else None
    if code is None and segment.value(4):
        code = {"text": segment.value(4)}
    category = {
        "coding": [
            {"system": "http://terminology.hl7.org/CodeSystem/condition-category", "code": "encounter-diagnosis"}
        ]
    }
    condition = compact(
        {
            "resourceType": "Condition",
            "clinicalStatus": _clinical_status("condition"),
            "category": [category],
            "code": code,
            "subject": patient,
            "encounter": ctx.encounter,
            "onsetDateTime": date_time(segment.value(5), ctx.default_offset),
        }
    )
    assert condition is not None
    ctx.add(condition, ctx.scoped_key("DG1", segment.value(3) or segment.value(4)))


def map_in1(segment: Segment, ctx: MappingContext) -> None:
    """IN1: the patient's insurance; the payer (IN1-4) is named, not created."""
    patient = ctx.require_patient(segment)
    policy = segment.value(36)
    start, end = date(segment.value(12)), date(segment.value(13))
    coverage = compact(
        {
            "resourceType": "Coverage",
            "identifier": [policy_id] if (policy_id := compact({"value": policy})) else [],
            "status": "active",
            "subscriberId": segment.value(49) or None,
            "beneficiary": patient,
            "period": compact({"start": start, "end": end}) if not (start and end and end < start) else None,
            "payor": [{"display": segment.value(4) or segment.value(3) or "unknown payer"}],
            "type": codeable_concept(segment.field(15)[0]) if segment.field(15) else None,
        }
    )
    assert coverage is not None
    plan = cx_identifier(segment.field(3)[0]) if segment.field(3) else None
    ctx.add(coverage, ctx.scoped_key("IN1", plan["value"] if plan else segment.value(2), policy or segment.value(1)))
