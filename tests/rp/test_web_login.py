"""WebLogin (the framework-free login routes) against MockPingOne, with memory and Redis stores."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from p1guard.rp import RedisStore, RelyingParty, WebLogin
from p1guard.rp._session import CSRF_KEY, LOGIN_KEY, SESSION_KEY
from p1guard.testing import MockPingOne

CALLBACK = "http://127.0.0.1:5000/auth/callback"
HOME = "http://127.0.0.1:5000/"


def make_web(op: MockPingOne, **kwargs: Any) -> WebLogin:
    client = op.register_client(redirect_uris=[CALLBACK], post_logout_redirect_uris=[HOME])
    rp = RelyingParty(
        op.pingone(),
        client_id=client.client_id,
        client_secret=client.client_secret,
        redirect_uri=CALLBACK,
        post_logout_redirect_uri=HOME,
    )
    return WebLogin(rp, **kwargs)


@pytest.fixture
def browser() -> Iterator[httpx.Client]:
    with httpx.Client(follow_redirects=False) as client:
        yield client


def sign_in(
    web: WebLogin, browser: httpx.Client, session: dict[str, Any], return_to: str = "/"
) -> str:
    start = web.login(session, return_to=return_to)
    location = browser.get(start.url).headers["location"]
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    return web.callback(session, query)


def test_sign_in_rotates_session_and_keeps_tokens_server_side(
    pingone_mock: MockPingOne, browser: httpx.Client
) -> None:
    web = make_web(pingone_mock)
    session: dict[str, Any] = {"stale": "value from before login"}
    assert sign_in(web, browser, session, "/orders") == "/orders"
    assert set(session) == {SESSION_KEY, CSRF_KEY}  # cleared, new ids only
    assert LOGIN_KEY not in session
    user = web.user(session)
    assert user is not None
    assert user.name == "Ada Lovelace"
    assert user.subject == "user-1"
    assert all(user.access_token not in str(v) for v in session.values())


def test_access_token_refreshed_before_expiry(
    pingone_mock: MockPingOne, browser: httpx.Client
) -> None:
    web = make_web(pingone_mock, refresh_margin=10**9)  # always "about to expire"
    session: dict[str, Any] = {}
    sign_in(web, browser, session)
    first = web.user(session)
    second = web.user(session)
    assert first is not None
    assert second is not None
    assert first.access_token != second.access_token
    assert second.name == "Ada Lovelace"


def test_refused_refresh_ends_session(pingone_mock: MockPingOne, browser: httpx.Client) -> None:
    web = make_web(pingone_mock, refresh_margin=10**9)
    session: dict[str, Any] = {}
    sign_in(web, browser, session)
    data = web.store.get(f"session:{session[SESSION_KEY]}")
    assert data is not None
    pingone_mock.revoke(data["tokens"]["refresh_token"])
    assert web.user(session) is None
    assert SESSION_KEY not in session


def test_logout_revokes_tokens_and_returns_signoff(
    pingone_mock: MockPingOne, browser: httpx.Client
) -> None:
    web = make_web(pingone_mock)
    session: dict[str, Any] = {}
    sign_in(web, browser, session)
    user = web.user(session)
    assert user is not None
    signoff = web.logout(session, web.csrf_token(session))
    assert signoff.startswith(pingone_mock.end_session_endpoint)
    assert "id_token_hint=" in signoff
    assert not pingone_mock.introspect(user.access_token)["active"]
    assert session == {}
    assert browser.get(signoff).headers["location"] == HOME


async def test_async_twins(pingone_mock: MockPingOne) -> None:
    web = make_web(pingone_mock)
    session: dict[str, Any] = {}
    start = await web.alogin(session)
    async with httpx.AsyncClient() as browser:
        location = (await browser.get(start.url)).headers["location"]
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    assert await web.acallback(session, query) == "/"
    user = await web.auser(session)
    assert user is not None
    await web.alogout(session, web.csrf_token(session))
    assert await web.auser(session) is None
    await web.rp.pingone.aclose()


def test_workers_share_logins_through_redis(
    pingone_mock: MockPingOne, browser: httpx.Client, redis_server: str
) -> None:
    client = pingone_mock.register_client(redirect_uris=[CALLBACK])

    def worker() -> WebLogin:
        rp = RelyingParty(
            pingone_mock.pingone(),
            client_id=client.client_id,
            client_secret=client.client_secret,
            redirect_uri=CALLBACK,
        )
        return WebLogin(rp, store=RedisStore(redis_server, prefix="web-test:"))

    first, second = worker(), worker()
    session: dict[str, Any] = {}
    start = first.login(session)  # login starts on one worker...
    location = browser.get(start.url).headers["location"]
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    second.callback(session, query)  # ...and finishes on another
    user = first.user(session)
    assert user is not None
    assert user.subject == "user-1"
    first.store.close()
    second.store.close()


def test_signing_in_again_ends_the_old_session(
    pingone_mock: MockPingOne, browser: httpx.Client
) -> None:
    web = make_web(pingone_mock)
    session: dict[str, Any] = {}
    sign_in(web, browser, session)
    old_session_id = session[SESSION_KEY]
    old_user = web.user(session)
    assert old_user is not None
    sign_in(web, browser, session)  # e.g. step-up
    assert session[SESSION_KEY] != old_session_id
    assert web.store.get(f"session:{old_session_id}") is None
    assert not pingone_mock.introspect(old_user.access_token)["active"]
    assert web.user(session) is not None


async def test_concurrent_refreshes_send_the_refresh_token_once(pingone_mock: MockPingOne) -> None:
    web = make_web(pingone_mock, refresh_margin=10**9)
    session: dict[str, Any] = {}
    start = await web.alogin(session)
    async with httpx.AsyncClient() as browser:
        location = (await browser.get(start.url)).headers["location"]
    await web.acallback(session, {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()})
    users = await asyncio.gather(*(web.auser(session) for _ in range(5)))
    assert all(user is not None for user in users)  # nobody was logged out by a replay
    assert await web.auser(session) is not None
    await web.rp.pingone.aclose()


def test_session_ttl_bounds_a_sign_in_even_with_refreshes(
    pingone_mock: MockPingOne, browser: httpx.Client
) -> None:
    web = make_web(pingone_mock, session_ttl=1, refresh_margin=10**9)
    session: dict[str, Any] = {}
    sign_in(web, browser, session)
    assert web.user(session) is not None
    time.sleep(1.1)
    assert web.user(session) is None


def test_expired_access_token_without_refresh_token_ends_the_session(
    pingone_mock: MockPingOne, browser: httpx.Client
) -> None:
    web = make_web(pingone_mock)
    session: dict[str, Any] = {}
    sign_in(web, browser, session)
    key = f"session:{session[SESSION_KEY]}"
    data = web.store.get(key)
    assert data is not None
    data["tokens"]["refresh_token"] = None
    data["tokens"]["expires_at"] = time.time() - 1
    web.store.set(key, data, ttl=60)
    assert web.user(session) is None


def test_two_tabs_can_sign_in_at_once(pingone_mock: MockPingOne, browser: httpx.Client) -> None:
    web = make_web(pingone_mock)
    session: dict[str, Any] = {}
    tab_a, tab_b = web.login(session, return_to="/a"), web.login(session, return_to="/b")

    def query(start: Any) -> dict[str, str]:
        location = browser.get(start.url).headers["location"]
        return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}

    query_a, query_b = query(tab_a), query(tab_b)
    assert web.callback(session, query_b) == "/b"
    assert web.callback(session, query_a) == "/a"
    assert web.user(session) is not None


def test_forged_callback_does_not_consume_the_pending_login(
    pingone_mock: MockPingOne, browser: httpx.Client
) -> None:
    from p1guard.rp import LoginError

    web = make_web(pingone_mock)
    session: dict[str, Any] = {}
    start = web.login(session)
    with pytest.raises(LoginError) as info:
        web.callback(session, {"state": "forged", "code": "x"})
    assert info.value.reason == "state_mismatch"
    location = browser.get(start.url).headers["location"]
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    assert web.callback(session, query) == "/"


def test_anonymous_login_flood_cannot_evict_sessions(
    pingone_mock: MockPingOne, browser: httpx.Client
) -> None:
    from p1guard.rp import MemoryStore

    web = make_web(pingone_mock, store=MemoryStore(maxsize=50))
    victim: dict[str, Any] = {}
    sign_in(web, browser, victim)
    for _ in range(200):
        web.login({})  # an attacker's anonymous /login requests
    assert web.user(victim) is not None
