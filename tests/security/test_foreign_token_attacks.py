"""Tokens of other issuers and other PingOne environments: refused for what they are, at no
cost to PingOne (no JWKS fetch), with expected vs. actual in the diagnostics."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

import pytest

from p1guard import Guard, InvalidToken
from p1guard.testing import MockPingOne


@pytest.fixture
def other_environment() -> Iterator[MockPingOne]:
    with MockPingOne() as op:
        yield op


def refused(guard: Guard, token: str) -> InvalidToken:
    with pytest.raises(InvalidToken) as info:
        guard.verify(token)
    assert info.value.status_code == 401
    return info.value


def test_foreign_issuer_is_wrong_issuer_without_a_jwks_fetch(
    pingone_mock: MockPingOne,
    other_environment: MockPingOne,
    caplog: pytest.LogCaptureFixture,
) -> None:
    guard = pingone_mock.guard()
    foreign = other_environment.issue_token(audience=pingone_mock.audience)
    with caplog.at_level(logging.INFO, logger="p1guard.guard"):
        error = refused(guard, foreign)
    assert error.reason == "wrong_issuer"
    assert error.detail == {"expected": [pingone_mock.issuer], "actual": other_environment.issuer}
    assert pingone_mock.calls["jwks"] == 0  # cold guard: not even the start-up fetch
    assert pingone_mock.calls["discovery"] == 0
    assert other_environment.calls["jwks"] == 0
    assert pingone_mock.issuer in caplog.text and other_environment.issuer in caplog.text


def test_foreign_tokens_never_cost_a_fetch_on_a_warm_guard(
    pingone_mock: MockPingOne, other_environment: MockPingOne
) -> None:
    guard = pingone_mock.guard()
    guard.verify(pingone_mock.issue_token())
    fetches = pingone_mock.calls["jwks"]
    for _ in range(20):  # each foreign kid is unknown here
        foreign = other_environment.issue_token(audience=pingone_mock.audience)
        assert refused(guard, foreign).reason == "wrong_issuer"
    assert pingone_mock.calls["jwks"] == fetches


async def test_foreign_issuer_async(
    pingone_mock: MockPingOne, other_environment: MockPingOne
) -> None:
    guard = pingone_mock.guard()
    with pytest.raises(InvalidToken) as info:
        await guard.averify(other_environment.issue_token(audience=pingone_mock.audience))
    assert info.value.reason == "wrong_issuer"
    assert pingone_mock.calls["jwks"] == 0


def test_token_for_another_environment_is_refused(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard()
    assert guard.policy.environment == pingone_mock.env_id  # read from the issuer's path
    other_env = str(uuid.uuid4())
    error = refused(guard, pingone_mock.issue_token(claims={"env": other_env}))
    assert error.reason == "wrong_environment"
    assert error.detail == {"expected": pingone_mock.env_id, "actual": other_env}
    assert refused(guard, pingone_mock.issue_token(claims={"env": 7})).reason == (
        "wrong_environment"
    )


def test_env_claim_matches_case_insensitively_and_may_be_absent(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard()
    assert guard.verify(pingone_mock.issue_token(claims={"env": pingone_mock.env_id.upper()}))
    assert guard.verify(pingone_mock.issue_token(claims={"env": None}))  # only some tokens have it
