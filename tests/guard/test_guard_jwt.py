"""Guard in JWT mode against a live MockPingOne over real HTTP."""

from __future__ import annotations

import asyncio
import time

import pytest

from p1guard import (
    AccessToken,
    ConfigError,
    Guard,
    InsufficientScope,
    InvalidToken,
    MissingToken,
    PingOne,
)
from p1guard.testing import MockPingOne


def test_valid_token_returns_access_token(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard()
    token = guard.verify(pingone_mock.issue_token(["read", "write"], sub="alice"), scopes=["read"])
    assert isinstance(token, AccessToken)
    assert token.subject == "alice"
    assert token.client_id == pingone_mock.client_id
    assert token.scopes == {"read", "write"}
    assert token.audience == (pingone_mock.audience,)
    assert token.expires_at is not None
    assert token.source == "jwt"
    assert token.claims["iss"] == pingone_mock.issuer


async def test_averify_is_the_async_twin(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard()
    token = await guard.averify(pingone_mock.issue_token(["read"]), scopes="read")
    assert token.scopes == {"read"}
    with pytest.raises(InsufficientScope):
        await guard.averify(pingone_mock.issue_token(["read"]), scopes="write")
    await guard.aclose()


def test_client_credentials_token_has_no_subject(pingone_mock: MockPingOne) -> None:
    token = pingone_mock.guard().verify(pingone_mock.issue_token(["read"], sub=None))
    assert token.subject is None
    assert token.client_id == pingone_mock.client_id


@pytest.mark.parametrize("alg", ["RS256", "PS256", "ES256", "ES384", "EdDSA"])
def test_every_asymmetric_algorithm(pingone_mock: MockPingOne, alg: str) -> None:
    token = pingone_mock.issue_token(["read"], alg=alg)
    assert pingone_mock.guard().verify(token).scopes == {"read"}


def test_scope_match_all_and_any(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard()
    raw = pingone_mock.issue_token(["read"])
    with pytest.raises(InsufficientScope) as info:
        guard.verify(raw, scopes=["read", "write"])
    assert info.value.missing == ("write",)
    assert info.value.status_code == 403
    assert 'scope="read write"' in info.value.www_authenticate
    assert guard.verify(raw, scopes=["write", "read"], match="any").scopes == {"read"}
    with pytest.raises(InsufficientScope):
        guard.verify(raw, scopes=["admin", "write"], match="any")
    with pytest.raises(ConfigError, match="match"):
        guard.verify(raw, scopes=["read"], match="some")  # type: ignore[arg-type]


@pytest.mark.parametrize("raw", [None, ""])
def test_missing_token(pingone_mock: MockPingOne, raw: str | None) -> None:
    guard = pingone_mock.guard(realm="api")
    with pytest.raises(MissingToken) as info:
        guard.verify(raw)
    assert info.value.www_authenticate == 'Bearer realm="api"'


def test_repeat_is_served_from_cache(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard()
    raw = pingone_mock.issue_token(["read"])
    first = guard.verify(raw)
    pingone_mock.stop()  # nothing needs PingOne now
    assert guard.verify(raw, scopes=["read"]) is first


def test_cached_token_dropped_at_exp(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard(leeway=0)
    # exp = int(now) + 2 lies more than a second ahead (expires_in=1 could be past already
    # when issued late in a second); then wait until just after exp itself.
    raw = pingone_mock.issue_token(["read"], expires_in=2)
    access = guard.verify(raw)
    assert access.exp is not None
    time.sleep(max(0.0, access.exp - time.time()) + 0.05)
    with pytest.raises(InvalidToken) as info:
        guard.verify(raw)
    assert info.value.reason == "expired"


def test_opaque_token_refused_in_jwt_mode(pingone_mock: MockPingOne) -> None:
    with pytest.raises(InvalidToken) as info:
        pingone_mock.guard().verify(pingone_mock.issue_token(opaque=True))
    assert info.value.reason == "malformed"
    assert pingone_mock.calls["introspect"] == 0


def test_new_kid_picked_up_after_rotation_without_restart(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard(pingone=pingone_mock.pingone(jwks_cooldown=0.2))
    old = pingone_mock.issue_token(["read"])
    guard.verify(old)
    pingone_mock.rotate_keys()
    time.sleep(0.25)
    new = pingone_mock.issue_token(["read"])
    assert guard.verify(new).scopes == {"read"}
    assert guard.verify(old).scopes == {"read"}  # old key still published
    assert pingone_mock.calls["jwks"] == 2


def test_unknown_kid_storm_costs_one_fetch_per_cooldown(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard()
    guard.verify(pingone_mock.issue_token())
    for i in range(300):
        with pytest.raises(InvalidToken) as info:
            guard.verify(pingone_mock.issue_token(kid=f"random-{i}"))
        assert info.value.reason in ("unknown_kid", "bad_signature")
    # The start-up fetch found its kid and starts no cooldown; the storm's first fetch does.
    assert pingone_mock.calls["jwks"] == 2


async def test_concurrent_first_requests_share_one_jwks_fetch(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard()
    tokens = [pingone_mock.issue_token(["read"]) for _ in range(50)]
    results = await asyncio.gather(*(guard.averify(t) for t in tokens))
    assert len(results) == 50
    assert pingone_mock.calls["jwks"] == 1
    assert pingone_mock.calls["discovery"] == 1
    await guard.aclose()


def test_custom_resource_credentials_required_for_introspection(pingone_mock: MockPingOne) -> None:
    pingone = pingone_mock.pingone()
    with pytest.raises(ConfigError) as info:
        Guard(pingone, audience="https://api.example.com", mode="introspect")
    assert info.value.field == "client_id"
    guard = Guard(pingone, audience="https://api.example.com")
    with pytest.raises(ConfigError, match="check_revocation"):
        guard.verify("x.y.z", check_revocation=True)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"mode": "magic"}, "mode"),
        ({"audience": ""}, "audience"),
        ({"audience": []}, "audience"),
        ({"algorithms": ["HS256"]}, "algorithms"),
        ({"max_token_size": 10}, "max_token_size"),
        ({"cache_size": -1}, "cache_size"),
        ({"client_secret": "s"}, "client_id"),
        ({"leeway": -5}, "leeway"),
    ],
)
def test_guard_config_errors_name_the_field(kwargs: dict[str, object], field: str) -> None:
    pingone = PingOne(issuer="https://login.example.com/as")
    args: dict[str, object] = {"audience": "https://api.example.com", **kwargs}
    with pytest.raises(ConfigError) as info:
        Guard(pingone, **args)  # type: ignore[arg-type]
    assert info.value.field == field


def test_threads_share_one_jwks_fetch(pingone_mock: MockPingOne) -> None:
    from concurrent.futures import ThreadPoolExecutor

    guard = pingone_mock.guard()
    tokens = [pingone_mock.issue_token(["read"]) for _ in range(40)]
    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(guard.verify, tokens))
    assert {r.scopes for r in results} == {frozenset({"read"})}
    assert pingone_mock.calls["jwks"] == 1
    assert pingone_mock.calls["discovery"] == 1
