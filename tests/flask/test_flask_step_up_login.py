"""Step-up sign-in (RFC 9470) on Flask pages: ``@p1.login_required(acr_values=, max_age=)``
against a live MockPingOne (its ID token's ``acr`` is the first requested ``acr_values``)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from flask import Flask
from flask.testing import FlaskClient

from p1guard import ConfigError
from p1guard.rp import RelyingParty, WebLogin
from p1guard.testing import MockPingOne
from p1guard_flask import P1Guard, current_user

ORIGIN = "http://127.0.0.1:5000"
CALLBACK = f"{ORIGIN}/auth/callback"
HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
JSON = {"Accept": "application/json"}


@pytest.fixture
def browser() -> Iterator[httpx.Client]:
    """The browser's hop to PingOne and back (the mock signs the test user in by itself)."""
    with httpx.Client(follow_redirects=False) as client:
        yield client


@pytest.fixture
def client(pingone_mock: MockPingOne) -> Iterator[FlaskClient]:
    registered = pingone_mock.register_client(redirect_uris=[CALLBACK])
    rp = RelyingParty(
        pingone_mock.pingone(),
        client_id=registered.client_id,
        client_secret=registered.client_secret,
        redirect_uri=CALLBACK,
    )
    app = Flask(__name__)
    app.config["SECRET_KEY"] = "test-secret-key"
    p1 = P1Guard()
    p1.init_login(app, web=WebLogin(rp))

    @app.route("/transfer", methods=["GET", "POST"])
    @p1.login_required(acr_values=["Multi_Factor"], max_age=300)
    def transfer() -> dict[str, Any]:
        return {"acr": current_user.claims["acr"]}

    @app.get("/async/transfer")
    @p1.login_required(acr_values="Multi_Factor")
    async def async_transfer() -> dict[str, Any]:
        await asyncio.sleep(0)
        return {"acr": current_user.claims["acr"]}

    @app.get("/profile")
    @p1.login_required
    def profile() -> dict[str, Any]:
        return {"acr": current_user.claims["acr"]}

    yield app.test_client()
    rp.pingone.close()


def sign_in(
    client: FlaskClient, browser: httpx.Client, login_url: str, op: MockPingOne
) -> tuple[str, dict[str, str]]:
    """``login_url`` → PingOne → callback: where the callback redirects, what was sent."""
    start = client.get(login_url, headers=HTML)
    assert start.status_code == 302, start.get_data(as_text=True)
    sent = dict(op.last_authorize_params)
    back = browser.get(start.headers["Location"])
    assert back.status_code == 302, back.text
    done = client.get(back.headers["location"][len(ORIGIN) :], headers=HTML)
    assert done.status_code == 302, done.get_data(as_text=True)
    return done.headers["Location"], sent


def test_step_up_sends_the_user_back_through_pingone(
    client: FlaskClient, browser: httpx.Client, pingone_mock: MockPingOne
) -> None:
    anonymous = client.get("/transfer", headers=HTML)
    assert anonymous.status_code == 302
    assert parse_qs(urlsplit(anonymous.headers["Location"]).query) == {"return_to": ["/transfer"]}

    assert sign_in(client, browser, "/auth/login", pingone_mock)[0] == "/"
    assert client.get("/profile").get_json() == {"acr": "Single_Factor"}

    refused = client.post("/transfer", headers=HTML)
    assert refused.status_code == 302
    step_up = refused.headers["Location"]
    url = urlsplit(step_up)
    assert url.path == "/auth/login"
    assert parse_qs(url.query) == {
        "return_to": ["/transfer"],
        "acr_values": ["Multi_Factor"],
        "max_age": ["300"],
    }
    api = client.get("/async/transfer", headers=JSON)
    assert api.status_code == 401
    assert 'error="insufficient_user_authentication"' in api.headers["WWW-Authenticate"]
    assert 'acr_values="Multi_Factor"' in api.headers["WWW-Authenticate"]
    assert api.get_json()["error"] == "insufficient_user_authentication"

    back_to, sent = sign_in(client, browser, step_up, pingone_mock)
    assert back_to == "/transfer"
    assert sent["acr_values"] == "Multi_Factor"
    assert sent["max_age"] == "300"
    assert client.get("/transfer", headers=HTML).get_json() == {"acr": "Multi_Factor"}
    assert client.post("/transfer", headers=HTML).get_json() == {"acr": "Multi_Factor"}
    assert client.get("/async/transfer", headers=HTML).get_json() == {"acr": "Multi_Factor"}


@pytest.mark.parametrize(
    ("options", "field"),
    [({"acr_values": ["two words"]}, "acr_values"), ({"max_age": True}, "max_age")],
)
def test_bad_step_up_options_fail_when_declared(options: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as caught:
        P1Guard().login_required(**options)
    assert caught.value.field == field
