"""`ember audit verify`: check the AuditEvent hash chain of a database (exit code 1 when broken)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from ember.audit.verify import ChainReport, verify
from ember.settings import Settings
from ember.store import create_store


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Audit log: AuditEvents and their hash chain.", no_args_is_help=True)
    app.add_typer(group, name="audit")

    @group.command("verify")
    def verify_command(
        database: Annotated[str | None, typer.Option(help="Database URL (default from settings)")] = None,
    ) -> None:
        """Recompute the hash chain and report the first broken link."""
        report = asyncio.run(_verify(Settings.load(database_url=database)))
        if not report.intact:
            typer.secho(f"BROKEN at sequence {report.broken_at}: {report.problem}", fg="red", err=True)
            typer.echo(f"{report.verified} AuditEvents verified before it")
            raise typer.Exit(code=1)
        typer.echo(f"OK: {report.verified} AuditEvents, chain head {report.head}")


async def _verify(settings: Settings) -> ChainReport:
    store = create_store(settings)
    await store.open()
    try:
        return await verify(store)
    finally:
        await store.close()
