"""Helpers for the core tests: local keys, JWKs and a token minter, no server.

A uniquely named module (not conftest) so test folders cannot shadow each other's helpers.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

ISSUER = "https://auth.pingone.com/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0/as"
AUDIENCE = "https://api.example.com"

_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
_EC = ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    return _RSA


@pytest.fixture(scope="session")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return _EC


def jwk_of(key: Any, kid: str, **extra: Any) -> dict[str, Any]:
    algo = RSAAlgorithm if isinstance(key, rsa.RSAPrivateKey) else ECAlgorithm
    jwk: dict[str, Any] = algo.to_jwk(key.public_key(), as_dict=True)
    jwk.update({"kid": kid, "use": "sig", **extra})
    return jwk


@pytest.fixture
def jwks_doc() -> dict[str, Any]:
    return {"keys": [jwk_of(_RSA, "rsa-1", alg="RS256"), jwk_of(_EC, "ec-1", alg="ES256")]}


Mint = Callable[..., str]


@pytest.fixture
def mint() -> Mint:
    def make(
        claims: dict[str, Any] | None = None,
        *,
        key: Any = None,
        alg: str = "RS256",
        kid: str | None = "rsa-1",
        header: dict[str, Any] | None = None,
    ) -> str:
        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "user-1",
            "client_id": "app-1",
            "scope": "read write",
            "iat": now,
            "exp": now + 300,
        }
        payload.update(claims or {})
        payload = {k: v for k, v in payload.items() if v is not None}
        headers: dict[str, Any] = {"typ": "at+jwt"}
        if kid is not None:
            headers["kid"] = kid
        headers.update(header or {})
        signer = key if key is not None else (_EC if alg.startswith("ES") else _RSA)
        # PyJWS (not PyJWT) so tests can sign claims PyJWT refuses to encode, e.g. a list iss.
        return jwt.api_jws.encode(
            json.dumps(payload).encode(), signer, algorithm=alg, headers=headers
        )

    return make
