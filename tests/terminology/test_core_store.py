"""The R4 core cached in the store at start-up, on both stores: once per database, not again on a
restart, once when workers start together, again when the package's core changes; users'
resources of a core url keep winning; and each worker serves the core its database holds."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Iterator

import httpx
import pytest

from ember import terminology
from ember.rest.app import create_app
from ember.settings import Settings
from ember.store import terminology_index
from ember.store.base import Store
from ember.terminology.core import CoreTerminology, package_core, use_core
from ember.terminology.core.stored import ensure_core, read_core
from tests.backends import Backend, opened
from tests.terminology.test_spec_examples import parameters, put

pytestmark = pytest.mark.anyio

ACT_MOOD = "http://terminology.hl7.org/CodeSystem/v3-ActMood"
ACT_CLASS = "http://terminology.hl7.org/CodeSystem/v3-ActClass"
GENDER = "http://hl7.org/fhir/administrative-gender"
CORE_EXPECTATIONS = ["EXPEC", "GOL", "RSK"]

USERS_ACT_MOOD = {
    "resourceType": "CodeSystem",
    "id": "my-act-mood",
    "url": ACT_MOOD,
    "status": "active",
    "content": "complete",
    "concept": [{"code": "EXPEC", "concept": [{"code": "MINE"}]}],
}


@pytest.fixture(autouse=True)
def package_core_afterwards() -> Iterator[None]:
    yield
    use_core(package_core())
    terminology.install()


def changed_core(digest: str) -> CoreTerminology:
    """A newer core: ActMood's EXPEC has one child, ActClass is gone, gender has one more code."""
    core = package_core()
    items = [copy.deepcopy(core.resource(kind, url)) for kind, url, _, _ in core.rows() if url != ACT_CLASS]
    by_url = {item["url"]: item for item in items}
    by_url[ACT_MOOD]["concept"] = [{"code": "EXPEC", "display": "expectation", "concept": [{"code": "GOL"}]}]
    by_url[GENDER]["concept"].append({"code": "x-other", "display": "Other (newer core)"})
    return CoreTerminology.from_resources(digest, items)


async def closure(store: Store, system: str, code: str) -> list[str]:
    async with store.transaction() as tx:
        return await terminology_index.descendants(tx, system, code)


async def closure_rows(store: Store) -> int:
    async with store.transaction() as tx:
        rows = await tx._rows("SELECT count(*) FROM terminology_closure", [])  # type: ignore[attr-defined]
    return int(rows[0][0])


async def start_server(settings: Settings) -> None:
    """What `ember serve` does at start-up (and at shutdown), without serving."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        pass


async def test_server_start_caches_the_core_once_and_a_restart_does_not_reload(backend: Backend) -> None:
    location = await backend.empty_database()
    settings = Settings(database_url=location if backend.name == "postgres" else f"sqlite:///{location}", auth="off")
    await start_server(settings)
    async with opened(backend.store(location)) as store:
        assert await closure(store, ACT_MOOD, "EXPEC") == CORE_EXPECTATIONS
        stored = await read_core(store)
        assert stored is not None and stored.digest == package_core().digest
        assert sorted(stored.rows()) == sorted(package_core().rows())
        async with store.transaction() as tx:  # mark the cached copy: a reload would undo this
            await terminology_index.delete_closure(tx, ACT_MOOD)
    await start_server(settings)
    async with opened(backend.store(location)) as store:
        assert await closure(store, ACT_MOOD, "EXPEC") == []
        assert (await ensure_core(store)).loaded is False


async def test_workers_starting_together_cache_the_core_once(backend: Backend) -> None:
    location = await backend.empty_database()
    workers = [backend.store(location) for _ in range(3)]
    for worker in workers:
        await worker.open()
    try:
        loads = await asyncio.gather(*(ensure_core(worker) for worker in workers))
        assert sorted(load.loaded for load in loads) == [False, False, True]
        loaded = next(load for load in loads if load.loaded)
        assert loaded.resources == len(package_core().rows())
        assert await closure_rows(workers[0]) == loaded.closure_rows > 30_000
    finally:
        for worker in workers:
            await worker.close()


async def test_an_upgraded_core_replaces_the_cached_one_once(store: Store) -> None:
    assert (await ensure_core(store)).loaded
    assert await closure(store, ACT_CLASS, "ACT")
    newer = changed_core("newer")
    assert (await ensure_core(store, newer)).loaded
    assert await closure(store, ACT_MOOD, "EXPEC") == ["EXPEC", "GOL"]
    assert await closure(store, ACT_CLASS, "ACT") == []
    stored = await read_core(store)
    assert stored is not None and stored.digest == "newer" and ACT_CLASS not in stored.urls("CodeSystem")
    assert (await ensure_core(store, newer)).loaded is False


async def test_a_users_code_system_with_a_core_url_wins_over_the_cached_core(
    client: httpx.AsyncClient, store: Store
) -> None:
    await put(client, USERS_ACT_MOOD)
    assert await terminology.descendants(store, ACT_MOOD, "GOL") == []  # not the in-memory core's
    await ensure_core(store)
    assert await closure(store, ACT_MOOD, "EXPEC") == ["EXPEC", "MINE"]
    for refreshed in (changed_core("newer"), package_core()):  # refreshes leave it alone too
        assert (await ensure_core(store, refreshed)).loaded
        assert await closure(store, ACT_MOOD, "EXPEC") == ["EXPEC", "MINE"]
    assert (await client.get("/CodeSystem/$lookup", params={"system": ACT_MOOD, "code": "MINE"})).status_code == 200
    assert (await client.delete("/CodeSystem/my-act-mood")).status_code in (200, 204)
    assert await closure(store, ACT_MOOD, "EXPEC") == CORE_EXPECTATIONS  # the core's again
    answer = await client.get("/CodeSystem/$lookup", params={"system": ACT_MOOD, "code": "MINE"})
    assert answer.status_code == 404


async def test_each_worker_serves_the_core_its_database_holds(client: httpx.AsyncClient, store: Store) -> None:
    # A newer Ember refreshed this database while this worker runs on the package's core.
    await ensure_core(store, changed_core("newer"))
    lookup = {"system": GENDER, "code": "x-other"}
    assert parameters(await client.get("/CodeSystem/$lookup", params=lookup))["display"] == "Other (newer core)"
    patient = {"resourceType": "Patient", "gender": "x-other"}
    assert (await client.post("/Patient", json=patient)).status_code == 201  # bindings follow it too
