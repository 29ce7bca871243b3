"""Signing keys: JWK → verifier, with the algorithm rules p1guard enforces.

Rules:

1. Only asymmetric algorithms: RS256/384/512, PS256/384/512, ES256/384/512, EdDSA, and
   RFC 9864's fully-specified Ed25519 and Ed448. Never ``none``, never HMAC — so a public key
   can never be used as an HMAC secret.
2. The algorithm must fit the key: RSA keys verify RS*/PS*, an EC key only the ES* of its
   curve (P-256 ↔ ES256, P-384 ↔ ES384, P-521 ↔ ES512), an Ed25519 key EdDSA or Ed25519, an
   Ed448 key EdDSA or Ed448 (Ed25519 on an Ed448 key, or Ed448 on an Ed25519 key, does not
   fit). A JWK that names an ``alg`` is used with that algorithm only; ``EdDSA`` and the
   fully-specified name of the key's curve count as one algorithm.
3. Bounds, one rule for JWKS keys and clients' keys (:func:`rsa_bounds_problem`): an RSA
   modulus of :data:`MIN_RSA_BITS` to :data:`MAX_RSA_BITS` (2048 to 8192) bits and a public
   exponent below :data:`MAX_RSA_EXPONENT` (2^32; ``cryptography`` already refuses an even
   one or one under 3) — larger keys and exponents only cost CPU on every check. EC and OKP
   keys have the fixed sizes of their curves (PyJWT and ``cryptography`` check lengths and
   points). A JWKS is read up to its first :data:`MAX_JWKS_KEYS` (100) entries. Keys out of
   bounds or past that cap are ignored with one warning per JWKS naming its URL (by
   :func:`parse_jwks`); keys whose ``use`` is not ``sig``, keys whose ``key_ops`` lack
   ``verify``, and keys without a ``kid`` are skipped (and logged). None is ever trusted.
4. JWK parsing is PyJWT's; signature checks are ``cryptography``'s, with padding and hash
   objects built once per key.
5. A one-off key sent by a client (a DPoP proof's ``jwk`` header, RFC 9449 §4.2) goes through
   :func:`public_key_from_jwk`: no ``kid`` needed, but it must be a *public* key (any private
   member such as ``d``, ``p`` or ``k`` refuses it), within rule 3's bounds, and it is
   refused with a ``ValueError`` — never logged, since clients choose it.
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

__all__ = [
    "ALGORITHMS",
    "MAX_JWKS_KEYS",
    "SigningKey",
    "key_from_jwk",
    "parse_jwks",
    "public_key_from_jwk",
    "rsa_bounds_problem",
]

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
#: What an Ed25519 or Ed448 key verifies: its curve's RFC 9864 name and EdDSA (rule 2).
_ED25519_ALGS = ("Ed25519", "EdDSA")
_ED448_ALGS = ("Ed448", "EdDSA")

#: Every algorithm p1guard can verify.
ALGORITHMS: frozenset[str] = (
    _RSA_ALGS | frozenset(_EC_ALG_BY_CURVE.values()) | {"EdDSA", "Ed25519", "Ed448"}
)

#: RSA bounds of rule 3, for JWKS keys and clients' keys alike: a modulus of 2048 to 8192 bits
#: (each doubling makes a check about 3-4 times slower) and an exponent below 2^32 (a check
#: costs about one multiplication per exponent bit; real keys use 65537, 17 bits).
MIN_RSA_BITS = 2048
MAX_RSA_BITS = 8192
MAX_RSA_EXPONENT = 2**32
#: Entries of one JWKS that are read (rule 3); PingOne publishes a handful.
MAX_JWKS_KEYS = 100
#: JWK members that only a private (or symmetric) key has (RFC 7518 §6.2.2, §6.3.2, §6.4).
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
#: :data:`ALGORITHMS` in order of preference, for ``algs="…"`` lists shown to clients.
PREFERRED_ORDER: tuple[str, ...] = (
    "ES256", "ES384", "ES512", "Ed25519", "Ed448", "EdDSA",
    "PS256", "PS384", "PS512", "RS256", "RS384", "RS512",
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


class _OutOfBounds(ValueError):
    """A key outside rule 3's bounds; the message says how (never the key itself)."""


def rsa_bounds_problem(modulus_bits: int, exponent: int) -> str | None:
    """Why an RSA public key is outside rule 3's bounds, or ``None``: the one rule for JWKS
    keys and clients' keys.

    >>> rsa_bounds_problem(2048, 65537) is None
    True
    >>> rsa_bounds_problem(1024, 65537)
    'an RSA key under 2048 bits (1024)'
    >>> rsa_bounds_problem(4096, (1 << 2040) + 1)
    'an RSA public exponent over 32 bits (2041)'
    """
    if modulus_bits < MIN_RSA_BITS:
        return f"an RSA key under {MIN_RSA_BITS} bits ({modulus_bits})"
    if modulus_bits > MAX_RSA_BITS:
        return f"an RSA key over {MAX_RSA_BITS} bits ({modulus_bits})"
    if exponent >= MAX_RSA_EXPONENT:  # cryptography refuses exponents under 3 or even
        return f"an RSA public exponent over 32 bits ({exponent.bit_length()})"
    return None


def _rsa_key(jwk: dict[str, Any]) -> rsa.RSAPublicKey:
    """The RSA public key of ``jwk`` within rule 3's bounds, else :class:`_OutOfBounds`."""
    n, e = jwk.get("n"), jwk.get("e")
    # Before decoding anything: 6 bits per base64url character; 6 characters hold 4 bytes.
    if isinstance(n, str) and len(n) > MAX_RSA_BITS // 6 + 2:
        raise _OutOfBounds(f"an RSA key over {MAX_RSA_BITS} bits")
    if isinstance(e, str) and len(e) > 6:
        raise _OutOfBounds("an RSA public exponent over 32 bits")
    key = _public(RSAAlgorithm.from_jwk(jwk))
    if not isinstance(key, rsa.RSAPublicKey):
        raise TypeError("not an RSA key")
    problem = rsa_bounds_problem(key.key_size, key.public_numbers().e)
    if problem is not None:
        raise _OutOfBounds(problem)
    return key


def _public(key: Any) -> Any:
    # A JWKS must hold public keys; if a private one slipped in, only its public half is used.
    return key.public_key() if hasattr(key, "public_key") else key


def key_from_jwk(
    jwk: Mapping[str, Any], *, out_of_bounds: list[str] | None = None
) -> SigningKey | None:
    """Turn one JWK into a :class:`SigningKey`, or ``None`` (logged) when rule 3 or 2 skips it.

    With ``out_of_bounds``, a key outside rule 3's bounds is not logged but described there
    (its ``kid`` and how it is out of bounds), for one warning per JWKS.
    """
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
        verifiers = _verifiers(dict(jwk))
    except _OutOfBounds as exc:
        if out_of_bounds is None:
            log.warning("JWKS key %r skipped: %s", kid, exc)
        else:
            out_of_bounds.append(f"{kid!r}: {exc}")
        return None
    except Exception as exc:  # any malformed key is skipped, never a crash (InvalidKeyError…)
        log.warning("JWKS key %r skipped: unusable %s key (%s)", kid, kty, type(exc).__name__)
        return None
    if named_alg is not None and named_alg not in verifiers:
        verifiers = {}
    elif named_alg is not None and kty != "OKP":
        # An OKP key's two names are one algorithm (rule 2): naming either allows both.
        verifiers = {named_alg: verifiers[named_alg]}
    if not verifiers:
        log.info("JWKS key %r skipped: alg %r does not fit a %s key", kid, named_alg, kty)
        return None
    return SigningKey(kid, kty, verifiers)


def public_key_from_jwk(jwk: Mapping[str, Any]) -> SigningKey:
    """A client's one-off public JWK (e.g. a DPoP proof's ``jwk``) as a :class:`SigningKey`.

    Rule 5: raises ``ValueError`` for a private or symmetric key, an unknown or unusable key
    type, a malformed key, or a key outside rule 3's bounds. The ``kid`` is ``""`` when absent.

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
    try:
        # Rule 3's bounds come first: a huge key or exponent would make each check slow,
        # before the key is even compared with cnf.jkt.
        verifiers = _verifiers(dict(jwk))
    except _OutOfBounds as exc:
        raise ValueError(f"{exc} is not accepted") from None
    except Exception as exc:  # PyJWT's InvalidKeyError, cryptography's ValueError, …
        raise ValueError(f"unusable {kty} key") from exc
    if not verifiers:
        raise ValueError(f"the {kty} key cannot verify signatures p1guard accepts")
    return SigningKey(kid if isinstance(kid, str) else "", kty, verifiers)


def _verifiers(jwk: dict[str, Any]) -> dict[str, Verifier]:
    """The verifiers a key allows (rule 2); :class:`_OutOfBounds` outside rule 3's bounds."""
    kty = jwk.get("kty")
    if kty == "RSA":
        rsa_key = _rsa_key(jwk)
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
        ed25519_key = isinstance(okp_key, ed25519.Ed25519PublicKey)
        return dict.fromkeys(_ED25519_ALGS if ed25519_key else _ED448_ALGS, _okp_verifier(okp_key))
    return {}


def parse_jwks(document: object, *, url: str = "(no URL)") -> dict[str, SigningKey]:
    """Keys by ``kid`` from a JWKS document; raises ``ValueError`` if it is not a JWKS at all.

    Only the first :data:`MAX_JWKS_KEYS` entries are read, and keys outside rule 3's bounds
    are ignored: both with one warning naming ``url`` (the JWKS's address). Duplicate ``kid``
    values are ambiguous, so every key sharing one is dropped.
    """
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWK set")
    entries: list[object] = document["keys"]
    keys: dict[str, SigningKey] = {}
    duplicates: set[str] = set()
    out_of_bounds: list[str] = []
    for jwk in entries[:MAX_JWKS_KEYS]:
        if not isinstance(jwk, dict):
            continue
        key = key_from_jwk(jwk, out_of_bounds=out_of_bounds)
        if key is None:
            continue
        if key.kid in keys:
            duplicates.add(key.kid)
        keys[key.kid] = key
    for kid in duplicates:
        log.warning("JWKS kid %r appears more than once; its keys are not trusted", kid)
        del keys[kid]
    ignored = []
    if out_of_bounds:
        shown = "; ".join(out_of_bounds[:5]) + ("; …" if len(out_of_bounds) > 5 else "")
        ignored.append(f"{len(out_of_bounds)} key(s) out of bounds ({shown})")
    if len(entries) > MAX_JWKS_KEYS:
        ignored.append(f"{len(entries) - MAX_JWKS_KEYS} key(s) past the first {MAX_JWKS_KEYS}")
    if ignored:
        log.warning("JWKS %s: ignored %s", url, " and ".join(ignored))
    return keys
