"""Step-up sign-in (RFC 9470) on Starlette pages: ``examples/starlette_step_up.py`` against a
live MockPingOne (its ID token's ``acr`` is the first requested ``acr_values``)."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from p1guard import ConfigError
from p1guard.asgi._login import LoginRoutes
from p1guard.rp import RelyingParty, WebLogin
from p1guard.testing import MockPingOne

EXAMPLE = Path(__file__).parents[2] / "examples" / "starlette_step_up.py"
ORIGIN = "http://127.0.0.1:8000"
CALLBACK = f"{ORIGIN}/auth/callback"
SECRET = "test-session-secret-0123456789abcdef"
HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
JSON = {"Accept": "application/json"}


def _example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("starlette_step_up", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _web(op: MockPingOne) -> WebLogin:
    client = op.register_client(redirect_uris=[CALLBACK])
    rp = RelyingParty(
        op.pingone(),
        client_id=client.client_id,
        client_secret=client.client_secret,
        redirect_uri=CALLBACK,
    )
    return WebLogin(rp)


@pytest.fixture
async def app(pingone_mock: MockPingOne) -> AsyncIterator[httpx.AsyncClient]:
    web = _web(pingone_mock)
    asgi = _example().create_app(web, session_secret=SECRET)
    transport = httpx.ASGITransport(app=asgi)
    async with httpx.AsyncClient(transport=transport, base_url=ORIGIN, headers=HTML) as client:
        yield client
    await web.rp.pingone.aclose()


@pytest.fixture
async def browser() -> AsyncIterator[httpx.AsyncClient]:
    """The browser's side trip to (mock) PingOne, which signs the test user in by itself."""
    async with httpx.AsyncClient(follow_redirects=False) as client:
        yield client


async def sign_in(
    app: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    login_url: str,
    sent: dict[str, str] | None = None,
    op: MockPingOne | None = None,
) -> str:
    """``login_url`` → PingOne → callback; the callback's redirect (``return_to``).

    With ``op``, ``sent`` gets the authorization request's parameters (pushed with PAR)."""
    start = await app.get(login_url)
    assert start.status_code == 302, start.text
    if op is not None and sent is not None:
        sent.update(op.last_authorize_params)
    back = await browser.get(start.headers["location"])
    assert back.status_code == 302, back.text
    done = await app.get(back.headers["location"])
    assert done.status_code == 302, done.text
    location: str = done.headers["location"]
    return location


async def test_transfer_needs_a_recent_multi_factor_sign_in(
    app: httpx.AsyncClient, browser: httpx.AsyncClient, pingone_mock: MockPingOne
) -> None:
    # nobody signed in: the plain login redirect
    anonymous = await app.get("/transfer")
    assert anonymous.status_code == 302
    assert anonymous.headers["location"] == "/auth/login?return_to=%2Ftransfer"

    # a password-only sign-in is not enough for moving money
    assert await sign_in(app, browser, "/auth/login") == "/"
    assert "Single_Factor" in (await app.get("/")).text
    refused = await app.post("/transfer", data={"amount": "100"})
    assert refused.status_code == 302
    assert refused.headers["cache-control"] == "no-store"
    step_up = refused.headers["location"]
    url = urlsplit(step_up)
    assert url.path == "/auth/login"
    assert parse_qs(url.query) == {
        "return_to": ["/transfer"],
        "acr_values": ["Multi_Factor"],
        "max_age": ["300"],
    }

    # API clients get the RFC 9470 challenge instead of a redirect
    api = await app.get("/transfer", headers=JSON)
    assert api.status_code == 401
    challenge = api.headers["www-authenticate"]
    assert 'error="insufficient_user_authentication"' in challenge
    assert 'acr_values="Multi_Factor"' in challenge
    assert 'max_age="300"' in challenge
    assert api.json()["error"] == "insufficient_user_authentication"

    # back through PingOne with those values; the new ID token has acr=Multi_Factor
    sent: dict[str, str] = {}
    assert await sign_in(app, browser, step_up, sent, pingone_mock) == "/transfer"
    assert sent["acr_values"] == "Multi_Factor"
    assert sent["max_age"] == "300"
    assert "Multi_Factor" in (await app.get("/")).text
    form = await app.get("/transfer")
    assert form.status_code == 200
    match = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert match is not None
    done = await app.post("/transfer", data={"amount": "100", "csrf": match.group(1)})
    assert done.status_code == 200
    assert done.text == "Sent 100"
    forged = await app.post("/transfer", data={"amount": "100", "csrf": "forged"})
    assert forged.status_code == 403


def _routes_app(op: MockPingOne, auth: LoginRoutes) -> Starlette:
    @auth.login_required(max_age=0)
    async def fresh(request: Request) -> Response:
        return PlainTextResponse("fresh")

    @auth.login_required()
    def plain(request: Request) -> Response:  # called with no step-up: a plain login_required
        return PlainTextResponse(f"plain {request.state.p1guard_user.name}")

    routes = [*auth.routes, Route("/fresh", fresh), Route("/plain", plain)]
    return Starlette(routes=routes, middleware=[auth.session_middleware(SECRET)])


async def test_max_age_alone_and_empty_call(
    pingone_mock: MockPingOne, browser: httpx.AsyncClient
) -> None:
    web = _web(pingone_mock)
    auth = LoginRoutes(web)
    transport = httpx.ASGITransport(app=_routes_app(pingone_mock, auth))
    async with httpx.AsyncClient(transport=transport, base_url=ORIGIN, headers=HTML) as app:
        await sign_in(app, browser, "/auth/login")
        assert (await app.get("/plain")).text == "plain Ada Lovelace"
        stale = await app.get("/fresh")  # max_age=0: never recent enough once a second passes
        if stale.status_code == 302:
            query = parse_qs(urlsplit(stale.headers["location"]).query)
            assert query == {"return_to": ["/fresh"], "max_age": ["0"]}
        else:  # signed in during this very second
            assert stale.text == "fresh"
    await web.rp.pingone.aclose()


@pytest.mark.parametrize(
    ("options", "field"),
    [({"acr_values": ["two words"]}, "acr_values"), ({"max_age": -1}, "max_age")],
)
def test_bad_step_up_options_fail_when_declared(
    pingone_mock: MockPingOne, options: dict[str, object], field: str
) -> None:
    auth = LoginRoutes(_web(pingone_mock))
    with pytest.raises(ConfigError) as caught:
        auth.login_required(**options)  # type: ignore[call-overload]
    assert caught.value.field == field
