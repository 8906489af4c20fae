-- Statistics for SQLite's query planner (docs/search.md#how-it-works). With none, SQLite takes
-- `resource_type = ?` for a handful of rows, so a search page walked every index row of a type
-- in id order to find one patient's Observations (2 ms became 40 ms at 230,000 resources) or one
-- identifier. These rows describe the shape of typical data (rows per type, per parameter, per
-- value and per resource, measured on 230,000 Synthea resources), not this database's contents:
-- plans stay the same as it grows, and an ANALYZE replaces them with its own.
ANALYZE sqlite_schema;
DELETE FROM sqlite_stat1;
INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES
    ('resource', 'resource', '230000 14000 1'),
    ('token_index', 'token_index_lookup', '2400000 140000 26000 100 95'),
    ('token_index', 'token_index_resource', '2400000 140000 11 2 2'),
    ('string_index', 'string_index_lookup', '1400000 100000 28000 160'),
    ('string_index', 'string_index_resource', '1400000 100000 8 3 3'),
    ('number_index', 'number_index_lookup', '100000 10000 5000 10'),
    ('number_index', 'number_index_resource', '100000 10000 2 1 1 1'),
    ('date_index', 'date_index_low', '480000 28000 14000 25'),
    ('date_index', 'date_index_high', '480000 28000 14000 25'),
    ('date_index', 'date_index_resource', '480000 28000 3 1 1 1'),
    ('quantity_index', 'quantity_index_lookup', '480000 480000 80000 11000 200'),
    ('quantity_index', 'quantity_index_resource', '480000 480000 5 2 1'),
    ('reference_index', 'reference_index_target', '1000000 72000 22000 3 3'),
    ('reference_index', 'reference_index_resource', '1000000 72000 5 2 1'),
    ('uri_index', 'uri_index_lookup', '100000 10000 5000 100'),
    ('uri_index', 'uri_index_resource', '100000 10000 2 1 1'),
    ('text_index', 'text_index_resource', '240000 14000 1');
ANALYZE sqlite_schema;
