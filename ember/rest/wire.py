"""The bytes of an HTTP response, sent straight as ASGI messages.

Starlette's Response re-encodes and re-checks its headers on every request; on a FHIR read
that bookkeeping cost as much as the database lookup, so the FHIR endpoint sends its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.types import Receive, Scope, Send


@dataclass(slots=True)
class WireResponse:
    """Header names are lower-case already (HTTP/2 requires it; HTTP/1.1 does not care)."""

    status: int
    body: bytes = b""
    media_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def head_only(self) -> WireResponse:
        """The same response without its body (HEAD): the headers still describe it."""
        return WireResponse(self.status, b"", self.media_type, {**self.headers, "content-length": str(len(self.body))})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in self.headers.items()]
        if self.media_type is not None:
            raw.append((b"content-type", self.media_type.encode("latin-1")))
        if "content-length" not in self.headers:
            raw.append((b"content-length", str(len(self.body)).encode("latin-1")))
        await send({"type": "http.response.start", "status": self.status, "headers": raw})
        await send({"type": "http.response.body", "body": self.body})
