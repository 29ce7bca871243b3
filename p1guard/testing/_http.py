"""HTTP building blocks of the mock's endpoints: OAuth errors, JSON, forms, pages, redirects.

Rules:
1. OAuth errors are RFC 6749 JSON ``{"error", "error_description"}``.
2. A parameter may appear once (RFC 6749 §3.1): a repeated one is ``invalid_request``.
3. Pages escape and redirects URL-encode every value they echo; pages are never cached.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit, urlunsplit

from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request, Response

__all__ = [
    "NO_STORE",
    "OAuthError",
    "add_params",
    "error_page",
    "error_response",
    "form_post_page",
    "html_page",
    "json_response",
    "parse_basic",
    "read_form",
    "read_params",
    "required",
]

NO_STORE: Mapping[str, str] = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class OAuthError(Exception):
    """An RFC 6749 error answer.

    >>> raise OAuthError(400, "invalid_grant", "code expired")     # doctest: +SKIP
    """

    def __init__(
        self,
        status: int,
        error: str,
        description: str,
        *,
        basic: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(error)
        self.status, self.error, self.description, self.basic = status, error, description, basic
        #: Extra response headers (e.g. ``DPoP-Nonce``).
        self.headers: dict[str, str] = dict(headers or {})


def json_response(
    body: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """A JSON answer."""
    return Response(
        json.dumps(body), status=status, headers=dict(headers or {}), mimetype="application/json"
    )


def error_response(status: int, error: str, description: str, **headers: str) -> Response:
    """An RFC 6749 JSON error answer."""
    return json_response({"error": error, "error_description": description}, status, headers)


def html_page(title: str, text: str, status: int = 200, body: str = "") -> Response:
    """A tiny HTML page: ``title`` and ``text`` are escaped, ``body`` is trusted markup."""
    page = (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"</head><body><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p>{body}</body></html>"
    )
    return Response(page, status=status, headers=dict(NO_STORE), mimetype="text/html")


def error_page(request: Request, error: str, description: str, status: int = 400) -> Response:
    """An error the browser shows instead of a redirect: HTML for browsers, else JSON."""
    accept = request.accept_mimetypes
    if accept.best_match(["application/json", "text/html"]) == "text/html":
        return html_page(f"Error: {error}", description, status)
    return error_response(status, error, description, **NO_STORE)


def form_post_page(uri: str, params: Mapping[str, str]) -> Response:
    """OAuth 2.0 Form Post Response Mode: a page that POSTs ``params`` to ``uri`` by itself."""
    fields = "".join(
        f'<input type="hidden" name="{html.escape(name)}" value="{html.escape(value)}">'
        for name, value in params.items()
    )
    body = (
        f'<form method="post" action="{html.escape(uri)}">{fields}'
        '<noscript><button type="submit">Continue</button></noscript></form>'
        "<script>document.forms[0].submit()</script>"
    )
    return html_page("Submit this form", "Signing you in…", body=body)


def add_params(uri: str, params: Mapping[str, str], *, fragment: bool = False) -> str:
    """``uri`` with ``params`` added to its query (or set as its fragment).

    >>> add_params("https://app/cb?x=1", {"code": "c"})
    'https://app/cb?x=1&code=c'
    """
    parts = urlsplit(uri)
    if fragment:
        return urlunsplit(parts._replace(fragment=urlencode(params)))
    query = [*parse_qsl(parts.query, keep_blank_values=True), *params.items()]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _single(values: MultiDict[str, str]) -> dict[str, str]:
    for name in values:
        if len(values.getlist(name)) > 1:
            raise OAuthError(400, "invalid_request", f"repeated parameter: {name}")
    return dict(values.items())


def read_form(request: Request) -> dict[str, str]:
    """The ``application/x-www-form-urlencoded`` body, each parameter once."""
    if request.mimetype != "application/x-www-form-urlencoded":
        raise OAuthError(
            400, "invalid_request", "expected an application/x-www-form-urlencoded body"
        )
    try:
        form = request.form
    except HTTPException:
        raise OAuthError(400, "invalid_request", "unreadable form body") from None
    return _single(form)


def read_params(request: Request) -> dict[str, str]:
    """Query parameters of a GET, form body of a POST (authorize, userinfo, signoff)."""
    if request.method == "POST":
        return read_form(request)
    return _single(request.args)


def required(params: Mapping[str, str], name: str) -> str:
    """``params[name]``, or ``invalid_request`` when it is missing or empty."""
    value = params.get(name)
    if not value:
        raise OAuthError(400, "invalid_request", f"missing parameter: {name}")
    return value


def parse_basic(header: str) -> tuple[str, str]:
    """Client id and secret of an ``Authorization: Basic`` header (form-urlencoded parts)."""
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic":
        raise OAuthError(401, "invalid_client", "unsupported authorization scheme", basic=True)
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise OAuthError(401, "invalid_client", "malformed basic credentials", basic=True) from None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise OAuthError(401, "invalid_client", "malformed basic credentials", basic=True)
    return unquote_plus(client_id), unquote_plus(secret)
