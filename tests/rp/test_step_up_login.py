"""Step-up sign-in (RFC 9470) for pages, framework-free: the login URL, the answer, the check."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from p1guard import InsufficientUserAuthentication
from p1guard._tokens.tokens import TokenSet
from p1guard.rp import SignedInUser
from p1guard.rp._pages import login_params, step_up_answer, step_up_login_url

HTML = "text/html,application/xhtml+xml,*/*;q=0.8"


def user(**claims: object) -> SignedInUser:
    return SignedInUser(claims={"sub": "u1", **claims}, tokens=TokenSet(access_token="t"))


def test_login_url_carries_acr_values_max_age_and_return_to() -> None:
    err = InsufficientUserAuthentication(acr_values=["Multi_Factor", "Strong"], max_age=300)
    url = step_up_login_url("/auth/login", err, "/transfer?to=bob&amount=5")
    assert url.startswith("/auth/login?")
    query = parse_qs(urlsplit(url).query)
    assert query == {
        "return_to": ["/transfer?to=bob&amount=5"],
        "acr_values": ["Multi_Factor Strong"],
        "max_age": ["300"],
    }
    # what /login reads back from it
    assert login_params(query) == {
        "acr_values": ["Multi_Factor", "Strong"],
        "max_age": 300,
        "return_to": "/transfer?to=bob&amount=5",
    }


def test_login_url_without_values_is_a_plain_login() -> None:
    url = step_up_login_url("/app/auth/login", InsufficientUserAuthentication(), "/")
    assert url == "/app/auth/login?return_to=%2F"


def test_browsers_are_redirected() -> None:
    err = InsufficientUserAuthentication(acr_values=["Multi_Factor"])
    answer = step_up_answer(HTML, "/auth/login?acr_values=Multi_Factor", err)
    assert answer.status == 302
    assert answer.headers["Location"] == "/auth/login?acr_values=Multi_Factor"
    assert answer.headers["Cache-Control"] == "no-store"


def test_api_clients_get_the_challenge() -> None:
    err = InsufficientUserAuthentication(acr_values=["Multi_Factor"], max_age=300)
    answer = step_up_answer("application/json", "/auth/login", err)
    assert answer.status == 401
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.headers["Cache-Control"] == "no-store"
    challenge = answer.headers["WWW-Authenticate"]
    assert 'error="insufficient_user_authentication"' in challenge
    assert 'acr_values="Multi_Factor"' in challenge
    assert 'max_age="300"' in challenge
    assert '"error":"insufficient_user_authentication"' in answer.body


def test_signed_in_user_that_meets_the_rules_passes() -> None:
    ada = user(acr="Multi_Factor", auth_time=1000)
    assert ada.require_authentication(["Multi_Factor"], max_age=300, now=1300) is ada
    assert ada.require_authentication("Single_Factor Multi_Factor", now=5000) is ada
    assert ada.require_authentication() is ada


def test_weak_sign_in_is_refused_with_what_to_ask_for() -> None:
    with pytest.raises(InsufficientUserAuthentication) as caught:
        user(acr="Single_Factor", auth_time=1000).require_authentication(
            ["Multi_Factor"], max_age=300, now=1100
        )
    assert caught.value.acr_values == ("Multi_Factor",)
    assert caught.value.max_age == 300
    assert caught.value.reason == "acr_not_accepted"


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"auth_time": 1000}, "auth_too_old"),
        ({}, "no_auth_time"),
        ({"auth_time": "1"}, "no_auth_time"),
    ],
)
def test_old_or_unknown_sign_in_time_is_refused(claims: dict[str, object], reason: str) -> None:
    with pytest.raises(InsufficientUserAuthentication) as caught:
        user(acr="Multi_Factor", **claims).require_authentication(max_age=300, now=1301)
    assert caught.value.reason == reason


def test_leeway_tolerates_clock_skew() -> None:
    ada = user(auth_time=1000)
    assert ada.require_authentication(max_age=300, now=1310, leeway=30) is ada
