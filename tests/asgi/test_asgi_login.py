"""Starlette login routes (``p1guard.asgi._login``) against a live MockPingOne, in memory."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from p1guard import ConfigError
from p1guard._cli.demo_app import build_starlette_demo
from p1guard._cli.demo_server import demo_web_login
from p1guard.asgi import LoginRoutes, web_login_from_env
from p1guard.rp import LoginError, RelyingParty, WebLogin
from p1guard.rp._session import CSRF_KEY, LOGIN_KEY, SESSION_KEY
from p1guard.testing import MockPingOne

ORIGIN = "http://127.0.0.1:5000"
CALLBACK = f"{ORIGIN}/auth/callback"
HOME = f"{ORIGIN}/"
SECRET = "test-session-secret-0123456789abcdef"
HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
JSON = {"Accept": "application/json"}


def make_auth(op: MockPingOne, **kwargs: Any) -> LoginRoutes:
    client = op.register_client(redirect_uris=[CALLBACK], post_logout_redirect_uris=[HOME])
    rp = RelyingParty(
        op.pingone(),
        client_id=client.client_id,
        client_secret=client.client_secret,
        redirect_uri=CALLBACK,
        post_logout_redirect_uri=HOME,
    )
    return LoginRoutes(WebLogin(rp, **kwargs))


def make_app(auth: LoginRoutes, *, sessions: bool = True) -> Starlette:
    async def home(request: Request) -> Response:
        user = await auth.current_user(request)
        return PlainTextResponse(f"Hello {user.name}" if user else "anonymous")

    @auth.login_required
    async def orders(request: Request) -> Response:
        user = await auth.current_user(request)
        assert user is not None
        return JSONResponse({"name": user.name, "access_token": user.access_token})

    @auth.login_required
    def report(request: Request) -> Response:  # a sync endpoint
        return PlainTextResponse(f"Report for {request.state.p1guard_user.name}")

    routes = [
        *auth.routes,
        Route("/", home),
        Route("/orders", orders),
        Route("/report", report),
    ]
    middleware = [auth.session_middleware(SECRET)] if sessions else []
    return Starlette(routes=routes, middleware=middleware)


@pytest.fixture
def auth(pingone_mock: MockPingOne) -> LoginRoutes:
    return make_auth(pingone_mock)


@pytest.fixture
async def app(auth: LoginRoutes) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(make_app(auth)) as client:
        yield client
    await auth.web.rp.pingone.aclose()


@pytest.fixture
async def browser() -> AsyncIterator[httpx.AsyncClient]:
    """The browser's side trip to (mock) PingOne, which signs the test user in by itself."""
    async with httpx.AsyncClient(follow_redirects=False) as client:
        yield client


def _client(app: Starlette) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url=ORIGIN, headers=HTML)


async def to_callback(
    app: httpx.AsyncClient, browser: httpx.AsyncClient, login_url: str = "/auth/login"
) -> str:
    """``/auth/login`` → PingOne → the callback URL PingOne sends the browser back to."""
    start = await app.get(login_url)
    assert start.status_code == 302, start.text
    back = await browser.get(start.headers["location"])
    assert back.status_code == 302, back.text
    location: str = back.headers["location"]
    assert location.startswith(CALLBACK)
    return location


async def sign_in(
    app: httpx.AsyncClient, browser: httpx.AsyncClient, login_url: str = "/auth/login"
) -> httpx.Response:
    return await app.get(await to_callback(app, browser, login_url))


def session_of(app: httpx.AsyncClient) -> dict[str, Any]:
    """What Starlette's signed cookie holds (base64 JSON, then timestamp and signature)."""
    cookie = app.cookies.get("session")
    if cookie is None:
        return {}
    payload = cookie.rsplit(".", 2)[0]
    data: dict[str, Any] = json.loads(base64.b64decode(payload))
    return data


# -- sign in -----------------------------------------------------------------------------------


async def test_full_login_shows_the_user(
    app: httpx.AsyncClient, browser: httpx.AsyncClient, auth: LoginRoutes
) -> None:
    assert (await app.get("/")).text == "anonymous"
    await app.get("/auth/login")
    before = session_of(app)
    assert set(before) == {LOGIN_KEY}
    response = await sign_in(app, browser)
    assert response.status_code == 302
    assert response.headers["location"] == "/"
    assert response.headers["cache-control"] == "no-store"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "secure" not in cookie  # loopback redirect URI: plain http allowed
    after = session_of(app)
    # rotated: a new id; only the first, unfinished /login (another tab) is still pending
    assert set(after) == {SESSION_KEY, CSRF_KEY, LOGIN_KEY}
    assert len(after[LOGIN_KEY]) == 1
    assert after[SESSION_KEY] != before.get(SESSION_KEY)
    assert (await app.get("/")).text == "Hello Ada Lovelace"
    body = (await app.get("/orders")).json()
    assert body["name"] == "Ada Lovelace"
    assert body["access_token"] not in app.cookies["session"]  # tokens stay server-side


async def test_return_to_is_honoured(app: httpx.AsyncClient, browser: httpx.AsyncClient) -> None:
    response = await sign_in(app, browser, "/auth/login?return_to=%2Freport%3Fmonth%3D5")
    assert response.headers["location"] == "/report?month=5"
    report = await app.get(response.headers["location"])
    assert report.text == "Report for Ada Lovelace"


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:x"]
)
async def test_open_redirect_in_return_to_goes_home(
    app: httpx.AsyncClient, browser: httpx.AsyncClient, target: str
) -> None:
    login = str(httpx.URL("/auth/login", params={"return_to": target}))
    response = await sign_in(app, browser, login)
    assert response.status_code == 302
    assert response.headers["location"] == "/"


async def test_login_passes_acr_values_max_age_prompt_and_login_hint(
    app: httpx.AsyncClient, pingone_mock: MockPingOne
) -> None:
    query = "acr_values=mfa%20strong&max_age=60&prompt=login&login_hint=ada%40example.com"
    response = await app.get(f"/auth/login?{query}")
    assert response.status_code == 302
    assert response.headers["location"].startswith(pingone_mock.authorization_endpoint)
    sent = pingone_mock.last_authorize_params  # the pushed (PAR) request
    assert sent["acr_values"] == "mfa strong"
    assert sent["max_age"] == "60"
    assert sent["prompt"] == "login"
    assert sent["login_hint"] == "ada@example.com"


async def test_bad_max_age_is_400(app: httpx.AsyncClient) -> None:
    response = await app.get("/auth/login?max_age=soon")
    assert response.status_code == 400
    assert "max_age" in response.text


# -- attacks on the callback -------------------------------------------------------------------


async def test_bad_state_rejected_without_session(
    app: httpx.AsyncClient, browser: httpx.AsyncClient, pingone_mock: MockPingOne
) -> None:
    pingone_mock.tamper_next_callback(state="forged-state")
    response = await sign_in(app, browser)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert "invalid_state" in response.text
    assert "forged-state" not in response.text
    assert SESSION_KEY not in session_of(app)
    assert (await app.get("/")).text == "anonymous"


async def test_bad_state_answers_json_to_api_clients(
    app: httpx.AsyncClient, browser: httpx.AsyncClient, pingone_mock: MockPingOne
) -> None:
    pingone_mock.tamper_next_callback(state="forged-state")
    response = await app.get(await to_callback(app, browser), headers=JSON)
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_state",
        "error_description": "The sign-in response does not belong to this login",
    }


async def test_callback_without_login_in_progress_hints_at_the_cookie(
    app: httpx.AsyncClient, browser: httpx.AsyncClient, auth: LoginRoutes
) -> None:
    callback = await to_callback(app, browser)  # the attacker's own code and state...
    async with _client(make_app(auth)) as victim:  # ...sent to a victim's browser (login CSRF)
        response = await victim.get(callback)
        assert response.status_code == 400
        assert "session cookie is missing" in response.text
        assert SESSION_KEY not in session_of(victim)
        assert (await victim.get("/")).text == "anonymous"


async def test_replayed_callback_rejected(
    app: httpx.AsyncClient, browser: httpx.AsyncClient
) -> None:
    callback = await to_callback(app, browser)
    assert (await app.get(callback)).status_code == 302
    replay = await app.get(callback)
    assert replay.status_code == 400
    assert "invalid_state" in replay.text


async def test_repeated_callback_parameter_rejected(
    app: httpx.AsyncClient, browser: httpx.AsyncClient
) -> None:
    callback = await to_callback(app, browser)
    state = parse_qs(urlsplit(callback).query)["state"][0]
    response = await app.get(f"{callback}&state={state}")
    assert response.status_code == 400
    assert SESSION_KEY not in session_of(app)


async def test_custom_error_template(pingone_mock: MockPingOne, browser: httpx.AsyncClient) -> None:
    def template(request: Request, err: LoginError | Exception) -> str:
        assert isinstance(err, LoginError)
        return f"<p>Oops: {err.error}</p>"

    auth = make_auth(pingone_mock)
    auth.error_template = template
    pingone_mock.tamper_next_callback(state="forged-state")
    async with _client(make_app(auth)) as app:
        response = await sign_in(app, browser)
    await auth.web.rp.pingone.aclose()
    assert response.status_code == 400
    assert response.text == "<p>Oops: invalid_state</p>"


# -- login_required ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/orders?page=2", "/report"])
async def test_login_required_redirects_browsers(app: httpx.AsyncClient, path: str) -> None:
    response = await app.get(path)
    assert response.status_code == 302
    location = urlsplit(response.headers["location"])
    assert location.path == "/auth/login"
    assert parse_qs(location.query) == {"return_to": [path]}


@pytest.mark.parametrize("path", ["/orders", "/report"])
async def test_login_required_refuses_api_clients_with_401(
    app: httpx.AsyncClient, path: str
) -> None:
    response = await app.get(path, headers=JSON)
    assert response.status_code == 401
    assert response.json()["error"] == "login_required"
    assert "/auth/login" in response.json()["error_description"]


async def test_access_token_refreshed_before_expiry_through_current_user(
    pingone_mock: MockPingOne, browser: httpx.AsyncClient
) -> None:
    auth = make_auth(pingone_mock, refresh_margin=10**9)  # always "about to expire"
    async with _client(make_app(auth)) as app:
        await sign_in(app, browser)
        first = (await app.get("/orders")).json()
        second = (await app.get("/orders")).json()
    await auth.web.rp.pingone.aclose()
    assert first["name"] == second["name"] == "Ada Lovelace"
    assert first["access_token"] != second["access_token"]
    assert pingone_mock.introspect(second["access_token"])["active"] is True


# -- logout ------------------------------------------------------------------------------------


async def test_logout_get_shows_a_csrf_protected_form(
    app: httpx.AsyncClient, browser: httpx.AsyncClient
) -> None:
    await sign_in(app, browser)
    page = await app.get("/auth/logout")
    assert page.status_code == 200
    assert '<form method="post" action="/auth/logout">' in page.text
    assert f'name="csrf" value="{session_of(app)[CSRF_KEY]}"' in page.text
    assert (await app.get("/")).text == "Hello Ada Lovelace"  # GET alone signs nobody out


@pytest.mark.parametrize("form", [{}, {"csrf": "guessed"}])
async def test_logout_without_csrf_rejected(
    app: httpx.AsyncClient, browser: httpx.AsyncClient, form: dict[str, str]
) -> None:
    await sign_in(app, browser)
    response = await app.post("/auth/logout", data=form)
    assert response.status_code == 400
    assert "CSRF" in response.text
    assert (await app.get("/")).text == "Hello Ada Lovelace"


async def test_logout_with_csrf_signs_off_and_revokes(
    app: httpx.AsyncClient, browser: httpx.AsyncClient, pingone_mock: MockPingOne
) -> None:
    await sign_in(app, browser)
    token = (await app.get("/orders")).json()["access_token"]
    response = await app.post("/auth/logout", data={"csrf": session_of(app)[CSRF_KEY]})
    assert response.status_code == 302
    signoff = response.headers["location"]
    assert signoff.startswith(pingone_mock.end_session_endpoint)
    assert pingone_mock.introspect(token)["active"] is False
    assert (await browser.get(signoff)).headers["location"] == HOME
    assert SESSION_KEY not in session_of(app)
    assert (await app.get("/")).text == "anonymous"


# -- PingOne down, configuration ---------------------------------------------------------------


async def test_provider_down_at_login_is_503(
    app: httpx.AsyncClient, pingone_mock: MockPingOne
) -> None:
    pingone_mock.fail("discovery", "down")
    response = await app.get("/auth/login")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.headers["cache-control"] == "no-store"
    assert "unavailable" in response.text
    assert LOGIN_KEY not in session_of(app)


async def test_missing_session_middleware_is_a_clear_error(auth: LoginRoutes) -> None:
    async with _client(make_app(auth, sessions=False)) as app:
        with pytest.raises(ConfigError, match=r"Middleware\(SessionMiddleware, secret_key="):
            await app.get("/auth/login")


def test_session_options_are_secure_unless_loopback(pingone_mock: MockPingOne) -> None:
    local = make_auth(pingone_mock).session_options(SECRET)
    assert local["https_only"] is False
    assert local["same_site"] == "lax"
    assert local["max_age"] == 8 * 3600
    rp = RelyingParty(
        pingone_mock.pingone(),
        client_id="app",
        client_secret="s",
        redirect_uri="https://app.example.com/auth/callback",
    )
    assert LoginRoutes(WebLogin(rp)).session_options(SECRET)["https_only"] is True
    with pytest.raises(ConfigError, match="secret_key"):
        LoginRoutes(WebLogin(rp)).session_options("short")


def test_redirect_uri_must_reach_the_callback_route(pingone_mock: MockPingOne) -> None:
    rp = RelyingParty(
        pingone_mock.pingone(), client_id="app", client_secret="s", redirect_uri=CALLBACK
    )
    with pytest.raises(ConfigError, match="redirect_uri"):
        LoginRoutes(WebLogin(rp), prefix="/login")


def test_web_login_from_env() -> None:
    env = {
        "P1GUARD_ENV_ID": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
        "P1GUARD_REGION": "EU",
        "P1GUARD_LOGIN_CLIENT_ID": "app",
        "P1GUARD_LOGIN_CLIENT_SECRET": "secret",
        "P1GUARD_LOGIN_REDIRECT_URI": "https://app.example.com/auth/callback",
        "P1GUARD_LOGIN_POST_LOGOUT_REDIRECT_URI": "https://app.example.com/",
        "P1GUARD_LOGIN_SCOPES": "openid, profile offline_access",
    }
    web = web_login_from_env(env)
    assert web.rp.pingone.issuer.startswith("https://auth.pingone.eu/")
    assert web.rp.scopes == ("openid", "profile", "offline_access")
    assert web.rp.post_logout_redirect_uri == "https://app.example.com/"
    with pytest.raises(ConfigError, match="P1GUARD_LOGIN_REDIRECT_URI"):
        web_login_from_env({**env, "P1GUARD_LOGIN_REDIRECT_URI": ""})
    with pytest.raises(ConfigError, match="P1GUARD_LOGIN_REDIRECT_URI"):
        web_login_from_env({**env, "P1GUARD_LOGIN_REDIRECT_URI": "http://app.example.com/cb"})
    with pytest.raises(ConfigError, match="P1GUARD_LOGIN_SCOPES"):
        web_login_from_env({**env, "P1GUARD_LOGIN_SCOPES": "profile"})


# -- the demo's sign-in page -------------------------------------------------------------------


async def test_demo_sign_in_page_escapes_the_claims(browser: httpx.AsyncClient) -> None:
    evil = {"sub": "user-<b>", "name": "<script>alert(1)</script>", "email": "a@example.com"}
    with MockPingOne(user=evil) as op:
        login = demo_web_login(op, ORIGIN)
        app = build_starlette_demo(op.guard(), login, session_secret=SECRET)
        async with app.router.lifespan_context(app), _client(app) as client:
            signed_out = await client.get("/")
            assert '<a class="button" href="/auth/login">Sign in</a>' in signed_out.text
            await sign_in(client, browser)
            page = (await client.get("/")).text
            csrf = session_of(client)[CSRF_KEY]
    assert "Signed in as <strong>&lt;script&gt;alert(1)&lt;/script&gt;</strong>" in page
    assert "<script>" not in page
    assert "&quot;sub&quot;: &quot;user-&lt;b&gt;&quot;" in page
    assert f'<input type="hidden" name="csrf" value="{csrf}">' in page


@pytest.mark.parametrize(
    ("overrides", "field"),
    [({"same_site": "none"}, "same_site"), ({"same_site": "strict"}, "same_site")],
)
def test_unsafe_session_cookie_overrides_are_refused(
    pingone_mock: MockPingOne, overrides: dict[str, object], field: str
) -> None:
    from p1guard.rp import RelyingParty, WebLogin

    client = pingone_mock.register_client(redirect_uris=[CALLBACK])
    rp = RelyingParty(
        pingone_mock.pingone(),
        client_id=client.client_id,
        client_secret=client.client_secret,
        redirect_uri=CALLBACK,
    )
    with pytest.raises(ConfigError) as info:
        LoginRoutes(WebLogin(rp)).session_options("s" * 32, **overrides)
    assert info.value.field == field


def test_https_callback_needs_a_secure_cookie() -> None:
    from p1guard.rp._session import check_cookie_options, secure_cookie

    assert secure_cookie("https://app.example.com/auth/callback")
    assert not secure_cookie("http://127.0.0.1:5000/auth/callback")
    with pytest.raises(ConfigError):
        check_cookie_options("https://app.example.com/auth/callback", same_site="lax", secure=False)
