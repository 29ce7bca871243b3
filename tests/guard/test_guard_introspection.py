"""Guard with introspection (mode="introspect", "auto", check_revocation) over real HTTP."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from p1guard import InvalidToken
from p1guard.testing import MockPingOne


def test_opaque_token_introspected(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard(mode="introspect")
    token = guard.verify(pingone_mock.issue_token(["read"], sub="bob", opaque=True), scopes="read")
    assert token.source == "introspection"
    assert token.subject == "bob"
    assert token.scopes == {"read"}


def test_active_answer_is_cached(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard(mode="introspect")
    raw = pingone_mock.issue_token(opaque=True)
    for _ in range(5):
        guard.verify(raw)
    assert pingone_mock.calls["introspect"] == 1


def test_inactive_answer_is_negatively_cached(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard(mode="introspect")
    for _ in range(5):
        with pytest.raises(InvalidToken) as info:
            guard.verify("not-a-token-pingone-knows")
        assert info.value.reason == "inactive"
    assert pingone_mock.calls["introspect"] == 1


def test_revoked_token_refused_after_cache_ttl(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard(mode="introspect", introspection_ttl=0)
    raw = pingone_mock.issue_token(opaque=True)
    guard.verify(raw)
    pingone_mock.revoke(raw)
    with pytest.raises(InvalidToken):
        guard.verify(raw)


def test_wrong_audience_at_introspection(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard(mode="introspect")
    raw = pingone_mock.issue_token(opaque=True, audience="https://other.example.com")
    with pytest.raises(InvalidToken) as info:
        guard.verify(raw)
    assert info.value.reason == "wrong_audience"


async def test_200_concurrent_averify_make_one_introspection(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard(mode="introspect")
    raw = pingone_mock.issue_token(["read"], opaque=True)
    results = await asyncio.gather(*(guard.averify(raw, scopes=["read"]) for _ in range(200)))
    assert {r.subject for r in results} == {"user-1"}
    assert pingone_mock.calls["introspect"] == 1
    await guard.aclose()


def test_auto_mode_routes_by_token_shape(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard(mode="auto")
    assert guard.verify(pingone_mock.issue_token()).source == "jwt"
    assert pingone_mock.calls["introspect"] == 0
    assert guard.verify(pingone_mock.issue_token(opaque=True)).source == "introspection"
    assert pingone_mock.calls["introspect"] == 1


def test_auto_mode_foreign_jwt_goes_to_introspection(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard(mode="auto")
    foreign = pingone_mock.issue_token(claims={"iss": "https://elsewhere.example.com/as"})
    with pytest.raises(InvalidToken):
        guard.verify(foreign)
    assert pingone_mock.calls["introspect"] == 1


def test_check_revocation_refuses_revoked_jwt(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard(check_revocation=True, introspection_ttl=0)
    raw = pingone_mock.issue_token(["read"])
    assert guard.verify(raw).source == "jwt"
    pingone_mock.revoke(raw)
    with pytest.raises(InvalidToken) as info:
        guard.verify(raw)
    assert info.value.reason == "inactive"


def test_check_revocation_per_call(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard()
    raw = pingone_mock.issue_token(["read"])
    guard.verify(raw)
    pingone_mock.revoke(raw)
    assert guard.verify(raw).scopes == {"read"}  # plain JWT check cannot see revocation
    with pytest.raises(InvalidToken):
        guard.verify(raw, check_revocation=True)


def test_client_secret_post(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard(mode="introspect", auth_method="client_secret_post")
    assert guard.verify(pingone_mock.issue_token(opaque=True)).source == "introspection"


def test_private_key_jwt(pingone_mock: MockPingOne) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pingone_mock.register_client_key(pingone_mock.resource_id, key.public_key())
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    guard = pingone_mock.guard(mode="introspect", client_secret=None, private_key=pem)
    assert guard.verify(pingone_mock.issue_token(opaque=True)).source == "introspection"


def test_wrong_resource_secret_is_503_not_401(pingone_mock: MockPingOne) -> None:
    from p1guard import ProviderUnavailable

    guard = pingone_mock.guard(mode="introspect", client_secret="wrong")
    with pytest.raises(ProviderUnavailable):
        guard.verify(pingone_mock.issue_token(opaque=True))


@pytest.mark.parametrize(
    "answer",
    [
        {"active": "true", "aud": "https://api.example.com"},
        {"active": 1, "aud": "https://api.example.com"},
        {"aud": "https://api.example.com"},
        {"active": True, "aud": "https://api.example.com", "exp": "9999999999"},
        {"active": True},
        {"active": True, "aud": "https://api.example.com", "iss": "https://evil/as"},
        {"active": True, "aud": "https://api.example.com", "token_type": "refresh_token"},
        {"active": True, "aud": "https://api.example.com", "exp": 1000},
    ],
)
def test_suspicious_introspection_answers_fail_closed(answer: dict[str, Any]) -> None:
    from p1guard._tokens.introspection import IntrospectionPolicy, read_answer

    policy = IntrospectionPolicy(
        issuers=frozenset({"https://p1/as"}), audiences=frozenset({"https://api.example.com"})
    )
    result, _until = read_answer(answer, policy, now=2000.0, token_id="t")
    assert isinstance(result, InvalidToken)
