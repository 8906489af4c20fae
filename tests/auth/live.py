"""A real `ember serve` with auth on, for the tests that drive it with real clients (fhirclient
over HTTP, headless Chromium). The database is prepared first: one Synthea patient, a
practitioner user and a public app whose redirect URI is the server's own /healthz (so a
browser lands on a page that exists)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bench._server import ember_server
from ember.access import AccessContext
from ember.auth.clients import register_client
from ember.auth.users import add_user
from ember.cli import app as cli
from ember.store.base import HistoryQuery
from ember.store.sqlite import SqliteStore
from tests.conformance import CONFORMANCE

CONFORMANCE = CONFORMANCE
PASSWORD = "correct horse battery"
SCOPES = "launch/patient patient/*.rs openid fhirUser offline_access"


@dataclass(frozen=True)
class LiveEmber:
    base: str
    client_id: str
    redirect_uri: str
    patient_id: str


async def _prepare(database: Path, redirect_uri: str) -> tuple[str, str]:
    store = SqliteStore(str(database))
    await store.open()
    try:
        client, _ = await register_client(
            store, name="fhirclient demo", kind="public", redirect_uris=[redirect_uri], scopes=SCOPES.split()
        )
        await add_user(store, "dr.who", PASSWORD, "practitioner", "Practitioner/doc1")
        entries = await store.history(AccessContext.system(), HistoryQuery("Patient"))
        return client.client_id, entries[0].version.id
    finally:
        await store.close()


@pytest.fixture(scope="module")
def live_ember(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveEmber]:
    directory = tmp_path_factory.mktemp("live")
    database = directory / "live.db"
    bundle = sorted((CONFORMANCE / "synthea" / "smart-synthea-v2.4").glob("*.json"))[0]
    loaded = CliRunner().invoke(cli, ["load", str(bundle), "--database", f"sqlite:///{database}"])
    assert loaded.exit_code == 0, loaded.output
    with ember_server(f"sqlite:///{database}", 1, directory / "server.log", auth=True) as server:
        origin = f"http://{server.host}:{server.port}"
        redirect_uri = f"{origin}/healthz"
        client_id, patient_id = asyncio.run(_prepare(database, redirect_uri))
        yield LiveEmber(f"{origin}/fhir", client_id, redirect_uri, patient_id)
