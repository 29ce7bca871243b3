"""Sans-I/O JWT access-token validation: the hot path.

Checks run in this order; the first failure raises :class:`~p1guard.errors.InvalidToken`
with a ``reason`` naming it:

1. Size (``max_size`` characters, default 32 KiB) and shape: three non-empty base64url
   segments (no padding, no other characters) — before any decoding.
2. Header: a JSON object without duplicate members (it is read before the signature is
   checked, so it is read strictly); ``alg`` in the allowlist (asymmetric
   only — never ``none`` or HMAC); ``kid`` a non-empty string of at most 256 characters;
   no ``crit`` (no extension is understood); ``typ`` absent/``JWT``/``at+jwt`` (or only
   ``at+jwt`` when strict). ``jku``, ``x5u``, ``jwk`` and ``x5c`` are never used to find keys.
3. Signature, with the key found by ``kid`` and an algorithm that fits that key.
4. Payload: a JSON object, read only after the signature verified. Duplicate members keep
   the last value (RFC 7519 §4 allows this; only the issuer could have signed them), and
   ``NaN``/``Infinity`` are refused. ``orjson`` parses it when installed (``p1guard[speedups]``).
5. Claims: ``iss`` exact; ``aud`` (string or list) holds an accepted audience; ``exp``
   required and in the future, ``nbf`` and ``iat`` not in the future (all with leeway);
   configured required claims present.

Headers are parsed once per distinct header segment (a PingOne key signs thousands of tokens
with byte-identical headers), and only valid headers are remembered.
"""

from __future__ import annotations

import binascii
import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from .errors import ConfigError, InvalidToken
from .keys import ALGORITHMS, SigningKey

__all__ = ["Jws", "JwtPolicy", "check_claims", "decode_payload", "parse_jws", "peek_issuer"]

MAX_TOKEN_SIZE = 32 * 1024
#: Expiries further ahead than this are refused (PingOne's longest access token lives 30 days).
MAX_LIFETIME = 10 * 365 * 86400.0
_BASE64URL = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_TO_STANDARD = bytes.maketrans(b"-_", b"+/")
_LENIENT_TYP = frozenset({"jwt", "at+jwt", "application/at+jwt", "application/jwt"})
_STRICT_TYP = frozenset({"at+jwt", "application/at+jwt"})
_ID_TOKEN_TYP = frozenset({"jwt", "application/jwt"})
_HEADER_CACHE_SIZE = 64


@dataclass(frozen=True, slots=True)
class JwtPolicy:
    """What a valid access token must satisfy; built once from :class:`~p1guard.Guard` options."""

    issuers: frozenset[str]
    audiences: frozenset[str]
    algorithms: frozenset[str] = ALGORITHMS
    leeway: float = 30.0
    max_size: int = MAX_TOKEN_SIZE
    strict_typ: bool = False
    #: ``"access"`` tokens or OpenID Connect ``"id"`` tokens (which must not be ``at+jwt``).
    kind: Literal["access", "id"] = "access"
    required_claims: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        unknown = self.algorithms - ALGORITHMS
        if unknown or not self.algorithms:
            raise ConfigError(
                "algorithms",
                f"choose from {', '.join(sorted(ALGORITHMS))}; not allowed: "
                f"{', '.join(sorted(unknown)) or '(empty list)'}",
            )
        if not self.audiences or not all(isinstance(a, str) and a for a in self.audiences):
            raise ConfigError("audience", "give the audience of your PingOne custom resource")


class Jws(NamedTuple):
    """A structurally valid compact JWS whose signature is not yet checked."""

    alg: str
    kid: str
    header: dict[str, Any]
    signing_input: bytes
    signature: bytes
    payload_segment: bytes


def _b64decode(segment: bytes) -> bytes:
    # The alphabet was checked by _split; only the length can still be impossible.
    if len(segment) % 4 == 1:
        raise InvalidToken("The token is not valid base64url", reason="malformed")
    try:
        return binascii.a2b_base64(segment.translate(_TO_STANDARD) + b"==")
    except binascii.Error as exc:  # pragma: no cover - unreachable after _split
        raise InvalidToken("The token is not valid base64url", reason="malformed") from exc


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise InvalidToken("The token repeats a member name", reason="duplicate_member")
    return result


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# Built once: json.loads(..., object_pairs_hook=…) would build a decoder on every call.
_STRICT = json.JSONDecoder(object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
_PLAIN = json.JSONDecoder(parse_constant=_reject_constant)


def _stdlib_loads(raw: bytes) -> Any:
    return _PLAIN.decode(raw.decode("utf-8"))


_payload_loads: Callable[[bytes], Any]
try:  # optional speedup (p1guard[speedups]): same semantics, about 4x faster on payloads
    from orjson import loads as _orjson_loads
except ImportError:  # pragma: no cover - depends on the installation
    _payload_loads = _stdlib_loads
else:
    _payload_loads = _orjson_loads


def _json_object(segment: bytes, part: str, *, strict: bool = False) -> dict[str, Any]:
    raw = _b64decode(segment)
    try:
        value = _STRICT.decode(raw.decode("utf-8")) if strict else _payload_loads(raw)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise InvalidToken(f"The token {part} is not JSON", reason="malformed") from exc
    if not isinstance(value, dict):
        raise InvalidToken(f"The token {part} is not a JSON object", reason="malformed")
    return value


def _split(token: str) -> tuple[bytes, int, int]:
    """Rule 1's shape check: the token as bytes and the positions of its two dots."""
    try:
        data = token.encode("ascii")
    except UnicodeEncodeError:
        raise InvalidToken("The token is not a signed JWT", reason="malformed") from None
    first = data.find(b".")
    second = data.find(b".", first + 1)
    if (
        data.translate(None, _BASE64URL) != b".."
        or first < 1
        or second == first + 1
        or second == len(data) - 1
    ):
        raise InvalidToken("The token is not a signed JWT", reason="malformed")
    return data, first, second


class _HeaderRules:
    """Rule 2, with a small memo of headers that passed."""

    def __init__(self, policy: JwtPolicy) -> None:
        self.algorithms = policy.algorithms
        if policy.kind == "id":
            self.typ_allowed = _ID_TOKEN_TYP
        else:
            self.typ_allowed = _STRICT_TYP if policy.strict_typ else _LENIENT_TYP
        self.strict_typ = policy.strict_typ
        self.typ_message = (
            f"The token type is not an {'ID' if policy.kind == 'id' else 'access'} token"
        )
        self.memo: dict[bytes, tuple[str, str, dict[str, Any]]] = {}

    def check(self, segment: bytes) -> tuple[str, str, dict[str, Any]]:
        hit = self.memo.get(segment)
        if hit is not None:
            return hit
        header = _json_object(segment, "header", strict=True)
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self.algorithms:
            raise InvalidToken(
                "The token's signing algorithm is not allowed",
                reason="bad_alg",
                detail={"expected": sorted(self.algorithms), "actual": alg},
            )
        if "crit" in header:
            raise InvalidToken("The token has critical header extensions", reason="crit")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid or len(kid) > 256:
            raise InvalidToken("The token has no usable key id", reason="bad_kid")
        typ = header.get("typ")
        if typ is None and self.strict_typ:
            raise InvalidToken(
                "The token type must be at+jwt",
                reason="bad_typ",
                detail={"expected": sorted(self.typ_allowed), "actual": None},
            )
        if typ is not None and (not isinstance(typ, str) or typ.lower() not in self.typ_allowed):
            raise InvalidToken(
                self.typ_message,
                reason="bad_typ",
                detail={"expected": sorted(self.typ_allowed), "actual": typ},
            )
        result = (alg, kid, header)
        if len(self.memo) >= _HEADER_CACHE_SIZE:
            self.memo.clear()
        self.memo[segment] = result
        return result


def peek_issuer(token: str) -> str | None:
    """The unverified ``iss`` of a JWS-shaped token, or ``None`` (routing only, never trust)."""
    try:
        data, first, second = _split(token)
        payload = _json_object(data[first + 1 : second], "payload")
    except InvalidToken:
        return None
    iss = payload.get("iss")
    return iss if isinstance(iss, str) else None


def parse_jws(token: str, policy: JwtPolicy, rules: _HeaderRules) -> Jws:
    """Rules 1 and 2: shape and header, with no cryptography yet."""
    if len(token) > policy.max_size:
        raise InvalidToken("The token is too large", reason="oversized")
    data, first, second = _split(token)
    alg, kid, header = rules.check(data[:first])
    return Jws(
        alg, kid, header, data[:second], _b64decode(data[second + 1 :]), data[first + 1 : second]
    )


def verify_signature(jws: Jws, key: SigningKey) -> None:
    """Rule 3: raise unless ``key`` verifies the signature with the token's algorithm."""
    if jws.alg not in key.algorithms:
        raise InvalidToken("The token's algorithm does not fit its key", reason="alg_key_mismatch")
    if not key.verify(jws.alg, jws.signature, jws.signing_input):
        raise InvalidToken("The token signature is invalid", reason="bad_signature")


def decode_payload(jws: Jws) -> dict[str, Any]:
    """Rule 4 (call only after :func:`verify_signature`)."""
    return _json_object(jws.payload_segment, "payload")


def _number(claims: dict[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidToken(f"The token's {name} claim is not a number", reason=f"bad_{name}")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise InvalidToken(f"The token's {name} claim is not a finite number", reason=f"bad_{name}")
    return number


def _audience_ok(aud: object, accepted: frozenset[str]) -> bool:
    if isinstance(aud, str):
        return aud in accepted
    if isinstance(aud, list):
        return any(isinstance(a, str) and a in accepted for a in aud)
    return False


def _skew(claim: str, value: float, now: float, leeway: float) -> dict[str, object]:
    """Diagnostic detail for a time claim: its value, our clock, and how far apart they are."""
    return {claim: value, "now": round(now), "skew_seconds": round(value - now), "leeway": leeway}


def check_claims(claims: dict[str, Any], policy: JwtPolicy, now: float) -> None:
    """Rule 5: issuer, audience, lifetime and required claims."""
    iss = claims.get("iss")
    if not isinstance(iss, str) or iss not in policy.issuers:
        raise InvalidToken(
            "The token was issued by another issuer",
            reason="wrong_issuer",
            detail={"expected": sorted(policy.issuers), "actual": iss},
        )
    if not _audience_ok(claims.get("aud"), policy.audiences):
        raise InvalidToken(
            "The token is meant for another audience",
            reason="wrong_audience",
            detail={"expected": sorted(policy.audiences), "actual": claims.get("aud")},
        )
    exp = _number(claims, "exp")
    if exp is None:
        raise InvalidToken("The token has no expiry", reason="no_exp")
    leeway = policy.leeway
    if exp <= now - leeway:
        raise InvalidToken(
            "The token expired", reason="expired", detail=_skew("exp", exp, now, leeway)
        )
    if exp > now + MAX_LIFETIME:
        raise InvalidToken("The token's expiry is implausibly far ahead", reason="bad_exp")
    nbf = _number(claims, "nbf")
    if nbf is not None and nbf > now + leeway:
        raise InvalidToken(
            "The token is not valid yet",
            reason="not_yet_valid",
            detail=_skew("nbf", nbf, now, leeway),
        )
    iat = _number(claims, "iat")
    if iat is not None and iat > now + leeway:
        raise InvalidToken(
            "The token was issued in the future",
            reason="issued_in_future",
            detail=_skew("iat", iat, now, leeway),
        )
    for name in policy.required_claims:
        if name not in claims:
            raise InvalidToken(
                f"The token lacks the {name} claim",
                reason="missing_claim",
                detail={"expected": name, "actual": sorted(claims)},
            )


def header_rules(policy: JwtPolicy) -> _HeaderRules:
    """The header checker (with its memo) for ``policy``; keep one per policy."""
    return _HeaderRules(policy)


def as_frozenset(field: str, value: str | Iterable[str]) -> frozenset[str]:
    """A non-empty set of non-empty strings from one string or many."""
    items = (value,) if isinstance(value, str) else tuple(value)
    if not items or not all(isinstance(item, str) and item for item in items):
        raise ConfigError(field, "give a non-empty string or a list of non-empty strings")
    return frozenset(items)
