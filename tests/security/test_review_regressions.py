"""Defects a security review found, each pinned by a test named after it."""

from __future__ import annotations

import asyncio
import json
import logging
import time

import pytest

from p1guard import ConfigError, InvalidToken, ProviderUnavailable
from p1guard._http.backoff import Backoff
from p1guard._http.flow import Request, Response
from p1guard._tokens.introspection import IntrospectionPolicy, read_answer
from p1guard._tokens.keys import parse_jwks
from p1guard._web.bearer import log_rejection
from p1guard.errors import MissingToken
from p1guard.testing import MockPingOne

POLICY = IntrospectionPolicy(issuers=frozenset({"https://p1/as"}), audiences=frozenset({"api"}))


def test_expiry_centuries_ahead_is_refused(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard()
    for exp in (10**30, 1e300):
        with pytest.raises(InvalidToken) as info:
            guard.verify(pingone_mock.issue_token(claims={"exp": exp}))
        assert info.value.reason in ("bad_exp", "malformed")


def test_non_ascii_token_is_refused_not_a_crash(pingone_mock: MockPingOne) -> None:
    with pytest.raises(InvalidToken):
        pingone_mock.guard().verify("abc\udc80.def.ghi")


@pytest.mark.parametrize("leeway", [float("inf"), 1e9, 301])
def test_leeway_cannot_switch_expiry_off(pingone_mock: MockPingOne, leeway: float) -> None:
    with pytest.raises(ConfigError) as info:
        pingone_mock.guard(leeway=leeway)
    assert info.value.field == "leeway"


def test_introspection_nan_or_overflowing_exp_is_inactive() -> None:
    for exp in (float("nan"), float("inf"), 10**400, time.time() + 1e10):
        answer, _ = read_answer(
            {"active": True, "aud": "api", "exp": exp}, POLICY, time.time(), "t"
        )
        assert isinstance(answer, InvalidToken)


def test_nan_in_a_provider_answer_is_not_json() -> None:
    with pytest.raises(ValueError, match="JSON"):
        Response(200, {}, b'{"active": true, "exp": NaN}').json()


def test_deeply_nested_provider_answer_is_not_json() -> None:
    with pytest.raises(ValueError, match="nested"):
        Response(200, {}, b"[" * 100_000).json()


def test_jwk_with_a_list_alg_is_skipped_not_a_crash() -> None:
    jwk = {"kty": "RSA", "kid": "k", "alg": ["RS256"], "n": "AQAB", "e": "AQAB"}
    assert parse_jwks({"keys": [jwk]}) == {}


def test_cache_size_zero_still_introspects(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard(mode="introspect", cache_size=0)
    token = pingone_mock.issue_token(opaque=True)
    assert guard.verify(token).source == "introspection"
    assert guard.verify(token).source == "introspection"


def test_junk_is_never_forwarded_to_introspection(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard(mode="auto")
    for junk in ("x" * 200_000, "not a token", "tok\u00e9n", "a\nb"):
        with pytest.raises(InvalidToken):
            guard.verify(junk)
    assert pingone_mock.calls["introspect"] == 0


def test_one_shared_failure_counts_once_in_the_backoff() -> None:
    backoff = Backoff(jitter=0.0)
    started = 100.0
    for _ in range(20):  # twenty callers that shared one failed call
        backoff.failed(101.0, attempt_started=started)
    assert backoff.failures == 1
    assert backoff.wait(101.0) == 1.0


def test_log_lines_cannot_be_forged_through_the_path(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    log_rejection(
        logging.getLogger("p1guard.test"), MissingToken(), "GET", "/x\nINFO accepted root"
    )
    assert all("\n" not in record.getMessage() for record in caplog.records)


async def test_a_cancelled_leader_does_not_fail_its_waiters(pingone_mock: MockPingOne) -> None:
    pingone = pingone_mock.pingone()
    transport = pingone.transport
    pingone_mock.fail("jwks", "slow", delay=0.3, times=1)
    request = Request("GET", pingone_mock.jwks_uri, "jwks", flight_key="k")
    leader = asyncio.ensure_future(transport.asend(request))
    await asyncio.sleep(0.05)
    waiter = asyncio.ensure_future(
        transport.asend(Request("GET", pingone_mock.jwks_uri, "jwks", flight_key="k"))
    )
    await asyncio.sleep(0.05)
    leader.cancel()
    response = await waiter
    assert response.status_code == 200
    assert json.loads(response.content)["keys"]
    await pingone.aclose()


def test_unreachable_during_first_fetch_is_503_not_401(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard()
    pingone_mock.stop()
    with pytest.raises(ProviderUnavailable):
        guard.verify(pingone_mock.issue_token())


def test_shared_http_client_never_keeps_cookies() -> None:
    import httpx

    from p1guard._http.transport import Transport

    transport = Transport()
    answer = httpx.Response(
        200,
        headers={"set-cookie": "ST=one-users-session; Path=/"},
        request=httpx.Request("GET", "https://auth.pingone.com/env/as/authorize"),
    )
    transport.client.cookies.extract_cookies(answer)
    assert dict(transport.client.cookies) == {}
    transport.close()


@pytest.mark.parametrize("url", ["http://evil\t@127.0.0.1:9/x", "http://exa mple.com:9/x"])
async def test_url_httpx_refuses_is_a_503_not_a_crash(url: str) -> None:
    """httpx.InvalidURL is no httpx.HTTPError: it escaped the transport as a 500."""
    from p1guard import PingOne

    pingone = PingOne(issuer="http://127.0.0.1:9/as")
    request = Request("GET", url, "flows")
    try:
        with pytest.raises(ProviderUnavailable):
            pingone.transport.send(request)
        with pytest.raises(ProviderUnavailable):
            await pingone.transport.asend(request)
    finally:
        await pingone.aclose()
        pingone.close()
