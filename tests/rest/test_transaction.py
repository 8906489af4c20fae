"""batch and transaction Bundles: order, reference rewriting, atomicity, per-entry failures."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from ember.access import AccessContext
from ember.fhir.outcome import FhirError, error
from ember.interactions.bundle_entries import read_bundle
from ember.interactions.transaction import execute_transaction
from ember.store.base import HistoryQuery, Store, Transaction

pytestmark = pytest.mark.anyio

PATIENT_URN = "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a"


def _transaction(*entries: dict, bundle_type: str = "transaction") -> dict:
    return {"resourceType": "Bundle", "type": bundle_type, "entry": list(entries)}


def _post(resource: dict, full_url: str | None = None) -> dict:
    entry = {"resource": resource, "request": {"method": "POST", "url": resource["resourceType"]}}
    if full_url:
        entry["fullUrl"] = full_url
    return entry


OBSERVATION = {
    "resourceType": "Observation",
    "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
    "subject": {"reference": PATIENT_URN},
}


async def _version_count(store: Store) -> int:
    return await store.history_count(AccessContext.system(), HistoryQuery())


async def test_transaction_rewrites_urn_references(client: httpx.AsyncClient) -> None:
    bundle = _transaction(_post(OBSERVATION), _post({"resourceType": "Patient"}, PATIENT_URN))
    response = await client.post("", json=bundle)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["type"] == "transaction-response"
    observation_location, patient_location = (e["response"]["location"] for e in result["entry"])
    assert patient_location.startswith("Patient/") and observation_location.startswith("Observation/")
    observation = (await client.get("/" + observation_location.split("/_history")[0])).json()
    assert observation["subject"]["reference"] == patient_location.split("/_history")[0]


async def test_transaction_failing_at_last_entry_leaves_no_trace(client: httpx.AsyncClient, store: Store) -> None:
    await client.put("/Patient/keep", json={"resourceType": "Patient", "id": "keep", "gender": "male"})
    await client.put("/Patient/doomed", json={"resourceType": "Patient", "id": "doomed"})
    before = await _version_count(store)
    bundle = _transaction(
        _post({"resourceType": "Patient"}, PATIENT_URN),
        {
            "resource": {"resourceType": "Patient", "id": "keep", "gender": "female"},
            "request": {"method": "PUT", "url": "Patient/keep"},
        },
        {"request": {"method": "DELETE", "url": "Patient/doomed"}},
        _post({"resourceType": "Observation", "code": {"text": "no status"}}),
    )
    response = await client.post("", json=bundle)
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"][0].startswith("Bundle.entry[3]")
    assert await _version_count(store) == before
    assert (await client.get("/Patient/keep")).json()["gender"] == "male"
    assert (await client.get("/Patient/doomed")).status_code == 200


async def test_if_match_conflict_rolls_back_the_transaction(client: httpx.AsyncClient, store: Store) -> None:
    await client.put("/Patient/a", json={"resourceType": "Patient", "id": "a"})
    before = await _version_count(store)
    bundle = _transaction(
        _post({"resourceType": "Patient"}),
        {
            "resource": {"resourceType": "Patient", "id": "a"},
            "request": {"method": "PUT", "url": "Patient/a", "ifMatch": 'W/"7"'},
        },
    )
    assert (await client.post("", json=bundle)).status_code == 412
    assert await _version_count(store) == before


async def test_duplicate_full_url_and_dangling_urn_are_400(client: httpx.AsyncClient, store: Store) -> None:
    duplicate = _transaction(
        _post({"resourceType": "Patient"}, PATIENT_URN), _post({"resourceType": "Patient"}, PATIENT_URN)
    )
    response = await client.post("", json=duplicate)
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["Bundle.entry[1].fullUrl"]
    dangling = _transaction(_post(OBSERVATION))
    response = await client.post("", json=dangling)
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["Bundle.entry[0].resource.subject.reference"]
    assert await _version_count(store) == 0


async def test_processing_order_delete_post_put_get(client: httpx.AsyncClient) -> None:
    await client.put("/Patient/old", json={"resourceType": "Patient", "id": "old"})
    bundle = _transaction(
        {"request": {"method": "GET", "url": "Patient/new"}},
        {
            "resource": {"resourceType": "Patient", "id": "new", "gender": "male"},
            "request": {"method": "PUT", "url": "Patient/new"},
        },
        {"request": {"method": "DELETE", "url": "Patient/old"}},
    )
    result = (await client.post("", json=bundle)).json()
    statuses = [e["response"]["status"] for e in result["entry"]]
    assert statuses == ["200 OK", "201 Created", "204 No Content"]
    assert result["entry"][0]["resource"]["gender"] == "male"  # the GET ran after the PUT


async def test_same_resource_twice_is_refused(client: httpx.AsyncClient) -> None:
    put = {"resource": {"resourceType": "Patient", "id": "x"}, "request": {"method": "PUT", "url": "Patient/x"}}
    assert (await client.post("", json=_transaction(put, put))).status_code == 400


async def test_batch_entries_fail_independently(client: httpx.AsyncClient) -> None:
    bundle = _transaction(
        _post({"resourceType": "Patient", "gender": "male"}),
        _post({"resourceType": "Observation", "code": {"text": "no status"}}),
        {"request": {"method": "GET", "url": "Patient/missing"}},
        {"request": {"method": "GET", "url": "Nonsense/1"}},
        _post(
            {
                "resourceType": "Observation",
                "status": "final",
                "code": {"text": "x"},
                "subject": {"reference": PATIENT_URN},
            }
        ),
        bundle_type="batch",
    )
    response = await client.post("", json=bundle)
    assert response.status_code == 200
    statuses = [e["response"]["status"][:3] for e in response.json()["entry"]]
    assert statuses == ["201", "400", "404", "404", "400"]
    assert response.json()["entry"][1]["response"]["outcome"]["resourceType"] == "OperationOutcome"


async def test_transaction_patch_entry_with_binary_json_patch(client: httpx.AsyncClient) -> None:
    import base64
    import json

    await client.put("/Patient/p", json={"resourceType": "Patient", "id": "p", "gender": "male"})
    patch = base64.b64encode(json.dumps([{"op": "replace", "path": "/gender", "value": "female"}]).encode()).decode()
    bundle = _transaction(
        {
            "resource": {"resourceType": "Binary", "contentType": "application/json-patch+json", "data": patch},
            "request": {"method": "PATCH", "url": "Patient/p"},
        }
    )
    response = await client.post("", json=bundle, headers={"Prefer": "return=representation"})
    assert response.status_code == 200, response.text
    assert response.json()["entry"][0]["resource"]["gender"] == "female"


async def test_not_a_bundle_is_400(client: httpx.AsyncClient) -> None:
    assert (await client.post("", json={"resourceType": "Patient"})).status_code == 400
    assert (await client.post("", json={"resourceType": "Bundle", "type": "collection"})).status_code == 400


async def test_transaction_patch_entry_with_fhirpath_patch(client: httpx.AsyncClient) -> None:
    await client.put("/Patient/p", json={"resourceType": "Patient", "id": "p", "gender": "male"})
    parameters = {
        "resourceType": "Parameters",
        "parameter": [
            {
                "name": "operation",
                "part": [
                    {"name": "type", "valueCode": "delete"},
                    {"name": "path", "valueString": "Patient.gender"},
                ],
            },
        ],
    }
    bundle = _transaction({"resource": parameters, "request": {"method": "PATCH", "url": "Patient/p"}})
    assert (await client.post("", json=bundle)).status_code == 200
    assert "gender" not in (await client.get("/Patient/p")).json()


async def test_work_alongside_a_transaction_commits_or_rolls_back_with_it(store: Store) -> None:
    """What a caller records beside the bundle (an HL7 v2 message id) shares its fate."""

    def entries(family: str) -> list[Any]:
        body = {
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [
                {
                    "resource": {"resourceType": "Patient", "name": [{"family": family}]},
                    "request": {"method": "POST", "url": "Patient"},
                }
            ],
        }
        return read_bundle(body, "http://example.org/fhir")[1]

    async def record(tx: Transaction) -> None:
        await tx.put_record("message", "MSG-1", {"ok": True})

    async def refuse(tx: Transaction) -> None:
        await tx.put_record("message", "MSG-2", {"ok": False})
        raise error(422, "business-rule", "refused")

    ctx = AccessContext.system()
    await execute_transaction(ctx, entries("Kept"), store, "minimal", alongside=record)
    with pytest.raises(FhirError):
        await execute_transaction(ctx, entries("Dropped"), store, "minimal", alongside=refuse)
    async with store.transaction() as tx:
        assert await tx.get_record("message", "MSG-1") == {"ok": True}
        assert await tx.get_record("message", "MSG-2") is None
    families = [entry.version.body for entry in await store.history(ctx, HistoryQuery(resource_type="Patient"))]
    assert len(families) == 1 and b"Kept" in families[0]


MRN = "http://hospital.example/mrn"


def _conditional_bundle(mrn: str, family: str, *extra: dict[str, Any]) -> dict[str, Any]:
    patient = {"resourceType": "Patient", "identifier": [{"system": MRN, "value": mrn}], "name": [{"family": family}]}
    observation = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "weight"},
        "subject": {"reference": "urn:uuid:patient"},
    }
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:patient",
                "resource": patient,
                "request": {"method": "PUT", "url": f"Patient?identifier={MRN}|{mrn}"},
            },
            {"resource": observation, "request": {"method": "POST", "url": "Observation"}},
            *extra,
        ],
    }


async def test_conditional_update_in_a_transaction_creates_then_updates_the_match(client: httpx.AsyncClient) -> None:
    first = await client.post("", json=_conditional_bundle("42", "First"))
    assert first.status_code == 200, first.text
    created = first.json()["entry"][0]["response"]
    assert created["status"] == "201 Created"
    patient_id = created["location"].split("/")[1]
    second = await client.post("", json=_conditional_bundle("42", "Second"))
    updated = second.json()["entry"][0]["response"]
    assert updated["status"] == "200 OK" and updated["location"] == f"Patient/{patient_id}/_history/2"
    observation_location = second.json()["entry"][1]["response"]["location"]
    observation = (await client.get(observation_location.rsplit("/_history", 1)[0])).json()
    assert observation["subject"]["reference"] == f"Patient/{patient_id}"
    assert (await client.get(f"/Patient/{patient_id}")).json()["name"][0]["family"] == "Second"


async def test_conditional_writes_in_a_transaction_matching_several_resources_roll_back(
    client: httpx.AsyncClient,
) -> None:
    for _ in range(2):
        twin = {"resourceType": "Patient", "identifier": [{"system": MRN, "value": "7"}]}
        assert (await client.post("/Patient", json=twin)).status_code == 201
    response = await client.post("", json=_conditional_bundle("7", "Ambiguous"))
    assert response.status_code == 412
    assert response.json()["issue"][0]["expression"] == ["Bundle.entry[0].request.url"]
    history = (await client.get("/Observation/_history")).json()
    assert history.get("total", len(history.get("entry", []))) == 0


async def test_conditional_delete_in_a_transaction_removes_the_one_match_or_nothing(client: httpx.AsyncClient) -> None:
    kept = await client.post(
        "/Patient", json={"resourceType": "Patient", "identifier": [{"system": MRN, "value": "k"}]}
    )
    doomed = await client.post(
        "/Patient", json={"resourceType": "Patient", "identifier": [{"system": MRN, "value": "d"}]}
    )
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"request": {"method": "DELETE", "url": f"Patient?identifier={MRN}|d"}},
            {"request": {"method": "DELETE", "url": f"Patient?identifier={MRN}|nobody"}},
        ],
    }
    response = await client.post("", json=bundle)
    assert response.status_code == 200, response.text
    assert [e["response"]["status"] for e in response.json()["entry"]] == ["204 No Content", "204 No Content"]
    assert (await client.get(f"/Patient/{doomed.json()['id']}")).status_code == 410
    assert (await client.get(f"/Patient/{kept.json()['id']}")).status_code == 200


async def test_a_retried_conditional_transaction_points_references_at_what_it_wrote(store: Store) -> None:
    """The first attempt loses a race (VersionConflict) after resolving and rewriting; the
    retry resolves again, and every reference must follow what it wrote."""
    from ember.store.base import VersionConflict

    attempts = []

    async def lose_the_first_race(tx: Transaction) -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise VersionConflict("Patient", "raced")

    ctx = AccessContext.system()
    encounter = {
        "fullUrl": "urn:uuid:encounter",
        "resource": {"resourceType": "Encounter", "status": "finished", "class": {"code": "AMB"}},
        "request": {"method": "POST", "url": "Encounter"},
    }
    bundle = _conditional_bundle("99", "Retried", encounter)
    bundle["entry"][1]["resource"]["encounter"] = {"reference": "urn:uuid:encounter"}
    _, entries = read_bundle(bundle, "http://ember.test/fhir")
    response = await execute_transaction(ctx, entries, store, "minimal", alongside=lose_the_first_race)
    assert len(attempts) == 2
    locations = [entry["response"]["location"] for entry in response.resource["entry"]]  # type: ignore[index]
    patient_id, encounter_id = locations[0].split("/")[1], locations[2].split("/")[1]
    observation = await store.read(ctx, "Observation", locations[1].split("/")[1])
    assert observation is not None
    assert f'"reference":"Patient/{patient_id}"'.encode() in observation.body
    assert f'"reference":"Encounter/{encounter_id}"'.encode() in observation.body
    assert await store.read(ctx, "Encounter", encounter_id) is not None


def _watch_checks(store: Store, monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """For each resource checked from now on, whether the store transaction was open."""
    from contextlib import asynccontextmanager

    import ember.interactions.transaction as transaction_module

    inside: list[bool] = []
    open_transactions = []
    begin, check = store.transaction, transaction_module._check

    @asynccontextmanager
    async def watched() -> Any:
        async with begin() as tx:
            open_transactions.append(tx)
            try:
                yield tx
            finally:
                open_transactions.pop()

    def watched_check(entry: Any, moment: Any) -> Any:
        inside.append(bool(open_transactions))
        return check(entry, moment)

    monkeypatch.setattr(store, "transaction", watched)
    monkeypatch.setattr(transaction_module, "_check", watched_check)
    return inside


def _race_after_the_first_pass(monkeypatch: pytest.MonkeyPatch, race: Any) -> None:
    """Run `race` between the pass against the committed state and the store transaction."""
    import ember.interactions.transaction as transaction_module

    speculate = transaction_module._speculate

    async def then_race(*args: Any) -> Any:
        guess = await speculate(*args)
        await race()
        return guess

    monkeypatch.setattr(transaction_module, "_speculate", then_race)


async def _post_bundle(store: Store, bundle: dict[str, Any]) -> dict[str, Any]:
    _, entries = read_bundle(bundle, "http://ember.test/fhir")
    response = await execute_transaction(AccessContext.system(), entries, store, "minimal")
    assert response.resource is not None
    return response.resource


def _patient_with_mrn(mrn: str) -> dict[str, Any]:
    return _transaction(_post({"resourceType": "Patient", "identifier": [{"system": MRN, "value": mrn}]}))


async def test_a_conditional_transaction_checks_its_resources_before_it_takes_the_writer(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Validation and index extraction of a store-dependent bundle run against the committed
    state, before the store transaction (on SQLite, every worker's writer), when the
    transaction's own lookups then answer the same."""
    await _post_bundle(store, _patient_with_mrn("seen"))
    inside = _watch_checks(store, monkeypatch)
    bundle = _conditional_bundle("seen", "Checked")
    bundle["entry"][1]["resource"]["performer"] = [{"reference": f"Patient?identifier={MRN}|seen"}]
    result = await _post_bundle(store, bundle)
    assert [e["response"]["status"] for e in result["entry"]] == ["200 OK", "201 Created"]
    assert inside == [False, False]


async def test_a_match_created_between_the_passes_is_updated_not_duplicated(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first pass found no patient and chose a new id; one appears before the store
    transaction: the transaction's own lookup decides, and its resources are checked again."""
    ctx = AccessContext.system()
    raced: list[str] = []

    async def create_the_patient() -> None:
        created = await _post_bundle(store, _patient_with_mrn("late"))
        raced.append(created["entry"][0]["response"]["location"].split("/")[1])

    _race_after_the_first_pass(monkeypatch, create_the_patient)
    inside = _watch_checks(store, monkeypatch)
    result = await _post_bundle(store, _conditional_bundle("late", "Updated"))
    patient, observation = (e["response"] for e in result["entry"])
    assert patient["status"] == "200 OK" and patient["location"] == f"Patient/{raced[0]}/_history/2"
    # The first pass's two checks, the racing create's, then the transaction's own two.
    assert inside == [False, False, False, True, True]
    stored = await store.read(ctx, "Observation", observation["location"].split("/")[1])
    assert stored is not None and f'"reference":"Patient/{raced[0]}"'.encode() in stored.body
    updated = await store.read(ctx, "Patient", raced[0])
    assert (
        updated is not None and b'"family":"Updated"' in updated.body and f'"id":"{raced[0]}"'.encode() in updated.body
    )
    assert await _version_count(store) == 3  # the raced patient (twice) and the observation


async def test_a_conditional_reference_that_resolves_only_by_the_transaction_succeeds(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first pass finds nothing for the reference (it would answer 412); the target is
    created before the store transaction, whose own lookup finds it."""
    raced: list[str] = []

    async def create_the_target() -> None:
        created = await _post_bundle(store, _patient_with_mrn("target"))
        raced.append(created["entry"][0]["response"]["location"].split("/")[1])

    _race_after_the_first_pass(monkeypatch, create_the_target)
    observation = {**OBSERVATION, "subject": {"reference": f"Patient?identifier={MRN}|target"}}
    result = await _post_bundle(store, _transaction(_post(observation)))
    location = result["entry"][0]["response"]["location"]
    stored = await store.read(AccessContext.system(), "Observation", location.split("/")[1])
    assert stored is not None and f'"reference":"Patient/{raced[0]}"'.encode() in stored.body
