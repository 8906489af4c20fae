"""The examples of the R4 terminology-service and operation pages, over HTTP on both stores.

LOINC and SNOMED CT are not shipped, so the examples that use them first load the fragment of
the code system the example needs, as a user would.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.terminology.conftest import package_resource

pytestmark = pytest.mark.anyio

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
BICARBONATE = "Bicarbonate [Moles/volume] in Serum or Plasma"


def parameters(answer: httpx.Response) -> dict[str, Any]:
    """name -> value (or parts) of a Parameters answer, failing with the body when not 200."""
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["resourceType"] == "Parameters"
    found: dict[str, Any] = {}
    for parameter in body["parameter"]:
        value = next((v for k, v in parameter.items() if k.startswith("value")), parameter.get("part"))
        found.setdefault(parameter["name"], value)
    return found


async def put(client: httpx.AsyncClient, resource: dict[str, Any]) -> None:
    answer = await client.put(f"/{resource['resourceType']}/{resource['id']}", json=resource)
    assert answer.status_code in (200, 201), answer.text


async def load_loinc_fragment(client: httpx.AsyncClient) -> None:
    await put(
        client,
        {
            "resourceType": "CodeSystem",
            "id": "loinc-fragment",
            "url": LOINC,
            "version": "2.56",
            "name": "LOINC",
            "status": "active",
            "content": "fragment",
            "concept": [{"code": "1963-8", "display": BICARBONATE}, {"code": "2345-7", "display": "Glucose"}],
        },
    )


async def test_lookup_example_reports_name_version_display(client: httpx.AsyncClient) -> None:
    await load_loinc_fragment(client)
    found = parameters(await client.get("/CodeSystem/$lookup", params={"system": LOINC, "code": "1963-8"}))
    assert found["name"] == "LOINC"
    assert found["version"] == "2.56"
    assert found["display"] == BICARBONATE
    assert found["abstract"] is False


async def test_lookup_by_post_with_a_coding(client: httpx.AsyncClient) -> None:
    await load_loinc_fragment(client)
    body = {
        "resourceType": "Parameters",
        "parameter": [{"name": "coding", "valueCoding": {"system": LOINC, "code": "1963-8"}}],
    }
    assert parameters(await client.post("/CodeSystem/$lookup", json=body))["display"] == BICARBONATE


async def test_validate_code_example_wrong_display_is_invalid(client: httpx.AsyncClient) -> None:
    await load_loinc_fragment(client)
    value_set = {
        "resourceType": "ValueSet",
        "id": "23",
        "url": "http://example.org/fhir/ValueSet/23",
        "status": "active",
        "compose": {"include": [{"system": LOINC}]},
    }
    await put(client, value_set)
    query = {"system": LOINC, "code": "1963-8", "display": "test"}
    found = parameters(await client.get("/ValueSet/23/$validate-code", params=query))
    assert found["result"] is False
    assert "test" in found["message"]
    assert found["display"] == BICARBONATE
    query["display"] = BICARBONATE
    assert parameters(await client.get("/ValueSet/23/$validate-code", params=query))["result"] is True


async def test_subsumes_example(client: httpx.AsyncClient) -> None:
    liver = {"code": "235856003", "display": "Disorder of liver"}
    hepatitis = {
        "code": "3738000",
        "display": "Viral hepatitis",
        "property": [{"code": "parent", "valueCode": "235856003"}],
    }
    await put(
        client,
        {
            "resourceType": "CodeSystem",
            "id": "snomed-fragment",
            "url": SNOMED,
            "status": "active",
            "content": "fragment",
            "property": [{"code": "parent", "type": "code"}],
            "concept": [liver, hepatitis],
        },
    )
    query = {"system": SNOMED, "codeA": "235856003", "codeB": "3738000"}
    assert parameters(await client.get("/CodeSystem/$subsumes", params=query))["outcome"] == "subsumes"
    query = {"system": SNOMED, "codeA": "3738000", "codeB": "235856003"}
    assert parameters(await client.get("/CodeSystem/$subsumes", params=query))["outcome"] == "subsumed-by"


async def test_translate_example_composition_status_to_v3(client: httpx.AsyncClient) -> None:
    await put(client, package_resource("ConceptMap-cm-composition-status-v3.json"))
    query = {
        "system": "http://hl7.org/fhir/composition-status",
        "code": "preliminary",
        "source": "http://hl7.org/fhir/ValueSet/composition-status",
        "target": "http://terminology.hl7.org/ValueSet/v3-ActStatus",
    }
    found = parameters(await client.get("/ConceptMap/$translate", params=query))
    assert found["result"] is True
    match = {part["name"]: next(v for k, v in part.items() if k.startswith("value")) for part in found["match"]}
    assert match["equivalence"] == "equivalent"
    assert match["concept"] == {"system": "http://terminology.hl7.org/CodeSystem/v3-ActStatus", "code": "active"}
    assert match["source"] == "http://hl7.org/fhir/ConceptMap/cm-composition-status-v3"


async def test_translate_reverse_and_instance_level(client: httpx.AsyncClient) -> None:
    await put(client, package_resource("ConceptMap-cm-composition-status-v3.json"))
    body = {
        "resourceType": "Parameters",
        "parameter": [
            {
                "name": "coding",
                "valueCoding": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActStatus", "code": "nullified"},
            },
            {"name": "reverse", "valueBoolean": True},
        ],
    }
    found = parameters(await client.post("/ConceptMap/cm-composition-status-v3/$translate", json=body))
    assert found["result"] is True
    concept = next(p["valueCoding"] for p in found["match"] if p["name"] == "concept")
    assert concept == {"system": "http://hl7.org/fhir/composition-status", "code": "entered-in-error"}
    query = {"system": "http://hl7.org/fhir/composition-status", "code": "unknown-code"}
    assert (
        parameters(await client.get("/ConceptMap/cm-composition-status-v3/$translate", params=query))["result"] is False
    )


async def test_capability_statement_lists_the_terminology_operations(client: httpx.AsyncClient) -> None:
    statement = (await client.get("/metadata")).json()
    resources = {r["type"]: r for r in statement["rest"][0]["resource"]}
    named = {
        t: {op["name"] for op in resources[t].get("operation", [])} for t in ("CodeSystem", "ValueSet", "ConceptMap")
    }
    assert {"lookup", "validate-code", "subsumes"} <= named["CodeSystem"]
    assert {"expand", "validate-code"} <= named["ValueSet"]
    assert "translate" in named["ConceptMap"]
    assert "expand" not in named["CodeSystem"]
