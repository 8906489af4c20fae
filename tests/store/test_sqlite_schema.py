"""SQLite schema changes keep what a database already holds, and its planner statistics
describe every index the searches rely on."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ember.access import AccessContext
from ember.store.access_rules import AccessRules
from ember.store.migrations import migration_scripts
from ember.store.search_parse import parse_parameter
from ember.store.search_query import SearchQuery
from ember.store.search_sql import SearchSql
from ember.store.sqlite import SqliteStore, _statements

pytestmark = pytest.mark.anyio

#: The last migration before the current versions moved to a rowid table (0311).
_BEFORE_ROWID_TABLE = 300


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _database_at(path: Path, last: int) -> None:
    """A database at the schema of the migrations up to `last`, with one stored Patient."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")
    for version, script in migration_scripts("sqlite"):
        if version <= last:
            for statement in _statements(script):
                connection.execute(statement)
            connection.execute("INSERT INTO schema_migrations VALUES (?, datetime('now'))", (version,))
    row = ("Patient", "p1", 2, "2024-03-01T12:00:00.000000+00:00", 0, b'{"resourceType":"Patient","id":"p1"}')
    connection.execute("INSERT INTO resource VALUES (?, ?, ?, ?, ?, ?)", row)
    connection.close()


async def test_current_versions_survive_the_move_to_a_rowid_table(tmp_path: Path) -> None:
    path = tmp_path / "ember.db"
    _database_at(path, _BEFORE_ROWID_TABLE)
    store = SqliteStore(str(path))
    await store.open()
    try:
        found = await store.read(AccessContext.system(), "Patient", "p1")
    finally:
        await store.close()
    assert found is not None
    assert (found.version, found.body, found.last_updated) == (
        2,
        b'{"resourceType":"Patient","id":"p1"}',
        datetime(2024, 3, 1, 12, tzinfo=UTC),
    )
    connection = sqlite3.connect(path)
    (ddl,) = connection.execute("SELECT sql FROM sqlite_schema WHERE name = 'resource'").fetchone()
    assert "WITHOUT ROWID" not in ddl


async def test_every_index_has_planner_statistics(tmp_path: Path) -> None:
    """SQLite plans by the fixed statistics (migrations 0300, 0310, 0311): an index without a row
    would be costed by its defaults, which take a type for a handful of rows."""
    path = tmp_path / "ember.db"
    store = SqliteStore(str(path))
    await store.open()
    await store.close()
    connection = sqlite3.connect(path)
    described = {row[0] for row in connection.execute("SELECT idx FROM sqlite_stat1")}
    indexes = connection.execute(
        "SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL "
        "AND (tbl_name = 'resource' OR tbl_name LIKE '%\\_index' ESCAPE '\\') AND name NOT LIKE '%\\_url' ESCAPE '\\'"
    ).fetchall()
    assert indexes
    assert {name for name, _ in indexes} <= described
    for name, sql in indexes:
        (stat,) = connection.execute("SELECT stat FROM sqlite_stat1 WHERE idx = ?", (name,)).fetchone()
        columns = sql.split("(", 1)[1].count(",") + 1
        assert len(stat.split()) == columns + 1, name  # the row count, then one figure per column


async def test_a_string_pages_keys_come_from_the_lookup_index_alone(tmp_path: Path) -> None:
    """Migration 0330: the id is in string_index_lookup, so a prefix match reads no table row of
    string_index (each was a random read of the file at scale)."""
    path = tmp_path / "ember.db"
    store = SqliteStore(str(path))
    await store.open()
    await store.close()
    condition = parse_parameter("Patient", "name", "koepp")
    builder = SearchSql(lambda n: "?", AccessRules(AccessContext.system()), probes=True)
    sql = builder.page(SearchQuery(("Patient",), (condition,), count=50))
    connection = sqlite3.connect(path)
    plan = [row[3] for row in connection.execute(f"EXPLAIN QUERY PLAN {sql}", builder.params)]
    assert (
        "SEARCH d USING COVERING INDEX string_index_lookup (resource_type=? AND param=? AND value>? AND value<?)"
        in plan
    )


async def test_the_date_shapes_of_an_existing_database_are_measured_on_migration(tmp_path: Path) -> None:
    """Migration 0331 fills `date_shape` from the rows already indexed: the windows of a date
    range rely on it never being narrower than the data."""
    path = tmp_path / "ember.db"
    _database_at(path, 330)
    connection = sqlite3.connect(path, isolation_level=None)
    rows = [
        ("Observation", "o1", "date", 10, 30),
        ("Observation", "o2", "date", 5, 5),
        ("Goal", "g1", "target-date", 1, 1),
    ]
    rows.append(("Goal", "g1", "target-date", 7, 7))
    connection.executemany("INSERT INTO date_index VALUES (?, ?, ?, ?, ?, 0)", rows)
    connection.close()
    store = SqliteStore(str(path))
    await store.open()
    await store.close()
    connection = sqlite3.connect(path)
    shapes = set(connection.execute("SELECT resource_type, param, max_span, max_values FROM date_shape"))
    assert shapes == {("Observation", "date", 20, 1), ("Goal", "target-date", 0, 2)}
