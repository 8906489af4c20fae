"""Delivery of the outbound feed's jobs: one result as ORU^R01 over MLLP.

The handler raises unless the receiver answers AA/CA, so the job runner retries with backoff and
keeps the job as a failed job (a dead letter) after the last attempt. A job whose endpoint was
removed, or whose resource was deleted, since it was queued finishes with nothing sent.
"""

from __future__ import annotations

from typing import Any

from ember.access import AccessContext
from ember.fhir import jsonio
from ember.hl7v2 import outbound
from ember.hl7v2.ack import ack_code
from ember.hl7v2.mllp import send_messages
from ember.hl7v2.oru import build_oru
from ember.hl7v2.outbound import KIND
from ember.jobs import JOB_HANDLERS
from ember.store.base import Job, Store

_SYSTEM = AccessContext.system("hl7v2-outbound")


class DeliveryRefused(Exception):
    """The receiver answered, but not with AA/CA: retried like a connection failure."""


async def send_result(job: Job, store: Store) -> dict[str, Any]:
    """The job handler: send one result as ORU^R01; raise (and be retried) unless accepted."""
    async with store.transaction() as tx:
        endpoint = await tx.get_record(KIND, job.payload["endpoint"])
    if endpoint is None:
        return {"skipped": f"endpoint '{job.payload['endpoint']}' was removed"}
    resource = await _read(store, job.payload["type"], job.payload["id"])
    if resource is None:
        return {"skipped": f"{job.payload['type']}/{job.payload['id']} was deleted"}
    report, observations = (
        (resource, await _results(store, resource)) if job.payload["type"] == "DiagnosticReport" else (None, [resource])
    )
    patient = await _subject(store, resource)
    message = build_oru(patient, report, observations, control_id=f"EMBER{job.id}")
    acks = await send_messages(endpoint["host"], int(endpoint["port"]), [message], timeout=30.0)
    code = ack_code(acks[0])
    if code not in ("AA", "CA"):
        raise DeliveryRefused(f"The receiver answered {code or 'without MSA'}: {acks[0][:200]!r}")
    return {"ack": code}


async def _read(store: Store, resource_type: str, resource_id: str) -> dict[str, Any] | None:
    stored = await store.read(_SYSTEM, resource_type, resource_id)
    return None if stored is None or stored.deleted else jsonio.loads(stored.body)


async def _results(store: Store, report: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for reference in report.get("result", []):
        parts = reference.get("reference", "").split("/")
        if len(parts) == 2 and (observation := await _read(store, parts[0], parts[1])) is not None:
            found.append(observation)
    return found


async def _subject(store: Store, resource: dict[str, Any]) -> dict[str, Any] | None:
    parts = resource.get("subject", {}).get("reference", "").split("/")
    return await _read(store, "Patient", parts[1]) if len(parts) == 2 and parts[0] == "Patient" else None


def install() -> None:
    """Turn the outbound feed on in this process: the write observer that queues results and
    the job handler that sends them (registered here, by the bridge, so the job registry below
    the edge does not import the edge)."""
    outbound.install()
    JOB_HANDLERS[outbound.JOB_KIND] = send_result
