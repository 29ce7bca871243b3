"""Revocation (``Guard.deny``) against the attacks found from outside: respelled tokens,
forgotten denials, and a shared denylist that failed open. Real MockPingOne, real Redis."""

from __future__ import annotations

import base64
import json
import logging
import subprocess
import time
from typing import Any

import pytest

from p1guard import DenylistFull, Guard, InvalidToken, ProviderUnavailable
from p1guard._tokens.revocation import LONGEST_LIFETIME, denial_until, revocation_id
from p1guard._tokens.shared_cache import RedisCache
from p1guard.testing import MockPingOne

# P-256 group order: (r, n - s) is the other valid spelling of an ES256 signature (r, s).
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def respellings(segment: str) -> list[str]:
    """Every other spelling of ``segment`` that a lenient decoder reads as the same bytes."""
    unused = {2: 4, 3: 2}.get(len(segment) % 4, 0)
    if not unused:
        return []
    value = ALPHABET.index(segment[-1])
    base = value & ~((1 << unused) - 1)
    return [
        segment[:-1] + ALPHABET[base | low] for low in range(1 << unused) if base | low != value
    ]


def respelled(token: str, index: int = 2) -> str:
    parts = token.split(".")
    parts[index] = respellings(parts[index])[0]
    return ".".join(parts)


def high_s(token: str) -> str:
    """The ES256 token with its signature's ``s`` replaced by ``n - s``: it still verifies."""
    header, payload, signature = token.split(".")
    raw = unb64(signature)
    r, s = raw[:32], int.from_bytes(raw[32:], "big")
    return f"{header}.{payload}.{b64(r + (P256_N - s).to_bytes(32, 'big'))}"


def refused(guard: Guard, token: str) -> InvalidToken:
    with pytest.raises(InvalidToken) as info:
        guard.verify(token)
    assert info.value.status_code == 401
    assert 'error="invalid_token"' in info.value.www_authenticate
    return info.value


def signature_length_with_unused_bits(op: MockPingOne) -> str:
    # RS256-2048: 256 bytes → 342 characters (342 % 4 == 2: four unused bits).
    token = op.issue_token()
    assert len(token.split(".")[2]) % 4 in (2, 3)
    return token


# -- 1. every spelling -------------------------------------------------------------------------


def token_with_unused_bits(op: MockPingOne, segment: int) -> str:
    """A token whose ``segment`` has a length with unused bits (not a multiple of 4)."""
    for pad in range(8):
        token = op.issue_token(
            header={"pad": "x" * pad} if segment == 0 else None,
            claims={"pad": "x" * pad} if segment == 1 else None,
        )
        if len(token.split(".")[segment]) % 4 in (2, 3):
            return token
    raise AssertionError("no padding gave unused bits")


@pytest.mark.parametrize("segment", [0, 1, 2], ids=["header", "payload", "signature"])
def test_non_canonical_base64url_in_any_segment_is_refused(
    pingone_mock: MockPingOne, segment: int
) -> None:
    guard = pingone_mock.guard()
    token = token_with_unused_bits(pingone_mock, segment)
    guard.verify(token)  # keys cached: the refusal is the shape check's, not a fetch's
    parts = token.split(".")
    spellings = respellings(parts[segment])
    assert spellings
    for spelling in spellings:
        other = list(parts)
        other[segment] = spelling
        assert refused(guard, ".".join(other)).reason == "non_canonical_base64url"


def test_respelled_signature_cannot_pass_a_denial(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard()
    token = signature_length_with_unused_bits(pingone_mock)
    guard.verify(token)
    guard.deny(token)
    signature = token.split(".")[2]
    spellings = respellings(signature)
    assert len(spellings) == 15  # the 15 other spellings of an RS256-2048 signature
    for spelling in spellings:
        other = token.rsplit(".", 1)[0] + "." + spelling
        assert refused(guard, other).reason in {"non_canonical_base64url", "denied"}
    assert refused(guard, token).reason == "denied"


def test_denying_a_respelled_copy_denies_the_token(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard()
    token = signature_length_with_unused_bits(pingone_mock)
    guard.verify(token)
    guard.deny(respelled(token))  # e.g. the copy a client presented at sign-out
    assert refused(guard, token).reason == "denied"


def test_high_s_ecdsa_signature_is_accepted(pingone_mock: MockPingOne) -> None:
    # Honest signers produce high-s signatures half the time: they must not be refused.
    guard = pingone_mock.guard()
    token = pingone_mock.issue_token(alg="ES256")
    assert guard.verify(high_s(token)).subject == "user-1"


@pytest.mark.parametrize("with_jti", [True, False], ids=["jti", "no_jti"])
def test_high_s_respelling_cannot_pass_a_denial(pingone_mock: MockPingOne, with_jti: bool) -> None:
    guard = pingone_mock.guard()
    token = pingone_mock.issue_token(alg="ES256", claims=None if with_jti else {"jti": None})
    twin = high_s(token)
    guard.verify(token)
    guard.verify(twin)  # both spellings verified and cached before the sign-out
    guard.deny(token)
    assert refused(guard, twin).reason == "denied"
    assert refused(guard, token).reason == "denied"
    other = pingone_mock.guard()
    other.deny(twin)  # denying the other spelling denies the original too
    assert refused(other, token).reason == "denied"


def test_denial_names_the_token_not_its_spelling() -> None:
    header = b64(b'{"alg":"ES256","kid":"k"}')
    payload = b64(b'{"sub":"u"}')  # no iss/jti: the canonical signature names the token
    raw = bytes(range(32)) + (P256_N - 5).to_bytes(32, "big")
    low = bytes(range(32)) + (5).to_bytes(32, "big")
    assert revocation_id(f"{header}.{payload}.{b64(raw)}") == revocation_id(
        f"{header}.{payload}.{b64(low)}"
    )
    # Another issuer's token with the same jti is another token.
    from_a = b64(b'{"iss":"https://a","jti":"1"}')
    from_b = b64(b'{"iss":"https://b","jti":"1"}')
    assert revocation_id(f"{header}.{from_a}.{b64(low)}") != revocation_id(
        f"{header}.{from_b}.{b64(low)}"
    )


# -- 2. denials are never forgotten ------------------------------------------------------------


def test_denials_survive_a_cache_of_size_zero(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard(cache_size=0)
    a, b = pingone_mock.issue_token(), pingone_mock.issue_token()
    guard.deny(a)
    guard.deny(b)
    assert refused(guard, a).reason == "denied"
    assert refused(guard, b).reason == "denied"


def test_later_sign_outs_do_not_revive_the_oldest_denial(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard(cache_size=5)
    first = pingone_mock.issue_token()
    guard.verify(first)
    guard.deny(first)
    for _ in range(20):  # four times the verified-token cache
        other = pingone_mock.issue_token()
        guard.verify(other)
        guard.deny(other)
    assert refused(guard, first).reason == "denied"


def test_denial_of_a_never_verified_token_lasts_until_its_exp(pingone_mock: MockPingOne) -> None:
    thirty_days = 30 * 86400
    token = pingone_mock.issue_token(expires_in=thirty_days)
    guard = pingone_mock.guard()
    guard.deny(token)  # this worker never verified it: deny() does, then records
    (until,) = guard._denials.store._until.values()
    exp = time.time() + thirty_days
    assert exp + 25 <= until <= exp + 31  # exp plus leeway (30 s), not 24 hours
    assert refused(guard, token).reason == "denied"


def test_opaque_token_denial_lasts_the_longest_pingone_lifetime() -> None:
    until = denial_until(None, now=1000.0, leeway=30.0)
    assert until == 1000.0 + LONGEST_LIFETIME + 30.0


def forged_copy(victim: str, **claims: Any) -> str:
    """A token with the victim's header and its iss/jti, but no valid signature."""
    header, payload, _ = victim.split(".")
    victim_claims = json.loads(unb64(payload))
    forged = {"iss": victim_claims["iss"], "jti": victim_claims["jti"], **claims}
    return f"{header}.{b64(json.dumps(forged).encode())}.AAAA"


def test_a_forged_copy_cannot_deny_the_real_token(pingone_mock: MockPingOne) -> None:
    # The app denies what a client sent at sign-out; a client who saw a victim's token (its
    # iss and jti are readable) sends a forgery carrying them.
    guard = pingone_mock.guard()
    victim = pingone_mock.issue_token()
    guard.verify(victim)
    forged = forged_copy(victim, exp=int(time.time()) + 9 * 365 * 86400)
    assert refused(guard, forged).reason == "bad_signature"
    guard.deny(forged)  # refused by the Guard anyway: nothing is recorded
    assert len(guard._denials.store) == 0
    assert guard.verify(victim).subject == "user-1"


def test_forged_tokens_cannot_fill_the_denial_store(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard(denial_limit=5)
    victim = pingone_mock.issue_token()
    for number in range(50):
        guard.deny(forged_copy(victim, jti=f"junk-{number}", exp=int(time.time()) + 10**8))
    assert len(guard._denials.store) == 0
    real = pingone_mock.issue_token()
    guard.deny(real)  # sign-out still works
    assert refused(guard, real).reason == "denied"


def test_expired_or_foreign_tokens_are_not_recorded(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard()
    guard.deny(pingone_mock.issue_token(expires_in=-3600))
    guard.deny(pingone_mock.issue_token(audience="https://another-api.example.com"))
    guard.deny("not-a-token")
    assert len(guard._denials.store) == 0


def test_full_denial_store_refuses_loudly_and_forgets_nothing(
    pingone_mock: MockPingOne, caplog: pytest.LogCaptureFixture
) -> None:
    guard = pingone_mock.guard(denial_limit=2)
    kept = [pingone_mock.issue_token(), pingone_mock.issue_token()]
    for token in kept:
        guard.deny(token)
    extra = pingone_mock.issue_token()
    with caplog.at_level(logging.ERROR, logger="p1guard.guard"), pytest.raises(DenylistFull):
        guard.deny(extra)
    assert any("denylist full" in r.getMessage() for r in caplog.records)
    assert extra not in caplog.text
    for token in kept:
        assert refused(guard, token).reason == "denied"


def test_expired_denials_make_room(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard(denial_limit=1, leeway=0)
    short = pingone_mock.issue_token(expires_in=1)
    guard.deny(short)
    time.sleep(1.1)
    guard.deny(pingone_mock.issue_token())  # the first denial ended with its token


# -- 3. the shared denylist fails closed -------------------------------------------------------


def workers(op: MockPingOne, url: str, prefix: str, **options: Any) -> tuple[Guard, Guard]:
    def worker() -> Guard:
        return op.guard(shared_cache=RedisCache(url, prefix=prefix), denylist=True, **options)

    return worker(), worker()


def test_shared_denylist_fails_closed_when_redis_is_down(
    pingone_mock: MockPingOne, private_redis: tuple[str, subprocess.Popen[bytes]]
) -> None:
    url, process = private_redis
    a, b = workers(pingone_mock, url, "closed:")
    token = pingone_mock.issue_token()
    assert b.verify(token).subject == "user-1"
    a.deny(token)
    process.kill()
    process.wait(timeout=10)
    with pytest.raises(ProviderUnavailable) as info:
        b.verify(token)
    assert info.value.status_code == 503
    assert info.value.reason == "denylist_unavailable"
    assert "Retry-After" in info.value.headers
    with pytest.raises(ProviderUnavailable):  # a new token too: nobody can tell it is not denied
        b.verify(pingone_mock.issue_token())
    with pytest.raises(ProviderUnavailable) as write:
        b.deny(pingone_mock.issue_token())  # the denial would not reach the other workers
    assert write.value.reason == "denylist_unavailable"


async def test_shared_denylist_fails_closed_async(
    pingone_mock: MockPingOne, private_redis: tuple[str, subprocess.Popen[bytes]]
) -> None:
    url, process = private_redis
    _, b = workers(pingone_mock, url, "aclosed:")
    process.kill()
    process.wait(timeout=10)
    with pytest.raises(ProviderUnavailable) as info:
        await b.averify(pingone_mock.issue_token())
    assert info.value.reason == "denylist_unavailable"


def test_denylist_fail_open_is_an_explicit_opt_out(
    pingone_mock: MockPingOne, private_redis: tuple[str, subprocess.Popen[bytes]]
) -> None:
    url, process = private_redis
    a, b = workers(pingone_mock, url, "open:", denylist_fail_open=True)
    token = pingone_mock.issue_token()
    process.kill()
    process.wait(timeout=10)
    assert b.verify(token).subject == "user-1"  # documented: Redis down means not checked
    a.deny(token)  # no raise: the local denial still holds
    assert refused(a, token).reason == "denied"


def test_shared_denial_holds_against_a_respelling_on_another_worker(
    pingone_mock: MockPingOne, redis_server: str
) -> None:
    a, b = workers(pingone_mock, redis_server, "spell:")
    token = pingone_mock.issue_token(alg="ES256")
    b.verify(high_s(token))
    a.deny(token)
    assert refused(b, high_s(token)).reason == "denied"


def test_auto_mode_refuses_a_respelled_token_of_ours_locally(pingone_mock: MockPingOne) -> None:
    # Routing reads iss leniently: a non-canonical copy of our token is refused by the local
    # rules, never sent to introspection (where it would cost PingOne a call per spelling).
    guard = pingone_mock.guard(mode="auto")
    token = signature_length_with_unused_bits(pingone_mock)
    guard.verify(token)
    before = pingone_mock.calls["introspect"]
    assert refused(guard, respelled(token)).reason == "non_canonical_base64url"
    assert pingone_mock.calls["introspect"] == before
