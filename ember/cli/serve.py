"""`ember serve`: run the FHIR server with granian.

Settings reach the worker processes through EMBER_* environment variables, the same way an
operator configures them, so a worker builds exactly the app a single process would.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import fields
from typing import Annotated

import typer

from ember.settings import Settings

_WARNING = (
    "WARNING: authorization is OFF (--no-auth / EMBER_AUTH=off): every client may read and write "
    "everything. For local development only; keep it on a trusted network (127.0.0.1 by default)."
)


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(
        host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1)")] = None,
        port: Annotated[int | None, typer.Option(help="Port (default 8080)")] = None,
        database: Annotated[
            str | None, typer.Option(help="sqlite:///path.db or postgresql://user@host:port/db")
        ] = None,
        workers: Annotated[int | None, typer.Option(help="Worker processes (default 1)")] = None,
        no_auth: Annotated[bool, typer.Option("--no-auth", help="Trust every caller (local development only)")] = False,
    ) -> None:
        """Serve the FHIR API at http://HOST:PORT/fhir; SMART access tokens are required unless --no-auth."""
        settings = Settings.load(
            host=host, port=port, database_url=database, workers=workers, auth="off" if no_auth else None
        )
        for field in fields(settings):
            os.environ[f"EMBER_{field.name.upper()}"] = str(getattr(settings, field.name))
        if settings.auth == "off":
            typer.secho(_WARNING, fg=typer.colors.YELLOW, err=True)
        typer.echo(
            f"Ember serving FHIR R4 at http://{settings.host}:{settings.port}/fhir ({settings.database_url}; "
            f"event loop: {event_loop()})"
        )
        run_server(settings)


def event_loop() -> str:
    """uvloop where it is installed (a dependency except on Windows): FHIR reads by id on
    PostgreSQL went from 10,300-11,000 to 14,200-14,900/s with it (asyncpg's socket I/O and
    granian's cross-thread wake-ups are C there), and every request costs less CPU."""
    return "uvloop" if importlib.util.find_spec("uvloop") is not None else "asyncio"


def run_server(settings: Settings) -> None:
    from granian import Granian
    from granian.constants import Interfaces, Loops
    from granian.log import LogLevels

    Granian(
        "ember.rest.app:app_from_environment",
        loop=Loops(event_loop()),
        address=settings.host,
        port=settings.port,
        workers=settings.workers,
        interface=Interfaces.ASGI,
        factory=True,
        log_level=LogLevels(settings.log_level),
        respawn_failed_workers=True,
    ).serve()
