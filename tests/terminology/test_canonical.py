"""Canonical urls of users' resources: versions, transactions (all or nothing), url changes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.terminology.test_spec_examples import put

pytestmark = pytest.mark.anyio

URL = "http://example.org/fhir/CodeSystem/versioned"


def code_system(version: str, *codes: str) -> dict[str, Any]:
    return {
        "resourceType": "CodeSystem",
        "id": "versioned",
        "url": URL,
        "version": version,
        "status": "active",
        "content": "complete",
        "concept": [{"code": code, "display": code.upper()} for code in codes],
    }


async def lookup(client: httpx.AsyncClient, code: str, **extra: str) -> int:
    return (await client.get("/CodeSystem/$lookup", params={"system": URL, "code": code, **extra})).status_code


async def test_business_versions_stay_addressable(client: httpx.AsyncClient) -> None:
    await put(client, code_system("1.0", "a"))
    await put(client, code_system("2.0", "b"))
    assert await lookup(client, "b") == 200
    assert await lookup(client, "a") == 404
    assert await lookup(client, "a", version="1.0") == 200
    assert await lookup(client, "b", version="1.0") == 404
    assert await lookup(client, "b", version="2.0") == 200
    assert await lookup(client, "b", version="3.0") == 404


async def test_url_change_and_delete_release_the_old_url(client: httpx.AsyncClient) -> None:
    await put(client, code_system("1.0", "a"))
    moved = dict(code_system("1.0", "a"), url="http://example.org/fhir/CodeSystem/moved")
    await put(client, moved)
    assert await lookup(client, "a") == 404
    assert (await client.get("/CodeSystem/$lookup", params={"system": moved["url"], "code": "a"})).status_code == 200
    await client.delete("/CodeSystem/versioned")
    assert (await client.get("/CodeSystem/$lookup", params={"system": moved["url"], "code": "a"})).status_code == 404


async def test_a_failed_transaction_leaves_no_canonical_behind(client: httpx.AsyncClient) -> None:
    entries = [
        {"resource": code_system("1.0", "a"), "request": {"method": "PUT", "url": "CodeSystem/versioned"}},
        {
            "resource": {"resourceType": "Patient", "gender": "nonsense"},
            "request": {"method": "POST", "url": "Patient"},
        },
    ]
    answer = await client.post("/", json={"resourceType": "Bundle", "type": "transaction", "entry": entries})
    assert answer.status_code >= 400
    assert await lookup(client, "a") == 404
    entries.pop()
    value_set = {
        "resourceType": "ValueSet",
        "url": "http://example.org/fhir/ValueSet/in-bundle",
        "status": "active",
        "compose": {"include": [{"system": URL}]},
    }
    entries.append({"resource": value_set, "request": {"method": "POST", "url": "ValueSet"}})
    answer = await client.post("/", json={"resourceType": "Bundle", "type": "transaction", "entry": entries})
    assert answer.status_code == 200, answer.text
    expansion = (await client.get("/ValueSet/$expand", params={"url": value_set["url"]})).json()["expansion"]
    assert [c["code"] for c in expansion["contains"]] == ["a"]
