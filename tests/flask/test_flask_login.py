"""Sign-in routes of p1guard-flask (init_login, login_required, current_user) against MockPingOne.

The browser is Flask's test client (its cookie jar carries the signed session); the hop to
PingOne and back is a non-following httpx client.
"""

from __future__ import annotations

import asyncio
import importlib.util
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from flask import Flask, render_template_string
from flask.testing import FlaskClient
from flask_helpers import bearer, body, mock_config
from werkzeug.test import TestResponse

from p1guard import ConfigError
from p1guard.rp import RedisStore, RelyingParty, WebLogin
from p1guard.rp._session import CSRF_KEY, LOGIN_KEY, SESSION_KEY
from p1guard.testing import MockPingOne
from p1guard_flask import P1Guard, aget_user, current_token, current_user, get_user

ORIGIN = "http://127.0.0.1:5000"
CALLBACK = f"{ORIGIN}/auth/callback"
HOME = f"{ORIGIN}/"
HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
JSON = {"Accept": "application/json"}
SECRET = "test-secret-key"

WebFactory = Callable[..., WebLogin]


@pytest.fixture
def browser() -> Iterator[httpx.Client]:
    """The browser's hop to PingOne and back (the mock signs the test user in by itself)."""
    with httpx.Client(follow_redirects=False) as client:
        yield client


@pytest.fixture
def client_app(pingone_mock: MockPingOne) -> Any:
    """A web application registered at the mock (``client_id``, ``client_secret``)."""
    return pingone_mock.register_client(
        redirect_uris=[CALLBACK, f"{ORIGIN}/account/callback"], post_logout_redirect_uris=[HOME]
    )


@pytest.fixture
def make_web(pingone_mock: MockPingOne, client_app: Any) -> WebFactory:
    """``make_web(par=..., refresh_margin=..., redirect_uri=...)``: a WebLogin for the mock."""

    def build(
        *, par: bool | str = "auto", redirect_uri: str = CALLBACK, **options: Any
    ) -> WebLogin:
        rp = RelyingParty(
            pingone_mock.pingone(),
            client_id=client_app.client_id,
            client_secret=client_app.client_secret,
            redirect_uri=redirect_uri,
            post_logout_redirect_uri=HOME,
            par=par,  # type: ignore[arg-type]
        )
        return WebLogin(rp, **options)

    return build


def add_pages(app: Flask, p1: P1Guard) -> None:
    @app.get("/profile")
    @p1.login_required
    def profile() -> dict[str, Any]:
        return {"name": current_user.name, "sub": current_user.subject}

    @app.get("/async/profile")
    @p1.login_required()
    async def async_profile() -> dict[str, Any]:
        await asyncio.sleep(0)
        return {"name": current_user.name, "sub": current_user.subject}

    @app.get("/api/token")  # only for these tests: a real app never shows its tokens
    @p1.login_required
    def token() -> dict[str, Any]:
        return {"access_token": current_user.access_token}

    @app.get("/")
    def home() -> dict[str, Any]:
        user = get_user()
        return {"user": user.name if user else None}

    @app.get("/async/home")
    async def async_home() -> dict[str, Any]:
        user = await aget_user()
        return {"user": user.name if user else None, "same": user is get_user()}

    @app.get("/page")
    def page() -> str:
        return render_template_string(
            "{{ p1guard_user().name if p1guard_user() else 'stranger' }}|{{ p1guard_csrf_token() }}"
        )


def login_app(web: WebLogin | None = None, **config: Any) -> tuple[Flask, P1Guard]:
    app = Flask(__name__)
    app.config.update({"SECRET_KEY": SECRET, **config})
    p1 = P1Guard()
    p1.init_login(app, web=web)
    add_pages(app, p1)
    return app, p1


@pytest.fixture
def client(make_web: WebFactory) -> FlaskClient:
    return login_app(make_web())[0].test_client()


def to_pingone(client: FlaskClient, browser: httpx.Client, **query: str) -> str:
    """Start at /auth/login; PingOne's redirect back: the callback path with its query."""
    start = client.get("/auth/login", query_string=query, headers=HTML)
    assert start.status_code == 302, start.get_data(as_text=True)
    back = browser.get(start.headers["Location"])
    assert back.status_code == 302, back.text
    location = back.headers["location"]
    assert location.startswith(ORIGIN)
    return location[len(ORIGIN) :]


def sign_in(client: FlaskClient, browser: httpx.Client, **query: str) -> TestResponse:
    return client.get(to_pingone(client, browser, **query), headers=HTML)


def session_of(client: FlaskClient) -> dict[str, Any]:
    with client.session_transaction() as session:
        return dict(session)


def signed_out(client: FlaskClient) -> bool:
    return client.get("/profile", headers=JSON).status_code == 401


# -- the full sign-in --------------------------------------------------------------------------


def test_login_state_keeps_its_extension(make_web: WebFactory) -> None:
    app, p1 = login_app(make_web())
    state = app.extensions["p1guard_login"]
    assert state.extension is p1
    with app.test_request_context("/"):
        assert state.extension.csrf_token() == p1.csrf_token()


def test_sign_in_with_par(client: FlaskClient, browser: httpx.Client) -> None:
    start = client.get("/auth/login", headers=HTML)
    assert start.status_code == 302
    assert start.headers["Cache-Control"] == "no-store"
    assert "request_uri=" in start.headers["Location"]  # pushed: nothing else in the URL
    assert "code_challenge" not in start.headers["Location"]
    done = sign_in(client, browser, return_to="/profile?tab=2")
    assert done.status_code == 302
    assert done.headers["Location"] == "/profile?tab=2"
    profile = client.get("/profile", headers=HTML)
    assert profile.status_code == 200
    assert body(profile) == {"name": "Ada Lovelace", "sub": "user-1"}


def test_sign_in_without_par(make_web: WebFactory, browser: httpx.Client) -> None:
    client = login_app(make_web(par=False))[0].test_client()
    start = client.get("/auth/login", headers=HTML)
    assert "code_challenge=" in start.headers["Location"]
    assert "request_uri=" not in start.headers["Location"]
    assert sign_in(client, browser).headers["Location"] == "/"
    assert body(client.get("/async/profile"))["name"] == "Ada Lovelace"


def test_session_cookie_is_httponly_lax_and_holds_no_tokens(
    client: FlaskClient, browser: httpx.Client
) -> None:
    done = sign_in(client, browser)
    cookie = done.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # the redirect URI is on loopback, over http
    assert set(session_of(client)) == {SESSION_KEY, CSRF_KEY}
    token = body(client.get("/api/token"))["access_token"]
    assert token not in cookie


def test_session_is_renewed_at_sign_in(client: FlaskClient, browser: httpx.Client) -> None:
    with client.session_transaction() as session:
        session["planted"] = "by someone before the login"
    sign_in(client, browser)
    assert "planted" not in session_of(client)


def test_async_page_after_sign_in(client: FlaskClient, browser: httpx.Client) -> None:
    sign_in(client, browser)
    assert body(client.get("/async/profile")) == {"name": "Ada Lovelace", "sub": "user-1"}


def test_get_user_and_template_globals(client: FlaskClient, browser: httpx.Client) -> None:
    assert body(client.get("/")) == {"user": None}
    assert body(client.get("/async/home")) == {"user": None, "same": True}
    assert client.get("/page").get_data(as_text=True).startswith("stranger|")
    sign_in(client, browser)
    assert body(client.get("/")) == {"user": "Ada Lovelace"}
    assert body(client.get("/async/home")) == {"user": "Ada Lovelace", "same": True}
    name, csrf = client.get("/page").get_data(as_text=True).split("|")
    assert name == "Ada Lovelace"
    assert csrf == session_of(client)[CSRF_KEY]


def test_login_passes_prompt_max_age_acr_values_and_login_hint(
    client: FlaskClient, pingone_mock: MockPingOne
) -> None:
    query = {"prompt": "login", "max_age": "300", "acr_values": "Single_Factor MFA"}
    response = client.get("/auth/login", query_string={**query, "login_hint": "ada"})
    assert response.status_code == 302
    sent = pingone_mock.last_authorize_params
    assert {name: sent[name] for name in query} == query
    assert sent["login_hint"] == "ada"


@pytest.mark.parametrize("query", [{"max_age": "soon"}, {"max_age": "-1"}, {"prompt": "a\x00b"}])
def test_malformed_login_parameters_400(client: FlaskClient, query: dict[str, str]) -> None:
    response = client.get("/auth/login", query_string=query, headers=HTML)
    assert response.status_code == 400
    assert "invalid_request" in response.get_data(as_text=True)
    assert LOGIN_KEY not in session_of(client)


def test_access_token_refreshed_before_expiry(
    make_web: WebFactory, browser: httpx.Client, pingone_mock: MockPingOne
) -> None:
    client = login_app(make_web(refresh_margin=10**9))[0].test_client()  # always "due"
    sign_in(client, browser)
    first = body(client.get("/api/token"))["access_token"]
    second = body(client.get("/api/token"))["access_token"]
    assert first != second
    assert pingone_mock.introspect(second)["active"]
    assert body(client.get("/profile"))["name"] == "Ada Lovelace"


# -- attacks on the callback -----------------------------------------------------------------


@pytest.mark.parametrize(
    "return_to",
    ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"],
)
def test_open_redirect_in_return_to_goes_home(
    client: FlaskClient, browser: httpx.Client, return_to: str
) -> None:
    assert sign_in(client, browser, return_to=return_to).headers["Location"] == "/"


def test_bad_state_rejected(
    client: FlaskClient, browser: httpx.Client, pingone_mock: MockPingOne
) -> None:
    pingone_mock.tamper_next_callback(state="forged-state")
    response = client.get(to_pingone(client, browser), headers=HTML)
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    assert "invalid_state" in page
    assert "forged-state" not in page
    assert SESSION_KEY not in session_of(client)
    assert signed_out(client)


def test_bad_state_answers_json_to_json_clients(
    client: FlaskClient, browser: httpx.Client, pingone_mock: MockPingOne
) -> None:
    pingone_mock.tamper_next_callback(state="forged-state")
    response = client.get(to_pingone(client, browser), headers=JSON)
    assert response.status_code == 400
    assert body(response) == {
        "error": "invalid_state",
        "error_description": "The sign-in response does not belong to this login",
    }


def test_callback_without_login_in_this_browser_rejected(
    make_web: WebFactory, browser: httpx.Client
) -> None:
    app = login_app(make_web())[0]
    attacker, victim = app.test_client(), app.test_client()
    callback = to_pingone(attacker, browser)  # the attacker's own code and state...
    response = victim.get(callback, headers=HTML)  # ...cannot sign the victim in
    assert response.status_code == 400
    assert "cookie" in response.get_data(as_text=True)
    assert SESSION_KEY not in session_of(victim)
    assert signed_out(victim)


def test_replayed_callback_rejected(client: FlaskClient, browser: httpx.Client) -> None:
    callback = to_pingone(client, browser)
    assert client.get(callback).status_code == 302
    assert client.get(callback, headers=HTML).status_code == 400


def test_repeated_callback_parameters_rejected(client: FlaskClient, browser: httpx.Client) -> None:
    callback = to_pingone(client, browser)
    response = client.get(f"{callback}&state=second", headers=JSON)
    assert response.status_code == 400
    assert body(response)["error"] == "invalid_request"
    assert SESSION_KEY not in session_of(client)


def test_provider_error_in_callback_rejected(
    client: FlaskClient, browser: httpx.Client, pingone_mock: MockPingOne
) -> None:
    pingone_mock.tamper_next_callback(
        code=None, error="access_denied", error_description="<script>alert(1)</script>"
    )
    page = client.get(to_pingone(client, browser), headers=HTML).get_data(as_text=True)
    assert "access_denied" in page
    assert "<script>" not in page


# -- login_required --------------------------------------------------------------------------


def test_login_required_sends_browsers_to_login(client: FlaskClient) -> None:
    response = client.get("/profile?tab=2&x=%2F", headers=HTML)
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/auth/login"
    assert parse_qs(location.query) == {"return_to": ["/profile?tab=2&x=%2F"]}


@pytest.mark.parametrize("headers", [{}, JSON, {"Accept": "*/*"}])
def test_login_required_answers_api_clients_401(
    client: FlaskClient, headers: dict[str, str]
) -> None:
    for path in ("/profile", "/async/profile"):
        response = client.get(path, headers=headers)
        assert response.status_code == 401
        assert body(response)["error"] == "login_required"
        assert response.headers["Cache-Control"] == "no-store"


def test_sign_in_returns_to_the_protected_page(client: FlaskClient, browser: httpx.Client) -> None:
    location = urlsplit(client.get("/profile?tab=2", headers=HTML).headers["Location"])
    return_to = parse_qs(location.query)["return_to"][0]
    assert sign_in(client, browser, return_to=return_to).headers["Location"] == "/profile?tab=2"


def test_current_user_without_sign_in_raises(make_web: WebFactory) -> None:
    app = login_app(make_web())[0]
    with pytest.raises(RuntimeError, match="outside of application context"):
        _ = current_user.name
    with app.test_request_context("/"), pytest.raises(RuntimeError, match="login_required"):
        _ = current_user.name


def test_user_does_not_leak_into_a_later_request_in_one_app_context(
    make_web: WebFactory, browser: httpx.Client
) -> None:
    # Flask reuses a pushed app context (and its `g`) for every request made inside it.
    app = login_app(make_web())[0]
    signed_in, stranger = app.test_client(), app.test_client()
    sign_in(signed_in, browser)
    with app.app_context():
        assert body(signed_in.get("/profile")) == {"name": "Ada Lovelace", "sub": "user-1"}
        assert body(stranger.get("/")) == {"user": None}
        assert stranger.get("/profile", headers=JSON).status_code == 401
        assert body(signed_in.get("/async/home")) == {"user": "Ada Lovelace", "same": True}
        assert body(stranger.get("/async/home")) == {"user": None, "same": True}


def test_login_required_without_init_login_fails_closed() -> None:
    app = Flask(__name__)
    app.testing = True
    p1 = P1Guard()

    @app.get("/profile")
    @p1.login_required
    def profile() -> str:
        return "never"

    with pytest.raises(RuntimeError, match="init_login"):
        app.test_client().get("/profile")


# -- sign-out --------------------------------------------------------------------------------


def _csrf_from_page(response: TestResponse) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', response.get_data(as_text=True))
    assert match is not None
    return match.group(1)


def test_logout_get_shows_a_confirmation_form(client: FlaskClient, browser: httpx.Client) -> None:
    sign_in(client, browser)
    page = client.get("/auth/logout", headers=HTML)
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert '<form method="post" action="/auth/logout">' in page.get_data(as_text=True)
    assert _csrf_from_page(page) == session_of(client)[CSRF_KEY]
    assert body(client.get("/profile"))["name"] == "Ada Lovelace"  # GET signs nobody out


@pytest.mark.parametrize("form", [{}, {"csrf": "guessed"}])
def test_logout_without_csrf_rejected(
    client: FlaskClient, browser: httpx.Client, form: dict[str, str]
) -> None:
    sign_in(client, browser)
    response = client.post("/auth/logout", data=form, headers=HTML)
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)
    assert not signed_out(client)


def test_logout_with_csrf_signs_off_and_revokes(
    client: FlaskClient, browser: httpx.Client, pingone_mock: MockPingOne
) -> None:
    sign_in(client, browser)
    token = body(client.get("/api/token"))["access_token"]
    csrf = _csrf_from_page(client.get("/auth/logout"))
    response = client.post("/auth/logout", data={"csrf": csrf})
    assert response.status_code == 302
    signoff = response.headers["Location"]
    assert signoff.startswith(pingone_mock.end_session_endpoint)
    assert "id_token_hint=" in signoff
    assert not pingone_mock.introspect(token)["active"]
    assert signed_out(client)
    assert session_of(client) == {}
    assert browser.get(signoff).headers["location"] == HOME


# -- PingOne unreachable ---------------------------------------------------------------------


def test_provider_down_503(client: FlaskClient, pingone_mock: MockPingOne) -> None:
    pingone_mock.stop()
    page = client.get("/auth/login", headers=HTML)
    assert page.status_code == 503
    assert int(page.headers["Retry-After"]) >= 1
    assert page.mimetype == "text/html"
    api = client.get("/auth/login", headers=JSON)
    assert api.status_code == 503
    assert body(api)["error"] == "temporarily_unavailable"
    assert LOGIN_KEY not in session_of(client)


def test_provider_down_during_refresh_503(
    make_web: WebFactory, browser: httpx.Client, pingone_mock: MockPingOne
) -> None:
    client = login_app(make_web(refresh_margin=10**9))[0].test_client()
    sign_in(client, browser)
    pingone_mock.stop()
    for path in ("/profile", "/async/profile"):
        response = client.get(path, headers=HTML)
        assert response.status_code == 503
        assert int(response.headers["Retry-After"]) >= 1


# -- configuration ---------------------------------------------------------------------------


def login_config(op: MockPingOne, client_app: Any, **extra: Any) -> dict[str, Any]:
    return {
        "P1GUARD_ISSUER": op.issuer,
        "P1GUARD_LOGIN_CLIENT_ID": client_app.client_id,
        "P1GUARD_LOGIN_CLIENT_SECRET": client_app.client_secret,
        "P1GUARD_LOGIN_REDIRECT_URI": CALLBACK,
        "P1GUARD_LOGIN_POST_LOGOUT_REDIRECT_URI": HOME,
        **extra,
    }


@pytest.fixture
def configured() -> Iterator[Callable[..., tuple[Flask, P1Guard]]]:
    """``configured(**config)``: a login app built from config; its WebLogin closed after."""
    apps: list[Flask] = []

    def build(**config: Any) -> tuple[Flask, P1Guard]:
        app, p1 = login_app(**config)
        apps.append(app)
        return app, p1

    yield build
    for app in apps:
        app.extensions["p1guard_login"].close()


def test_login_only_app_from_config_needs_no_audience(
    configured: Callable[..., tuple[Flask, P1Guard]],
    pingone_mock: MockPingOne,
    client_app: Any,
    browser: httpx.Client,
) -> None:
    app, p1 = configured(
        **login_config(pingone_mock, client_app, P1GUARD_LOGIN_SCOPES="openid,profile")
    )
    assert "p1guard" not in app.extensions  # no bearer Guard
    with app.app_context():
        assert p1.web.rp.scopes == ("openid", "profile")
    client = app.test_client()
    assert sign_in(client, browser, return_to="/profile").headers["Location"] == "/profile"
    assert body(client.get("/profile"))["name"] == "Ada Lovelace"


def test_login_prefix_from_config(
    configured: Callable[..., tuple[Flask, P1Guard]],
    pingone_mock: MockPingOne,
    client_app: Any,
    browser: httpx.Client,
) -> None:
    config = login_config(
        pingone_mock,
        client_app,
        P1GUARD_LOGIN_PREFIX="/account/",
        P1GUARD_LOGIN_REDIRECT_URI=f"{ORIGIN}/account/callback",
    )
    client = configured(**config)[0].test_client()
    assert client.get("/auth/login").status_code == 404
    login = urlsplit(client.get("/profile", headers=HTML).headers["Location"])
    assert login.path == "/account/login"
    start = client.get("/account/login")
    back = browser.get(start.headers["Location"]).headers["location"]
    assert client.get(back[len(ORIGIN) :]).status_code == 302
    assert body(client.get("/profile"))["name"] == "Ada Lovelace"


def test_sessions_in_redis_from_config(
    configured: Callable[..., tuple[Flask, P1Guard]],
    pingone_mock: MockPingOne,
    client_app: Any,
    browser: httpx.Client,
    redis_server: str,
) -> None:
    config = login_config(pingone_mock, client_app, P1GUARD_LOGIN_STORE=redis_server)
    app = configured(**config)[0]
    assert isinstance(app.extensions["p1guard_login"].web.store, RedisStore)
    client = app.test_client()
    sign_in(client, browser)
    assert body(client.get("/profile"))["name"] == "Ada Lovelace"


def test_init_login_options_shape_the_config_built_login(
    pingone_mock: MockPingOne, client_app: Any, browser: httpx.Client
) -> None:
    app = Flask(__name__)
    app.config.update({"SECRET_KEY": SECRET, **login_config(pingone_mock, client_app)})
    p1 = P1Guard()
    p1.init_login(app, par=False, refresh_margin=10**9)
    add_pages(app, p1)
    client = app.test_client()
    assert "code_challenge=" in client.get("/auth/login").headers["Location"]
    sign_in(client, browser)
    first = body(client.get("/api/token"))["access_token"]
    assert body(client.get("/api/token"))["access_token"] != first  # refreshed: always due
    app.extensions["p1guard_login"].close()


def test_options_beside_web_are_refused(make_web: WebFactory) -> None:
    app = Flask(__name__)
    app.secret_key = SECRET
    with pytest.raises(ConfigError, match="session_ttl"):
        P1Guard().init_login(app, web=make_web(), session_ttl=60)


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"P1GUARD_LOGIN_REDIRECT_URI": None}, "P1GUARD_LOGIN_REDIRECT_URI"),
        ({"P1GUARD_LOGIN_CLIENT_ID": None}, "P1GUARD_LOGIN_CLIENT_ID"),
        ({"P1GUARD_ISSUER": None}, "P1GUARD_ENV_ID"),
        ({"P1GUARD_ISSUER": "http://evil.example/as"}, "P1GUARD_ISSUER"),
        (
            {"P1GUARD_LOGIN_REDIRECT_URI": "http://app.example/auth/callback"},
            "P1GUARD_LOGIN_REDIRECT_URI",
        ),
        ({"P1GUARD_LOGIN_REDIRECT_URI": f"{ORIGIN}/oidc/callback"}, "P1GUARD_LOGIN_REDIRECT_URI"),
        (
            {"P1GUARD_LOGIN_POST_LOGOUT_REDIRECT_URI": "home"},
            "P1GUARD_LOGIN_POST_LOGOUT_REDIRECT_URI",
        ),
        ({"P1GUARD_LOGIN_SCOPES": "profile email"}, "P1GUARD_LOGIN_SCOPES"),
        ({"P1GUARD_TIMEOUT": "soon"}, "P1GUARD_TIMEOUT"),
        ({"P1GUARD_LOGIN_PREFIX": "auth"}, "P1GUARD_LOGIN_PREFIX"),
        ({"P1GUARD_LOGIN_STORE": "http://cache"}, "P1GUARD_LOGIN_STORE"),
        ({"SECRET_KEY": None}, "SECRET_KEY"),
        ({"SESSION_COOKIE_SAMESITE": "Strict"}, "SESSION_COOKIE_SAMESITE"),
        ({"SESSION_COOKIE_SAMESITE": "None"}, "SESSION_COOKIE_SAMESITE"),
        ({"SESSION_COOKIE_HTTPONLY": False}, "SESSION_COOKIE_HTTPONLY"),
    ],
)
def test_config_errors_name_the_key(change: dict[str, Any], key: str) -> None:
    config = {
        "SECRET_KEY": SECRET,
        "P1GUARD_ISSUER": "http://127.0.0.1:9/as",  # nothing is fetched at set-up
        "P1GUARD_LOGIN_CLIENT_ID": "web-app",
        "P1GUARD_LOGIN_CLIENT_SECRET": "s3cr3t-value",
        "P1GUARD_LOGIN_REDIRECT_URI": CALLBACK,
        **change,
    }
    app = Flask(__name__)
    app.config.update({k: v for k, v in config.items() if v is not None})
    with pytest.raises(ConfigError) as info:
        P1Guard().init_login(app)
    assert info.value.field == key
    assert "s3cr3t-value" not in str(info.value)
    assert "p1guard_login" not in app.extensions
    assert "p1guard" not in app.blueprints


def test_https_redirect_uri_makes_the_cookie_secure(make_web: WebFactory) -> None:
    app = login_app(make_web(par=False, redirect_uri="https://app.example/auth/callback"))[0]
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    start = app.test_client().get("/auth/login", base_url="https://app.example")
    assert start.status_code == 302
    assert "Secure" in start.headers["Set-Cookie"]


def test_web_beside_login_config_is_refused(make_web: WebFactory) -> None:
    app = Flask(__name__)
    app.config.update(SECRET_KEY=SECRET, P1GUARD_LOGIN_SCOPES="openid")
    with pytest.raises(ConfigError, match="P1GUARD_LOGIN_SCOPES"):
        P1Guard().init_login(app, web=make_web())


def test_bad_init_login_arguments_are_refused(make_web: WebFactory) -> None:
    app = Flask(__name__)
    app.secret_key = SECRET
    p1 = P1Guard()
    with pytest.raises(ConfigError, match="web"):
        p1.init_login(app, web="not a WebLogin")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="prefix"):
        p1.init_login(app, web=make_web(), prefix="auth")
    p1.init_login(app, web=make_web())
    with pytest.raises(RuntimeError, match="already"):
        p1.init_login(app, web=make_web())


# -- sign-in beside bearer tokens ------------------------------------------------------------


@pytest.mark.parametrize("order", ["guard_then_login", "login_then_guard", "both_from_config"])
def test_bearer_guard_and_login_on_one_app(
    pingone_mock: MockPingOne, client_app: Any, browser: httpx.Client, order: str
) -> None:
    app = Flask(__name__)
    app.config.update({"SECRET_KEY": SECRET, **login_config(pingone_mock, client_app)})
    p1 = P1Guard()
    if (
        order == "both_from_config"
    ):  # P1GUARD_CLIENT_ID is the resource's, LOGIN_CLIENT_ID the app's
        app.config.update(mock_config(pingone_mock, P1GUARD_CHECK_REVOCATION=True))
        p1.init_app(app)
        p1.init_login(app)
    else:  # the login's P1GUARD_ISSUER is no "ignored Guard setting" beside guard=
        if order == "login_then_guard":
            p1.init_login(app)
        p1.init_app(app, guard=pingone_mock.guard())
        if order == "guard_then_login":
            p1.init_login(app)
    add_pages(app, p1)

    @app.get("/api/items")
    @p1.require_token("read")
    def items() -> dict[str, Any]:
        return {"sub": current_token.subject}

    client = app.test_client()
    assert client.get("/api/items").status_code == 401
    token = pingone_mock.issue_token(["read"])
    assert body(client.get("/api/items", headers=bearer(token))) == {"sub": "user-1"}
    sign_in(client, browser)
    assert body(client.get("/profile"))["name"] == "Ada Lovelace"
    app.extensions["p1guard_login"].close()
    app.extensions["p1guard"].guard.close()


def test_guard_settings_beside_a_guard_still_refused_with_login(
    pingone_mock: MockPingOne, client_app: Any
) -> None:
    app = Flask(__name__)
    config = login_config(pingone_mock, client_app, P1GUARD_CHECK_REVOCATION=True)
    app.config.update(config)
    with pytest.raises(ConfigError, match="P1GUARD_CHECK_REVOCATION"):
        P1Guard(app, guard=pingone_mock.guard())


# -- examples/flask_app_login.py -------------------------------------------------------------


def _example() -> Any:
    path = Path(__file__).parents[2] / "examples" / "flask_app_login.py"
    spec = importlib.util.spec_from_file_location("flask_app_login_example", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_example_app_signs_in_and_out(
    make_web: WebFactory, browser: httpx.Client, pingone_mock: MockPingOne
) -> None:
    app: Flask = _example().create_app(make_web(), secret_key=SECRET)
    client = app.test_client()
    home = client.get("/").get_data(as_text=True)
    assert "Hello, stranger." in home
    assert 'href="/auth/login?return_to=/"' in home
    assert client.get("/profile", headers=HTML).status_code == 302
    sign_in(client, browser, return_to="/profile")
    profile = client.get("/profile", headers=HTML)
    assert profile.status_code == 200
    page = profile.get_data(as_text=True)
    assert "<dd>Ada Lovelace</dd>" in page
    assert "<dd>user-1</dd>" in page
    csrf = _csrf_from_page(profile)
    signoff = client.post("/auth/logout", data={"csrf": csrf})
    assert signoff.headers["Location"].startswith(pingone_mock.end_session_endpoint)
    assert "Hello, stranger." in client.get("/").get_data(as_text=True)


def test_example_app_needs_a_secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("P1GUARD_ISSUER", "http://127.0.0.1:9/as")
    monkeypatch.setenv("P1GUARD_LOGIN_CLIENT_ID", "web-app")
    monkeypatch.setenv("P1GUARD_LOGIN_REDIRECT_URI", CALLBACK)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        _example().create_app()
