"""MLLP framing (HL7 v2 over TCP): <VT> message <FS><CR>, and a small client to send with.

The reader never trusts the peer: a frame larger than `max_bytes`, or bytes outside a frame,
are a framing error the listener answers and logs; they never grow memory without bound.
"""

from __future__ import annotations

import asyncio

START, END = b"\x0b", b"\x1c\x0d"
DEFAULT_PORT = 2575


class FramingError(Exception):
    """Bytes that are not an MLLP frame; `fatal` when the connection cannot be resynchronised."""

    def __init__(self, text: str, fatal: bool = False) -> None:
        super().__init__(text)
        self.fatal = fatal


def frame(message: str | bytes) -> bytes:
    body = message.encode() if isinstance(message, str) else message
    return START + body + END


async def read_frame(reader: asyncio.StreamReader, max_bytes: int) -> bytes | None:
    """The next message body, None at a clean end of stream, FramingError otherwise."""
    try:
        data = await reader.readuntil(END)
    except asyncio.IncompleteReadError as partial:
        if partial.partial.strip():
            raise FramingError("The connection closed in the middle of a frame", fatal=True) from None
        return None
    except asyncio.LimitOverrunError:
        raise FramingError(f"Frame larger than {max_bytes} bytes", fatal=True) from None
    start = data.find(START)
    if start < 0:
        raise FramingError("Data outside an MLLP frame (no start block <VT>)")
    if data[:start].strip():
        raise FramingError("Data before the MLLP start block")
    return data[start + 1 : -len(END)]


async def send_messages(
    host: str, port: int, messages: list[str], *, timeout: float = 30.0, max_bytes: int = 1 << 20
) -> list[str]:
    """Send `messages` one at a time over one connection; the ACK text of each, in order."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port, limit=max_bytes), timeout)
    acks = []
    try:
        for message in messages:
            writer.write(frame(message))
            await writer.drain()
            body = await asyncio.wait_for(read_frame(reader, max_bytes), timeout)
            if body is None:
                raise FramingError("The listener closed the connection without an acknowledgement", fatal=True)
            acks.append(body.decode("utf-8", "replace"))
    finally:
        writer.close()
        await writer.wait_closed()
    return acks


def split_messages(text: str) -> list[str]:
    """The messages of a file: each starts at an MSH segment (blank lines and FHS/BHS batch
    envelopes between them are dropped)."""
    text = text.replace("\r\n", "\r").replace("\n", "\r")
    messages: list[list[str]] = []
    for segment in text.split("\r"):
        if segment.startswith("MSH"):
            messages.append([segment])
        elif segment.strip() and messages and segment[:3] not in ("FTS", "BTS", "FHS", "BHS"):
            messages[-1].append(segment)
    return ["\r".join(segments) + "\r" for segments in messages]
