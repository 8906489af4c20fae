"""The search benchmark's printout: markdown tables, each figure beside its same-run ceiling."""

from __future__ import annotations

from dataclasses import dataclass

from bench._loadgen import LoadResult
from bench._search_cases import Probe, SearchCase
from bench._search_dataset import Manifest
from bench._search_plans import SearchPlans
from bench.core import INGEST_CLIENTS, IngestResult
from ember.store.migrations import migration_scripts

#: An indexed single-parameter search with a page of 50, one client (the issue's target).
P99_TARGET_MS = 50.0
#: Ingest with every search index on must stay within this factor of the core ingest.
INGEST_FACTOR = 2.0
#: The core issue's ingest figures (docs/benchmarks.md, "Core", run of 2026-11-21), measured
#: before the search indexes existed: what the issue's write-throughput target refers to.
CORE_ISSUE_INGEST = {"sqlite": 3_984.0, "postgres": 8_762.0}


@dataclass(frozen=True)
class Timed:
    """A case with its first answer and, if that was a searchset, its latency per concurrency."""

    case: SearchCase
    first: Probe
    loads: dict[int, LoadResult]


@dataclass(frozen=True)
class BackendRun:
    """Everything measured on one back end: `ceilings` are the reads by id before and after
    the searches; `plans` the query plans of the searches that answered, by case key."""

    backend: str
    manifest: Manifest
    loaded_now: bool
    ingest_ceiling: IngestResult
    ceilings: list[dict[int, LoadResult]]
    searches: list[Timed]
    plans: dict[str, SearchPlans]


def report(runs: list[BackendRun], connections: tuple[int, ...]) -> str:
    return "\n\n".join(section for run in runs for section in _backend_sections(run, connections))


def _backend_sections(run: BackendRun, connections: tuple[int, ...]) -> list[str]:
    manifest = run.manifest
    title = (
        f"### {run.backend}: {manifest.resources:,} resources, {len(manifest.patients):,} patients "
        f"({manifest.next_copy:,} copies of the sample)"
    )
    sections = [title, _load_table(run), _search_table(run, connections)]
    if run.plans:
        sections.append(_plans_section(run))
    return sections


def _load_table(run: BackendRun) -> str:
    manifest, ceiling = run.manifest, run.ingest_ceiling
    when = "this run" if run.loaded_now else f"recorded when loaded, {manifest.loaded_at}"
    recorded = CORE_ISSUE_INGEST[run.backend]
    lines = [
        "| load | resources/s | resources / bundles / seconds / failed bundles |",
        "| --- | ---: | --- |",
        f"| copies, {INGEST_CLIENTS} clients spread over the workers, every index of schema "
        f"{_schema(run.backend)} on ({when}) | "
        f"{manifest.load_rate:,.0f} | {manifest.resources:,} / {manifest.load_bundles:,} / "
        f"{manifest.load_seconds:,.0f} / {manifest.load_failures} |",
        f"| ceiling: bench/core.py ingest into an empty database (this run, same build) | {ceiling.rate:,.0f} | "
        f"{ceiling.resources:,} / {ceiling.bundles} / {ceiling.seconds:.1f} / {ceiling.failures} |",
        f"| core issue's figure (docs/benchmarks.md, before search indexes) | {recorded:,.0f} | |",
    ]
    for label, reference in (("this run's ceiling", ceiling.rate), ("the core issue's figure", recorded)):
        floor = reference / INGEST_FACTOR
        verdict = "met" if manifest.load_rate >= floor else "MISSED"
        lines.append(f"| target: load >= {label} / {INGEST_FACTOR:g} | {floor:,.0f} | {verdict} |")
    return "\n".join(lines)


def _schema(backend: str) -> str:
    versions = [version for version, _ in migration_scripts(backend)]
    return f"{versions[0]:04d}-{versions[-1]:04d}"


def _search_table(run: BackendRun, connections: tuple[int, ...]) -> str:
    head = ["search", "page 1: matches (+included) / total"]
    for count in connections:
        head += [f"{count} conn: p50 / p99 ms (requests)", f"{count} conn: req/s"]
    head.append(f"target p99 < {P99_TARGET_MS:g} ms at 1 conn")
    lines = [_row(head), _row(["---", "---:"] + ["---:"] * (2 * len(connections)) + ["---"])]
    for label, ceiling in zip(("before", "after"), run.ceilings):
        cells = [f"ceiling: GET Patient/<id> ({label})", "1"]
        lines.append(_row(cells + _load_cells(ceiling, connections) + [""]))
    for timed in run.searches:
        case, first = timed.case, timed.first
        label = f"{case.key}: `{case.example}`".replace("|", "\\|")
        if not first.ok:
            failure = f"{first.status}: {first.problem}" if first.status else first.problem
            lines.append(_row([label, failure] + ["-"] * (2 * len(connections)) + [_verdict(timed)]))
            continue
        matches = f"{first.matches}" + (f" (+{first.included})" if first.included else "")
        matches += f" / {first.total:,}" if first.total is not None else ""
        cells = _load_cells(timed.loads, connections, first)
        lines.append(_row([label, matches, *cells, _verdict(timed)]))
    return "\n".join(lines)


def _load_cells(loads: dict[int, LoadResult], connections: tuple[int, ...], first: Probe | None = None) -> list[str]:
    cells = []
    for count in connections:
        load = loads.get(count)
        if load is None:
            seconds = f"{first.seconds:.1f}" if first else "?"
            cells += [f"not run: one answer took {seconds} s", "-"]
        elif not load.requests:
            single = f"; one answer took {first.seconds:.1f} s" if first else ""
            cells += [f"no answer within the {load.seconds:.0f} s phase{single}", "0"]
        else:
            failed = f", {load.failures} failed" if load.failures else ""
            cells += [f"{load.p50_ms:.1f} / {load.p99_ms:.1f} ({load.requests:,}{failed})", f"{load.rate:,.0f}"]
    return cells


def _verdict(timed: Timed) -> str:
    if not timed.case.single_parameter:
        return ""
    if not timed.loads:
        return "MISSED (not timed)"
    one = timed.loads[min(timed.loads)]
    return "met" if one.requests and one.p99_ms < P99_TARGET_MS and not one.failures else "MISSED"


def _plans_section(run: BackendRun) -> str:
    scan = "Seq Scan" if run.backend == "postgres" else "SCAN (whole table or index)"
    explain = "EXPLAIN (ANALYZE, BUFFERS)" if run.backend == "postgres" else "EXPLAIN QUERY PLAN, then run once"
    lines = [
        f"| search ({run.backend}) | SELECTs run | slowest of them (ms, {explain}) | {scan} "
        "| index used only to find a whole type or parameter (resource_type, param) |",
        "| --- | ---: | ---: | --- | --- |",
    ]
    for key, searched in run.plans.items():
        slowest = searched.slowest
        scans = "; ".join(sorted(set(searched.full_scans))) or "none"
        ranges = "; ".join(sorted(set(searched.parameter_ranges))) or "none"
        timing = "-" if not slowest else f"{slowest.execution_ms:.2f}" + (" (stopped)" if slowest.cut_off else "")
        lines.append(f"| {key} (HTTP {searched.status}) | {len(searched.statements)} | {timing} | {scans} | {ranges} |")
    any_scan = any(searched.full_scans for searched in run.plans.values())
    any_range = any(searched.parameter_ranges for searched in run.plans.values())
    lines.append("")
    lines.append(f"- {scan} in any search plan: {'YES' if any_scan else 'no'}")
    lines.append(f"- index narrowed only to a whole type or parameter in any plan: {'YES' if any_range else 'no'}")
    timed = [t for t in run.searches if t.case.key in run.plans]
    if timed:
        worst = max(timed, key=_one_connection_p99)
        lines.append(_slowest_plan(worst.case.key, run.plans[worst.case.key]))
    return "\n".join(lines)


def _one_connection_p99(timed: Timed) -> tuple[bool, float]:
    """p99 at the lowest concurrency; a search too slow to be timed counts as slower than any
    timed one, by the time of its single answer."""
    if not timed.loads:
        return True, timed.first.seconds
    load = timed.loads[min(timed.loads)]
    return (True, timed.first.seconds) if not load.requests else (False, load.p99_ms)


def every_plan(runs: list[BackendRun]) -> str:
    """The SQL and plan of every statement of every search, per back end (for `--plans-out`)."""
    return "\n\n".join(
        f"## {run.backend}: {key}\n{_plan_text(searched)}" for run in runs for key, searched in run.plans.items()
    )


def _slowest_plan(key: str, searched: SearchPlans) -> str:
    return f"\nSlowest search at 1 connection (p99): {key}, {_plan_text(searched)}"


def _plan_text(searched: SearchPlans) -> str:
    statements = searched.statements
    parts = [f"`{searched.path}` (HTTP {searched.status})"]
    for number, statement in enumerate(statements, 1):
        parts.append(f"\nStatement {number} of {len(statements)}:\n```sql\n{statement.sql.strip()}\n```")
        parts.append(f"```\n{statement.plan}\n```")
    if not statements:
        parts.append("(the search ran no SELECT)")
    return "\n".join(parts)


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"
