"""The statements a SQLite write runs: many rows per statement, and key lookups that search the
(resource_type, id) key (a row-value IN list made SQLite scan the whole resource table on
every write)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from ember.store.base import NewVersion
from ember.store.sqlite import _CURRENT_VERSIONS_SQL, SqliteStore, _values_list
from tests.backends import opened

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_current_versions_search_the_key(tmp_path: Path) -> None:
    sql = _CURRENT_VERSIONS_SQL.format(keys=_values_list(2, 3))
    async with opened(SqliteStore(str(tmp_path / "ember.db"))) as store:
        explained = await store.on_writer(lambda c: c.execute(f"EXPLAIN QUERY PLAN {sql}", ["T", "a"] * 3).fetchall())
    steps = [row[3] for row in explained]
    assert [step for step in steps if step.startswith("SEARCH r USING") and "(resource_type=? AND id=?)" in step], steps
    assert not [step for step in steps if step in ("SCAN r", "SCAN resource")], steps


async def test_writes_larger_than_one_statement_keep_every_row(tmp_path: Path) -> None:
    async with opened(SqliteStore(str(tmp_path / "ember.db"))) as store:
        moment = datetime.now(UTC)
        index = {"token": [("identifier", "http://x", f"v{n}", 0) for n in range(3)]}

        def basic(n: int, version: int, expected: int) -> NewVersion:
            body = b'{"resourceType":"Basic","id":"b%d"}' % n
            return NewVersion("Basic", f"b{n}", version, moment, False, body, expected, index)

        async with store.transaction() as tx:
            await tx.write([basic(n, 1, 0) for n in range(150)])
        async with store.transaction() as tx:  # 150 updates: every key found, old rows replaced
            await tx.write([basic(n, 2, 1) for n in range(150)])
            current = await tx.current([("Basic", f"b{n}") for n in range(150)])
        assert {stored.version for stored in current.values()} == {2} and len(current) == 150
        rows = store.on_writer  # the writer connection, read outside any transaction
        count = await rows(lambda c: c.execute("SELECT count(*) FROM token_index").fetchone()[0])
        versions = await rows(lambda c: c.execute("SELECT count(*) FROM resource_version").fetchone()[0])
        assert (count, versions) == (450, 300)
