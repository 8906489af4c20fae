"""SQLite copies the WAL back into the database file on its own thread, not inside a COMMIT."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ember.store.base import NewVersion
from ember.store.sqlite import SqliteStore

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_committed_pages_reach_the_database_file_without_another_write(tmp_path: Path) -> None:
    path = str(tmp_path / "ember.db")
    store = SqliteStore(path)
    await store.open()
    try:
        await asyncio.sleep(1.5)  # the migrations' pages are checkpointed first
        before = os.path.getsize(path)
        moment = datetime.now(UTC)
        body = b'{"resourceType":"Basic","text":"' + b"x" * 3000 + b'"}'
        async with store.transaction() as tx:
            await tx.write([NewVersion("Basic", f"b{n}", 1, moment, False, body, 0, {}) for n in range(300)])
        assert os.path.getsize(path) == before  # COMMIT wrote only the WAL
        for _ in range(40):
            await asyncio.sleep(0.1)
            if os.path.getsize(path) > before + 300 * 3000:
                break
        assert os.path.getsize(path) > before + 300 * 3000
    finally:
        await store.close()
