"""The `ember` command line: one Typer app; each command group registers itself from its module."""

from __future__ import annotations

import typer

from ember.cli import auth, fhirpath, hl7, load, serve, terminology, version

app = typer.Typer(help="Ember: a FHIR R4 server.", no_args_is_help=True, add_completion=False)
for module in (serve, load, fhirpath, terminology, hl7, version, auth):
    module.register(app)


def main() -> None:
    app()
