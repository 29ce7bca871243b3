"""One named test per login-flow attack (targets.md): rejected with a clear 400, no session made."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from p1guard.rp import LoginError, RelyingParty, WebLogin
from p1guard.rp._session import SESSION_KEY
from p1guard.testing import MockPingOne

CALLBACK = "http://127.0.0.1:5000/auth/callback"


@pytest.fixture
def browser() -> Iterator[httpx.Client]:
    with httpx.Client(follow_redirects=False) as client:
        yield client


@pytest.fixture
def web(pingone_mock: MockPingOne) -> WebLogin:
    client = pingone_mock.register_client(redirect_uris=[CALLBACK])
    rp = RelyingParty(
        pingone_mock.pingone(),
        client_id=client.client_id,
        client_secret=client.client_secret,
        redirect_uri=CALLBACK,
    )
    return WebLogin(rp)


def callback_query(browser: httpx.Client, url: str) -> dict[str, str]:
    response = browser.get(url)
    assert response.status_code == 302, response.text
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


def refused(web: WebLogin, session: dict[str, Any], query: dict[str, str]) -> LoginError:
    with pytest.raises(LoginError) as info:
        web.callback(session, query)
    assert info.value.status_code == 400
    assert SESSION_KEY not in session  # no session was created
    assert web.user(session) is None
    return info.value


def test_bad_state_rejected(
    pingone_mock: MockPingOne, web: WebLogin, browser: httpx.Client
) -> None:
    session: dict[str, Any] = {}
    start = web.login(session)
    pingone_mock.tamper_next_callback(state="forged-state")
    assert refused(web, session, callback_query(browser, start.url)).reason == "state_mismatch"


def test_callback_without_login_in_this_browser_rejected(
    pingone_mock: MockPingOne, web: WebLogin, browser: httpx.Client
) -> None:
    attacker_session: dict[str, Any] = {}
    start = web.login(attacker_session)
    query = callback_query(browser, start.url)  # the attacker's own code and state...
    victim_session: dict[str, Any] = {}
    err = refused(web, victim_session, query)  # ...cannot sign the victim in (login CSRF)
    assert err.reason == "no_login_in_session"
    assert "cookie" in err.description


def test_replayed_code_rejected(
    pingone_mock: MockPingOne, web: WebLogin, browser: httpx.Client
) -> None:
    session: dict[str, Any] = {}
    start = web.login(session)
    query = callback_query(browser, start.url)
    web.callback(session, query)
    session.clear()
    assert refused(web, session, query).reason == "no_login_in_session"
    # Even with the transaction at hand, PingOne refuses a second use of the code.
    with pytest.raises(LoginError) as info:
        web.rp.complete(query, start.transaction)
    assert info.value.error == "invalid_grant"


def test_replayed_callback_in_same_browser_rejected(
    pingone_mock: MockPingOne, web: WebLogin, browser: httpx.Client
) -> None:
    session: dict[str, Any] = {}
    start = web.login(session)
    query = callback_query(browser, start.url)
    pending = list(session["p1guard.login"])
    web.callback(session, query)
    replay: dict[str, Any] = {"p1guard.login": pending}  # a stolen pre-login cookie
    assert refused(web, replay, query).reason == "login_not_found"


def test_wrong_nonce_rejected(
    pingone_mock: MockPingOne, web: WebLogin, browser: httpx.Client
) -> None:
    session: dict[str, Any] = {}
    start = web.login(session)
    pingone_mock.tamper_next_id_token(nonce="someone-elses-nonce")
    assert refused(web, session, callback_query(browser, start.url)).reason == "nonce_mismatch"


def test_wrong_iss_in_callback_rejected(
    pingone_mock: MockPingOne, web: WebLogin, browser: httpx.Client
) -> None:
    session: dict[str, Any] = {}
    start = web.login(session)
    pingone_mock.tamper_next_callback(iss="https://evil.example.com/as")
    assert refused(web, session, callback_query(browser, start.url)).reason == "iss_mismatch"


def test_missing_iss_in_callback_rejected(
    pingone_mock: MockPingOne, web: WebLogin, browser: httpx.Client
) -> None:
    session: dict[str, Any] = {}
    start = web.login(session)
    pingone_mock.tamper_next_callback(iss=None)
    assert refused(web, session, callback_query(browser, start.url)).reason == "iss_missing"


def test_wrong_issuer_in_id_token_rejected(
    pingone_mock: MockPingOne, web: WebLogin, browser: httpx.Client
) -> None:
    session: dict[str, Any] = {}
    start = web.login(session)
    pingone_mock.tamper_next_id_token(iss="https://evil.example.com/as")
    assert refused(web, session, callback_query(browser, start.url)).reason == "wrong_issuer"


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"aud": "another-client"}, "wrong_audience"),
        ({"exp": 1_000_000}, "expired"),
        ({"at_hash": "AAAAAAAAAAAAAAAAAAAAAA"}, "at_hash_mismatch"),
        ({"sub": None}, "missing_claim"),
        ({"iat": None}, "missing_claim"),
        ({"azp": "another-client"}, "bad_azp"),
    ],
)
def test_forged_id_token_claims_rejected(
    pingone_mock: MockPingOne,
    web: WebLogin,
    browser: httpx.Client,
    claims: dict[str, Any],
    reason: str,
) -> None:
    session: dict[str, Any] = {}
    start = web.login(session)
    pingone_mock.tamper_next_id_token(**claims)
    assert refused(web, session, callback_query(browser, start.url)).reason == reason


def test_open_redirect_in_return_to_rejected(
    pingone_mock: MockPingOne, web: WebLogin, browser: httpx.Client
) -> None:
    for target in ("https://evil.example.com/", "//evil.example.com", "/\\evil.example.com"):
        session: dict[str, Any] = {}
        start = web.login(session, return_to=target)
        assert web.callback(session, callback_query(browser, start.url)) == "/"


def test_missing_pkce_never_sent(
    pingone_mock: MockPingOne, web: WebLogin, browser: httpx.Client
) -> None:
    web.rp.par = False
    session: dict[str, Any] = {}
    start = web.login(session)
    params = parse_qs(urlsplit(start.url).query)
    assert params["code_challenge_method"] == ["S256"]
    assert len(params["code_challenge"][0]) == 43


def test_code_injection_blocked_by_pkce(
    pingone_mock: MockPingOne, web: WebLogin, browser: httpx.Client
) -> None:
    victim = web.rp.begin()
    attacker = web.rp.begin()
    attacker_query = callback_query(browser, attacker.url)
    injected = {
        **attacker_query,
        "state": victim.transaction.state,
    }  # attacker's code, victim's state
    with pytest.raises(LoginError) as info:
        web.rp.complete(injected, victim.transaction)
    assert info.value.error == "invalid_grant"


def test_provider_error_is_typed(
    pingone_mock: MockPingOne, web: WebLogin, browser: httpx.Client
) -> None:
    session: dict[str, Any] = {}
    start = web.login(session)
    pingone_mock.tamper_next_callback(code=None, error="access_denied", error_description="denied")
    err = refused(web, session, callback_query(browser, start.url))
    assert err.error == "access_denied"


def test_logout_needs_csrf_token(
    pingone_mock: MockPingOne, web: WebLogin, browser: httpx.Client
) -> None:
    session: dict[str, Any] = {}
    start = web.login(session)
    web.callback(session, callback_query(browser, start.url))
    assert web.user(session) is not None
    for forged in (None, "", "wrong"):
        with pytest.raises(LoginError):
            web.logout(session, forged)
        assert web.user(session) is not None
    web.logout(session, web.csrf_token(session))
    assert web.user(session) is None
