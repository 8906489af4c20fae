"""Background work: one durable job table (the store's outbox) and the runner that drains it.

A new kind of background work is one handler module plus one line in `JOB_HANDLERS`.
"""

from __future__ import annotations

from ember.hl7v2 import delivery, outbound
from ember.jobs import reindex
from ember.jobs.runner import JobFailed, JobHandler, JobRunner

JOB_HANDLERS: dict[str, JobHandler] = {
    reindex.KIND: reindex.run,
    outbound.JOB_KIND: delivery.send_result,
}

__all__ = ["JOB_HANDLERS", "JobFailed", "JobHandler", "JobRunner"]
