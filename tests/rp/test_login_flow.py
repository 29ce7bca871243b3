"""RelyingParty end to end against MockPingOne over real HTTP: login, PAR, refresh, logout."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from p1guard import ConfigError, ProviderUnavailable
from p1guard.rp import LoginError, LoginStart, PushedAuthorizationError, RelyingParty, TokenSet
from p1guard.testing import MockPingOne

CALLBACK = "http://127.0.0.1:5000/auth/callback"
AFTER_LOGOUT = "http://127.0.0.1:5000/"


@pytest.fixture
def browser() -> Iterator[httpx.Client]:
    with httpx.Client(follow_redirects=False) as client:
        yield client


def rp_for(op: MockPingOne, **kwargs: Any) -> RelyingParty:
    client_kwargs = {
        k: kwargs.pop(k) for k in ("require_par", "pkce", "auth_method") if k in kwargs
    }
    client = op.register_client(
        redirect_uris=[CALLBACK], post_logout_redirect_uris=[AFTER_LOGOUT], **client_kwargs
    )
    return RelyingParty(
        op.pingone(),
        client_id=client.client_id,
        client_secret=client.client_secret,
        redirect_uri=CALLBACK,
        post_logout_redirect_uri=AFTER_LOGOUT,
        auth_method=client.auth_method,
        **{k: v for k, v in kwargs.items() if k in ("par", "scopes")},
    )


def follow_to_callback(browser: httpx.Client, start: LoginStart) -> dict[str, str]:
    """Play the browser: go to PingOne, which signs the test user in and redirects back."""
    if start.method == "POST":
        response = browser.post(start.url, data=dict(start.form))
    else:
        response = browser.get(start.url)
    assert response.status_code in (302, 303), response.text
    location = response.headers["location"]
    assert location.startswith(CALLBACK)
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def login(op: MockPingOne, rp: RelyingParty, browser: httpx.Client, **begin: Any) -> TokenSet:
    start = rp.begin(return_to="/orders", **begin)
    return rp.complete(follow_to_callback(browser, start), start.transaction)


def test_full_login_with_par(pingone_mock: MockPingOne, browser: httpx.Client) -> None:
    rp = rp_for(pingone_mock)
    start = rp.begin(return_to="/orders")
    assert "request_uri=" in start.url and "code_challenge" not in start.url  # pushed
    assert pingone_mock.calls["par"] == 1
    tokens = rp.complete(follow_to_callback(browser, start), start.transaction)
    assert tokens.subject == "user-1"
    assert tokens.claims["name"] == "Ada Lovelace"
    assert tokens.refresh_token and tokens.id_token
    assert tokens.expires_at is not None
    assert start.transaction.return_to == "/orders"
    assert "openid" in tokens.scopes


def test_full_login_without_par(pingone_mock: MockPingOne, browser: httpx.Client) -> None:
    rp = rp_for(pingone_mock, par=False)
    start = rp.begin()
    assert "code_challenge=" in start.url
    tokens = rp.complete(follow_to_callback(browser, start), start.transaction)
    assert tokens.subject == "user-1"
    assert pingone_mock.calls["par"] == 0
    assert pingone_mock.last_authorize_params["code_challenge_method"] == "S256"


def test_login_with_post_authorize(pingone_mock: MockPingOne, browser: httpx.Client) -> None:
    rp = rp_for(pingone_mock, par=False)
    start = rp.begin(method="POST")
    assert start.method == "POST"
    assert "document.forms[0].submit()" in start.html_form()
    assert rp.complete(follow_to_callback(browser, start), start.transaction).subject == "user-1"


def test_par_required_client(pingone_mock: MockPingOne, browser: httpx.Client) -> None:
    refused = rp_for(pingone_mock, par=False, require_par=True)
    start = refused.begin()
    query = follow_to_callback(browser, start)
    with pytest.raises(LoginError) as info:
        refused.complete(query, start.transaction)
    assert info.value.error == "invalid_request"
    pushed = rp_for(pingone_mock, require_par=True)
    assert login(pingone_mock, pushed, browser).subject == "user-1"


def test_par_error_is_typed(pingone_mock: MockPingOne) -> None:
    rp = rp_for(pingone_mock)
    rp.redirect_uri = "http://127.0.0.1:5000/not-registered"
    with pytest.raises(PushedAuthorizationError):
        rp.begin()


async def test_async_login_and_refresh(pingone_mock: MockPingOne) -> None:
    rp = rp_for(pingone_mock)
    start = await rp.abegin()
    async with httpx.AsyncClient() as browser:
        response = await browser.get(start.url)
    query = {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}
    tokens = await rp.acomplete(query, start.transaction, userinfo=True)
    assert tokens.claims["email"] == "ada@example.com"
    refreshed = await rp.arefresh(tokens.refresh_token or "", previous=tokens)
    assert refreshed.access_token != tokens.access_token
    await rp.pingone.aclose()


def test_refresh_rotates_and_replay_is_refused(
    pingone_mock: MockPingOne, browser: httpx.Client
) -> None:
    rp = rp_for(pingone_mock)
    tokens = login(pingone_mock, rp, browser)
    refreshed = rp.refresh(tokens.refresh_token or "", previous=tokens)
    assert refreshed.refresh_token != tokens.refresh_token
    assert refreshed.subject == tokens.subject
    with pytest.raises(LoginError) as info:
        rp.refresh(tokens.refresh_token or "")
    assert info.value.error == "invalid_grant"


def test_logout_revokes_and_builds_signoff_url(
    pingone_mock: MockPingOne, browser: httpx.Client
) -> None:
    rp = rp_for(pingone_mock)
    tokens = login(pingone_mock, rp, browser)
    assert pingone_mock.introspect(tokens.access_token)["active"]
    rp.revoke(tokens.refresh_token or "")
    rp.revoke(tokens.access_token, "access_token")
    assert not pingone_mock.introspect(tokens.access_token)["active"]
    url = rp.logout_url(id_token_hint=tokens.id_token, state="xyz")
    response = browser.get(url)
    assert response.status_code == 302
    assert response.headers["location"] == f"{AFTER_LOGOUT}?state=xyz"
    assert not pingone_mock.signed_in


def test_userinfo(pingone_mock: MockPingOne, browser: httpx.Client) -> None:
    rp = rp_for(pingone_mock)
    tokens = login(pingone_mock, rp, browser)
    assert rp.userinfo(tokens.access_token, subject="user-1")["preferred_username"] == "ada"
    with pytest.raises(LoginError):
        rp.userinfo(tokens.access_token, subject="someone-else")


def test_public_client_with_pkce(pingone_mock: MockPingOne, browser: httpx.Client) -> None:
    client = pingone_mock.register_client(auth_method="none", redirect_uris=[CALLBACK])
    rp = RelyingParty(pingone_mock.pingone(), client_id=client.client_id, redirect_uri=CALLBACK)
    assert rp.auth.method == "none"
    assert login(pingone_mock, rp, browser).subject == "user-1"


def test_step_up_values_are_sent_and_checked(
    pingone_mock: MockPingOne, browser: httpx.Client
) -> None:
    rp = rp_for(pingone_mock)
    tokens = login(pingone_mock, rp, browser, acr_values=["Multi_Factor"], max_age=300)
    assert tokens.claims["acr"] == "Multi_Factor"


def test_provider_down_is_503(pingone_mock: MockPingOne) -> None:
    rp = rp_for(pingone_mock)
    pingone_mock.stop()
    with pytest.raises(ProviderUnavailable):
        rp.begin()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"redirect_uri": "/relative"}, "redirect_uri"),
        ({"redirect_uri": "http://app.example.com/cb"}, "redirect_uri"),
        ({"scopes": ["profile"]}, "scopes"),
        ({"par": "sometimes"}, "par"),
        ({"auth_method": "client_secret_basic"}, "client_secret"),
    ],
)
def test_config_errors(pingone_mock: MockPingOne, kwargs: dict[str, Any], field: str) -> None:
    args: dict[str, Any] = {"client_id": "app", "redirect_uri": CALLBACK, **kwargs}
    with pytest.raises(ConfigError) as info:
        RelyingParty(pingone_mock.pingone(), **args)
    assert info.value.field == field


@pytest.mark.parametrize("mode", ["down", "error", "garbage", "truncated", "ratelimit"])
def test_token_endpoint_faults_are_503_not_a_login(
    pingone_mock: MockPingOne, browser: httpx.Client, mode: str
) -> None:
    rp = rp_for(pingone_mock)
    start = rp.begin()
    query = follow_to_callback(browser, start)
    pingone_mock.fail("token", mode)  # type: ignore[arg-type]
    with pytest.raises(ProviderUnavailable) as info:
        rp.complete(query, start.transaction)
    assert info.value.status_code == 503


@pytest.mark.parametrize("endpoint", ["par", "discovery"])
def test_login_start_faults_are_503(pingone_mock: MockPingOne, endpoint: str) -> None:
    rp = rp_for(pingone_mock)
    pingone_mock.fail(endpoint, "error")  # type: ignore[arg-type]
    with pytest.raises(ProviderUnavailable):
        rp.begin()
