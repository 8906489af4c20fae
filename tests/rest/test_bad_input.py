"""Bad input never hurts: every client error is a 4xx OperationOutcome, nothing is written."""

from __future__ import annotations

import httpx
import pytest

from ember.access import AccessContext
from ember.store.base import HistoryQuery, Store

pytestmark = pytest.mark.anyio

JSON = {"Content-Type": "application/fhir+json"}


async def _assert_outcome(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"] and all(issue["severity"] in ("error", "fatal") for issue in body["issue"])
    return body


async def _nothing_written(store: Store) -> None:
    assert await store.history_count(AccessContext.system(), HistoryQuery()) == 0


@pytest.mark.parametrize(
    "payload",
    [
        b"{",
        b"[1,2",
        b'{"resourceType": "Patient",}',
        b"\xff\xfe{}",
        b'{"resourceType": "Patient", "gender": "\xc3"}',
        b"",
        b"null",
        b"NaN",
    ],
)
async def test_malformed_json_is_400(client: httpx.AsyncClient, store: Store, payload: bytes) -> None:
    await _assert_outcome(await client.post("/Patient", content=payload, headers=JSON), 400)
    await _nothing_written(store)


@pytest.mark.parametrize(
    "payload",
    [
        b"<Patient xmlns='http://hl7.org/fhir'><gender value='male'/>",
        b"<Patient><gender value='male'/></Patient>",
        b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'aaaa'>]><Patient xmlns='http://hl7.org/fhir'/>",
        b"<Patient xmlns='http://hl7.org/fhir'><bogus value='1'/></Patient>",
    ],
)
async def test_malformed_xml_is_400(client: httpx.AsyncClient, store: Store, payload: bytes) -> None:
    await _assert_outcome(
        await client.post("/Patient", content=payload, headers={"Content-Type": "application/fhir+xml"}), 400
    )
    await _nothing_written(store)


async def test_wrong_content_type_is_415(client: httpx.AsyncClient) -> None:
    await _assert_outcome(
        await client.post("/Patient", content=b"gender=male", headers={"Content-Type": "text/plain"}), 415
    )


async def test_body_over_limit_is_413(client: httpx.AsyncClient, store: Store) -> None:
    huge = b'{"resourceType": "Patient", "id": "' + b"x" * (9 * 1024 * 1024) + b'"}'
    await _assert_outcome(await client.post("/Patient", content=huge, headers=JSON), 413)
    await _nothing_written(store)


@pytest.mark.parametrize("path", ["/Foo", "/Foo/1", "/patient/1", "/Patient/1/_history/1/extra", "/Patient/1/nonsense"])
async def test_unknown_paths_are_404(client: httpx.AsyncClient, path: str) -> None:
    await _assert_outcome(await client.get(path), 404)


@pytest.mark.parametrize("bad_id", ["x" * 65, "a_b", "a%20b", "%C3%A9"])
async def test_bad_ids_are_400(client: httpx.AsyncClient, bad_id: str) -> None:
    await _assert_outcome(await client.get(f"/Patient/{bad_id}"), 400)
    response = await client.put(f"/Patient/{bad_id}", json={"resourceType": "Patient", "id": bad_id})
    await _assert_outcome(response, 400)


async def test_wrong_method_is_405(client: httpx.AsyncClient) -> None:
    await _assert_outcome(await client.delete("/Patient/1/_history"), 405)


async def test_resource_type_mismatch_with_url_is_400(client: httpx.AsyncClient, store: Store) -> None:
    await _assert_outcome(await client.post("/Observation", json={"resourceType": "Patient"}), 400)
    await _nothing_written(store)


async def test_deeply_nested_json_is_400(client: httpx.AsyncClient, store: Store) -> None:
    depth = 5000
    payload = b'{"resourceType": "Patient", "extension": [' + b'{"url": "http://x", "extension": [' * depth
    payload += b'{"url": "http://x"}' + b"]}" * depth + b"]}"
    await _assert_outcome(await client.post("/Patient", content=payload, headers=JSON), 400)
    await _nothing_written(store)


async def test_huge_array_of_junk_is_400_quickly(client: httpx.AsyncClient, store: Store) -> None:
    payload = {"resourceType": "Patient", "name": [{"bogus": index} for index in range(50_000)]}
    await _assert_outcome(await client.post("/Patient", json=payload), 400)
    await _nothing_written(store)


async def test_invalid_primitives_are_listed_with_locations(client: httpx.AsyncClient) -> None:
    payload = {
        "resourceType": "Patient",
        "birthDate": "1970-13-45",
        "active": "yes",
        "gender": "unknown-gender",
        "name": [{"given": [1]}],
        "deceasedBoolean": False,
        "deceasedDateTime": "2020-01-01",
    }
    body = await _assert_outcome(await client.post("/Patient", json=payload), 400)
    locations = {expression for issue in body["issue"] for expression in issue.get("expression", [])}
    assert {"Patient.birthDate", "Patient.active", "Patient.gender", "Patient.name[0].given[0]"} <= locations


async def test_invalid_reference_format_is_400(client: httpx.AsyncClient) -> None:
    payload = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "x"},
        "subject": {"reference": "not a reference"},
    }
    body = await _assert_outcome(await client.post("/Observation", json=payload), 400)
    assert body["issue"][0]["expression"] == ["Observation.subject.reference"]


async def test_conditional_update_without_criteria_is_400(client: httpx.AsyncClient, store: Store) -> None:
    await _assert_outcome(await client.put("/Patient", json={"resourceType": "Patient"}), 400)
    await _nothing_written(store)


async def test_bundle_entry_garbage_is_400_in_transaction(client: httpx.AsyncClient, store: Store) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [1, {"request": {"method": "FLY", "url": "Patient"}}],
    }
    body = await _assert_outcome(await client.post("", json=bundle), 400)
    assert len(body["issue"]) == 2
    await _nothing_written(store)
