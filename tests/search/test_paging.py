"""Paging on a database of its own (these tests write): `next` links stay correct while other
clients write between pages, `previous` leads back, and `self` repeats the page."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.anyio

FAMILY = "Pagingtest"


async def _create_patients(client: httpx.AsyncClient, count: int, start: int = 0) -> list[str]:
    """`count` Patients of FAMILY in one transaction; their "Patient/id" keys."""
    entries = [
        {
            "resource": {
                "resourceType": "Patient",
                "name": [{"family": FAMILY, "given": [f"N{start + index}"]}],
                "birthDate": f"19{50 + (start + index) % 50}-01-01",
            },
            "request": {"method": "POST", "url": "Patient"},
        }
        for index in range(count)
    ]
    response = await client.post("", json={"resourceType": "Bundle", "type": "transaction", "entry": entries})
    assert response.status_code == 200, response.text[:300]
    return [entry["response"]["location"].split("/_history")[0] for entry in response.json()["entry"]]


def _ids(bundle: dict[str, Any]) -> list[str]:
    return [f"Patient/{entry['resource']['id']}" for entry in bundle.get("entry", [])]


def _link(bundle: dict[str, Any], relation: str) -> str | None:
    return next((link["url"] for link in bundle.get("link", []) if link["relation"] == relation), None)


@pytest.mark.parametrize("sort", [None, "birthdate", "-_lastUpdated"])
async def test_next_links_survive_writes_between_pages(empty_ember: httpx.AsyncClient, sort: str | None) -> None:
    original = await _create_patients(empty_ember, 25)
    params = [("family", FAMILY), ("_count", "10")] + ([("_sort", sort)] if sort else [])
    page = (await empty_ember.get("Patient", params=params)).json()
    seen = _ids(page)
    assert len(seen) == 10
    unseen = [key for key in original if key not in seen]
    deleted = unseen[-1]
    assert (await empty_ember.delete(deleted)).status_code in (200, 204)
    await _create_patients(empty_ember, 5, start=100)
    updated = (await empty_ember.get(seen[0])).json()
    updated["gender"] = "unknown"
    assert (await empty_ember.put(seen[0], json=updated)).status_code == 200
    while (following := _link(page, "next")) is not None:
        page = (await empty_ember.get(following)).json()
        seen += _ids(page)
    assert len(seen) == len(set(seen)), "a resource came back on two pages"
    assert deleted not in seen
    assert set(original) - {deleted} <= set(seen)


async def test_previous_leads_back_and_self_repeats(empty_ember: httpx.AsyncClient) -> None:
    await _create_patients(empty_ember, 12)
    first = (await empty_ember.get("Patient", params=[("family", FAMILY), ("_count", "5")])).json()
    second = (await empty_ember.get(_link(first, "next"))).json()  # type: ignore[arg-type]
    assert not set(_ids(first)) & set(_ids(second))
    back = (await empty_ember.get(_link(second, "previous"))).json()  # type: ignore[arg-type]
    assert _ids(back) == _ids(first)
    again = (await empty_ember.get(_link(second, "self"))).json()  # type: ignore[arg-type]
    assert _ids(again) == _ids(second)
    assert _link(first, "previous") is None


async def test_total_counts_every_page(empty_ember: httpx.AsyncClient) -> None:
    await _create_patients(empty_ember, 12)
    bundle = (
        await empty_ember.get("Patient", params=[("family", FAMILY), ("_count", "5"), ("_total", "accurate")])
    ).json()
    assert bundle["total"] == 12 and len(bundle["entry"]) == 5


async def test_only_current_versions_match(empty_ember: httpx.AsyncClient) -> None:
    """An update moves a resource out of its old matches; a deleted one matches nothing and is
    included by nothing."""
    kept, changed, deleted = await _create_patients(empty_ember, 3)
    observation = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "pagingtest"},
        "subject": {"reference": deleted},
    }
    assert (await empty_ember.post("Observation", json=observation)).status_code == 201
    patient = (await empty_ember.get(changed)).json()
    patient["name"][0]["family"] = "Renamed"
    assert (await empty_ember.put(changed, json=patient)).status_code == 200
    assert (await empty_ember.delete(deleted)).status_code in (200, 204)
    found = (await empty_ember.get("Patient", params=[("family", FAMILY)])).json()
    assert _ids(found) == [kept]
    renamed = (await empty_ember.get("Patient", params=[("family", "Renamed")])).json()
    assert _ids(renamed) == [changed]
    included = (await empty_ember.get("Observation", params=[("_include", "Observation:subject")])).json()
    assert [entry["search"]["mode"] for entry in included["entry"]] == ["match"]
    has = (await empty_ember.get("Patient", params=[("_has:Observation:subject:status", "final")])).json()
    assert _ids(has) == []


@pytest.mark.parametrize("sort", ["birthdate", "-birthdate", "given", "-given,birthdate"])
async def test_sorted_pages_cross_from_valued_to_missing_and_back(empty_ember: httpx.AsyncClient, sort: str) -> None:
    """Matches without a value for the sort key come last in either direction; `next` links walk
    from those with a value into those without, `previous` links walk back the same way, and a
    resource whose key value repeats (a given name written twice) comes once."""
    valued = [
        {"name": [{"family": FAMILY, "given": [f"G{index % 4}"]}], "birthDate": f"19{60 + index % 3}-01-01"}
        for index in range(7)
    ]
    valued.append({"name": [{"family": FAMILY, "given": ["G1", "G1"]}], "birthDate": "1961-01-01"})
    bare = [{"name": [{"family": FAMILY}]} for _ in range(4)]  # neither a given name nor a birth date
    keys = []
    for patient in valued + bare:
        created = await empty_ember.post("Patient", json={"resourceType": "Patient", **patient})
        assert created.status_code == 201
        keys.append(f"Patient/{created.json()['id']}")
    page = (await empty_ember.get("Patient", params=[("family", FAMILY), ("_sort", sort), ("_count", "3")])).json()
    pages = [_ids(page)]
    while (following := _link(page, "next")) is not None:
        page = (await empty_ember.get(following)).json()
        pages.append(_ids(page))
    forward = [key for keys_on_page in pages for key in keys_on_page]
    assert sorted(forward) == sorted(keys)
    assert set(forward[-len(bare) :]) == set(keys[-len(bare) :])
    backward = [_ids(page)]
    while (preceding := _link(page, "previous")) is not None:
        page = (await empty_ember.get(preceding)).json()
        backward.append(_ids(page))
    assert backward == pages[::-1]


async def test_code_value_date_matches_observations_dated_by_value_date_time(empty_ember: httpx.AsyncClient) -> None:
    """R4 writes the part as `value.as(DateTime)`, which no FHIR dateTime is; Ember reads it as
    R5 does (`value.ofType(dateTime) | value.ofType(Period)`), so both kinds of dated value match."""
    code = {"coding": [{"system": "http://example.org/codes", "code": "onset"}]}
    dated = {"resourceType": "Observation", "status": "final", "code": code, "valueDateTime": "2021-03-04"}
    period = {**dated, "valuePeriod": {"start": "2022-01-01", "end": "2022-02-01"}}
    del period["valueDateTime"]
    ids = []
    for resource in (dated, period):
        created = await empty_ember.post("Observation", json=resource)
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])

    async def found(value: str) -> list[str]:
        page = (await empty_ember.get("Observation", params={"code-value-date": value})).json()
        return sorted(entry["resource"]["id"] for entry in page.get("entry", []))

    assert await found("http://example.org/codes|onset$2021-03") == [ids[0]]
    assert await found("http://example.org/codes|onset$ge2022-01-15") == [ids[1]]
    assert await found("http://example.org/codes|onset$ge2021") == sorted(ids)
    assert await found("http://example.org/codes|other$2021-03") == []
