"""Introspection answers that must not pass, over real HTTP to MockPingOne.

* A PingOne (or a proxy in front of it) whose clock runs ahead answers ``active: true`` for a
  token whose ``nbf`` or ``iat`` lies in this API's future: the token is not valid here yet.
* ``token_type: DPoP`` without ``cnf.jkt`` names no key to check: treating it as a bearer
  token would strip the sender constraint PingOne says the token has.

Each refusal is a typed InvalidToken with its own ``reason``, cached like other refusals
(``negative_ttl``): repeating the token does not call PingOne again.
"""

from __future__ import annotations

import time

import pytest

from p1guard import InvalidToken
from p1guard.testing import MockPingOne


def _refused_twice(op: MockPingOne, token: str, **guard_kwargs: object) -> InvalidToken:
    guard = op.guard(mode="introspect", leeway=30, **guard_kwargs)
    op.reset_calls()
    errors = []
    for _ in range(2):
        with pytest.raises(InvalidToken) as info:
            guard.verify(token)
        errors.append(info.value)
    assert op.calls["introspect"] == 1  # the refusal is cached
    assert errors[0].reason == errors[1].reason
    return errors[0]


def test_introspection_answer_issued_in_the_future_is_refused(pingone_mock: MockPingOne) -> None:
    pingone_mock.clock_skew = 600  # PingOne's clock ten minutes ahead
    token = pingone_mock.issue_token(opaque=True)
    assert pingone_mock.introspect(token)["active"] is True
    err = _refused_twice(pingone_mock, token)
    assert err.reason == "issued_in_future"
    assert err.status_code == 401 and err.error == "invalid_token"
    assert 590 <= int(err.detail["skew_seconds"]) <= 610  # type: ignore[call-overload]


def test_introspection_answer_not_yet_valid_is_refused(pingone_mock: MockPingOne) -> None:
    pingone_mock.clock_skew = 900
    token = pingone_mock.issue_token(
        opaque=True, issued_at=time.time(), not_before=time.time() + 600
    )
    assert pingone_mock.introspect(token)["active"] is True  # PingOne thinks it is valid
    err = _refused_twice(pingone_mock, token)
    assert err.reason == "not_yet_valid"


def test_introspection_times_within_leeway_pass(pingone_mock: MockPingOne) -> None:
    pingone_mock.clock_skew = 10  # less than the 30 s leeway
    token = pingone_mock.issue_token(opaque=True, not_before=time.time() + 10)
    guard = pingone_mock.guard(mode="introspect", leeway=30)
    assert guard.verify(token).source == "introspection"


@pytest.mark.parametrize("value", ["soon", True, 1e300, [1]])
def test_introspection_answer_with_malformed_iat_is_refused(
    pingone_mock: MockPingOne, value: object
) -> None:
    token = pingone_mock.issue_token(opaque=True, claims={"iat": value})
    guard = pingone_mock.guard(mode="introspect")
    with pytest.raises(InvalidToken) as info:
        guard.verify(token)
    assert info.value.reason == "bad_iat"


@pytest.mark.parametrize("token_type", ["DPoP", "dpop", "DPOP"])
@pytest.mark.parametrize("cnf", [None, {}, {"x5t#S256": "abc"}, {"jkt": ""}, "jkt"])
def test_introspected_dpop_token_without_cnf_is_refused(
    pingone_mock: MockPingOne, token_type: str, cnf: object
) -> None:
    token = pingone_mock.issue_token(opaque=True, claims={"token_type": token_type, "cnf": cnf})
    answer = pingone_mock.introspect(token)
    assert answer["active"] is True and answer["token_type"] == token_type
    err = _refused_twice(pingone_mock, token)
    assert err.reason == "dpop_without_cnf"
