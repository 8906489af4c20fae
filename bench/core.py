"""The core benchmark: transaction ingest, create and read on a real `ember serve`, per back end.

For each back end (SQLite file in a temp dir, PostgreSQL scratch database) it starts the server
with N granian workers on a free loopback port and measures, one bounded phase after another:
  - ingest: the smart-synthea transaction bundles POSTed as they are (POST entries get new ids
    each time), by a few concurrent clients whose connections are spread evenly over the
    workers (bench/_loadgen.py, spread_connections), in resources stored per second, after a
    2 s warm-up of the same;
  - create: a small Patient POSTed over 16 connections;
  - read: GET by id over 32 connections, on ids the ingest created, alternating with
  - ceiling: GET /healthz, a trivial JSON route of the same app and workers, same concurrency,
    so `read / ceiling` says how much of the HTTP stack's capacity a FHIR read keeps (the median
    of READ_ROUNDS alternating rounds, since the ceiling itself drifts on a busy machine).
The load generator shares the machine with the server (see bench/_loadgen.py).

    .venv/bin/python -m bench.core [--backend sqlite|postgres|both] [--workers 2] [--duration 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

if __package__ in (None, ""):  # run as `python bench/core.py` (the Makefile does)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._loadgen import (
    HttpConnection,
    LoadPlan,
    LoadResult,
    build_request,
    run_load,
    spread_connections,
    tool_name,
)
from bench._samples import CONFORMANCE
from bench._server import RunningServer, ember_server, scratch_database
from ember.cli.serve import event_loop

SYNTHEA = CONFORMANCE / "synthea/smart-synthea-v2.4"
#: Spread over the workers (see spread_connections): left to the kernel, all 3 connections of a
#: run, and in one run all 6, landed on one worker, and the figure measured one core (py-spy:
#: 312 samples in one worker, 2,043 in the other). Balanced runs ingested the same with 3 or 6
#: (1,546-1,575 and 1,589-1,632 resources/s).
INGEST_CLIENTS = 6
CREATE_CONNECTIONS = 16
READ_CONNECTIONS = 32
#: Ids kept from the ingest responses for the read phase.
READ_IDS = 10_000
#: Upper bound on bundles per ingest phase, whatever the duration.
MAX_BUNDLES = 400
INGEST_TARGET = 3000.0
READ_RATIO_TARGET = 0.60
#: Read and ceiling phases alternate this many times; the table shows the median round, because
#: on a shared 2-core machine the ceiling alone moves by 20% from one phase to the next.
WARMUP_SECONDS = 2.0
READ_ROUNDS = 3
SMALL_PATIENT = (
    b'{"resourceType":"Patient","active":true,"name":[{"family":"Bench","given":["Core"]}],'
    b'"gender":"female","birthDate":"1970-01-01"}'
)
_CREATED = b'"status":"201'
_LOCATION = re.compile(rb'"location":"(?:[^"]*/)?([A-Za-z]+/[A-Za-z0-9.\-]+)/_history/')


@dataclass(frozen=True)
class IngestResult:
    bundles: int
    resources: int
    failures: int
    seconds: float
    created_paths: list[str]

    @property
    def rate(self) -> float:
        return self.resources / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class BackendResult:
    backend: str
    ingest: IngestResult
    create: LoadResult
    read: LoadResult
    ceiling: LoadResult
    round_ratios: list[float]


async def ingest(server: RunningServer, bundles: list[bytes], seconds: float) -> IngestResult:
    """POST the bundles round-robin from INGEST_CLIENTS connections until `seconds` have passed;
    each completed transaction counts the entries it created."""
    requests = [build_request(server.host, server.port, "POST", "/fhir", body) for body in bundles]
    created_paths: list[str] = []
    totals = {"bundles": 0, "resources": 0, "failures": 0}
    connections = await spread_connections(
        server.host, server.port, INGEST_CLIENTS, server.workers, server.connection_owner
    )
    start = time.perf_counter()
    deadline = start + seconds

    async def client(first: int, connection: HttpConnection) -> None:
        position = first
        try:
            while time.perf_counter() < deadline and totals["bundles"] < MAX_BUNDLES:
                status, body = await connection.send(requests[position % len(requests)])
                position += 1
                totals["bundles"] += 1
                if not 200 <= status < 300:
                    totals["failures"] += 1
                    continue
                totals["resources"] += body.count(_CREATED)
                if len(created_paths) < READ_IDS:
                    created_paths.extend(match.decode() for match in _LOCATION.findall(body))
        finally:
            await connection.close()

    await asyncio.gather(*(client(index, connection) for index, connection in enumerate(connections)))
    elapsed = time.perf_counter() - start
    return IngestResult(totals["bundles"], totals["resources"], totals["failures"], elapsed, created_paths)


def measure(backend: str, workers: int, seconds: float, bundles: list[bytes]) -> BackendResult:
    with (
        tempfile.TemporaryDirectory(prefix="ember-bench-") as directory,
        scratch_database(backend, Path(directory)) as database_url,
        ember_server(database_url, workers, Path(directory) / "server.log") as server,
    ):
        _progress(f"{backend}: server on port {server.port}, ingest warm-up")
        # The first bundles compile each type's search-parameter expressions and validation
        # plans in each worker; a server in service has done that long ago.
        asyncio.run(ingest(server, bundles, WARMUP_SECONDS))
        _progress(f"{backend}: ingest")
        ingested = asyncio.run(ingest(server, bundles, seconds))
        if not ingested.created_paths:
            raise RuntimeError(f"{backend}: the ingest created nothing:\n{server.log_tail()}")
        _progress(f"{backend}: create")
        create = run_load(
            server.host, server.port, LoadPlan("POST", ["/fhir/Patient"], SMALL_PATIENT), CREATE_CONNECTIONS, seconds
        )
        read_paths = ["/fhir/" + path for path in ingested.created_paths[:READ_IDS]]
        random.Random(7).shuffle(read_paths)
        rounds = []
        for number in range(1, READ_ROUNDS + 1):
            _progress(f"{backend}: read ({len(read_paths)} ids) and ceiling, round {number} of {READ_ROUNDS}")
            read = run_load(server.host, server.port, LoadPlan("GET", read_paths), READ_CONNECTIONS, seconds)
            ceiling = run_load(server.host, server.port, LoadPlan("GET", ["/healthz"]), READ_CONNECTIONS, seconds)
            rounds.append((read, ceiling))
    ratios = sorted(read.rate / ceiling.rate for read, ceiling in rounds)
    read, ceiling = sorted(rounds, key=lambda pair: pair[0].rate / pair[1].rate)[len(rounds) // 2]
    return BackendResult(backend, ingested, create, read, ceiling, ratios)


def table(results: list[BackendResult]) -> str:
    """A markdown table: one row per measure, one column per back end, the target last."""

    def row(label: str, cells: list[str], target: str = "") -> str:
        return "| " + " | ".join([label, *cells, target]) + " |"

    def verdict(value: float, target: float) -> str:
        return "met" if value >= target else "MISSED"

    def latency(result: LoadResult) -> str:
        return f"{result.p50_ms:.1f} / {result.p99_ms:.1f}"

    lines = [
        row("measure", [r.backend for r in results], "target"),
        row("---", ["---:" for _ in results], "---"),
        row(
            f"ingest, Synthea transactions (resources/s, {INGEST_CLIENTS} clients)",
            [f"{r.ingest.rate:,.0f} ({verdict(r.ingest.rate, INGEST_TARGET)})" for r in results],
            f">= {INGEST_TARGET:,.0f}",
        ),
        row(
            "ingest: bundles / resources / seconds",
            [f"{r.ingest.bundles} / {r.ingest.resources:,} / {r.ingest.seconds:.1f}" for r in results],
        ),
        row(f"create Patient (req/s, {CREATE_CONNECTIONS} conn)", [f"{r.create.rate:,.0f}" for r in results]),
        row("create p50 / p99 (ms)", [latency(r.create) for r in results]),
        row(f"read by id (req/s, {READ_CONNECTIONS} conn)", [f"{r.read.rate:,.0f}" for r in results]),
        row("read p50 / p99 (ms)", [latency(r.read) for r in results]),
        row(f"ceiling GET /healthz (req/s, {READ_CONNECTIONS} conn)", [f"{r.ceiling.rate:,.0f}" for r in results]),
        row("ceiling p50 / p99 (ms)", [latency(r.ceiling) for r in results]),
        row(
            f"read / ceiling (median of {READ_ROUNDS} alternating rounds)",
            [
                f"{r.read.rate / r.ceiling.rate:.0%} ({verdict(r.read.rate / r.ceiling.rate, READ_RATIO_TARGET)})"
                for r in results
            ],
            f">= {READ_RATIO_TARGET:.0%}",
        ),
        row("read / ceiling, every round", [" ".join(f"{ratio:.0%}" for ratio in r.round_ratios) for r in results]),
        row(
            "failed requests (non-2xx, socket errors)",
            [str(r.ingest.failures + r.create.failures + r.read.failures + r.ceiling.failures) for r in results],
            "0",
        ),
    ]
    return "\n".join(lines)


def _progress(message: str) -> None:
    print(f"... {message}", file=sys.stderr, flush=True)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """SIGTERM unwinds like Ctrl-C, so the servers and scratch databases are cleaned up."""
    raise KeyboardInterrupt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--workers", type=int, default=2, help="granian worker processes (default 2)")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per load phase, 1-15 (default 5)")
    args = parser.parse_args()
    if not 1 <= args.duration <= 15:
        parser.error("--duration must be between 1 and 15 seconds (the whole run stays under 3 minutes)")
    signal.signal(signal.SIGTERM, _interrupt)
    bundles = [path.read_bytes() for path in sorted(SYNTHEA.glob("*.json"))]
    if not bundles:
        parser.error(f"no Synthea bundles in {SYNTHEA}")
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    load_before = os.getloadavg()[0]
    try:
        results = [measure(backend, args.workers, args.duration, bundles) for backend in backends]
    except KeyboardInterrupt:
        print("interrupted: servers stopped, scratch databases dropped", file=sys.stderr)
        raise SystemExit(130) from None
    print(
        f"Ember core benchmark: {args.workers} workers, {args.duration:g} s per phase, "
        f"{os.cpu_count()} CPUs shared with the load generator ({tool_name()}; ingest: python-asyncio), "
        f"server event loop: {event_loop()}"
    )
    # Anything else busy on the machine lowers every figure: say so beside them.
    print(f"1-minute load average before the run: {load_before:.2f}, after: {os.getloadavg()[0]:.2f}")
    print(table(results))


if __name__ == "__main__":
    main()
