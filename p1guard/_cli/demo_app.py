"""The demo APIs behind ``p1guard demo``: one small protected app per framework.

Every demo serves the same routes, so the same requests (:data:`PROBES`) exercise each:

=================  ==========  ===============================================
route              needs       answers
=================  ==========  ===============================================
``GET /health``    nothing     ``{"status": "ok"}``
``GET /items``     ``read``    ``{"items": [...]}``
``POST /items``    ``write``   the new item (JSON body ``{"name": "…"}``), 201
``GET /me``        any token   subject, client id and scopes of the token
=================  ==========  ===============================================

The Starlette demo also answers :data:`TOUR_PROBES`, the features beyond plain bearer tokens:

=========================================  ======================  ============================
route                                      needs                   shows
=========================================  ======================  ============================
``GET /.well-known/oauth-protected-resource``  nothing             RFC 9728 metadata
``POST /transfers``                        ``Multi_Factor`` sign-  step-up (RFC 9470)
                                           in within 5 minutes
``GET /reports``                           ``groups`` holds        claim rules
                                           ``auditors``
``GET /me`` with ``Authorization: DPoP``   a proof of the key      DPoP (RFC 9449)
                                           the token is bound to
``GET /me`` with ``X-Client-Cert``         the certificate the     certificate-bound tokens
                                           token is bound to       (RFC 8705)
=========================================  ======================  ============================

The demo plays its own TLS-terminating proxy: it takes the client certificate from the
``X-Client-Cert`` header (:data:`CLIENT_CERT_HEADER`), trusted from loopback peers only.

With a :class:`~p1guard.rp.WebLogin` (``p1guard demo`` makes one with :func:`demo_web_login`)
the Starlette demo also signs users in: ``GET /`` is a page with a "Sign in" button (PingOne's
sign-in page, by redirect) and a "Sign in with the app's own form (pi.flow)" button (the app's
username/password form at ``/auth/form``, PingOne's redirectless ``pi.flow``), served with
:class:`p1guard.asgi.LoginRoutes` under ``/auth``.

>>> from p1guard.testing import MockPingOne
>>> with MockPingOne() as op:                                   # doctest: +SKIP
...     app = build_starlette_demo(op.guard())                  # an ASGI app; serve it with uvicorn

Web frameworks are optional dependencies (``pip install 'p1guard[demo]'``): they are imported
when a demo is built, never when this module is imported.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import re
import secrets
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from html import escape
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from p1guard._requirements import require_authentication
from p1guard._tokens.claims import Contains, require_claims
from p1guard._values import is_loopback
from p1guard.errors import AuthError, InsufficientScope, P1GuardError

if TYPE_CHECKING:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response

    from p1guard._guard import Guard
    from p1guard.asgi._login import LoginRoutes
    from p1guard.rp import SignedInUser, WebLogin
    from p1guard.testing import MockPingOne

__all__ = [
    "CLIENT_CERT_HEADER",
    "FRAMEWORKS",
    "GARBAGE_TOKEN",
    "METRICS_PROBE",
    "PROBES",
    "TOUR_PROBES",
    "DemoFramework",
    "DemoServer",
    "MissingExtra",
    "Probe",
    "bind",
    "browser_url",
    "build_starlette_demo",
    "challenge_error",
    "demo_framework",
    "demo_web_login",
]

ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]
Endpoint = Callable[["Request"], Awaitable["Response"]]

#: Attribute under which :func:`_scoped` records the scopes an endpoint requires.
_SCOPES_ATTR = "p1guard_required_scopes"


class MissingExtra(P1GuardError, ImportError):
    """A demo needs packages that are not installed (``pip install 'p1guard[demo]'``)."""


# -- the Starlette demo ------------------------------------------------------------------------


def build_starlette_demo(
    guard: Guard,
    login: WebLogin | None = None,
    *,
    session_secret: str | None = None,
    base_url: str | None = None,
    test_user: tuple[str, str] | None = None,
    metrics_registry: Any = None,
) -> Starlette:
    """The demo API as a Starlette app protected by :class:`p1guard.asgi.BearerTokenMiddleware`.

    Scopes are checked with Starlette's own ``@requires`` (the middleware fills
    ``scope["auth"]``); its bare 403 is turned into an RFC 6750 ``insufficient_scope`` answer
    naming the scopes. At shutdown the app closes the guard's HTTP clients.

    With ``login``, ``GET /`` is a sign-in page and ``/auth/login``, ``/auth/callback``,
    ``/auth/form`` (the app's own form, ``pi.flow``) and ``/auth/logout`` sign users in
    (:class:`p1guard.asgi.LoginRoutes`); the session cookie is signed with
    ``session_secret`` (a random one by default, so restarts sign everyone out). ``test_user``
    (username, password) is shown on the sign-in page: the mock's, for the form.

    The tour routes (:data:`TOUR_PROBES`): ``POST /transfers`` needs step-up, ``GET /reports``
    a claim rule, and the RFC 9728 document names the guard's audience and issuer; 401
    challenges point to it at ``base_url`` (where the demo is served) when given. With a
    ``prometheus_client`` ``metrics_registry`` (the one the guard's ``PrometheusMetrics``
    fills), ``GET /metrics`` serves it, without a token.

    >>> app = build_starlette_demo(Guard(PingOne.from_env(), audience="https://api.example.com"))
    ... # doctest: +SKIP
    """
    _require(("starlette",), "build_starlette_demo")
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.middleware import Middleware
    from starlette.routing import BaseRoute, Route

    from p1guard.asgi._middleware import BearerTokenMiddleware

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await guard.aclose()
        if login is not None:
            await login.rp.pingone.aclose()

    routes: list[BaseRoute] = [
        Route("/health", _health, methods=["GET"]),
        Route("/items", _scoped("read")(_list_items), methods=["GET"]),
        Route("/items", _scoped("write")(_create_item), methods=["POST"]),
        Route("/me", _me, methods=["GET"]),
        Route("/transfers", _create_transfer, methods=["POST"]),
        Route("/reports", _reports, methods=["GET"]),
    ]
    public_paths = ["/health"]
    if metrics_registry is not None:
        routes.append(Route("/metrics", _metrics_endpoint(metrics_registry), methods=["GET"]))
        public_paths.append("/metrics")
    from p1guard._web.resource_metadata import WELL_KNOWN_PREFIX, ResourceMetadata

    resource_metadata = ResourceMetadata.for_guard(
        guard,
        scopes_supported=["read", "write"],
        resource_name="p1guard demo API",
        metadata_url=None if base_url is None else base_url.rstrip("/") + WELL_KNOWN_PREFIX,
    )
    middleware: list[Middleware] = []
    if login is not None:
        _require(("starlette", "itsdangerous"), "the demo's sign-in page")
        from p1guard.asgi._login import LoginRoutes

        auth = LoginRoutes(login, form_login=True)
        routes += [Route("/", _sign_in_page(auth, test_user), methods=["GET"]), *auth.routes]
        # The demo is plain http on purpose, so the cookie cannot be ``Secure``.
        secret = session_secret or secrets.token_urlsafe(32)
        middleware.append(auth.session_middleware(secret, https_only=False))
        public_paths += ["/", f"{auth.prefix}/*"]
    from p1guard._sender.certificates import ClientCertificates

    # As if a TLS-terminating proxy on this machine forwarded the client certificate.
    certificates = ClientCertificates(
        header=CLIENT_CERT_HEADER, trusted_proxies=["127.0.0.0/8", "::1"]
    )
    middleware.append(
        Middleware(
            BearerTokenMiddleware,
            guard=guard,
            public_paths=public_paths,
            resource_metadata=resource_metadata,
            client_certificates=certificates,
        )
    )
    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={HTTPException: _http_error},
        lifespan=lifespan,
    )
    app.state.items = [{"id": 1, "name": "first item"}]
    app.state.metadata_url = resource_metadata.metadata_url
    return app


def _metrics_endpoint(registry: Any) -> Endpoint:
    """``GET /metrics``: the Prometheus exposition of ``registry``."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
    from starlette.responses import Response

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return metrics


def _scoped(*scopes: str) -> Callable[[Endpoint], Endpoint]:
    """Starlette's ``@requires(scopes)``, remembering the scopes for :func:`_http_error`."""
    from starlette.authentication import requires

    def decorate(endpoint: Endpoint) -> Endpoint:
        guarded: Endpoint = requires(list(scopes))(endpoint)
        setattr(guarded, _SCOPES_ATTR, scopes)
        return guarded

    return decorate


async def _health(request: Request) -> JSONResponse:
    from starlette.responses import JSONResponse

    return JSONResponse({"status": "ok"})


async def _list_items(request: Request) -> JSONResponse:
    from starlette.responses import JSONResponse

    return JSONResponse({"items": request.app.state.items})


async def _create_item(request: Request) -> JSONResponse:
    from starlette.responses import JSONResponse

    try:
        payload = await request.json()
    except ValueError:
        payload = None
    name = payload.get("name") if isinstance(payload, dict) else None
    if not isinstance(name, str) or not name.strip():
        body = {"error": "invalid_request", "error_description": 'Send JSON {"name": "..."}'}
        return JSONResponse(body, status_code=400)
    token = request.state.access_token
    items: list[dict[str, Any]] = request.app.state.items
    item = {"id": len(items) + 1, "name": name.strip(), "owner": token.subject or token.client_id}
    items.append(item)
    return JSONResponse(item, status_code=201)


async def _me(request: Request) -> JSONResponse:
    from starlette.responses import JSONResponse

    token = request.state.access_token
    expires_at = token.expires_at
    return JSONResponse(
        {
            "subject": token.subject,
            "client_id": token.client_id,
            "scopes": sorted(token.scopes),
            "expires_at": expires_at.isoformat() if expires_at else None,
        }
    )


#: The header the demo reads client certificates from (URL-encoded PEM, like nginx's
#: ``$ssl_client_escaped_cert``), trusted from loopback peers only.
CLIENT_CERT_HEADER = "X-Client-Cert"
#: What ``POST /transfers`` needs (step-up, RFC 9470): a second factor within the last 5 minutes.
TRANSFER_ACR_VALUES, TRANSFER_MAX_AGE = ("Multi_Factor",), 300
#: What ``GET /reports`` needs (a claim rule): membership of the ``auditors`` group.
REPORTS_RULE = Contains("groups", "auditors")


def _refusal(request: Request, err: AuthError) -> JSONResponse:
    """``err`` as the API's JSON answer, its 401 challenge naming the RFC 9728 document."""
    from starlette.responses import JSONResponse

    err.resource_metadata = request.app.state.metadata_url

    return JSONResponse(err.body, status_code=err.status_code, headers=err.headers)


async def _create_transfer(request: Request) -> Response:
    """``POST /transfers``: moving money needs a recent multi-factor sign-in."""
    from starlette.responses import JSONResponse

    token = request.state.access_token
    try:
        require_authentication(token, TRANSFER_ACR_VALUES, TRANSFER_MAX_AGE)
    except AuthError as err:
        return _refusal(request, err)
    try:
        payload = await request.json()
    except ValueError:
        payload = None
    amount = payload.get("amount") if isinstance(payload, dict) else None
    if not isinstance(amount, int) or isinstance(amount, bool) or not 0 < amount <= 1_000_000:
        body = {"error": "invalid_request", "error_description": 'Send JSON {"amount": 10}'}
        return JSONResponse(body, status_code=400)
    transfer = {"amount": amount, "approved_by": token.subject, "acr": token.get("acr")}
    return JSONResponse(transfer, status_code=201)


async def _reports(request: Request) -> Response:
    """``GET /reports``: only for tokens whose ``groups`` claim holds ``auditors``."""
    from starlette.responses import JSONResponse

    try:
        token = require_claims(request.state.access_token, [REPORTS_RULE])
    except AuthError as err:
        return _refusal(request, err)
    return JSONResponse({"reports": ["q3-ledger"], "reader": token.subject})


def _sign_in_page(auth: LoginRoutes, test_user: tuple[str, str] | None = None) -> Endpoint:
    """``GET /``: the "Sign in" buttons, or who is signed in, their claims and "Sign out"."""

    async def page(request: Request) -> Response:
        from starlette.responses import HTMLResponse

        user = await auth.current_user(request)
        csrf = auth.web.csrf_token(request.session) if user is not None else ""
        paths = (auth.login_path, auth.form_path, auth.logout_path)
        body = _home_html(user, csrf, paths, test_user)
        return HTMLResponse(body, headers={"Cache-Control": "no-store"})

    return page


_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:44rem;margin:3rem auto;padding:0 1rem}"
    "pre{background:#f4f4f4;padding:1rem;overflow:auto}"
    ".button,button{display:inline-block;padding:.5rem 1.2rem;border:0;border-radius:.3rem;"
    "background:#b3282d;color:#fff;font-size:1rem;text-decoration:none;cursor:pointer}"
)


def _home_html(
    user: SignedInUser | None,
    csrf: str,
    paths: tuple[str, str, str],
    test_user: tuple[str, str] | None = None,
) -> str:
    """The demo's home page (every value HTML-escaped); ``paths``: login, form, logout."""
    login_path, form_path, logout_path = paths
    if user is None:
        credentials = ""
        if test_user is not None:
            credentials = (
                f" (username <code>{escape(test_user[0])}</code>, password "
                f"<code>{escape(test_user[1])}</code>)"
            )
        main = (
            "<p>You are signed out. The mock PingOne signs its test user in without a "
            "password.</p>"
            f'<p><a class="button" href="{escape(login_path)}">Sign in</a></p>'
            "<p>Or sign in on a form this app renders itself: PingOne's redirectless "
            f"<code>pi.flow</code> checks the password{credentials}.</p>"
            f'<p><a class="button" href="{escape(form_path)}">'
            "Sign in with the app&#39;s own form (pi.flow)</a></p>"
        )
    else:
        claims = json.dumps(dict(user.claims), indent=2, sort_keys=True, default=str)
        main = (
            f"<p>Signed in as <strong>{escape(user.name)}</strong></p>"
            f'<form method="post" action="{escape(logout_path)}">'
            f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
            '<button type="submit">Sign out</button></form>'
            f"<h2>ID-token claims</h2><pre>{escape(claims)}</pre>"
        )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>p1guard demo</title><style>{_STYLE}</style></head>"
        f"<body><h1>p1guard demo</h1>{main}"
        "<p><small>The API: <code>GET /health</code>, <code>GET /items</code>, "
        "<code>POST /items</code>, <code>GET /me</code> (bearer tokens).</small></p>"
        "</body></html>"
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    """JSON for every ``HTTPException``; RFC 6750 ``insufficient_scope`` for ``@requires``."""
    from starlette.exceptions import HTTPException
    from starlette.responses import JSONResponse

    assert isinstance(exc, HTTPException)
    required: tuple[str, ...] = getattr(request.scope.get("endpoint"), _SCOPES_ATTR, ())
    if exc.status_code == 403 and required:
        auth = request.scope.get("auth")
        granted = set(auth.scopes) if auth is not None else set()
        missing = [scope for scope in required if scope not in granted]
        err = InsufficientScope(required, missing)
        return JSONResponse(err.body, status_code=err.status_code, headers=err.headers)
    error = HTTPStatus(exc.status_code).phrase.lower().replace(" ", "_")
    body = {"error": error, "error_description": exc.detail}
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


# -- registry ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoFramework:
    """How ``p1guard demo --framework NAME`` builds its app: the builder and what it imports.

    ``sign_in`` builds the app with a sign-in page instead (``GET /``, routes under ``/auth``)
    from a :class:`~p1guard.rp.WebLogin`; frameworks without one serve only the API.
    """

    name: str
    build: Callable[[Guard], ASGIApp]
    modules: tuple[str, ...]
    extra: str = "demo"
    sign_in: Callable[[Guard, WebLogin], ASGIApp] | None = None
    #: Whether the app also answers :data:`TOUR_PROBES`; its builders then take ``base_url=``.
    tour: bool = False


# The mock PingOne runs on Werkzeug; uvicorn serves every demo.
_SERVER_MODULES = ("werkzeug", "uvicorn")

#: The demo apps by framework name; ``p1guard demo --framework`` offers these.
FRAMEWORKS: dict[str, DemoFramework] = {
    "starlette": DemoFramework(
        "starlette",
        build_starlette_demo,
        ("starlette", "itsdangerous"),
        sign_in=build_starlette_demo,
        tour=True,
    ),
}


def demo_framework(name: str) -> DemoFramework:
    """The registered demo ``name``, after checking its packages are installed.

    >>> demo_framework("starlette").name
    'starlette'
    """
    try:
        framework = FRAMEWORKS[name]
    except KeyError:
        raise MissingExtra(f"no demo for {name!r}; choose from {', '.join(FRAMEWORKS)}") from None
    _require((*_SERVER_MODULES, *framework.modules), f"the {name} demo", framework.extra)
    return framework


def _require(modules: Sequence[str], who: str, extra: str = "demo") -> None:
    missing = [name for name in modules if importlib.util.find_spec(name) is None]
    if missing:
        raise MissingExtra(
            f"{who} needs {', '.join(missing)}: pip install 'p1guard[{extra}]'",
            name=missing[0],
        )


# -- requests every demo answers ---------------------------------------------------------------

#: Which token a probe sends: ``read`` (issued by the mock with scope ``read``, a user who signed
#: in with a password only), ``write`` (from the client-credentials grant, scopes ``read write``),
#: ``mfa`` (scope ``read``, a user who just signed in with ``Multi_Factor`` and is in the
#: ``auditors`` group), ``dpop`` (scope ``read``, bound to the demo client's DPoP key and sent
#: with a fresh proof), ``dpop-as-bearer`` (that token sent as a plain bearer token, as a thief
#: would), none, or a garbage string;
#: ``mtls`` (scope ``read``, bound to the demo client's certificate, which goes along in the
#: ``X-Client-Cert`` header as a TLS-terminating proxy would send it) and ``mtls-other-cert``
#: (that token with another certificate).
TokenKind = Literal[
    "read",
    "write",
    "mfa",
    "dpop",
    "dpop-as-bearer",
    "mtls",
    "mtls-other-cert",
    "none",
    "garbage",
]


@dataclass(frozen=True)
class Probe:
    """One request the demo prints as ``curl`` and ``p1guard demo --check`` sends.

    ``sends`` says which token goes in the ``Authorization`` header (see :data:`TokenKind`).
    ``expect_error`` is the ``error`` the ``WWW-Authenticate`` challenge must name: ``""`` for a
    bare ``Bearer`` challenge, ``None`` when no challenge is expected.
    """

    label: str
    method: str
    path: str
    sends: TokenKind
    expect_status: int
    expect_error: str | None = None
    json: dict[str, Any] | None = None
    #: Text the answer's body must contain, when not ``None``.
    expect_body: str | None = None


_BEARER = re.compile(r"(?:Bearer|DPoP)(\s|$)", re.IGNORECASE)
# Quoted values cannot hold '"' (errors.py sanitizes them), so this cannot match inside one.
_ERROR_PARAM = re.compile(r'(?:^(?:Bearer|DPoP)\s+|,\s*)error="([^"]*)"', re.IGNORECASE)

#: A token-shaped string no issuer ever signed.
GARBAGE_TOKEN = "not-a-real-token"  # noqa: S105 - not a credential

PROBES: tuple[Probe, ...] = (
    Probe("public route, no token", "GET", "/health", "none", 200),
    Probe("token with scope read", "GET", "/items", "read", 200),
    Probe("who am I", "GET", "/me", "read", 200),
    Probe(
        "token lacks scope write",
        "POST",
        "/items",
        "read",
        403,
        "insufficient_scope",
        {"name": "tea"},
    ),
    Probe("no token", "GET", "/items", "none", 401, ""),
    Probe("garbage token", "GET", "/items", "garbage", 401, "invalid_token"),
    Probe(
        "client-credentials token with scope write",
        "POST",
        "/items",
        "write",
        201,
        json={"name": "coffee"},
    ),
)


#: Answered when ``prometheus-client`` is installed (``pip install 'p1guard[prometheus]'``):
#: the guard's counters, after the requests before it.
METRICS_PROBE = Probe(
    "metrics (Prometheus): verifications by outcome and reason",
    "GET",
    "/metrics",
    "none",
    200,
    expect_body='p1guard_verifications_total{outcome="refused",reason="dpop_binding_unchecked"',
)

#: The feature tour, answered by demos whose :class:`DemoFramework` has ``tour=True``.
TOUR_PROBES: tuple[Probe, ...] = (
    Probe(
        "resource metadata (RFC 9728)", "GET", "/.well-known/oauth-protected-resource", "none", 200
    ),
    Probe(
        "step-up: a password-only sign-in cannot move money",
        "POST",
        "/transfers",
        "read",
        401,
        "insufficient_user_authentication",
        {"amount": 10},
    ),
    Probe(
        "step-up: a multi-factor sign-in within 5 minutes can",
        "POST",
        "/transfers",
        "mfa",
        201,
        json={"amount": 10},
    ),
    Probe("claim rule: not in group auditors", "GET", "/reports", "read", 403, "access_denied"),
    Probe("claim rule: an auditor", "GET", "/reports", "mfa", 200),
    Probe("DPoP: a key-bound token with its proof (RFC 9449)", "GET", "/me", "dpop", 200),
    Probe(
        "DPoP: the same token without the key, as a thief would send it",
        "GET",
        "/me",
        "dpop-as-bearer",
        401,
        "invalid_token",
    ),
    Probe(
        "mTLS: a certificate-bound token and its certificate (RFC 8705)", "GET", "/me", "mtls", 200
    ),
    Probe(
        "mTLS: the same token with another certificate",
        "GET",
        "/me",
        "mtls-other-cert",
        401,
        "invalid_token",
    ),
)


def challenge_error(www_authenticate: str | None) -> str | None:
    """The ``error`` of a ``Bearer`` or ``DPoP`` challenge: ``""`` when it names none, ``None``
    without one.

    >>> challenge_error('Bearer error="invalid_token", error_description="Expired"')
    'invalid_token'
    >>> challenge_error('DPoP error="invalid_dpop_proof", algs="ES256"')
    'invalid_dpop_proof'
    >>> challenge_error("Bearer"), challenge_error(None)
    ('', None)
    """
    if www_authenticate is None or not _BEARER.match(www_authenticate):
        return None
    found = _ERROR_PARAM.search(www_authenticate)
    return found.group(1) if found else ""


# -- serving -----------------------------------------------------------------------------------


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (``port=0`` picks a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def browser_url(sock: socket.socket) -> str:
    """The ``http://host:port`` a browser on this machine uses for ``sock``.

    A wildcard address (``0.0.0.0``, ``::``) becomes the loopback one.
    """
    host, port = sock.getsockname()[:2]
    if host in ("0.0.0.0", ""):  # noqa: S104 - reading the bound address, not binding
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://{host if ':' not in host else f'[{host}]'}:{port}"


def demo_web_login(op: MockPingOne, base_url: str) -> WebLogin:
    """Register the demo's sign-in app on ``op`` and return its :class:`~p1guard.rp.WebLogin`.

    The redirect URI is ``{base_url}/auth/callback``; after sign-out PingOne sends the
    browser back to ``{base_url}/``.

    >>> with MockPingOne() as op:                                   # doctest: +SKIP
    ...     login = demo_web_login(op, "http://127.0.0.1:8000")
    """
    from p1guard.rp import RelyingParty, WebLogin

    base_url = base_url.rstrip("/")
    callback, home = f"{base_url}/auth/callback", f"{base_url}/"
    client = op.register_client(redirect_uris=[callback], post_logout_redirect_uris=[home])
    # The demo serves plain http; on a non-loopback host that needs an explicit opt-in.
    host = urlsplit(base_url).hostname or ""
    rp = RelyingParty(
        op.pingone(allow_insecure_http=not is_loopback(host)),
        client_id=client.client_id,
        client_secret=client.client_secret,
        redirect_uri=callback,
        post_logout_redirect_uri=home,
    )
    return WebLogin(rp)


class DemoServer:
    """Serve an ASGI app with uvicorn on an already bound socket, in a background thread.

    >>> with DemoServer(app, bind("127.0.0.1", 0)) as server:      # doctest: +SKIP
    ...     httpx.get(server.url + "/health")
    """

    def __init__(self, app: ASGIApp, sock: socket.socket, *, access_log: bool = False) -> None:
        _require(("uvicorn",), "the demo server")
        import uvicorn

        self.sock = sock
        host, port = sock.getsockname()[:2]
        self.url = f"http://{host if ':' not in host else f'[{host}]'}:{port}"
        config = uvicorn.Config(app, log_level="warning", access_log=access_log, lifespan="on")
        if access_log:
            logging.getLogger("uvicorn.access").setLevel(logging.INFO)
        self.server: uvicorn.Server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [sock]}, name="p1guard-demo", daemon=True
        )

    def start(self, timeout: float = 10.0) -> DemoServer:
        """Start serving; return once the app's startup completed."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise P1GuardError("the demo server did not start")
            time.sleep(0.01)
        return self

    def wait(self) -> None:
        """Block until the server stops (Ctrl-C raises ``KeyboardInterrupt`` here)."""
        while self._thread.is_alive():
            self._thread.join(0.5)

    def stop(self) -> None:
        """Ask uvicorn to shut down gracefully and wait for it."""
        self.server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(10)
        self.sock.close()

    def __enter__(self) -> DemoServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
