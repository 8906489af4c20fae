"""The ``ember fhirpath`` command."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from ember.cli.fhirpath import register


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.callback()
    def main() -> None:
        """Keep ``fhirpath`` a named sub-command, as on the real ``ember`` app."""

    return app


def test_prints_the_result_as_json(tmp_path: Path) -> None:
    resource = tmp_path / "patient.json"
    resource.write_text(
        json.dumps({"resourceType": "Patient", "birthDate": "1974-12-25", "name": [{"given": ["Peter", "James"]}]})
    )
    result = CliRunner().invoke(_app(), ["fhirpath", "Patient.name.given", str(resource)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == ["Peter", "James"]


def test_keeps_decimal_precision_and_renders_dates(tmp_path: Path) -> None:
    resource = tmp_path / "obs.json"
    resource.write_text('{"resourceType": "Observation", "valueQuantity": {"value": 1.50}}')
    result = CliRunner().invoke(_app(), ["fhirpath", "Observation.value.value | @2020-01-01", str(resource)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == ["1.50", "2020-01-01"]


def test_reports_errors_with_a_failing_exit_code(tmp_path: Path) -> None:
    resource = tmp_path / "patient.json"
    resource.write_text('{"resourceType": "Patient"}')
    result = CliRunner().invoke(_app(), ["fhirpath", "Patient.name.(", str(resource)])
    assert result.exit_code == 1
