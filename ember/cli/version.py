"""`ember version`."""

from __future__ import annotations

import typer

import ember


def register(app: typer.Typer) -> None:
    @app.command("version")
    def version() -> None:
        """Print Ember's version and the FHIR version it serves."""
        typer.echo(f"ember {ember.__version__} (FHIR {ember.FHIR_VERSION})")
