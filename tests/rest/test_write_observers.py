"""Write observers see every write path and share the writer's transaction."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import httpx
import pytest

from ember.fhir.outcome import error
from ember.interactions.observers import WRITE_OBSERVERS
from ember.store.base import NewVersion, Store, Transaction

pytestmark = pytest.mark.anyio


@pytest.fixture
def seen() -> Iterator[list[str]]:
    writes: list[str] = []

    async def observe(transaction: Transaction, versions: Sequence[NewVersion]) -> None:
        for version in versions:
            if version.resource_type == "Basic":
                raise error(422, "business-rule", "observer refused")
            writes.append(f"{version.resource_type}/{version.id}/{version.version}")
            await transaction.enqueue("observed", {"key": writes[-1]})

    WRITE_OBSERVERS.append(observe)
    yield writes
    WRITE_OBSERVERS.remove(observe)


async def test_every_write_interaction_reaches_the_observers(
    client: httpx.AsyncClient, store: Store, seen: list[str]
) -> None:
    created = (await client.post("/Patient", json={"resourceType": "Patient"})).json()
    pid = created["id"]
    await client.put(f"/Patient/{pid}", json={"resourceType": "Patient", "id": pid, "active": True})
    patch = [{"op": "replace", "path": "/active", "value": False}]
    await client.patch(f"/Patient/{pid}", json=patch, headers={"content-type": "application/json-patch+json"})
    await client.delete(f"/Patient/{pid}")
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": {"resourceType": "Group", "type": "person", "actual": True},
                "request": {"method": "POST", "url": "Group"},
            }
        ],
    }
    assert (await client.post("", json=bundle)).status_code == 200
    assert seen[:4] == [f"Patient/{pid}/{n}" for n in (1, 2, 3, 4)]
    assert seen[4].startswith("Group/")
    async with store.transaction() as tx:
        assert len(await tx.list_jobs("observed")) == 5


async def test_an_observer_refusing_a_write_rolls_it_back(client: httpx.AsyncClient, seen: list[str]) -> None:
    response = await client.put("/Basic/b1", json={"resourceType": "Basic", "id": "b1", "code": {"text": "x"}})
    assert response.status_code == 422
    assert (await client.get("/Basic/b1")).status_code == 404
