"""Bad terminology requests are OperationOutcomes with the right 4xx, never a 500."""

from __future__ import annotations

import httpx
import pytest

from tests.terminology.test_expand import LAB_SYSTEM, include, value_set
from tests.terminology.test_spec_examples import put

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("method", "path", "params", "body", "status"),
    [
        ("GET", "/CodeSystem/$lookup", {"system": "http://nowhere.example", "code": "x"}, None, 404),
        ("GET", "/CodeSystem/$lookup", {"system": "http://hl7.org/fhir/administrative-gender", "code": "x"}, None, 404),
        ("GET", "/CodeSystem/$lookup", {}, None, 400),
        ("GET", "/CodeSystem/missing/$lookup", {"code": "x"}, None, 404),
        ("GET", "/ValueSet/$expand", {}, None, 400),
        ("GET", "/ValueSet/$expand", {"url": "http://nowhere.example/vs"}, None, 404),
        (
            "GET",
            "/ValueSet/$expand",
            {"url": "http://hl7.org/fhir/ValueSet/administrative-gender", "count": "-1"},
            None,
            400,
        ),
        (
            "GET",
            "/ValueSet/$expand",
            {"url": "http://hl7.org/fhir/ValueSet/administrative-gender", "activeOnly": "yes"},
            None,
            400,
        ),
        ("POST", "/ValueSet/$expand", {}, {"resourceType": "Patient"}, 400),
        (
            "POST",
            "/ValueSet/$expand",
            {},
            {
                "resourceType": "Parameters",
                "parameter": [{"name": "valueSet", "resource": {"resourceType": "Patient"}}],
            },
            400,
        ),
        (
            "GET",
            "/CodeSystem/$subsumes",
            {"system": "http://hl7.org/fhir/administrative-gender", "codeA": "male"},
            None,
            400,
        ),
        (
            "GET",
            "/CodeSystem/$subsumes",
            {"system": "http://hl7.org/fhir/administrative-gender", "codeA": "male", "codeB": "nope"},
            None,
            400,
        ),
        ("GET", "/ConceptMap/$translate", {}, None, 400),
        ("GET", "/ConceptMap/$translate", {"url": "http://nowhere.example/cm", "code": "a", "system": "b"}, None, 404),
        ("GET", "/Patient/$expand", {}, None, 400),
        ("GET", "/ValueSet/$validate-code", {"url": "http://hl7.org/fhir/ValueSet/administrative-gender"}, None, 400),
    ],
)
async def test_bad_requests(
    client: httpx.AsyncClient, method: str, path: str, params: dict[str, str], body: dict | None, status: int
) -> None:
    answer = await client.request(method, path, params=params, json=body)
    assert answer.status_code == status, answer.text
    assert answer.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize(
    "filters",
    [
        [("code", "regex", "(unclosed")],
        [("code", "regex", "x" * 2000)],
        [("concept", "generalizes", "chem")],
    ],
)
async def test_bad_filters_are_client_errors(client: httpx.AsyncClient, filters: list[tuple[str, str, str]]) -> None:
    await put(client, LAB_SYSTEM)
    await put(client, value_set("bad", include(*filters)))
    answer = await client.get("/ValueSet/bad/$expand")
    assert answer.status_code == 400, answer.text


async def test_catastrophic_regex_does_not_hang(client: httpx.AsyncClient) -> None:
    long_code = {"code": "a" * 40 + "!", "display": "x"}
    await put(client, dict(LAB_SYSTEM, concept=[long_code]))
    await put(client, value_set("redos", include(("code", "regex", "(a+)+$"))))
    answer = await client.get("/ValueSet/redos/$expand")
    assert answer.status_code == 200
    assert "contains" not in answer.json()["expansion"]


async def test_circular_imports_are_refused(client: httpx.AsyncClient) -> None:
    await put(client, value_set("a", {"include": [{"valueSet": ["http://example.org/fhir/ValueSet/b"]}]}))
    await put(client, value_set("b", {"include": [{"valueSet": ["http://example.org/fhir/ValueSet/a"]}]}))
    answer = await client.get("/ValueSet/a/$expand")
    assert answer.status_code == 422
    assert answer.json()["resourceType"] == "OperationOutcome"


async def test_unknown_system_in_a_filter_is_422(client: httpx.AsyncClient) -> None:
    compose = {
        "include": [
            {"system": "http://nowhere.example/cs", "filter": [{"property": "concept", "op": "is-a", "value": "x"}]}
        ]
    }
    await put(client, value_set("unknown", compose))
    assert (await client.get("/ValueSet/unknown/$expand")).status_code == 422
