"""`ember hl7 ...`: run the MLLP listener, send a file of messages, manage dead letters and
outbound endpoints."""

from __future__ import annotations

import asyncio
import datetime
from pathlib import Path
from typing import Annotated

import typer

# One store per command, opened and closed around the work: the same helper as `ember client`.
from ember.cli.auth import Database, _with_store
from ember.hl7v2 import dead_letters, delivery, outbound
from ember.hl7v2.ack import ack_code
from ember.hl7v2.bridge import ingestor_for
from ember.hl7v2.listener import MllpListener
from ember.hl7v2.message import decode
from ember.hl7v2.mllp import DEFAULT_PORT, send_messages, split_messages
from ember.jobs import JOB_HANDLERS, JobRunner
from ember.settings import Settings
from ember.store.base import Store

hl7_app = typer.Typer(help="HL7 v2 bridge: MLLP listener, test sender, dead letters, outbound feeds.")
outbound_app = typer.Typer(help="Legacy MLLP endpoints that receive new results as ORU^R01.")
hl7_app.add_typer(outbound_app, name="outbound")


def register(app: typer.Typer) -> None:
    app.add_typer(hl7_app, name="hl7")


@hl7_app.command("listen")
def listen(
    host: Annotated[str, typer.Option(help="Address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="MLLP port")] = DEFAULT_PORT,
    database: Database = None,
) -> None:
    """Run the MLLP listener alone (and the job runner, for outbound feeds) until interrupted."""

    async def serve(store: Store) -> None:
        settings = Settings.load(database_url=database)
        delivery.install()
        listener = MllpListener(ingestor_for(store, settings), host, port)
        await listener.start()
        typer.echo(f"HL7 v2 MLLP listener on {host}:{listener.port} ({settings.database_url})")
        jobs = asyncio.create_task(JobRunner(store, JOB_HANDLERS).run_forever())
        try:
            await asyncio.Event().wait()
        finally:
            jobs.cancel()
            await listener.stop()

    try:
        _with_store(database, serve)
    except KeyboardInterrupt:
        typer.echo("stopped")


@hl7_app.command("send")
def send(
    file: Annotated[Path, typer.Argument(help="A file of one or more HL7 v2 messages", exists=True, dir_okay=False)],
    host: Annotated[str, typer.Option(help="Listener host")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Listener port")] = DEFAULT_PORT,
) -> None:
    """Send each message of FILE over MLLP and print MSA-1 of each ACK; exit 1 unless all AA."""
    messages = split_messages(decode(file.read_bytes()))
    if not messages:
        raise typer.BadParameter("no MSH segment found in the file")
    acks = asyncio.run(send_messages(host, port, messages))
    for ack in acks:
        typer.echo(f"{ack_code(ack) or '??'}  {ack.replace(chr(13), ' | ').strip()}")
    if any(ack_code(ack) != "AA" for ack in acks):
        raise typer.Exit(code=1)


@hl7_app.command("errors")
def errors(database: Database = None) -> None:
    """List the dead letters: messages that were not applied, with their error."""
    for letter in _with_store(database, dead_letters.list_all):
        when = datetime.datetime.fromtimestamp(letter.received, datetime.UTC).isoformat(timespec="seconds")
        typer.echo(f"{letter.id}  {when}  {letter.ack_code}  MSH-10={letter.control_id or '-'}  {letter.error}")


@hl7_app.command("retry")
def retry(
    letter_id: Annotated[str, typer.Argument(help="Dead-letter id (from `ember hl7 errors`)")],
    database: Database = None,
) -> None:
    """Process a dead letter again. It leaves the list either way: accepted, or replaced by the
    dead letter of the new failure (whose id is printed)."""

    async def run(store: Store) -> tuple[str, str | None]:
        letter = await dead_letters.get(store, letter_id)
        if letter is None:
            raise typer.BadParameter(f"no dead letter '{letter_id}'")
        outcome = await ingestor_for(store, Settings.load(database_url=database)).receive(letter.message.encode())
        await dead_letters.remove(store, letter_id)
        return outcome.code, outcome.dead_letter

    code, replacement = _with_store(database, run)
    typer.echo(code if replacement is None else f"{code} (now dead letter {replacement})")
    if code != "AA":
        raise typer.Exit(code=1)


@outbound_app.command("add")
def outbound_add(
    name: Annotated[str, typer.Argument(help="A name for the endpoint")],
    host: Annotated[str, typer.Option(help="Receiver host")],
    port: Annotated[int, typer.Option(help="Receiver MLLP port")],
    database: Database = None,
) -> None:
    """Subscribe an MLLP endpoint to new Observations and DiagnosticReports."""
    _with_store(database, lambda store: outbound.add_endpoint(store, name, host, port))
    typer.echo(f"{name} -> {host}:{port}")


@outbound_app.command("list")
def outbound_list(database: Database = None) -> None:
    for name, value in _with_store(database, outbound.list_endpoints):
        typer.echo(f"{name}  {value['host']}:{value['port']}")


@outbound_app.command("remove")
def outbound_remove(name: str, database: Database = None) -> None:
    if not _with_store(database, lambda store: outbound.remove_endpoint(store, name)):
        raise typer.BadParameter(f"no endpoint '{name}'")
