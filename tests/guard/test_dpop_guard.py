"""Guard with sender-constrained tokens (DPoP, RFC 9449; mTLS, RFC 8705): the accepted paths,
challenges, nonces, the shared replay record, introspected bound tokens, metrics and settings,
against a live MockPingOne over real HTTP."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest
import redis

from p1guard import (
    AccessToken,
    AuthError,
    ConfigError,
    DPoPNonces,
    Guard,
    InsufficientScope,
    InvalidDPoPProof,
    InvalidToken,
    MissingToken,
    Presentation,
    UseDPoPNonce,
)
from p1guard._client.dpop_key import DPoPKey
from p1guard._observe.metrics import VERIFICATIONS
from p1guard._sender.binding import certificate_thumbprint
from p1guard._settings import guard_from_settings
from p1guard._tokens.shared_cache import RedisCache
from p1guard._web.resource_metadata import ResourceMetadata
from p1guard.testing import MockPingOne, client_certificate

URL = "https://api.example.com/orders"
SECRET = b"a-shared-nonce-secret-of-32-bytes"


def dpop_request(key: DPoPKey, token: str, method: str = "GET", url: str = URL) -> Presentation:
    return Presentation("DPoP", method, url, (key.proof(method, url, access_token=token),))


def self_signed_der(name: str = "client") -> bytes:
    return client_certificate(name).der


def test_dpop_bound_token_with_its_proof_is_accepted(pingone_mock: MockPingOne) -> None:
    key = DPoPKey.generate()
    token = pingone_mock.issue_token(["read"], claims={"cnf": {"jkt": key.thumbprint}})
    access = pingone_mock.guard().verify(
        token, scopes=["read"], presentation=dpop_request(key, token)
    )
    assert isinstance(access, AccessToken)
    assert access.claims["cnf"] == {"jkt": key.thumbprint}


async def test_dpop_bound_token_async_twin(pingone_mock: MockPingOne) -> None:
    key = DPoPKey.generate("ES384")
    token = pingone_mock.issue_token(["read"], dpop_jkt=key.thumbprint)
    guard = pingone_mock.guard()
    access = await guard.averify(token, presentation=dpop_request(key, token, "POST"))
    assert access.subject == "user-1"
    await guard.aclose()


def test_cache_hit_still_checks_each_proof(pingone_mock: MockPingOne) -> None:
    key = DPoPKey.generate()
    token = pingone_mock.issue_token(dpop_jkt=key.thumbprint)
    guard = pingone_mock.guard()
    guard.verify(token, presentation=dpop_request(key, token))
    guard.verify(token, presentation=dpop_request(key, token))  # a new proof: accepted
    # The token is now served from the verified-token cache; a bad proof still fails.
    with pytest.raises(InvalidDPoPProof) as refused:
        guard.verify(token, presentation=Presentation("DPoP", "GET", URL, ()))
    assert refused.value.reason == "dpop_proof_missing"
    with pytest.raises(InvalidToken) as unbound:
        guard.verify(token)
    assert unbound.value.reason == "dpop_binding_unchecked"


def test_dpop_request_errors_use_the_dpop_challenge(pingone_mock: MockPingOne) -> None:
    key = DPoPKey.generate()
    token = pingone_mock.issue_token(["read"], dpop_jkt=key.thumbprint)
    guard = pingone_mock.guard(realm="api", dpop_algorithms=["ES256", "PS256"])
    with pytest.raises(InsufficientScope) as forbidden:
        guard.verify(token, scopes=["write"], presentation=dpop_request(key, token))
    assert forbidden.value.status_code == 403
    assert forbidden.value.www_authenticate == (
        'DPoP realm="api", error="insufficient_scope", error_description="The access token '
        'lacks the scope: write", scope="write", algs="ES256 PS256"'
    )


def test_bearer_challenges_stay_unchanged_when_dpop_is_only_allowed(
    pingone_mock: MockPingOne,
) -> None:
    guard = pingone_mock.guard(realm="api")
    with pytest.raises(MissingToken) as missing:
        guard.verify(None)
    assert missing.value.www_authenticate == 'Bearer realm="api"'


def test_dpop_challenge_option_offers_both_schemes(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard(realm="api", dpop_challenge=True, dpop_algorithms=["ES256"])
    with pytest.raises(MissingToken) as missing:
        guard.verify(None)
    assert missing.value.www_authenticate == 'Bearer realm="api", DPoP algs="ES256"'
    with pytest.raises(InvalidToken) as bad:
        guard.verify("not.a.jwt")
    assert bad.value.www_authenticate.endswith(', DPoP algs="ES256"')
    assert bad.value.www_authenticate.startswith('Bearer realm="api", error="invalid_token"')


def test_guard_challenge_for_errors_raised_before_the_guard(pingone_mock: MockPingOne) -> None:
    required = pingone_mock.guard(dpop="required", dpop_algorithms=["ES256", "EdDSA"])
    assert required.challenge(MissingToken()).www_authenticate == 'DPoP algs="ES256 EdDSA"'
    allowed = pingone_mock.guard(realm="api")
    assert allowed.challenge(MissingToken()).www_authenticate == 'Bearer realm="api"'
    dpop_scheme = allowed.challenge(MissingToken(), "DPoP").www_authenticate
    assert dpop_scheme.startswith(
        'DPoP realm="api", algs="ES256 ES384 ES512 Ed25519 Ed448 EdDSA PS256'
    )
    disabled = pingone_mock.guard(dpop="disabled", dpop_challenge=True)
    assert disabled.challenge(MissingToken(), "DPoP").www_authenticate == "Bearer"


def test_bearer_tokens_unaffected_with_a_bearer_presentation(pingone_mock: MockPingOne) -> None:
    token = pingone_mock.issue_token(["read"])
    guard = pingone_mock.guard()
    bearer = Presentation("Bearer", "GET", URL)
    assert guard.verify(token, presentation=bearer).scopes == {"read"}
    assert guard.verify(token, presentation=bearer).scopes == {"read"}  # cache hit


def test_nonce_round_trip(pingone_mock: MockPingOne) -> None:
    key = DPoPKey.generate()
    token = pingone_mock.issue_token(dpop_jkt=key.thumbprint)
    guard = pingone_mock.guard(dpop_nonces=DPoPNonces(SECRET))
    with pytest.raises(UseDPoPNonce) as asked:
        guard.verify(token, presentation=dpop_request(key, token))
    err = asked.value
    assert err.status_code == 401
    assert err.www_authenticate.startswith('DPoP error="use_dpop_nonce"')
    nonce = err.headers["DPoP-Nonce"]
    assert guard.dpop_nonce() == nonce
    proof = key.proof("GET", URL, access_token=token, nonce=nonce)
    assert guard.verify(token, presentation=Presentation("DPoP", "GET", URL, (proof,)))


def test_nonces_from_one_worker_are_accepted_by_another(pingone_mock: MockPingOne) -> None:
    key = DPoPKey.generate()
    token = pingone_mock.issue_token(dpop_jkt=key.thumbprint)
    first = pingone_mock.guard(dpop_nonces=DPoPNonces(SECRET))
    second = pingone_mock.guard(dpop_nonces=DPoPNonces(SECRET))
    nonce = first.dpop_nonce()
    proof = key.proof("GET", URL, access_token=token, nonce=nonce)
    assert second.verify(token, presentation=Presentation("DPoP", "GET", URL, (proof,)))


def test_shared_replay_record_lives_in_redis(pingone_mock: MockPingOne, redis_server: str) -> None:
    key = DPoPKey.generate()
    token = pingone_mock.issue_token(dpop_jkt=key.thumbprint)
    guard = pingone_mock.guard(shared_cache=RedisCache(redis_server, prefix="dpop1:"))
    guard.verify(token, presentation=dpop_request(key, token))
    with redis.Redis.from_url(redis_server) as client:
        keys = set(client.keys("dpop1:dpop:*"))
        (tag,) = {name.split(b"}")[0] + b"}" for name in keys}  # one hash tag: one slot
        owner = tag + b":o:" + key.thumbprint.encode()
        assert keys == {tag + b":all", tag + b":owners", owner, tag + b":seq"}
        ttls = [client.pttl(name) for name in keys]
    # iat + window (60) + leeway (30) + 1 second, and a few seconds for workers' clocks
    assert all(60_000 < ttl <= 92_000 + 5_000 for ttl in ttls)


async def test_shared_replay_record_async(pingone_mock: MockPingOne, redis_server: str) -> None:
    key = DPoPKey.generate()
    token = pingone_mock.issue_token(dpop_jkt=key.thumbprint)
    cache = RedisCache(redis_server, prefix="dpop2:")
    guard = pingone_mock.guard(shared_cache=cache)
    presentation = dpop_request(key, token)
    assert await guard.averify(token, presentation=presentation)
    with pytest.raises(InvalidDPoPProof) as replayed:
        await guard.averify(token, presentation=presentation)
    assert replayed.value.reason == "dpop_replay"
    await cache.aclose()
    await guard.aclose()


def test_certificate_bound_token_with_its_certificate(pingone_mock: MockPingOne) -> None:
    der = self_signed_der()
    token = pingone_mock.issue_token(x5t_s256=certificate_thumbprint(der))
    presentation = Presentation("Bearer", "GET", URL, client_cert=der)
    access = pingone_mock.guard(mtls="required").verify(token, presentation=presentation)
    assert access.claims["cnf"] == {"x5t#S256": certificate_thumbprint(der)}


def test_token_bound_to_both_key_and_certificate(pingone_mock: MockPingOne) -> None:
    key, der = DPoPKey.generate(), self_signed_der()
    token = pingone_mock.issue_token(dpop_jkt=key.thumbprint, x5t_s256=certificate_thumbprint(der))
    proof = key.proof("GET", URL, access_token=token)
    both = Presentation("DPoP", "GET", URL, (proof,), client_cert=der)
    assert pingone_mock.guard().verify(token, presentation=both)


def test_introspected_dpop_token_follows_the_same_rules(pingone_mock: MockPingOne) -> None:
    key = DPoPKey.generate()
    token = pingone_mock.issue_token(["read"], opaque=True, dpop_jkt=key.thumbprint)
    guard = pingone_mock.guard(mode="introspect")
    access = guard.verify(token, presentation=dpop_request(key, token))
    assert access.source == "introspection"
    assert access.claims["cnf"] == {"jkt": key.thumbprint}
    with pytest.raises(InvalidToken) as as_bearer:
        guard.verify(token, presentation=Presentation("Bearer", "GET", URL))
    assert as_bearer.value.reason == "dpop_bound_as_bearer"


def test_refusals_are_counted_with_their_reason(pingone_mock: MockPingOne) -> None:
    counts: dict[tuple[str, tuple[tuple[str, str], ...]], float] = defaultdict(float)

    class Recorder:
        def count(self, name: str, value: float = 1.0, **labels: str) -> None:
            counts[(name, tuple(sorted(labels.items())))] += value

        def observe(self, name: str, value: float, **labels: str) -> None:
            pass

    key = DPoPKey.generate()
    token = pingone_mock.issue_token(dpop_jkt=key.thumbprint)
    guard = pingone_mock.guard(pingone=pingone_mock.pingone(metrics=Recorder()))
    presentation = dpop_request(key, token)
    guard.verify(token, presentation=presentation)
    with pytest.raises(AuthError):
        guard.verify(token, presentation=presentation)
    refused = (("outcome", "refused"), ("reason", "dpop_replay"), ("source", "cache"))
    assert counts[(VERIFICATIONS, refused)] == 1


def test_guard_options_are_validated(pingone_mock: MockPingOne) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"dpop": "sometimes"}, "dpop"),
        ({"mtls": "yes"}, "mtls"),
        ({"dpop_algorithms": ["HS256"]}, "dpop_algorithms"),
        ({"dpop_algorithms": ["none"]}, "dpop_algorithms"),
        ({"dpop_algorithms": []}, "dpop_algorithms"),
        ({"dpop_algorithms": "ES256"}, "dpop_algorithms"),
        ({"dpop_window": 0}, "dpop_window"),
        ({"dpop_nonces": "secret"}, "dpop_nonces"),
        ({"dpop_replay_size": 0}, "dpop_replay_size"),
    ]
    for options, field in cases:
        with pytest.raises(ConfigError) as info:
            pingone_mock.guard(**options)
        assert info.value.field == field, options
    with pytest.raises(ConfigError) as short:
        DPoPNonces(b"too short")
    assert short.value.field == "secret"


def test_presentation_without_url_is_a_developer_error(pingone_mock: MockPingOne) -> None:
    key = DPoPKey.generate()
    token = pingone_mock.issue_token(dpop_jkt=key.thumbprint)
    proof = key.proof("GET", URL, access_token=token)
    with pytest.raises(ConfigError) as info:
        pingone_mock.guard().verify(token, presentation=Presentation("DPoP", "GET", "", (proof,)))
    assert info.value.field == "presentation"


def test_metadata_follows_the_guard(pingone_mock: MockPingOne) -> None:
    required = pingone_mock.guard(dpop="required", dpop_algorithms=["ES256"], mtls="required")
    doc = ResourceMetadata.for_guard(required).document()
    assert doc["dpop_signing_alg_values_supported"] == ["ES256"]
    assert doc["dpop_bound_access_tokens_required"] is True
    assert doc["tls_client_certificate_bound_access_tokens"] is True
    plain = ResourceMetadata.for_guard(pingone_mock.guard()).document()
    assert not {
        "dpop_signing_alg_values_supported",
        "dpop_bound_access_tokens_required",
        "tls_client_certificate_bound_access_tokens",
    } & set(plain)
    with pytest.raises(ConfigError):
        ResourceMetadata(
            "https://api.example.com", pingone_mock.issuer, dpop_signing_alg_values_supported=["x"]
        )


def test_settings_configure_dpop_and_mtls(pingone_mock: MockPingOne) -> None:
    settings: dict[str, Any] = {
        "P1GUARD_ISSUER": pingone_mock.issuer,
        "P1GUARD_AUDIENCE": pingone_mock.audience,
        "P1GUARD_DPOP": "Required",
        "P1GUARD_DPOP_NONCE_SECRET": SECRET.decode(),
        "P1GUARD_MTLS": "allowed",
    }
    guard = guard_from_settings(settings)
    assert isinstance(guard, Guard)
    assert (guard.dpop, guard.mtls) == ("required", "allowed")
    assert guard.dpop_nonces is not None
    assert guard.dpop_nonces.is_valid(DPoPNonces(SECRET).current())
    for name, value in [("P1GUARD_DPOP", "maybe"), ("P1GUARD_DPOP_NONCE_SECRET", "short")]:
        with pytest.raises(ConfigError) as info:
            guard_from_settings({**settings, name: value})
        assert info.value.field == name
