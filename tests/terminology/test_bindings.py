"""Required bindings on write go through the terminology service: users' value sets at a bound url
(with filters) and code systems users load are enforced on both stores, with the same answers as
the generated model for every core value set."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ember import terminology
from ember.fhir import model
from ember.fhir.terminology_hooks import GeneratedValueSets
from ember.interactions.observers import WRITE_OBSERVERS
from ember.store.base import Store
from ember.terminology import snapshot
from ember.terminology.core import package_core, use_core
from tests.terminology.test_spec_examples import put

pytestmark = pytest.mark.anyio

CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CURRENCY = "urn:iso:std:iso:4217"

# At the url Condition.clinicalStatus binds to: only `active` and what lies below it.
ACTIVE_ONLY = {
    "resourceType": "ValueSet",
    "id": "clinical-active",
    "url": "http://hl7.org/fhir/ValueSet/condition-clinical",
    "status": "active",
    "compose": {
        "include": [{"system": CLINICAL, "filter": [{"property": "concept", "op": "is-a", "value": "active"}]}]
    },
}
CURRENCIES = {
    "resourceType": "CodeSystem",
    "id": "iso-4217",
    "url": CURRENCY,
    "status": "active",
    "content": "fragment",
    "concept": [{"code": "EUR", "display": "Euro"}, {"code": "USD", "display": "US Dollar"}],
}


@pytest.fixture(autouse=True)
def fresh_snapshot() -> Iterator[None]:
    """Later tests in this worker must not see these tests' value sets."""
    yield
    use_core(package_core())
    terminology.install()


def condition(status: str) -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "subject": {"reference": "Patient/p1"},
        "clinicalStatus": {"coding": [{"system": CLINICAL, "code": status}]},
    }


def invoice(currency: str) -> dict[str, Any]:
    return {"resourceType": "Invoice", "status": "draft", "totalNet": {"value": 10, "currency": currency}}


async def create(client: httpx.AsyncClient, resource: dict[str, Any]) -> httpx.Response:
    return await client.post(f"/{resource['resourceType']}", json=resource)


def refused_at(answer: httpx.Response) -> list[str]:
    assert answer.status_code == 400, answer.text
    issues = answer.json()["issue"]
    assert all(issue["code"] == "code-invalid" for issue in issues)
    return [expression for issue in issues for expression in issue["expression"]]


async def test_a_users_value_set_with_a_filter_at_a_bound_url_is_enforced(client: httpx.AsyncClient) -> None:
    assert (await create(client, condition("resolved"))).status_code == 201
    await put(client, ACTIVE_ONLY)
    assert refused_at(await create(client, condition("resolved"))) == ["Condition.clinicalStatus.coding[0].code"]
    assert (await create(client, condition("relapse"))).status_code == 201  # below `active`
    assert (await create(client, condition("active"))).status_code == 201
    assert (await client.delete("/ValueSet/clinical-active")).status_code in (200, 204)
    assert (await create(client, condition("resolved"))).status_code == 201  # the core value set again


async def test_a_loaded_code_system_makes_an_unexpandable_binding_checked(client: httpx.AsyncClient) -> None:
    assert (await create(client, invoice("XYZ"))).status_code == 201  # ISO 4217 is not shipped
    await put(client, CURRENCIES)
    assert refused_at(await create(client, invoice("XYZ"))) == ["Invoice.totalNet.currency"]
    assert (await create(client, invoice("EUR"))).status_code == 201


async def test_a_value_set_written_by_another_worker_is_enforced_within_the_refresh_time(
    client: httpx.AsyncClient, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    await create(client, condition("active"))  # the snapshot is read, and fresh for REFRESH_SECONDS
    # Another worker's write: this worker's observer does not see it.
    monkeypatch.setattr(
        "ember.interactions.observers.WRITE_OBSERVERS", [o for o in WRITE_OBSERVERS if o is not snapshot.notice_writes]
    )
    await put(client, ACTIVE_ONLY)
    assert (await create(client, condition("resolved"))).status_code == 201  # not yet
    monkeypatch.setattr(snapshot, "REFRESH_SECONDS", 0.0)
    assert refused_at(await create(client, condition("resolved"))) == ["Condition.clinicalStatus.coding[0].code"]


async def test_a_transaction_bundle_entry_is_checked_against_the_users_value_set(client: httpx.AsyncClient) -> None:
    await put(client, ACTIVE_ONLY)
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{"resource": condition("resolved"), "request": {"method": "POST", "url": "Condition"}}],
    }
    refused = refused_at(await client.post("", json=bundle))
    assert refused == ["Bundle.entry[0].resource.clinicalStatus.coding[0].code"]


def test_every_core_required_binding_allows_what_the_generated_model_allows() -> None:
    service, generated = snapshot.Snapshot(), GeneratedValueSets()
    samples = 0
    for url in model.required_value_set_urls():
        ours, theirs = service.allowed_codes(url), generated.allowed_codes(url)
        assert (ours is None) == (theirs is None), url
        if ours is None or theirs is None:
            continue
        assert ours.systems == theirs.systems, url
        for system, codes in (model.required_value_set(url) or {}).items():
            for code in codes:
                assert ours.contains(system, code) and ours.contains(None, code), (url, code)
                samples += 1
            assert not ours.contains(system, "not-a-code") and not ours.contains(None, "not-a-code")
    assert samples > 2000
