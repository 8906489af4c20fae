"""history at instance, type and system level; _since, _at, _count and stable paging."""

from __future__ import annotations

import asyncio

import httpx
import pytest

pytestmark = pytest.mark.anyio


async def _put(client: httpx.AsyncClient, resource_type: str, resource_id: str, **fields: object) -> dict:
    response = await client.put(
        f"/{resource_type}/{resource_id}", json={"resourceType": resource_type, "id": resource_id, **fields}
    )
    assert response.status_code in (200, 201), response.text
    return response.json()


async def test_instance_type_and_system_history_newest_first(client: httpx.AsyncClient) -> None:
    await _put(client, "Patient", "p1", gender="male")
    await _put(client, "Patient", "p1", gender="female")
    await _put(client, "Organization", "o1", name="Acme")
    instance = (await client.get("/Patient/p1/_history")).json()
    assert instance["type"] == "history" and instance["total"] == 2
    assert [e["resource"]["meta"]["versionId"] for e in instance["entry"]] == ["2", "1"]
    assert [e["request"]["method"] for e in instance["entry"]] == ["PUT", "POST"]
    assert instance["entry"][0]["response"]["etag"] == 'W/"2"'
    assert (await client.get("/Patient/_history")).json()["total"] == 2
    system = (await client.get("/_history")).json()
    assert [e["resource"]["resourceType"] for e in system["entry"]] == ["Organization", "Patient", "Patient"]


async def test_since_and_at(client: httpx.AsyncClient) -> None:
    first = await _put(client, "Patient", "p1", gender="male")
    await asyncio.sleep(0.01)
    second = await _put(client, "Patient", "p1", gender="female")
    since = (await client.get("/Patient/p1/_history", params={"_since": second["meta"]["lastUpdated"]})).json()
    assert [e["resource"]["meta"]["versionId"] for e in since["entry"]] == ["2"]
    at_first = (await client.get("/Patient/_history", params={"_at": first["meta"]["lastUpdated"]})).json()
    assert [e["resource"]["meta"]["versionId"] for e in at_first["entry"]] == ["1"]
    bad = await client.get("/_history", params={"_since": "yesterday"})
    assert bad.status_code == 400


async def test_paging_is_stable_while_new_versions_arrive(client: httpx.AsyncClient) -> None:
    for number in range(5):
        await _put(client, "Patient", f"p{number}", gender="male")
    page = (await client.get("/Patient/_history", params={"_count": "2"})).json()
    seen = [e["resource"]["id"] for e in page["entry"]]
    await _put(client, "Patient", "late", gender="female")  # must not shift later pages
    while next_link := next((link["url"] for link in page["link"] if link["relation"] == "next"), None):
        page = (await client.get(next_link)).json()
        seen += [e["resource"]["id"] for e in page.get("entry", [])]
    assert seen == ["p4", "p3", "p2", "p1", "p0"]


async def test_invalid_count_is_400(client: httpx.AsyncClient) -> None:
    assert (await client.get("/_history", params={"_count": "-1"})).status_code == 400
    assert (await client.get("/_history", params={"_count": "abc"})).status_code == 400
