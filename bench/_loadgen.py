"""HTTP load for the benchmarks: wrk when it is installed, a small asyncio client otherwise.

The server under test has 2 cores and shares them with the load generator, so the generator must
cost as little CPU per request as possible: wrk (C, one thread, keep-alive) costs a fraction of
any Python client. The fallback speaks HTTP/1.1 on raw asyncio sockets (no client library, which
would cost several times more per request) and is reported as such beside the figures, since it
takes a larger share of the machine and lowers what the server can show.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

FHIR_JSON = "application/fhir+json"


@dataclass(frozen=True)
class LoadPlan:
    """What each connection sends, over and over: `method` on each path in turn, with `body`."""

    method: str
    paths: list[str]
    body: bytes = b""


@dataclass(frozen=True)
class LoadResult:
    tool: str
    requests: int
    failures: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def tool_name() -> str:
    return "wrk" if shutil.which("wrk") else "python-asyncio"


def run_load(host: str, port: int, plan: LoadPlan, connections: int, seconds: float) -> LoadResult:
    """Keep `connections` keep-alive connections busy with `plan` for `seconds`."""
    if shutil.which("wrk"):
        return _run_wrk(host, port, plan, connections, seconds)
    return asyncio.run(_run_asyncio(host, port, plan, connections, seconds))


# --- wrk -------------------------------------------------------------------------------------

_WRK_SCRIPT = """
local paths = {}
for line in io.lines([==[%(paths)s]==]) do paths[#paths + 1] = line end
local method = "%(method)s"
local body = %(body)s
local headers = {["Content-Type"] = "%(content_type)s"}
local position = 0
function request()
  position = position %% #paths + 1
  return wrk.format(method, paths[position], headers, body)
end
"""

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _run_wrk(host: str, port: int, plan: LoadPlan, connections: int, seconds: float) -> LoadResult:
    with tempfile.TemporaryDirectory(prefix="ember-wrk-") as directory:
        paths_file = Path(directory) / "paths.txt"
        paths_file.write_text("\n".join(plan.paths) + "\n")
        body = f"[==[{plan.body.decode()}]==]" if plan.body else "nil"
        script = Path(directory) / "plan.lua"
        script.write_text(
            _WRK_SCRIPT
            % {
                "paths": paths_file,
                "method": plan.method,
                "body": body,
                "content_type": FHIR_JSON,
            }
        )
        # One thread: a single wrk thread saturates this server, and a second one only takes
        # CPU away from it.
        command = [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--latency",
            "--timeout",
            "5s",
            "-s",
            str(script),
            f"http://{host}:{port}",
        ]
        output = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 30).stdout
    return _parse_wrk(output)


def _parse_wrk(output: str) -> LoadResult:
    done = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", output)
    if not done:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    elapsed = float(done.group(2)) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[done.group(3)]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    failures = int(non_2xx.group(1)) if non_2xx else 0
    if socket_errors:
        failures += sum(int(count) for count in socket_errors.groups())

    def percentile(label: str) -> float:
        found = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
        return float(found.group(1)) * _UNITS_MS[found.group(2)] if found else float("nan")

    return LoadResult("wrk", int(done.group(1)), failures, elapsed, percentile("50"), percentile("99"))


# --- asyncio fallback ------------------------------------------------------------------------


class HttpConnection:
    """One keep-alive HTTP/1.1 connection that sends pre-built requests and reads whole answers."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    @classmethod
    async def open(cls, host: str, port: int) -> HttpConnection:
        reader, writer = await asyncio.open_connection(host, port, limit=1 << 22)
        return cls(reader, writer)

    async def send(self, raw_request: bytes) -> tuple[int, bytes]:
        """The status and body of the answer to `raw_request` (see `build_request`)."""
        self._writer.write(raw_request)
        head = await self._reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        headers = head.lower()
        length = re.search(rb"\r\ncontent-length:\s*(\d+)", headers)
        if length:
            return status, await self._reader.readexactly(int(length.group(1)))
        if b"transfer-encoding: chunked" in headers:
            return status, await self._read_chunked()
        return status, b""

    async def _read_chunked(self) -> bytes:
        chunks = []
        while True:
            size = int((await self._reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunks.append(await self._reader.readexactly(size + 2))
            if size == 0:
                return b"".join(chunk[:-2] for chunk in chunks)

    async def close(self) -> None:
        self._writer.close()
        await self._writer.wait_closed()

    @property
    def local_port(self) -> int:
        return int(self._writer.get_extra_info("sockname")[1])


async def spread_connections(
    host: str, port: int, count: int, workers: int, owner: Callable[[int], int | None]
) -> list[HttpConnection]:
    """`count` keep-alive connections, as evenly spread over the server's `workers` as possible.

    The kernel hands each new connection to one worker's listening socket (SO_REUSEPORT, by a
    hash of the addresses) and it stays there: of a handful of connections, all can land on
    one worker (seen with 3 and with 6), and the benchmark then measures one core. Each
    connection is asked for `/healthz`, so a worker has accepted it, and `owner` (the worker
    holding a connection, by the connection's local port) says whose it is; a connection to a
    worker that already has its share is closed and another opened, a bounded number of times."""
    share = -(-count // workers)
    kept: list[HttpConnection] = []
    per_worker: dict[int | None, int] = {}
    probe = build_request(host, port, "GET", "/healthz")
    for _ in range(count * 20):
        if len(kept) == count:
            break
        connection = await HttpConnection.open(host, port)
        await connection.send(probe)
        worker = owner(connection.local_port)
        if per_worker.get(worker, 0) < share:
            per_worker[worker] = per_worker.get(worker, 0) + 1
            kept.append(connection)
        else:
            await connection.close()
    while len(kept) < count:  # unlucky: take what comes
        kept.append(await HttpConnection.open(host, port))
    return kept


def build_request(host: str, port: int, method: str, path: str, body: bytes = b"") -> bytes:
    """The bytes of one request, built once so the load loop only writes them."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", f"Accept: {FHIR_JSON}"]
    if body or method in ("POST", "PUT"):
        lines += [f"Content-Type: {FHIR_JSON}", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _run_asyncio(host: str, port: int, plan: LoadPlan, connections: int, seconds: float) -> LoadResult:
    requests = [build_request(host, port, plan.method, path, plan.body) for path in plan.paths]
    latencies: list[float] = []
    failures = 0
    start = time.perf_counter()
    deadline = start + seconds

    async def connection_loop(offset: int) -> None:
        nonlocal failures
        connection = await HttpConnection.open(host, port)
        position = offset
        try:
            while (sent := time.perf_counter()) < deadline:
                status, _ = await connection.send(requests[position % len(requests)])
                latencies.append(time.perf_counter() - sent)
                failures += not 200 <= status < 300
                position += 1
        finally:
            await connection.close()

    await asyncio.gather(*(connection_loop(index * 7919) for index in range(connections)))
    elapsed = time.perf_counter() - start
    latencies.sort()
    return LoadResult(
        "python-asyncio",
        len(latencies),
        failures,
        elapsed,
        _percentile(latencies, 0.50) * 1000,
        _percentile(latencies, 0.99) * 1000,
    )


def _percentile(ordered: list[float], fraction: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]
