"""The `ember` command line: one Typer app; each command group registers itself from its module."""

from __future__ import annotations

import typer

from ember.cli import fhirpath, load, serve, terminology, version

app = typer.Typer(help="Ember: a FHIR R4 server.", no_args_is_help=True, add_completion=False)
for module in (serve, load, fhirpath, terminology, version):
    module.register(app)


def main() -> None:
    app()
