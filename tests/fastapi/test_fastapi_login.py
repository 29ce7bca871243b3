"""p1guard_fastapi.LoginRouter against a live MockPingOne, driven by FastAPI's TestClient.

The TestClient is the app's browser (its cookie jar keeps the session); a non-following
``httpx.Client`` plays the browser's hop to PingOne, which signs "Ada Lovelace" in by itself.
No ``from __future__ import annotations``: FastAPI reads the routes' annotations at runtime.
"""

import base64
import importlib.util
import json
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import Depends, FastAPI, WebSocket
from fastapi.testclient import TestClient
from starlette.requests import Request
from starlette.websockets import WebSocketDisconnect

from p1guard import ConfigError
from p1guard.rp import RelyingParty, SignedInUser, WebLogin
from p1guard.testing import MockPingOne
from p1guard_fastapi import LoginRouter, add_session_middleware

ORIGIN = "http://127.0.0.1:5000"
CALLBACK = f"{ORIGIN}/auth/callback"
HOME = f"{ORIGIN}/"
SECRET = "test-session-secret-of-at-least-32-characters"
HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
JSON = {"Accept": "application/json"}


def make_web(op: MockPingOne, **options: Any) -> WebLogin:
    client = op.register_client(redirect_uris=[CALLBACK], post_logout_redirect_uris=[HOME])
    rp = RelyingParty(
        op.pingone(),
        client_id=client.client_id,
        client_secret=client.client_secret,
        redirect_uri=CALLBACK,
        post_logout_redirect_uri=HOME,
    )
    return WebLogin(rp, **options)


def make_app(login: LoginRouter, *, install: bool = True) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await login.aclose()

    app = FastAPI(lifespan=lifespan)
    if install:
        login.install(app, secret_key=SECRET)
    else:
        add_session_middleware(app, secret_key=SECRET, redirect_uri=CALLBACK)
        app.include_router(login)

    @app.get("/")
    async def home(
        user: Annotated[SignedInUser | None, Depends(login.optional_user)],
    ) -> dict[str, Any]:
        return {"name": user.name if user else None}

    @app.get("/me")
    async def me(user: Annotated[SignedInUser, Depends(login.current_user)]) -> dict[str, Any]:
        return {"name": user.name, "sub": user.subject, "access_token": user.access_token}

    @app.websocket("/ws")
    async def ws(
        websocket: WebSocket, user: Annotated[SignedInUser, Depends(login.current_user)]
    ) -> None:
        await websocket.accept()
        await websocket.send_text(user.name)
        await websocket.close()

    return app


def open_client(app: FastAPI) -> TestClient:
    return TestClient(app, base_url=ORIGIN, follow_redirects=False)


@pytest.fixture
def browser() -> Iterator[httpx.Client]:
    with httpx.Client(follow_redirects=False) as client:
        yield client


@pytest.fixture
def login(pingone_mock: MockPingOne) -> LoginRouter:
    return LoginRouter(make_web(pingone_mock))


@pytest.fixture
def client(login: LoginRouter) -> Iterator[TestClient]:
    with open_client(make_app(login)) as http:
        yield http


def session_data(client: TestClient) -> dict[str, Any]:
    """The (signed, not encrypted) Starlette session cookie's content."""
    cookie = client.cookies.get("session")
    if not cookie:
        return {}
    payload = cookie.split(".")[0]
    decoded: dict[str, Any] = json.loads(base64.b64decode(payload + "=" * (-len(payload) % 4)))
    return decoded


def callback_url(client: TestClient, browser: httpx.Client, query: str = "") -> str:
    """Start a login in ``client``; PingOne's redirect back to the app's callback."""
    start = client.get(f"/auth/login{query}")
    assert start.status_code == 302, start.text
    assert start.headers["cache-control"] == "no-store"
    at_pingone = browser.get(start.headers["location"])
    assert at_pingone.status_code == 302, at_pingone.text
    location = at_pingone.headers["location"]
    assert location.startswith(CALLBACK)
    return location


def sign_in(client: TestClient, browser: httpx.Client, return_to: str = "/") -> Any:
    url = callback_url(client, browser, "?" + str(httpx.QueryParams({"return_to": return_to})))
    return client.get(url)


def assert_signed_out(client: TestClient) -> None:
    assert "p1guard.sid" not in session_data(client)
    assert client.get("/me", headers=JSON).status_code == 401


# -- sign-in -----------------------------------------------------------------------------------


def test_sign_in_redirects_to_return_to(client: TestClient, browser: httpx.Client) -> None:
    done = sign_in(client, browser, "/reports?year=2024")
    assert done.status_code == 302
    assert done.headers["location"] == "/reports?year=2024"
    me = client.get("/me", headers=JSON).json()
    assert (me["name"], me["sub"]) == ("Ada Lovelace", "user-1")
    assert client.get("/").json() == {"name": "Ada Lovelace"}


def test_session_cookie_is_httponly_lax_and_holds_no_tokens(
    client: TestClient, browser: httpx.Client
) -> None:
    done = sign_in(client, browser)
    cookie = done.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "secure" not in cookie  # the redirect URI is on loopback
    assert set(session_data(client)) == {"p1guard.sid", "p1guard.csrf"}  # rotated: ids only
    token = client.get("/me", headers=JSON).json()["access_token"]
    assert token not in (client.cookies.get("session") or "")


def test_session_cookie_is_secure_for_https_apps() -> None:
    app = FastAPI()
    add_session_middleware(app, secret_key=SECRET, redirect_uri="https://app.example/auth/cb")

    @app.get("/touch")
    async def touch(request: Request) -> dict[str, str]:
        request.session["x"] = "1"
        return {}

    with TestClient(app, base_url="https://app.example") as http:
        assert "secure" in http.get("/touch").headers["set-cookie"].lower()


def test_short_session_secret_rejected() -> None:
    with pytest.raises(ConfigError, match="secret_key"):
        add_session_middleware(FastAPI(), secret_key="short", redirect_uri=CALLBACK)


def test_open_redirect_in_return_to_becomes_root(client: TestClient, browser: httpx.Client) -> None:
    for hostile in ("https://evil.example/", "//evil.example/path", "/\\evil.example"):
        done = sign_in(client, browser, hostile)
        assert done.headers["location"] == "/", hostile


def test_login_passes_acr_values_and_friends_to_pingone(
    client: TestClient, pingone_mock: MockPingOne
) -> None:
    query = "?acr_values=Multi_Factor%20Single_Factor&max_age=300&prompt=login&login_hint=ada"
    assert client.get(f"/auth/login{query}").status_code == 302
    sent = pingone_mock.last_authorize_params  # the PAR request's parameters when PAR is used
    assert sent["acr_values"] == "Multi_Factor Single_Factor"
    assert sent["max_age"] == "300"
    assert sent["prompt"] == "login"
    assert sent["login_hint"] == "ada"


def test_bad_max_age_rejected(client: TestClient) -> None:
    for bad in ("soon", "-1", "²", "1e3"):
        answer = client.get("/auth/login", params={"max_age": bad}, headers=JSON)
        assert answer.status_code == 400, bad
        assert answer.json()["error"] == "invalid_request"
    assert "p1guard.login" not in session_data(client)


def test_login_routes_hidden_from_openapi(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert not [path for path in paths if path.startswith("/auth")]


# -- attacks on the callback -------------------------------------------------------------------


def test_bad_state_rejected(
    client: TestClient, browser: httpx.Client, pingone_mock: MockPingOne
) -> None:
    pingone_mock.tamper_next_callback(state="forged-state")
    refused = client.get(callback_url(client, browser), headers=HTML)
    assert refused.status_code == 400
    assert refused.headers["content-type"].startswith("text/html")
    assert "invalid_state" in refused.text
    assert "forged-state" not in refused.text  # nothing from the request is echoed
    assert_signed_out(client)


def test_bad_state_json_error_for_api_clients(
    client: TestClient, browser: httpx.Client, pingone_mock: MockPingOne
) -> None:
    pingone_mock.tamper_next_callback(state="forged-state")
    refused = client.get(callback_url(client, browser), headers=JSON)
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_state"
    assert set(refused.json()) == {"error", "error_description"}
    assert_signed_out(client)


def test_callback_without_login_in_this_browser_rejected(
    login: LoginRouter, client: TestClient, browser: httpx.Client
) -> None:
    attackers_callback = callback_url(client, browser)  # the attacker's own code and state...
    with open_client(make_app(login)) as victim:
        refused = victim.get(attackers_callback, headers=HTML)  # ...cannot sign the victim in
        assert refused.status_code == 400
        assert "cookie" in refused.text
        assert_signed_out(victim)


def test_replayed_callback_rejected(client: TestClient, browser: httpx.Client) -> None:
    url = callback_url(client, browser)
    assert client.get(url).status_code == 302
    client.cookies.clear()
    assert client.get("/auth/login").status_code == 302  # a new login is in progress...
    replayed = client.get(url, headers=JSON)  # ...and the old callback comes back
    assert replayed.status_code == 400
    assert replayed.json()["error"] == "invalid_state"
    assert_signed_out(client)


def test_provider_down_answers_503(client: TestClient, pingone_mock: MockPingOne) -> None:
    pingone_mock.stop()
    answer = client.get("/auth/login", headers=HTML)
    assert answer.status_code == 503
    assert int(answer.headers["retry-after"]) >= 1
    assert "unavailable" in answer.text.lower()


# -- the signed-in user ------------------------------------------------------------------------


def test_current_user_redirects_browsers_to_login(client: TestClient) -> None:
    answer = client.get("/me?tab=orders", headers=HTML)
    assert answer.status_code == 302
    location = urlsplit(answer.headers["location"])
    assert location.path == "/auth/login"
    assert parse_qs(location.query) == {"return_to": ["/me?tab=orders"]}


def test_current_user_answers_401_to_api_clients(client: TestClient) -> None:
    answer = client.get("/me", headers=JSON)
    assert answer.status_code == 401
    assert answer.json() == {
        "error": "login_required",
        "error_description": "Sign in first: GET /auth/login",
    }
    assert client.get("/").json() == {"name": None}  # optional_user


def test_without_handler_fastapi_renders_login_required(login: LoginRouter) -> None:
    with open_client(make_app(login, install=False)) as http:
        assert http.get("/me", headers=JSON).json()["detail"]["error"] == "login_required"
        assert http.get("/me", headers=HTML).headers["location"].startswith("/auth/login?")


def test_websocket_needs_signed_in_user(client: TestClient, browser: httpx.Client) -> None:
    with pytest.raises(WebSocketDisconnect) as closed, client.websocket_connect("/ws"):
        pass
    assert closed.value.code == 1008
    sign_in(client, browser)
    with client.websocket_connect("ws://127.0.0.1:5000/ws") as ws:
        assert ws.receive_text() == "Ada Lovelace"


def test_access_token_refreshed_before_expiry(
    pingone_mock: MockPingOne, browser: httpx.Client
) -> None:
    login = LoginRouter(make_web(pingone_mock, refresh_margin=10**9))  # always "about to expire"
    with open_client(make_app(login)) as http:
        sign_in(http, browser)
        first = http.get("/me", headers=JSON).json()["access_token"]
        second = http.get("/me", headers=JSON).json()["access_token"]
    assert first != second
    assert pingone_mock.introspect(second)["active"]


def test_missing_session_middleware_is_a_clear_error(login: LoginRouter) -> None:
    app = FastAPI()
    app.include_router(login)
    with TestClient(app) as http, pytest.raises(ConfigError, match="SessionMiddleware"):
        http.get("/auth/login")


# -- sign-out ----------------------------------------------------------------------------------


def logout_form_csrf(client: TestClient) -> str:
    page = client.get("/auth/logout")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert '<form method="post" action="/auth/logout">' in page.text
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found
    return found.group(1)


def test_logout_get_shows_confirmation_only(client: TestClient, browser: httpx.Client) -> None:
    sign_in(client, browser)
    assert logout_form_csrf(client) == session_data(client)["p1guard.csrf"]
    assert client.get("/me", headers=JSON).status_code == 200  # GET did not sign out


def test_logout_without_csrf_rejected(client: TestClient, browser: httpx.Client) -> None:
    sign_in(client, browser)
    assert client.post("/auth/logout").status_code == 400
    assert client.post("/auth/logout", data={"csrf": "guessed"}).status_code == 400
    csrf = logout_form_csrf(client)
    assert client.post("/auth/logout", json={"csrf": csrf}).status_code == 400
    stuffed = "&".join([f"csrf={csrf}", *(f"f{i}=x" for i in range(30))])
    form = {"content-type": "application/x-www-form-urlencoded"}
    assert client.post("/auth/logout", content=stuffed, headers=form).status_code == 400
    twice = f"csrf={csrf}&csrf=other"
    assert client.post("/auth/logout", content=twice, headers=form).status_code == 400
    assert client.get("/me", headers=JSON).status_code == 200  # still signed in


def test_logout_with_csrf_signs_out_at_pingone(
    client: TestClient, browser: httpx.Client, pingone_mock: MockPingOne
) -> None:
    sign_in(client, browser)
    token = client.get("/me", headers=JSON).json()["access_token"]
    done = client.post("/auth/logout", data={"csrf": logout_form_csrf(client)})
    assert done.status_code == 302
    signoff = done.headers["location"]
    assert signoff.startswith(pingone_mock.end_session_endpoint)
    assert not pingone_mock.introspect(token)["active"]
    assert_signed_out(client)
    assert browser.get(signoff).headers["location"] == HOME


# -- configuration -----------------------------------------------------------------------------


def test_from_env(pingone_mock: MockPingOne) -> None:
    callback = f"{ORIGIN}/account/callback"  # the callback route under prefix="/account"
    registered = pingone_mock.register_client(redirect_uris=[callback])
    env = {
        "P1GUARD_ISSUER": pingone_mock.issuer,
        "P1GUARD_LOGIN_CLIENT_ID": registered.client_id,
        "P1GUARD_LOGIN_CLIENT_SECRET": registered.client_secret or "",
        "P1GUARD_LOGIN_REDIRECT_URI": callback,
        "P1GUARD_LOGIN_SCOPES": "openid, profile",
    }
    login = LoginRouter.from_env(env, prefix="/account")
    assert login.web.rp.scopes == ("openid", "profile")
    assert login.prefix == "/account"
    login.web.rp.pingone.close()
    with pytest.raises(ConfigError, match="P1GUARD_LOGIN_REDIRECT_URI"):
        LoginRouter.from_env({**env, "P1GUARD_LOGIN_REDIRECT_URI": ""})
    with pytest.raises(ConfigError, match="P1GUARD_LOGIN_REDIRECT_URI"):
        LoginRouter.from_env({**env, "P1GUARD_LOGIN_REDIRECT_URI": "not a url"})
    with pytest.raises(ConfigError, match="P1GUARD_LOGIN_SCOPES"):
        LoginRouter.from_env({**env, "P1GUARD_LOGIN_SCOPES": "profile"})


def test_bad_prefix_rejected(login: LoginRouter) -> None:
    with pytest.raises(ConfigError, match="prefix"):
        LoginRouter(login.web, prefix="auth")


def test_redirect_uri_must_reach_the_callback_route(login: LoginRouter) -> None:
    """As ``LoginRoutes``: a redirect URI PingOne would send to no route fails at start-up."""
    with pytest.raises(ConfigError, match="redirect_uri"):
        LoginRouter(login.web, prefix="/account")


# -- the example app ---------------------------------------------------------------------------


def test_example_app_signs_in_and_out(pingone_mock: MockPingOne, browser: httpx.Client) -> None:
    path = Path(__file__).resolve().parents[2] / "examples" / "fastapi_app_login.py"
    spec = importlib.util.spec_from_file_location("fastapi_app_login_example", path)
    assert spec is not None
    assert spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    app = example.create_app(LoginRouter(make_web(pingone_mock)), secret_key=SECRET)
    with open_client(app) as http:
        assert "guest" in http.get("/").text
        start = http.get("/profile", headers=HTML)
        assert start.headers["location"] == "/auth/login?return_to=%2Fprofile"
        at_pingone = browser.get(http.get(start.headers["location"]).headers["location"])
        assert http.get(at_pingone.headers["location"]).headers["location"] == "/profile"
        profile = http.get("/profile", headers=HTML)
        assert "<h1>Ada Lovelace</h1>" in profile.text
        assert http.get("/api/me").json() == {"subject": "user-1", "name": "Ada Lovelace"}
        csrf = re.search(r'name="csrf" value="([^"]+)"', profile.text)
        assert csrf
        assert http.post("/auth/logout", data={"csrf": csrf.group(1)}).status_code == 302
        assert http.get("/api/me").status_code == 401
