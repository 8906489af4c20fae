"""Outbound feed: new results reach a subscribed MLLP endpoint as ORU^R01, with retries."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from ember.hl7v2 import delivery, outbound
from ember.hl7v2.ack import ACCEPT, ERROR, acknowledgement
from ember.hl7v2.ingest import Ingestor
from ember.hl7v2.message import parse_message
from ember.hl7v2.mllp import frame, read_frame
from ember.interactions.observers import WRITE_OBSERVERS
from ember.jobs import JOB_HANDLERS, JobRunner
from ember.store.base import Store

pytestmark = pytest.mark.anyio
#: Only the deliveries are counted (writes also queue audit jobs).
_DELIVERIES = {outbound.JOB_KIND: delivery.send_result}

ORU = (
    "MSH|^~\\&|LAB|X|||20240101120000+0000||ORU^R01|O{n}|P|2.5.1\r"
    "PID|1||77^^^X^MR||Poe^Edgar||19000101|M\r"
    "OBR|1||F{n}^LAB|GLU^Glucose^L|||20240101110000\r"
    "OBX|1|NM|2345-7^Glucose^LN||6.1|mmol/L|3.5-5.5|H|||F\r"
)


class Receiver:
    """A legacy system's MLLP receiver on loopback that records messages and answers `code`."""

    def __init__(self, code: str) -> None:
        self.code = code
        self.messages: list[str] = []
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (body := await read_frame(reader, 1 << 20)) is not None:
            self.messages.append(body.decode())
            writer.write(frame(acknowledgement(parse_message(body.decode()), self.code)))
            await writer.drain()
        writer.close()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    running = Receiver(ACCEPT)
    await running.start()
    yield running
    assert running.server is not None
    running.server.close()


@pytest.fixture(autouse=True)
def observer() -> AsyncIterator[None]:
    delivery.install()
    yield
    WRITE_OBSERVERS.remove(outbound.enqueue_results)


async def subscribe(store: Store, receiver: Receiver) -> None:
    assert receiver.server is not None
    await outbound.add_endpoint(store, "legacy", "127.0.0.1", receiver.server.sockets[0].getsockname()[1])


async def test_new_observation_reaches_the_endpoint_as_oru_r01(store: Store, receiver: Receiver) -> None:
    await subscribe(store, receiver)
    assert (await Ingestor(store).receive(ORU.format(n=1).encode())).code == "AA"
    ran = await JobRunner(store, _DELIVERIES).run_until_idle()
    assert ran == 1  # the DiagnosticReport, whose ORU^R01 carries its Observation
    [text] = receiver.messages
    message = parse_message(text)
    assert message.message_code == "ORU" and message.trigger_event == "R01"
    obx = message.first("OBX")
    pid = message.first("PID")
    assert obx is not None and pid is not None
    assert (obx.value(3), obx.value(3, 3), obx.value(5), obx.value(6), obx.value(8)) == (
        "2345-7",
        "LN",
        "6.1",
        "mmol/L",
        "H",
    )
    assert pid.value(3) == "77" and pid.value(5) == "Poe"
    obr = message.first("OBR")
    assert obr is not None and obr.value(4) == "GLU" and obr.value(25) == "F"


async def test_an_observation_without_a_report_is_sent_alone(store: Store, receiver: Receiver) -> None:
    await subscribe(store, receiver)
    vitals = "MSH|^~\\&|ADT|X|||20240101||ADT^A08|V1|P|2.5\rPID|1||77^^^X^MR||Poe^Edgar\rOBX|1|NM|8867-4^Heart rate^LN||72|/min\r"
    assert (await Ingestor(store).receive(vitals.encode())).code == "AA"
    assert await JobRunner(store, _DELIVERIES).run_until_idle() == 1
    obx = parse_message(receiver.messages[0]).first("OBX")
    assert obx is not None and (obx.value(3), obx.value(5)) == ("8867-4", "72")


async def test_without_endpoints_nothing_is_queued(store: Store) -> None:
    await Ingestor(store).receive(ORU.format(n=2).encode())
    async with store.transaction() as tx:
        assert await tx.list_jobs(outbound.JOB_KIND) == []


async def test_refused_delivery_is_retried_then_kept_as_failed(store: Store) -> None:
    refusing = Receiver(ERROR)
    port = await refusing.start()
    await outbound.add_endpoint(store, "legacy", "127.0.0.1", port)
    await Ingestor(store).receive(ORU.format(n=3).encode())
    runner = JobRunner(store, JOB_HANDLERS, max_attempts=1)
    await runner.run_until_idle()
    async with store.transaction() as tx:
        failed = await tx.list_jobs(outbound.JOB_KIND, "failed")
    assert len(failed) == 1 and "AE" in (failed[0].error or "")
    assert len(refusing.messages) == 1
    assert refusing.server is not None
    refusing.server.close()


async def test_removed_endpoint_jobs_finish_without_sending(store: Store, receiver: Receiver) -> None:
    await subscribe(store, receiver)
    await Ingestor(store).receive(ORU.format(n=4).encode())
    assert await outbound.remove_endpoint(store, "legacy")
    await JobRunner(store, JOB_HANDLERS).run_until_idle()
    assert receiver.messages == []
    async with store.transaction() as tx:
        done = await tx.list_jobs(outbound.JOB_KIND, "done")
    assert len(done) == 1 and "removed" in (done[0].result or {}).get("skipped", "")
