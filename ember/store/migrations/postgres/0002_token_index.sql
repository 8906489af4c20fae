-- Token index of current, not deleted versions (identifiers for now), for conditional
-- operations. Rows are replaced whenever their resource gets a new version.
CREATE TABLE token_index (
    resource_type TEXT NOT NULL,
    id            TEXT NOT NULL,
    param         TEXT NOT NULL,
    system        TEXT NOT NULL,
    code          TEXT NOT NULL
);
CREATE INDEX token_index_lookup ON token_index (resource_type, param, code, system);
CREATE INDEX token_index_resource ON token_index (resource_type, id);
