"""The MLLP listener: an asyncio TCP server, one task per connection, many connections.

Each frame is handed to the `Ingestor`, and the ACK is written back only when it returns, that
is after the message's writes committed. A framing error gets an AR acknowledgement and is
logged; one that leaves the stream unsynchronised (an oversized or truncated frame) also
closes that connection. Nothing a peer sends can stop the listener: errors stay in the task of
their connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from ember.hl7v2.ack import ERROR, REJECT, ErrorDetail, acknowledgement
from ember.hl7v2.ingest import Ingestor
from ember.hl7v2.mllp import FramingError, frame, read_frame

log = logging.getLogger("ember.hl7v2")

#: Seconds a connection may stay silent before it is closed (senders reconnect).
IDLE_SECONDS = 600.0


class MllpListener:
    """Accepts MLLP connections on `host:port` and feeds their messages to `ingestor`."""

    def __init__(
        self, ingestor: Ingestor, host: str, port: int, *, max_bytes: int = 1 << 20, reuse_port: bool = False
    ) -> None:
        self.ingestor = ingestor
        self.reuse_port = reuse_port
        self.host = host
        self.port = port
        self.max_bytes = max_bytes
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._connection, self.host, self.port, limit=self.max_bytes, reuse_port=self.reuse_port or None
        )
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("HL7 v2 MLLP listener on %s:%s", self.host, self.port)

    async def serve_forever(self) -> None:
        await self.start()
        assert self._server is not None
        async with self._server:
            await self._server.serve_forever()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        try:
            while await self._exchange(reader, writer, peer):
                pass
        except (ConnectionError, TimeoutError, asyncio.IncompleteReadError) as failure:
            log.info("HL7 v2 connection from %s ended: %s", peer, failure)
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _answer(self, body: bytes) -> str:
        """The ACK for one message. The listener is an edge: an unexpected failure (a bug, the
        database gone) is logged and answered AE, never left without an answer."""
        try:
            return (await self.ingestor.receive(body)).ack
        except Exception:  # noqa: BLE001 - the edge: the sender must get an answer
            log.exception("HL7 v2 message could not be processed")
            return acknowledgement(None, ERROR, ErrorDetail("Application internal error; resend later", "207"))

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: object) -> bool:
        """Read one frame and answer it; False when the connection should close."""
        try:
            body = await asyncio.wait_for(read_frame(reader, self.max_bytes), IDLE_SECONDS)
        except FramingError as failure:
            log.warning("HL7 v2 framing error from %s: %s", peer, failure)
            writer.write(frame(acknowledgement(None, REJECT, ErrorDetail(str(failure), "100"))))
            await writer.drain()
            return not failure.fatal
        if body is None:
            return False
        writer.write(frame(await self._answer(body)))
        await writer.drain()
        return True
