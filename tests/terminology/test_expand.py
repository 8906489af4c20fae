"""ValueSet/$expand: compose forms, filters, paging and the expansions shipped in the R4 definitions."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.terminology.conftest import definitions_resource
from tests.terminology.test_spec_examples import put

pytestmark = pytest.mark.anyio

LAB = "http://example.org/fhir/CodeSystem/lab"

# A small hierarchy: panel > (chem > (glucose, sodium), heme > (hgb)), with properties.
LAB_SYSTEM = {
    "resourceType": "CodeSystem",
    "id": "lab",
    "url": LAB,
    "status": "active",
    "content": "complete",
    "property": [{"code": "status", "type": "code"}, {"code": "units", "type": "string"}],
    "concept": [
        {
            "code": "panel",
            "display": "All lab",
            "concept": [
                {
                    "code": "chem",
                    "display": "Chemistry",
                    "concept": [
                        {"code": "glu", "display": "Glucose", "property": [{"code": "units", "valueString": "mmol/L"}]},
                        {"code": "na", "display": "Sodium", "designation": [{"language": "de", "value": "Natrium"}]},
                    ],
                },
                {
                    "code": "heme",
                    "display": "Hematology",
                    "concept": [
                        {
                            "code": "hgb",
                            "display": "Hemoglobin",
                            "property": [{"code": "status", "valueCode": "retired"}],
                        }
                    ],
                },
            ],
        }
    ],
}


def value_set(vid: str, compose: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "ValueSet",
        "id": vid,
        "url": f"http://example.org/fhir/ValueSet/{vid}",
        "status": "active",
        "compose": compose,
    }


def include(*filters: tuple[str, str, str]) -> dict[str, Any]:
    return {"include": [{"system": LAB, "filter": [{"property": p, "op": o, "value": v} for p, o, v in filters]}]}


async def codes(client: httpx.AsyncClient, vid: str, **params: str) -> list[str]:
    answer = await client.get(f"/ValueSet/{vid}/$expand", params=params)
    assert answer.status_code == 200, answer.text
    return [c["code"] for c in answer.json()["expansion"].get("contains", [])]


@pytest.fixture
async def lab(client: httpx.AsyncClient) -> httpx.AsyncClient:
    await put(client, LAB_SYSTEM)
    return client


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ([("concept", "is-a", "chem")], ["chem", "glu", "na"]),
        ([("concept", "descendent-of", "chem")], ["glu", "na"]),
        ([("concept", "is-not-a", "chem")], ["panel", "heme", "hgb"]),
        ([("code", "regex", "h.*")], ["heme", "hgb"]),
        ([("display", "regex", ".*ium")], ["na"]),
        ([("status", "=", "retired")], ["hgb"]),
        ([("concept", "in", "glu, hgb,nope")], ["glu", "hgb"]),
        ([("units", "exists", "true")], ["glu"]),
        (
            [("concept", "is-a", "panel"), ("units", "exists", "false"), ("concept", "is-not-a", "heme")],
            ["panel", "chem", "na"],
        ),
    ],
)
async def test_filters_select_the_right_concepts(
    lab: httpx.AsyncClient, filters: list[tuple[str, str, str]], expected: list[str]
) -> None:
    await put(lab, value_set("filtered", include(*filters)))
    assert await codes(lab, "filtered") == expected


async def test_exclude_concept_list_and_nested_import(lab: httpx.AsyncClient) -> None:
    await put(
        lab,
        value_set(
            "chem",
            {**include(("concept", "is-a", "chem")), "exclude": [{"system": LAB, "concept": [{"code": "chem"}]}]},
        ),
    )
    nested = {
        "include": [
            {"valueSet": ["http://example.org/fhir/ValueSet/chem"]},
            {"system": LAB, "concept": [{"code": "hgb", "display": "Hb"}]},
        ]
    }
    await put(lab, value_set("outer", nested))
    answer = (await lab.get("/ValueSet/outer/$expand")).json()["expansion"]
    assert [(c["code"], c["display"]) for c in answer["contains"]] == [
        ("glu", "Glucose"),
        ("na", "Sodium"),
        ("hgb", "Hb"),
    ]
    # An import intersected with a system include keeps only codes in both.
    both = {
        "include": [
            {
                "system": LAB,
                "valueSet": ["http://example.org/fhir/ValueSet/chem"],
                "filter": [{"property": "code", "op": "regex", "value": "n.*"}],
            }
        ]
    }
    await put(lab, value_set("both", both))
    assert await codes(lab, "both") == ["na"]


async def test_text_filter_paging_active_only_and_language(lab: httpx.AsyncClient) -> None:
    await put(lab, value_set("all", {"include": [{"system": LAB}]}))
    assert await codes(lab, "all", filter="he") == ["heme", "hgb"]
    page = (await lab.get("/ValueSet/all/$expand", params={"count": "2", "offset": "1"})).json()["expansion"]
    assert page["total"] == 6 and page["offset"] == 1
    assert [c["code"] for c in page["contains"]] == ["chem", "glu"]
    assert "hgb" not in await codes(lab, "all", activeOnly="true")
    german = (await lab.get("/ValueSet/all/$expand", params={"displayLanguage": "de", "filter": "na"})).json()
    assert german["expansion"]["contains"][0]["display"] == "Natrium"


async def test_expansion_follows_a_code_system_update(lab: httpx.AsyncClient) -> None:
    await put(lab, value_set("chem-only", include(("concept", "is-a", "chem"))))
    assert await codes(lab, "chem-only") == ["chem", "glu", "na"]
    changed = dict(
        LAB_SYSTEM,
        concept=[{"code": "chem", "display": "Chemistry", "concept": [{"code": "k", "display": "Potassium"}]}],
    )
    await put(lab, changed)
    assert await codes(lab, "chem-only") == ["chem", "k"]


async def test_expand_by_url_and_inline_value_set(lab: httpx.AsyncClient) -> None:
    await put(lab, value_set("heme", include(("concept", "is-a", "heme"))))
    answer = await lab.get("/ValueSet/$expand", params={"url": "http://example.org/fhir/ValueSet/heme"})
    assert [c["code"] for c in answer.json()["expansion"]["contains"]] == ["heme", "hgb"]
    inline = value_set("inline", include(("concept", "descendent-of", "heme")))
    body = {"resourceType": "Parameters", "parameter": [{"name": "valueSet", "resource": inline}]}
    answer = await lab.post("/ValueSet/$expand", json=body)
    assert [c["code"] for c in answer.json()["expansion"]["contains"]] == ["hgb"]


def flattened(contains: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    found = set()
    for item in contains:
        found.add((item["system"], item["code"], item.get("display", "")))
        found |= flattened(item.get("contains", []))
    return found


async def expanded(client: httpx.AsyncClient, url: str) -> set[tuple[str, str, str]]:
    answer = await client.get("/ValueSet/$expand", params={"url": url})
    assert answer.status_code == 200, answer.text
    return {(c["system"], c["code"], c.get("display", "")) for c in answer.json()["expansion"]["contains"]}


async def test_core_expansion_with_an_import_equals_the_shipped_one(client: httpx.AsyncClient) -> None:
    url = "http://hl7.org/fhir/ValueSet/yesnodontknow"
    official = definitions_resource("valuesets.json.gz", url)
    assert await expanded(client, url) == flattened(official["expansion"]["contains"])


async def test_core_filter_expansion_contains_the_shipped_one(client: httpx.AsyncClient) -> None:
    """The shipped expansion (2017) predates the v3 ActMood release in the package (2018-08-12),
    which added the *.CRT criterion moods below CRT and recased "goal": every code it lists must
    still be there, and every other code must be one of the added ones."""
    url = "http://hl7.org/fhir/ValueSet/inactive"
    official = {
        code for _, code, _ in flattened(definitions_resource("valuesets.json.gz", url)["expansion"]["contains"])
    }
    ours = {code for _, code, _ in await expanded(client, url)}
    assert official <= ours
    assert all(code.endswith(".CRT") for code in ours - official)


async def test_core_value_set_of_a_whole_code_system(client: httpx.AsyncClient) -> None:
    url = "http://hl7.org/fhir/ValueSet/administrative-gender"
    expansion = (await client.get("/ValueSet/$expand", params={"url": url})).json()["expansion"]
    assert {c["code"] for c in expansion["contains"]} == {"male", "female", "other", "unknown"}
