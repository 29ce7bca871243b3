"""Signing keys: JWK → verifier, with the algorithm rules p1guard enforces.

Rules:

1. Only asymmetric algorithms: RS256/384/512, PS256/384/512, ES256/384/512, EdDSA.
   Never ``none``, never HMAC — so a public key can never be used as an HMAC secret.
2. The algorithm must fit the key: RSA keys verify RS*/PS*, an EC key only the ES* of its
   curve (P-256 ↔ ES256, P-384 ↔ ES384, P-521 ↔ ES512), Ed25519/Ed448 keys only EdDSA. A JWK
   that names an ``alg`` is used with that algorithm only.
3. RSA keys under 2048 bits, keys whose ``use`` is not ``sig``, keys whose ``key_ops`` lack
   ``verify``, and keys without a ``kid`` are skipped (and logged), never trusted.
4. JWK parsing is PyJWT's; signature checks are ``cryptography``'s, with padding and hash
   objects built once per key.
5. A one-off key sent by a client (a DPoP proof's ``jwk`` header, RFC 9449 §4.2) goes through
   :func:`public_key_from_jwk`: no ``kid`` needed, but it must be a *public* key (any private
   member such as ``d``, ``p`` or ``k`` refuses it), of 2048 to 8192 bits for RSA (larger keys
   only cost CPU), and it is refused with a ``ValueError`` — never logged, since clients
   choose it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

__all__ = ["ALGORITHMS", "SigningKey", "key_from_jwk", "parse_jwks", "public_key_from_jwk"]

log = logging.getLogger("p1guard.jwks")

Verifier = Callable[[bytes, bytes], bool]

_HASHES: Mapping[str, type[hashes.HashAlgorithm]] = {
    "256": hashes.SHA256,
    "384": hashes.SHA384,
    "512": hashes.SHA512,
}
_RSA_ALGS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
_EC_ALG_BY_CURVE: Mapping[str, str] = {
    "secp256r1": "ES256",
    "secp384r1": "ES384",
    "secp521r1": "ES512",
}
_EC_SIG_BYTES: Mapping[str, int] = {"ES256": 32, "ES384": 48, "ES512": 66}

#: Every algorithm p1guard can verify.
ALGORITHMS: frozenset[str] = _RSA_ALGS | frozenset(_EC_ALG_BY_CURVE.values()) | {"EdDSA"}

MIN_RSA_BITS = 2048
#: Largest RSA key accepted from a client (rule 5): bounds the cost of one verification.
MAX_CLIENT_RSA_BITS = 8192
#: JWK members that only a private (or symmetric) key has (RFC 7518 §6.2.2, §6.3.2, §6.4).
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
#: :data:`ALGORITHMS` in order of preference, for ``algs="…"`` lists shown to clients.
PREFERRED_ORDER: tuple[str, ...] = (
    "ES256", "ES384", "ES512", "EdDSA", "PS256", "PS384", "PS512", "RS256", "RS384", "RS512",
)  # fmt: skip


def _rsa_verifier(key: rsa.RSAPublicKey, alg: str) -> Verifier:
    hash_alg = _HASHES[alg[2:]]()
    pad: padding.AsymmetricPadding = (
        padding.PKCS1v15()
        if alg.startswith("RS")
        else padding.PSS(mgf=padding.MGF1(hash_alg), salt_length=hash_alg.digest_size)
    )
    verify = key.verify

    def check(signature: bytes, message: bytes) -> bool:
        try:
            verify(signature, message, pad, hash_alg)
        except InvalidSignature:
            return False
        return True

    return check


def _ec_verifier(key: ec.EllipticCurvePublicKey, alg: str) -> Verifier:
    size = _EC_SIG_BYTES[alg]
    scheme = ec.ECDSA(_HASHES[alg[2:]]())
    verify = key.verify

    def check(signature: bytes, message: bytes) -> bool:
        # JWS carries R || S (RFC 7518 §3.4); cryptography wants DER.
        if len(signature) != 2 * size:
            return False
        r = int.from_bytes(signature[:size], "big")
        s = int.from_bytes(signature[size:], "big")
        try:
            verify(encode_dss_signature(r, s), message, scheme)
        except InvalidSignature:
            return False
        return True

    return check


def _okp_verifier(key: ed25519.Ed25519PublicKey | ed448.Ed448PublicKey) -> Verifier:
    verify = key.verify

    def check(signature: bytes, message: bytes) -> bool:
        try:
            verify(signature, message)
        except InvalidSignature:
            return False
        return True

    return check


class SigningKey:
    """One trusted public key from the JWKS with a ready verifier per algorithm it allows."""

    __slots__ = ("algorithms", "kid", "kty", "verifiers")

    def __init__(self, kid: str, kty: str, verifiers: Mapping[str, Verifier]) -> None:
        self.kid = kid
        self.kty = kty
        self.verifiers = dict(verifiers)
        self.algorithms = frozenset(verifiers)

    def verify(self, alg: str, signature: bytes, message: bytes) -> bool:
        """Whether ``signature`` over ``message`` is valid with ``alg`` (False if ``alg`` unfit)."""
        check = self.verifiers.get(alg)
        return check is not None and check(signature, message)

    def __repr__(self) -> str:
        return (
            f"SigningKey(kid={self.kid!r}, kty={self.kty!r}, algorithms={sorted(self.algorithms)})"
        )


def _public(key: Any) -> Any:
    # A JWKS must hold public keys; if a private one slipped in, only its public half is used.
    return key.public_key() if hasattr(key, "public_key") else key


def key_from_jwk(jwk: Mapping[str, Any]) -> SigningKey | None:
    """Turn one JWK into a :class:`SigningKey`, or ``None`` (logged) when rule 3 or 2 skips it."""
    kid, kty = jwk.get("kid"), jwk.get("kty")
    if not isinstance(kid, str) or not kid or not isinstance(kty, str):
        log.warning("JWKS key skipped: no kid or kty")
        return None
    if jwk.get("use", "sig") != "sig":
        log.info("JWKS key %r skipped: use is %r, not 'sig'", kid, jwk.get("use"))
        return None
    ops = jwk.get("key_ops")
    if ops is not None and (not isinstance(ops, list) or "verify" not in ops):
        log.info("JWKS key %r skipped: key_ops does not allow verify", kid)
        return None
    named_alg = jwk.get("alg")
    if named_alg is not None and (not isinstance(named_alg, str) or named_alg not in ALGORITHMS):
        log.info("JWKS key %r skipped: algorithm %r is not allowed", kid, named_alg)
        return None
    try:
        verifiers = _verifiers(dict(jwk), kid, kty)
    except Exception as exc:  # any malformed key is skipped, never a crash (InvalidKeyError…)
        log.warning("JWKS key %r skipped: unusable %s key (%s)", kid, kty, type(exc).__name__)
        return None
    if named_alg is not None:
        verifiers = {named_alg: verifiers[named_alg]} if named_alg in verifiers else {}
    if not verifiers:
        log.info("JWKS key %r skipped: alg %r does not fit a %s key", kid, named_alg, kty)
        return None
    return SigningKey(kid, kty, verifiers)


def public_key_from_jwk(jwk: Mapping[str, Any]) -> SigningKey:
    """A client's one-off public JWK (e.g. a DPoP proof's ``jwk``) as a :class:`SigningKey`.

    Rule 5: raises ``ValueError`` for a private or symmetric key, an unknown or unusable key
    type, a malformed key, or an RSA key under 2048 bits. The ``kid`` is ``""`` when absent.

    >>> key = public_key_from_jwk({"kty": "EC", "crv": "P-256",
    ...     "x": "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
    ...     "y": "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"})
    >>> sorted(key.algorithms)
    ['ES256']
    >>> public_key_from_jwk({"kty": "oct", "k": "c2VjcmV0"})
    Traceback (most recent call last):
    ValueError: the JWK holds private key material
    """
    if not isinstance(jwk, Mapping):
        raise ValueError("the JWK is not a JSON object")
    if PRIVATE_MEMBERS & jwk.keys():
        raise ValueError("the JWK holds private key material")
    kty, kid = jwk.get("kty"), jwk.get("kid", "")
    if kty not in ("RSA", "EC", "OKP"):
        raise ValueError(f"unsupported JWK key type {kty!r}")
    n = jwk.get("n")
    if kty == "RSA" and isinstance(n, str) and len(n) > (MAX_CLIENT_RSA_BITS // 6) + 2:
        raise ValueError(f"RSA keys over {MAX_CLIENT_RSA_BITS} bits are not accepted")
    e = jwk.get("e")
    # A huge exponent makes each check up to 60x slower, before the key is compared with
    # cnf.jkt; real keys use 65537 (3 bytes). 6 base64url characters allow up to 2^36.
    if kty == "RSA" and isinstance(e, str) and len(e) > 6:
        raise ValueError("the RSA public exponent is too large")
    try:
        verifiers = _verifiers(dict(jwk), "", kty, quiet=True)
    except Exception as exc:  # PyJWT's InvalidKeyError, cryptography's ValueError, …
        raise ValueError(f"unusable {kty} key") from exc
    if not verifiers:
        raise ValueError(f"the {kty} key cannot verify signatures p1guard accepts")
    return SigningKey(kid if isinstance(kid, str) else "", kty, verifiers)


def _verifiers(
    jwk: dict[str, Any], kid: str, kty: str, *, quiet: bool = False
) -> dict[str, Verifier]:
    if kty == "RSA":
        rsa_key = _public(RSAAlgorithm.from_jwk(jwk))
        if not isinstance(rsa_key, rsa.RSAPublicKey):
            raise TypeError("not an RSA key")
        if rsa_key.key_size < MIN_RSA_BITS:
            if not quiet:
                log.warning("JWKS key %r skipped: RSA key of %d bits", kid, rsa_key.key_size)
            return {}
        return {alg: _rsa_verifier(rsa_key, alg) for alg in _RSA_ALGS}
    if kty == "EC":
        ec_key = _public(ECAlgorithm.from_jwk(jwk))
        if not isinstance(ec_key, ec.EllipticCurvePublicKey):
            raise TypeError("not an EC key")
        alg = _EC_ALG_BY_CURVE.get(ec_key.curve.name)
        return {alg: _ec_verifier(ec_key, alg)} if alg else {}
    if kty == "OKP":
        okp_key = _public(OKPAlgorithm.from_jwk(jwk))
        if not isinstance(okp_key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            return {}  # X25519/X448 are for key agreement, not signatures
        return {"EdDSA": _okp_verifier(okp_key)}
    return {}


def parse_jwks(document: object) -> dict[str, SigningKey]:
    """Keys by ``kid`` from a JWKS document; raises ``ValueError`` if it is not a JWKS at all.

    Duplicate ``kid`` values are ambiguous, so every key sharing one is dropped.
    """
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWK set")
    keys: dict[str, SigningKey] = {}
    duplicates: set[str] = set()
    for jwk in document["keys"]:
        if not isinstance(jwk, dict):
            continue
        key = key_from_jwk(jwk)
        if key is None:
            continue
        if key.kid in keys:
            duplicates.add(key.kid)
        keys[key.kid] = key
    for kid in duplicates:
        log.warning("JWKS kid %r appears more than once; its keys are not trusted", kid)
        del keys[kid]
    return keys
