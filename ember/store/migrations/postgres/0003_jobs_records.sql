-- The durable job table (outbox): background work and deliveries that must survive restarts.
-- Times are epoch seconds; payload, progress and result are JSON text.
CREATE TABLE job (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        TEXT             NOT NULL,
    job_key     TEXT,
    payload     TEXT             NOT NULL,
    state       TEXT             NOT NULL,
    attempts    INTEGER          NOT NULL,
    run_after   DOUBLE PRECISION NOT NULL,
    lease_until DOUBLE PRECISION,
    worker      TEXT,
    progress    TEXT,
    result      TEXT,
    error       TEXT,
    created     DOUBLE PRECISION NOT NULL,
    updated     DOUBLE PRECISION NOT NULL
);
-- Producers pass a key to be idempotent; NULL keys never collide.
CREATE UNIQUE INDEX job_kind_key ON job (kind, job_key);
CREATE INDEX job_due ON job (state, run_after);

-- Small JSON documents that are not FHIR resources (OAuth clients and codes, message ids...).
CREATE TABLE record (
    kind       TEXT NOT NULL,
    record_key TEXT NOT NULL,
    value      TEXT NOT NULL,
    expires_at DOUBLE PRECISION,
    PRIMARY KEY (kind, record_key)
);
