"""Revocation by the app itself: what :meth:`Guard.deny <p1guard.Guard.deny>` records, and how long.

Rules:

1. **A denial names the token, not its spelling.** One signature has many spellings (the
   unused bits of a base64url segment's last character; an ECDSA signature ``(r, s)`` also
   verifies as ``(r, n − s)``), so a denial keyed by the token string would let a respelled
   copy through. :func:`revocation_id` is, in this order:

   a. ``iss`` and ``jti`` of the payload, when both are strings (PingOne always sends
      ``jti``; a verified token's pair can only come from its issuer);
   b. else the decoded signature bytes, an ECDSA ``s`` normalised to the lower of ``s`` and
      ``n − s`` (high-s signatures are *not* refused: honest signers make them half the time);
   c. else, for a token that is no JWS (an opaque token), the SHA-256 of the token itself.

   Decoding here is lenient on purpose (unused bits ignored), so that a non-canonical copy
   handed to ``deny`` names the same token. Nothing here is trusted: the identity only ever
   *refuses*, and a token is checked against it after it verified.
2. **Only a token the Guard would accept is denied, until it could no longer be accepted.**
   :meth:`Guard.deny <p1guard.Guard.deny>` first verifies the token as :meth:`Guard.verify
   <p1guard.Guard.verify>` would (cached answer, else signature and claims, or introspection),
   so its identity and ``exp`` are the verified ones: a forged copy carrying a victim's ``iss``
   and ``jti`` can neither deny the real token nor fill the store. A token the Guard refuses
   anyway (bad signature, expired, another audience, inactive) is not recorded. The denial
   lasts until the verified ``exp`` plus the Guard's leeway; for an opaque token whose answer
   gave no ``exp``, PingOne's longest access-token lifetime (:data:`LONGEST_LIFETIME`, 30
   days).
3. **Denials live in a store of their own** (:class:`DenialStore`), never in a cache: nothing
   evicts a live denial. The store is bounded; when it is full of live denials, a new denial
   is refused loudly — :class:`~p1guard.errors.DenylistFull` is raised and an ERROR logged —
   rather than a live one forgotten.
4. With ``Guard(denylist=True)`` denials are also written to Redis under
   ``<prefix>deny:<sha256(identity)>`` (:func:`shared_key`) with the same lifetime, and every
   request asks Redis; see :mod:`p1guard._tokens.shared_cache` for what happens when Redis fails.
"""

from __future__ import annotations

import binascii
import hashlib
import heapq
import json
import logging
import math
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from p1guard._http.flow import Flow
from p1guard._tokens.jwt import lenient_b64decode
from p1guard.errors import ConfigError, DenylistFull, InvalidToken, ProviderUnavailable

if TYPE_CHECKING:
    from p1guard._tokens.shared_cache import RedisCache

__all__ = [
    "LONGEST_LIFETIME",
    "DenialStore",
    "Denylist",
    "denial_until",
    "revocation_id",
    "shared_key",
]

log = logging.getLogger("p1guard.guard")

#: PingOne's longest access-token lifetime (30 days): how long an opaque token is denied
#: when nothing tells its expiry.
LONGEST_LIFETIME = 30 * 86400.0
#: Denials further ahead than this are cut to it (the JWT rules refuse such expiries anyway).
_MAX_DENIAL = 10 * 365 * 86400.0

# Group orders of the ECDSA curves (SEC 2 / FIPS 186-4), by JWS algorithm: n − s is the
# other valid spelling of a signature's s.
_CURVE_ORDERS = {
    "ES256": 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    "ES384": int(
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973",
        16,
    ),
    "ES512": int(
        "01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"
        "FA51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409",
        16,
    ),
}


def _object(segment: str) -> dict[str, Any] | None:
    try:
        value = json.loads(lenient_b64decode(segment))
    except (ValueError, RecursionError, binascii.Error):  # UnicodeError is a ValueError
        return None
    return value if isinstance(value, dict) else None


def _low_s(alg: object, signature: bytes) -> bytes:
    """Rule 1b: an ECDSA ``r || s`` with ``s`` replaced by ``min(s, n − s)``."""
    order = _CURVE_ORDERS.get(alg) if isinstance(alg, str) else None
    if order is None or not signature or len(signature) % 2:
        return signature
    half = len(signature) // 2
    s = int.from_bytes(signature[half:], "big")
    if 0 < s < order:
        s = min(s, order - s)
    return signature[:half] + s.to_bytes(half, "big")


def _jti_id(issuer: str, jti: str) -> str:
    # Length-prefixed, so no issuer/jti pair can collide with another.
    return f"j{len(issuer)}:{issuer}{jti}"


def revocation_id(token: str, claims: Mapping[str, Any] | None = None) -> str:
    """Rule 1: the identity a denial of ``token`` is recorded under.

    ``claims`` are the token's verified claims when the caller has them (the Guard, after a
    check), which saves decoding the payload again; they equal the payload's.

    >>> a = revocation_id("eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJodHRwczovL2lzcyIsImp0aSI6IjEifQ.c2ln")
    >>> a == revocation_id("eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJodHRwczovL2lzcyIsImp0aSI6IjEifQ.c2lo")
    True
    >>> revocation_id("an-opaque-token")[:1]
    't'
    """
    if claims is not None:
        iss, jti = claims.get("iss"), claims.get("jti")
        if type(iss) is str and type(jti) is str:
            return _jti_id(iss, jti)
    parts = token.split(".") if token.isascii() else ()
    if len(parts) == 3:
        payload = _object(parts[1]) if claims is None else claims
        if payload is not None:
            iss, jti = payload.get("iss"), payload.get("jti")
            if type(iss) is str and type(jti) is str:
                return _jti_id(iss, jti)
        header = _object(parts[0])
        try:
            signature = lenient_b64decode(parts[2])
        except (ValueError, binascii.Error):
            signature = b""
        if header is not None and signature:
            normal = _low_s(header.get("alg"), signature)
            return "s" + hashlib.sha256(normal).hexdigest()
    return "t" + hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def denial_until(exp: float | None, now: float, leeway: float) -> float:
    """Rule 2: until when a denial must hold (epoch seconds), from the *verified* token's
    ``exp`` (``None``: an opaque token whose answer gave none).

    >>> denial_until(None, now=1000.0, leeway=30.0) == 1000.0 + LONGEST_LIFETIME + 30.0
    True
    >>> denial_until(5000.0, now=1000.0, leeway=30.0)
    5030.0
    """
    if exp is None or not math.isfinite(exp):
        exp = now + LONGEST_LIFETIME
    return min(exp + leeway, now + _MAX_DENIAL)


def shared_key(identity: str) -> bytes:
    """Rule 4: the digest a denial is stored under in Redis (no token text reaches Redis)."""
    return hashlib.sha256(identity.encode("utf-8", "surrogatepass")).digest()


class DenialStore:
    """Rule 3: denials by identity, each kept until its own time, never evicted while live.

    >>> store = DenialStore(maxsize=1)
    >>> store.add("j1:ab", until=100.0, now=0.0); store.holds("j1:ab", now=50.0)
    True
    >>> store.add("j1:cd", until=200.0, now=50.0)
    Traceback (most recent call last):
    p1guard.errors.DenylistFull: The denylist is full (1 live denials); the token was not denied
    >>> store.add("j1:cd", until=200.0, now=100.0)   # the first expired: room again
    """

    __slots__ = ("_expiries", "_lock", "_until", "maxsize")

    def __init__(self, maxsize: int = 100_000) -> None:
        if not isinstance(maxsize, int) or isinstance(maxsize, bool) or maxsize < 1:
            raise ConfigError("denial_limit", "must be a positive integer")
        self.maxsize = maxsize
        self._until: dict[str, float] = {}
        self._expiries: list[tuple[float, str]] = []
        self._lock = threading.Lock()

    def holds(self, identity: str, now: float) -> bool:
        """Whether ``identity`` is denied at ``now`` (one ``dict.get``, no lock)."""
        until = self._until.get(identity)
        return until is not None and now < until

    def add(self, identity: str, until: float, now: float) -> None:
        """Deny ``identity`` until ``until``; :class:`~p1guard.errors.DenylistFull` when the
        store is full of live denials (an ERROR is logged too)."""
        if until <= now:
            return  # rule 2: the token can no longer be accepted anyway
        with self._lock:
            entries, expiries = self._until, self._expiries
            while expiries and expiries[0][0] <= now:
                expiry, old = heapq.heappop(expiries)
                if entries.get(old) == expiry:
                    del entries[old]
            known = entries.get(identity)
            if known is None and len(entries) >= self.maxsize:
                log.error(
                    "denylist full (%d live denials): a token was NOT denied; "
                    "raise Guard(denial_limit=…) or shorten token lifetimes",
                    len(entries),
                )
                raise DenylistFull(len(entries))
            if known is not None and known >= until:
                return
            entries[identity] = until
            heapq.heappush(expiries, (until, identity))
            if len(expiries) > 2 * len(entries) + 64:  # superseded times: rebuild, stay bounded
                self._expiries = [(t, name) for name, t in entries.items()]
                heapq.heapify(self._expiries)

    def __len__(self) -> int:
        return len(self._until)

    def __bool__(self) -> bool:
        return bool(self._until)


class Denylist:
    """The denials of one Guard: a :class:`DenialStore` and, with ``shared`` (``Guard(denylist=
    True)``), Redis (rule 4); ``fail_open`` accepts tokens while Redis cannot be read.
    """

    __slots__ = ("fail_open", "shared", "store")

    def __init__(self, limit: int, shared: RedisCache | None, fail_open: bool) -> None:
        self.store = DenialStore(limit)
        self.shared = shared
        self.fail_open = fail_open

    def check(self, identity: str, now: float) -> Flow[None]:
        """The Guard's step 5b; yields only to ask the shared denylist."""
        if self.store.holds(identity, now):
            raise InvalidToken("The token was revoked", reason="denied")
        shared = self.shared
        if shared is not None:
            denied = yield shared.denied(shared_key(identity))
            if denied is None and not self.fail_open:
                raise ProviderUnavailable(
                    "The shared denylist is unavailable", reason="denylist_unavailable"
                )
            if denied:
                raise InvalidToken("The token was revoked", reason="denied")

    def record(self, identity: str, until: float, now: float) -> Flow[None]:
        """Deny ``identity`` until ``until`` here and in Redis; a full store still shares it."""
        full: DenylistFull | None = None
        try:
            self.store.add(identity, until, now)
        except DenylistFull as exc:
            full = exc  # still shared below: the other workers may have room
        if self.shared is not None and until > now:
            written = yield self.shared.deny(shared_key(identity), until)
            if not written and not self.fail_open:
                raise ProviderUnavailable(
                    "The shared denylist is unavailable; the denial holds in this process only",
                    reason="denylist_unavailable",
                )
        if full is not None:
            raise full
