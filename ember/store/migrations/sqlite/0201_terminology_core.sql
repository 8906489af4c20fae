-- The R4 core code systems and value sets as the terminology service cached them in this database
-- at start-up (ember/terminology/core/stored.py; SQL in ember/store/terminology_index.py): one row
-- per resource, its compact JSON (no narrative) in body. Their is-a hierarchies are in
-- terminology_closure beside users' code systems. The record kind 'terminology-core', key 'loaded',
-- names the digest of the generated file they came from, so an upgraded package reloads them once.
CREATE TABLE terminology_core (
    resource_type TEXT NOT NULL,
    url           TEXT NOT NULL,
    version       TEXT,
    body          TEXT NOT NULL,
    PRIMARY KEY (resource_type, url)
);
