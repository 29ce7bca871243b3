"""Signing users in with PingOne: p1guard_django.urls, PingOneBackend, login_required, checks.

Django's test Client is the browser on the app's side (it keeps cookies); a non-following
httpx client makes the hop to the live mock PingOne, which signs its test user in by itself.
This module is also the URLconf of its tests (``ROOT_URLCONF = __name__``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required as django_login_required
from django.contrib.sessions.models import Session
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.test import Client, override_settings
from django.urls import include, path
from django_support import TEST_SETTINGS, Use

from p1guard.rp import RedisStore
from p1guard.rp._session import SESSION_KEY
from p1guard.testing import MockPingOne
from p1guard_django import (
    acurrent_user,
    current_user,
    get_guard,
    get_web_login,
    login_required,
)

User = get_user_model()

CALLBACK = "http://127.0.0.1/auth/callback"
HOME = "http://127.0.0.1/"
BACKEND = "p1guard_django.backends.PingOneBackend"
HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
JSON = {"Accept": "application/json"}


# -- the app under test ----------------------------------------------------------------------


@django_login_required
def me(request: HttpRequest) -> JsonResponse:
    user: Any = request.user
    return JsonResponse(
        {
            "authenticated": user.is_authenticated,
            "username": user.get_username(),
            "email": user.email,
        }
    )


@login_required
def profile(request: HttpRequest) -> JsonResponse:
    user = current_user(request)
    assert user is not None
    return JsonResponse({"name": user.name, "sub": user.subject, "token": user.access_token})


@login_required
async def async_profile(request: HttpRequest) -> JsonResponse:
    user = await acurrent_user(request)
    assert user is not None
    return JsonResponse({"name": user.name, "async": True})


def home(request: HttpRequest) -> HttpResponse:
    return HttpResponse("home")


urlpatterns = [
    path("auth/", include("p1guard_django.urls")),
    path("me", me),
    path("profile", profile),
    path("async-profile", async_profile),
    path("", home),
]


# -- fixtures and helpers --------------------------------------------------------------------


@pytest.fixture(autouse=True)
def clean_db() -> Iterator[None]:
    yield
    User.objects.all().delete()
    Session.objects.all().delete()


@pytest.fixture
def login_settings(pingone_mock: MockPingOne) -> dict[str, Any]:
    """``P1GUARD["LOGIN"]`` for a web app freshly registered at the mock."""
    app = pingone_mock.register_client(redirect_uris=[CALLBACK], post_logout_redirect_uris=[HOME])
    return {
        "CLIENT_ID": app.client_id,
        "CLIENT_SECRET": app.client_secret,
        "REDIRECT_URI": CALLBACK,
        "POST_LOGOUT_REDIRECT_URI": HOME,
    }


@pytest.fixture
def site(p1guard: Use, login_settings: dict[str, Any]) -> Iterator[Use]:
    """The app signs users in (and still checks bearer tokens on /api/); call it to change
    ``P1GUARD["LOGIN"]`` keys."""
    with override_settings(
        ROOT_URLCONF=__name__,
        LOGIN_URL="p1guard:login",
        AUTHENTICATION_BACKENDS=[BACKEND, "django.contrib.auth.backends.ModelBackend"],
    ):

        def use(**login: Any) -> dict[str, Any]:
            return p1guard(LOGIN={**login_settings, **login})

        use()
        yield use


@pytest.fixture
def browser() -> Iterator[httpx.Client]:
    with httpx.Client(follow_redirects=False) as client:
        yield client


def to_pingone_and_back(browser: httpx.Client, authorize_url: str) -> str:
    """Follow the browser to PingOne; returns the callback path and query it is sent back to."""
    back = browser.get(authorize_url)
    assert back.status_code == 302, back.text
    parts = urlsplit(back.headers["location"])
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == CALLBACK
    return f"{parts.path}?{parts.query}"


def sign_in(client: Client, browser: httpx.Client, **query: str) -> Any:
    """The whole sign-in; returns the callback's response."""
    start = client.get("/auth/login", query)
    assert start.status_code == 302, start.content
    return client.get(to_pingone_and_back(browser, start["Location"]))


def signed_in_django_user(client: Client) -> str | None:
    user_id = client.session.get("_auth_user_id")
    return None if user_id is None else str(user_id)


def form_fields(html: str) -> dict[str, str]:
    return dict(re.findall(r'name="([^"]+)" value="([^"]*)"', html))


# -- signing in ------------------------------------------------------------------------------


def test_sign_in_logs_the_django_user_in(site: Use, client: Client, browser: httpx.Client) -> None:
    done = sign_in(client, browser, return_to="/me")
    assert done.status_code == 302
    assert done["Location"] == "/me"
    assert done["Cache-Control"] == "no-store"
    page = client.get("/me")
    assert page.status_code == 200
    assert page.json() == {
        "authenticated": True,
        "username": "user-1",
        "email": "ada@example.com",
    }


def test_user_mapping_creates_the_user_from_id_token_claims(
    site: Use, client: Client, browser: httpx.Client
) -> None:
    sign_in(client, browser)
    user: Any = User.objects.get(username="user-1")
    assert (user.email, user.first_name, user.last_name) == ("ada@example.com", "Ada", "Lovelace")
    assert not user.has_usable_password()
    sign_in(Client(), browser)  # a second sign-in finds the same user
    assert User.objects.count() == 1


def test_django_login_required_sends_to_sign_in_and_back(
    site: Use, client: Client, browser: httpx.Client
) -> None:
    refused = client.get("/me?page=2")
    assert refused.status_code == 302
    assert refused["Location"] == "/auth/login?next=/me%3Fpage%3D2"
    start = client.get(refused["Location"])
    done = client.get(to_pingone_and_back(browser, start["Location"]))
    assert done["Location"] == "/me?page=2"
    assert client.get(done["Location"]).json()["username"] == "user-1"


def test_works_with_login_required_middleware(
    site: Use, client: Client, browser: httpx.Client
) -> None:
    """Django 5.1+'s LoginRequiredMiddleware leaves the sign-in routes open."""
    middleware = [
        *TEST_SETTINGS["MIDDLEWARE"],
        "django.contrib.auth.middleware.LoginRequiredMiddleware",
    ]
    with override_settings(MIDDLEWARE=middleware):
        assert client.get("/").status_code == 302
        done = sign_in(client, browser, return_to="/")
        assert done["Location"] == "/"
        assert client.get("/").content == b"home"


def test_session_key_rotated_at_sign_in(site: Use, client: Client, browser: httpx.Client) -> None:
    start = client.get("/auth/login")
    before = client.cookies["sessionid"].value
    client.get(to_pingone_and_back(browser, start["Location"]))
    after = client.cookies["sessionid"].value
    assert after != before
    assert not Session.objects.filter(session_key=before).exists()
    assert signed_in_django_user(client) is not None


def test_session_holds_ids_only_and_ends_with_the_sign_in(
    site: Use, client: Client, browser: httpx.Client
) -> None:
    sign_in(client, browser)
    token = client.get("/profile").json()["token"]
    session = client.session
    assert token
    assert all(token not in str(value) for value in session.values())
    assert session.get_expiry_age() <= 8 * 3600


def test_login_passes_authorize_parameters_through(
    site: Use, client: Client, pingone_mock: MockPingOne
) -> None:
    start = client.get(
        "/auth/login", {"acr_values": "mfa strong", "max_age": "60", "login_hint": "ada"}
    )
    assert start.status_code == 302
    sent = pingone_mock.last_authorize_params  # pushed (PAR) by the login view
    assert (sent["acr_values"], sent["max_age"], sent["login_hint"]) == ("mfa strong", "60", "ada")
    assert client.get("/auth/login", {"max_age": "soon"}).status_code == 400


def test_login_redirect_url_when_no_return_to(
    site: Use, client: Client, browser: httpx.Client
) -> None:
    site(LOGIN_REDIRECT_URL="/profile")
    assert sign_in(client, browser)["Location"] == "/profile"


def test_current_user_in_sync_and_async_views(
    site: Use, client: Client, browser: httpx.Client
) -> None:
    sign_in(client, browser)
    assert client.get("/profile").json()["name"] == "Ada Lovelace"
    assert client.get("/async-profile").json() == {"name": "Ada Lovelace", "async": True}


def test_login_required_sends_browsers_to_sign_in_and_api_clients_get_401(
    site: Use, client: Client
) -> None:
    browser_answer = client.get("/profile?x=1", headers=HTML)
    assert browser_answer.status_code == 302
    assert browser_answer["Location"] == "/auth/login?return_to=%2Fprofile%3Fx%3D1"
    api_answer = client.get("/profile", headers=JSON)
    assert api_answer.status_code == 401
    assert api_answer.json()["error"] == "login_required"
    assert client.get("/async-profile").status_code == 401


def test_ended_pingone_session_logs_the_django_user_out(
    site: Use, client: Client, browser: httpx.Client
) -> None:
    sign_in(client, browser)
    get_web_login().store.delete(f"session:{client.session[SESSION_KEY]}")  # expired, say
    assert client.get("/profile", headers=HTML).status_code == 302
    assert signed_in_django_user(client) is None
    assert client.get("/me").status_code == 302


def test_get_mapping_refuses_an_unknown_user(
    site: Use, client: Client, browser: httpx.Client
) -> None:
    site(USER_MAPPING="get")
    refused = sign_in(client, browser)
    assert refused.status_code == 403
    assert b"access_denied" in refused.content
    assert signed_in_django_user(client) is None
    assert SESSION_KEY not in client.session
    assert not User.objects.exists()


def map_to_staff(pingone_user: Any) -> Any:
    """A USER_MAPPING callable (dotted path in the test below)."""
    user, _ = User.objects.get_or_create(username=f"staff-{pingone_user.subject}")
    return user


def test_callable_user_mapping(site: Use, client: Client, browser: httpx.Client) -> None:
    site(USER_MAPPING="test_django_login.map_to_staff")
    sign_in(client, browser)
    assert client.get("/me").json()["username"] == "staff-user-1"


def test_redis_store_shares_sign_ins(
    site: Use, client: Client, browser: httpx.Client, redis_server: str
) -> None:
    site(STORE=redis_server)
    assert isinstance(get_web_login().store, RedisStore)
    sign_in(client, browser)
    assert client.get("/profile").json()["sub"] == "user-1"


# -- attacks ---------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["https://evil.example/x", "//evil.example/x", "/\\evil"])
def test_open_redirect_in_return_to_goes_home(
    site: Use, client: Client, browser: httpx.Client, target: str
) -> None:
    assert sign_in(client, browser, return_to=target)["Location"] == "/"


def test_bad_state_is_refused_and_signs_nobody_in(
    site: Use, client: Client, pingone_mock: MockPingOne, browser: httpx.Client
) -> None:
    pingone_mock.tamper_next_callback(state="forged-state")
    refused = sign_in(client, browser, return_to="/me")
    assert refused.status_code == 400
    assert b"invalid_state" in refused.content
    assert signed_in_django_user(client) is None
    assert SESSION_KEY not in client.session
    assert client.get("/me").status_code == 302
    assert not User.objects.exists()


def test_callback_without_login_is_refused_with_cookie_hint(
    site: Use, client: Client, pingone_mock: MockPingOne
) -> None:
    query = {"code": "stolen-code", "state": "some-state", "iss": pingone_mock.issuer}
    page = client.get("/auth/callback", query, headers=HTML)
    assert page.status_code == 400
    assert "session cookie is missing" in page.content.decode()
    assert "stolen-code" not in page.content.decode()
    assert "sessionid" not in page.cookies
    api = client.get("/auth/callback", query, headers=JSON)
    assert api.status_code == 400
    assert api.json()["error"] == "invalid_state"


def test_callback_of_another_browser_is_refused(
    site: Use, client: Client, browser: httpx.Client
) -> None:
    """Login CSRF: an attacker's callback URL, opened in the victim's browser."""
    attacker = Client()
    attacker_start = attacker.get("/auth/login")
    attacker_callback = to_pingone_and_back(browser, attacker_start["Location"])
    client.get("/auth/login")  # the victim has a sign-in of its own in progress
    refused = client.get(attacker_callback)
    assert refused.status_code == 400
    assert signed_in_django_user(client) is None


def test_replayed_callback_is_refused(site: Use, client: Client, browser: httpx.Client) -> None:
    start = client.get("/auth/login")
    callback = to_pingone_and_back(browser, start["Location"])
    assert client.get(callback).status_code == 302
    assert client.get(callback).status_code == 400


def test_logout_without_csrf_is_refused(site: Use, browser: httpx.Client) -> None:
    client = Client(enforce_csrf_checks=True)
    sign_in(client, browser)
    assert client.post("/auth/logout").status_code == 403  # Django's CsrfViewMiddleware
    fields = form_fields(client.get("/auth/logout").content.decode())
    no_session_csrf = {"csrfmiddlewaretoken": fields["csrfmiddlewaretoken"]}
    assert client.post("/auth/logout", no_session_csrf).status_code == 400
    wrong = {**no_session_csrf, "csrf": "guessed"}
    assert client.post("/auth/logout", wrong).status_code == 400
    assert client.get("/me").status_code == 200  # still signed in


def test_logout_revokes_tokens_and_redirects_to_signoff(
    site: Use, pingone_mock: MockPingOne, browser: httpx.Client
) -> None:
    client = Client(enforce_csrf_checks=True)
    sign_in(client, browser)
    token = client.get("/profile").json()["token"]
    confirm = client.get("/auth/logout")
    assert confirm.status_code == 200
    assert confirm["Content-Security-Policy"].endswith("frame-ancestors 'none'")
    fields = form_fields(confirm.content.decode())
    assert set(fields) == {"csrfmiddlewaretoken", "csrf"}
    done = client.post("/auth/logout", fields)
    assert done.status_code == 302
    signoff = done["Location"]
    assert signoff.startswith(pingone_mock.end_session_endpoint)
    assert parse_qs(urlsplit(signoff).query)["post_logout_redirect_uri"] == [HOME]
    assert pingone_mock.introspect(token)["active"] is False
    assert signed_in_django_user(client) is None
    assert client.get("/me").status_code == 302


def test_provider_down_is_503(site: Use, client: Client, pingone_mock: MockPingOne) -> None:
    pingone_mock.stop()
    page = client.get("/auth/login", headers=HTML)
    assert page.status_code == 503
    assert "Retry-After" in page
    api = client.get("/auth/login")
    assert api.status_code == 503
    assert json.loads(api.content)["error"] == "temporarily_unavailable"


# -- settings and checks ---------------------------------------------------------------------


def check_ids(**settings: Any) -> list[str]:
    with override_settings(**settings):
        return [message.id or "" for message in checks.run_checks(tags=["p1guard"])]


def test_good_login_setup_passes_the_checks(site: Use) -> None:
    assert check_ids() == []


def test_login_only_app_needs_no_audience(
    site: Use, p1guard: Use, login_settings: dict[str, Any], browser: httpx.Client
) -> None:
    p1guard(AUDIENCE=None, LOGIN=login_settings)
    bearer = "p1guard_django.middleware.BearerTokenMiddleware"
    without_bearer = [m for m in TEST_SETTINGS["MIDDLEWARE"] if m != bearer]
    assert check_ids(MIDDLEWARE=without_bearer) == []
    assert check_ids() == ["p1guard.E001"]  # the bearer middleware still needs one
    with pytest.raises(ImproperlyConfigured, match=r"p1guard\.E001"):
        get_guard()
    with override_settings(MIDDLEWARE=without_bearer):
        client = Client()
        sign_in(client, browser)
        assert client.get("/me").json()["username"] == "user-1"


@pytest.mark.parametrize(
    ("login", "expected"),
    [
        ({"CLIENT_ID": None}, "p1guard.E011"),
        ({"REDIRECT_URI": ""}, "p1guard.E011"),
        ({"SCOPES": []}, "p1guard.E011"),
        ({"STORE": "memcached://x"}, "p1guard.E011"),
        ({"SESSION_TTL": 0}, "p1guard.E011"),
        ({"USER_MAPPING": "nobody"}, "p1guard.E011"),
        ({"SCOPES": "profile email"}, "p1guard.E009"),
        ({"REDIRECT_URI": "http://app.example.com/auth/callback"}, "p1guard.E009"),
        ({"RP_OPTIONS": {"no_such_option": 1}}, "p1guard.E009"),
        ({"REDIRECT_URI": "http://127.0.0.1/elsewhere/callback"}, "p1guard.W004"),
        ({"LOGIN_REDIRECT_URL": "no-such-url-name"}, "p1guard.W004"),
        ({"CLIENTID": "x"}, "p1guard.W001"),
    ],
)
def test_bad_login_settings_reported(site: Use, login: dict[str, Any], expected: str) -> None:
    site(**login)
    assert expected in check_ids()


def test_login_settings_must_be_a_dict(p1guard: Use) -> None:
    p1guard(LOGIN="yes")
    assert "p1guard.E011" in check_ids()


def test_client_secret_never_in_check_messages(site: Use) -> None:
    site(CLIENT_SECRET="s3cr3t-value-1234", SCOPES="profile")
    found = checks.run_checks(tags=["p1guard"])
    assert found
    assert all("s3cr3t-value-1234" not in message.msg for message in found)


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"AUTHENTICATION_BACKENDS": ["django.contrib.auth.backends.ModelBackend"]}, "E012"),
        ({"MIDDLEWARE": ["django.middleware.common.CommonMiddleware"]}, "E012"),
        ({"SESSION_COOKIE_SAMESITE": "Strict"}, "E013"),
        ({"SESSION_COOKIE_HTTPONLY": False}, "E013"),
        ({"LOGIN_URL": "/accounts/login/"}, "W003"),
        ({"ROOT_URLCONF": "django_app"}, "W004"),
        ({"SESSION_ENGINE": "django.contrib.sessions.backends.signed_cookies"}, "W005"),
    ],
)
def test_django_setup_for_sign_in_checked(
    site: Use, settings: dict[str, Any], expected: str
) -> None:
    assert f"p1guard.{expected}" in check_ids(**settings)


def test_https_redirect_uri_needs_a_secure_session_cookie(
    site: Use, pingone_mock: MockPingOne
) -> None:
    site(REDIRECT_URI="https://app.example.com/auth/callback")
    assert check_ids() == ["p1guard.E013"]
    assert check_ids(SESSION_COOKIE_SECURE=True) == []
