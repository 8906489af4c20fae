"""Reading `application/x-www-form-urlencoded` bodies without a multipart dependency: every
OAuth endpoint and page form posts this encoding, and a size cap keeps the edge safe."""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request

from ember.auth.errors import OAuthError

_MAX_FORM_BYTES = 64 * 1024


async def read_form(request: Request) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """The last value of each field, and every (name, value) pair (for repeated checkboxes)."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        raise OAuthError("invalid_request", "The body must be application/x-www-form-urlencoded")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > _MAX_FORM_BYTES:
            raise OAuthError("invalid_request", "The form is too large", 413)
    try:
        pairs = parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise OAuthError("invalid_request", "The form is not UTF-8") from None
    return dict(pairs), pairs
