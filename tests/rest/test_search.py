"""Search over HTTP on both stores: the API's shape (paging, includes, handling, compartments).

The parameter-by-parameter correctness suite, checked against an independent brute-force
evaluator, lives in tests/search/.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.anyio

LOINC = "http://loinc.org"


async def _post(client: httpx.AsyncClient, resource: dict[str, Any]) -> str:
    response = await client.post(f"/{resource['resourceType']}", json=resource)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _observation(patient: str, code: str, value: float, when: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": code, "display": f"Code {code}"}]},
        "subject": {"reference": f"Patient/{patient}"},
        "effectiveDateTime": when,
        "valueQuantity": {"value": value, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"},
    }


@pytest.fixture
async def two_patients(client: httpx.AsyncClient) -> dict[str, Any]:
    alice = await _post(client, {"resourceType": "Patient", "name": [{"family": "Álvarez", "given": ["Alice"]}]})
    bob = await _post(client, {"resourceType": "Patient", "name": [{"family": "Brown", "given": ["Bob"]}]})
    observations = {
        "alice": [await _post(client, _observation(alice, "29463-7", 60 + n, f"2021-03-0{n + 1}")) for n in range(3)],
        "bob": [await _post(client, _observation(bob, "8302-2", 180, "2020-01-01"))],
    }
    return {"alice": alice, "bob": bob, "observations": observations}


def _ids(bundle: dict[str, Any], mode: str = "match") -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", []) if e["search"]["mode"] == mode]


async def test_search_finds_by_token_and_accent_insensitive_name(
    client: httpx.AsyncClient, two_patients: dict[str, Any]
) -> None:
    found = (await client.get("/Observation", params={"code": f"{LOINC}|29463-7"})).json()
    assert found["type"] == "searchset" and found["total"] == 3
    assert sorted(_ids(found)) == sorted(two_patients["observations"]["alice"])
    by_name = (await client.get("/Patient", params={"name": "alva"})).json()
    assert _ids(by_name) == [two_patients["alice"]]


async def test_pages_follow_next_and_previous_links_and_stay_stable_while_writing(
    client: httpx.AsyncClient, two_patients: dict[str, Any]
) -> None:
    first = (await client.get("/Observation", params={"_count": 2, "_sort": "date"})).json()
    assert len(first["entry"]) == 2 and "total" not in first
    await _post(client, _observation(two_patients["bob"], "8302-2", 181, "1999-01-01"))  # sorts first
    next_url = next(link["url"] for link in first["link"] if link["relation"] == "next")
    second = (await client.get(next_url)).json()
    back_url = next(link["url"] for link in second["link"] if link["relation"] == "previous")
    back = (await client.get(back_url)).json()
    assert _ids(back) == _ids(first)
    dates = [e["resource"]["effectiveDateTime"] for page in (first, second) for e in page["entry"]]
    assert dates == sorted(dates) and len(set(_ids(first)) & set(_ids(second))) == 0


async def test_include_and_revinclude_are_marked_as_includes(
    client: httpx.AsyncClient, two_patients: dict[str, Any]
) -> None:
    included = (await client.get("/Observation", params={"code": "8302-2", "_include": "Observation:subject"})).json()
    assert _ids(included, "include") == [two_patients["bob"]]
    reverse = (
        await client.get("/Patient", params={"_id": two_patients["alice"], "_revinclude": "Observation:subject"})
    ).json()
    assert sorted(_ids(reverse, "include")) == sorted(two_patients["observations"]["alice"])


async def test_chain_and_has(client: httpx.AsyncClient, two_patients: dict[str, Any]) -> None:
    chained = (await client.get("/Observation", params={"subject.name": "brown"})).json()
    assert _ids(chained) == two_patients["observations"]["bob"]
    reverse = (await client.get("/Patient", params={"_has:Observation:subject:code": "29463-7"})).json()
    assert _ids(reverse) == [two_patients["alice"]]


async def test_compartment_search_and_post_search(client: httpx.AsyncClient, two_patients: dict[str, Any]) -> None:
    compartment = (await client.get(f"/Patient/{two_patients['bob']}/Observation")).json()
    assert _ids(compartment) == two_patients["observations"]["bob"]
    posted = await client.post(
        "/Observation/_search",
        content=f"value-quantity=gt61|http://unitsofmeasure.org|kg&subject=Patient/{two_patients['alice']}",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert posted.status_code == 200, posted.text
    assert len(_ids(posted.json())) == 1


async def test_unknown_parameters_are_ignored_unless_handling_is_strict(
    client: httpx.AsyncClient, two_patients: dict[str, Any]
) -> None:
    lenient = await client.get("/Patient", params={"nonsense": "1", "name": "brown"})
    self_link = next(link["url"] for link in lenient.json()["link"] if link["relation"] == "self")
    assert "nonsense" not in self_link and "name=brown" in self_link
    strict = await client.get("/Patient", params={"nonsense": "1"}, headers={"prefer": "handling=strict"})
    assert strict.status_code == 400
    assert strict.json()["issue"][0]["expression"] == ["nonsense"]


@pytest.mark.parametrize(
    "query",
    [
        {"date": "2021-13-99"},
        {"value-quantity": "abc"},
        {"_count": "-1"},
        {"_sort": "nonsense"},
        {"_cursor": "not-a-cursor"},
        {"code:bogus": "x"},
        {"subject.nothing": "x"},
        {"_has:Observation": "x"},
        {"_include": "Nope:subject"},
    ],
)
async def test_malformed_searches_are_400_with_an_outcome(client: httpx.AsyncClient, query: dict[str, str]) -> None:
    response = await client.get("/Observation", params=query)
    assert response.status_code == 400, response.text
    assert response.json()["resourceType"] == "OperationOutcome"


async def test_summary_count_and_total(client: httpx.AsyncClient, two_patients: dict[str, Any]) -> None:
    counted = (await client.get("/Observation", params={"_summary": "count"})).json()
    assert counted["total"] == 4 and "entry" not in counted
    assert "_summary=count" in counted["link"][0]["url"]
    accurate = (await client.get("/Observation", params={"_total": "accurate", "_count": 1})).json()
    assert accurate["total"] == 4 and len(accurate["entry"]) == 1


async def test_in_not_in_and_below_use_the_terminology_service(
    client: httpx.AsyncClient, two_patients: dict[str, Any]
) -> None:
    weights = {
        "resourceType": "ValueSet",
        "url": "http://example.org/fhir/ValueSet/weights",
        "status": "active",
        "compose": {"include": [{"system": LOINC, "concept": [{"code": "29463-7"}]}]},
    }
    assert (await client.post("/ValueSet", json=weights)).status_code == 201
    inside = (await client.get("/Observation", params={"code:in": weights["url"]})).json()
    assert sorted(_ids(inside)) == sorted(two_patients["observations"]["alice"])
    outside = (await client.get("/Observation", params={"code:not-in": weights["url"]})).json()
    assert _ids(outside) == two_patients["observations"]["bob"]
    unknown = await client.get("/Observation", params={"code:in": "http://example.org/nothing"})
    assert unknown.status_code == 400
    system = "http://example.org/fhir/CodeSystem/body"
    hierarchy = {
        "resourceType": "CodeSystem",
        "url": system,
        "status": "active",
        "content": "complete",
        "concept": [{"code": "measure", "concept": [{"code": "weight"}, {"code": "height"}]}],
    }
    assert (await client.post("/CodeSystem", json=hierarchy)).status_code == 201
    tagged = _observation(two_patients["bob"], "8302-2", 1, "2020-01-01")
    tagged["category"] = [{"coding": [{"system": system, "code": "weight"}]}]
    tagged_id = await _post(client, tagged)
    below = (await client.get("/Observation", params={"category:below": f"{system}|measure"})).json()
    assert _ids(below) == [tagged_id]
    sibling = (await client.get("/Observation", params={"category:below": f"{system}|height"})).json()
    assert _ids(sibling) == []


async def test_number_prefixes_compare_with_the_exact_value(client: httpx.AsyncClient) -> None:
    """`gt100` means greater than exactly 100; only `eq` uses the value's precision range."""
    ids = {}
    for value in (0.0997, 0.1, 0.1002):
        assessment = {
            "resourceType": "RiskAssessment",
            "status": "final",
            "subject": {"reference": "Patient/p"},
            "prediction": [{"probabilityDecimal": value}],
        }
        ids[value] = await _post(client, assessment)

    async def found(query: str) -> set[float]:
        bundle = (await client.get("/RiskAssessment", params={"probability": query})).json()
        return {value for value, rid in ids.items() if rid in _ids(bundle)}

    assert await found("gt0.1") == {0.1002}
    assert await found("ge0.1") == {0.1, 0.1002}
    assert await found("lt0.1") == {0.0997}
    assert await found("0.1000") == {0.1}
    assert await found("0.10") == {0.0997, 0.1, 0.1002}


async def test_patient_everything_returns_the_compartment(
    client: httpx.AsyncClient, two_patients: dict[str, Any]
) -> None:
    alice = two_patients["alice"]
    everything = (await client.get(f"/Patient/{alice}/$everything")).json()
    assert everything["type"] == "searchset"
    found = {(e["resource"]["resourceType"], e["resource"]["id"]) for e in everything["entry"]}
    expected = {("Patient", alice), *(("Observation", o) for o in two_patients["observations"]["alice"])}
    assert found == expected
    only_patient = (await client.get(f"/Patient/{alice}/$everything", params={"_type": "Patient"})).json()
    assert [e["resource"]["id"] for e in only_patient["entry"]] == [alice]
    assert (await client.get("/Patient/nobody/$everything")).status_code == 404
    assert (await client.get(f"/Patient/{alice}/$everything", params={"_count": "x"})).status_code == 400


async def test_open_ranges_are_stored_and_searched_on_both_stores(client: httpx.AsyncClient) -> None:
    """A Range without a high bound is indexed up to infinity (and without a low one from minus
    infinity): PostgreSQL receives index rows as JSON, which has no infinities of its own."""
    years = {"system": "http://unitsofmeasure.org", "code": "a", "unit": "a"}

    async def condition(onset: dict[str, Any]) -> str:
        return await _post(
            client,
            {
                "resourceType": "Condition",
                "subject": {"reference": "Patient/x"},
                "code": {"text": "open range"},
                "onsetRange": onset,
            },
        )

    above = await condition({"low": {"value": 40, **years}})
    below = await condition({"high": {"value": 10, **years}})
    for value, expected in (("gt100", {above}), ("lt5", {below}), ("gt1e300", {above}), ("lt-1e300", {below})):
        response = await client.get("/Condition", params={"onset-age": value})
        assert response.status_code == 200, response.text
        assert set(_ids(response.json())) == expected, value


@pytest.mark.parametrize("budget_runs_out", [False, True])
async def test_has_answers_the_same_whichever_form_sqlite_runs(
    client: httpx.AsyncClient, store: Any, monkeypatch: pytest.MonkeyPatch, budget_runs_out: bool
) -> None:
    """SQLite tries `_has` as probes of each patient's referrers under a time budget, then as
    the set of every referrer's target (see SearchSql's `optimistic`); both give one answer,
    and PostgreSQL, which plans either form itself, gives it too."""

    with_code = [await _post(client, {"resourceType": "Patient"}) for _ in range(3)]
    other_code = await _post(client, {"resourceType": "Patient"})
    await _post(client, {"resourceType": "Patient"})
    for patient in with_code:
        await _post(client, _observation(patient, "8867-4", 70, "2024-01-01"))
    await _post(client, _observation(other_code, "8310-5", 37, "2024-01-01"))
    attempts = _record_attempts(store, monkeypatch, budget_runs_out)
    for query in (f"code={LOINC}|8867-4", "code=8867-4,8310-5", "code=0000-0"):
        response = await client.get(f"/Patient?_has:Observation:subject:{query}&_count=2")
        assert response.status_code == 200, response.text
        found = [e["resource"]["id"] for e in response.json().get("entry", [])]
        expected = sorted(with_code + ([other_code] if "8310-5" in query else []))
        if query.endswith("0000-0"):
            expected = []
        assert found == expected[:2], query
        pages = [found]
        assert await _following_pages(client, response, pages) == expected, query
    _assert_attempts(store, attempts, budget_runs_out)


def _record_attempts(store: Any, monkeypatch: pytest.MonkeyPatch, budget_runs_out: bool) -> list[bool]:
    """On SQLite, whether each optimistic attempt answered (see Searcher), with a budget that
    runs out at the first progress check when `budget_runs_out`."""
    from ember.store import sqlite

    attempts: list[bool] = []
    if not isinstance(store, sqlite.SqliteStore):
        return attempts
    if budget_runs_out:
        monkeypatch.setattr(sqlite, "_ATTEMPT_SECONDS", -1.0)
        monkeypatch.setattr(sqlite, "_PROGRESS_STEPS", 1)
    attempt = store._searcher._attempt

    async def recorded(sql: str, params: list[Any]) -> Any:
        rows = await attempt(sql, params)
        attempts.append(rows is not None)
        return rows

    monkeypatch.setattr(store._searcher, "_attempt", recorded)
    return attempts


def _assert_attempts(store: Any, attempts: list[bool], budget_runs_out: bool) -> None:
    from ember.store import sqlite

    if isinstance(store, sqlite.SqliteStore):
        assert attempts and all(answered is not budget_runs_out for answered in attempts)


async def _following_pages(client: httpx.AsyncClient, response: httpx.Response, pages: list[list[str]]) -> list[str]:
    """The ids of `pages` and of every page after `response` (`next` links), in order."""
    while next_link := next((link["url"] for link in response.json()["link"] if link["relation"] == "next"), None):
        response = await client.get(next_link)
        pages.append([e["resource"]["id"] for e in response.json()["entry"]])
    return [i for page in pages for i in page]


@pytest.mark.parametrize("budget_runs_out", [False, True])
async def test_sorted_pages_answer_the_same_whichever_form_sqlite_runs(
    client: httpx.AsyncClient, store: Any, monkeypatch: pytest.MonkeyPatch, budget_runs_out: bool
) -> None:
    """SQLite first walks the sort key's index rows with probes, taking each resource at one
    row even when several hold its extreme value, then, past its budget, collects and groups
    (see SearchSql's `optimistic`); every resource appears once, in order, over every page."""
    moss_twice = {"resourceType": "Patient", "name": [{"family": "Moss"}, {"family": "MOSS"}], "gender": "female"}
    twice = await _post(client, moss_twice)
    others = {
        family: await _post(client, {"resourceType": "Patient", "name": [{"family": family}], "gender": "female"})
        for family in ("Abel", "Zorn", "Moss", "Kent")
    }
    await _post(client, {"resourceType": "Patient", "name": [{"family": "Nobody"}], "gender": "male"})
    attempts = _record_attempts(store, monkeypatch, budget_runs_out)
    for sort, expected in (
        ("family", [others["Abel"], others["Kent"], *sorted([twice, others["Moss"]]), others["Zorn"]]),
        ("-family", [others["Zorn"], *sorted([twice, others["Moss"]]), others["Kent"], others["Abel"]]),
    ):
        response = await client.get(f"/Patient?_sort={sort}&_count=2&gender=female")
        assert response.status_code == 200, response.text
        first = [e["resource"]["id"] for e in response.json().get("entry", [])]
        assert await _following_pages(client, response, [first]) == expected, sort
    _assert_attempts(store, attempts, budget_runs_out)


@pytest.mark.parametrize("collect", [True, False])
async def test_date_ranges_answer_the_same_whether_sqlite_collects_a_window_or_walks(
    client: httpx.AsyncClient, store: Any, monkeypatch: pytest.MonkeyPatch, collect: bool
) -> None:
    """SQLite reads a single-valued date parameter's matches from a window of its value index,
    widened by the longest period stored (range_driver.py), up to WINDOW_ROWS rows, and walks the
    rows in id order past that; a parameter with several values per resource always walks, its
    bounds may hold on different values. Every form gives the answer of the spec's semantics."""
    from ember.store import range_driver, searching, sqlite

    def observation(when: dict[str, Any]) -> dict[str, Any]:
        return {"resourceType": "Observation", "status": "final", "code": {"text": "x"}, **when}

    inside = [
        await _post(client, observation({"effectiveDateTime": day}))
        for day in ("2021-03-01T00:00:00Z", "2021-03-15", "2021-03-31T23:59:59Z", "2021-03", "2021")
    ]
    inside.append(await _post(client, observation({"effectivePeriod": {"start": "2019-01-01", "end": "2021-03-02"}})))
    inside.append(await _post(client, observation({"effectivePeriod": {"start": "2020-06-01", "end": "2022-01-01"}})))
    for day in ("2021-02-28T23:59:59Z", "2021-04-01", "2020-01-01"):
        await _post(client, observation({"effectiveDateTime": day}))
    await _post(client, observation({"effectivePeriod": {"start": "2018-01-01", "end": "2021-02-27"}}))

    def goal(*due: str) -> dict[str, Any]:
        targets = [{"dueDate": day} for day in due]
        return {
            "resourceType": "Goal",
            "lifecycleStatus": "active",
            "description": {"text": "g"},
            "subject": {"reference": "Patient/p"},
            "target": targets,
        }

    goals = [await _post(client, goal("2020-01-01", "2030-01-01")), await _post(client, goal("2021-03-10"))]
    await _post(client, goal("2020-01-01", "2021-02-01"))

    drivers: list[object] = []
    if isinstance(store, sqlite.SqliteStore):
        monkeypatch.setattr(searching, "WINDOW_ROWS", 10_000 if collect else -1)
        choose = store._searcher._range_driver

        async def recorded(query: Any) -> Any:
            drivers.append(driver := await choose(query))
            return driver

        monkeypatch.setattr(store._searcher, "_range_driver", recorded)
    for path, expected, windowed in (
        ("/Observation?date=ge2021-03-01&date=lt2021-04-01&_count=2", sorted(inside), collect),
        ("/Goal?target-date=ge2021-03-01&target-date=lt2021-04-01&_count=2", sorted(goals), False),
    ):
        drivers.clear()
        response = await client.get(path)
        assert response.status_code == 200, response.text
        first = [e["resource"]["id"] for e in response.json().get("entry", [])]
        assert await _following_pages(client, response, [first]) == expected, path
        if isinstance(store, sqlite.SqliteStore):
            assert drivers and all(isinstance(d, range_driver.DateWindow) is windowed for d in drivers), path
