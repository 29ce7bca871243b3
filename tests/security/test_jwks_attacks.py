"""Attacks through the key cache (p1guard.jwks rule 2), each named after the attack, against
a Guard fetching its keys from a live MockPingOne."""

from __future__ import annotations

import asyncio
import base64

import jwt
import pytest

from p1guard import Guard, InvalidToken
from p1guard.testing import MockPingOne


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def junk_token(kid: str) -> str:
    """A token naming ``kid`` with a signature of the right size for RSA-2048, made of zeros."""
    header = b64(f'{{"alg":"RS256","kid":"{kid}","typ":"at+jwt"}}'.encode())
    return f"{header}.{b64(b'{}')}.{b64(bytes(256))}"


def refused(guard: Guard, token: str) -> str:
    with pytest.raises(InvalidToken) as info:
        guard.verify(token)
    assert info.value.status_code == 401
    return info.value.reason


# -- the unknown-kid cooldown (p1guard.jwks rule 2) -----------------------------------------


def test_key_rotated_in_right_after_start_up_is_accepted(pingone_mock: MockPingOne) -> None:
    """Every new worker's start-up fetch used to lock out a key PingOne starts using within
    the next 60 s: 401 unknown_kid for a minute on every new pod."""
    guard = pingone_mock.guard()  # default 60 s cooldown
    assert guard.verify(pingone_mock.issue_token()).subject == "user-1"  # the cold fetch
    assert pingone_mock.calls["jwks"] == 1
    new_kid = pingone_mock.rotate_keys()  # unannounced: the new key signs at once
    token = pingone_mock.issue_token()
    assert jwt.get_unverified_header(token)["kid"] == new_kid
    assert guard.verify(token).subject == "user-1"
    assert pingone_mock.calls["jwks"] == 2  # one more fetch
    # A fetch that found its new kid starts no cooldown either: the next rotation is fetched.
    pingone_mock.rotate_keys()
    assert guard.verify(pingone_mock.issue_token()).subject == "user-1"
    assert pingone_mock.calls["jwks"] == 3


def test_kid_storm_after_cold_start_still_costs_at_most_one_fetch_per_cooldown(
    pingone_mock: MockPingOne,
) -> None:
    """The start-up fetch is not charged to the storm: it costs exactly one fetch, then the
    cooldown refuses the rest, and a real key rotated in meanwhile waits for the window."""
    guard = pingone_mock.guard()
    guard.verify(pingone_mock.issue_token())
    for i in range(300):
        assert refused(guard, junk_token(f"random-{i}")) == "unknown_kid"
    assert pingone_mock.calls["jwks"] == 2  # start-up + the storm's one
    pingone_mock.rotate_keys()
    assert refused(guard, pingone_mock.issue_token()) == "unknown_kid"  # inside the window
    assert pingone_mock.calls["jwks"] == 2

    # Concurrently, on a cold guard: the storm joins the start-up fetch, then costs one more.
    pingone_mock.reset_calls()
    cold = pingone_mock.guard()
    good = [pingone_mock.issue_token() for _ in range(20)]
    junk = [junk_token(f"storm-{i}") for i in range(400)]

    async def storm() -> list[object]:
        first = await asyncio.gather(
            *(cold.averify(t) for t in [*good, *junk[:200]]), return_exceptions=True
        )
        second = await asyncio.gather(
            *(cold.averify(t) for t in junk[200:]), return_exceptions=True
        )
        await cold.aclose()
        return [*first, *second]

    results = asyncio.run(storm())
    assert all(not isinstance(r, BaseException) for r in results[:20])
    assert all(isinstance(r, InvalidToken) and r.reason == "unknown_kid" for r in results[20:])
    assert pingone_mock.calls["jwks"] <= 2
