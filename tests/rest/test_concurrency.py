"""Concurrent writers: versions never collide and a stale If-Match never wins."""

from __future__ import annotations

import asyncio

import httpx
import pytest

pytestmark = pytest.mark.anyio


async def test_fifty_concurrent_if_match_updates_exactly_one_wins(client: httpx.AsyncClient) -> None:
    await client.put("/Patient/contended", json={"resourceType": "Patient", "id": "contended"})
    for version in (1, 2):
        body = {"resourceType": "Patient", "id": "contended", "gender": "male"}
        headers = {"If-Match": f'W/"{version}"'}
        responses = await asyncio.gather(
            *(client.put("/Patient/contended", json=body, headers=headers) for _ in range(50))
        )
        statuses = sorted(response.status_code for response in responses)
        assert statuses == [200] + [412] * 49
    history = (await client.get("/Patient/contended/_history")).json()
    assert history["total"] == 3


async def test_concurrent_creates_get_distinct_ids_and_all_persist(client: httpx.AsyncClient) -> None:
    responses = await asyncio.gather(*(client.post("/Patient", json={"resourceType": "Patient"}) for _ in range(40)))
    ids = {response.json()["id"] for response in responses}
    assert len(ids) == 40
    assert (await client.get("/Patient/_history")).json()["total"] == 40


async def test_concurrent_update_as_create_of_one_id_yields_one_version_each(client: httpx.AsyncClient) -> None:
    body = {"resourceType": "Patient", "id": "raced"}
    responses = await asyncio.gather(*(client.put("/Patient/raced", json=body) for _ in range(20)))
    assert sorted(r.status_code for r in responses) == [200] * 19 + [201]
    versions = sorted(int(r.json()["meta"]["versionId"]) for r in responses)
    assert versions == list(range(1, 21))
