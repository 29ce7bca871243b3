"""Responses of the login routes: content negotiation, small HTML pages, error answers (private).

Rules:

1. Pages and error answers are never cached (``Cache-Control: no-store``), never framed, load
   nothing (``Content-Security-Policy: default-src 'none'; frame-ancestors 'none'``) and send no
   ``Referer`` (the callback URL carries the authorization code).
2. Only an error's ``error``/``error_description`` reach the client, HTML-escaped; never the
   exception text or the request's parameters.
3. HTML is the default; JSON when the client ranks ``application/json`` above ``text/html``.
"""

from __future__ import annotations

from html import escape

from starlette.requests import HTTPConnection
from starlette.responses import HTMLResponse, JSONResponse, Response

from p1guard import ProviderUnavailable
from p1guard.rp import LoginError

__all__ = ["error_response", "logout_page", "prefers_json", "wants_html"]

PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Vary": "Accept",
}

_STYLE = "body{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem}"


def _quality(accept: str, media_type: str) -> float:
    """The q-value ``accept`` gives exactly ``media_type`` (0 when it is not listed)."""
    best = 0.0
    for part in accept.split(","):
        name, _, params = part.strip().partition(";")
        if name.strip().lower() != media_type:
            continue
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        best = max(best, q)
    return best


def wants_html(conn: HTTPConnection) -> bool:
    """Whether the client is a browser navigating: its ``Accept`` names ``text/html``."""
    return "text/html" in conn.headers.get("accept", "").lower()


def prefers_json(conn: HTTPConnection) -> bool:
    """Whether the client ranks ``application/json`` above ``text/html`` (rule 3)."""
    accept = conn.headers.get("accept", "")
    return _quality(accept, "application/json") > _quality(accept, "text/html")


def page(title: str, body_html: str, status_code: int = 200) -> HTMLResponse:
    """A minimal HTML page; ``body_html`` must already be escaped."""
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><h1>{escape(title)}</h1>{body_html}</body></html>"
    )
    return HTMLResponse(html, status_code=status_code, headers=PAGE_HEADERS)


def error_response(
    conn: HTTPConnection, err: LoginError | ProviderUnavailable, *, retry_url: str
) -> Response:
    """A 400 (:class:`LoginError`) or 503 (:class:`ProviderUnavailable`) answer (rule 2)."""
    headers = dict(PAGE_HEADERS)
    if isinstance(err, ProviderUnavailable):
        headers.update(err.headers)
        title = "Sign-in is unavailable"
    else:
        title = "Sign-in failed"
    if prefers_json(conn):
        return JSONResponse(err.body, status_code=err.status_code, headers=headers)
    body = err.body
    response = page(
        title,
        f"<p>{escape(body['error_description'])}</p>"
        f"<p><small>Error code: <code>{escape(body['error'])}</code></small></p>"
        f'<p><a href="{escape(retry_url)}">Try again</a></p>',
        err.status_code,
    )
    response.headers.update(headers)
    return response


def logout_page(action: str, csrf: str) -> HTMLResponse:
    """The sign-out confirmation: a form POSTing the session's CSRF token to ``action``."""
    return page(
        "Sign out",
        "<p>Do you want to sign out?</p>"
        f'<form method="post" action="{escape(action)}">'
        f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
        '<button type="submit">Sign out</button></form>',
    )
