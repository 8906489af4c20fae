"""Audit: an AuditEvent (FHIR R4, IHE BALP shape) for every read and write of patient data,
every login, token request and refused caller, hash-chained so tampering shows. See
docs/audit-and-consent.md.

The modules, and the hooks the choke points call (nothing else needs to):

* outbox.py: `record_writes(ctx, transaction, versions)`, called by `write_versions` in the
  writer's transaction; `READ_BUFFER`, the in-memory buffer of every other record (the app's
  lifespan runs `READ_BUFFER.run(store)` and flushes it at shutdown); `KIND`, the outbox job kind.
* hooks.py: `request_done` / `request_failed` (the dispatcher), `auth_event` (the authorization
  server and the edge, with records from records.py's `auth_record`).
* chain.py: `run`, the job handler that writes the hash-chained AuditEvents (events.py gives
  their shape, patients.py their patients).
* verify.py: `verify(store)`, behind `ember audit verify`.

This package imports nothing at load time: `write_versions` imports outbox.py, and chain.py
imports `write_versions`.
"""
