"""v2 -> FHIR maps: each message family, each OBX value type, the IG's expected output."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from ember.fhir.xml.reader import xml_to_json
from ember.hl7v2.mapper import map_message
from ember.hl7v2.message import decode, parse_message
from tests.hl7v2.support import SAMPLES

pytestmark = pytest.mark.anyio

HEADER = "MSH|^~\\&|LAB|NORTH|EMBER|HUB|20240102030405-0500||{kind}|M{kind}|P|2.5.1\r"
PID = "PID|1||MRN7^^^NORTH&1.2.3.4&ISO^MR||Doe^Jane^Q||19700101|F\r"


async def resources(kind: str, body: str, translator: Any = None) -> dict[str, list[dict[str, Any]]]:
    bundle = await map_message(parse_message(HEADER.format(kind=kind) + body), translator)
    found: dict[str, list[dict[str, Any]]] = {}
    for entry in bundle["entry"]:
        found.setdefault(entry["resource"]["resourceType"], []).append(entry["resource"])
    return found


ORU = (
    PID + "OBR|1|P1^NORTH|F1^LAB|24331-1^Lipid panel^LN|||20240102020000\r"
    "OBX|1|NM|2093-3^Cholesterol^LN||212.50|mg/dL^^UCUM|<200|H|||F\r"
    "OBX|2|ST|TXT^Comment^L||looks fine||||||F\r"
    "OBX|3|TX|NOTE^Note^L||line one~line two||||||P\r"
    "OBX|4|CE|600-7^Culture^LN||3092008^Staph aureus^SCT||||||F\r"
    "OBX|5|CWE|600-7^Culture^LN|b|112283007^E coli^SCT||||||C\r"
    "OBX|6|SN|2345-7^Glucose^LN||<^0.10|mmol/L|3.5-5.5|L~A|||F\r"
    "OBX|7|SN|2345-7^Glucose^LN|r|^1^-^5|mmol/L||||||F\r"
    "OBX|8|DT|DOB^Date^L||20240101||||||F\r"
    "OBX|9|TS|T^Time^L||202401020304||||||F\r"
    "OBX|10|NM|X^Odd unit^L||7|furlongs||ZZ|||X\r"
    "NTE|1||checked twice\r"
)


async def test_oru_r01_report_with_every_obx_value_type() -> None:
    found = await resources("ORU^R01^ORU_R01", ORU)
    [report] = found["DiagnosticReport"]
    observations = found["Observation"]
    assert len(observations) == 10 and len(report["result"]) == 10
    assert report["code"]["coding"][0] == {"system": "http://loinc.org", "code": "24331-1", "display": "Lipid panel"}
    nm, st, tx, ce, cwe, sn, rng, dt, ts, odd = observations
    assert nm["valueQuantity"] == {
        "value": Decimal("212.50"),
        "unit": "mg/dL",
        "system": "http://unitsofmeasure.org",
        "code": "mg/dL",
    }
    assert nm["interpretation"][0]["coding"][0]["code"] == "H"
    assert nm["referenceRange"] == [{"text": "<200"}]
    assert st["valueString"] == "looks fine"
    assert tx["valueString"] == "line one\nline two" and tx["status"] == "preliminary"
    assert ce["valueCodeableConcept"]["coding"][0]["system"] == "http://snomed.info/sct"
    assert cwe["status"] == "corrected"
    assert sn["valueQuantity"]["comparator"] == "<" and sn["valueQuantity"]["value"] == Decimal("0.10")
    assert sn["valueQuantity"]["system"] == "http://unitsofmeasure.org"  # mmol/L is a known UCUM unit
    assert sn["referenceRange"][0]["low"]["value"] == Decimal("3.5")
    assert [i["coding"][0]["code"] for i in sn["interpretation"]] == ["L", "A"]
    assert rng["valueRange"]["low"]["value"] == 1 and rng["valueRange"]["high"]["value"] == 5
    assert dt["valueDateTime"] == "2024-01-01"
    assert ts["valueDateTime"] == "2024-01-02T03:04:00+00:00"
    assert odd["valueQuantity"] == {"value": 7, "unit": "furlongs"}  # not UCUM: no system
    assert odd["interpretation"] == [{"text": "ZZ"}] and odd["status"] == "cancelled"
    assert odd["note"] == [{"text": "checked twice"}]
    assert nm["effectiveDateTime"] == "2024-01-02T02:00:00-05:00"  # the sender's offset from MSH-7


async def test_code_translator_adds_a_standard_coding_to_obx3_and_obr4() -> None:
    calls = []

    async def translate(system: str, code: str) -> dict[str, Any] | None:
        calls.append((system, code))
        return {"system": "http://loinc.org", "code": "14749-6"} if code == "GLU" else None

    body = PID + "OBR|1|P1|F1|GLU^Glucose^L\rOBX|1|NM|GLU^Glucose^L||5.5|mmol/L\r"
    found = await resources("ORU^R01", body, translate)
    assert sorted(calls) == [("L", "GLU"), ("L", "GLU")]
    for resource in (found["Observation"][0], found["DiagnosticReport"][0]):
        assert resource["code"]["coding"][-1] == {"system": "http://loinc.org", "code": "14749-6"}


@pytest.mark.parametrize(("event", "status"), [("A01", "in-progress"), ("A03", "finished"), ("A11", "cancelled")])
async def test_adt_encounter_status_follows_the_trigger_event(event: str, status: str) -> None:
    found = await resources(f"ADT^{event}", PID + "PV1|1|I|W^1^2||||||||||||||||V9^^^NORTH^VN\r")
    [encounter] = found["Encounter"]
    assert encounter["status"] == status and encounter["class"]["code"] == "IMP"
    assert encounter["identifier"][0]["value"] == "V9"


async def test_adt_a01_patient_facts() -> None:
    body = (
        PID + "NK1|1|Doe^John|SPO^Spouse^HL70063|2 Elm St^^Town^ST^11111||555-1234\r"
        "PV1|1|O\r"
        "AL1|1|DA|70618^Penicillin^RXNORM|SV|hives|20200101\r"
        "DG1|1|I10|J45^Asthma^I10||20230101\r"
        "IN1|1|PLAN1^Gold|ACME^^^NORTH|Acme Insurance" + "|" * 8 + "20240101|20241231" + "|" * 23 + "POL123\r"
    )
    found = await resources("ADT^A01", body)
    [patient] = found["Patient"]
    assert patient["identifier"][0] == {
        "system": "urn:oid:1.2.3.4",
        "value": "MRN7",
        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]},
        "assigner": {"display": "NORTH"},
    }
    assert patient["gender"] == "female" and patient["birthDate"] == "1970-01-01"
    [person] = found["RelatedPerson"]
    assert person["relationship"][0]["coding"][0]["system"] == "http://terminology.hl7.org/CodeSystem/v2-0063"
    [allergy] = found["AllergyIntolerance"]
    assert allergy["category"] == ["medication"] and allergy["criticality"] == "high"
    assert allergy["reaction"][0]["manifestation"] == [{"text": "hives"}]
    [condition] = found["Condition"]
    assert condition["code"]["coding"][0]["system"] == "http://hl7.org/fhir/sid/icd-10"
    [coverage] = found["Coverage"]
    assert coverage["identifier"] == [{"value": "POL123"}] and coverage["payor"] == [{"display": "Acme Insurance"}]
    assert coverage["period"] == {"start": "2024-01-01", "end": "2024-12-31"}


async def test_adt_a40_merge_links_both_patients() -> None:
    bundle = await map_message(parse_message(HEADER.format(kind="ADT^A40") + PID + "MRG|OLD1^^^NORTH&1.2.3.4&ISO^MR\r"))
    survivor, prior = bundle["entry"]
    # Both are conditional updates on their identifier, linked through their fullUrls.
    assert survivor["request"] == {"method": "PUT", "url": "Patient?identifier=urn%3Aoid%3A1.2.3.4%7CMRN7"}
    assert prior["request"] == {"method": "PUT", "url": "Patient?identifier=urn%3Aoid%3A1.2.3.4%7COLD1"}
    assert prior["resource"]["active"] is False
    assert prior["resource"]["link"] == [{"other": {"reference": survivor["fullUrl"]}, "type": "replaced-by"}]
    assert survivor["resource"]["link"] == [{"other": {"reference": prior["fullUrl"]}, "type": "replaces"}]


async def test_orm_o01_service_request() -> None:
    body = PID + "ORC|NW|ORD1^NORTH||||||||||123^Smith^Al\rOBR|1|ORD1^NORTH||71045^Chest xray^C4|S\r"
    [request] = (await resources("ORM^O01", body))["ServiceRequest"]
    assert request["status"] == "active" and request["intent"] == "order" and request["priority"] == "stat"
    assert request["code"]["coding"][0]["system"] == "http://www.ama-assn.org/go/cpt"
    assert request["requester"]["display"] == "Al Smith"


async def test_rde_o11_medication_request() -> None:
    body = PID + "ORC|NW|RX1^NORTH\rRXE|1^BID|313782^Acetaminophen 325 MG^RXNORM|2||TAB^tablet|||||30|TAB|3\r"
    [request] = (await resources("RDE^O11", body))["MedicationRequest"]
    assert request["medicationCodeableConcept"]["coding"][0]["code"] == "313782"
    assert request["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"] == {"value": 2, "unit": "tablet"}
    assert request["dispenseRequest"]["numberOfRepeatsAllowed"] == 3


async def test_orm_o01_pharmacy_order_is_a_medication_request_with_route() -> None:
    body = (
        PID + "ORC|NW|RX7^NORTH\rRXO|197361^Amlodipine 5 MG^RXNORM|1||TAB^tablet|||||||30|TAB|2\rRXR|PO^Oral^HL70162\r"
    )
    found = await resources("ORM^O01", body)
    assert "ServiceRequest" not in found  # the ORC's order is this MedicationRequest
    [request] = found["MedicationRequest"]
    assert request["medicationCodeableConcept"]["coding"][0]["code"] == "197361"
    assert request["dispenseRequest"] == {"quantity": {"value": 30, "unit": "TAB"}, "numberOfRepeatsAllowed": 2}
    assert request["dosageInstruction"][0]["route"]["coding"][0]["code"] == "PO"


async def test_rde_o11_rxo_is_not_mapped_next_to_its_rxe() -> None:
    body = PID + "ORC|NW|RX1^NORTH\rRXO|999^Other^L|1\rRXE|1^BID|313782^Acetaminophen^RXNORM|2||TAB^tablet\r"
    [request] = (await resources("RDE^O11", body))["MedicationRequest"]
    assert request["medicationCodeableConcept"]["coding"][0]["code"] == "313782"


async def test_vxu_v04_immunization() -> None:
    body = (
        PID
        + "ORC|RE||IZ9^NORTH\rRXA|0|1|20240105||08^Hep B^CVX|0.5|mL^mL^UCUM||||||||LOT1|20250101|MSD^Merck^MVX|||CP|A\r"
        + "RXR|C28161^Intramuscular^NCIT|LD^Left Deltoid^HL70163\r"
    )
    [immunization] = (await resources("VXU^V04", body))["Immunization"]
    assert immunization["status"] == "completed" and immunization["occurrenceDateTime"] == "2024-01-05"
    assert immunization["vaccineCode"]["coding"][0]["system"] == "http://hl7.org/fhir/sid/cvx"
    assert immunization["lotNumber"] == "LOT1" and immunization["manufacturer"] == {"display": "Merck"}
    assert immunization["route"]["coding"][0]["code"] == "C28161"
    assert immunization["site"]["coding"][0]["code"] == "LD"


@pytest.mark.parametrize(("event", "status"), [("S12", "booked"), ("S15", "cancelled")])
async def test_siu_appointment(event: str, status: str) -> None:
    body = (
        "SCH|A1^NORTH|F1^NORTH||||Checkup|ROUTINE^Routine^HL70276|NORMAL|30|min|^^30^20240301090000-0500\r"
        + PID
        + "AIP|1||77^Jones^Ann\r"
    )
    [appointment] = (await resources(f"SIU^{event}", body))["Appointment"]
    assert appointment["status"] == status
    assert appointment["start"] == "2024-03-01T09:00:00-05:00" and appointment["end"] == "2024-03-01T09:30:00-05:00"
    assert appointment["participant"][0]["actor"]["reference"].startswith("urn:uuid:")  # the PID's entry
    assert appointment["participant"][1]["actor"] == {"display": "Ann Jones"}


async def test_ig_adt_a01_matches_the_igs_expected_conversion() -> None:
    """The IG's sample conversion of its ADT^A01: the resources Ember maps carry the same facts."""
    message = parse_message((SAMPLES / "v2-to-fhir-ig" / "messages" / "ADT_A01.hl7").read_text())
    expected = json.loads(
        (SAMPLES / "v2-to-fhir-ig" / "sample-conversions" / "FHIR_bundle.hl7_ADT_A01.json").read_text()
    )
    ours = await map_message(message)
    theirs = _by_type(expected)
    mine = _by_type(ours)
    patient, their_patient = mine["Patient"][0], theirs["Patient"][0]
    for theirs_identifier in their_patient["identifier"][:3]:  # PID-3 (two) and PID-19
        mine_identifier = next(i for i in patient["identifier"] if i["value"] == theirs_identifier["value"])
        assert mine_identifier["type"]["coding"][0]["code"] == theirs_identifier["type"]["coding"][0]["code"]
        assert mine_identifier.get("period") == theirs_identifier.get("period")
        assert mine_identifier.get("assigner") == theirs_identifier.get("assigner")
    assert patient["gender"] == their_patient["gender"]
    assert their_patient["birthDate"].startswith(patient["birthDate"])  # the IG keeps the time: not a FHIR date
    assert [n.get("family") for n in patient["name"]] == [n.get("family") for n in their_patient["name"]]
    assert [n["given"] for n in mine["RelatedPerson"][0]["name"]] == [
        n["given"] for n in theirs["RelatedPerson"][0]["name"]
    ]
    assert mine["Encounter"][0]["class"]["code"] == theirs["Encounter"][0]["class"]["code"]
    assert mine["Observation"][0]["code"]["coding"][0]["code"] == theirs["Observation"][0]["code"]["coding"][0]["code"]
    assert mine["Observation"][0]["valueQuantity"]["value"] == theirs["Observation"][0]["valueQuantity"]["value"]
    assert mine["AllergyIntolerance"][0]["code"]["text"] == theirs["AllergyIntolerance"][0]["code"]["text"]
    assert set(mine) >= {"Patient", "RelatedPerson", "Encounter", "Observation", "AllergyIntolerance", "Coverage"}


def _by_type(bundle: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for entry in bundle["entry"]:
        found.setdefault(entry["resource"]["resourceType"], []).append(entry["resource"])
    return found


async def test_ig_mdm_t02_patient_and_visit_match_the_igs_expected_conversion() -> None:
    """The IG's MDM^T02 sample conversion (FHIR XML): the patient and visit Ember maps agree."""
    sample = SAMPLES / "v2-to-fhir-ig" / "sample-conversions"
    theirs = _by_type(xml_to_json((sample / "FHIR_bundle.hl7_MDM_T02.xml").read_bytes()))
    mine = _by_type(await map_message(parse_message(decode((sample / "MDM_T02.hl7").read_bytes()))))
    patient, their_patient = mine["Patient"][0], theirs["Patient"][0]
    for element in ("name", "gender", "birthDate"):
        assert patient[element] == their_patient[element], element
    assert [i["value"] for i in patient["identifier"]] == [i["value"] for i in their_patient["identifier"]]
    assert patient["address"][0]["city"] == their_patient["address"][0]["city"]
    assert mine["Encounter"][0]["identifier"][0]["value"] == theirs["Encounter"][0]["identifier"][0]["value"]
    assert mine["Encounter"][0]["class"]["code"] == "IMP" and theirs["Encounter"][0]["class"]["code"] == "I"
