"""`ember client`, `ember user`, and `ember serve` requiring tokens unless --no-auth."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ember.cli import app
from ember.settings import Settings

runner = CliRunner()


def test_client_add_list_remove(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'auth.db'}"
    added = runner.invoke(
        app,
        [
            "client",
            "add",
            "--name",
            "Portal",
            "--kind",
            "confidential-symmetric",
            "--redirect-uri",
            "https://portal.example/cb",
            "--scope",
            "user/*.rs openid",
            "--database",
            url,
        ],
    )
    assert added.exit_code == 0, added.output
    created = json.loads(added.output)
    assert created["client_secret"] and created["scopes"] == ["user/*.rs", "openid"]
    listed = runner.invoke(app, ["client", "list", "--database", url])
    assert created["client_id"] in listed.output and created["client_secret"] not in listed.output
    assert runner.invoke(app, ["client", "remove", created["client_id"], "--database", url]).exit_code == 0
    assert created["client_id"] not in runner.invoke(app, ["client", "list", "--database", url]).output


def test_client_add_refuses_unknown_scopes_and_bad_redirects(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'auth.db'}"
    bad_scope = runner.invoke(
        app, ["client", "add", "--name", "x", "--scope", "patient/*.everything", "--database", url]
    )
    assert bad_scope.exit_code != 0 and "Unknown scopes" in bad_scope.output
    bad_uri = runner.invoke(app, ["client", "add", "--name", "x", "--redirect-uri", "/relative", "--database", url])
    assert bad_uri.exit_code != 0


def test_user_add_and_list(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'auth.db'}"
    added = runner.invoke(
        app,
        ["user", "add", "pat", "--role", "patient", "--fhir-user", "Patient/p1", "--database", url],
        input="a long password\na long password\n",
    )
    assert added.exit_code == 0, added.output
    assert "pat\tpatient\tPatient/p1" in runner.invoke(app, ["user", "list", "--database", url]).output
    orphan = runner.invoke(
        app, ["user", "add", "p2", "--role", "patient", "--password", "long enough", "--database", url]
    )
    assert orphan.exit_code != 0


@pytest.fixture(autouse=True)
def scratch_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """`ember serve` exports every setting as EMBER_* for its workers: keep that out of the
    other tests of this process."""
    monkeypatch.setattr(os, "environ", dict(os.environ))


@pytest.mark.parametrize(("flags", "warned", "auth"), [([], False, "on"), (["--no-auth"], True, "off")])
def test_serve_requires_tokens_unless_no_auth(
    monkeypatch: pytest.MonkeyPatch, flags: list[str], warned: bool, auth: str
) -> None:
    started: list[Settings] = []
    monkeypatch.setattr("ember.cli.serve.run_server", started.append)
    monkeypatch.delenv("EMBER_AUTH", raising=False)
    result = runner.invoke(app, ["serve", "--port", "0", *flags])
    assert result.exit_code == 0, result.output
    assert ("authorization is OFF" in result.output) is warned
    assert started[0].auth == auth


def test_ember_auth_off_in_the_environment_also_warns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ember.cli.serve.run_server", lambda settings: None)
    monkeypatch.setenv("EMBER_AUTH", "off")
    result = runner.invoke(app, ["serve", "--port", "0"])
    assert "authorization is OFF" in result.output


def test_bootstrap_is_idempotent_and_token_is_accepted_by_the_server_key(tmp_path: Path) -> None:
    import asyncio

    from ember.auth.keys import load_signing_key
    from ember.auth.tokens import TokenVerifier
    from ember.store.sqlite import SqliteStore

    url = f"sqlite:///{tmp_path / 'dev.db'}"
    first = runner.invoke(app, ["auth", "bootstrap", "--database", url])
    assert first.exit_code == 0 and "password:" in first.output
    second = runner.invoke(app, ["auth", "bootstrap", "--database", url])
    assert second.exit_code == 0 and "password:" not in second.output
    assert "ember-demo" in runner.invoke(app, ["client", "list", "--database", url]).output
    minted = runner.invoke(app, ["auth", "token", "--scope", "user/*.rs", "--database", url])
    token = minted.output.strip()

    async def claims() -> dict[str, object]:
        store = SqliteStore(str(tmp_path / "dev.db"))
        await store.open()
        try:
            verifier = TokenVerifier(await load_signing_key(store, ""), store, 2)
            return await verifier.claims(token, "http://127.0.0.1:8080/fhir")
        finally:
            await store.close()

    assert asyncio.run(claims())["scope"] == "user/*.rs"
