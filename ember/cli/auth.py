"""`ember client ...` and `ember user ...`: register SMART apps and people from the shell,
writing the same records as the admin API."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from ember.auth.clients import CLIENT_KINDS, ClientError, list_clients, register_client, remove_client
from ember.auth.users import ROLES, UserError, add_user, list_users
from ember.settings import Settings
from ember.store import create_store
from ember.store.base import Store

T = TypeVar("T")
Database = Annotated[str | None, typer.Option(help="Database URL (default from settings)")]


def _with_store(database: str | None, work: Callable[[Store], Awaitable[T]]) -> T:
    async def run() -> T:
        store = create_store(Settings.load(database_url=database))
        await store.open()
        try:
            return await work(store)
        finally:
            await store.close()

    return asyncio.run(run())


def register(app: typer.Typer) -> None:
    clients = typer.Typer(help="SMART apps (OAuth clients).", no_args_is_help=True)
    users = typer.Typer(help="People who log in (admins, practitioners, patients).", no_args_is_help=True)
    app.add_typer(clients, name="client")
    app.add_typer(users, name="user")

    @clients.command("add")
    def client_add(
        name: Annotated[str, typer.Option(help="Name shown on the consent page")],
        kind: Annotated[str, typer.Option(help=" | ".join(CLIENT_KINDS))] = "public",
        redirect_uri: Annotated[list[str] | None, typer.Option(help="Allowed redirect URI (repeatable)")] = None,
        scope: Annotated[str, typer.Option(help="Space-separated scopes the app may be granted")] = "",
        jwks_file: Annotated[Path | None, typer.Option(help="JWK Set file (confidential-asymmetric)")] = None,
        jwks_uri: Annotated[str | None, typer.Option(help="JWK Set URL (confidential-asymmetric)")] = None,
        client_id: Annotated[str | None, typer.Option(help="Choose the client_id (default: random)")] = None,
        database: Database = None,
    ) -> None:
        """Register an app; prints its client_id (and secret, shown only now)."""
        jwks: dict[str, Any] | None = json.loads(jwks_file.read_text()) if jwks_file else None

        async def add(store: Store) -> dict[str, Any]:
            client, secret = await register_client(
                store,
                name=name,
                kind=kind,
                redirect_uris=list(redirect_uri or []),
                scopes=scope.split(),
                jwks=jwks,
                jwks_uri=jwks_uri,
                client_id=client_id,
            )
            return {**client.public_view(), **({"client_secret": secret} if secret else {})}

        try:
            typer.echo(json.dumps(_with_store(database, add), indent=2))
        except ClientError as refused:
            raise typer.BadParameter(str(refused)) from None

    @clients.command("list")
    def client_list(database: Database = None) -> None:
        """Every registered app (secrets are never shown)."""
        found = _with_store(database, list_clients)
        typer.echo(json.dumps([client.public_view() for client in found], indent=2))

    @clients.command("remove")
    def client_remove(client_id: str, database: Database = None) -> None:
        """Unregister an app; tokens it already holds stay valid until they expire."""
        if not _with_store(database, lambda store: remove_client(store, client_id)):
            raise typer.BadParameter(f"No client '{client_id}'")

    @users.command("add")
    def user_add(
        username: str,
        role: Annotated[str, typer.Option(help=" | ".join(ROLES))] = "practitioner",
        fhir_user: Annotated[str | None, typer.Option(help="The user's resource, e.g. Practitioner/12")] = None,
        password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)] = "",
        database: Database = None,
    ) -> None:
        """Create a user with an argon2-hashed password."""
        try:
            user = _with_store(database, lambda store: add_user(store, username, password, role, fhir_user))
        except UserError as refused:
            raise typer.BadParameter(str(refused)) from None
        typer.echo(f"User '{user.username}' ({user.role}) created")

    @users.command("list")
    def user_list(database: Database = None) -> None:
        for user in _with_store(database, list_users):
            typer.echo(f"{user.username}\t{user.role}\t{user.fhir_user or ''}")
