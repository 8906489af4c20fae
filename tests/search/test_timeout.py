"""The search timeout: a search statement that runs too long is stopped and answered with an
OperationOutcome (400 too-costly), never a hang or a 500, and the store goes on working."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from ember.settings import Settings
from ember.store import create_store, search_timeout
from ember.store.base import Store
from ember.store.postgres import PostgresStore
from ember.store.sqlite import SqliteStore
from tests.backends import BACKENDS, opened
from tests.pg import require_postgres
from tests.search.client import fhir_client
from tests.search.conftest import LoadedDatabases

pytestmark = pytest.mark.anyio

#: Past before any statement can finish.
_NO_TIME = 1e-6


@pytest.fixture(params=BACKENDS)
async def impatient(request: pytest.FixtureRequest, loaded_databases: LoadedDatabases) -> AsyncIterator[Store]:
    """A one-connection store on the loaded data whose searches may run for no time at all."""
    if request.param == "postgres":
        require_postgres()
    location = loaded_databases.get(request.param).location
    store: Store = (
        SqliteStore(location, search_timeout=_NO_TIME)
        if request.param == "sqlite"
        else PostgresStore(location, min_size=1, max_size=1, search_timeout=_NO_TIME)
    )
    async with opened(store) as ready:
        yield ready


async def test_a_search_past_the_timeout_answers_too_costly_and_the_store_still_reads(impatient: Store) -> None:
    async with fhir_client(impatient) as client:
        stopped = await client.get("/Observation", params={"_content:contains": "a", "_total": "accurate"})
        assert stopped.status_code == 400
        outcome = stopped.json()
        assert outcome["resourceType"] == "OperationOutcome"
        assert outcome["issue"][0]["code"] == "too-costly"
        # The cancelled statement left the (only) connection usable: a read still answers.
        assert (await client.get("/Patient/no-such-patient")).status_code == 404


def test_the_timeout_comes_from_the_settings_and_zero_turns_it_off() -> None:
    assert search_timeout(Settings()) == 20.0
    assert search_timeout(Settings(search_timeout_ms=250)) == 0.25
    assert search_timeout(Settings(search_timeout_ms=0)) is None
    store = create_store(Settings(database_url="sqlite:///unused.db", search_timeout_ms=1500))
    assert isinstance(store, SqliteStore) and store._search_timeout == 1.5


async def test_searches_within_the_timeout_answer(loaded_databases: LoadedDatabases) -> None:
    store = SqliteStore(loaded_databases.get("sqlite").location, search_timeout=30.0)
    await store.open()
    try:
        async with fhir_client(store) as client:
            answer = await client.get("/Observation", params={"_content:contains": "a", "_count": "5"})
            assert answer.status_code == 200 and answer.json()["resourceType"] == "Bundle"
    finally:
        await store.close()
