"""How the sign-in routes and :func:`~p1guard_django.login.login_required` answer: small HTML
pages or JSON.

Pages show fixed text and a :class:`~p1guard.rp.LoginError`'s safe ``error`` and
``description`` (escaped); never exception text. Every answer is ``Cache-Control: no-store``;
pages may not be framed (``frame-ancestors 'none'``: no clickjacking of the sign-out button).
"""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.html import format_html
from django.utils.safestring import SafeString

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
    "Content-Security-Policy": "default-src 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Vary": "Accept",
}
_HTML = ("text/html", "application/xhtml+xml")


def _accepted(request: HttpRequest) -> list[tuple[str, float]]:
    """``(media type, quality)`` pairs of the ``Accept`` header (malformed ``q`` counts as 0)."""
    pairs = []
    for item in request.headers.get("Accept", "").split(","):
        media, *params = (part.strip() for part in item.split(";"))
        if not media:
            continue
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        pairs.append((media.lower(), quality))
    return pairs


def _quality(pairs: list[tuple[str, float]], media: str) -> float:
    """The quality of ``media``: from its own entry, else ``type/*``, else ``*/*``."""
    ranks = {media: 3, media.split("/")[0] + "/*": 2, "*/*": 1}
    best, quality = 0, 0.0
    for name, q in pairs:
        rank = ranks.get(name, 0)
        if rank > best:
            best, quality = rank, q
    return quality


def wants_html(request: HttpRequest) -> bool:
    """Whether the client is a browser: its ``Accept`` names ``text/html`` (not just ``*/*``).

    >>> wants_html(request)                                      # doctest: +SKIP
    True
    """
    return any(media in _HTML and q > 0 for media, q in _accepted(request))


def prefers_json(request: HttpRequest) -> bool:
    """Whether the client ranks ``application/json`` above ``text/html`` (HTML wins ties).

    >>> prefers_json(request)                                    # doctest: +SKIP
    False
    """
    pairs = _accepted(request)
    return _quality(pairs, "application/json") > _quality(pairs, "text/html")


def _page(
    title: str, content: SafeString, status: int, headers: dict[str, str] | None = None
) -> HttpResponse:
    html = format_html(
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>{}</title></head><body><h1>{}</h1>{}</body></html>",
        title,
        title,
        content,
    )
    return HttpResponse(html, status=status, headers={**(headers or {}), **_PAGE_HEADERS})


def _json(body: dict[str, str], status: int, headers: dict[str, str] | None = None) -> HttpResponse:
    all_headers = {**(headers or {}), "Cache-Control": "no-store", "Vary": "Accept"}
    return HttpResponse(
        json.dumps(body), status=status, headers=all_headers, content_type="application/json"
    )


def no_store_redirect(location: str) -> HttpResponseRedirect:
    """A 302 to ``location`` that no cache keeps.

    >>> no_store_redirect("/orders")["Location"]
    '/orders'
    """
    response = HttpResponseRedirect(location)
    response["Cache-Control"] = "no-store"
    return response


def login_error_response(
    request: HttpRequest, err: LoginError, *, title: str, retry_url: str
) -> HttpResponse:
    """400: an HTML page (JSON ``err.body`` when the client prefers JSON) with a retry link.

    >>> login_error_response(request, err, title="Sign-in failed", retry_url="/auth/login")
    ... # doctest: +SKIP
    <HttpResponse status_code=400, "text/html; charset=utf-8">
    """
    if prefers_json(request):
        return _json(err.body, err.status_code)
    content = format_html(
        '<p>{}</p><p>Error code: <code>{}</code></p><p><a href="{}">Try again</a></p>',
        err.description,
        err.error,
        retry_url,
    )
    return _page(title, content, err.status_code)


def unavailable_response(request: HttpRequest, err: ProviderUnavailable) -> HttpResponse:
    """503 with the error's headers (``Retry-After``): a page for browsers, else its JSON body.

    >>> unavailable_response(request, ProviderUnavailable()).status_code  # doctest: +SKIP
    503
    """
    if prefers_json(request) or not wants_html(request):
        status, headers, body = error_response(err)
        return HttpResponse(body, status=status, headers=dict(headers))
    content = format_html("<p>{}</p>", "Signing in is unavailable right now. Please try again.")
    return _page("Try again shortly", content, err.status_code, dict(err.headers))


def login_required_response(request: HttpRequest, login_url: str) -> HttpResponse:
    """Not signed in: browsers go to ``login_url`` (302), API clients get 401 JSON.

    >>> login_required_response(request, "/auth/login?return_to=/orders").status_code
    ... # doctest: +SKIP
    302
    """
    if wants_html(request):
        response = no_store_redirect(login_url)
        response["Vary"] = "Accept"
        return response
    body = {"error": "login_required", "error_description": "Sign in to use this page"}
    return _json(body, 401)


def confirm_logout_page(
    request: HttpRequest, *, action: str, csrf: str, django_csrf: str
) -> HttpResponse:
    """The ``GET …/logout`` page: a button that posts both CSRF tokens to ``action``.

    ``django_csrf`` is Django's (``csrfmiddlewaretoken``, checked by ``CsrfViewMiddleware``),
    ``csrf`` the sign-in session's own (checked by :meth:`~p1guard.rp.WebLogin.logout`).

    >>> confirm_logout_page(request, action="/auth/logout", csrf="…", django_csrf="…")
    ... # doctest: +SKIP
    <HttpResponse status_code=200, "text/html; charset=utf-8">
    """
    content = format_html(
        '<p>Do you want to sign out?</p><form method="post" action="{}">'
        '<input type="hidden" name="csrfmiddlewaretoken" value="{}">'
        '<input type="hidden" name="csrf" value="{}">'
        '<button type="submit">Sign out</button></form>',
        action,
        django_csrf,
        csrf,
    )
    return _page("Sign out", content, 200)
