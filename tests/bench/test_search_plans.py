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
    ]
    assert _pg_parameter_ranges(plan) == [
        "Index Scan using resource_pkey on resource r: Index Cond: (resource_type = 'Patient'::text)",
        "Index Scan using date_index_low on date_index s: "
        "Index Cond: ((resource_type = 'Observation'::text) AND (param = 'date'::text))",
    ]
