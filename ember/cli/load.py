"""`ember load PATH...`: bulk loading through the same interaction code as the REST API.

Bundles of type batch/transaction are submitted as they are. Other Bundles, single resources
and NDJSON files are turned into transaction Bundles of PUT entries (keeping their ids) in
chunks, so a failed chunk is rolled back whole and can be loaded again safely.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress

from ember import terminology
from ember.access import AccessContext
from ember.fhir import jsonio
from ember.fhir.outcome import FhirError
from ember.interactions.dispatch import dispatch
from ember.interactions.request import FhirRequest
from ember.settings import Settings
from ember.store import create_store
from ember.store.base import Store

CHUNK = 500


def register(app: typer.Typer) -> None:
    @app.command("load")
    def load(
        paths: Annotated[list[Path], typer.Argument(help="Files or folders: .json Bundles/resources, .ndjson")],
        database: Annotated[str | None, typer.Option(help="Database URL (default from settings)")] = None,
    ) -> None:
        """Load FHIR data into the database, with a progress bar."""
        settings = Settings.load(database_url=database)
        files = sorted(discover(paths))
        if not files:
            raise typer.BadParameter("no .json or .ndjson files found")
        failures = asyncio.run(_load_files(settings, files))
        if failures:
            raise typer.Exit(code=1)


def discover(paths: list[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from (p for p in path.rglob("*") if p.suffix in (".json", ".ndjson") and p.is_file())
        elif path.is_file():
            yield path
        else:
            raise typer.BadParameter(f"{path} does not exist")


async def _load_files(settings: Settings, files: list[Path]) -> int:
    terminology.install()  # CodeSystems/ValueSets loaded are found by url; bindings see users' value sets
    store = create_store(settings)
    await store.open()
    failures = 0
    try:
        with Progress() as progress:
            task = progress.add_task("Loading", total=len(files))
            for path in files:
                for bundle in bundles_in(path):
                    failures += await _submit(store, bundle, path, progress)
                progress.advance(task)
    finally:
        await store.close()
    return failures


async def _submit(store: Store, bundle: dict[str, Any], path: Path, progress: Progress) -> int:
    request = FhirRequest("transaction", body=bundle, method="POST", headers={"prefer": "return=minimal"})
    try:
        response = await dispatch(AccessContext.system("ember load"), request, store)
    except FhirError as failure:
        progress.console.print(f"[red]{path.name}: {failure}")
        return 1
    failed = [
        entry["response"]
        for entry in (response.resource or {}).get("entry", [])
        if not entry["response"]["status"].startswith("2")
    ]
    for failure in failed[:5]:
        progress.console.print(f"[red]{path.name}: {failure['status']} {failure.get('outcome', {}).get('issue', '')}")
    return len(failed)


def bundles_in(path: Path) -> Iterator[dict[str, Any]]:
    """The batch/transaction Bundles to submit for one file."""
    if path.suffix == ".ndjson":
        with path.open("rb") as handle:
            resources = [jsonio.loads(line) for line in handle if line.strip()]
        yield from _as_transactions(resources)
        return
    content = jsonio.loads(path.read_bytes())
    if content.get("resourceType") == "Bundle" and content.get("type") in ("batch", "transaction"):
        yield content
    elif content.get("resourceType") == "Bundle":
        yield from _as_transactions([entry["resource"] for entry in content.get("entry", []) if "resource" in entry])
    else:
        yield from _as_transactions([content])


def _as_transactions(resources: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for start in range(0, len(resources), CHUNK):
        entries = [_entry(resource) for resource in resources[start : start + CHUNK]]
        yield {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def _entry(resource: dict[str, Any]) -> dict[str, Any]:
    if "id" in resource:
        request = {"method": "PUT", "url": f"{resource['resourceType']}/{resource['id']}"}
    else:
        request = {"method": "POST", "url": resource["resourceType"]}
    return {"resource": resource, "request": request}
