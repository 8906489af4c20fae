"""How fast `Transaction.write()` stores resource versions, next to the raw ceiling.

Writes batches of 300 new resources with Synthea-sized bodies (~1.5 KB), one transaction per
batch, on a throwaway database; the methods take turns for a few rounds (median and best are
printed, since a shared machine is noisy):
  - PostgreSQL: store write (1 and 4 concurrent writers) vs asyncpg COPY of the same rows into
    both tables (no version check: the ceiling);
  - SQLite: store write vs sqlite3 executemany of the same rows into both tables in one
    transaction, same synchronous=FULL setting (the ceiling).
Durability is the default everywhere (fsync on commit).

    .venv/bin/python -m bench.store_write [--seconds 6] [--rounds 3] [--batch 300] [--backends postgres sqlite]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from ember.store.base import NewVersion, Store
from ember.store.postgres import PostgresStore
from ember.store.sqlite import SqliteStore, format_instant

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
COLUMNS = ["resource_type", "id", "version", "last_updated", "deleted", "body"]
Row = tuple[str, str, int, datetime, bool, bytes]


def body_template(size: int) -> bytes:
    """A Patient-shaped JSON body of about `size` bytes with an `{ID}` slot."""
    head = (
        b'{"resourceType":"Patient","id":"{ID}","meta":{"versionId":"1",'
        b'"lastUpdated":"2024-03-01T12:00:00.000Z"},"name":[{"use":"official",'
        b'"family":"Abbott","given":["Lena"]}],"gender":"female","birthDate":"1969-04-12",'
        b'"text":{"status":"generated","div":"'
    )
    tail = b'"}}'
    return head + b"x" * max(0, size - len(head) - len(tail)) + tail


def make_batch(template: bytes, size: int) -> list[Row]:
    now = datetime.now(UTC)
    ids = [secrets.token_hex(16) for _ in range(size)]
    return [("Patient", i, 1, now, False, template.replace(b"{ID}", i.encode())) for i in ids]


async def rate(write_batch: Callable[[], Awaitable[int]], seconds: float, writers: int = 1) -> float:
    """Rows per second that `writers` tasks calling `write_batch` in a loop achieve."""
    deadline = time.perf_counter() + seconds

    async def loop() -> int:
        rows = 0
        while time.perf_counter() < deadline:
            rows += await write_batch()
        return rows

    start = time.perf_counter()
    total = sum(await asyncio.gather(*(loop() for _ in range(writers))))
    return total / (time.perf_counter() - start)


def store_writer(store: Store, template: bytes, size: int) -> Callable[[], Awaitable[int]]:
    async def write_batch() -> int:
        versions = [NewVersion(*row, expected_version=0) for row in make_batch(template, size)]
        async with store.transaction() as tx:
            await tx.write(versions)
        return size

    return write_batch


Method = tuple[str, Callable[[], Awaitable[int]], int]


async def measure(methods: list[Method], seconds: float, rounds: int) -> list[tuple[str, float, float]]:
    """(label, median, best) rows/s of each method, the methods taking turns round after round
    so that table growth and the load of a shared machine hit them alike."""
    samples: dict[str, list[float]] = {label: [] for label, _, _ in methods}
    for _ in range(rounds):
        for label, write_batch, writers in methods:
            samples[label].append(await rate(write_batch, seconds / rounds, writers))
    return [(label, statistics.median(values), max(values)) for label, values in samples.items()]


async def bench_postgres(seconds: float, rounds: int, template: bytes, size: int) -> list[tuple[str, float, float]]:
    name = "ember_bench_" + secrets.token_hex(4)
    admin = await asyncpg.connect(ADMIN_URL)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = ADMIN_URL.rpartition("/")[0] + "/" + name
    store = PostgresStore(url, max_size=4)
    try:
        await store.open()
        connection = await asyncpg.connect(url)

        async def copy_batch() -> int:
            rows = make_batch(template, size)
            async with connection.transaction():
                await connection.copy_records_to_table("resource_version", records=rows, columns=COLUMNS)
                await connection.copy_records_to_table("resource", records=rows, columns=COLUMNS)
            return size

        write_batch = store_writer(store, template, size)
        methods = [
            ("postgres  store write(), 1 writer", write_batch, 1),
            ("postgres  store write(), 4 writers", write_batch, 4),
            ("postgres  raw COPY, both tables (ceiling)", copy_batch, 1),
        ]
        try:
            return await measure(methods, seconds, rounds)
        finally:
            await connection.close()
    finally:
        await store.close()
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


async def bench_sqlite(seconds: float, rounds: int, template: bytes, size: int) -> list[tuple[str, float, float]]:
    with tempfile.TemporaryDirectory() as directory:
        path = str(Path(directory) / "bench.db")
        store = SqliteStore(path)
        await store.open()
        connection = sqlite3.connect(path, isolation_level=None)
        connection.execute("PRAGMA busy_timeout = 30000")
        connection.execute("PRAGMA synchronous = FULL")
        placeholders = ", ".join("?" * len(COLUMNS))

        async def insert_batch() -> int:
            rows = [(t, i, v, format_instant(u), int(d), b) for t, i, v, u, d, b in make_batch(template, size)]
            connection.execute("BEGIN IMMEDIATE")
            for table in ("resource_version", "resource"):
                connection.executemany(f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES ({placeholders})", rows)
            connection.execute("COMMIT")
            return size

        methods = [
            ("sqlite    store write(), 1 writer", store_writer(store, template, size), 1),
            ("sqlite    raw executemany, both tables (ceiling)", insert_batch, 1),
        ]
        try:
            return await measure(methods, seconds, rounds)
        finally:
            connection.close()
            await store.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="time spent on each row of the table")
    parser.add_argument("--rounds", type=int, default=3, help="turns the methods take, for median and best")
    parser.add_argument("--batch", type=int, default=300, help="versions per write()")
    parser.add_argument("--body-size", type=int, default=1500, help="bytes per body")
    parser.add_argument("--backends", nargs="+", default=["postgres", "sqlite"], choices=["postgres", "sqlite"])
    args = parser.parse_args()
    template = body_template(args.body_size)
    results: list[tuple[str, float, float]] = []
    if "postgres" in args.backends:
        results += await bench_postgres(args.seconds, args.rounds, template, args.batch)
    if "sqlite" in args.backends:
        results += await bench_sqlite(args.seconds, args.rounds, template, args.batch)
    print(
        f"batches of {args.batch} new versions, {len(template)}-byte bodies, {args.rounds} rounds of {args.seconds:g} s"
    )
    print(f"{'versions/s':<50} {'median':>10} {'best':>10}")
    for label, median, best in results:
        print(f"{label:<50} {median:>10,.0f} {best:>10,.0f}")


if __name__ == "__main__":
    asyncio.run(main())
