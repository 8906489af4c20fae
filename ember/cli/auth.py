"""`ember client ...` and `ember user ...`: register SMART apps and people from the shell,
writing the same records as the admin API."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from ember.auth.clients import CLIENT_KINDS, ClientError, list_clients, register_client, remove_client
from ember.auth.keys import load_signing_key
from ember.auth.tokens import Authorization, TokenSigner
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
    auth = typer.Typer(help="Local development helpers for the authorization server.", no_args_is_help=True)
    app.add_typer(clients, name="client")
    app.add_typer(users, name="user")
    app.add_typer(auth, name="auth")
    _register_clients(clients)
    _register_users(users)
    _register_bootstrap(auth)
    _register_token(auth)


def _register_clients(clients: typer.Typer) -> None:
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


def _register_users(users: typer.Typer) -> None:
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


DEMO_CLIENT = "ember-demo"


def _register_bootstrap(auth: typer.Typer) -> None:
    @auth.command("bootstrap")
    def bootstrap(
        base_url: Annotated[
            str, typer.Option(help="FHIR base URL the server will answer on")
        ] = "http://127.0.0.1:8080/fhir",
        database: Database = None,
    ) -> None:
        """Create an `admin` user and the public `ember-demo` app if they do not exist yet
        (what `make serve` runs first); prints the admin password once."""
        origin = base_url.removesuffix("/fhir")

        async def setup(store: Store) -> str | None:
            password = None
            if not any(user.username == "admin" for user in await list_users(store)):
                password = secrets.token_urlsafe(12)
                await add_user(store, "admin", password, "admin", None)
            if not any(client.client_id == DEMO_CLIENT for client in await list_clients(store)):
                await register_client(
                    store,
                    name="Ember demo app",
                    kind="public",
                    redirect_uris=[f"{origin}/healthz"],
                    scopes=[
                        "launch/patient",
                        "patient/*.cruds",
                        "user/*.cruds",
                        "openid",
                        "fhirUser",
                        "offline_access",
                    ],
                    client_id=DEMO_CLIENT,
                )
            return password

        password = _with_store(database, setup)
        if password:
            typer.echo(f"Created user 'admin' with password: {password}  (shown once)")
        typer.echo(f"Demo app client_id '{DEMO_CLIENT}'. For a token to use with curl:")
        typer.echo(f"  TOKEN=$(ember auth token --scope 'user/*.cruds' --base-url {base_url})")
        typer.echo('  curl -H "Authorization: Bearer $TOKEN" ' + base_url + "/metadata")


def _register_token(auth: typer.Typer) -> None:
    @auth.command("token")
    def token(
        scope: Annotated[str, typer.Option(help="Space-separated scopes")] = "user/*.cruds",
        subject: Annotated[str, typer.Option(help="The `sub` of the token")] = "admin",
        patient: Annotated[str | None, typer.Option(help="Launch patient id")] = None,
        base_url: Annotated[
            str, typer.Option(help="FHIR base URL (the token's audience)")
        ] = "http://127.0.0.1:8080/fhir",
        database: Database = None,
    ) -> None:
        """Print an access token signed with the server's key, for local development. Anyone
        who can read the database can do this; it is not a way around the server's rules."""
        settings = Settings.load(database_url=database)

        async def mint(store: Store) -> str:
            key = await load_signing_key(store, settings.signing_key_file)
            grant = Authorization(DEMO_CLIENT, subject, tuple(scope.split()), patient)
            signer = TokenSigner(key, settings.access_token_seconds)
            return signer.access_token(grant, settings.auth_issuer or base_url, base_url)[0]

        typer.echo(_with_store(database, mint))
