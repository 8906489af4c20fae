"""The search suite's data: the SMART Synthea patients plus a few hand-made edge cases, loaded
once per back end and per test process, and a client that searches them next to the oracle.

Loading is the slow part (about 1,300 resources), so each back end's database is filled once,
by a session fixture in its own event loop, and each test module then opens one store on it.
The tests only read; a test that writes asks for `empty_ember` (an empty database).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from ember.store.base import Store
from tests.backends import BACKENDS, Backend
from tests.pg import create_test_database, drop_test_database, require_postgres, run_sync
from tests.search.client import LoadedData, SearchClient, fhir_client, load


@dataclass
class LoadedDatabases:
    """The loaded database of each back end, made on first use and dropped at the end."""

    directory: Path
    loaded: dict[str, LoadedData] = field(default_factory=dict)
    postgres_urls: list[str] = field(default_factory=list)
    #: Parameter values both back ends' oracles share (see `Oracle`).
    shared_values: dict[tuple[str, str], list[Any]] = field(default_factory=dict)

    def get(self, backend: str) -> LoadedData:
        if backend not in self.loaded:
            self.loaded[backend] = run_sync(self._fill(backend))
        return self.loaded[backend]

    async def _fill(self, backend: str) -> LoadedData:
        if backend == "sqlite":
            location = str(self.directory / "search.db")
        else:
            location = await create_test_database()
            self.postgres_urls.append(location)
        store = Backend(backend, self.directory).store(location)
        await store.open()
        try:
            return await load(store, location, self.shared_values)
        finally:
            await store.close()

    def drop(self) -> None:
        for url in self.postgres_urls:
            run_sync(drop_test_database(url))


@pytest.fixture(scope="session")
def loaded_databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoadedDatabases]:
    databases = LoadedDatabases(tmp_path_factory.mktemp("search"))
    yield databases
    databases.drop()


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    """Module scope, so that `ember` keeps one store open on one event loop for a whole module
    (opening a PostgreSQL pool per test cost more than most searches)."""
    return "asyncio"


@pytest.fixture(scope="module", params=BACKENDS)
async def ember(request: pytest.FixtureRequest, loaded_databases: LoadedDatabases) -> AsyncIterator[SearchClient]:
    """A client on the loaded data of one back end (read only: tests must not write)."""
    if request.param == "postgres":
        require_postgres()
    data = loaded_databases.get(request.param)
    store = Backend(request.param, loaded_databases.directory).store(data.location)
    await store.open()
    try:
        async with fhir_client(store) as client:
            yield SearchClient(client, data)
    finally:
        await store.close()


@pytest.fixture
async def empty_ember(store: Store) -> AsyncIterator[httpx.AsyncClient]:
    """A client on an empty database of one back end, for tests that write."""
    async with fhir_client(store) as client:
        yield client
