"""Original-mode acknowledgements (ACK): MSA-1 AA, AE (with ERR) or AR.

The ACK answers in the standard encoding characters whatever the message declared, mirrors the
sender and receiver of MSH-3..6, and echoes the control id (MSA-2) the sender waits for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from ember.hl7v2.message import Message

_SEPARATOR = "|"
_UNSAFE = str.maketrans({"|": " ", "^": " ", "~": " ", "\\": " ", "&": " ", "\r": " ", "\n": " "})
ACCEPT, ERROR, REJECT = "AA", "AE", "AR"


@dataclass(frozen=True, slots=True)
class ErrorDetail:
    """What an ERR segment says: where (segment, sequence, field), a table 0357 code, and why."""

    text: str
    code: str = "207"
    segment: str = ""
    sequence: int = 0
    field: int = 0


def acknowledgement(message: Message | None, code: str, error: ErrorDetail | None = None, control_id: str = "") -> str:
    """The ACK text (segments separated by CR) for `message`; `message` is None when it could not
    be parsed, and the ACK then carries `control_id` (whatever could be read of MSH-10)."""
    header = message.header if message is not None else None
    sender = [header.value(n) if header else "" for n in (3, 4, 5, 6)]
    trigger = message.trigger_event if message else ""
    version = (message.version if message else "") or "2.5"
    msh = [
        "MSH",
        "^~\\&",
        _safe(sender[2]) or "EMBER",
        _safe(sender[3]),
        _safe(sender[0]),
        _safe(sender[1]),
        datetime.now(UTC).strftime("%Y%m%d%H%M%S+0000"),
        "",
        f"ACK^{_safe(trigger)}^ACK" if trigger else "ACK",
        f"ACK{_safe(message.control_id if message else control_id)[:16]}",
        (header.value(11) if header else "") or "P",
        _safe(version),
    ]
    segments = [
        _SEPARATOR.join(msh),
        _SEPARATOR.join(["MSA", code, _safe(message.control_id if message else control_id)]),
    ]
    if error is not None:
        segments.append(_err(error))
    return "\r".join(segments) + "\r"


def _err(error: ErrorDetail) -> str:
    """ERR with v2.5+ fields (ERR-2 location, ERR-3 code, ERR-4 severity, ERR-8 user message) and
    the v2.3 ERR-1 (location^^^code&text) that older receivers read."""
    text = _safe(error.text)[:200].replace("^", " ")
    location = f"{error.segment}^{error.sequence or ''}^{error.field or ''}" if error.segment else ""
    legacy = f"{location}^{error.code}&{text}" if location else f"^^^{error.code}&{text}"
    code = f"{error.code}^{text}^HL70357"
    return _SEPARATOR.join(["ERR", legacy, location, code, "E", "", "", "", text])


def _safe(value: str) -> str:
    """A value with the ACK's own delimiters removed, so echoing the sender cannot break it."""
    return value.translate(_UNSAFE).strip()


def ack_code(ack: str) -> str:
    """MSA-1 of an ACK text ('' when there is none): what a sender checks."""
    for segment in ack.replace("\n", "\r").split("\r"):
        if segment.startswith("MSA"):
            parts = segment.split(segment[3]) if len(segment) > 3 else []
            return parts[1] if len(parts) > 1 else ""
    return ""
