"""The MLLP listener: many connections, framing errors answered, never a crash; fuzzed messages."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ember.hl7v2 import dead_letters
from ember.hl7v2.ack import ack_code
from ember.hl7v2.ingest import Ingestor
from ember.hl7v2.listener import MllpListener
from ember.hl7v2.mllp import END, START, frame, send_messages
from ember.store.base import Store
from tests.hl7v2.support import versions

pytestmark = pytest.mark.anyio

GOOD = (
    "MSH|^~\\&|SND|FAC|||20240101120000+0000||ORU^R01^ORU_R01|{id}|P|2.5.1\r"
    "PID|1||P{n}^^^FAC^MR||Doe^Jo||19900101|M\r"
    "OBR|1||F{n}^LAB|GLU^Glucose^L|||20240101110000\r"
    "OBX|1|NM|GLU^Glucose^L||5.{n}|mmol/L|3.5-5.5|N|||F\r"
)


async def exchange(port: int, data: bytes) -> bytes:
    """Send raw bytes, return what comes back until the peer closes or a frame ends."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    try:
        return await asyncio.wait_for(reader.readuntil(END), 10)
    except asyncio.IncompleteReadError as partial:
        return partial.partial
    finally:
        writer.close()


async def test_many_concurrent_connections_each_get_their_acks(listener: MllpListener, store: Store) -> None:
    async def sender(connection: int) -> list[str]:
        messages = [GOOD.format(id=f"C{connection}-{i}", n=connection * 10 + i) for i in range(5)]
        return await send_messages("127.0.0.1", listener.port, messages)

    results = await asyncio.gather(*(sender(c) for c in range(8)))
    for connection, acks in enumerate(results):
        assert [ack_code(a) for a in acks] == ["AA"] * 5
        assert all(f"MSA|AA|C{connection}-{i}" in a for i, a in enumerate(acks))
    assert await versions(store, "Observation") == 40


async def test_data_outside_a_frame_is_answered_ar_and_the_connection_goes_on(listener: MllpListener) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
    writer.write(b"garbage without a start block" + END)
    writer.write(frame(GOOD.format(id="AFTER", n=1)))
    await writer.drain()
    first = await asyncio.wait_for(reader.readuntil(END), 10)
    second = await asyncio.wait_for(reader.readuntil(END), 10)
    writer.close()
    assert ack_code(first.decode()) == "AR" and "ERR|" in first.decode()
    assert "MSA|AA|AFTER" in second.decode()


async def test_oversized_frame_is_refused_and_the_listener_keeps_serving(listener: MllpListener) -> None:
    answer = await exchange(listener.port, START + b"MSH|" + b"x" * (listener.max_bytes + 10))
    assert b"MSA|AR" in answer
    [ack] = await send_messages("127.0.0.1", listener.port, [GOOD.format(id="STILL", n=2)])
    assert ack_code(ack) == "AA"


async def test_truncated_frame_and_abrupt_disconnects_do_not_stop_the_listener(listener: MllpListener) -> None:
    for data in (START + b"MSH|^~\\&|half a mess", b"", START, b"\x00\xff" * 10):
        _, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        writer.write(data)
        await writer.drain()
        writer.close()
    [ack] = await send_messages("127.0.0.1", listener.port, [GOOD.format(id="ALIVE", n=3)])
    assert ack_code(ack) == "AA"


async def test_unexpected_failure_is_answered_ae_not_silence(
    listener: MllpListener, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(self: Ingestor, data: bytes) -> None:
        raise RuntimeError("database gone")

    monkeypatch.setattr(Ingestor, "receive", broken)
    [ack] = await send_messages("127.0.0.1", listener.port, [GOOD.format(id="BUG", n=4)])
    assert ack_code(ack) == "AE" and "207^" in ack


_FUZZ_IDS = itertools.count()
_SEGMENT_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=60)


@given(
    cuts=st.lists(st.tuples(st.integers(0, 400), st.integers(0, 30), _SEGMENT_TEXT), min_size=1, max_size=4),
)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
async def test_fuzzed_messages_never_crash_and_never_write_partially(
    listener: MllpListener, store: Store, cuts: list[tuple[int, int, str]]
) -> None:
    """Random splices into a valid message: every one is answered AA, AE or AR; an AE/AR writes
    nothing, an AA writes the whole message (patient, report and observation together)."""
    text = GOOD.format(id=f"FUZZ{next(_FUZZ_IDS)}", n=5)  # a fresh id: no example is a resend
    for position, length, insert in cuts:
        position = min(position, len(text))
        text = text[:position] + insert + text[position + length :]
    before = {kind: await versions(store, kind) for kind in ("Patient", "DiagnosticReport", "Observation")}
    letters = len(await dead_letters.list_all(store))
    [ack] = await send_messages("127.0.0.1", listener.port, [text])
    code = ack_code(ack)
    assert code in ("AA", "AE", "AR"), ack
    after = {kind: await versions(store, kind) for kind in before}
    if code == "AA":
        assert len(await dead_letters.list_all(store)) == letters
    else:
        assert after == before
        assert len(await dead_letters.list_all(store)) == letters + 1
