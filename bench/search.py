"""The search benchmark: latency of the issue's searches on a large Synthea data set, per back end.

For each back end it:
  1. measures the ceiling of the load: bench/core.py's ingest (the original sample bundles into
     an empty scratch database, 3 clients, INGEST_CEILING_SECONDS after a short warm-up), in
     this run;
  2. loads fresh copies of the sample bundles (bench/_synthea_copies.py) into a real
     `ember serve` with every search index on, by 3 concurrent clients, up to `--resources`
     (or tops up a data set kept with `--keep DIR`), and reports the rate;
  3. probes each search once (status, matches), follows `next` links to the 10th page of a large
     result, then times every search at 1 and 16 connections, each cycling through its variants,
     beside the ceiling: reads by id of the same patients, before and after the searches;
  4. replays every search in-process to get the SQL it runs, and prints the plan of the slowest
     one (PostgreSQL: `EXPLAIN (ANALYZE, BUFFERS)`; SQLite: `EXPLAIN QUERY PLAN`) and whether any
     plan reads a whole table (a PostgreSQL Seq Scan, a SQLite SCAN).
The load generator (wrk if installed) shares the machine with the server and the database.

    .venv/bin/python bench/search.py --backend sqlite --resources 20000 --keep /tmp/ember-search
    .venv/bin/python bench/search.py --backend both   # 1,000,000 resources: many minutes of load
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import tempfile
from collections import Counter
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/search.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._loadgen import LoadPlan, LoadResult, run_load, tool_name
from bench._search_cases import (
    Probe,
    SearchCase,
    build_cases,
    deep_page,
    idle_probe_path,
    probe,
    read_paths,
    wait_until_idle,
)
from bench._search_dataset import Manifest, dataset_database, load_copies, refresh_statistics
from bench._search_plans import explain_searches
from bench._search_report import BackendRun, Timed, every_plan, report
from bench._server import RunningServer, ember_server, scratch_database
from bench._synthea_copies import BundleTemplate, load_templates

# The core benchmark's progress line and SIGTERM-as-Ctrl-C, so both scripts behave alike.
from bench.core import SYNTHEA, IngestResult, _interrupt, _progress, ingest

CONNECTIONS = (1, 16)
LOAD_CLIENTS = 3
INGEST_CEILING_SECONDS = 5.0
#: The first bundles compile every resource type's index expressions in each worker.
INGEST_WARM_UP_SECONDS = 2.0
MAX_RESOURCES = 5_000_000
#: A search whose first answer takes longer is timed at one connection only.
SLOW_SECONDS = 1.0
#: How long to wait for the server to drain what a phase left queued, and the concurrent
#: probes that tell (two per worker).
SETTLE_SECONDS = 120.0
IDLE_CONNECTIONS = 4


def run_backend(backend: str, args: argparse.Namespace, templates: list[BundleTemplate]) -> BackendRun:
    with tempfile.TemporaryDirectory(prefix="ember-search-") as directory:
        scratch = Path(directory)
        ingest_ceiling = _core_ingest(backend, args.workers, scratch)
        with dataset_database(backend, args.keep, scratch) as (url, manifest, manifest_path):
            loaded_now = manifest.resources < args.resources
            with ember_server(url, args.workers, scratch / "server.log") as server:
                if loaded_now:
                    _load(server, templates, manifest, manifest_path, args)
                refresh_statistics(backend, url)
                if not manifest.patients:
                    raise RuntimeError(f"{backend}: the data set has no patients:\n{server.log_tail()}")
                cases = build_cases(manifest.patients, [t.patient_family for t in templates], _busy_months(templates))
                searches, ceilings = _time_searches(backend, server, cases, manifest, args.duration)
            _progress(f"{backend}: query plans of every search that answered")
            paths = {timed.case.key: timed.case.paths[0] for timed in searches if timed.loads}
            plans = asyncio.run(explain_searches(backend, url, paths))
    return BackendRun(backend, manifest, loaded_now, ingest_ceiling, ceilings, searches, plans)


def _busy_months(templates: list[BundleTemplate]) -> list[tuple[int, int]]:
    """The months that have Observations in the sample, busiest first: one-month date ranges
    that match something in every copy."""
    counts = Counter(month for template in templates for month in template.observation_months)
    return [month for month, _ in counts.most_common()]


def _core_ingest(backend: str, workers: int, scratch: Path) -> IngestResult:
    """bench/core.py's ingest figure, measured now on this machine: the load's ceiling."""
    bundles = [path.read_bytes() for path in sorted(SYNTHEA.glob("*.json"))]
    (scratch / "ceiling").mkdir()
    with (
        scratch_database(backend, scratch / "ceiling") as url,
        ember_server(url, workers, scratch / "ceiling.log") as server,
    ):
        _progress(f"{backend}: core ingest into an empty database ({INGEST_CEILING_SECONDS:g} s), the ceiling")
        asyncio.run(ingest(server, bundles, INGEST_WARM_UP_SECONDS))
        return asyncio.run(ingest(server, bundles, INGEST_CEILING_SECONDS))


def _load(
    server: RunningServer,
    templates: list[BundleTemplate],
    manifest: Manifest,
    manifest_path: Path | None,
    args: argparse.Namespace,
) -> None:
    _progress(f"{manifest.backend}: loading copies from {manifest.resources:,} to {args.resources:,} resources")

    def progress(state: Manifest) -> None:
        manifest.save(manifest_path)
        _progress(f"{state.backend}: {state.resources:,} resources, {state.load_rate:,.0f}/s")

    try:
        asyncio.run(
            load_copies(server, templates, manifest, args.resources, LOAD_CLIENTS, args.max_load_minutes * 60, progress)
        )
    finally:
        manifest.save(manifest_path)
    if manifest.resources < args.resources:
        _progress(f"{manifest.backend}: stopped at {manifest.resources:,} resources (--max-load-minutes)")


def _time_searches(
    backend: str, server: RunningServer, cases: list[SearchCase], manifest: Manifest, seconds: float
) -> tuple[list[Timed], list[dict[int, LoadResult]]]:
    idle = idle_probe_path(manifest.patients)
    reads = LoadPlan("GET", read_paths(manifest.patients))
    ceilings = [_at_each_concurrency(server, reads, seconds, CONNECTIONS, idle)]
    firsts = [(case, asyncio.run(probe(server.host, server.port, case.paths[0]))[0]) for case in cases]
    firsts.append(_deep_page_case(server, cases[0]))
    searches = []
    for case, first in firsts:
        if not first.ok:
            _progress(f"{backend}: {case.key}: {first.status} {first.problem}")
            searches.append(Timed(case, first, {}))
            continue
        # A search slower than SLOW_SECONDS would only queue up behind itself at 16 connections.
        connections = CONNECTIONS if first.seconds < SLOW_SECONDS else CONNECTIONS[:1]
        _progress(f"{backend}: {case.key} ({len(case.paths)} variants, first answer in {first.seconds:.3f} s)")
        loads = _at_each_concurrency(server, LoadPlan("GET", case.paths), seconds, connections, idle)
        searches.append(Timed(case, first, loads))
    ceilings.append(_at_each_concurrency(server, reads, seconds, CONNECTIONS, idle))
    return searches, ceilings


def _deep_page_case(server: RunningServer, token: SearchCase) -> tuple[SearchCase, Probe]:
    """The 10th page of each token search, reached through the `next` links the server gave,
    with the answer to the first of them (or the reason it could not be reached)."""
    pages = [asyncio.run(deep_page(server.host, server.port, path)) for path in token.paths]
    reached = [(answer, path) for answer, path in pages if answer.ok and path]
    first = reached[0][0] if reached else pages[0][0]
    case = SearchCase("page 10", "10th page of Observation?code=...", [path for _, path in reached], True)
    return case, first


def _at_each_concurrency(
    server: RunningServer, plan: LoadPlan, seconds: float, connections: tuple[int, ...], idle: str
) -> dict[int, LoadResult]:
    """The plan at each concurrency, each phase starting on a server that finished the last one."""
    loads = {}
    for count in connections:
        if not asyncio.run(wait_until_idle(server.host, server.port, idle, IDLE_CONNECTIONS, SETTLE_SECONDS)):
            _progress(f"server still busy {SETTLE_SECONDS:g} s after the previous phase")
        loads[count] = run_load(server.host, server.port, plan, count, seconds)
    return loads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--resources", type=int, default=1_000_000, help="data set size (default 1,000,000)")
    parser.add_argument("--keep", type=Path, help="keep (and reuse) the data set in this folder")
    parser.add_argument("--workers", type=int, default=2, help="granian worker processes (default 2)")
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per timed phase, 1-10 (default 3)")
    parser.add_argument("--max-load-minutes", type=float, default=40.0, help="bound on loading (default 40)")
    parser.add_argument("--plans-out", type=Path, help="write the SQL and plan of every search to this file")
    args = parser.parse_args()
    if not 1 <= args.duration <= 10:
        parser.error("--duration must be between 1 and 10 seconds")
    if not 1_000 <= args.resources <= MAX_RESOURCES:
        parser.error(f"--resources must be between 1,000 and {MAX_RESOURCES:,}")
    signal.signal(signal.SIGTERM, _interrupt)
    templates = load_templates(SYNTHEA)
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    load_before = os.getloadavg()[0]
    try:
        runs = [run_backend(backend, args, templates) for backend in backends]
    except KeyboardInterrupt:
        print("interrupted: servers stopped, kept manifests saved, scratch databases dropped", file=sys.stderr)
        raise SystemExit(130) from None
    print(
        f"Ember search benchmark: {args.workers} workers, {args.duration:g} s per phase, {os.cpu_count()} CPUs "
        f"shared with the load generator ({tool_name()}); 1-minute load {load_before:.2f} before, "
        f"{os.getloadavg()[0]:.2f} after"
    )
    print(report(runs, CONNECTIONS))
    if args.plans_out:
        args.plans_out.write_text(every_plan(runs) + "\n")


if __name__ == "__main__":
    main()
