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
import time
from collections import Counter
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/search.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._loadgen import tool_name
from bench._search_cases import build_cases
from bench._search_dataset import Manifest, dataset_database, load_copies, refresh_statistics
from bench._search_plans import explain_searches
from bench._search_report import BackendRun, every_plan, report
from bench._search_timing import CONNECTIONS, ServerSlot, time_searches
from bench._server import RunningServer, ember_server, scratch_database
from bench._synthea_copies import BundleTemplate, load_templates

# The core benchmark's progress line and SIGTERM-as-Ctrl-C, so both scripts behave alike.
from bench.core import INGEST_CLIENTS, SYNTHEA, IngestResult, _interrupt, _progress, ingest

LOAD_CLIENTS = INGEST_CLIENTS  # as many as the core ingest it is compared with (see bench/core.py)
INGEST_CEILING_SECONDS = 5.0
#: The first bundles compile every resource type's index expressions in each worker.
INGEST_WARM_UP_SECONDS = 2.0
MAX_RESOURCES = 5_000_000


def run_backend(backend: str, args: argparse.Namespace, templates: list[BundleTemplate]) -> BackendRun:
    with tempfile.TemporaryDirectory(prefix="ember-search-") as directory:
        scratch = Path(directory)
        ingest_ceiling = _core_ingest(backend, args.workers, scratch)
        with dataset_database(backend, args.keep, scratch) as (url, manifest, manifest_path):
            loaded_now = manifest.resources < args.resources
            with ServerSlot(url, args.workers, scratch / "server.log", _progress) as slot:
                assert slot.server is not None
                if loaded_now:
                    _load(slot.server, templates, manifest, manifest_path, args)
                refresh_statistics(backend, url)
                if not manifest.patients:
                    raise RuntimeError(f"{backend}: the data set has no patients:\n{slot.server.log_tail()}")
                cases = build_cases(manifest.patients, [t.patient_family for t in templates], _busy_months(templates))
                searches, ceilings = time_searches(slot, cases, manifest.patients, args.duration, _progress)
            _progress(f"{backend}: query plans of every search that answered or timed out")
            paths = {t.case.key: t.case.paths[0] for t in searches if t.case.paths and t.first.status in (0, 200)}
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
    # Per tenth of the load: its rate and the server's CPU per resource (how a write's cost
    # grows with the data set, separate from the load generator's share of the cores).
    last = (manifest.resources, server.cpu_seconds(), time.perf_counter())

    def progress(state: Manifest) -> None:
        nonlocal last
        manifest.save(manifest_path)
        resources, cpu, now = state.resources, server.cpu_seconds(), time.perf_counter()
        added = max(1, resources - last[0])
        _progress(
            f"{state.backend}: {resources:,} resources, {state.load_rate:,.0f}/s overall; last {added:,}: "
            f"{added / (now - last[2]):,.0f}/s, {1e6 * (cpu - last[1]) / added:,.0f} us server CPU per resource, "
            f"1-minute load {os.getloadavg()[0]:.1f}"
        )
        last = (resources, cpu, now)

    try:
        asyncio.run(
            load_copies(server, templates, manifest, args.resources, LOAD_CLIENTS, args.max_load_minutes * 60, progress)
        )
    finally:
        manifest.save(manifest_path)
    if manifest.resources < args.resources:
        _progress(f"{manifest.backend}: stopped at {manifest.resources:,} resources (--max-load-minutes)")


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
