"""Shared benchmark fixtures: the mock PingOne, pre-minted tokens and the inputs of the floors."""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

if TYPE_CHECKING:
    from p1guard.testing._mock import MockPingOne

__all__ = [
    "attacker_tokens",
    "b64url_decode",
    "der_signature",
    "ec_public_key",
    "floor_inputs",
    "mock_class",
    "rsa_public_key",
    "running_mock",
]


def mock_class() -> type[MockPingOne]:
    """:class:`p1guard.testing.MockPingOne` (imported lazily: it starts threads and sockets)."""
    try:
        from p1guard.testing import MockPingOne
    except ImportError:  # the package façade may not exist yet in older trees
        from p1guard.testing._mock import MockPingOne
    return MockPingOne


@contextmanager
def running_mock(*, with_es256: bool = True, **kwargs: Any) -> Iterator[MockPingOne]:
    """A started mock PingOne; its ES256 key is created up front when ``with_es256``.

    The mock creates keys lazily; a key created after a Guard fetched the JWKS would be an
    unknown ``kid`` inside the refetch cooldown, so every key a benchmark signs with must
    exist before the first verification.
    """
    with mock_class()(**kwargs) as op:
        op.signing_key("RS256")
        if with_es256:
            op.signing_key("ES256")
        yield op


def rsa_public_key(op: MockPingOne) -> rsa.RSAPublicKey:
    """The public half of the mock's active RS256 key."""
    key = op.signing_key("RS256").public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise TypeError("the mock's RS256 key is not an RSA key")
    return key


def ec_public_key(op: MockPingOne) -> ec.EllipticCurvePublicKey:
    """The public half of the mock's active ES256 key."""
    key = op.signing_key("ES256").public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise TypeError("the mock's ES256 key is not an EC key")
    return key


def b64url_decode(segment: str) -> bytes:
    """Decode one unpadded base64url JWS segment."""
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def floor_inputs(token: str) -> tuple[bytes, bytes]:
    """``(signature, signing_input)`` of a compact JWS: exactly what the crypto floor verifies."""
    signing_input, _, signature = token.rpartition(".")
    return b64url_decode(signature), signing_input.encode("ascii")


def der_signature(raw: bytes) -> bytes:
    """A JWS ``R || S`` ECDSA signature converted to the DER form ``cryptography`` verifies."""
    size = len(raw) // 2
    return encode_dss_signature(
        int.from_bytes(raw[:size], "big"), int.from_bytes(raw[size:], "big")
    )


def attacker_tokens(issuer: str, audience: str, count: int, *, alg: str = "RS256") -> list[str]:
    """``count`` well-formed tokens for ``issuer``/``audience`` signed by a key nobody trusts.

    Each names a random ``kid`` (what a key-id storm looks like); the signatures are real,
    made by a fresh attacker key with :func:`jwt.encode`.
    """
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    if alg.startswith(("RS", "PS")):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    else:
        key = ec.generate_private_key(ec.SECP256R1())
    now = int(time.time())
    tokens = []
    for index in range(count):
        payload = {
            "iss": issuer,
            "aud": audience,
            "sub": f"attacker-{index}",
            "scope": "read",
            "iat": now,
            "exp": now + 3600,
        }
        headers = {"kid": secrets.token_urlsafe(12), "typ": "at+jwt"}
        tokens.append(jwt.encode(payload, key, algorithm=alg, headers=headers))
    return tokens
