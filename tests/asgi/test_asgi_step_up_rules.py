"""Step-up (RFC 9470) and claim rules on p1guard.asgi.BearerTokenMiddleware, against a live
MockPingOne through httpx's ASGI transport (and Starlette's TestClient for WebSockets)."""

from __future__ import annotations

import time
import warnings
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from p1guard import ConfigError, Equals, Guard
from p1guard.asgi import BearerTokenMiddleware
from p1guard.testing import MockPingOne

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

RULES: dict[str, Any] = {
    "acr_values": ["Multi_Factor"],
    "max_age": 300,
    "claims": [Equals("stage", "prod")],
    "public_paths": ["/health"],
}


class Calls:
    def __init__(self) -> None:
        self.count = 0


def make_app(guard: Guard, calls: Calls, **options: Any) -> BearerTokenMiddleware:
    async def transfer(request: Request) -> JSONResponse:
        calls.count += 1
        token = request.state.access_token
        return JSONResponse({"acr": token.claims.get("acr") if token else None})

    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_json({"acr": websocket.state.access_token.claims["acr"]})
        await websocket.close()

    inner = Starlette(
        routes=[Route("/transfer", transfer), Route("/health", transfer), WebSocketRoute("/ws", ws)]
    )
    return BearerTokenMiddleware(inner, guard=guard, **options)


@pytest.fixture
def calls() -> Calls:
    return Calls()


@pytest.fixture
async def client(pingone_mock: MockPingOne, calls: Calls) -> AsyncIterator[httpx.AsyncClient]:
    guard = pingone_mock.guard()
    transport = httpx.ASGITransport(app=make_app(guard, calls, **RULES))
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as http:
        yield http
    await guard.aclose()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def strong(op: MockPingOne, **claims: Any) -> str:
    return op.issue_token(
        claims={"acr": "Multi_Factor", "auth_time": int(time.time()), "stage": "prod", **claims}
    )


async def test_weak_sign_in_gets_the_step_up_challenge(
    client: httpx.AsyncClient, pingone_mock: MockPingOne, calls: Calls
) -> None:
    refused = await client.get("/transfer", headers=bearer(pingone_mock.issue_token()))
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == (
        'Bearer error="insufficient_user_authentication", '
        'error_description="A different authentication level is required", '
        'acr_values="Multi_Factor", max_age="300"'
    )
    assert refused.headers["cache-control"] == "no-store"
    assert refused.json()["error"] == "insufficient_user_authentication"
    assert calls.count == 0


async def test_stale_sign_in_gets_the_max_age_challenge(
    client: httpx.AsyncClient, pingone_mock: MockPingOne, calls: Calls
) -> None:
    stale = strong(pingone_mock, auth_time=int(time.time()) - 3600)
    refused = await client.get("/transfer", headers=bearer(stale))
    assert refused.status_code == 401
    challenge = refused.headers["www-authenticate"]
    assert 'error="insufficient_user_authentication"' in challenge
    assert "More recent authentication" in challenge
    assert 'max_age="300"' in challenge
    assert calls.count == 0


async def test_strong_sign_in_missing_a_claim_is_403(
    client: httpx.AsyncClient, pingone_mock: MockPingOne, calls: Calls
) -> None:
    refused = await client.get("/transfer", headers=bearer(strong(pingone_mock, stage="dev")))
    assert refused.status_code == 403
    assert refused.json() == {
        "error": "access_denied",
        "error_description": "The access token does not satisfy: stage equals 'prod'",
    }
    assert refused.headers["www-authenticate"].startswith('Bearer error="access_denied"')
    assert "dev" not in refused.text  # the actual value is only logged
    assert calls.count == 0


async def test_strong_recent_sign_in_with_the_claims_passes(
    client: httpx.AsyncClient, pingone_mock: MockPingOne, calls: Calls
) -> None:
    ok = await client.get("/transfer", headers=bearer(strong(pingone_mock)))
    assert ok.status_code == 200
    assert ok.json() == {"acr": "Multi_Factor"}
    assert calls.count == 1


async def test_public_paths_skip_step_up(client: httpx.AsyncClient, calls: Calls) -> None:
    ok = await client.get("/health")
    assert ok.status_code == 200
    assert ok.json() == {"acr": None}


async def test_optional_auth_still_enforces_step_up_on_a_sent_token(
    pingone_mock: MockPingOne, calls: Calls
) -> None:
    """A weak token is never downgraded to anonymous (fail closed)."""
    guard = pingone_mock.guard()
    app = make_app(guard, calls, required=False, acr_values="Multi_Factor")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as http:
        assert (await http.get("/transfer")).json() == {"acr": None}
        weak = await http.get("/transfer", headers=bearer(pingone_mock.issue_token()))
        assert weak.status_code == 401
        assert 'acr_values="Multi_Factor"' in weak.headers["www-authenticate"]
    assert calls.count == 1
    await guard.aclose()


def test_websocket_with_a_weak_token_is_closed(pingone_mock: MockPingOne, calls: Calls) -> None:
    app = make_app(pingone_mock.guard(), calls, **RULES)
    with TestClient(app) as test_client:
        weak = bearer(pingone_mock.issue_token())
        with (
            pytest.raises(WebSocketDisconnect) as closed,
            test_client.websocket_connect("/ws", headers=weak),
        ):
            pass
        assert (closed.value.code, closed.value.reason) == (
            1008,
            "insufficient_user_authentication",
        )
        with test_client.websocket_connect("/ws", headers=bearer(strong(pingone_mock))) as ws:
            assert ws.receive_json() == {"acr": "Multi_Factor"}


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"acr_values": ["two words"]}, "acr_values"),
        ({"acr_values": [""]}, "acr_values"),
        ({"max_age": -1}, "max_age"),
        ({"max_age": True}, "max_age"),
        ({"claims": ["stage=prod"]}, "claims"),
        ({"claims": [lambda token: True]}, "claims"),
    ],
)
def test_bad_step_up_options_fail_at_startup(
    pingone_mock: MockPingOne, options: dict[str, Any], field: str
) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:  # never called
        raise AssertionError

    with pytest.raises(ConfigError) as caught:
        BearerTokenMiddleware(app, guard=pingone_mock.guard(), **options)
    assert caught.value.field == field
