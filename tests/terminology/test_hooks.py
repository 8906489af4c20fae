"""The hooks other parts of Ember call: stored closures for :below/:above, value set codes for
:in/:not-in, FHIRPath memberOf, and ConceptMap translation of local lab codes from an HL7 v2 message."""

from __future__ import annotations

import httpx
import pytest

from ember import terminology
from ember.access import AccessContext
from ember.fhir import terminology_hooks
from ember.store.base import Store
from tests.conformance import CONFORMANCE
from tests.terminology.test_expand import LAB, LAB_SYSTEM, include, value_set
from tests.terminology.test_spec_examples import parameters, put

pytestmark = pytest.mark.anyio

HL7V2 = CONFORMANCE / "hl7v2"
LOCAL_LAB = "http://example.org/fhir/CodeSystem/entero-gastric-lab"
LOINC = "http://loinc.org"
SYSTEM = AccessContext.system()


async def test_closure_is_stored_and_follows_updates_and_deletes(client: httpx.AsyncClient, store: Store) -> None:
    await put(client, LAB_SYSTEM)
    assert await terminology.descendants(store, LAB, "chem") == ["chem", "glu", "na"]
    assert await terminology.ancestors(store, LAB, "glu") == ["chem", "glu", "panel"]
    await put(client, dict(LAB_SYSTEM, concept=[{"code": "chem", "concept": [{"code": "k"}]}]))
    assert await terminology.descendants(store, LAB, "chem") == ["chem", "k"]
    assert await terminology.descendants(store, LAB, "glu") == []
    assert (await client.delete("/CodeSystem/lab")).status_code in (200, 204)
    assert await terminology.descendants(store, LAB, "chem") == []


async def test_core_hierarchy_without_storage(store: Store) -> None:
    mood = "http://terminology.hl7.org/CodeSystem/v3-ActMood"
    assert await terminology.descendants(store, mood, "EXPEC") == ["EXPEC", "GOL", "RSK"]
    assert "_ActMoodPredicate" in await terminology.ancestors(store, mood, "GOL")


async def test_value_set_codes_for_in_modifiers(client: httpx.AsyncClient, store: Store) -> None:
    await put(client, LAB_SYSTEM)
    await put(client, value_set("heme", include(("concept", "is-a", "heme"))))
    codes = await terminology.value_set_codes(SYSTEM, store, "http://example.org/fhir/ValueSet/heme")
    assert codes == [(LAB, "heme"), (LAB, "hgb")]
    assert await terminology.value_set_codes(SYSTEM, store, "http://example.org/none") is None


def test_member_of_on_core_value_sets_needs_no_store() -> None:
    terminology.install()
    service = terminology_hooks.installed()
    gender = "http://hl7.org/fhir/ValueSet/administrative-gender"
    coding = {"system": "http://hl7.org/fhir/administrative-gender", "code": "male"}
    assert service.member_of(coding, gender) is True
    assert service.member_of({"coding": [dict(coding, code="man")]}, gender) is False
    assert service.member_of("female", gender) is True
    assert service.member_of("x", "http://example.org/unknown") is None


def local_lab_codes(message: str) -> list[str]:
    """OBX-3 identifiers of an HL7 v2 message (segments split on CR or LF, as the bridge does)."""
    segments = message.replace("\r\n", "\r").replace("\n", "\r").split("\r")
    return [segment.split("|")[3].split("^")[0] for segment in segments if segment.startswith("OBX|")]


async def test_local_lab_codes_of_a_v2_message_translate_to_loinc(client: httpx.AsyncClient, store: Store) -> None:
    concept_map = {
        "resourceType": "ConceptMap",
        "id": "lab-to-loinc",
        "url": "http://example.org/fhir/ConceptMap/lab-to-loinc",
        "status": "active",
        "group": [
            {
                "source": LOCAL_LAB,
                "target": LOINC,
                "element": [
                    {
                        "code": "GLUCOSE",
                        "target": [
                            {
                                "code": "2345-7",
                                "display": "Glucose [Mass/volume] in Serum or Plasma",
                                "equivalence": "equivalent",
                            }
                        ],
                    },
                    {"code": "NA", "target": [{"code": "2951-2", "equivalence": "equivalent"}]},
                ],
            }
        ],
    }
    await put(client, concept_map)
    message = (HL7V2 / "nhapi-parser-testdata" / "valid" / "OML_O21_messages.txt").read_text()
    codes = local_lab_codes(message)
    assert codes and set(codes) == {"GLUCOSE"}
    for code in codes:
        matches = await terminology.translate_code(SYSTEM, store, concept_map["url"], LOCAL_LAB, code)
        assert [(m.system, m.code, m.equivalence) for m in matches] == [(LOINC, "2345-7", "equivalent")]
    query = {"url": concept_map["url"], "system": LOCAL_LAB, "code": codes[0]}
    assert parameters(await client.get("/ConceptMap/$translate", params=query))["result"] is True
    assert await terminology.translate_code(SYSTEM, store, concept_map["url"], LOCAL_LAB, "UNMAPPED") == []
