"""The AuditEvent hash chain: it verifies, it survives a restart with records still in the
outbox, concurrent audit workers cannot fork it, and any change made directly in the database
(an altered, removed or last event) is reported at the first broken link, also by the CLI."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from typer.testing import CliRunner

from ember.audit.chain import chain_id
from ember.audit.outbox import READ_BUFFER
from ember.audit.verify import verify
from ember.cli import app as cli
from ember.interactions.versioning import now
from ember.interactions.writes import plan_delete
from ember.jobs import JOB_HANDLERS, JobRunner
from ember.store.base import Store
from tests.audit.support import audit_events, drain, observation, system, tamper, token
from tests.auth.conftest import AuthApp
from tests.backends import Backend

pytestmark = pytest.mark.anyio


async def _activity(app: AuthApp, count: int) -> None:
    """`count` creates and reads by a practitioner: 2 * count audit records."""
    headers = token(app, ("user/*.cruds",))
    for n in range(count):
        created = await app.http.post("/fhir/Observation", json=observation(app.patient_id, f"n{n}"), headers=headers)
        assert (await app.http.get(f"/fhir/Observation/{created.json()['id']}", headers=headers)).status_code == 200


async def test_the_chain_verifies_and_links_every_event_to_the_previous_one(auth_app: AuthApp) -> None:
    await _activity(auth_app, 3)
    await drain(auth_app.store)
    report = await verify(auth_app.store)
    assert report.intact and report.verified == 7  # the seeded patient, 3 creates, 3 reads
    first = (await audit_events(auth_app, f"_id={chain_id(1)}"))[0]
    extensions = {e["url"].rsplit("-", 1)[-1]: e["valueString"] for e in first["extension"]}
    assert extensions == {"sequence": "1", "hash": "0" * 64}


async def test_records_in_the_outbox_survive_a_restart(
    auth_app: AuthApp, backend: Backend, store_location: str
) -> None:
    await _activity(auth_app, 2)
    await READ_BUFFER.flush(auth_app.store)
    # The server stops before any audit job ran; a new process opens the same database.
    reopened: Store = backend.store(store_location)
    await reopened.open()
    try:
        async with reopened.transaction() as tx:
            assert (
                len(await tx.list_jobs("audit", "queued")) == 4
            )  # seed + 2 creates in their transactions, 1 flush of reads
        await JobRunner(reopened, JOB_HANDLERS).run_until_idle()
        report = await verify(reopened)
        assert report.intact and report.verified == 5
    finally:
        await reopened.close()


async def test_concurrent_audit_workers_extend_one_chain(auth_app: AuthApp) -> None:
    for n in range(12):  # twelve jobs, one write each
        await auth_app.http.post(
            "/fhir/Patient", json={"resourceType": "Patient", "id": f"p{n}"}, headers=system(auth_app)
        )
    runners = [JobRunner(auth_app.store, JOB_HANDLERS) for _ in range(3)]
    for index, runner in enumerate(runners):
        runner.worker = f"worker-{index}"
    await asyncio.gather(*(runner.run_until_idle() for runner in runners))
    await drain(auth_app.store)
    report = await verify(auth_app.store)
    assert report.intact and report.verified == 13
    async with auth_app.store.transaction() as tx:
        assert not await tx.list_jobs("audit", "failed")


def _set_outcome(resource: dict[str, Any]) -> None:
    resource["outcome"] = "8"


async def test_a_changed_event_breaks_the_next_link(auth_app: AuthApp, backend: Backend, store_location: str) -> None:
    await _activity(auth_app, 2)
    await drain(auth_app.store)
    await tamper(backend.name, store_location, "AuditEvent", chain_id(2), _set_outcome)
    report = await verify(auth_app.store)
    assert not report.intact and report.broken_at == 3 and report.verified == 2
    assert chain_id(3) in (report.problem or "")


async def test_a_changed_last_event_disagrees_with_the_head(
    auth_app: AuthApp, backend: Backend, store_location: str
) -> None:
    await _activity(auth_app, 1)
    await drain(auth_app.store)
    await tamper(backend.name, store_location, "AuditEvent", chain_id(3), _set_outcome)
    report = await verify(auth_app.store)
    assert not report.intact and "head" in (report.problem or "")


async def test_a_removed_event_is_a_gap(auth_app: AuthApp) -> None:
    await _activity(auth_app, 2)
    await drain(auth_app.store)
    async with auth_app.store.transaction() as tx:  # a deletion marker written behind the API's back
        key = ("AuditEvent", chain_id(2))
        marker = plan_delete(*key, (await tx.current([key]))[key], now())
        assert marker is not None
        await tx.write([marker])
    report = await verify(auth_app.store)
    assert report.broken_at == 2 and "missing" in (report.problem or "")


async def test_a_client_recorded_audit_event_is_kept_out_of_the_chain(auth_app: AuthApp) -> None:
    await drain(auth_app.store)
    event = (await audit_events(auth_app))[0]
    recorded = {key: value for key, value in event.items() if key not in ("id", "meta", "extension")}
    answer = await auth_app.http.post("/fhir/AuditEvent", json=recorded, headers=token(auth_app, ("user/*.cruds",)))
    assert answer.status_code == 201 and not answer.json()["id"].startswith("chain-")
    await drain(auth_app.store)
    assert (await verify(auth_app.store)).intact


async def test_ember_audit_verify_reports_ok_then_the_broken_link(
    auth_app: AuthApp, backend: Backend, store_location: str
) -> None:
    await _activity(auth_app, 1)
    await drain(auth_app.store)
    url = f"sqlite:///{store_location}" if backend.name == "sqlite" else store_location
    runner = CliRunner()
    ok = await asyncio.to_thread(runner.invoke, cli, ["audit", "verify", "--database", url])
    assert ok.exit_code == 0 and "OK: 3 AuditEvents" in ok.output, ok.output
    await tamper(backend.name, store_location, "AuditEvent", chain_id(1), _set_outcome)
    broken = await asyncio.to_thread(runner.invoke, cli, ["audit", "verify", "--database", url])
    assert broken.exit_code == 1 and "BROKEN at sequence 2" in broken.output, broken.output
