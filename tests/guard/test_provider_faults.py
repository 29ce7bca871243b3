"""PingOne misbehaving: cached answers keep serving within bounds, otherwise 503 — never a pass."""

from __future__ import annotations

import pytest

from p1guard import InvalidToken, ProviderUnavailable
from p1guard.testing import MockPingOne


def unavailable(call: object) -> ProviderUnavailable:
    with pytest.raises(ProviderUnavailable) as info:
        call()  # type: ignore[operator]
    err = info.value
    assert err.status_code == 503
    assert int(err.headers["Retry-After"]) >= 1
    return err


def test_provider_down_before_first_use_is_503(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard()
    token = pingone_mock.issue_token()
    pingone_mock.stop()
    unavailable(lambda: guard.verify(token))


@pytest.mark.parametrize("mode", ["down", "error", "garbage", "truncated", "ratelimit"])
def test_jwks_faults_on_first_fetch_are_503(pingone_mock: MockPingOne, mode: str) -> None:
    guard = pingone_mock.guard()
    pingone_mock.fail("jwks", mode)  # type: ignore[arg-type]
    unavailable(lambda: guard.verify(pingone_mock.issue_token()))


def test_ratelimit_retry_after_is_honoured(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard()
    pingone_mock.fail("jwks", "ratelimit", retry_after=7)
    err = unavailable(lambda: guard.verify(pingone_mock.issue_token()))
    assert err.headers["Retry-After"] == "7"


def test_empty_key_set_is_503(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard()
    pingone_mock.fail("jwks", "empty_keys")
    unavailable(lambda: guard.verify(pingone_mock.issue_token()))


def test_slow_jwks_beyond_timeout_is_503(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard(pingone=pingone_mock.pingone(timeout=0.3))
    pingone_mock.fail("jwks", "slow", delay=1.0)
    err = unavailable(lambda: guard.verify(pingone_mock.issue_token()))
    assert err.reason == "jwks_unavailable"


def test_known_keys_keep_serving_while_jwks_is_down(pingone_mock: MockPingOne) -> None:
    pingone = pingone_mock.pingone(jwks_max_age=1, jwks_cooldown=0)
    guard = pingone_mock.guard(pingone=pingone)
    guard.verify(pingone_mock.issue_token())
    pingone_mock.fail("jwks", "down")
    pingone.jwks.fetched_at -= 5  # the key set is now past max_age: a refresh is due
    assert guard.verify(pingone_mock.issue_token(["read"])).scopes == {"read"}
    # an unknown kid cannot be trusted while the key set cannot be fetched
    pingone_mock.rotate_keys()
    err = unavailable(lambda: guard.verify(pingone_mock.issue_token()))
    assert err.reason in ("jwks_unavailable", "jwks_unreachable")


def test_discovery_with_wrong_issuer_is_503(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard()
    pingone_mock.fail("discovery", "wrong_issuer")
    err = unavailable(lambda: guard.verify(pingone_mock.issue_token()))
    assert err.reason == "discovery_issuer_mismatch"


def test_discovery_failure_backs_off(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard()
    pingone_mock.fail("discovery", "error")
    for _ in range(20):
        unavailable(lambda: guard.verify(pingone_mock.issue_token()))
    assert pingone_mock.calls["discovery"] == 2  # one request, retried once, then backoff


def test_recovery_is_automatic(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard()
    pingone_mock.fail("jwks", "error", times=2)  # the request and its one retry
    unavailable(lambda: guard.verify(pingone_mock.issue_token()))
    guard.pingone.jwks.backoff.retry_at = 0  # skip the backoff wait instead of sleeping
    assert guard.verify(pingone_mock.issue_token()).scopes == {"read"}


@pytest.mark.parametrize("mode", ["down", "error", "garbage", "truncated", "ratelimit"])
def test_introspection_down_uncached_is_503(pingone_mock: MockPingOne, mode: str) -> None:
    guard = pingone_mock.guard(mode="introspect")
    pingone_mock.fail("introspect", mode)  # type: ignore[arg-type]
    unavailable(lambda: guard.verify(pingone_mock.issue_token(opaque=True)))


def test_introspection_down_cached_answers_keep_serving(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard(mode="introspect")
    active = pingone_mock.issue_token(opaque=True)
    guard.verify(active)
    with pytest.raises(InvalidToken):
        guard.verify("unknown-token")
    pingone_mock.fail("introspect", "down")
    assert guard.verify(active).source == "introspection"
    with pytest.raises(InvalidToken):  # the negative answer is cached too
        guard.verify("unknown-token")
    unavailable(lambda: guard.verify(pingone_mock.issue_token(opaque=True)))


def test_slow_introspection_is_503(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard(mode="introspect", pingone=pingone_mock.pingone(timeout=0.3))
    pingone_mock.fail("introspect", "slow", delay=1.0)
    unavailable(lambda: guard.verify(pingone_mock.issue_token(opaque=True)))


async def test_async_faults_are_503_too(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard(mode="introspect")
    pingone_mock.fail("introspect", "down")
    with pytest.raises(ProviderUnavailable):
        await guard.averify(pingone_mock.issue_token(opaque=True))
    await guard.aclose()


def test_one_transient_failure_is_retried(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard()
    pingone_mock.fail("jwks", "down", times=1)
    assert guard.verify(pingone_mock.issue_token()).scopes == {"read"}
    assert pingone_mock.calls["jwks"] == 2


def test_ratelimit_is_not_retried(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard(mode="introspect")
    pingone_mock.fail("introspect", "ratelimit", retry_after=3)
    err = unavailable(lambda: guard.verify(pingone_mock.issue_token(opaque=True)))
    assert err.headers["Retry-After"] == "3"
    assert pingone_mock.calls["introspect"] == 1


def test_breaker_stops_hammering_a_failing_endpoint(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard(mode="introspect")
    guard.verify(pingone_mock.issue_token(opaque=True))  # discovery cached
    pingone_mock.fail("introspect", "error")
    for _ in range(20):
        err = unavailable(lambda: guard.verify(pingone_mock.issue_token(opaque=True)))
    assert err.reason == "introspection_circuit_open"
    assert pingone_mock.calls["introspect"] <= 1 + 3  # the success, then 3 failures at most


def test_breaker_recovers_automatically(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard(mode="introspect")
    guard.verify(pingone_mock.issue_token(opaque=True))
    pingone_mock.fail("introspect", "error")
    for _ in range(4):
        unavailable(lambda: guard.verify(pingone_mock.issue_token(opaque=True)))
    pingone_mock.clear_faults()
    breaker = guard.pingone.transport._breakers["introspection"]
    breaker.backoff.retry_at = 0  # the wait is over (instead of sleeping through it)
    assert guard.verify(pingone_mock.issue_token(opaque=True)).source == "introspection"
    assert breaker.failures == 0
