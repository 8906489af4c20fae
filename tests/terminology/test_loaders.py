"""`ember terminology load`: CSV and CodeSystem JSON files become a stored code system with its closure."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ember import terminology
from ember.access import AccessContext
from ember.cli import app
from ember.fhir.outcome import FhirError
from ember.store.base import Store
from ember.store.sqlite import SqliteStore
from ember.terminology.loaders import read_code_system_csv, store_code_system
from ember.terminology.resolve import Terminology
from tests.terminology.test_expand import LAB, LAB_SYSTEM

runner = CliRunner()
LOCAL = "http://example.org/fhir/CodeSystem/local-lab"
CSV = "code,display,parent\nLAB,All lab tests,\nCHEM,Chemistry,LAB\nGLU,Glucose,CHEM\nNA,Sodium,CHEM\nHEME,Hematology,LAB\n"


def write_csv(tmp_path: Path, text: str = CSV) -> Path:
    path = tmp_path / "local-lab.csv"
    path.write_text(text)
    return path


async def closure(database: Path, system: str, code: str) -> list[str]:
    store = SqliteStore(str(database))
    await store.open()
    try:
        return await terminology.descendants(store, system, code)
    finally:
        await store.close()


def test_cli_loads_a_csv_code_system(tmp_path: Path) -> None:
    database = tmp_path / "t.db"
    args = ["terminology", "load", str(write_csv(tmp_path)), "--url", LOCAL, "--database", f"sqlite:///{database}"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "created" in result.output
    assert asyncio.run(closure(database, LOCAL, "CHEM")) == ["CHEM", "GLU", "NA"]
    again = runner.invoke(app, args)
    assert again.exit_code == 0 and "updated" in again.output


def test_cli_loads_a_code_system_json(tmp_path: Path) -> None:
    database = tmp_path / "t.db"
    path = tmp_path / "lab.json"
    path.write_text(json.dumps(LAB_SYSTEM))
    result = runner.invoke(app, ["terminology", "load", str(path), "--database", f"sqlite:///{database}"])
    assert result.exit_code == 0, result.output
    assert asyncio.run(closure(database, LAB, "heme")) == ["heme", "hgb"]


@pytest.mark.parametrize(
    ("text", "message"),
    [("display,parent\nx,y\n", "code"), ("code,display\n,empty\n", "empty")],
)
def test_cli_refuses_bad_csv(tmp_path: Path, text: str, message: str) -> None:
    args = [
        "terminology",
        "load",
        str(write_csv(tmp_path, text)),
        "--url",
        LOCAL,
        "--database",
        f"sqlite:///{tmp_path}/t.db",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert message in result.output


def test_cli_needs_a_url_for_csv_and_a_code_system_in_json(tmp_path: Path) -> None:
    assert runner.invoke(app, ["terminology", "load", str(write_csv(tmp_path))]).exit_code == 2
    patient = tmp_path / "p.json"
    patient.write_text('{"resourceType": "Patient"}')
    result = runner.invoke(app, ["terminology", "load", str(patient), "--database", f"sqlite:///{tmp_path}/t.db"])
    assert result.exit_code == 1


@pytest.mark.anyio
async def test_loaded_csv_answers_operations_on_both_stores(store: Store, tmp_path: Path) -> None:
    terminology.install()
    progress: list[int] = []
    resource = read_code_system_csv(write_csv(tmp_path), LOCAL, progress=progress.append)
    assert sum(progress) == 5
    await store_code_system(store, resource)
    index = await Terminology(AccessContext.system(), store).code_system(LOCAL)
    assert index is not None
    assert index.subsumption("LAB", "GLU") == "subsumes"
    assert await terminology.ancestors(store, LOCAL, "NA") == ["CHEM", "LAB", "NA"]
    with pytest.raises(FhirError):
        await store_code_system(store, {"resourceType": "CodeSystem", "status": "active", "content": "complete"})
