"""HL7 v2 ingest over MLLP: messages/s and ACK latency, next to a ceiling from the same run.

Four concurrent MLLP connections each send messages one after the other (the next only after
the ACK of the previous, as a real sender does) for a bounded time, to:
  - `ember hl7 listen` (one process) and `ember serve --workers 2` with the listener enabled (each
    worker binds the MLLP port with SO_REUSEPORT) on a scratch database (the real path: parse,
    map, FHIR transaction with the control-id record, commit, then ACK), for ADT^A01 and for
    ORU^R01 with 10 OBX;
  - an MLLP echo server in its own process that ACKs without processing (the ceiling: framing,
    loopback and the load generator, which shares the 2 cores);
  - the same messages through the Ingestor in this process, one at a time, no socket (what the
    processing itself costs: parse, map, FHIR transaction, commit).
Every message has its own control id and its own patient / order numbers, so nothing is a
resend. Durability is the default (SQLite synchronous=FULL: fsync on every commit).

    .venv/bin/python -m bench.hl7v2 [--seconds 6] [--connections 4] [--backends sqlite postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench._server import free_port, scratch_database, stop_group
from ember.hl7v2.ack import ack_code
from ember.hl7v2.ingest import Ingestor
from ember.hl7v2.mllp import END, frame, read_frame
from ember.settings import Settings
from ember.store import create_store

_IDS = itertools.count()
MessageMaker = Callable[[int], str]

ADT = (
    "MSH|^~\\&|REG|NORTH|EMBER|HUB|20240102030405+0100||ADT^A01^ADT_A01|A{n}|P|2.5\r"
    "EVN|A01|20240102030405\r"
    "PID|1||M{n}^^^NORTH&1.2.3.4&ISO^MR||Doe^Jane^Q||19700101|F|||1 Main St^^Town^ST^11111^US^H||555-0101\r"
    "NK1|1|Doe^John|SPO^Spouse^HL70063\r"
    "PV1|1|I|W1^101^A||||1234^Welby^Marcus|||||||||||||V{n}^^^NORTH^VN|||||||||||||||||||||||||20240102030000\r"
    "AL1|1|DA|70618^Penicillin^RXNORM|SV|hives\r"
    "DG1|1|I10|J45^Asthma^I10||20230101\r"
)
_OBX = "OBX|{i}|NM|{code}^Analyte {i}^LN||{value}|mmol/L^^UCUM|3.5-5.5|{flag}|||F|||20240102020000\r"


def oru(n: int) -> str:
    results = "".join(
        _OBX.format(i=i, code=f"{2300 + i}-{i % 10}", value=f"{4 + i / 10:.1f}", flag="H" if i > 8 else "N")
        for i in range(1, 11)
    )
    return (
        f"MSH|^~\\&|LAB|NORTH|EMBER|HUB|20240102030405+0100||ORU^R01^ORU_R01|O{n}|P|2.5.1\r"
        f"PID|1||M{n}^^^NORTH&1.2.3.4&ISO^MR||Doe^Jane||19700101|F\r"
        f"OBR|1|P{n}^NORTH|F{n}^LAB|24331-1^Panel^LN|||20240102020000||||||||||||||||||F\r{results}"
    )


def adt(n: int) -> str:
    return ADT.format(n=n)


async def _connection(port: int, make: MessageMaker, deadline: float, latencies: list[float]) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
    sent = 0
    try:
        while time.perf_counter() < deadline:
            message = make(next(_IDS))
            start = time.perf_counter()
            writer.write(frame(message))
            await writer.drain()
            ack = await reader.readuntil(END)
            latencies.append(time.perf_counter() - start)
            if ack_code(ack[1:-2].decode()) != "AA":
                raise RuntimeError(f"not accepted: {ack[:300]!r}")
            sent += 1
    finally:
        writer.close()
    return sent


async def _load(port: int, make: MessageMaker, seconds: float, connections: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    start = time.perf_counter()
    counts = await asyncio.gather(*(_connection(port, make, start + seconds, latencies) for _ in range(connections)))
    return sum(counts) / (time.perf_counter() - start), latencies


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000


def _wait_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"listener exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("listener did not start")


def _start(command: list[str], port: int, log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True, env={**os.environ, **env}
        )
    _wait_listening(port, process)
    return process


def measure(
    name: str, command: list[str], port: int, log: Path, args: argparse.Namespace, env: dict[str, str] | None = None
) -> None:
    seconds, connections = args.seconds, args.connections
    process = _start(command, port, log, env or {})
    try:
        for label, make in (("ADT^A01", adt), ("ORU^R01 (10 OBX)", oru)):
            rate, latencies = asyncio.run(_load(port, make, seconds, connections))
            p50, p99 = _percentile(latencies, 0.5), _percentile(latencies, 0.99)
            print(f"{name:<28} {label:<18} {rate:>9,.0f} msg/s   ACK p50 {p50:6.1f} ms   p99 {p99:6.1f} ms")
    finally:
        stop_group(process)


async def echo_server(port: int) -> None:
    """The ceiling: answer every frame with an AA at once, reading nothing but MSH-10."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (body := await read_frame(reader, 1 << 20)) is not None:
            control_id = body.split(b"\r", 1)[0].split(b"|")[9].decode()
            writer.write(frame(f"MSH|^~\\&|ECHO||||||ACK|{control_id}|P|2.5\rMSA|AA|{control_id}\r"))
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", port, limit=1 << 20)
    async with server:
        await server.serve_forever()


async def _in_process(url: str, make: MessageMaker, seconds: float) -> float:
    store = create_store(Settings(database_url=url))
    await store.open()
    try:
        ingestor, count = Ingestor(store), 0
        start = time.perf_counter()
        while time.perf_counter() < start + seconds:
            outcome = await ingestor.receive(make(next(_IDS)).encode())
            if outcome.code != "AA":
                raise RuntimeError(outcome.ack)
            count += 1
        return count / (time.perf_counter() - start)
    finally:
        await store.close()


def measure_in_process(backend: str, url: str, seconds: float) -> None:
    for label, make in (("ADT^A01", adt), ("ORU^R01 (10 OBX)", oru)):
        rate = asyncio.run(_in_process(url, make, seconds))
        print(f"{'in-process Ingestor (' + backend + ')':<28} {label:<18} {rate:>9,.0f} msg/s   (one at a time)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--backends", nargs="+", default=["sqlite"], choices=["sqlite", "postgres"])
    parser.add_argument("--echo", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.echo:
        asyncio.run(echo_server(args.echo))
        return
    print(f"{args.connections} MLLP connections, {args.seconds:.0f} s per measure, one message per round trip")
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        port = free_port()
        echo = [sys.executable, "-m", "bench.hl7v2", "--echo", str(port)]
        measure("ceiling: MLLP echo (no work)", echo, port, directory / "echo.log", args)
        for backend in args.backends:
            with scratch_database(backend, directory) as url:
                measure_in_process(backend, url, args.seconds)
                port = free_port()
                listen = [sys.executable, "-m", "ember", "hl7", "listen", "--port", str(port), "--database", url]
                measure(f"ember hl7 listen ({backend})", listen, port, directory / f"{backend}.log", args)
                port, http_port = free_port(), free_port()
                serve = [sys.executable, "-m", "ember", "serve", "--port", str(http_port), "--database", url]
                serve += ["--workers", "2"]
                env = {"EMBER_HL7_MLLP_PORT": str(port)}
                measure(
                    f"ember serve, 2 workers ({backend})", serve, port, directory / f"serve-{backend}.log", args, env
                )


if __name__ == "__main__":
    main()
