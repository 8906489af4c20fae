-- Equality lookups in id order (docs/search.md#how-it-works). A page is in (type, id) order, and
-- SQLite has no statistics of values to tell a code on 10% of Observations from a rare one: with
-- rows of one code and system in insertion order it collected and sorted every match (30 ms for
-- the first page of a common code at 300,000 resources, growing with the data). Ending the token
-- and reference lookup indexes in the id makes the first page, and any `next` page from its
-- cursor, a walk of 51 index entries whatever the value's frequency. Server-assigned ids grow
-- with time (UUIDv7), so new rows still go to the end of their value's range: the write cost
-- did not change measurably (WAL pages per resource at 300,000 resources).
DROP INDEX token_index_lookup;
CREATE INDEX token_index_lookup ON token_index (resource_type, param, code, system, id);
DROP INDEX reference_index_target;
CREATE INDEX reference_index_target ON reference_index (resource_type, param, target_id, target_type, id);
-- Dropping an index drops its statistics row: the figures of 0300, and one row per id.
INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES
    ('token_index', 'token_index_lookup', '2400000 140000 26000 100 95 1'),
    ('reference_index', 'reference_index_target', '1000000 72000 22000 3 3 1');
ANALYZE sqlite_schema;
