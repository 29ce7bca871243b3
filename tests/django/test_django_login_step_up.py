"""Step-up sign-in (RFC 9470) with p1guard_django's ``login_required(acr_values=…, max_age=…)``.

Django's test Client is the browser on the app's side; a non-following httpx client makes the
hop to the live mock PingOne (its ID token's ``acr`` is the first requested ``acr_values``).
This module is also the URLconf of its tests (``ROOT_URLCONF = __name__``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.http import HttpRequest, JsonResponse
from django.test import Client, override_settings
from django.urls import include, path
from django_support import Use

from p1guard import ConfigError
from p1guard.testing import MockPingOne
from p1guard_django import acurrent_user, current_user, login_required

CALLBACK = "http://127.0.0.1/auth/callback"
HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
JSON = {"Accept": "application/json"}


@login_required(acr_values=["Multi_Factor"], max_age=300)
def transfer(request: HttpRequest) -> JsonResponse:
    user = current_user(request)
    assert user is not None
    return JsonResponse({"acr": user.claims["acr"]})


@login_required(acr_values="Multi_Factor")
async def async_transfer(request: HttpRequest) -> JsonResponse:
    user = await acurrent_user(request)
    assert user is not None
    return JsonResponse({"acr": user.claims["acr"], "async": True})


@login_required()
def plain(request: HttpRequest) -> JsonResponse:
    user = current_user(request)
    assert user is not None
    return JsonResponse({"acr": user.claims.get("acr")})


urlpatterns = [
    path("auth/", include("p1guard_django.urls")),
    path("transfer", transfer),
    path("async-transfer", async_transfer),
    path("plain", plain),
]


@pytest.fixture(autouse=True)
def clean_db() -> Iterator[None]:
    yield
    get_user_model().objects.all().delete()
    Session.objects.all().delete()


@pytest.fixture
def site(p1guard: Use, pingone_mock: MockPingOne) -> Iterator[None]:
    app = pingone_mock.register_client(redirect_uris=[CALLBACK])
    login = {"CLIENT_ID": app.client_id, "CLIENT_SECRET": app.client_secret}
    p1guard(LOGIN={**login, "REDIRECT_URI": CALLBACK})
    with override_settings(
        ROOT_URLCONF=__name__,
        LOGIN_URL="p1guard:login",
        AUTHENTICATION_BACKENDS=["p1guard_django.backends.PingOneBackend"],
    ):
        yield


@pytest.fixture
def browser() -> Iterator[httpx.Client]:
    with httpx.Client(follow_redirects=False) as client:
        yield client


def sign_in(client: Client, browser: httpx.Client, login_url: str) -> str:
    """``login_url`` → PingOne → callback; the callback's redirect (``return_to``)."""
    start = client.get(login_url)
    assert start.status_code == 302, start.content
    back = browser.get(start["Location"])
    assert back.status_code == 302, back.text
    parts = urlsplit(back.headers["location"])
    done = client.get(f"{parts.path}?{parts.query}")
    assert done.status_code == 302, done.content
    return str(done["Location"])


@pytest.mark.usefixtures("site")
def test_weak_sign_in_is_sent_back_through_pingone(
    client: Client, browser: httpx.Client, pingone_mock: MockPingOne
) -> None:
    anonymous = client.get("/transfer", headers=HTML)
    assert anonymous.status_code == 302
    assert anonymous["Location"] == "/auth/login?return_to=%2Ftransfer"

    assert sign_in(client, browser, "/auth/login?return_to=/plain") == "/plain"
    assert client.get("/plain").json() == {"acr": "Single_Factor"}

    refused = client.get("/transfer?amount=5", headers=HTML)
    assert refused.status_code == 302
    assert refused["Cache-Control"] == "no-store"
    step_up = refused["Location"]
    url = urlsplit(step_up)
    assert url.path == "/auth/login"
    assert parse_qs(url.query) == {
        "return_to": ["/transfer?amount=5"],
        "acr_values": ["Multi_Factor"],
        "max_age": ["300"],
    }

    # API clients get the RFC 9470 challenge rather than a redirect
    api = client.get("/transfer", headers=JSON)
    assert api.status_code == 401
    challenge = api["WWW-Authenticate"]
    assert 'error="insufficient_user_authentication"' in challenge
    assert 'acr_values="Multi_Factor"' in challenge
    assert 'max_age="300"' in challenge
    assert api.json()["error"] == "insufficient_user_authentication"
    assert client.get("/async-transfer", headers=JSON).status_code == 401

    # back through PingOne with those values; the new ID token is checked on return
    start = client.get(step_up)
    sent = pingone_mock.last_authorize_params
    assert (sent["acr_values"], sent["max_age"]) == ("Multi_Factor", "300")
    back = browser.get(start["Location"])
    parts = urlsplit(back.headers["location"])
    done = client.get(f"{parts.path}?{parts.query}")
    assert done["Location"] == "/transfer?amount=5"
    assert client.get(done["Location"], headers=HTML).json() == {"acr": "Multi_Factor"}
    assert client.get("/async-transfer").json() == {"acr": "Multi_Factor", "async": True}


@pytest.mark.usefixtures("site")
def test_not_signed_in_api_client_gets_login_required(client: Client) -> None:
    answer = client.get("/async-transfer", headers=JSON)
    assert answer.status_code == 401
    assert answer.json()["error"] == "login_required"


@pytest.mark.parametrize(
    ("options", "field"),
    [({"acr_values": ["two words"]}, "acr_values"), ({"max_age": -1}, "max_age")],
)
def test_bad_step_up_options_fail_when_decorating(options: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as caught:
        login_required(**options)
    assert caught.value.field == field
