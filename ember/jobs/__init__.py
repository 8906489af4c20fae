"""Background work: one durable job table (the store's outbox) and the runner that drains it.

A new kind of background work is one handler module plus one line in `JOB_HANDLERS` (edge
features such as the HL7 v2 outbound feed register theirs when they are turned on).
"""

from __future__ import annotations

from ember.audit import chain as audit_chain
from ember.audit.outbox import KIND as AUDIT
from ember.jobs import reindex
from ember.jobs.runner import JobFailed, JobHandler, JobRunner

JOB_HANDLERS: dict[str, JobHandler] = {
    reindex.KIND: reindex.run,
    AUDIT: audit_chain.run,
}

__all__ = ["JOB_HANDLERS", "JobFailed", "JobHandler", "JobRunner"]
