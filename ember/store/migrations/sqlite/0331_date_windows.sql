-- Date windows (ember/store/range_driver.py, docs/search.md#how-it-works). A range on a date
-- parameter with one value per resource reads the rows whose `low` lies in a window, from
-- date_index_low alone: the index now holds `high` and the id too. `date_shape` keeps, per type
-- and parameter, the widest span (high - low) of a row and the most rows of one resource; every
-- write widens it (ember/store/sqlite.py), and nothing narrows it, so a window computed from it
-- never leaves a match out.
DROP INDEX date_index_low;
CREATE INDEX date_index_low ON date_index (resource_type, param, low, high, id);
CREATE TABLE date_shape (
    resource_type TEXT    NOT NULL,
    param         TEXT    NOT NULL,
    max_span      INTEGER NOT NULL,
    max_values    INTEGER NOT NULL,
    PRIMARY KEY (resource_type, param)
) WITHOUT ROWID;
INSERT INTO date_shape (resource_type, param, max_span, max_values)
    SELECT resource_type, param, max(span), max(n_values)
    FROM (
        SELECT resource_type, param, max(high - low) AS span, count(*) AS n_values
        FROM date_index GROUP BY resource_type, id, param
    )
    GROUP BY resource_type, param;
-- Dropping an index drops its statistics row: the figures of 0300, then one row per high and id.
INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES
    ('date_index', 'date_index_low', '480000 28000 14000 25 25 1');
ANALYZE sqlite_schema;
