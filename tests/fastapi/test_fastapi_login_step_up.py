"""Step-up sign-in (RFC 9470) with ``LoginRouter.require_user(acr_values=…, max_age=…)``,
against a live MockPingOne (its ID token's ``acr`` is the first requested ``acr_values``).

FastAPI's TestClient is the app's browser; a non-following ``httpx.Client`` makes the hop to
PingOne. No ``from __future__ import annotations``: FastAPI reads annotations at runtime.
"""

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Annotated, Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import Depends, FastAPI, WebSocket
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from p1guard import ConfigError
from p1guard.rp import RelyingParty, SignedInUser, WebLogin
from p1guard.testing import MockPingOne
from p1guard_fastapi import LoginRouter, StepUpRequired

ORIGIN = "http://127.0.0.1:5000"
CALLBACK = f"{ORIGIN}/auth/callback"
WS = "ws://127.0.0.1:5000/ws"  # the session cookie's host
SECRET = "test-session-secret-of-at-least-32-characters"
HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
JSON = {"Accept": "application/json"}


def make_login(op: MockPingOne) -> LoginRouter:
    client = op.register_client(redirect_uris=[CALLBACK])
    rp = RelyingParty(
        op.pingone(),
        client_id=client.client_id,
        client_secret=client.client_secret,
        redirect_uri=CALLBACK,
    )
    return LoginRouter(WebLogin(rp))


def make_app(login: LoginRouter) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await login.aclose()

    app = FastAPI(lifespan=lifespan)
    login.install(app, secret_key=SECRET)
    strong_user = login.require_user(acr_values=["Multi_Factor"], max_age=300)
    plain_user = login.require_user()

    @app.get("/plain")
    async def plain(user: Annotated[SignedInUser, Depends(plain_user)]) -> dict[str, Any]:
        return {"acr": user.claims.get("acr")}

    @app.post("/transfer")
    async def transfer(user: Annotated[SignedInUser, Depends(strong_user)]) -> dict[str, Any]:
        return {"acr": user.claims["acr"]}

    @app.get("/transfer")
    def transfer_form(user: Annotated[SignedInUser, Depends(strong_user)]) -> dict[str, Any]:
        return {"form": True, "acr": user.claims["acr"]}

    @app.websocket("/ws")
    async def ws(websocket: WebSocket, user: Annotated[SignedInUser, Depends(strong_user)]) -> None:
        await websocket.accept()
        await websocket.send_text(user.claims["acr"])
        await websocket.close()

    return app


@pytest.fixture
def browser() -> Iterator[httpx.Client]:
    with httpx.Client(follow_redirects=False) as client:
        yield client


@pytest.fixture
def client(pingone_mock: MockPingOne) -> Iterator[TestClient]:
    app = make_app(make_login(pingone_mock))
    with TestClient(app, base_url=ORIGIN, follow_redirects=False) as http:
        yield http


def sign_in(
    client: TestClient,
    browser: httpx.Client,
    login_url: str,
    op: MockPingOne | None = None,
    sent: dict[str, str] | None = None,
) -> str:
    """``login_url`` → PingOne → callback; the callback's redirect (``return_to``). With
    ``op``, ``sent`` gets the authorization request's parameters (pushed with PAR)."""
    start = client.get(login_url)
    assert start.status_code == 302, start.text
    if op is not None and sent is not None:
        sent.update(op.last_authorize_params)
    back = browser.get(start.headers["location"])
    assert back.status_code == 302, back.text
    done = client.get(back.headers["location"])
    assert done.status_code == 302, done.text
    location: str = done.headers["location"]
    return location


def test_weak_sign_in_steps_up_through_pingone(
    client: TestClient, browser: httpx.Client, pingone_mock: MockPingOne
) -> None:
    anonymous = client.get("/transfer", headers=HTML)
    assert anonymous.status_code == 302
    assert anonymous.headers["location"] == "/auth/login?return_to=%2Ftransfer"

    assert sign_in(client, browser, "/auth/login?return_to=/plain") == "/plain"
    assert client.get("/plain").json() == {"acr": "Single_Factor"}

    refused = client.get("/transfer?to=bob", headers=HTML)
    assert refused.status_code == 302
    assert refused.headers["cache-control"] == "no-store"
    step_up = refused.headers["location"]
    url = urlsplit(step_up)
    assert url.path == "/auth/login"
    assert parse_qs(url.query) == {
        "return_to": ["/transfer?to=bob"],
        "acr_values": ["Multi_Factor"],
        "max_age": ["300"],
    }

    api = client.post("/transfer", headers=JSON)
    assert api.status_code == 401
    assert api.headers["www-authenticate"] == (
        'Bearer error="insufficient_user_authentication", '
        'error_description="A different authentication level is required", '
        'acr_values="Multi_Factor", max_age="300"'
    )
    assert api.headers["cache-control"] == "no-store"
    assert api.json() == {
        "error": "insufficient_user_authentication",
        "error_description": "A different authentication level is required",
    }
    with pytest.raises(WebSocketDisconnect) as closed, client.websocket_connect(WS):
        pass
    assert (closed.value.code, closed.value.reason) == (1008, "insufficient_user_authentication")

    sent: dict[str, str] = {}
    assert sign_in(client, browser, step_up, pingone_mock, sent) == "/transfer?to=bob"
    assert (sent["acr_values"], sent["max_age"]) == ("Multi_Factor", "300")
    assert client.get("/transfer?to=bob", headers=HTML).json() == {
        "form": True,
        "acr": "Multi_Factor",
    }
    assert client.post("/transfer", headers=JSON).json() == {"acr": "Multi_Factor"}
    with client.websocket_connect(WS) as ws:
        assert ws.receive_text() == "Multi_Factor"


def test_not_signed_in_api_client_gets_login_required(client: TestClient) -> None:
    answer = client.post("/transfer", headers=JSON)
    assert answer.status_code == 401
    assert answer.json()["error"] == "login_required"


def test_step_up_required_is_a_login_required(pingone_mock: MockPingOne) -> None:
    """Apps that handle LoginRequired themselves also catch step-up refusals."""
    from p1guard import InsufficientUserAuthentication

    exc = StepUpRequired(
        "/auth/login?max_age=0", InsufficientUserAuthentication(max_age=0), redirect=True
    )
    assert exc.status_code == 302
    assert exc.headers is not None and exc.headers["Location"] == "/auth/login?max_age=0"


@pytest.mark.parametrize(
    ("options", "field"),
    [({"acr_values": ["two words"]}, "acr_values"), ({"max_age": -1}, "max_age")],
)
def test_bad_step_up_options_fail_when_declared(
    pingone_mock: MockPingOne, options: dict[str, Any], field: str
) -> None:
    login = make_login(pingone_mock)
    with pytest.raises(ConfigError) as caught:
        login.require_user(**options)
    assert caught.value.field == field
