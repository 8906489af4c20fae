"""A POSTed SearchParameter becomes searchable; $reindex indexes what was stored before it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from ember.fhir.search_parameters import set_custom_parameters
from ember.jobs import JOB_HANDLERS, JobRunner
from ember.store.base import Store

pytestmark = pytest.mark.anyio

BIRTH_PLACE = {
    "resourceType": "SearchParameter",
    "url": "http://example.org/fhir/SearchParameter/patient-birth-city",
    "name": "BirthCity",
    "status": "active",
    "description": "City of the patient's address marked as birth place",
    "code": "birth-city",
    "base": ["Patient"],
    "type": "string",
    "expression": "Patient.address.where(use = 'old').city",
}


@pytest.fixture(autouse=True)
def forget_custom_parameters() -> Iterator[None]:
    yield
    set_custom_parameters(())


def _patient(city: str) -> dict[str, object]:
    return {"resourceType": "Patient", "address": [{"use": "old", "city": city}]}


async def _ids(client: httpx.AsyncClient, **params: str) -> list[str]:
    bundle = (await client.get("/Patient", params=params, headers={"prefer": "handling=strict"})).json()
    assert bundle.get("resourceType") == "Bundle", bundle
    return [entry["resource"]["id"] for entry in bundle.get("entry", [])]


async def test_custom_parameter_indexes_new_writes_and_reindex_fills_old_ones(
    client: httpx.AsyncClient, store: Store
) -> None:
    before = (await client.post("/Patient", json=_patient("Tromsø"))).json()["id"]
    strict = await client.get("/Patient", params={"birth-city": "troms"}, headers={"prefer": "handling=strict"})
    assert strict.status_code == 400  # not a parameter yet
    assert (await client.post("/SearchParameter", json=BIRTH_PLACE)).status_code == 201
    after = (await client.post("/Patient", json=_patient("Tromsø"))).json()["id"]
    assert await _ids(client, **{"birth-city": "troms"}) == [after]  # new writes are indexed at once

    queued = await client.post("/$reindex")
    assert queued.status_code == 202
    status_url = queued.headers["content-location"]
    assert await JobRunner(store, JOB_HANDLERS).run_until_idle() == 1
    report = (await client.get(status_url)).json()
    values = {p["name"]: next(v for k, v in p.items() if k.startswith("value")) for p in report["parameter"]}
    assert values["status"] == "done" and values["reindexed"] >= 2
    assert sorted(await _ids(client, **{"birth-city": "troms"})) == sorted([before, after])
    statement = (await client.get("/metadata")).json()
    patient = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Patient")
    assert any(p["name"] == "birth-city" and p["type"] == "string" for p in patient["searchParam"])


async def test_search_parameter_that_does_not_compile_is_refused(client: httpx.AsyncClient) -> None:
    broken = {**BIRTH_PLACE, "expression": "Patient.address.where(("}
    response = await client.post("/SearchParameter", json=broken)
    assert response.status_code == 422
    assert response.json()["issue"][0]["expression"] == ["SearchParameter.expression"]


async def test_reindex_resumes_from_its_saved_position(client: httpx.AsyncClient, store: Store) -> None:
    for city in ("A", "B", "C"):
        await client.post("/Patient", json=_patient(city))
    await client.post("/SearchParameter", json=BIRTH_PLACE)
    queued = await client.post("/Patient/$reindex")
    job_id = int(queued.headers["content-location"].rsplit("=", 1)[1])
    async with store.transaction() as tx:  # as if a worker had done the first batch and died
        await tx.set_job_progress(job_id, {"type_index": 1, "after": None, "reindexed": 0})
    await JobRunner(store, JOB_HANDLERS).run_until_idle()
    async with store.transaction() as tx:
        job = await tx.get_job(job_id)
    assert job is not None and job.state == "done" and job.result == {"reindexed": 0, "types": 1}
