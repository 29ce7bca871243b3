"""One named test per known JWT attack (targets.md), each against a live MockPingOne."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from jwt.algorithms import RSAAlgorithm

from p1guard import Guard, InvalidToken
from p1guard._tokens.keys import key_from_jwk
from p1guard.testing import MockPingOne


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(op: MockPingOne, **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": op.issuer,
        "aud": op.audience,
        "sub": "attacker",
        "scope": "admin",
        "iat": now,
        "exp": now + 600,
        **extra,
    }


def sign(key: Any, header: dict[str, Any], payload: dict[str, Any]) -> str:
    """Sign with cryptography directly, so headers PyJWT refuses (non-string kid) can be built."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64(signature)}"


def refused(guard: Guard, token: str) -> str:
    with pytest.raises(InvalidToken) as info:
        guard.verify(token)
    assert info.value.status_code == 401
    assert 'error="invalid_token"' in info.value.www_authenticate
    return info.value.reason


@pytest.fixture
def guard(pingone_mock: MockPingOne) -> Guard:
    g = pingone_mock.guard()
    g.verify(pingone_mock.issue_token())  # keys are cached: attacks cannot hide behind a fetch
    return g


def test_alg_none_rejected(pingone_mock: MockPingOne, guard: Guard) -> None:
    header = b64(
        json.dumps({"alg": "none", "kid": pingone_mock.active_kid(), "typ": "at+jwt"}).encode()
    )
    payload = b64(json.dumps(claims(pingone_mock)).encode())
    assert refused(guard, f"{header}.{payload}.") == "malformed"  # empty signature segment
    assert refused(guard, f"{header}.{payload}.{b64(b'x')}") == "bad_alg"


def test_alg_none_variants_rejected(pingone_mock: MockPingOne, guard: Guard) -> None:
    for alg in ("None", "NONE", "nOnE"):
        header = b64(json.dumps({"alg": alg, "kid": pingone_mock.active_kid()}).encode())
        payload = b64(json.dumps(claims(pingone_mock)).encode())
        assert refused(guard, f"{header}.{payload}.{b64(b'x')}") == "bad_alg"


def test_hs256_with_public_key_as_secret_rejected(pingone_mock: MockPingOne, guard: Guard) -> None:
    # The classic RS/HS confusion: sign with HMAC using the server's public key as the secret.
    jwk = next(k for k in pingone_mock.public_jwks()["keys"] if k["kty"] == "RSA")
    public_key = RSAAlgorithm.from_jwk(jwk)
    assert isinstance(public_key, rsa.RSAPublicKey)
    public_pem = public_key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    header = {"alg": "HS256", "kid": jwk["kid"], "typ": "at+jwt"}
    signing_input = (
        f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims(pingone_mock)).encode())}"
    )
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    assert refused(guard, f"{signing_input}.{b64(signature)}") == "bad_alg"


def test_kid_injection_rejected(pingone_mock: MockPingOne, guard: Guard) -> None:
    attacker = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for kid in ("../../../../dev/null", "' OR '1'='1", "x" * 300, "", "\u0000", 7, None, ["a"]):
        token = sign(attacker, {"alg": "RS256", "kid": kid}, claims(pingone_mock))
        assert refused(guard, token) in ("bad_kid", "unknown_kid")


def test_kid_of_real_key_with_attacker_signature_rejected(
    pingone_mock: MockPingOne, guard: Guard
) -> None:
    attacker = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(
        claims(pingone_mock),
        attacker,
        algorithm="RS256",
        headers={"kid": pingone_mock.active_kid()},
    )
    assert refused(guard, token) == "bad_signature"


@pytest.mark.parametrize("member", ["jku", "x5u", "jwk", "x5c"])
def test_embedded_key_headers_are_never_trusted(
    pingone_mock: MockPingOne, guard: Guard, member: str
) -> None:
    attacker = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    attacker_jwk = RSAAlgorithm.to_jwk(attacker.public_key(), as_dict=True)
    value: Any = {
        "jku": "https://evil.example.com/jwks",
        "x5u": "https://evil.example.com/cert",
        "jwk": attacker_jwk,
        "x5c": ["MIIB"],
    }[member]
    for kid in ("evil", pingone_mock.active_kid()):
        token = jwt.encode(
            claims(pingone_mock), attacker, algorithm="RS256", headers={"kid": kid, member: value}
        )
        assert refused(guard, token) in ("unknown_kid", "bad_signature")


def test_crit_header_rejected(pingone_mock: MockPingOne, guard: Guard) -> None:
    token = pingone_mock.issue_token(header={"crit": ["exp"], "exp": 1})
    assert refused(guard, token) == "crit"


def test_oversized_token_rejected(pingone_mock: MockPingOne, guard: Guard) -> None:
    token = pingone_mock.issue_token(claims={"blob": "x" * 40_000})
    assert refused(guard, token) == "oversized"


def test_large_custom_claims_within_limit_accepted(pingone_mock: MockPingOne, guard: Guard) -> None:
    token = pingone_mock.issue_token(claims={"custom": "x" * 16_000})
    assert guard.verify(token).claims["custom"] == "x" * 16_000


def test_wrong_issuer_rejected(pingone_mock: MockPingOne, guard: Guard) -> None:
    token = pingone_mock.issue_token(claims={"iss": pingone_mock.issuer + "x"})
    assert refused(guard, token) == "wrong_issuer"


def test_wrong_audience_rejected(pingone_mock: MockPingOne, guard: Guard) -> None:
    assert (
        refused(guard, pingone_mock.issue_token(audience="https://other.example.com"))
        == "wrong_audience"
    )


def test_id_token_used_as_access_token_rejected(pingone_mock: MockPingOne, guard: Guard) -> None:
    # ID tokens carry the client id as audience and no at+jwt type.
    token = pingone_mock.issue_token(audience=pingone_mock.client_id, typ="JWT")
    assert refused(guard, token) == "wrong_audience"


def test_wrong_typ_rejected(pingone_mock: MockPingOne, guard: Guard) -> None:
    assert refused(guard, pingone_mock.issue_token(typ="dpop+jwt")) == "bad_typ"
    strict = pingone_mock.guard(strict_typ=True)
    assert refused(strict, pingone_mock.issue_token(typ="JWT")) == "bad_typ"
    assert refused(strict, pingone_mock.issue_token(typ=None)) == "bad_typ"


def test_expired_token_rejected(pingone_mock: MockPingOne, guard: Guard) -> None:
    assert refused(guard, pingone_mock.issue_token(expires_in=-120)) == "expired"


def test_not_yet_valid_token_rejected(pingone_mock: MockPingOne, guard: Guard) -> None:
    assert refused(guard, pingone_mock.issue_token(not_before=time.time() + 300)) == "not_yet_valid"


def test_weak_rsa_key_rejected(pingone_mock: MockPingOne, guard: Guard) -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    jwk = {**RSAAlgorithm.to_jwk(weak.public_key(), as_dict=True), "kid": "weak", "use": "sig"}
    assert key_from_jwk(jwk) is None  # never enters the key cache
    token = sign(weak, {"alg": "RS256", "kid": "weak"}, claims(pingone_mock))
    assert refused(guard, token) == "unknown_kid"


def test_wrong_curve_rejected(pingone_mock: MockPingOne) -> None:
    # An ES256 header over a P-384 key's signature: the alg must match the key's curve.
    es384_token = pingone_mock.issue_token(alg="ES384")
    guard = pingone_mock.guard()
    guard.verify(es384_token)  # the P-384 key is now known
    header, payload, signature = es384_token.split(".")
    forged_header = json.loads(base64.urlsafe_b64decode(header + "=="))
    forged_header["alg"] = "ES256"
    forged = f"{b64(json.dumps(forged_header).encode())}.{payload}.{signature}"
    assert refused(guard, forged) == "alg_key_mismatch"


def test_signature_stripping_rejected(pingone_mock: MockPingOne, guard: Guard) -> None:
    header, payload, _ = pingone_mock.issue_token().split(".")
    assert refused(guard, f"{header}.{payload}.") == "malformed"
    assert refused(guard, f"{header}.{payload}") == "malformed"
