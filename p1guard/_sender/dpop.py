"""DPoP proofs, the resource-server side (RFC 9449 §4.3, §7, §9), sans-I/O.

:func:`check_proof` checks one ``DPoP`` header against the request it came with; the
:class:`~p1guard.Guard` then compares the proof's key with the token's ``cnf.jkt`` and records
the proof against replay (:class:`~p1guard._sender.replay.ReplayCache` in memory, or the shared
Redis cache). The client side is :class:`~p1guard.DPoPKey`.

Checks, in order; the first failure raises :class:`~p1guard.errors.InvalidDPoPProof` with a
``reason`` naming it (or :class:`~p1guard.errors.UseDPoPNonce` for rule 8):

1. Size (at most ``max_size`` characters) and shape: three non-empty base64url segments,
   each canonical (:func:`p1guard._tokens.jwt.canonical_segment`: no unused bits set).
2. Header: a JSON object without duplicate members; ``typ`` exactly ``dpop+jwt``; ``alg`` in
   the allowed list (asymmetric only: never ``none``, never HMAC); no ``crit``.
3. ``jwk``: a public key only (a private member such as ``d`` refuses it), within the key
   bounds JWKS keys have too (RSA of 2048 to 8192 bits, public exponent below 2^32), of a type
   that fits ``alg``: ``Ed25519`` or ``Ed448`` only on a key of that curve, ``EdDSA`` on either
   (:func:`p1guard._tokens.keys.public_key_from_jwk`: PyJWT parses, ``cryptography`` verifies).
4. Signature, with that key.
5. Claims (a JSON object): ``jti`` a string of 1–256 characters; ``htm`` equal to the
   request method; ``htu`` equal to the request URL, both normalised by :func:`normalize_htu`.
6. ``iat`` a number within ``[now - window - leeway, now + leeway]``.
7. ``ath`` equal to :func:`~p1guard._sender.binding.access_token_hash` of the presented token.
8. With :class:`DPoPNonces`, ``nonce`` must be one they issued recently.
9. (Guard) the proof's key thumbprint equals the token's ``cnf.jkt``; then, and only when all
   else passed, the ``(jkt, jti)`` pair is recorded until ``iat + window + leeway``; a pair
   seen before and still recorded is a replay (``reason="dpop_replay"``). A full record never
   refuses a fresh proof: it evicts the oldest pairs of the key holding the most
   (:class:`~p1guard._sender.replay.ReplayCache` rules 2–3).

>>> from p1guard._client.dpop_key import DPoPKey
>>> key, now = DPoPKey.generate(), 1_700_000_000
>>> proof = key.proof("GET", "https://API.example.com:443/orders?x=1", access_token="tok",
...                   now=now)
>>> checked = check_proof(proof, method="GET", url="https://api.example.com/orders",
...                       access_token="tok", policy=DPoPPolicy(), now=now)
>>> checked.jkt == key.thumbprint, checked.htu
(True, 'https://api.example.com/orders')
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import json
import math
import re
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from p1guard._sender.binding import access_token_hash, b64url, jwk_thumbprint
from p1guard._tokens.jwt import canonical_segment
from p1guard._tokens.keys import ALGORITHMS, PREFERRED_ORDER, public_key_from_jwk
from p1guard._values import Seconds, to_seconds
from p1guard.errors import ConfigError, InvalidDPoPProof, UseDPoPNonce

__all__ = [
    "DEFAULT_DPOP_ALGORITHMS",
    "MAX_PROOF_SIZE",
    "CheckedProof",
    "DPoPNonces",
    "DPoPPolicy",
    "check_proof",
    "normalize_htu",
    "ordered_algorithms",
]

#: Longest proof accepted, in characters (a proof with an RSA-4096 ``jwk`` is about 1.5 KiB).
MAX_PROOF_SIZE = 8192
#: Every asymmetric algorithm p1guard verifies, most preferred first (``algs="…"`` order).
DEFAULT_DPOP_ALGORITHMS: tuple[str, ...] = tuple(a for a in PREFERRED_ORDER if a in ALGORITHMS)
_MAX_JTI = 256
_MAX_NONCE = 256
_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")
_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _refuse(description: str, reason: str, **detail: object) -> InvalidDPoPProof:
    return InvalidDPoPProof(description, reason=reason, detail=detail or None)


@dataclass(frozen=True, slots=True)
class DPoPPolicy:
    """What a proof must satisfy; the Guard builds one from its ``dpop_*`` options.

    ``window`` is how old (seconds) a proof's ``iat`` may be; ``leeway`` the clock skew allowed
    either way.

    >>> DPoPPolicy(algorithms=["RS256", "ES256"]).algorithms
    ('ES256', 'RS256')
    """

    algorithms: Iterable[str] = DEFAULT_DPOP_ALGORITHMS
    window: float = 60.0
    leeway: float = 30.0
    max_size: int = MAX_PROOF_SIZE

    def __post_init__(self) -> None:
        if isinstance(self.algorithms, str):
            raise ConfigError("dpop_algorithms", "expected a list of algorithms, not one string")
        requested = set(self.algorithms)
        unknown = requested - ALGORITHMS
        if unknown or not requested:
            raise ConfigError(
                "dpop_algorithms",
                f"choose from {', '.join(DEFAULT_DPOP_ALGORITHMS)}; not allowed: "
                f"{', '.join(sorted(unknown)) or '(empty list)'}",
            )
        # Kept as a tuple in order of preference: it is also the challenge's algs="…".
        object.__setattr__(self, "algorithms", ordered_algorithms(requested))

    @property
    def lifetime(self) -> float:
        """Seconds after ``iat`` until which a proof could still be accepted (replay TTL)."""
        return self.window + self.leeway


@dataclass(frozen=True, slots=True)
class CheckedProof:
    """A proof that passed :func:`check_proof` (rules 1–8); not yet matched or recorded."""

    #: RFC 7638 thumbprint of the proof's key, to compare with the token's ``cnf.jkt``.
    jkt: str
    jti: str
    iat: float
    htm: str
    htu: str
    claims: dict[str, Any] = field(repr=False)


def _percent_normal(match: re.Match[str]) -> str:
    char = chr(int(match.group(0)[1:], 16))
    return char if char in _UNRESERVED else match.group(0).upper()


def normalize_htu(url: str) -> str:
    """``url`` as compared with ``htu``: scheme and host lower-cased, default port, query and
    fragment dropped, percent-encoding normalised, empty path as ``/`` (RFC 3986 §6.2.2–6.2.3).

    Raises ``ValueError`` for anything but an absolute ``http``/``https`` URL.

    >>> normalize_htu("HTTPS://Api.Example.COM:443/a%7eb/%2f?q=1#f")
    'https://api.example.com/a~b/%2F'
    >>> normalize_htu("http://[::1]:8080")
    'http://[::1]:8080/'
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = parts.hostname
    if scheme not in _DEFAULT_PORTS or not host:
        raise ValueError("not an absolute http(s) URL")
    if parts.username is not None or parts.password is not None:
        raise ValueError("the URL carries credentials")
    port = parts.port  # raises ValueError on a bad port
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    path = _PERCENT.sub(_percent_normal, parts.path) or "/"
    return urlunsplit((scheme, netloc, path, "", ""))


# -- rules 1-8 ------------------------------------------------------------------------------


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate member")
    return result


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_STRICT = json.JSONDecoder(object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)


def _b64decode(segment: str) -> bytes:
    if len(segment) % 4 == 1:
        raise ValueError("impossible base64url length")
    return binascii.a2b_base64(segment.replace("-", "+").replace("_", "/") + "==")


def _json_object(segment: str, part: str) -> dict[str, Any]:
    try:
        value = _STRICT.decode(_b64decode(segment).decode("utf-8"))
    except (ValueError, RecursionError, binascii.Error) as exc:
        raise _refuse(f"The DPoP proof {part} is not a JSON object", "dpop_malformed") from exc
    if not isinstance(value, dict):
        raise _refuse(f"The DPoP proof {part} is not a JSON object", "dpop_malformed")
    return value


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def check_proof(
    proof: str,
    *,
    method: str,
    url: str,
    access_token: str | None,
    policy: DPoPPolicy,
    now: float,
    nonces: DPoPNonces | None = None,
) -> CheckedProof:
    """Rules 1–8 for one ``DPoP`` header value sent with ``method url`` (see the module).

    ``access_token`` is the token presented beside the proof (``ath`` must match it); ``None``
    only where no token is presented (a token request), then ``ath`` is not checked.
    """
    # 1. size and shape
    if not isinstance(proof, str) or len(proof) > policy.max_size:
        raise _refuse("The DPoP proof is too large", "dpop_malformed")
    segments = proof.split(".")
    if len(segments) != 3 or not all(_SEGMENT.fullmatch(s) for s in segments):
        raise _refuse("The DPoP proof is not a signed JWT", "dpop_malformed")
    if not all(canonical_segment(s) for s in segments):
        raise _refuse("The DPoP proof is not canonical base64url", "dpop_malformed")
    # 2. header
    header = _json_object(segments[0], "header")
    typ = header.get("typ")
    if typ != "dpop+jwt":
        raise _refuse("The DPoP proof's typ must be dpop+jwt", "dpop_bad_typ", actual=typ)
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in policy.algorithms:
        raise _refuse(
            "The DPoP proof's signing algorithm is not allowed",
            "dpop_bad_alg",
            expected=list(policy.algorithms),
            actual=alg,
        )
    if "crit" in header:
        raise _refuse("The DPoP proof has critical header extensions", "dpop_crit")
    # 3. key
    jwk = header.get("jwk")
    if not isinstance(jwk, dict):
        raise _refuse("The DPoP proof carries no jwk", "dpop_no_jwk")
    try:
        key = public_key_from_jwk(jwk)
        jkt = jwk_thumbprint(jwk)
    except ValueError as exc:
        reason = "dpop_private_key" if "private" in str(exc) else "dpop_bad_jwk"
        raise _refuse(f"The DPoP proof's jwk is unusable: {exc}", reason) from None
    if alg not in key.algorithms:
        raise _refuse(
            "The DPoP proof's algorithm does not fit its key",
            "dpop_alg_key_mismatch",
            alg=alg,
            kty=key.kty,
        )
    # 4. signature
    try:
        signature = _b64decode(segments[2])
    except (ValueError, binascii.Error):
        raise _refuse("The DPoP proof is not valid base64url", "dpop_malformed") from None
    signing_input = f"{segments[0]}.{segments[1]}".encode("ascii")
    if not key.verify(alg, signature, signing_input):
        raise _refuse("The DPoP proof's signature is invalid", "dpop_bad_signature")
    # 5. jti, htm, htu
    claims = _json_object(segments[1], "payload")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not 0 < len(jti) <= _MAX_JTI:
        raise _refuse("The DPoP proof needs a jti of 1 to 256 characters", "dpop_bad_jti")
    htm = claims.get("htm")
    if not isinstance(htm, str) or htm != method:
        raise _refuse(
            "The DPoP proof is for another HTTP method",
            "dpop_htm_mismatch",
            expected=method,
            actual=htm,
        )
    htu = claims.get("htu")
    try:
        target = normalize_htu(url)
    except ValueError:
        raise _refuse("The request URL is not usable for DPoP", "dpop_bad_request_url") from None
    try:
        matches = isinstance(htu, str) and normalize_htu(htu) == target
    except ValueError:
        matches = False
    if not matches:
        raise _refuse(
            "The DPoP proof is for another URL",
            "dpop_htu_mismatch",
            expected=target,
            actual=htu,
        )
    # 6. iat
    iat = _number(claims.get("iat"))
    if iat is None:
        raise _refuse("The DPoP proof needs a numeric iat", "dpop_bad_iat")
    if iat < now - policy.window - policy.leeway:
        raise _refuse(
            "The DPoP proof is too old",
            "dpop_stale",
            iat=iat,
            now=round(now),
            age_seconds=round(now - iat),
        )
    if iat > now + policy.leeway:
        raise _refuse(
            "The DPoP proof is issued in the future",
            "dpop_future",
            iat=iat,
            now=round(now),
            skew_seconds=round(iat - now),
        )
    # 7. ath
    if access_token is not None:
        ath = claims.get("ath")
        if not isinstance(ath, str):
            raise _refuse("The DPoP proof lacks the access token hash (ath)", "dpop_no_ath")
        if not hmac.compare_digest(ath.encode(), access_token_hash(access_token).encode()):
            raise _refuse("The DPoP proof is for another access token", "dpop_ath_mismatch")
    # 8. nonce
    if nonces is not None:
        nonce = claims.get("nonce")
        if nonce is None:
            raise UseDPoPNonce(nonces.current(now), reason="dpop_nonce_missing")
        if not isinstance(nonce, str) or not nonces.is_valid(nonce, now):
            raise UseDPoPNonce(
                nonces.current(now),
                "The DPoP nonce is invalid or expired",
                reason="dpop_nonce_invalid",
            )
    return CheckedProof(jkt=jkt, jti=jti, iat=iat, htm=htm, htu=target, claims=claims)


# -- nonces ---------------------------------------------------------------------------------


class DPoPNonces:
    """Stateless server nonces (RFC 9449 §9): an HMAC-SHA256 of the current time slot.

    A nonce is valid during its slot of ``lifetime`` seconds and the next one (so for
    ``lifetime`` to ``2 × lifetime`` seconds). Nothing is stored, so every worker and host
    accepts the others' nonces **if they share** ``secret`` (at least 16 bytes; e.g. the
    ``P1GUARD_DPOP_NONCE_SECRET`` setting). Without ``secret`` a random one is made, which
    only suits a single process.

    >>> nonces = DPoPNonces(b"0123456789abcdef0123456789abcdef", lifetime=300)
    >>> nonce = nonces.current(now=1_000_000)
    >>> nonces.is_valid(nonce, now=1_000_000 + 299), nonces.is_valid(nonce, now=1_000_000 + 700)
    (True, False)
    """

    __slots__ = ("_secret", "lifetime")

    def __init__(self, secret: bytes | None = None, lifetime: Seconds = 300) -> None:
        if secret is None:
            secret = secrets.token_bytes(32)
        if not isinstance(secret, bytes) or len(secret) < 16:
            raise ConfigError("secret", "the DPoP nonce secret must be at least 16 bytes")
        self._secret = secret
        #: Seconds per time slot.
        self.lifetime = to_seconds("lifetime", lifetime, minimum=1, maximum=86400)

    def _for_slot(self, slot: int) -> str:
        mac = hmac.new(self._secret, f"p1guard-dpop-nonce:{slot}".encode(), hashlib.sha256)
        return b64url(mac.digest())

    def current(self, now: float | None = None) -> str:
        """The nonce to hand out now (``DPoP-Nonce`` header)."""
        return self._for_slot(int((time.time() if now is None else now) // self.lifetime))

    def is_valid(self, nonce: str, now: float | None = None) -> bool:
        """Whether ``nonce`` is the current slot's or the previous slot's nonce."""
        if not isinstance(nonce, str) or len(nonce) > _MAX_NONCE or not nonce.isascii():
            return False
        slot = int((time.time() if now is None else now) // self.lifetime)
        given = nonce.encode("ascii")
        current = hmac.compare_digest(given, self._for_slot(slot).encode())
        previous = hmac.compare_digest(given, self._for_slot(slot - 1).encode())
        return current or previous

    def __repr__(self) -> str:
        return f"DPoPNonces(lifetime={self.lifetime!r})"


def ordered_algorithms(algorithms: Iterable[str]) -> tuple[str, ...]:
    """``algorithms`` in p1guard's order of preference (for ``algs="…"``).

    >>> ordered_algorithms(["RS256", "ES256"])
    ('ES256', 'RS256')
    """
    wanted = set(algorithms)
    return tuple(alg for alg in PREFERRED_ORDER if alg in wanted)
