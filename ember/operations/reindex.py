"""$reindex: rebuild the search index in the background; $reindex-status: report on it.

`POST [base]/$reindex` (every type) or `POST [base]/[type]/$reindex` queues a durable reindex
job and answers 202 with the status URL in Content-Location; `GET [base]/$reindex-status?job=ID`
returns the job's state and progress as Parameters.
"""

from __future__ import annotations

from typing import Any

from ember.access import AccessContext
from ember.fhir.model import resource_types
from ember.fhir.outcome import Issue, error, operation_outcome
from ember.interactions.request import FhirRequest, FhirResponse
from ember.jobs import reindex
from ember.store.base import Job, Store


async def handle(ctx: AccessContext, request: FhirRequest, store: Store) -> FhirResponse:
    types = [request.resource_type] if request.resource_type else sorted(resource_types())
    async with store.transaction() as tx:
        job_id = await tx.enqueue(reindex.KIND, {"types": types})
    status_url = f"{request.base_url}/$reindex-status?job={job_id}"
    outcome = operation_outcome([Issue("informational", f"Reindex job {job_id} queued", "information")])
    return FhirResponse(202, resource=outcome, headers={"content-location": status_url})


async def status(ctx: AccessContext, request: FhirRequest, store: Store) -> FhirResponse:
    job_text = request.param("job") or ""
    if not job_text.isdigit():
        raise error(400, "required", "$reindex-status needs ?job=ID (the Content-Location of $reindex)", "job")
    async with store.transaction() as tx:
        job = await tx.get_job(int(job_text))
    if job is None or job.kind != reindex.KIND:
        raise error(404, "not-found", f"No reindex job {job_text[:20]}")
    return FhirResponse(200, resource=_parameters(job))


def _parameters(job: Job) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {"name": "job", "valueInteger": job.id},
        {"name": "status", "valueCode": job.state},
        {"name": "types", "valueInteger": len(job.payload.get("types", []))},
    ]
    done = (job.result or job.progress or {}).get("reindexed")
    if done is not None:
        parameters.append({"name": "reindexed", "valueInteger": done})
    if job.error:
        parameters.append({"name": "error", "valueString": job.error})
    return {"resourceType": "Parameters", "parameter": parameters}
