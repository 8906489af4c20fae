"""Run `ember serve` as a child process on a scratch database, for benchmarks.

The server is started in its own session (process group) so that a Ctrl-C meant for the
benchmark does not reach it half-way, and so that stopping it also stops granian's worker
processes: the whole group is signalled, never just the parent.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg

ADMIN_URL = os.environ.get("EMBER_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
SCRATCH_PREFIX = "ember_bench_"
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 5.0


@dataclass(frozen=True)
class RunningServer:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    workers: int

    @property
    def host(self) -> str:
        return "127.0.0.1"

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the server's process group: the parent and
        its workers, SQLite included (it runs inside them)."""
        return group_cpu_seconds(self.process.pid)

    def connection_owner(self, client_port: int) -> int | None:
        """The pid of the worker that accepted the connection from local port `client_port`
        (from /proc: the server-side socket's inode, then the worker holding it), or None while
        no worker has accepted it yet."""
        inode = _socket_inode(self.port, client_port)
        if not inode:
            return None
        for entry, _ in _group_processes(self.process.pid):
            with contextlib.suppress(OSError):
                if any(os.readlink(fd) == f"socket:[{inode}]" for fd in (entry / "fd").iterdir()):
                    return int(entry.name)
        return None


def group_cpu_seconds(group: int) -> float:
    """User + system CPU seconds of the live processes of process group `group` (from /proc)."""
    # Fields after the command name: state, ppid, pgrp, ..., utime (12th), stime (13th).
    ticks = sum(int(fields[11]) + int(fields[12]) for _, fields in _group_processes(group))
    return ticks / os.sysconf("SC_CLK_TCK")


def _group_processes(group: int) -> Iterator[tuple[Path, list[str]]]:
    """(/proc entry, stat fields after the command name) of each live process of `group`."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended while we looked
        if int(fields[2]) == group:
            yield entry, fields


def _socket_inode(server_port: int, client_port: int) -> int:
    """The inode of the server side of a loopback TCP connection (0 when not found)."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = fields[1].rsplit(":", 1)[1], fields[2].rsplit(":", 1)[1]
        if int(local, 16) == server_port and int(remote, 16) == client_port:
            return int(fields[9])
    return 0


def free_port() -> int:
    """A loopback port nobody listens on right now (the kernel picks it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def ember_server(database_url: str, workers: int, log_path: Path, *, auth: bool = False) -> Iterator[RunningServer]:
    """`ember serve` on a free loopback port, ready to answer; stopped (whole group) on exit.
    Without `auth` it runs with --no-auth (benchmarks measure the FHIR path, not tokens)."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "ember",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--database",
        database_url,
        "--workers",
        str(workers),
        *(() if auth else ("--no-auth",)),
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    server = RunningServer(process, port, log_path, workers)
    try:
        _wait_ready(server)
        yield server
    finally:
        stop_group(process)


def _wait_ready(server: RunningServer) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    url = f"http://{server.host}:{server.port}/readyz"
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"ember serve exited with {server.process.returncode}:\n{server.log_tail()}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"ember serve was not ready within {READY_TIMEOUT:.0f} s:\n{server.log_tail()}")


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group, then SIGKILL whatever is left after STOP_TIMEOUT."""
    for sig, wait in ((signal.SIGTERM, STOP_TIMEOUT), (signal.SIGKILL, STOP_TIMEOUT)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        # The parent is gone; make sure no worker outlived it.
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return


@contextmanager
def scratch_database(backend: str, directory: Path) -> Iterator[str]:
    """The URL of an empty database for `backend`, removed on exit (even on Ctrl-C)."""
    if backend == "sqlite":
        yield f"sqlite:///{directory / 'bench.db'}"
        return
    name = SCRATCH_PREFIX + secrets.token_hex(6)
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        base = ADMIN_URL.rpartition("/")[0]
        yield f"{base}/{name}"
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _admin(statement: str) -> None:
    connection = await asyncpg.connect(ADMIN_URL, timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()
