"""The benchmarks' client connections are spread evenly over the server's workers: left to the
kernel's SO_REUSEPORT hash, every connection of a run could land on one worker."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest

from bench._loadgen import spread_connections
from bench._server import ember_server


@pytest.mark.slow
def test_connections_are_spread_evenly_over_the_workers(tmp_path: Path) -> None:
    with ember_server(f"sqlite:///{tmp_path / 'spread.db'}", 2, tmp_path / "server.log") as server:

        async def owners() -> Counter[int | None]:
            connections = await spread_connections(server.host, server.port, 6, server.workers, server.connection_owner)
            try:
                return Counter(server.connection_owner(connection.local_port) for connection in connections)
            finally:
                for connection in connections:
                    await connection.close()

        per_worker = asyncio.run(owners())
    assert sorted(per_worker.values()) == [3, 3] and None not in per_worker
