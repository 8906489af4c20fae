"""``ember fhirpath EXPRESSION FILE``: evaluate a FHIRPath expression on a JSON resource."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer

from ember.fhir import fhirpath as engine


def _json_ready(value: Any) -> Any:
    """Make a result item JSON-serialisable without losing a decimal's written precision."""
    if isinstance(value, Decimal):
        as_float = float(value)
        return as_float if repr(as_float) == str(value) else str(value)
    if isinstance(value, (engine.Temporal, engine.Quantity)):
        return str(value)
    if isinstance(value, dict):
        return {key: _json_ready(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_ready(item) for item in value]
    return value


def fhirpath(
    expression: Annotated[str, typer.Argument(help="The FHIRPath expression.")],
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="A FHIR resource in JSON.")],
) -> None:
    """Evaluate EXPRESSION on the resource in FILE and print the result as a JSON array."""
    resource = json.loads(file.read_text(encoding="utf-8"), parse_float=Decimal)
    try:
        result = engine.evaluate(resource, expression)
    except engine.FhirPathError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=1) from error
    typer.echo(json.dumps(_json_ready(result), indent=2, ensure_ascii=False))


def register(app: typer.Typer) -> None:
    """Add the ``fhirpath`` command to the ``ember`` application."""
    app.command(name="fhirpath")(fhirpath)
