"""$validate-code on code systems and value sets: code+system, Coding, CodeableConcept, GET and POST."""

from __future__ import annotations

import httpx
import pytest

from tests.terminology.test_expand import LAB, LAB_SYSTEM, include, value_set
from tests.terminology.test_spec_examples import parameters, put

pytestmark = pytest.mark.anyio

GENDER_VS = "http://hl7.org/fhir/ValueSet/administrative-gender"
GENDER = "http://hl7.org/fhir/administrative-gender"


async def test_core_code_system_and_value_set(client: httpx.AsyncClient) -> None:
    found = parameters(await client.get("/CodeSystem/$validate-code", params={"url": GENDER, "code": "female"}))
    assert found == {"result": True, "display": "Female"}
    found = parameters(await client.get("/CodeSystem/$validate-code", params={"url": GENDER, "code": "woman"}))
    assert found["result"] is False and "woman" in found["message"]
    query = {"url": GENDER_VS, "system": GENDER, "code": "other"}
    assert parameters(await client.get("/ValueSet/$validate-code", params=query))["result"] is True
    query["system"] = "http://example.org/other"
    assert parameters(await client.get("/ValueSet/$validate-code", params=query))["result"] is False


async def test_coding_and_codeable_concept_by_post(client: httpx.AsyncClient) -> None:
    coding = {"system": GENDER, "code": "male", "display": "Male"}
    body = {
        "resourceType": "Parameters",
        "parameter": [{"name": "url", "valueUri": GENDER_VS}, {"name": "coding", "valueCoding": coding}],
    }
    assert parameters(await client.post("/ValueSet/$validate-code", json=body))["result"] is True
    concept = {"coding": [{"system": "http://example.org/x", "code": "m"}, coding]}
    body["parameter"][1] = {"name": "codeableConcept", "valueCodeableConcept": concept}
    assert parameters(await client.post("/ValueSet/$validate-code", json=body))["result"] is True
    concept["coding"] = concept["coding"][:1]
    assert parameters(await client.post("/ValueSet/$validate-code", json=body))["result"] is False


async def test_user_value_set_with_filters_and_excludes(client: httpx.AsyncClient) -> None:
    await put(client, LAB_SYSTEM)
    compose = {**include(("concept", "is-a", "chem")), "exclude": [{"system": LAB, "concept": [{"code": "na"}]}]}
    await put(client, value_set("chem", compose))
    for code, valid in (("glu", True), ("chem", True), ("na", False), ("hgb", False), ("zzz", False)):
        query = {"system": LAB, "code": code}
        assert parameters(await client.get("/ValueSet/chem/$validate-code", params=query))["result"] is valid, code


async def test_code_system_instance_level_and_display_designations(client: httpx.AsyncClient) -> None:
    await put(client, LAB_SYSTEM)
    query = {"code": "na", "display": "Natrium"}
    assert parameters(await client.get("/CodeSystem/lab/$validate-code", params=query))["result"] is True
    query["display"] = "Salt"
    found = parameters(await client.get("/CodeSystem/lab/$validate-code", params=query))
    assert found["result"] is False and found["display"] == "Sodium"


async def test_abstract_codes_can_be_refused(client: httpx.AsyncClient) -> None:
    url = "http://terminology.hl7.org/ValueSet/v3-ActMood"
    query = {"url": url, "system": "http://terminology.hl7.org/CodeSystem/v3-ActMood", "code": "_ActMoodPredicate"}
    assert parameters(await client.get("/ValueSet/$validate-code", params=query))["result"] is True
    query["abstract"] = "false"
    assert parameters(await client.get("/ValueSet/$validate-code", params=query))["result"] is False


async def test_lookup_of_a_core_concept_with_hierarchy_designations_and_language(client: httpx.AsyncClient) -> None:
    query = {"system": "http://terminology.hl7.org/CodeSystem/v3-ActMood", "code": "EXPEC"}
    answer = (await client.get("/CodeSystem/$lookup", params=query)).json()["parameter"]
    related = {
        (
            next(p["valueCode"] for p in item["part"] if p["name"] == "code"),
            next(p["valueCode"] for p in item["part"] if p["name"] == "value"),
        )
        for item in answer
        if item["name"] == "property" and item["part"][0]["valueCode"] in ("parent", "child")
    }
    assert related == {("parent", "_ActMoodPredicate"), ("child", "GOL"), ("child", "RSK")}
    query = {"system": "http://terminology.hl7.org/CodeSystem/v2-0136", "code": "Y", "displayLanguage": "de"}
    found = parameters(await client.get("/CodeSystem/$lookup", params=query))
    assert found["display"] == "Ja"
    assert found["designation"][0] == {"name": "language", "valueCode": "de"}
    only = parameters(await client.get("/CodeSystem/$lookup", params={**query, "property": "child"}))
    assert "property" not in only
