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

>>> from p1guard.testing import MockPingOne
>>> with MockPingOne() as op:                                   # doctest: +SKIP
...     app = build_starlette_demo(op.guard())                  # an ASGI app; serve it with uvicorn

Web frameworks are optional dependencies (``pip install 'p1guard[demo]'``): they are imported
when a demo is built, never when this module is imported.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import re
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Literal

from .errors import InsufficientScope, P1GuardError

if TYPE_CHECKING:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response

    from .guard import Guard

__all__ = [
    "FRAMEWORKS",
    "GARBAGE_TOKEN",
    "PROBES",
    "DemoFramework",
    "DemoServer",
    "MissingExtra",
    "Probe",
    "bind",
    "build_starlette_demo",
    "challenge_error",
    "demo_framework",
]

ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]
Endpoint = Callable[["Request"], Awaitable["Response"]]

#: Attribute under which :func:`_scoped` records the scopes an endpoint requires.
_SCOPES_ATTR = "p1guard_required_scopes"


class MissingExtra(P1GuardError, ImportError):
    """A demo needs packages that are not installed (``pip install 'p1guard[demo]'``)."""


# -- the Starlette demo ------------------------------------------------------------------------


def build_starlette_demo(guard: Guard) -> Starlette:
    """The demo API as a Starlette app protected by :class:`p1guard.asgi.BearerTokenMiddleware`.

    Scopes are checked with Starlette's own ``@requires`` (the middleware fills
    ``scope["auth"]``); its bare 403 is turned into an RFC 6750 ``insufficient_scope`` answer
    naming the scopes. At shutdown the app closes the guard's HTTP clients.

    >>> app = build_starlette_demo(Guard(PingOne.from_env(), audience="https://api.example.com"))
    ... # doctest: +SKIP
    """
    _require(("starlette",), "build_starlette_demo")
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.middleware import Middleware
    from starlette.routing import Route

    from .asgi import BearerTokenMiddleware

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await guard.aclose()

    app = Starlette(
        routes=[
            Route("/health", _health, methods=["GET"]),
            Route("/items", _scoped("read")(_list_items), methods=["GET"]),
            Route("/items", _scoped("write")(_create_item), methods=["POST"]),
            Route("/me", _me, methods=["GET"]),
        ],
        middleware=[
            Middleware(BearerTokenMiddleware, guard=guard, public_paths=["/health"]),
        ],
        exception_handlers={HTTPException: _http_error},
        lifespan=lifespan,
    )
    app.state.items = [{"id": 1, "name": "first item"}]
    return app


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
    """How ``p1guard demo --framework NAME`` builds its app: the builder and what it imports."""

    name: str
    build: Callable[[Guard], ASGIApp]
    modules: tuple[str, ...]
    extra: str = "demo"


# The mock PingOne runs on Werkzeug; uvicorn serves every demo.
_SERVER_MODULES = ("werkzeug", "uvicorn")

#: The demo apps by framework name; ``p1guard demo --framework`` offers these.
FRAMEWORKS: dict[str, DemoFramework] = {
    "starlette": DemoFramework("starlette", build_starlette_demo, ("starlette",)),
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

#: Which token a probe sends: ``read`` (issued by the mock with scope ``read``), ``write`` (from
#: the client-credentials grant, scopes ``read write``), none, or a garbage string.
TokenKind = Literal["read", "write", "none", "garbage"]


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


_BEARER = re.compile(r"Bearer(\s|$)", re.IGNORECASE)
# Quoted values cannot hold '"' (errors.py sanitizes them), so this cannot match inside one.
_ERROR_PARAM = re.compile(r'(?:^Bearer\s+|,\s*)error="([^"]*)"', re.IGNORECASE)

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


def challenge_error(www_authenticate: str | None) -> str | None:
    """The ``error`` of a ``Bearer`` challenge: ``""`` when it names none, ``None`` without one.

    >>> challenge_error('Bearer error="invalid_token", error_description="Expired"')
    'invalid_token'
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
