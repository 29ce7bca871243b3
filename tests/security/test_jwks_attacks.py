"""Attacks through the key set and its cache (p1guard._tokens.keys rule 3, p1guard._tokens.jwks
rules 2 and 4),
each named after the attack, against a Guard fetching its keys from a live MockPingOne."""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm

from p1guard import Guard, InvalidToken, ProviderUnavailable
from p1guard._tokens.jwks import MAX_JWKS_BYTES
from p1guard._tokens.keys import MAX_JWKS_KEYS
from p1guard.testing import MockPingOne


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64int(number: int) -> str:
    return b64(number.to_bytes((number.bit_length() + 7) // 8, "big"))


def claims(op: MockPingOne) -> dict[str, Any]:
    now = int(time.time())
    return {"iss": op.issuer, "aud": op.audience, "sub": "user-1", "iat": now, "exp": now + 600}


def junk_token(kid: str, issuer: str) -> str:
    """A token of ``issuer`` naming ``kid`` with an RSA-2048-sized signature of zeros (a
    foreign issuer would be refused before any key lookup, so these name ours)."""
    header = b64(f'{{"alg":"RS256","kid":"{kid}","typ":"at+jwt"}}'.encode())
    payload = b64(f'{{"iss":"{issuer}"}}'.encode())
    return f"{header}.{payload}.{b64(bytes(256))}"


def refused(guard: Guard, token: str) -> str:
    with pytest.raises(InvalidToken) as info:
        guard.verify(token)
    assert info.value.status_code == 401
    return info.value.reason


def jwks_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("p1guard") and r.levelno >= logging.WARNING
    ]


class EcSigner:
    """An EC key the test holds, published by the mock under many ``kid`` values."""

    def __init__(self) -> None:
        self.private = ec.generate_private_key(ec.SECP256R1())
        self.jwk: dict[str, Any] = ECAlgorithm.to_jwk(self.private.public_key(), as_dict=True)

    def published(self, kid: str) -> dict[str, Any]:
        return {**self.jwk, "kid": kid, "use": "sig", "alg": "ES256"}

    def token(self, op: MockPingOne, kid: str) -> str:
        headers = {"kid": kid, "typ": "at+jwt"}
        return jwt.encode(claims(op), self.private, "ES256", headers=headers)


# -- key bounds (p1guard._tokens.keys rule 3) ------------------------------------------------------


def test_jwks_rsa_key_with_huge_exponent_is_ignored(
    pingone_mock: MockPingOne, caplog: pytest.LogCaptureFixture
) -> None:
    """A 2041-bit exponent made every junk token naming its kid cost ~60 times a normal check."""
    guard = pingone_mock.guard()
    guard.verify(pingone_mock.issue_token())  # warm: the keys are cached
    n = rsa.generate_private_key(65537, 2048).public_key().public_numbers().n
    huge_e = (1 << 2040) + 1
    pingone_mock.publish_raw_jwks(
        [{"kty": "RSA", "kid": "huge-e", "use": "sig", "alg": "RS256", "n": b64int(n),
          "e": b64int(huge_e)}]
    )  # fmt: skip
    caplog.clear()
    caplog.set_level(logging.INFO, logger="p1guard")
    for _ in range(20):
        assert refused(guard, junk_token("huge-e", pingone_mock.issuer)) == "unknown_kid"
    assert pingone_mock.calls["jwks"] == 2  # the unknown kid's one fetch, then the cooldown
    warnings = jwks_warnings(caplog)
    assert len(warnings) == 1, warnings  # one per fetch, not one per token or per key
    assert pingone_mock.jwks_uri in warnings[0]
    assert "'huge-e'" in warnings[0] and "exponent" in warnings[0]
    texts = " ".join(r.getMessage() for r in caplog.records)
    assert b64int(n)[:16] not in texts and b64int(huge_e)[:16] not in texts  # no key material
    assert guard.verify(pingone_mock.issue_token()).subject == "user-1"  # good keys still serve


def test_jwks_rsa_key_over_8192_bits_is_ignored(
    pingone_mock: MockPingOne, caplog: pytest.LogCaptureFixture
) -> None:
    guard = pingone_mock.guard()
    guard.verify(pingone_mock.issue_token())
    big = rsa.generate_private_key(65537, 2048).public_key().public_numbers().n
    modulus = (big << 6200) | 1  # 8248 bits, odd
    pingone_mock.publish_raw_jwks(
        [{"kty": "RSA", "kid": "big-n", "use": "sig", "n": b64int(modulus), "e": "AQAB"}]
    )
    caplog.set_level(logging.WARNING, logger="p1guard")
    assert refused(guard, junk_token("big-n", pingone_mock.issuer)) == "unknown_kid"
    warnings = jwks_warnings(caplog)
    assert len(warnings) == 1 and "over 8192 bits" in warnings[0], warnings


def test_jwks_with_too_many_keys_reads_only_the_cap(
    pingone_mock: MockPingOne, caplog: pytest.LogCaptureFixture
) -> None:
    """Hundreds of keys would be parsed, with six verifiers each, on every fetch."""
    signer = EcSigner()
    # The mock's own RS256 key is entry 1, so k0 … k98 are entries 2 … 100.
    pingone_mock.publish_raw_jwks([signer.published(f"k{i}") for i in range(150)])
    caplog.set_level(logging.WARNING, logger="p1guard")
    guard = pingone_mock.guard()
    assert guard.verify(signer.token(pingone_mock, f"k{MAX_JWKS_KEYS - 2}")).subject == "user-1"
    assert guard.verify(pingone_mock.issue_token()).subject == "user-1"
    assert refused(guard, signer.token(pingone_mock, f"k{MAX_JWKS_KEYS - 1}")) == "unknown_kid"
    assert refused(guard, signer.token(pingone_mock, "k149")) == "unknown_kid"
    assert pingone_mock.calls["jwks"] == 2  # the start-up fetch, then k99's one
    warnings = jwks_warnings(caplog)
    assert len(warnings) == 2, warnings  # one per fetch
    assert all(pingone_mock.jwks_uri in w and "51 key(s) past the first 100" in w for w in warnings)


def test_oversized_jwks_body_is_refused_and_cached_keys_keep_serving(
    pingone_mock: MockPingOne, caplog: pytest.LogCaptureFixture
) -> None:
    """A huge body would be read into memory and parsed in full, on every fetch."""
    guard = pingone_mock.guard(pingone=pingone_mock.pingone(jwks_max_age=1))
    guard.verify(pingone_mock.issue_token())
    signer = EcSigner()
    padding = {"kty": "oct", "kid": "padding", "x-padding": "A" * MAX_JWKS_BYTES}
    pingone_mock.publish_raw_jwks([signer.published("rotated-in"), padding])
    caplog.set_level(logging.WARNING, logger="p1guard")
    with pytest.raises(ProviderUnavailable) as info:
        guard.verify(signer.token(pingone_mock, "rotated-in"))  # its key is in the big body
    assert info.value.status_code == 503
    assert pingone_mock.calls["jwks"] == 2
    warnings = jwks_warnings(caplog)
    assert any(pingone_mock.jwks_uri in w and "more than 524288 bytes" in w for w in warnings)
    assert all("AAAAAAAA" not in w for w in warnings)
    # The keys fetched before keep verifying, also once their max age has passed.
    assert guard.verify(pingone_mock.issue_token()).subject == "user-1"
    time.sleep(1.1)
    assert guard.verify(pingone_mock.issue_token()).subject == "user-1"
    # Once the body is small again, the new key is fetched.
    pingone_mock.publish_raw_jwks([signer.published("rotated-in")])
    deadline = time.monotonic() + 10
    while True:
        try:
            assert guard.verify(signer.token(pingone_mock, "rotated-in")).subject == "user-1"
            break
        except ProviderUnavailable:  # the failed fetch's backoff (about a second)
            assert time.monotonic() < deadline
            time.sleep(0.2)


async def test_oversized_jwks_body_is_refused_by_the_async_client_too(
    pingone_mock: MockPingOne,
) -> None:
    guard = pingone_mock.guard()
    await guard.averify(pingone_mock.issue_token())
    padding = {"kty": "oct", "kid": "padding", "x-padding": "A" * MAX_JWKS_BYTES}
    pingone_mock.publish_raw_jwks([padding])
    with pytest.raises(ProviderUnavailable):
        await guard.averify(junk_token("new-kid", pingone_mock.issuer))
    assert (await guard.averify(pingone_mock.issue_token())).subject == "user-1"
    await guard.aclose()


# -- the unknown-kid cooldown (p1guard._tokens.jwks rule 2) ----------------------------------------


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
        assert refused(guard, junk_token(f"random-{i}", pingone_mock.issuer)) == "unknown_kid"
    assert pingone_mock.calls["jwks"] == 2  # start-up + the storm's one
    pingone_mock.rotate_keys()
    assert refused(guard, pingone_mock.issue_token()) == "unknown_kid"  # inside the window
    assert pingone_mock.calls["jwks"] == 2

    # Concurrently, on a cold guard: the storm joins the start-up fetch, then costs one more.
    pingone_mock.reset_calls()
    cold = pingone_mock.guard()
    good = [pingone_mock.issue_token() for _ in range(20)]
    junk = [junk_token(f"storm-{i}", pingone_mock.issuer) for i in range(400)]

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
