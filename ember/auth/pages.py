"""The server-rendered pages of the authorization flow: plain HTML forms that work without
JavaScript. Every value is escaped; every form carries the flow id and its CSRF token."""

from __future__ import annotations

from html import escape

from starlette.responses import HTMLResponse

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem}"
    "label{display:block;margin:.6rem 0}input[type=text],input[type=password]{width:100%;padding:.4rem}"
    "button{padding:.5rem 1.2rem;margin-right:.5rem}.error{color:#a00}"
)
_SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline';",
    "Referrer-Policy": "no-referrer",
}


def page(title: str, body: str, status: int = 200) -> HTMLResponse:
    html = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f'<meta name="viewport" content="width=device-width"><style>{_STYLE}</style></head>'
        f"<body><h1>{escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(html, status, headers=_SECURITY_HEADERS)


def _hidden(flow: str, csrf: str) -> str:
    return (
        f'<input type="hidden" name="flow" value="{escape(flow)}">'
        f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
    )


def _error(message: str | None) -> str:
    return f'<p class="error" role="alert">{escape(message)}</p>' if message else ""


def login_page(flow: str, csrf: str, client_name: str, message: str | None = None, status: int = 200) -> HTMLResponse:
    body = (
        f"<p><strong>{escape(client_name)}</strong> asks to access your health records.</p>{_error(message)}"
        f'<form method="post" action="login">{_hidden(flow, csrf)}'
        '<label>User name <input type="text" name="username" autocomplete="username" required></label>'
        '<label>Password <input type="password" name="password" autocomplete="current-password" required></label>'
        '<button type="submit">Sign in</button></form>'
    )
    return page("Sign in to Ember", body, status)


def patient_picker(flow: str, csrf: str, patients: list[tuple[str, str]], message: str | None = None) -> HTMLResponse:
    choices = "".join(
        f'<label><input type="radio" name="patient" value="{escape(pid)}"> {escape(name)} ({escape(pid)})</label>'
        for pid, name in patients
    )
    body = (
        f"<p>Choose the patient the app will work with.</p>{_error(message)}"
        f'<form method="post" action="patient">{_hidden(flow, csrf)}{choices}'
        '<label>or Patient id <input type="text" name="patient_id"></label>'
        '<button type="submit">Continue</button></form>'
    )
    return page("Select a patient", body)


def consent_page(flow: str, csrf: str, client_name: str, scopes: list[str], patient: str | None) -> HTMLResponse:
    boxes = "".join(
        f'<label><input type="checkbox" name="scope" value="{escape(scope)}" checked> '
        f"<code>{escape(scope)}</code></label>"
        for scope in scopes
    )
    about = f" for patient <strong>{escape(patient)}</strong>" if patient else ""
    body = (
        f"<p><strong>{escape(client_name)}</strong> asks for these permissions{about}. "
        "Untick any you do not want to grant.</p>"
        f'<form method="post" action="consent">{_hidden(flow, csrf)}{boxes}'
        '<button type="submit" name="decision" value="approve">Allow</button>'
        '<button type="submit" name="decision" value="deny">Deny</button></form>'
    )
    return page("Authorize app", body)


def error_page(message: str, status: int = 400) -> HTMLResponse:
    """For errors that must not be redirected to the client (unknown client, bad redirect_uri)."""
    return page("Authorization error", _error(message), status)
