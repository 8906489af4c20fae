"""Terminology benchmark: $validate-code and $expand latency on a generated 100,000-concept code system.

1. Generates a CSV code system (a tree, 10 children per concept, 100,000 concepts) and loads it the
   way `ember terminology load` does (one CodeSystem resource plus its stored is-a closure), timed.
2. In process (the operation handlers through `dispatch`, no HTTP): p50/p99 of $validate-code on
   random codes of a ValueSet with an is-a filter over the whole system, and of $expand with a text
   filter and count=20; the ceiling is a plain read of a small resource through the same dispatch.
3. Over HTTP on `ember serve` (1 worker, loopback, one request at a time): the same two operations,
   with GET /metadata as the ceiling measured in the same run.
Every phase is bounded in count and time. Target: validate-code p99 under 20 ms.

Usage: python bench/terminology.py [--backend sqlite|postgres] [--concepts N]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import random
import statistics
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _server import ember_server, scratch_database  # noqa: E402

from ember import terminology  # noqa: E402
from ember.access import AccessContext  # noqa: E402
from ember.interactions.dispatch import dispatch  # noqa: E402
from ember.interactions.request import FhirRequest  # noqa: E402
from ember.settings import Settings  # noqa: E402
from ember.store import create_store  # noqa: E402
from ember.store.base import Store  # noqa: E402
from ember.terminology.loaders import read_code_system_csv, store_code_system  # noqa: E402

URL = "http://example.org/fhir/CodeSystem/bench"
VALUE_SET = "http://example.org/fhir/ValueSet/bench-below-1"
PHASE_SECONDS = 10.0
CTX = AccessContext.system("bench")


def generate_csv(path: Path, concepts: int) -> list[str]:
    """A tree of `concepts` codes: C0 is the root, Cn's parent is C((n-1)//10)."""
    codes = [f"C{n}" for n in range(concepts)]
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["code", "display", "parent"])
        for n, code in enumerate(codes):
            writer.writerow([code, f"Concept number {n} of the bench system", f"C{(n - 1) // 10}" if n else ""])
    return codes


async def load(store: Store, csv_path: Path) -> float:
    start = time.perf_counter()
    resource = read_code_system_csv(csv_path, URL, "BenchSystem")
    await store_code_system(store, resource)
    value_set = {
        "resourceType": "ValueSet",
        "id": "bench-below-1",
        "url": VALUE_SET,
        "status": "active",
        "compose": {"include": [{"system": URL, "filter": [{"property": "concept", "op": "is-a", "value": "C1"}]}]},
    }
    await dispatch(CTX, FhirRequest("update", "ValueSet", "bench-below-1", body=value_set, method="PUT"), store)
    await dispatch(
        CTX,
        FhirRequest("update", "Patient", "ceiling", body={"resourceType": "Patient", "id": "ceiling"}, method="PUT"),
        store,
    )
    return time.perf_counter() - start


async def timed(call: Callable[[int], Awaitable[object]], count: int) -> list[float]:
    """Latencies in ms of up to `count` calls, stopping after PHASE_SECONDS."""
    latencies = []
    deadline = time.perf_counter() + PHASE_SECONDS
    for i in range(count):
        start = time.perf_counter()
        await call(i)
        latencies.append((time.perf_counter() - start) * 1000)
        if time.perf_counter() > deadline:
            break
    return latencies


def summary(name: str, latencies: list[float]) -> str:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"  {name:<34} n={len(ordered):>5}  p50 {statistics.median(ordered):7.2f} ms  p99 {p99:7.2f} ms"


def in_value_set(code: str) -> bool:
    """C1 and its descendants: the codes whose ancestor chain passes through C1."""
    n = int(code[1:])
    while n > 1:
        n = (n - 1) // 10
    return n == 1


async def in_process(store: Store, codes: list[str]) -> None:
    rng = random.Random(7)

    async def validate(i: int) -> object:
        code = rng.choice(codes)
        params = [("url", VALUE_SET), ("system", URL), ("code", code)]
        answer = await dispatch(
            CTX, FhirRequest("operation-type", "ValueSet", operation="validate-code", params=params), store
        )
        assert answer.resource is not None and answer.resource["parameter"][0]["valueBoolean"] == in_value_set(code)
        return answer

    async def expand(i: int) -> object:
        params = [("url", VALUE_SET), ("filter", str(rng.randrange(1, 9999))), ("count", "20")]
        return await dispatch(CTX, FhirRequest("operation-type", "ValueSet", operation="expand", params=params), store)

    async def read(i: int) -> object:
        return await dispatch(CTX, FhirRequest("read", "Patient", "ceiling"), store)

    start = time.perf_counter()
    await expand(0)
    print(f"  first $expand (builds the expansion)   {(time.perf_counter() - start) * 1000:8.1f} ms")
    print(summary("ceiling: read Patient", await timed(read, 3000)))
    print(summary("$validate-code (ValueSet, is-a)", await timed(validate, 3000)))
    print(summary("$expand filter + count=20", await timed(expand, 500)))


def http_phase(database_url: str, codes: list[str], workdir: Path) -> None:
    rng = random.Random(11)
    with ember_server(database_url, 1, workdir / "server.log") as server:
        base = f"http://{server.host}:{server.port}/fhir"

        def get(path: str, params: dict[str, str]) -> bytes:
            url = f"{base}/{path}?{urllib.parse.urlencode(params)}" if params else f"{base}/{path}"
            with urllib.request.urlopen(url, timeout=10) as answer:
                return answer.read()

        async def metadata(i: int) -> object:
            return get("metadata", {})

        async def validate(i: int) -> object:
            return get("ValueSet/$validate-code", {"url": VALUE_SET, "system": URL, "code": rng.choice(codes)})

        async def expand(i: int) -> object:
            return get("ValueSet/$expand", {"url": VALUE_SET, "filter": str(rng.randrange(1, 9999)), "count": "20"})

        get("ValueSet/$expand", {"url": VALUE_SET, "count": "1"})  # warm the worker's caches
        print(summary("ceiling: GET /metadata", asyncio.run(timed(metadata, 2000))))
        print(summary("GET ValueSet/$validate-code", asyncio.run(timed(validate, 2000))))
        print(summary("GET ValueSet/$expand filter count=20", asyncio.run(timed(expand, 300))))


async def prepare(database_url: str, csv_path: Path, codes: list[str]) -> None:
    store = create_store(Settings(database_url=database_url))
    await store.open()
    try:
        core = await terminology.start(store)  # as the server's start-up does
        print(f"  cache the core in the store (first start) {core.seconds:5.1f} s  ({core.resources:,} resources)")
        seconds = await load(store, csv_path)
        print(f"  load {len(codes):,} concepts + closure   {seconds:8.1f} s  ({len(codes) / seconds:,.0f} concepts/s)")
        await in_process(store, codes)
    finally:
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--concepts", type=int, default=100_000)
    args = parser.parse_args()
    terminology.install()
    with tempfile.TemporaryDirectory() as directory, scratch_database(args.backend, Path(directory)) as database_url:
        workdir = Path(directory)
        codes = generate_csv(workdir / "bench.csv", args.concepts)
        print(f"{args.backend}: {args.concepts:,}-concept code system")
        asyncio.run(prepare(database_url, workdir / "bench.csv", codes))
        print("  over HTTP (1 worker, sequential):")
        http_phase(database_url, codes, workdir)


if __name__ == "__main__":
    main()
