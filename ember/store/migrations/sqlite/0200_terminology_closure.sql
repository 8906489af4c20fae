-- Transitive closure of every stored code system's is-a hierarchy (ember/store/terminology_index.py):
-- one row per (ancestor, descendant) pair, each code also paired with itself, so `:below`/`:above`
-- searches and is-a filters are one indexed lookup instead of a tree walk.
CREATE TABLE terminology_closure (
    system     TEXT NOT NULL,
    ancestor   TEXT NOT NULL,
    descendant TEXT NOT NULL,
    PRIMARY KEY (system, ancestor, descendant)
);
CREATE INDEX terminology_closure_up ON terminology_closure (system, descendant);
