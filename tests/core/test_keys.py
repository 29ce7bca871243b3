"""JWK → SigningKey rules (p1guard._tokens.keys)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa, x25519
from jwt.algorithms import OKPAlgorithm
from jwt_support import jwk_of

from p1guard._tokens.keys import key_from_jwk, parse_jwks


def test_rsa_key_allows_every_rsa_alg_without_named_alg(rsa_key: Any) -> None:
    key = key_from_jwk(jwk_of(rsa_key, "k"))
    assert key is not None
    assert key.algorithms == {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}


def test_named_alg_restricts_key(rsa_key: Any) -> None:
    key = key_from_jwk(jwk_of(rsa_key, "k", alg="PS384"))
    assert key is not None
    assert key.algorithms == {"PS384"}


def test_weak_rsa_key_skipped() -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    assert key_from_jwk(jwk_of(weak, "weak")) is None


def test_hmac_and_none_algs_never_trusted(rsa_key: Any) -> None:
    assert key_from_jwk(jwk_of(rsa_key, "k", alg="HS256")) is None
    assert key_from_jwk(jwk_of(rsa_key, "k", alg="none")) is None
    assert key_from_jwk({"kty": "oct", "kid": "sym", "k": "c2VjcmV0"}) is None


def test_encryption_keys_skipped(rsa_key: Any) -> None:
    assert key_from_jwk(jwk_of(rsa_key, "k", use="enc")) is None
    assert key_from_jwk(jwk_of(rsa_key, "k", key_ops=["encrypt"])) is None
    assert key_from_jwk(jwk_of(rsa_key, "k", key_ops=["verify"])) is not None


def test_key_without_kid_skipped(rsa_key: Any) -> None:
    jwk = jwk_of(rsa_key, "k")
    del jwk["kid"]
    assert key_from_jwk(jwk) is None


@pytest.mark.parametrize(
    ("curve", "alg"),
    [(ec.SECP256R1(), "ES256"), (ec.SECP384R1(), "ES384"), (ec.SECP521R1(), "ES512")],
)
def test_ec_curve_decides_alg(curve: ec.EllipticCurve, alg: str) -> None:
    key = key_from_jwk(jwk_of(ec.generate_private_key(curve), "e"))
    assert key is not None
    assert key.algorithms == {alg}


def test_ec_key_with_mismatched_alg_skipped() -> None:
    jwk = jwk_of(ec.generate_private_key(ec.SECP256R1()), "e", alg="ES384")
    assert key_from_jwk(jwk) is None


def test_secp256k1_key_skipped() -> None:
    jwk = jwk_of(ec.generate_private_key(ec.SECP256K1()), "k1")
    assert key_from_jwk(jwk) is None


def test_ed25519_verifies_eddsa_and_x25519_is_skipped() -> None:
    ed = OKPAlgorithm.to_jwk(ed25519.Ed25519PrivateKey.generate().public_key(), as_dict=True)
    key = key_from_jwk({**ed, "kid": "ed"})
    assert key is not None
    assert key.algorithms == {"EdDSA", "Ed25519"}
    x = x25519.X25519PrivateKey.generate().public_key().public_bytes_raw()
    xjwk = {"kty": "OKP", "crv": "X25519", "x": base64.urlsafe_b64encode(x).decode().rstrip("=")}
    assert key_from_jwk({**xjwk, "kid": "x"}) is None


def test_garbage_jwk_skipped_not_raised() -> None:
    assert key_from_jwk({"kty": "RSA", "kid": "k", "n": "!!", "e": "AQAB"}) is None
    assert key_from_jwk({"kty": "EC", "kid": "k", "crv": "P-256"}) is None


def test_duplicate_kids_are_all_dropped(rsa_key: Any, ec_key: Any) -> None:
    keys = parse_jwks(
        {"keys": [jwk_of(rsa_key, "same"), jwk_of(ec_key, "same"), jwk_of(ec_key, "ok")]}
    )
    assert set(keys) == {"ok"}


@pytest.mark.parametrize("document", [None, [], {"keys": "x"}, {"nokeys": []}, "text"])
def test_non_jwks_documents_raise(document: object) -> None:
    with pytest.raises(ValueError, match="JWK set"):
        parse_jwks(document)


def test_private_key_in_jwks_uses_public_half(rsa_key: Any) -> None:
    from jwt.algorithms import RSAAlgorithm

    jwk: dict[str, Any] = RSAAlgorithm.to_jwk(rsa_key, as_dict=True)
    del jwk["key_ops"]  # PyJWT marks private JWKs ["sign"]; a careless JWKS may not
    key = key_from_jwk({**jwk, "kid": "priv"})
    assert key is not None
    assert "RS256" in key.algorithms
