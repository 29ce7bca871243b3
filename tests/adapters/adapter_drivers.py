"""Uniform drivers for the adapter contract suite (a uniquely named module, not ``conftest``).

Each driver serves the same four routes, protected by one Guard from the mock, through the
framework's own test client: ``/api/read`` (scope ``read``), ``/api/write`` (scope ``write``),
``/api/public`` (no token) and ``/api/dpop`` (scope ``read``, used with DPoP proofs). Views
answer ``{"sub": ..., "scopes": [...]}`` from the verified token.

Where an adapter legitimately differs, the driver says so in one attribute, with the reason.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

import httpx

from p1guard import AccessToken, Guard
from p1guard.testing import MockPingOne

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

with warnings.catch_warnings():
    # Starlette >= 1.x prefers the `httpx2` package for its TestClient and warns when it falls
    # back to `httpx`; the fallback works, so silence only that warning, only for this import.
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

#: ``headers=`` for :meth:`Driver.get`: a list keeps repeated names (two Authorization lines).
Headers = dict[str, str] | list[tuple[str, str]]

ADAPTERS = ["asgi", "wsgi", "flask", "fastapi", "django"]


@dataclass
class Reply:
    status: int
    headers: httpx.Headers  # case-insensitive
    json: dict[str, Any]
    text: str


@dataclass
class Driver:
    """One adapter behind its framework's test client."""

    name: str
    base: str  # scheme and host the test client sends, so a DPoP ``htu`` can match
    logger: str  # the logger that records this adapter's refusals
    send: Callable[[str, list[tuple[str, str]]], tuple[int, Iterable[tuple[str, str]], bytes]]
    # FastAPI's HTTPException puts the RFC 6750 body under "detail" (auth_error_handler, a
    # FastAPI-specific opt-in, flattens it); the driver unwraps it so the contract reads one shape.
    body_under_detail: bool = False
    # The logger that records refusals on /api/write and /api/dpop, when it is not ``logger``.
    view_logger: str | None = None
    closers: list[Callable[[], None]] = field(default_factory=list)

    def url(self, path: str) -> str:
        return self.base + path

    def get(self, path: str, headers: Headers = ()) -> Reply:  # type: ignore[assignment]
        items = list(headers.items()) if isinstance(headers, dict) else list(headers)
        status, raw_headers, content = self.send(path, items)
        text = content.decode()
        data: dict[str, Any] = json.loads(content) if content else {}
        if self.body_under_detail and status >= 400:
            assert set(data) == {"detail"}, data
            data = data["detail"]
        return Reply(status, httpx.Headers(list(raw_headers)), data, text)


def claims(token: AccessToken | None) -> dict[str, Any]:
    assert token is not None
    return {"sub": token.subject, "scopes": sorted(token.scopes)}


def starlette_send(client: TestClient) -> Callable[[str, list[tuple[str, str]]], Any]:
    def send(path: str, headers: list[tuple[str, str]]) -> Any:
        response = client.get(path, headers=headers)
        return response.status_code, response.headers.multi_items(), response.content

    return send


# -- ASGI: p1guard.asgi.BearerTokenMiddleware on Starlette apps -----------------------------


def asgi_driver(guard: Guard) -> Driver:
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from p1guard.asgi import BearerTokenMiddleware

    async def view(request: Request) -> JSONResponse:
        return JSONResponse(claims(request.state.access_token))

    async def public(request: Request) -> JSONResponse:
        return JSONResponse({"public": True})

    def app(scopes: list[str], *routes: Route) -> Starlette:
        options = {"guard": guard, "scopes": scopes, "public_paths": ["/api/public"]}
        return Starlette(
            routes=list(routes), middleware=[Middleware(BearerTokenMiddleware, **options)]
        )

    # The middleware takes one scope list, so each scope gets its own protected app.
    reader = app(
        ["read"], Route("/api/read", view), Route("/api/public", public), Route("/api/dpop", view)
    )
    writer = app(["write"], Route("/api/write", view))

    async def dispatch(scope: Any, receive: Any, send: Any) -> None:
        target = writer if scope.get("path") == "/api/write" else reader
        await target(scope, receive, send)

    client = TestClient(dispatch)
    client.__enter__()
    send = starlette_send(client)
    return Driver("asgi", "http://testserver", "p1guard.asgi", send, closers=[client.close])


# -- WSGI: p1guard.wsgi.BearerTokenMiddleware on a plain WSGI app ---------------------------


def werkzeug_send(client: Any) -> Callable[[str, list[tuple[str, str]]], Any]:
    def send(path: str, headers: list[tuple[str, str]]) -> Any:
        # Werkzeug, like WSGI servers, joins repeated headers into one comma-separated value.
        response = client.get(path, headers=headers)
        return response.status_code, response.headers.items(), response.get_data()

    return send


def wsgi_driver(guard: Guard) -> Driver:
    from werkzeug.test import Client
    from werkzeug.wrappers import Response

    from p1guard.wsgi import ENVIRON_KEY, BearerTokenMiddleware

    def view(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ["PATH_INFO"] == "/api/public":
            body: dict[str, Any] = {"public": True}
        else:
            body = claims(environ[ENVIRON_KEY])
        return Response(json.dumps(body), content_type="application/json")(environ, start_response)

    # As for ASGI: one middleware per scope list.
    reader = BearerTokenMiddleware(view, guard=guard, scopes=["read"], public_paths=["/api/public"])
    writer = BearerTokenMiddleware(view, guard=guard, scopes=["write"])

    def dispatch(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        target = writer if environ["PATH_INFO"] == "/api/write" else reader
        return target(environ, start_response)

    return Driver("wsgi", "http://localhost", "p1guard.wsgi", werkzeug_send(Client(dispatch)))


# -- Flask: p1guard_flask.P1Guard and @p1.require_token --------------------------------------


def flask_driver(guard: Guard) -> Driver:
    from flask import Flask

    from p1guard_flask import P1Guard, current_token

    app = Flask(__name__)
    p1 = P1Guard(app, guard=guard)

    @app.get("/api/read")
    @p1.require_token("read")
    def read() -> dict[str, Any]:
        return claims(current_token)

    @app.get("/api/write")
    @p1.require_token("write")
    def write() -> dict[str, Any]:
        return claims(current_token)

    @app.get("/api/public")
    def public() -> dict[str, Any]:
        return {"public": True}

    @app.get("/api/dpop")
    @p1.require_token("read")
    async def dpop() -> dict[str, Any]:  # an async view, so both kinds are in the contract
        return claims(current_token)

    return Driver("flask", "http://localhost", "p1guard.flask", werkzeug_send(app.test_client()))


# -- FastAPI: Security(PingOneBearer(guard), scopes=[...]) -----------------------------------


def fastapi_driver(guard: Guard) -> Driver:
    from fastapi import FastAPI, Security

    from p1guard_fastapi import PingOneBearer

    auth = PingOneBearer(guard)
    app = FastAPI()

    Read = Annotated[AccessToken, Security(auth, scopes=["read"])]
    Write = Annotated[AccessToken, Security(auth, scopes=["write"])]

    async def read(token: AccessToken) -> Any:
        return claims(token)

    def write(token: AccessToken) -> Any:  # a sync route, so both kinds are in the contract
        return claims(token)

    def public() -> Any:
        return {"public": True}

    async def dpop(token: AccessToken) -> Any:
        return claims(token)

    # This module's annotations are strings; FastAPI reads the Security marker at runtime.
    for path, route, hint in (("read", read, Read), ("write", write, Write), ("dpop", dpop, Read)):
        route.__annotations__["token"] = hint
        app.get(f"/api/{path}")(route)
    app.get("/api/public")(public)

    client = TestClient(app)
    client.__enter__()
    send = starlette_send(client)
    return Driver(
        "fastapi",
        "http://testserver",
        "p1guard.fastapi",
        send,
        body_under_detail=True,
        closers=[client.close],
    )


# -- Django: p1guard_django middleware, @require_token and DRF -------------------------------


def django_driver(op: MockPingOne, stack: ExitStack) -> Driver:
    from django.test import Client, override_settings

    stack.enter_context(
        override_settings(
            ROOT_URLCONF="adapter_django_urls",
            P1GUARD={
                "ISSUER": op.issuer,
                "AUDIENCE": op.audience,
                "CLIENT_ID": op.resource_id,
                "CLIENT_SECRET": op.resource_secret,
                # The middleware guards /api/read (for @require_token); the DRF views
                # (/api/write, /api/dpop) verify the token with PingOneTokenAuthentication alone.
                "PROTECTED_PATHS": ["/api/read"],
            },
        )
    )
    client = Client()

    def send(path: str, headers: list[tuple[str, str]]) -> Any:
        # Django's test Client takes one value per header; repeated ones are joined with
        # commas, as WSGI servers join them before Django sees the request.
        joined: dict[str, str] = {}
        for name, value in headers:
            joined[name] = f"{joined[name]}, {value}" if name in joined else value
        response = client.get(path, headers=joined)
        return response.status_code, response.items(), response.content

    # /api/write and /api/dpop are DRF views: DRF's refusals (401, 403) are logged by Django's
    # request logger ("Unauthorized: /api/dpop"), not by p1guard.django.
    return Driver(
        "django", "http://testserver", "p1guard.django", send, view_logger="django.request"
    )


@contextmanager
def drive(name: str, op: MockPingOne) -> Iterator[Driver]:
    with ExitStack() as stack:
        if name == "django":
            driver = django_driver(op, stack)
        else:
            build = {
                "asgi": asgi_driver,
                "wsgi": wsgi_driver,
                "flask": flask_driver,
                "fastapi": fastapi_driver,
            }[name]
            guard = op.guard()
            driver = build(guard)
            stack.callback(guard.close)
        for close in driver.closers:
            stack.callback(close)
        yield driver
