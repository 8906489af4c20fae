"""The search benchmark's query plans: a replayed search yields the SQL the store ran, explained on
the same database, and plan lines that read a whole table, type or parameter are picked out."""

from __future__ import annotations

import httpx
import pytest

from bench._search_plans import _pg_parameter_ranges, explain_searches
from ember.rest.app import create_app
from ember.settings import Settings
from ember.store.base import Store
from tests.backends import Backend

pytestmark = pytest.mark.anyio


async def test_a_replayed_search_is_explained_with_the_sql_the_store_ran(
    store: Store, store_location: str, backend: Backend
) -> None:
    name = backend.name
    app = create_app(Settings(auth="off"), store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ember.test/fhir") as fhir:
        for family in ("Chalmers", "Chalk", "Windsor"):
            created = await fhir.post("/Patient", json={"resourceType": "Patient", "name": [{"family": family}]})
            assert created.status_code == 201
    url = f"sqlite:///{store_location}" if name == "sqlite" else store_location

    plans = await explain_searches(name, url, {"string": "/fhir/Patient?name=chal", "read": "/fhir/Patient/none"})

    string = plans["string"]
    assert string.status == 200 and string.statements
    assert any("string_index" in statement.sql for statement in string.statements)
    assert all(statement.plan and not statement.cut_off for statement in string.statements)
    assert string.slowest is not None and string.slowest.execution_ms >= 0
    index_word = "Index" if name == "postgres" else "INDEX"
    assert any(index_word in statement.plan or "PRIMARY KEY" in statement.plan for statement in string.statements)
    assert plans["read"].status == 404


def test_postgres_index_conditions_on_type_or_parameter_only_are_picked_out() -> None:
    plan = [
        "Limit  (cost=0.41..278275.19 rows=51 width=1039)",
        "  ->  Index Scan using resource_pkey on resource r  (cost=0.41..305557.03 rows=56 width=1039)",
        "        Index Cond: (resource_type = 'Patient'::text)",
        "        ->  Bitmap Index Scan on token_index_lookup  (cost=0.00..8.53 rows=274 width=0)",
        "              Index Cond: ((resource_type = 'Observation'::text) AND (param = 'code'::text) AND "
        "(code = '8302-2'::text) AND (system = 'http://loinc.org'::text))",
        "  ->  Index Scan using date_index_low on date_index s  (cost=0.42..1.05 rows=1 width=74)",
        "        Index Cond: ((resource_type = 'Observation'::text) AND (param = 'date'::text))",
        "  ->  Index Scan using reference_index_resource on reference_index h  (cost=0.42..1.05 rows=1 width=74)",
        "        Index Cond: ((resource_type = 'Observation'::text) AND (id = n1.id))",
        "  ->  Index Only Scan using resource_pkey on resource k  (cost=0.42..28701.89 rows=439398 width=48)",
        "        Heap Fetches: 0",
        "  ->  Index Only Scan using token_index_lookup on token_index x  (cost=0.56..1.59 rows=1 width=33)",
        "        Index Cond: ((resource_type = 'Observation'::text) AND (param = 'code'::text) AND (code = 'x'::text))",
    ]
    assert _pg_parameter_ranges(plan) == [
        "Index Scan using resource_pkey on resource r: Index Cond: (resource_type = 'Patient'::text)",
        "Index Scan using date_index_low on date_index s: "
        "Index Cond: ((resource_type = 'Observation'::text) AND (param = 'date'::text))",
        "Index Only Scan using resource_pkey on resource k: no Index Cond",
    ]


async def _bench_searches(store: Store) -> dict[str, str]:
    """A patient with an encounter and two observations, and the benchmark's kinds of search on
    them (the second page reached through the first one's `next` link)."""
    app = create_app(Settings(auth="off"), store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ember.test/fhir") as fhir:
        patient = await fhir.post("/Patient", json={"resourceType": "Patient", "name": [{"family": "Chalmers"}]})
        subject = {"reference": f"Patient/{patient.json()['id']}"}
        encounter = {"resourceType": "Encounter", "status": "finished", "class": {"code": "AMB"}, "subject": subject}
        assert (await fhir.post("/Encounter", json=encounter)).status_code == 201
        for day in ("2020-01-05", "2020-01-06"):
            observation = {
                "resourceType": "Observation",
                "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "8302-2"}]},
                "subject": subject,
                "effectiveDateTime": day,
            }
            assert (await fhir.post("/Observation", json=observation)).status_code == 201
        first = (await fhir.get("/Observation", params={"code": CODE, "_count": "1"})).json()
    following = next(link["url"] for link in first["link"] if link["relation"] == "next")
    code = f"code={CODE.replace('|', '%7C')}"
    return {
        "token": f"/fhir/Observation?{code}",
        "reference": f"/fhir/Observation?subject={subject['reference']}",
        "date range": "/fhir/Observation?date=ge2020-01-01&date=lt2020-02-01",
        "string prefix": "/fhir/Patient?name=chal",
        "chained": "/fhir/Observation?subject.name=chalmers",
        "_include": f"/fhir/Observation?{code}&_include=Observation:subject",
        "_revinclude": f"/fhir/Patient?_id={patient.json()['id']}&_revinclude=Encounter:subject",
        "_has": f"/fhir/Patient?_has:Observation:subject:{code}",
        "_sort": f"/fhir/Observation?{code}&_sort=-date",
        "page 2": "/fhir" + following.split("/fhir", 1)[1],
    }


CODE = "http://loinc.org|8302-2"


async def test_every_benchmark_search_reaches_each_table_through_an_index(
    store: Store, store_location: str, backend: Backend
) -> None:
    """Whatever the size of the data: with PostgreSQL's sequential scans disabled (a plan then
    still scans a table only when no index can serve it, as when a join compared columns of
    two collations), and SQLite as it plans without statistics."""
    paths = await _bench_searches(store)
    url = f"sqlite:///{store_location}" if backend.name == "sqlite" else store_location

    plans = await explain_searches(backend.name, url, paths, planner={"enable_seqscan": "off"})

    for key, searched in plans.items():
        assert searched.status == 200 and searched.statements, key
        assert searched.full_scans == [], f"{key}: {searched.full_scans}"


async def test_an_unsorted_page_reads_resources_only_by_their_keys(
    store: Store, store_location: str, backend: Backend
) -> None:
    """The page's keys come from the index rows: `resource` is read by primary key, for the
    page's bodies, not walked."""
    paths = await _bench_searches(store)
    url = f"sqlite:///{store_location}" if backend.name == "sqlite" else store_location

    plans = await explain_searches(backend.name, url, {"token": paths["token"]}, planner={"enable_seqscan": "off"})

    (statement,) = plans["token"].statements
    lines = statement.plan.splitlines()
    if backend.name == "sqlite":
        reads = [line.strip() for line in lines if line.strip().startswith(("SEARCH r ", "SCAN r"))]
        assert reads == ["SEARCH r USING INDEX resource_key (resource_type=? AND id=?)"]
    else:
        reads = [n for n, line in enumerate(lines) if " on resource " in line]
        assert reads and all("(id = " in lines[n + 1] and "Index Cond" in lines[n + 1] for n in reads), statement.plan


@pytest.mark.parametrize("collect", [True, False])
async def test_sqlite_reads_a_date_ranges_window_or_checks_the_other_bound_on_each_walked_row(
    store: Store, store_location: str, backend: Backend, monkeypatch: pytest.MonkeyPatch, collect: bool
) -> None:
    """A narrow window of a single-valued date parameter is read from its value index alone;
    past WINDOW_ROWS the rows are walked in id order, the other bound probed on each. Neither
    materialises one side of the range whole first (a `LIST SUBQUERY`): at 300,000 resources
    that read half the date index for every page."""
    if backend.name != "sqlite":
        pytest.skip("PostgreSQL turns either form into the semi-join its statistics favour")
    from ember.store import searching

    monkeypatch.setattr(searching, "WINDOW_ROWS", searching.WINDOW_ROWS if collect else -1)
    paths = await _bench_searches(store)

    plans = await explain_searches("sqlite", f"sqlite:///{store_location}", {"date": paths["date range"]})

    # The parameter's extent and shape, then the window's rows counted, pick the form first.
    extent, counted, page = plans["date"].statements
    assert "min(low)" in extent.sql and not extent.parameter_ranges
    assert "count(*)" in counted.sql and not counted.parameter_ranges
    assert "LIST SUBQUERY" not in page.plan
    window = "SEARCH d USING COVERING INDEX date_index_low (resource_type=? AND param=? AND low>? AND low<?)"
    assert (window in page.plan) is collect, page.plan
    assert ("CORRELATED SCALAR SUBQUERY" in page.plan) is not collect, page.plan
