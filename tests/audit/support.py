"""What the audit and consent tests share: real tokens from the server's own signer, draining
the audit outbox, finding AuditEvents, and changing a stored row behind the store's back."""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Callable
from typing import Any

import asyncpg

from ember.audit.outbox import READ_BUFFER
from ember.auth.tokens import Authorization
from ember.jobs import JOB_HANDLERS, JobRunner
from ember.store.base import Store
from tests.auth.conftest import BASE, AuthApp

AUDITOR_SCOPES = ("user/AuditEvent.rs",)


def token(
    app: AuthApp,
    scopes: tuple[str, ...],
    *,
    subject: str = "dr.who",
    patient: str | None = None,
    fhir_user: str | None = "Practitioner/doc1",
    client_id: str | None = None,
) -> dict[str, str]:
    """Authorization headers with an access token signed by the server, as its token endpoint
    would issue it."""
    signer, _ = app.auth.tokens()
    grant = Authorization(client_id or app.client_id, subject, scopes, patient=patient, fhir_user=fhir_user)
    access_token, _ = signer.access_token(grant, BASE, BASE)
    return {"Authorization": f"Bearer {access_token}"}


def observation(patient: str, text: str = "pulse") -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": text},
        "subject": {"reference": f"Patient/{patient}"},
    }


def system(app: AuthApp) -> dict[str, str]:
    return token(app, ("system/*.cruds",), subject="loader", fhir_user=None, client_id="loader")


async def drain(store: Store) -> int:
    """Flush buffered audit records and run every due job: how many jobs ran."""
    await READ_BUFFER.flush(store)
    return await JobRunner(store, JOB_HANDLERS).run_until_idle()


async def audit_events(app: AuthApp, query: str = "") -> list[dict[str, Any]]:
    """Every AuditEvent matching `query`, read through the API with an auditor's token."""
    headers = token(app, AUDITOR_SCOPES, subject="auditor", fhir_user=None)
    answer = await app.http.get(f"/fhir/AuditEvent?_count=1000&{query}", headers=headers)
    assert answer.status_code == 200, answer.text
    return [entry["resource"] for entry in answer.json().get("entry", [])]


def subtype(event: dict[str, Any]) -> str:
    return str(event.get("subtype", [{}])[0].get("code", ""))


def query_of(event: dict[str, Any]) -> str | None:
    for entity in event.get("entity", []):
        if "query" in entity:
            return base64.b64decode(entity["query"]).decode()
    return None


def patients_of(event: dict[str, Any]) -> list[str]:
    return [
        e["what"]["reference"]
        for e in event.get("entity", [])
        if e.get("what", {}).get("reference", "").startswith("Patient/")
    ]


async def tamper(
    backend: str, location: str, resource_type: str, resource_id: str, change: Callable[[dict[str, Any]], None]
) -> None:
    """Rewrite a stored resource's current body directly in the database, as an intruder with
    database access would (both the current row and its history row)."""
    if backend == "sqlite":
        connection = sqlite3.connect(location)
        with connection:
            (body,) = connection.execute(
                "SELECT body FROM resource WHERE resource_type = ? AND id = ?", (resource_type, resource_id)
            ).fetchone()
            changed = _changed(body, change)
            for table in ("resource", "resource_version"):
                connection.execute(
                    f"UPDATE {table} SET body = ? WHERE resource_type = ? AND id = ?",
                    (changed, resource_type, resource_id),
                )
        connection.close()
        return
    pg = await asyncpg.connect(location)
    try:
        body = await pg.fetchval(
            "SELECT body FROM resource WHERE resource_type = $1 AND id = $2", resource_type, resource_id
        )
        changed = _changed(body, change)
        for table in ("resource", "resource_version"):
            await pg.execute(
                f"UPDATE {table} SET body = $1 WHERE resource_type = $2 AND id = $3",
                changed,
                resource_type,
                resource_id,
            )
    finally:
        await pg.close()


def _changed(body: bytes, change: Callable[[dict[str, Any]], None]) -> bytes:
    resource = json.loads(bytes(body))
    change(resource)
    return json.dumps(resource).encode()
