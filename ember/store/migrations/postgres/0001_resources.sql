-- Every version ever written, in one global order (seq) used by history and its keyset cursor.
CREATE TABLE resource_version (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    resource_type TEXT        NOT NULL,
    id            TEXT        NOT NULL,
    version       INTEGER     NOT NULL,
    last_updated  TIMESTAMPTZ NOT NULL,
    deleted       BOOLEAN     NOT NULL,
    body          BYTEA       NOT NULL,
    CONSTRAINT resource_version_key UNIQUE (resource_type, id, version)
);

-- Type history walks one type newest first; system history uses the primary key.
CREATE INDEX resource_version_type_seq ON resource_version (resource_type, seq);
-- _since / _at on large histories.
CREATE INDEX resource_version_last_updated ON resource_version (last_updated);

-- The current version of each resource, so a read is one primary-key lookup and the
-- optimistic-concurrency check of a write is one row lock.
CREATE TABLE resource (
    resource_type TEXT        NOT NULL,
    id            TEXT        NOT NULL,
    version       INTEGER     NOT NULL,
    last_updated  TIMESTAMPTZ NOT NULL,
    deleted       BOOLEAN     NOT NULL,
    body          BYTEA       NOT NULL,
    PRIMARY KEY (resource_type, id)
);
