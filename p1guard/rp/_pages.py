"""What the login routes answer, framework-free: negotiation, small HTML pages, ``/login``'s query.

Every framework adapter (Starlette, FastAPI, Flask, Django) calls these and only converts the
:class:`Answer` (or string, or dict) into its own response object.

>>> negotiate("text/html,application/xhtml+xml,*/*;q=0.8"), negotiate("*/*")
('html', 'json')
>>> login_params({"acr_values": "mfa strong", "max_age": "60", "return_to": "/orders"})
{'acr_values': ['mfa', 'strong'], 'max_age': 60, 'return_to': '/orders'}

Rules:

1. HTML only for clients that ask for it: ``Accept`` names ``text/html`` (or
   ``application/xhtml+xml``) with ``q`` > 0 and does not rank ``application/json`` higher
   (the most specific entry, ``type/*`` or ``*/*``, gives a type its ``q``). Everyone else,
   including clients sending no ``Accept`` or only ``*/*``, gets JSON.
2. Pages and error answers are never cached (``Cache-Control: no-store``), never framed
   (``frame-ancestors 'none'``, ``X-Frame-Options: DENY``), load nothing but their own inline
   style (pinned by its hash), send no ``Referer`` (the callback URL carries the authorization
   code) and are not sniffed. No ``form-action``: the sign-out form's POST is redirected to
   PingOne, which Chromium would block.
3. Only a :class:`~p1guard.rp.LoginError`'s ``error`` and ``description`` reach the client,
   HTML-escaped; never exception text or the request's parameters. PingOne being unreachable
   shows a fixed text (its JSON body is :attr:`~p1guard.ProviderUnavailable.body`).
4. ``/login`` takes ``acr_values`` (space-separated), ``max_age`` (at most 9 ASCII digits),
   ``prompt`` and ``login_hint`` (printable, at most 1024 characters) and ``return_to``; empty
   values are ignored, malformed or repeated ones are a 400 ``invalid_request``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from types import MappingProxyType
from typing import Any, Literal
from urllib.parse import urlencode

from p1guard.errors import InsufficientUserAuthentication, ProviderUnavailable
from p1guard.rp._errors import LoginError

__all__ = [
    "PAGE_HEADERS",
    "REDIRECT_HEADERS",
    "Answer",
    "error_answer",
    "error_page",
    "form_login_page",
    "html_answer",
    "login_params",
    "login_required_answer",
    "login_required_body",
    "logout_page",
    "negotiate",
    "page",
    "prefers_json",
    "redirect_answer",
    "step_up_answer",
    "step_up_login_url",
    "unavailable_page",
    "wants_html",
    "with_custom_html",
]

_STYLE = "body{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem}"
_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()

#: The headers of every page and error answer (rule 2).
PAGE_HEADERS: Mapping[str, str] = MappingProxyType(
    {
        "Cache-Control": "no-store",
        "Content-Security-Policy": (
            f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; frame-ancestors 'none'"
        ),
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Vary": "Accept",
    }
)
#: The headers of every redirect the login routes answer (rule 2): not cached, and — as the
#: same URL may answer a browser with a redirect and an API client with JSON — keyed on Accept.
REDIRECT_HEADERS: Mapping[str, str] = MappingProxyType(
    {"Cache-Control": "no-store", "Vary": "Accept"}
)
_HTML_TYPE = "text/html; charset=utf-8"
_JSON_TYPE = "application/json"
_HTML_MEDIA = ("text/html", "application/xhtml+xml")
_QVALUE = re.compile(r"0(\.[0-9]{0,3})?|1(\.0{0,3})?")
_PASS_THROUGH = ("acr_values", "max_age", "prompt", "login_hint")
_MAX_PARAM = 1024


@dataclass(frozen=True)
class Answer:
    """A complete response: status, headers (with ``Content-Type`` unless a redirect), body.

    >>> answer = login_required_answer("", "/auth/login?return_to=%2Forders")
    >>> answer.status, answer.headers["Content-Type"]
    (401, 'application/json')
    """

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: str = ""

    @property
    def is_html(self) -> bool:
        """Whether the body is an HTML page (not JSON, not an empty redirect)."""
        return self.headers.get("Content-Type", "").startswith("text/html")


# -- content negotiation (rule 1) ---------------------------------------------------------------


def _accept(accept: str) -> list[tuple[str, float]]:
    """``(media type, q)`` pairs; a malformed ``q`` counts as 0."""
    pairs = []
    for item in accept.split(","):
        media, *params = (part.strip() for part in item.split(";"))
        if not media:
            continue
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                value = value.strip()
                q = float(value) if _QVALUE.fullmatch(value) else 0.0
        pairs.append((media.lower(), q))
    return pairs


def _quality(pairs: list[tuple[str, float]], media: str) -> float:
    """The ``q`` of ``media``: from its own entries, else ``type/*``, else ``*/*``."""
    ranks = {media: 3, media.split("/")[0] + "/*": 2, "*/*": 1}
    best, quality = 0, 0.0
    for name, q in pairs:
        rank = ranks.get(name, 0)
        if rank > best:
            best, quality = rank, q
        elif rank == best and rank:
            quality = max(quality, q)
    return quality


def wants_html(accept: str) -> bool:
    """Whether ``accept`` names ``text/html`` (or XHTML) with ``q`` > 0; ``*/*`` is not enough.

    >>> wants_html("text/html;q=0.5"), wants_html("*/*"), wants_html("text/html;q=0")
    (True, False, False)
    """
    return any(media in _HTML_MEDIA and q > 0 for media, q in _accept(accept))


def prefers_json(accept: str) -> bool:
    """Whether ``accept`` ranks ``application/json`` above ``text/html`` (HTML wins ties).

    >>> prefers_json("application/json"), prefers_json("text/html;q=0, */*")
    (True, True)
    """
    pairs = _accept(accept)
    return _quality(pairs, "application/json") > _quality(pairs, "text/html")


def negotiate(accept: str) -> Literal["html", "json"]:
    """``"html"`` when the client asks for HTML and does not prefer JSON, else ``"json"``.

    >>> negotiate(""), negotiate("text/html, application/json;q=0.9")
    ('json', 'html')
    """
    return "html" if wants_html(accept) and not prefers_json(accept) else "json"


# -- pages (rules 2 and 3) ----------------------------------------------------------------------


def page(title: str, body_html: str) -> str:
    """A minimal HTML page; ``title`` is escaped here, ``body_html`` must be already.

    >>> page("Hi <you>", "<p>ok</p>").count("Hi &lt;you&gt;")
    2
    """
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><h1>{escape(title)}</h1>{body_html}</body></html>"
    )


def _retry_link(retry_url: str | None) -> str:
    return f'<p><a href="{escape(retry_url)}">Try again</a></p>' if retry_url else ""


def error_page(err: LoginError, *, retry_url: str | None, title: str = "Sign-in failed") -> str:
    """The page for a refused sign-in: ``err.description``, ``err.error`` and a retry link.

    >>> "&lt;b&gt;" in error_page(LoginError("access_denied", "<b>"), retry_url="/auth/login")
    True
    """
    return page(
        title,
        f"<p>{escape(err.description)}</p>"
        f"<p><small>Error code: <code>{escape(err.error)}</code></small></p>"
        + _retry_link(retry_url),
    )


def unavailable_page(*, retry_url: str | None = None) -> str:
    """The 503 page: a fixed text (rule 3), and a retry link when ``retry_url`` is given.

    >>> "unavailable" in unavailable_page()
    True
    """
    text = "<p>Signing in is unavailable right now. Please try again in a moment.</p>"
    return page("Try again shortly", text + _retry_link(retry_url))


def logout_page(action: str, csrf: str, *, extra_fields: Mapping[str, str] | None = None) -> str:
    """The sign-out confirmation: a form POSTing ``csrf`` (and ``extra_fields``) to ``action``.

    ``extra_fields`` are more hidden fields, e.g. Django's ``csrfmiddlewaretoken``.

    >>> '<input type="hidden" name="csrf" value="t&amp;k">' in logout_page("/auth/logout", "t&k")
    True
    """
    inputs = _hidden({**(extra_fields or {}), "csrf": csrf})
    return page(
        "Sign out",
        f'<p>Do you want to sign out?</p><form method="post" action="{escape(action)}">'
        f'{inputs}<button type="submit">Sign out</button></form>',
    )


def _hidden(fields: Mapping[str, str]) -> str:
    return "".join(
        f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">'
        for name, value in fields.items()
    )


def form_login_page(
    action: str,
    csrf: str,
    form_id: str,
    *,
    step: str = "password_required",
    username: str = "",
    message: str = "",
    login_url: str | None = None,
    extra_fields: Mapping[str, str] | None = None,
) -> str:
    """The app's own sign-in form (``pi.flow``): POSTs ``csrf``, ``form_id`` and the fields of
    ``step`` (a :class:`~p1guard.rp.FormStep` status) to ``action``.

    ``"password_required"`` asks for ``username`` (pre-filled with ``username``) and
    ``password``; ``"new_password_required"`` for the current ``password`` and a
    ``new_password``. ``message`` (e.g. "Wrong username or password") is shown above the form,
    ``login_url`` offers PingOne's own sign-in page instead. Every value is HTML-escaped and no
    password is ever put into the page.

    >>> html = form_login_page("/auth/form", "c", "f", username="<ada>", message="Try again.")
    >>> 'name="username" value="&lt;ada&gt;"' in html, '<p role="alert">Try again.</p>' in html
    (True, True)
    """
    hidden = _hidden({**(extra_fields or {}), "csrf": csrf, "form_id": form_id})
    if step == "new_password_required":
        title, button = "Choose a new password", "Change password and sign in"
        inputs = (
            "<p>PingOne asks you to choose a new password.</p>"
            '<p><label>Current password<br><input type="password" name="password" '
            'autocomplete="current-password" required autofocus></label></p>'
            '<p><label>New password<br><input type="password" name="new_password" '
            'autocomplete="new-password" required></label></p>'
        )
    else:
        title, button = "Sign in", "Sign in"
        focus = "" if username else " autofocus"
        inputs = (
            f'<p><label>Username<br><input type="text" name="username" value="{escape(username)}"'
            f' autocomplete="username" autocapitalize="none" spellcheck="false" required{focus}>'
            "</label></p>"
            '<p><label>Password<br><input type="password" name="password" '
            f'autocomplete="current-password" required{" autofocus" if username else ""}>'
            "</label></p>"
        )
    alert = f'<p role="alert">{escape(message)}</p>' if message else ""
    other = (
        f'<p><small><a href="{escape(login_url)}">Sign in on PingOne\'s page instead</a>'
        "</small></p>"
        if login_url
        else ""
    )
    return page(
        title,
        f'{alert}<form method="post" action="{escape(action)}">{hidden}{inputs}'
        f'<button type="submit">{escape(button)}</button></form>{other}',
    )


def login_required_body(login_url: str) -> dict[str, str]:
    """The 401 JSON body for an API client nobody signed in; names the login route's path.

    >>> login_required_body("/auth/login?return_to=%2Forders")["error_description"]
    'Sign in first: GET /auth/login'
    """
    path = login_url.partition("?")[0]
    return {"error": "login_required", "error_description": f"Sign in first: GET {path}"}


# -- complete answers ---------------------------------------------------------------------------


def html_answer(html: str, status: int = 200) -> Answer:
    """``html`` with :data:`PAGE_HEADERS`, e.g. ``html_answer(logout_page(...))``."""
    return Answer(status, {**PAGE_HEADERS, "Content-Type": _HTML_TYPE}, html)


def _json_answer(body: Mapping[str, str], status: int, headers: Mapping[str, str]) -> Answer:
    text = json.dumps(dict(body), separators=(",", ":"))
    return Answer(status, {**headers, "Content-Type": _JSON_TYPE}, text)


def error_answer(
    err: LoginError | ProviderUnavailable,
    accept: str,
    *,
    retry_url: str | None,
    title: str = "Sign-in failed",
) -> Answer:
    """The answer to a refused sign-in (``err.status_code``, 400 or 403) or PingOne down (503,
    with ``Retry-After``): a page, or ``err.body`` as JSON (rule 1).

    >>> error_answer(LoginError("invalid_state"), "application/json", retry_url=None).body
    '{"error":"invalid_state","error_description":"The sign-in could not be completed"}'
    """
    headers = dict(PAGE_HEADERS)
    if isinstance(err, ProviderUnavailable):
        headers["Retry-After"] = err.headers["Retry-After"]
    if negotiate(accept) == "json":
        return _json_answer(err.body, err.status_code, headers)
    if isinstance(err, ProviderUnavailable):
        html = unavailable_page(retry_url=retry_url)
    else:
        html = error_page(err, retry_url=retry_url, title=title)
    return Answer(err.status_code, {**headers, "Content-Type": _HTML_TYPE}, html)


def with_custom_html(answer: Answer, html: str) -> Answer:
    """``answer`` with the application's own page (e.g. a template) as body: its CSP only
    forbids framing, so the page may load its stylesheets and scripts.

    >>> custom = with_custom_html(html_answer("<p>ours</p>"), "<p>theirs</p>")
    >>> custom.body, custom.headers["Content-Security-Policy"]
    ('<p>theirs</p>', "frame-ancestors 'none'")
    """
    headers = {**answer.headers, "Content-Security-Policy": "frame-ancestors 'none'"}
    return Answer(answer.status, headers, html)


def redirect_answer(location: str, status: int = 302) -> Answer:
    """A redirect to ``location`` with :data:`REDIRECT_HEADERS`.

    >>> redirect_answer("/orders", 303).headers["Location"]
    '/orders'
    """
    return Answer(status, {"Location": location, **REDIRECT_HEADERS})


def login_required_answer(accept: str, login_url: str) -> Answer:
    """Nobody signed in: a 302 to ``login_url`` for browsers, a 401 JSON answer for the rest.

    >>> login_required_answer("text/html", "/auth/login").headers["Location"]
    '/auth/login'
    """
    if negotiate(accept) == "html":
        return redirect_answer(login_url)
    return _json_answer(login_required_body(login_url), 401, PAGE_HEADERS)


def step_up_login_url(login_path: str, err: InsufficientUserAuthentication, return_to: str) -> str:
    """The login route's URL that signs the user in again as ``err`` asks (RFC 9470):
    ``return_to``, then the error's ``acr_values`` (space-separated) and ``max_age``.

    >>> err = InsufficientUserAuthentication(acr_values=["Multi_Factor"], max_age=300)
    >>> step_up_login_url("/auth/login", err, "/transfer")
    '/auth/login?return_to=%2Ftransfer&acr_values=Multi_Factor&max_age=300'
    """
    query = {"return_to": return_to}
    if err.acr_values:
        query["acr_values"] = " ".join(err.acr_values)
    if err.max_age is not None:
        query["max_age"] = str(err.max_age)
    return f"{login_path}?{urlencode(query)}"


def step_up_answer(accept: str, login_url: str, err: InsufficientUserAuthentication) -> Answer:
    """The signed-in user must sign in again (stronger or more recently): a 302 to
    ``login_url`` (see :func:`step_up_login_url`) for browsers; for the rest a 401 with
    ``err``'s challenge (``error="insufficient_user_authentication"``, ``acr_values``,
    ``max_age``) and JSON body.

    >>> err = InsufficientUserAuthentication(acr_values=["Multi_Factor"])
    >>> answer = step_up_answer("application/json", "/auth/login?acr_values=Multi_Factor", err)
    >>> answer.status, answer.headers["WWW-Authenticate"]  # doctest: +NORMALIZE_WHITESPACE
    (401, 'Bearer error="insufficient_user_authentication",
    error_description="A different authentication level is required", acr_values="Multi_Factor"')
    """
    if negotiate(accept) == "html":
        return redirect_answer(login_url)
    return _json_answer(err.body, err.status_code, {**PAGE_HEADERS, **err.headers})


# -- /login's query (rule 4) --------------------------------------------------------------------


def _single(query: Mapping[str, str | Sequence[str]], name: str) -> str:
    """The one value of ``name`` (``""`` when absent); :class:`LoginError` when repeated."""
    value = query.get(name, "")
    if isinstance(value, str):
        return value.strip()
    if len(value) > 1:
        raise LoginError(
            "invalid_request", f"The {name} parameter is repeated", reason=f"repeated_{name}"
        )
    return value[0].strip() if value else ""


def login_params(
    query: Mapping[str, str | Sequence[str]],
    *,
    return_to_names: Sequence[str] = ("return_to",),
) -> dict[str, Any]:
    """The keyword arguments of :meth:`WebLogin.login <p1guard.rp.WebLogin.login>` in ``/login``'s
    ``query`` (values a string or a list of them): ``return_to`` (the first non-empty of
    ``return_to_names``), ``acr_values``, ``max_age``, ``prompt``, ``login_hint``.

    Raises :class:`~p1guard.rp.LoginError` (400 ``invalid_request``) for a malformed value.

    >>> login_params({"max_age": ["soon"]})
    Traceback (most recent call last):
    p1guard.rp._errors.LoginError: invalid_request: max_age must be a whole number of seconds
    >>> login_params({"next": "/a"}, return_to_names=("return_to", "next"))
    {'return_to': '/a'}
    """
    params: dict[str, Any] = {}
    for name in _PASS_THROUGH:
        value = _single(query, name)
        if not value:
            continue
        if len(value) > _MAX_PARAM or not value.isprintable():
            raise LoginError(
                "invalid_request", f"The {name} parameter is malformed", reason=f"bad_{name}"
            )
        params[name] = value
    if "acr_values" in params:
        params["acr_values"] = params["acr_values"].split()
    if "max_age" in params:
        max_age = params["max_age"]
        if not (max_age.isascii() and max_age.isdigit() and len(max_age) <= 9):
            raise LoginError(
                "invalid_request", "max_age must be a whole number of seconds", reason="bad_max_age"
            )
        params["max_age"] = int(max_age)
    for name in return_to_names:
        return_to = _single(query, name)
        if return_to:
            params["return_to"] = return_to
            break
    return params
