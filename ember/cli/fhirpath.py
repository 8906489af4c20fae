"""``ember fhirpath EXPRESSION FILE``: evaluate a FHIRPath expression on a JSON resource.

``memberOf()``, ``subsumes()`` and ``subsumedBy()`` are answered by the terminology service: the
core code systems and value sets, and with ``--database`` the users' ones stored there.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer

from ember import terminology
from ember.fhir import fhirpath as engine
from ember.fhir import terminology_hooks
from ember.settings import Settings
from ember.store import create_store
from ember.terminology.snapshot import settle


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
    database: Annotated[
        str | None, typer.Option(help="Database URL whose users' code systems and value sets memberOf() may use")
    ] = None,
) -> None:
    """Evaluate EXPRESSION on the resource in FILE and print the result as a JSON array."""
    resource = json.loads(file.read_text(encoding="utf-8"), parse_float=Decimal)
    terminology.install()

    def evaluate() -> list[Any]:
        return engine.evaluate(resource, expression, terminology=terminology_hooks.installed())

    try:
        result = asyncio.run(_with_database(database, evaluate)) if database else evaluate()
    except engine.FhirPathError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=1) from error
    typer.echo(json.dumps(_json_ready(result), indent=2, ensure_ascii=False))


async def _with_database(database: str, evaluate: Callable[[], list[Any]]) -> list[Any]:
    store = create_store(Settings.load(database_url=database))
    await store.open()
    try:
        return await settle(store, evaluate)
    finally:
        await store.close()


def register(app: typer.Typer) -> None:
    """Add the ``fhirpath`` command to the ``ember`` application."""
    app.command(name="fhirpath")(fhirpath)
