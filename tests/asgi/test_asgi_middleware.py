"""p1guard.asgi.BearerTokenMiddleware against a live MockPingOne, with a Starlette app."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import warnings
from collections.abc import Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from p1guard import Guard
from p1guard.asgi import BearerTokenMiddleware, TokenUser
from p1guard.testing import MockPingOne

with warnings.catch_warnings():
    # Starlette >= 1.x prefers the `httpx2` package for its TestClient and warns when it falls
    # back to `httpx`; the fallback works, so silence only that warning, only for this import.
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient


async def me(request: Request) -> JSONResponse:
    token = request.state.access_token
    return JSONResponse(
        {
            "sub": token.subject if token else None,
            "scopes": sorted(token.scopes) if token else None,
            "user": request.user.display_name,
            "authenticated": request.user.is_authenticated,
            "auth_scopes": list(request.auth.scopes),
        }
    )


@requires("read")
async def reader(request: Request) -> PlainTextResponse:
    return PlainTextResponse("read ok")


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"token": request.state.access_token})


async def ws_endpoint(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json({"sub": websocket.state.access_token.subject})
    await websocket.close()


def make_app(guard: Guard, **options: Any) -> Starlette:
    started: list[bool] = []

    @asynccontextmanager
    async def lifespan(app: Starlette) -> Any:
        started.append(True)
        yield

    app = Starlette(
        routes=[
            Route("/me", me),
            Route("/reader", reader),
            Route("/health", health),
            Route("/docs/{rest:path}", health),
            WebSocketRoute("/ws", ws_endpoint),
        ],
        middleware=[Middleware(BearerTokenMiddleware, guard=guard, **options)],
        lifespan=lifespan,
    )
    app.state.started = started
    return app


@pytest.fixture
def client(pingone_mock: MockPingOne) -> Iterator[TestClient]:
    app = make_app(pingone_mock.guard(), public_paths=["/health", "/docs/*"])
    with TestClient(app) as test_client:
        yield test_client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- the happy path ---------------------------------------------------------------------


def test_valid_token_reaches_app(client: TestClient, pingone_mock: MockPingOne) -> None:
    response = client.get("/me", headers=bearer(pingone_mock.issue_token(["read", "write"])))
    assert response.status_code == 200
    assert response.json() == {
        "sub": "user-1",
        "scopes": ["read", "write"],
        "user": "user-1",
        "authenticated": True,
        "auth_scopes": ["read", "write"],
    }


def test_client_credentials_token_user_is_the_client(
    client: TestClient, pingone_mock: MockPingOne
) -> None:
    response = client.get("/me", headers=bearer(pingone_mock.issue_token(["read"], sub=None)))
    assert response.status_code == 200
    assert response.json()["user"] == "mock-client"


def test_requires_decorator_works_behind_middleware(
    client: TestClient, pingone_mock: MockPingOne
) -> None:
    ok = client.get("/reader", headers=bearer(pingone_mock.issue_token(["read"])))
    assert ok.status_code == 200
    assert ok.text == "read ok"
    denied = client.get("/reader", headers=bearer(pingone_mock.issue_token(["write"])))
    assert denied.status_code == 403


async def test_async_client_through_asgi_transport(pingone_mock: MockPingOne) -> None:
    app = make_app(pingone_mock.guard())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.get("/me", headers=bearer(pingone_mock.issue_token()))
        missing = await http.get("/me")
    assert response.status_code == 200
    assert response.json()["sub"] == "user-1"
    assert missing.status_code == 401


# --- rejections -------------------------------------------------------------------------


def test_realm_is_in_every_challenge(pingone_mock: MockPingOne) -> None:
    app = make_app(pingone_mock.guard(realm="orders"))
    with TestClient(app) as http:
        missing = http.get("/me")
        bad = http.get("/me", headers=bearer("not-a-jwt"))
        malformed = http.get("/me", headers={"Authorization": "Bearer a b"})
    assert missing.headers["www-authenticate"] == 'Bearer realm="orders"'
    assert bad.headers["www-authenticate"].startswith(
        'Bearer realm="orders", error="invalid_token"'
    )
    assert malformed.status_code == 400
    assert 'realm="orders"' in malformed.headers["www-authenticate"]


def test_scopes_match_any(pingone_mock: MockPingOne) -> None:
    app = make_app(pingone_mock.guard(), scopes=["admin", "read"], match="any")
    with TestClient(app) as http:
        response = http.get("/me", headers=bearer(pingone_mock.issue_token(["read"])))
    assert response.status_code == 200


def test_token_in_query_string_allowed_when_opted_in(pingone_mock: MockPingOne) -> None:
    app = make_app(pingone_mock.guard(), allow_query_token=True)
    with TestClient(app) as http:
        response = http.get("/me", params={"access_token": pingone_mock.issue_token()})
    assert response.status_code == 200


# --- public paths and required=False ----------------------------------------------------


@pytest.mark.parametrize("path", ["/health", "/docs/", "/docs/openapi.json"])
def test_public_path_needs_no_token(client: TestClient, path: str) -> None:
    response = client.get(path, headers={"Authorization": "Bearer not-verified"})
    assert response.status_code == 200
    assert response.json() == {"token": None}


@pytest.mark.parametrize("path", ["/health/../me", "/docs/../me", "/docs//me", "/docs/%2e%2e/me"])
async def test_traversal_out_of_public_path_needs_a_token(
    pingone_mock: MockPingOne, path: str
) -> None:
    called: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        called.append(scope["path"])

    middleware = BearerTokenMiddleware(
        app, guard=pingone_mock.guard(), public_paths=["/health", "/docs/*"]
    )
    messages = await call(middleware, {"type": "http", "path": path, "headers": []})
    assert messages[0]["status"] == 401
    assert called == []


async def test_public_path_is_matched_below_root_path(pingone_mock: MockPingOne) -> None:
    seen: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["state"]["access_token"])

    middleware = BearerTokenMiddleware(app, guard=pingone_mock.guard(), public_paths=["/health"])
    scope = {"type": "http", "path": "/api/health", "root_path": "/api", "headers": []}
    await call(middleware, scope)
    assert seen == [None]
    denied = await call(middleware, {"type": "http", "path": "/api/health", "headers": []})
    assert denied[0]["status"] == 401


def test_required_false_lets_anonymous_requests_through(pingone_mock: MockPingOne) -> None:
    app = make_app(pingone_mock.guard(), required=False)
    with TestClient(app) as http:
        anonymous = http.get("/me")
        basic = http.get("/me", headers={"Authorization": "Basic dXNlcjpwYXNz"})
        valid = http.get("/me", headers=bearer(pingone_mock.issue_token()))
        bad = http.get("/me", headers=bearer("not.a.jwt"))
        malformed = http.get("/me", headers={"Authorization": "Bearer a b"})
        reader_anon = http.get("/reader")
    assert anonymous.status_code == 200
    assert anonymous.json()["sub"] is None
    assert anonymous.json()["authenticated"] is False
    assert basic.status_code == 200
    assert valid.json()["sub"] == "user-1"
    assert bad.status_code == 401  # a sent token must be valid: never downgraded to anonymous
    assert malformed.status_code == 400
    assert reader_anon.status_code == 403


# --- websockets and lifespan ------------------------------------------------------------


def test_websocket_with_token_is_accepted(client: TestClient, pingone_mock: MockPingOne) -> None:
    with client.websocket_connect("/ws", headers=bearer(pingone_mock.issue_token())) as ws:
        assert ws.receive_json() == {"sub": "user-1"}


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not.a.jwt"}])
def test_websocket_without_valid_token_is_closed_1008(
    client: TestClient, headers: dict[str, str]
) -> None:
    with (
        pytest.raises(WebSocketDisconnect) as info,
        client.websocket_connect("/ws", headers=headers),
    ):
        pass
    assert info.value.code == 1008


async def test_websocket_rejection_reads_connect_first(pingone_mock: MockPingOne) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("app must not be called")

    middleware = BearerTokenMiddleware(app, guard=pingone_mock.guard())
    inbox = [{"type": "websocket.connect"}]
    messages = await call(middleware, {"type": "websocket", "path": "/ws", "headers": []}, inbox)
    assert inbox == []
    assert messages == [{"type": "websocket.close", "code": 1008, "reason": "unauthorized"}]


def test_lifespan_passes_through(pingone_mock: MockPingOne) -> None:
    app = make_app(pingone_mock.guard())
    with TestClient(app):
        assert app.state.started == [True]


async def test_lifespan_scope_is_untouched(pingone_mock: MockPingOne) -> None:
    seen: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope)

    scope = {"type": "lifespan", "asgi": {"version": "3.0"}}
    await call(BearerTokenMiddleware(app, guard=pingone_mock.guard()), scope)
    assert seen == [{"type": "lifespan", "asgi": {"version": "3.0"}}]
    assert seen[0] is scope


def test_token_user_is_a_starlette_user(pingone_mock: MockPingOne) -> None:
    from starlette.authentication import BaseUser

    token = pingone_mock.guard().verify(pingone_mock.issue_token())
    user = TokenUser(token)
    assert isinstance(user, BaseUser)
    assert (user.is_authenticated, user.display_name, user.identity) == (True, "user-1", "user-1")
    assert user.token is token


def test_module_imports_and_works_without_starlette() -> None:
    code = textwrap.dedent(
        """
        import asyncio, sys
        sys.modules["starlette"] = None
        from p1guard import Guard, PingOne
        from p1guard.asgi import BearerTokenMiddleware

        # A real Guard; the request carries no token, so PingOne (port 9: discard) is never asked.
        guard = Guard(PingOne(issuer="http://127.0.0.1:9/as"), audience="https://api.example.com")

        async def app(scope, receive, send):
            raise AssertionError("not reached")

        async def main():
            sent = []
            async def send(message):
                sent.append(message)
            mw = BearerTokenMiddleware(app, guard=guard)
            await mw({"type": "http", "path": "/", "headers": []}, None, send)
            assert sent[0]["status"] == 401, sent
            assert "starlette" not in sys.modules or sys.modules["starlette"] is None

        asyncio.run(main())
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)


# --- helpers ----------------------------------------------------------------------------


async def call(
    app: Any, scope: dict[str, Any], inbox: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """Drive one ASGI call; return the messages the app sent."""
    sent: list[dict[str, Any]] = []
    pending = inbox if inbox is not None else [{"type": "http.request", "body": b""}]

    async def receive() -> dict[str, Any]:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


async def test_middlewares_take_one_requirements_value(pingone_mock: MockPingOne) -> None:
    from p1guard import Requirements
    from p1guard.wsgi import BearerTokenMiddleware as WsgiMiddleware

    needs = Requirements(scopes=["write"])
    asgi = BearerTokenMiddleware(Starlette(), guard=pingone_mock.guard(), requirements=needs)
    wsgi = WsgiMiddleware(lambda environ, start: [], guard=pingone_mock.guard(), requirements=needs)
    assert asgi.rules.requirements is needs
    assert wsgi.rules.requirements is needs
