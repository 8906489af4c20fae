"""`ember terminology load FILE`: load a large code system (FHIR CodeSystem JSON, or a CSV with
code, display and parent columns) into the database, with a progress bar."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress, SpinnerColumn, TimeElapsedColumn

from ember import terminology
from ember.fhir.outcome import FhirError
from ember.settings import Settings
from ember.store import create_store
from ember.terminology.loaders import read_code_system_csv, read_code_system_json, store_code_system


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Terminology: load code systems.", no_args_is_help=True)
    app.add_typer(group, name="terminology")

    @group.command("load")
    def load(
        file: Annotated[Path, typer.Argument(help="CodeSystem .json, or .csv with code,display,parent columns")],
        url: Annotated[str | None, typer.Option(help="Canonical url of the code system (required for CSV)")] = None,
        name: Annotated[str | None, typer.Option(help="Computable name (CSV; default from the file name)")] = None,
        database: Annotated[str | None, typer.Option(help="Database URL (default from settings)")] = None,
    ) -> None:
        """Load one code system; its concepts become available to every terminology operation."""
        if not file.is_file():
            raise typer.BadParameter(f"{file} does not exist")
        if file.suffix.lower() == ".csv" and not url:
            raise typer.BadParameter("a CSV code system needs --url")
        settings = Settings.load(database_url=database)
        try:
            message = asyncio.run(_load(settings, file, url, name))
        except FhirError as failure:
            typer.secho(f"{file.name}: {failure}", fg="red", err=True)
            raise typer.Exit(code=1) from None
        typer.echo(message)


async def _load(settings: Settings, file: Path, url: str | None, name: str | None) -> str:
    terminology.install()
    with Progress(SpinnerColumn(), *Progress.get_default_columns(), TimeElapsedColumn()) as progress:
        reading = progress.add_task("Reading concepts", total=None)
        resource = _read(file, url, name, lambda n: progress.advance(reading, n))
        count = len(resource.get("concept") or [])
        progress.update(reading, total=progress.tasks[reading].completed or count, completed=count)
        storing = progress.add_task("Storing code system and closure", total=1)
        store = create_store(settings)
        await store.open()
        try:
            resource_id, status = await store_code_system(store, resource)
        finally:
            await store.close()
        progress.advance(storing)
    verb = "created" if status == 201 else "updated"
    return f"CodeSystem/{resource_id} {verb}: {resource['url']} ({count} top-level concepts)"


def _read(file: Path, url: str | None, name: str | None, advance: Callable[[int], None]) -> dict[str, Any]:
    if file.suffix.lower() == ".csv":
        return read_code_system_csv(file, url or "", name, advance)
    resource = read_code_system_json(file)
    if url:
        resource["url"] = url
    return resource
