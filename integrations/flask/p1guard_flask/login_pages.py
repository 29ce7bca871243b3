"""How the sign-in routes and ``@login_required`` answer: small HTML pages or JSON.

Pages show only fixed text and a :class:`~p1guard.rp.LoginError`'s safe ``error`` and
``description`` (escaped); never exception text. Every answer is ``Cache-Control: no-store``;
pages may not be framed (``frame-ancestors 'none'``: no clickjacking of the sign-out button).
"""

from __future__ import annotations

import json
from html import escape

from flask import Response, redirect, request
from werkzeug.wrappers import Response as BaseResponse

from p1guard import ProviderUnavailable
from p1guard.bearer import error_response
from p1guard.rp import LoginError

__all__ = [
    "confirm_logout_page",
    "login_error_response",
    "login_required_response",
    "no_store_redirect",
    "prefers_json",
    "unavailable_response",
    "wants_html",
]

_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Vary": "Accept",
}


def wants_html() -> bool:
    """Whether the client is a browser: its ``Accept`` names ``text/html`` (not just ``*/*``).

    >>> wants_html()                                                # doctest: +SKIP
    True
    """
    html = ("text/html", "application/xhtml+xml")
    return any(value in html and quality > 0 for value, quality in request.accept_mimetypes)


def prefers_json() -> bool:
    """Whether the client ranks ``application/json`` above ``text/html`` (HTML wins ties).

    >>> prefers_json()                                              # doctest: +SKIP
    False
    """
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def _page(title: str, content: str, status: int, headers: dict[str, str] | None = None) -> Response:
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title></head><body><h1>{escape(title)}</h1>{content}</body></html>"
    )
    return Response(html, status=status, headers={**(headers or {}), **_PAGE_HEADERS})


def _json(body: dict[str, str], status: int, headers: dict[str, str] | None = None) -> Response:
    all_headers = {**(headers or {}), "Cache-Control": "no-store", "Vary": "Accept"}
    return Response(
        json.dumps(body), status=status, headers=all_headers, mimetype="application/json"
    )


def no_store_redirect(location: str) -> BaseResponse:
    """A 302 to ``location`` that no cache keeps.

    >>> no_store_redirect("/orders").headers["Location"]           # doctest: +SKIP
    '/orders'
    """
    response = redirect(location, code=302)
    response.headers["Cache-Control"] = "no-store"
    return response


def login_error_response(err: LoginError, *, title: str, retry_url: str) -> Response:
    """400: an HTML page (JSON ``err.body`` when the client prefers JSON) with a retry link.

    >>> login_error_response(err, title="Sign-in failed", retry_url="/auth/login")  # doctest: +SKIP
    <Response 400 BAD REQUEST>
    """
    if prefers_json():
        return _json(err.body, err.status_code)
    content = (
        f"<p>{escape(err.description)}</p><p>Error code: <code>{escape(err.error)}</code></p>"
        f'<p><a href="{escape(retry_url)}">Try again</a></p>'
    )
    return _page(title, content, err.status_code)


def unavailable_response(err: ProviderUnavailable) -> Response:
    """503 with the error's headers (``Retry-After``): a page, or its JSON body.

    >>> unavailable_response(ProviderUnavailable()).status_code    # doctest: +SKIP
    503
    """
    if prefers_json() or not wants_html():
        status, headers, body = error_response(err)
        return Response(body, status=status, headers=headers)
    content = "<p>Signing in is unavailable right now. Please try again in a moment.</p>"
    return _page("Try again shortly", content, err.status_code, err.headers)


def login_required_response(login_url: str) -> BaseResponse:
    """The answer to a visitor who is not signed in: browsers go to ``login_url``, APIs get 401.

    >>> login_required_response("/auth/login?return_to=/orders").status_code  # doctest: +SKIP
    302
    """
    if wants_html():
        response = no_store_redirect(login_url)
        response.headers["Vary"] = "Accept"
        return response
    body = {"error": "login_required", "error_description": "Sign in to use this page"}
    return _json(body, 401)


def confirm_logout_page(action: str, csrf: str) -> Response:
    """The ``GET …/logout`` page: a button that posts the session's CSRF token to ``action``.

    >>> confirm_logout_page("/auth/logout", csrf_token).status_code  # doctest: +SKIP
    200
    """
    content = (
        "<p>Do you want to sign out?</p>"
        f'<form method="post" action="{escape(action)}">'
        f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
        '<button type="submit">Sign out</button></form>'
    )
    return _page("Sign out", content, 200)
