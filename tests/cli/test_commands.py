"""The `ember` command line: version, load (Bundles, NDJSON, folders)."""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path

from typer.testing import CliRunner

from ember.access import AccessContext
from ember.cli import app
from ember.cli.serve import event_loop
from ember.store.base import HistoryQuery
from ember.store.sqlite import SqliteStore
from tests.conformance import CONFORMANCE

CONFORMANCE = CONFORMANCE
runner = CliRunner()


def _count(database: Path, resource_type: str | None = None) -> int:
    async def count() -> int:
        store = SqliteStore(str(database))
        await store.open()
        try:
            return await store.history_count(AccessContext.system(), HistoryQuery(resource_type=resource_type))
        finally:
            await store.close()

    return asyncio.run(count())


def test_version_names_fhir_release() -> None:
    result = runner.invoke(app, ["version"])
    assert result.exit_code == 0
    assert "FHIR 4.0.1" in result.output


def test_load_transaction_bundle(tmp_path: Path) -> None:
    bundle = next((CONFORMANCE / "synthea" / "smart-synthea-v2.4").glob("*.json"))
    database = tmp_path / "load.db"
    result = runner.invoke(app, ["load", str(bundle), "--database", f"sqlite:///{database}"])
    assert result.exit_code == 0, result.output
    assert _count(database, "Patient") == 1
    assert _count(database) > 100


def test_load_ndjson_folder_keeps_ids_and_is_repeatable(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    source = CONFORMANCE / "bulk-data" / "sample-export-synthea-10-patients"
    for name in ("Patient.000.ndjson", "Organization.000.ndjson"):
        shutil.copy(source / name, folder / name)
    database = tmp_path / "ndjson.db"
    url = f"sqlite:///{database}"
    assert runner.invoke(app, ["load", str(folder), "--database", url]).exit_code == 0
    patients = sum(1 for line in (source / "Patient.000.ndjson").read_text().splitlines() if line.strip())
    assert _count(database, "Patient") == patients
    assert runner.invoke(app, ["load", str(folder), "--database", url]).exit_code == 0
    assert _count(database, "Patient") == 2 * patients  # same ids: a second version each


def test_load_reports_invalid_input(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"resourceType": "Observation", "code": {"text": "no status"}}')
    result = runner.invoke(app, ["load", str(bad), "--database", f"sqlite:///{tmp_path / 'x.db'}"])
    assert result.exit_code == 1
    assert "status" in result.output


def test_the_server_runs_on_uvloop_where_it_is_a_dependency() -> None:
    assert event_loop() == ("asyncio" if sys.platform == "win32" else "uvloop")
