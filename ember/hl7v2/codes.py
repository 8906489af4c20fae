"""Code tables: HL7 v2 table values to the FHIR codes the IG's ConceptMaps give them.

Plain dictionaries, so a site can extend one in a line (`codes.OBSERVATION_STATUS["Z"] = ...`)
without touching a mapper. A value missing from a table is dropped or left to the mapper's
default, never passed through: FHIR required bindings refuse unknown codes.
"""

from __future__ import annotations

import re
from urllib.parse import quote

V2_TABLE = "http://terminology.hl7.org/CodeSystem/v2-{table}"

#: HL7 v2 coding system names (table 0396) to FHIR code system URIs.
CODING_SYSTEMS = {
    "LN": "http://loinc.org",
    "LOINC": "http://loinc.org",
    "SCT": "http://snomed.info/sct",
    "SNM": "http://snomed.info/sct",
    "SNOMED": "http://snomed.info/sct",
    "SNOMED-CT": "http://snomed.info/sct",
    "I9": "http://hl7.org/fhir/sid/icd-9-cm",
    "I9C": "http://hl7.org/fhir/sid/icd-9-cm",
    "I9CDX": "http://hl7.org/fhir/sid/icd-9-cm",
    "I10": "http://hl7.org/fhir/sid/icd-10",
    "I10C": "http://hl7.org/fhir/sid/icd-10-cm",
    "ICD10CM": "http://hl7.org/fhir/sid/icd-10-cm",
    "CVX": "http://hl7.org/fhir/sid/cvx",
    "MVX": "http://terminology.hl7.org/CodeSystem/MVX",
    "NDC": "http://hl7.org/fhir/sid/ndc",
    "RXNORM": "http://www.nlm.nih.gov/research/umls/rxnorm",
    "RXN": "http://www.nlm.nih.gov/research/umls/rxnorm",
    "C4": "http://www.ama-assn.org/go/cpt",
    "CPT": "http://www.ama-assn.org/go/cpt",
    "UCUM": "http://unitsofmeasure.org",
    "ISO+": "urn:iso:std:iso:2955",
    "CDCREC": "urn:oid:2.16.840.1.113883.6.238",
    "NCIT": "http://ncimeta.nci.nih.gov",
    "NUCC": "http://nucc.org/provider-taxonomy",
}
_V2_TABLE_NAME = re.compile(r"HL7(\d{4})")


def coding_system(name: str) -> str | None:
    """The FHIR system for a v2 coding system name; HL7nnnn is v2 table nnnn; any other (local)
    name is kept, percent-encoded, so it stays a valid uri and can be translated later."""
    if not name:
        return None
    known = CODING_SYSTEMS.get(name.upper())
    if known:
        return known
    table = _V2_TABLE_NAME.fullmatch(name.upper())
    if table:
        return V2_TABLE.format(table=table.group(1))
    return quote(name, safe=":/.-_~")


#: Table 0001 administrative sex -> Patient.gender.
GENDER = {"M": "male", "F": "female", "O": "other", "A": "other", "U": "unknown", "N": "unknown"}
#: Table 0200 name type -> HumanName.use.
NAME_USE = {"L": "official", "D": "usual", "M": "maiden", "N": "nickname", "A": "anonymous", "C": "old"}
#: Table 0190 address type -> Address.use.
ADDRESS_USE = {"H": "home", "B": "work", "O": "work", "C": "temp", "BA": "billing", "M": "home"}
#: Table 0201 telecom use -> ContactPoint.use.
TELECOM_USE = {"PRN": "home", "ORN": "home", "WPN": "work", "VHN": "temp", "PRS": "mobile", "EMR": "home"}
#: Table 0202 telecom equipment -> ContactPoint.system.
TELECOM_EQUIPMENT = {"PH": "phone", "CP": "phone", "FX": "fax", "BP": "pager", "Internet": "email", "X.400": "email"}
#: Table 0004 patient class -> Encounter.class (v3 ActCode).
PATIENT_CLASS = {
    "I": ("IMP", "inpatient encounter"),
    "O": ("AMB", "ambulatory"),
    "E": ("EMER", "emergency"),
    "P": ("PRENC", "pre-admission"),
    "R": ("AMB", "ambulatory"),
    "B": ("OBSENC", "observation encounter"),
    "C": ("AMB", "ambulatory"),
    "N": ("AMB", "ambulatory"),
}
#: ADT trigger event -> Encounter.status (the IG's ADT message maps).
ENCOUNTER_STATUS_BY_EVENT = {
    "A01": "in-progress",
    "A02": "in-progress",
    "A03": "finished",
    "A04": "arrived",
    "A05": "planned",
    "A06": "in-progress",
    "A07": "in-progress",
    "A11": "cancelled",
    "A13": "in-progress",
    "A14": "planned",
    "A27": "cancelled",
    "A38": "cancelled",
}
#: Table 0085 observation result status -> Observation.status.
OBSERVATION_STATUS = {
    "F": "final",
    "C": "corrected",
    "P": "preliminary",
    "R": "preliminary",
    "S": "preliminary",
    "I": "registered",
    "O": "registered",
    "X": "cancelled",
    "D": "entered-in-error",
    "W": "entered-in-error",
    "U": "final",
    "A": "amended",
}
#: Table 0123 result status -> DiagnosticReport.status.
REPORT_STATUS = {
    "F": "final",
    "C": "corrected",
    "P": "preliminary",
    "R": "partial",
    "S": "partial",
    "A": "partial",
    "I": "registered",
    "O": "registered",
    "X": "cancelled",
    "Y": "unknown",
    "Z": "unknown",
}
#: Table 0078 abnormal flags -> v3 ObservationInterpretation codes (same spelling).
INTERPRETATION = frozenset(
    {"L", "H", "LL", "HH", "<", ">", "N", "A", "AA", "U", "D", "B", "W", "S", "R", "I", "MS", "VS", "NEG", "POS", "IND"}
)
INTERPRETATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
#: Table 0119 order control -> ServiceRequest / MedicationRequest status.
ORDER_STATUS = {
    "NW": "active",
    "OK": "active",
    "SC": "active",
    "XO": "active",
    "RE": "completed",
    "CA": "revoked",
    "OC": "revoked",
    "CR": "revoked",
    "DC": "revoked",
    "OD": "revoked",
    "HD": "on-hold",
    "OH": "on-hold",
    "RL": "active",
}
#: Table 0038 order status (ORC-5) -> request status, preferred over ORC-1 when present.
ORDER_STATUS_CODE = {
    "A": "active",
    "IP": "active",
    "SC": "active",
    "CM": "completed",
    "CA": "revoked",
    "DC": "revoked",
    "HD": "on-hold",
    "ER": "entered-in-error",
}
#: Table 0127 allergen type -> AllergyIntolerance.category.
ALLERGY_CATEGORY = {
    "DA": "medication",
    "MA": "medication",
    "FA": "food",
    "EA": "environment",
    "AA": "environment",
    "PA": "environment",
    "LA": "environment",
}
#: Table 0128 allergy severity -> AllergyIntolerance.criticality.
ALLERGY_CRITICALITY = {"SV": "high", "MO": "low", "MI": "low", "U": "unable-to-assess"}
#: Table 0322 completion status -> Immunization.status.
IMMUNIZATION_STATUS = {"CP": "completed", "PA": "completed", "RE": "not-done", "NA": "not-done"}
#: SIU trigger event -> Appointment.status.
APPOINTMENT_STATUS_BY_EVENT = {
    "S12": "booked",
    "S13": "booked",
    "S14": "booked",
    "S15": "cancelled",
    "S16": "cancelled",
    "S17": "cancelled",
    "S26": "noshow",
}
#: Table 0278 filler status (SCH-25) -> Appointment.status, preferred over the event.
APPOINTMENT_STATUS = {
    "Booked": "booked",
    "Cancelled": "cancelled",
    "Complete": "fulfilled",
    "Noshow": "noshow",
    "Pending": "pending",
    "Waitlist": "waitlist",
    "Deleted": "entered-in-error",
    "Started": "arrived",
}
#: Units written in UCUM by senders that do not say so (OBX-6 without a coding system).
UCUM_UNITS = frozenset(
    {
        "%",
        "g",
        "mg",
        "kg",
        "ug",
        "ng",
        "L",
        "mL",
        "dL",
        "g/dL",
        "mg/dL",
        "mg/L",
        "ug/L",
        "ng/mL",
        "pg/mL",
        "mmol/L",
        "umol/L",
        "nmol/L",
        "mol/L",
        "meq/L",
        "mEq/L",
        "kU/L",
        "U/L",
        "[IU]/L",
        "fL",
        "pg",
        "10*3/uL",
        "10*6/uL",
        "10*9/L",
        "10*12/L",
        "mm[Hg]",
        "/min",
        "{beats}/min",
        "Cel",
        "[degF]",
        "cm",
        "m",
        "mm",
        "s",
        "min",
        "h",
        "d",
        "wk",
        "mo",
        "a",
        "kg/m2",
        "mL/min",
        "mL/min/{1.73_m2}",
    }
)
