"""PID -> Patient, MRG -> the merged-away Patient (ADT^A40), NK1 -> RelatedPerson."""

from __future__ import annotations

from typing import Any

from ember.hl7v2.codes import GENDER, V2_TABLE
from ember.hl7v2.context import MappingContext
from ember.hl7v2.datatypes import address, codeable_concept, compact, contact_point, date, date_time, human_name
from ember.hl7v2.datatypes import identifier as cx_identifier
from ember.hl7v2.message import Field, Segment

_SSN = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "SS"}]}


def identifiers(field: Field) -> list[dict[str, Any]]:
    return [found for rep in field if (found := cx_identifier(rep)) is not None]


def identity_key(found: list[dict[str, Any]]) -> str | None:
    """The business key of a person: the first identifier, with its assigning authority."""
    return f"{found[0].get('system', '')}|{found[0]['value']}" if found else None


def map_pid(segment: Segment, ctx: MappingContext) -> None:
    """PID: the patient, matched by its first PID-3 identifier with assigning authority (PID-2 or
    PID-4 in old messages without PID-3); PID-19 (SSN) is kept as an identifier too."""
    found = [*identifiers(segment.field(3)), *identifiers(segment.field(2)), *identifiers(segment.field(4))]
    key = identity_key(found)
    if segment.value(19):
        found.append({"system": "http://hl7.org/fhir/sid/us-ssn", "value": segment.value(19), "type": _SSN})
    deceased = segment.value(30) == "Y" or bool(segment.value(29))
    patient = compact(
        {
            "resourceType": "Patient",
            "identifier": found,
            "active": True,
            "name": [name for rep in segment.field(5) if (name := human_name(rep))],
            "telecom": [cp for f in (13, 14) for rep in segment.field(f) if (cp := contact_point(rep))],
            "gender": GENDER.get(segment.value(8).upper()),
            "birthDate": date(segment.value(7)),
            "deceasedDateTime": date_time(segment.value(29), ctx.default_offset),
            "address": [addr for rep in segment.field(11) if (addr := address(rep))],
            "maritalStatus": _table_concept(segment, 16, "0002"),
        }
    )
    assert patient is not None  # resourceType is always there
    if deceased and "deceasedDateTime" not in patient:
        patient["deceasedBoolean"] = True
    ctx.patient_key = key
    key = None if ctx.patient_key is None else f"patient|{ctx.patient_key}"
    ctx.patient = ctx.add(patient, key, match=found[0] if found else None)
    ctx.patient_resource = patient


def map_mrg(segment: Segment, ctx: MappingContext) -> None:
    """MRG (A40 merge): the prior patient is marked inactive and replaced-by the surviving one,
    which in turn says it replaces the prior one (Patient.link both ways)."""
    patient = ctx.require_patient(segment)
    prior = identifiers(segment.field(1))
    prior_key = identity_key(prior)
    if prior_key is None or prior_key == ctx.patient_key:
        return
    old = {
        "resourceType": "Patient",
        "identifier": prior,
        "active": False,
        "link": [{"other": patient, "type": "replaced-by"}],
    }
    old_reference = ctx.add(old, f"patient|{prior_key}", match=prior[0])
    survivor = ctx.patient_resource
    if survivor is not None:
        survivor.setdefault("link", []).append({"other": old_reference, "type": "replaces"})


def map_nk1(segment: Segment, ctx: MappingContext) -> None:
    """NK1: a next of kin / contact person of the patient."""
    patient = ctx.require_patient(segment)
    person = compact(
        {
            "resourceType": "RelatedPerson",
            "patient": patient,
            "name": [name for rep in segment.field(2) if (name := human_name(rep))],
            "relationship": present_concepts(segment, 3),
            "address": [addr for rep in segment.field(4) if (addr := address(rep))],
            "telecom": [cp for f in (5, 6) for rep in segment.field(f) if (cp := contact_point(rep))],
        }
    )
    assert person is not None
    ctx.add(person, ctx.scoped_key("NK1", segment.value(1)))


def present_concepts(segment: Segment, number: int) -> list[dict[str, Any]]:
    return [concept for rep in segment.field(number) if (concept := codeable_concept(rep))]


def _table_concept(segment: Segment, number: int, table: str) -> dict[str, Any] | None:
    """A coded field whose values come from one HL7 table (the system defaults to that table)."""
    code, text = segment.value(number, 1), segment.value(number, 2)
    if not code:
        return None
    return compact({"coding": [compact({"system": V2_TABLE.format(table=table), "code": code})], "text": text})
