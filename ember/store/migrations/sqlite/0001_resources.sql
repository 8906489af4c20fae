-- Every version of every resource; seq orders history globally and pages it by keyset.
CREATE TABLE resource_version (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    resource_type TEXT    NOT NULL,
    id            TEXT    NOT NULL,
    version       INTEGER NOT NULL,
    last_updated  TEXT    NOT NULL,
    deleted       INTEGER NOT NULL,
    body          BLOB    NOT NULL,
    UNIQUE (resource_type, id, version)
);
CREATE INDEX resource_version_type_seq ON resource_version (resource_type, seq);
CREATE INDEX resource_version_last_updated ON resource_version (last_updated);

-- The current version of each resource, so a read is one primary-key lookup.
CREATE TABLE resource (
    resource_type TEXT    NOT NULL,
    id            TEXT    NOT NULL,
    version       INTEGER NOT NULL,
    last_updated  TEXT    NOT NULL,
    deleted       INTEGER NOT NULL,
    body          BLOB    NOT NULL,
    PRIMARY KEY (resource_type, id)
) WITHOUT ROWID;

-- Token index of current versions (identifiers for now), for conditional operations.
CREATE TABLE token_index (
    resource_type TEXT NOT NULL,
    id            TEXT NOT NULL,
    param         TEXT NOT NULL,
    system        TEXT NOT NULL,
    code          TEXT NOT NULL
);
CREATE INDEX token_index_lookup ON token_index (resource_type, param, code, system);
CREATE INDEX token_index_resource ON token_index (resource_type, id);
