"""Sans-I/O JWT access-token validation: the hot path.

Checks run in this order; the first failure raises :class:`~p1guard.errors.InvalidToken`
with a ``reason`` naming it:

1. Size (``max_size`` characters, default 32 KiB) and shape: three non-empty base64url
   segments (no padding, no other characters), each in its one canonical spelling (the
   unused bits of its last character zero, :func:`canonical_segment`) — before any decoding.
   Else one signature would have several spellings, each a different token string.
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
   PingOne's ``env`` claim, when the token has one and the policy knows the environment id,
   equal to it (case-insensitive); configured required claims present.

Headers are parsed once per distinct header segment (a PingOne key signs thousands of tokens
with byte-identical headers), and only valid headers are remembered.

Hot path (:class:`~p1guard.Guard` on a new token whose key is cached): :func:`verify_compact`
does rules 1–5 on the token's ASCII bytes (which the Guard has already hashed for its cache):
:func:`parse_compact` (rules 1–2), the key lookup, :func:`verify_jws` (rules 3–5, with fewer
call layers than the step functions; tests hold them to the step functions' answers). Rule 1's
alphabet check is one ``bytes.translate`` into the standard base64 alphabet that maps every
other byte to ``0x80`` (then ``isascii()`` is the check), and the translated segments are what
gets decoded. :func:`check_claims` accepts the common claim shapes with one expression before
its full checks.
"""

from __future__ import annotations

import binascii
import json
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, Protocol

from p1guard._tokens.keys import ALGORITHMS, SigningKey
from p1guard.errors import ConfigError, InvalidToken

__all__ = [
    "Jws",
    "JwtPolicy",
    "KeySource",
    "canonical_segment",
    "canonical_spelling",
    "check_claims",
    "decode_payload",
    "lenient_b64decode",
    "parse_compact",
    "parse_jws",
    "peek_issuer",
    "verify_compact",
    "verify_jws",
]

MAX_TOKEN_SIZE = 32 * 1024
#: Expiries further ahead than this are refused (PingOne's longest access token lives 30 days).
MAX_LIFETIME = 10 * 365 * 86400.0
_BASE64URL = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_TO_STANDARD = bytes.maketrans(b"-_", b"+/")


def _shape_table() -> bytes:
    # base64url → standard alphabet, "." kept, every other byte → 0x80 (so not ASCII).
    table = bytearray(b"\x80" * 256)
    for char in _BASE64URL:
        table[char] = char
    table[ord("-")], table[ord("_")], table[ord(".")] = ord("+"), ord("/"), ord(".")
    return bytes(table)


_SHAPE_TABLE = _shape_table()
# Rule 1's canonical spelling, by segment length mod 4: the characters the last one may be.
# 2 left over: 4 unused bits, so 6-bit values 0/16/32/48; 3 left over: 2 unused bits, so
# multiples of 4; 1 left over is never valid. "-"/"_" (62/63) and "+"/"/" share the sets.
_CANONICAL_LAST = (b"", b"", b"AQgw", b"AEIMQUYcgkosw048")
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
    #: PingOne environment id (lower case) an ``env`` claim must equal; ``None``: not checked.
    environment: str | None = None

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
    """A structurally valid compact JWS whose signature is not yet checked.

    ``payload_segment`` is the payload's base64 text, already in the standard alphabet.
    """

    alg: str
    kid: str
    header: dict[str, Any]
    signing_input: bytes
    signature: bytes
    payload_segment: bytes


def _b64decode(segment: bytes) -> bytes:
    # The alphabet was checked by _shape; only the length can still be impossible.
    return _b64std(segment.translate(_TO_STANDARD))


def _b64std(segment: bytes) -> bytes:
    # ``segment`` holds standard-alphabet characters only (checked by _shape, no "=").
    if len(segment) % 4 == 1:
        raise InvalidToken("The token is not valid base64url", reason="malformed")
    try:
        return _a2b(segment + b"==")
    except binascii.Error as exc:  # pragma: no cover - unreachable after _shape
        raise InvalidToken("The token is not valid base64url", reason="malformed") from exc


_a2b = binascii.a2b_base64


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
    """``segment`` (base64url or standard alphabet) as a JSON object, else ``malformed``."""
    raw = _b64decode(segment)
    try:
        value = _STRICT.decode(raw.decode("utf-8")) if strict else _payload_loads(raw)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise InvalidToken(f"The token {part} is not JSON", reason="malformed") from exc
    if not isinstance(value, dict):
        raise InvalidToken(f"The token {part} is not a JSON object", reason="malformed")
    return value


def _shape(data: bytes) -> list[bytes]:
    """Rule 1's shape check on ASCII bytes: the three segments in the standard base64 alphabet.

    >>> _shape(b"aQ.c-A.e_A")
    [b'aQ', b'c+A', b'e/A']
    """
    std = data.translate(_SHAPE_TABLE)
    parts = std.split(b".")
    # A byte outside base64url and "." became 0x80, so isascii() is the alphabet check.
    if len(parts) != 3 or not (parts[0] and parts[1] and parts[2]) or not std.isascii():
        raise InvalidToken("The token is not a signed JWT", reason="malformed")
    for part in parts:
        tail = len(part) & 3
        if tail and part[-1] not in _CANONICAL_LAST[tail]:
            if tail == 1:  # no spelling of any bytes has this length
                raise InvalidToken("The token is not valid base64url", reason="malformed")
            raise InvalidToken(
                "The token is not canonical base64url", reason="non_canonical_base64url"
            )
    return parts


def canonical_segment(segment: str | bytes) -> bool:
    """Whether a base64url (or standard-alphabet, unpadded) segment is in its one canonical
    spelling: a possible length, and zero unused bits in its last character (rule 1). The
    alphabet itself is checked elsewhere.

    >>> canonical_segment("AQ"), canonical_segment("AR"), canonical_segment("A")
    (True, False, False)
    """
    data = segment.encode("ascii", "replace") if isinstance(segment, str) else segment
    tail = len(data) & 3
    return not tail or (bool(data) and data[-1] in _CANONICAL_LAST[tail])


def _split(token: str) -> list[bytes]:
    """Rule 1 on a ``str``: :func:`_shape` of its ASCII bytes."""
    try:
        return _shape(token.encode("ascii"))
    except UnicodeEncodeError:
        raise InvalidToken("The token is not a signed JWT", reason="malformed") from None


_new_tuple = tuple.__new__


class _HeaderRules:
    """Rule 2, with a small memo of headers that passed (keyed by the standard-alphabet
    segment)."""

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


def unverified_issuer(jws: Jws) -> object:
    """The ``iss`` member of a parsed token's payload, *unverified*, or ``None`` — so the
    Guard can refuse a foreign token before it looks for (and fetches) a key."""
    try:
        return _payload(jws.payload_segment).get("iss")
    except InvalidToken:
        return None


def lenient_b64decode(segment: str) -> bytes:
    """A base64url segment's bytes with its unused bits ignored — for reading *any* spelling
    of a token (routing, denials), never for accepting one (rule 1 refuses those).

    >>> lenient_b64decode("c2k") == lenient_b64decode("c2l") == b"si"
    True
    """
    if not segment or len(segment) % 4 == 1:
        raise ValueError("impossible base64url length")
    return binascii.a2b_base64(segment.encode("ascii").translate(_TO_STANDARD) + b"==")


def canonical_spelling(token: str) -> str:
    """``token`` with every segment re-encoded in its one canonical base64url spelling (unused
    bits cleared), or unchanged when it is not three decodable segments — so a respelled copy
    handed to :meth:`Guard.deny <p1guard.Guard.deny>` names the token it copies.

    >>> canonical_spelling("eyJhIjoxfQ.eyJiIjoyfR.c2lo")
    'eyJhIjoxfQ.eyJiIjoyfQ.c2lo'
    """
    parts = token.split(".") if token.isascii() else ()
    if len(parts) != 3:
        return token
    try:
        raw = [lenient_b64decode(part) for part in parts]
    except (ValueError, binascii.Error):
        return token
    urlsafe = bytes.maketrans(b"+/", b"-_")
    return ".".join(
        binascii.b2a_base64(r, newline=False).rstrip(b"=").translate(urlsafe).decode() for r in raw
    )


def peek_issuer(token: str) -> str | None:
    """The unverified ``iss`` of a JWS-shaped token, or ``None`` (routing only, never trust).

    Read leniently (unused bits ignored), so a non-canonical copy of a token of ours is routed
    to the local checks, which refuse it, rather than to introspection.

    >>> peek_issuer("eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJodHRwczovL2EifQ.c2lo")
    'https://a'
    """
    parts = token.split(".") if token.isascii() else ()
    if len(parts) != 3:
        return None
    try:
        payload = _payload_loads(lenient_b64decode(parts[1]))
    except (ValueError, RecursionError, binascii.Error):
        return None
    iss = payload.get("iss") if isinstance(payload, dict) else None
    return iss if isinstance(iss, str) else None


def parse_jws(token: str, policy: JwtPolicy, rules: _HeaderRules) -> Jws:
    """Rules 1 and 2: shape and header, with no cryptography yet."""
    if len(token) > policy.max_size:
        raise InvalidToken("The token is too large", reason="oversized")
    try:
        data = token.encode("ascii")
    except UnicodeEncodeError:
        raise InvalidToken("The token is not a signed JWT", reason="malformed") from None
    return parse_compact(data, policy, rules)


def parse_compact(data: bytes, policy: JwtPolicy, rules: _HeaderRules) -> Jws:
    """:func:`parse_jws` for a token already encoded as ASCII bytes (the Guard's hot path)."""
    if len(data) > policy.max_size:
        raise InvalidToken("The token is too large", reason="oversized")
    header_segment, payload, signature = _shape(data)
    hit = rules.memo.get(header_segment)
    alg, kid, header = rules.check(header_segment) if hit is None else hit
    signing_input = data[: len(header_segment) + 1 + len(payload)]
    # tuple.__new__: a NamedTuple's own __new__ is a Python function (≈ 0.1 µs more).
    return _new_tuple(Jws, (alg, kid, header, signing_input, _b64std(signature), payload))


def verify_signature(jws: Jws, key: SigningKey) -> None:
    """Rule 3: raise unless ``key`` verifies the signature with the token's algorithm."""
    if jws.alg not in key.algorithms:
        raise InvalidToken("The token's algorithm does not fit its key", reason="alg_key_mismatch")
    if not key.verify(jws.alg, jws.signature, jws.signing_input):
        raise InvalidToken("The token signature is invalid", reason="bad_signature")


def decode_payload(jws: Jws) -> dict[str, Any]:
    """Rule 4 (call only after :func:`verify_signature`)."""
    return _payload(jws.payload_segment)


def _payload(segment: bytes) -> dict[str, Any]:
    """Rule 4 on a standard-alphabet segment."""
    try:
        value = _payload_loads(_b64std(segment))
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise InvalidToken("The token payload is not JSON", reason="malformed") from exc
    if type(value) is not dict:  # JSON objects only ever decode to a plain dict
        raise InvalidToken("The token payload is not a JSON object", reason="malformed")
    return value


class KeySource(Protocol):
    """Where :func:`verify_compact` finds keys: :class:`p1guard._tokens.jwks.JwksCache` fits."""

    def fresh_key(self, kid: str, now: float) -> SigningKey | None:
        """The trusted key for ``kid`` if known and fresh (``now``: monotonic), else ``None``."""


def verify_compact(
    data: bytes, policy: JwtPolicy, rules: _HeaderRules, keys: KeySource, now: float
) -> dict[str, Any] | None:
    """Rules 1–5 on a token's ASCII bytes in one call: the Guard's hot path for a new token.

    Returns the verified claims, or ``None`` when ``keys`` has no fresh key for the token's
    ``kid`` (the caller then fetches keys and uses :func:`parse_jws` and :func:`verify_jws`):
    :func:`parse_compact`, the key lookup, then :func:`verify_jws`.
    """
    jws = parse_compact(data, policy, rules)
    key = keys.fresh_key(jws.kid, time.monotonic())
    if key is None:
        return None
    return verify_jws(jws, key, policy, now)


def verify_jws(jws: Jws, key: SigningKey, policy: JwtPolicy, now: float) -> dict[str, Any]:
    """Rules 3, 4 and 5 in one call: the verified claims of ``jws``, else :class:`InvalidToken`.

    The same checks as :func:`verify_signature`, :func:`decode_payload` and
    :func:`check_claims` in a row, with fewer call layers (the Guard's hot path).
    """
    check = key.verifiers.get(jws.alg)
    if check is None:  # the key's verifiers are exactly its algorithms
        raise InvalidToken("The token's algorithm does not fit its key", reason="alg_key_mismatch")
    if not check(jws.signature, jws.signing_input):
        raise InvalidToken("The token signature is invalid", reason="bad_signature")
    claims = _payload(jws.payload_segment)
    check_claims(claims, policy, now)
    return claims


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
    """Rule 5: issuer, audience, lifetime and required claims.

    The common shape (integer times in a plausible range, a string or list ``aud``) is
    accepted by one expression first: integers in these ranges convert to floats exactly, so
    each comparison answers as the full checks below would. Any other shape or value (floats,
    huge or negative integers, bools, missing or odd claims, required claims) goes through the
    full checks, which alone decide every refusal.
    """
    get = claims.get
    iss, aud, exp, nbf, iat = get("iss"), get("aud"), get("exp"), get("nbf"), get("iat")
    ahead = now + policy.leeway
    env = get("env")
    if (
        type(iss) is str
        and iss in policy.issuers
        and (aud in policy.audiences if type(aud) is str else _audience_ok(aud, policy.audiences))
        and type(exp) is int
        and now - policy.leeway < exp <= now + MAX_LIFETIME
        and (nbf is None or (type(nbf) is int and 0 <= nbf <= ahead))
        and (iat is None or (type(iat) is int and 0 <= iat <= ahead))
        and (env is None or env == policy.environment or policy.environment is None)
        and not policy.required_claims
    ):
        return
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
    if (
        env is not None
        and policy.environment is not None
        and (not isinstance(env, str) or env.lower() != policy.environment)
    ):
        raise InvalidToken(
            "The token was issued for another PingOne environment",
            reason="wrong_environment",
            detail={"expected": policy.environment, "actual": env},
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
