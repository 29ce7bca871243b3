"""The demo APIs behind ``p1guard demo``: one small protected app per framework.

Every demo serves the same routes, so the same requests
(:data:`~p1guard._cli.demo_probes.PROBES`) exercise each:

=================  ==========  ===============================================
route              needs       answers
=================  ==========  ===============================================
``GET /health``    nothing     ``{"status": "ok"}``
``GET /items``     ``read``    ``{"items": [...]}``
``POST /items``    ``write``   the new item (JSON body ``{"name": "…"}``), 201
``GET /me``        any token   subject, client id and scopes of the token
=================  ==========  ===============================================

The Starlette demo also answers :data:`~p1guard._cli.demo_probes.TOUR_PROBES`, the features
beyond plain bearer tokens:

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

With a :class:`~p1guard.rp.WebLogin` (``p1guard demo`` makes one with
:func:`~p1guard._cli.demo_server.demo_web_login`) the Starlette demo also signs users in:
``GET /`` is a page with a "Sign in" button (PingOne's sign-in page, by redirect) and a "Sign in
with the app's own form (pi.flow)" button (the app's username/password form at ``/auth/form``,
PingOne's redirectless ``pi.flow``), served with :class:`p1guard.asgi.LoginRoutes` under
``/auth``.

>>> from p1guard.testing import MockPingOne
>>> with MockPingOne() as op:                                   # doctest: +SKIP
...     app = build_starlette_demo(op.guard())                  # an ASGI app; serve it with uvicorn

Web frameworks are optional dependencies (``pip install 'p1guard[demo]'``): they are imported
when a demo is built, never when this module is imported.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from html import escape
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from p1guard._cli.common import MissingExtra, require_extra
from p1guard._requirements import require_authentication
from p1guard._tokens.claims import Contains, require_claims
from p1guard.errors import AuthError, InsufficientScope

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response

    from p1guard._cli.common import ASGIApp
    from p1guard._guard import Guard
    from p1guard.asgi._login import LoginRoutes
    from p1guard.rp._session import SignedInUser
    from p1guard.rp._web import WebLogin

__all__ = [
    "CLIENT_CERT_HEADER",
    "FRAMEWORKS",
    "DemoFramework",
    "build_starlette_demo",
    "demo_framework",
]

Endpoint = Callable[["Request"], Awaitable["Response"]]

#: Attribute under which :func:`_scoped` records the scopes an endpoint requires.
_SCOPES_ATTR = "p1guard_required_scopes"


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

    The tour routes (:data:`~p1guard._cli.demo_probes.TOUR_PROBES`): ``POST /transfers``
    needs step-up, ``GET /reports`` a claim rule, and the RFC 9728 document names the guard's
    audience and issuer; 401 challenges point to it at ``base_url`` (where the demo is served)
    when given. With a
    ``prometheus_client`` ``metrics_registry`` (the one the guard's ``PrometheusMetrics``
    fills), ``GET /metrics`` serves it, without a token.

    >>> app = build_starlette_demo(Guard(PingOne.from_env(), audience="https://api.example.com"))
    ... # doctest: +SKIP
    """
    require_extra(("starlette",), "build_starlette_demo")
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
        require_extra(("starlette", "itsdangerous"), "the demo's sign-in page")
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
    #: Whether the app also answers :data:`~p1guard._cli.demo_probes.TOUR_PROBES`; its builders
    #: then take ``base_url=``.
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
    require_extra((*_SERVER_MODULES, *framework.modules), f"the {name} demo", framework.extra)
    return framework
