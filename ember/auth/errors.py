"""OAuth 2.0 error responses (RFC 6749 section 5.2): the authorization server's endpoints
answer in OAuth's JSON, not as FHIR OperationOutcomes, because OAuth clients parse `error`."""

from __future__ import annotations

from starlette.responses import JSONResponse

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class OAuthError(Exception):
    """`error` is the RFC 6749 / 7591 code, `description` a human-readable reason."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status

    def response(self) -> JSONResponse:
        headers = dict(NO_STORE)
        if self.status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="ember"'
        body = {"error": self.error, "error_description": self.description}
        return JSONResponse(body, self.status, headers=headers)
