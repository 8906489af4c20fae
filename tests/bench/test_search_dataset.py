"""The search benchmark's data set: loaded copies are counted from the server's answers, and a
kept data set is reused only while the schema it was loaded under is still the current one."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import httpx
import pytest

from bench._search_dataset import Manifest, dataset_database, load_copies
from bench._server import ADMIN_URL, ember_server
from bench._synthea_copies import load_templates
from tests.conformance import CONFORMANCE
from tests.pg import require_postgres

SAMPLE = CONFORMANCE / "synthea" / "smart-synthea-v2.4"


def test_a_kept_sqlite_data_set_is_reused_until_the_migrations_change(tmp_path: Path) -> None:
    keep = tmp_path / "kept"
    with dataset_database("sqlite", keep, tmp_path) as (url, manifest, manifest_path):
        assert manifest.resources == 0 and url.endswith("/kept/search.db")
        manifest.resources, manifest.patients = 123, [["p1", "Koepp00000"]]
        manifest.save(manifest_path)
    (keep / "search.db").write_bytes(b"stands for the loaded database")
    with dataset_database("sqlite", keep, tmp_path) as (_, reused, _):
        assert (reused.resources, reused.patients) == (123, [["p1", "Koepp00000"]])
    assert (keep / "search.db").exists()

    stale = Manifest(**{**reused.__dict__, "schema": "loaded-under-an-older-schema"})
    stale.save(keep / "manifest-sqlite.json")
    with dataset_database("sqlite", keep, tmp_path) as (_, fresh, _):
        assert fresh.resources == 0 and not fresh.patients
    assert not (keep / "search.db").exists()


def test_a_kept_postgres_data_set_is_a_database_named_after_the_folder(tmp_path: Path) -> None:
    require_postgres()
    keep = tmp_path / "kept"
    with dataset_database("postgres", keep, tmp_path) as (url, manifest, manifest_path):
        manifest.resources = 7
        manifest.save(manifest_path)
    name = url.rpartition("/")[2]
    try:
        asyncio.run(_execute(url, "CREATE TABLE loaded (x int)"))
        with dataset_database("postgres", keep, tmp_path) as (again, reused, _):
            assert again == url and reused.resources == 7
            assert asyncio.run(_fetchval(url, "SELECT to_regclass('loaded') IS NOT NULL"))
    finally:
        asyncio.run(_execute(ADMIN_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.mark.slow
def test_loading_counts_created_resources_and_records_each_patient_with_its_family(tmp_path: Path) -> None:
    templates = load_templates(SAMPLE)
    manifest = Manifest("sqlite", "any")
    reports: list[int] = []
    with ember_server(f"sqlite:///{tmp_path / 'load.db'}", 1, tmp_path / "server.log") as server:
        target = 500
        asyncio.run(
            load_copies(server, templates, manifest, target, 2, 60, lambda state: reports.append(state.resources))
        )
        base = f"http://{server.host}:{server.port}/fhir"
        families = [httpx.get(f"{base}/Patient/{pid}").json()["name"][0]["family"] for pid, _ in manifest.patients]

    posted = templates[: manifest.load_bundles]  # whole copies in template order, copy 0 first
    assert manifest.load_failures == 0
    assert manifest.resources == sum(t.resources for t in posted) >= target
    # The load stops once the target is reached: at most one bundle per client beyond it.
    assert manifest.resources - target < 2 * max(t.resources for t in templates)
    assert families == [family for _, family in manifest.patients]
    assert sorted(families) == sorted(t.patient_family + "00000" for t in posted)
    assert manifest.next_copy == 1 and manifest.load_seconds > 0 and reports == sorted(reports) and reports


async def _execute(url: str, statement: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def _fetchval(url: str, query: str) -> object:
    connection = await asyncpg.connect(url)
    try:
        return await connection.fetchval(query)
    finally:
        await connection.close()
