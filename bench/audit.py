"""What auditing costs, in process on SQLite (no HTTP server, no load generator).

Prints:
- what the dispatcher's audit hook costs per read, next to what the whole read costs;
- authenticated reads per second through the ASGI app with read auditing, next to the same
  reads with the dispatcher's audit hook switched off (the ceiling, same run);
- AuditEvents per second the audit job writes (patients resolved, BALP events built, hash
  chained), next to writing the same number of plain AuditEvents with `write_versions` in
  batches of 500 (the store's ceiling for those resources, same run).

Bounded: 12,000 in-process requests by default, well under a minute.

    python bench/audit.py [--reads 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402

from ember.access import AccessContext  # noqa: E402
from ember.audit import hooks  # noqa: E402
from ember.audit.outbox import AUDIT_WRITER, READ_BUFFER  # noqa: E402
from ember.auth.tokens import Authorization  # noqa: E402
from ember.fhir import jsonio  # noqa: E402
from ember.interactions import dispatch as dispatch_module  # noqa: E402
from ember.interactions.observers import write_versions  # noqa: E402
from ember.interactions.request import FhirRequest, FhirResponse  # noqa: E402
from ember.interactions.versioning import now  # noqa: E402
from ember.interactions.writes import plan_create  # noqa: E402
from ember.jobs import JOB_HANDLERS, JobRunner  # noqa: E402
from ember.rest.app import create_app  # noqa: E402
from ember.settings import Settings  # noqa: E402
from ember.store.base import Store  # noqa: E402
from ember.store.search_query import SearchQuery  # noqa: E402
from ember.store.sqlite import SqliteStore  # noqa: E402

ORIGIN = "http://bench.test"
BASE = f"{ORIGIN}/fhir"


async def reads_per_second(http: httpx.AsyncClient, path: str, headers: dict[str, str], count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        answer = await http.get(path, headers=headers)
        assert answer.status_code == 200, answer.text
    return count / (time.perf_counter() - start)


async def _not_audited(*args: object) -> None:
    """The dispatcher's audit hook, switched off for the ceiling."""


async def alternating_rounds(
    http: httpx.AsyncClient, path: str, headers: dict[str, str], reads: int
) -> tuple[float, float]:
    """Best of three rounds each, audited and with the dispatcher's audit hook off, taken in
    turn so the machine's other load falls on both alike."""
    audited, ceiling = 0.0, 0.0
    original = dispatch_module.request_done
    for _ in range(3):
        audited = max(audited, await reads_per_second(http, path, headers, reads))
        dispatch_module.request_done = _not_audited
        try:
            ceiling = max(ceiling, await reads_per_second(http, path, headers, reads))
        finally:
            dispatch_module.request_done = original
    return audited, ceiling


async def hook_microseconds(store: Store, calls: int = 20_000) -> float:
    """What the dispatcher's audit hook itself costs per successful read (record + buffer)."""
    ctx = AccessContext(subject="dr", client_id="bench", fhir_user="Practitioner/1", source_ip="127.0.0.1")
    request = FhirRequest("read", "Patient", "123", base_url=BASE)
    response = FhirResponse(200, body=b"{}")
    start = time.perf_counter()
    for _ in range(calls):
        await hooks.request_done(ctx, request, store, response)
    elapsed = (time.perf_counter() - start) / calls * 1e6
    await READ_BUFFER.flush(store)
    return elapsed


async def chain_rate(store: Store) -> tuple[int, float]:
    await READ_BUFFER.flush(store)
    start = time.perf_counter()
    await JobRunner(store, JOB_HANDLERS).run_until_idle()
    elapsed = time.perf_counter() - start
    async with store.transaction() as tx:
        head = await tx.get_record("audit_chain", "head")
    return int(head["sequence"]) if head else 0, elapsed


async def plain_rate(store: Store, template: dict[str, object], count: int) -> float:
    start = time.perf_counter()
    for offset in range(0, count, 500):
        async with store.transaction() as tx:
            versions = [plan_create(dict(template), now()) for _ in range(min(500, count - offset))]
            await write_versions(AUDIT_WRITER, tx, versions)
    return count / (time.perf_counter() - start)


async def main(reads: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        store = SqliteStore(str(Path(directory) / "bench.db"))
        await store.open()
        app = create_app(Settings(auth="on", base_url=BASE), store)
        await app.state.auth.start()
        signer, _ = app.state.auth.tokens()
        token, _ = signer.access_token(
            Authorization("bench", "dr", ("user/*.cruds",), fhir_user="Practitioner/1"), BASE, BASE
        )
        headers = {"Authorization": f"Bearer {token}"}
        try:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ORIGIN) as http:
                patient = (await http.post("/fhir/Patient", json={"resourceType": "Patient"}, headers=headers)).json()[
                    "id"
                ]
                path = f"/fhir/Patient/{patient}"
                await reads_per_second(http, path, headers, 200)  # warm up
                audited, ceiling = await alternating_rounds(http, path, headers, reads)
            hook = await hook_microseconds(store)
            events, elapsed = await chain_rate(store)
            sample = (await store.search(AUDIT_WRITER, SearchQuery(("AuditEvent",), count=1)))[0][0]
            template = {k: v for k, v in jsonio.loads(sample.body).items() if k not in ("id", "meta", "extension")}
            plain = await plain_rate(store, template, events)
        finally:
            await store.close()
    print(f"authenticated reads, in process: {audited:,.0f}/s audited, {ceiling:,.0f}/s with the hook off (ceiling)")
    print(f"  the audit hook: {hook:.1f} us per read, of {1e6 / ceiling:,.0f} us per whole in-process read")
    print(f"audit job: {events:,} chained AuditEvents in {elapsed:.2f} s = {events / elapsed:,.0f}/s;")
    print(f"  ceiling, the same events written plainly in batches of 500: {plain:,.0f}/s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--reads", type=int, default=2000)
    asyncio.run(main(parser.parse_args().reads))
