"""Timing the searches on a real server, each phase starting on a server that finished the last.

A search its client gave up on keeps running in the server (neither store cancels a statement
when the client goes away), and whatever a slow phase left queued would be charged to the next
one. So before every phase the server must answer a cheap search promptly again; if it does
not within SETTLE_SECONDS it is restarted on the same database.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType

from bench._loadgen import LoadPlan, LoadResult, run_load
from bench._search_cases import Probe, SearchCase, deep_page, idle_probe_path, probe, read_paths, wait_until_idle
from bench._search_report import Timed
from bench._server import RunningServer, ember_server

CONNECTIONS = (1, 16)
#: A search whose first answer takes longer is timed at one connection only: at 16 it would
#: only queue up behind itself.
SLOW_SECONDS = 1.0
#: How long the server may take to drain a phase, and how many concurrent probes tell it is
#: idle (two per worker).
SETTLE_SECONDS = 20.0
IDLE_CONNECTIONS = 4
#: Following `next` links to the 10th page of each token search stops after this long.
DEEP_PAGE_SECONDS = 60.0


class ServerSlot:
    """`ember serve` on one database, restarted when it does not settle after a phase."""

    def __init__(self, database_url: str, workers: int, log_path: Path, progress: Callable[[str], None]) -> None:
        self._start_args = (database_url, workers, log_path)
        self._progress = progress
        self._stack = ExitStack()
        self.server: RunningServer | None = None

    def __enter__(self) -> ServerSlot:
        self._start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._stack.close()

    def _start(self) -> None:
        self._stack = ExitStack()
        self.server = self._stack.enter_context(ember_server(*self._start_args))

    def settled(self, idle_path: str) -> RunningServer:
        """The server, once it answers `idle_path` promptly again (restarted if it does not)."""
        assert self.server is not None
        if not asyncio.run(
            wait_until_idle(self.server.host, self.server.port, idle_path, IDLE_CONNECTIONS, SETTLE_SECONDS)
        ):
            self._progress(f"server still busy {SETTLE_SECONDS:g} s after the last phase: restarting it")
            self._stack.close()
            self._start()
        assert self.server is not None
        return self.server


def time_searches(
    slot: ServerSlot,
    cases: list[SearchCase],
    patients: list[list[str]],
    seconds: float,
    progress: Callable[[str], None],
) -> tuple[list[Timed], list[dict[int, LoadResult]]]:
    """Every case (then the 10th page of the first one) at 1 and 16 connections, between two
    rounds of the ceiling: reads by id of the same patients."""
    idle = idle_probe_path(patients)
    reads = LoadPlan("GET", read_paths(patients))
    ceilings = [_at_each(slot, idle, reads, CONNECTIONS, seconds)]
    searches = [_time_case(slot, idle, case, None, seconds, progress) for case in cases]
    deep_case, deep_first = _deep_page_case(slot.settled(idle), cases[0])
    searches.append(_time_case(slot, idle, deep_case, deep_first, seconds, progress))
    ceilings.append(_at_each(slot, idle, reads, CONNECTIONS, seconds))
    return searches, ceilings


def _time_case(
    slot: ServerSlot, idle: str, case: SearchCase, first: Probe | None, seconds: float, progress: Callable[[str], None]
) -> Timed:
    if first is None:
        server = slot.settled(idle)
        first, _ = asyncio.run(probe(server.host, server.port, case.paths[0]))
    if not first.ok or first.seconds > seconds:
        progress(f"{case.key}: not timed: {first.status} {first.problem or f'one answer took {first.seconds:.1f} s'}")
        return Timed(case, first, {})
    progress(f"{case.key} ({len(case.paths)} variants, first answer in {first.seconds:.3f} s)")
    connections = CONNECTIONS if first.seconds < SLOW_SECONDS else CONNECTIONS[:1]
    return Timed(case, first, _at_each(slot, idle, LoadPlan("GET", case.paths), connections, seconds))


def _at_each(
    slot: ServerSlot, idle: str, plan: LoadPlan, connections: tuple[int, ...], seconds: float
) -> dict[int, LoadResult]:
    loads = {}
    for count in connections:
        server = slot.settled(idle)
        loads[count] = run_load(server.host, server.port, plan, count, seconds)
    return loads


def _deep_page_case(server: RunningServer, token: SearchCase) -> tuple[SearchCase, Probe]:
    """The 10th page of each token search (as many as DEEP_PAGE_SECONDS allow), reached through
    the `next` links the server gave, with the answer to the first of them (or the reason it
    could not be reached)."""
    deadline = time.perf_counter() + DEEP_PAGE_SECONDS
    pages = []
    for path in token.paths:
        pages.append(asyncio.run(deep_page(server.host, server.port, path)))
        if not pages[-1][0].ok or time.perf_counter() > deadline:
            break
    reached = [(answer, path) for answer, path in pages if answer.ok and path]
    first = reached[0][0] if reached else pages[0][0]
    case = SearchCase("page 10", "10th page of Observation?code=...", [path for _, path in reached], True)
    return case, first
