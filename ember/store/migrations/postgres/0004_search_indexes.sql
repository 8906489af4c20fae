-- Search index tables (see ember/store/index_tables.py): rows of current, not deleted versions,
-- replaced whenever a resource gets a new version. `grp` ties the parts of one composite value
-- together (0 for plain rows). The `_resource` indexes serve deletes and, covering, sort keys.
-- Databases created before this migration need POST [base]/$reindex.
DROP TABLE token_index;
CREATE TABLE token_index (
    resource_type TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL,
    system TEXT COLLATE "C" NOT NULL, code TEXT COLLATE "C" NOT NULL, grp INTEGER NOT NULL
);
CREATE INDEX token_index_lookup ON token_index (resource_type, param, code, system);
CREATE INDEX token_index_resource ON token_index (resource_type, id, param, code);

CREATE TABLE string_index (
    resource_type TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL,
    value TEXT COLLATE "C" NOT NULL, exact TEXT COLLATE "C" NOT NULL, grp INTEGER NOT NULL
);
CREATE INDEX string_index_lookup ON string_index (resource_type, param, value);
CREATE INDEX string_index_resource ON string_index (resource_type, id, param, value);

CREATE TABLE number_index (
    resource_type TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL,
    low DOUBLE PRECISION NOT NULL, high DOUBLE PRECISION NOT NULL, grp INTEGER NOT NULL
);
CREATE INDEX number_index_lookup ON number_index (resource_type, param, low);
CREATE INDEX number_index_resource ON number_index (resource_type, id, param, low, high);

CREATE TABLE date_index (
    resource_type TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL,
    low BIGINT NOT NULL, high BIGINT NOT NULL, grp INTEGER NOT NULL
);
CREATE INDEX date_index_low ON date_index (resource_type, param, low);
CREATE INDEX date_index_high ON date_index (resource_type, param, high);
CREATE INDEX date_index_resource ON date_index (resource_type, id, param, low, high);

CREATE TABLE quantity_index (
    resource_type TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL,
    system TEXT COLLATE "C" NOT NULL, code TEXT COLLATE "C" NOT NULL, low DOUBLE PRECISION NOT NULL, high DOUBLE PRECISION NOT NULL,
    canonical_code TEXT COLLATE "C" NOT NULL, canonical_low DOUBLE PRECISION NOT NULL, canonical_high DOUBLE PRECISION NOT NULL,
    grp INTEGER NOT NULL
);
CREATE INDEX quantity_index_lookup ON quantity_index (resource_type, param, canonical_code, canonical_low);
CREATE INDEX quantity_index_resource ON quantity_index (resource_type, id, param, canonical_low);

CREATE TABLE reference_index (
    resource_type TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL,
    target_type TEXT COLLATE "C", target_id TEXT COLLATE "C", url TEXT COLLATE "C", version TEXT COLLATE "C", grp INTEGER NOT NULL
);
CREATE INDEX reference_index_target ON reference_index (resource_type, param, target_id, target_type);
CREATE INDEX reference_index_url ON reference_index (resource_type, param, url) WHERE url IS NOT NULL;
CREATE INDEX reference_index_resource ON reference_index (resource_type, id, param, target_id);

CREATE TABLE uri_index (
    resource_type TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL,
    uri TEXT COLLATE "C" NOT NULL, grp INTEGER NOT NULL
);
CREATE INDEX uri_index_lookup ON uri_index (resource_type, param, uri);
CREATE INDEX uri_index_resource ON uri_index (resource_type, id, param, uri);

CREATE TABLE text_index (
    resource_type TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL,
    value TEXT COLLATE "C" NOT NULL, grp INTEGER NOT NULL
);
CREATE INDEX text_index_resource ON text_index (resource_type, id);
