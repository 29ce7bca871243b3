"""DPoP proofs, the resource-server side (RFC 9449 §4.3, §7, §9), sans-I/O.

:func:`check_proof` checks one ``DPoP`` header against the request it came with; the
:class:`~p1guard.Guard` then compares the proof's key with the token's ``cnf.jkt`` and records
the proof against replay (:class:`ReplayCache` in memory, or the shared Redis cache). The
client side is :class:`~p1guard.DPoPKey`.

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
   (:class:`ReplayCache` rules 2–3).

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
import heapq
import hmac
import json
import logging
import math
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from p1guard._sender.binding import access_token_hash, b64url, jwk_thumbprint
from p1guard._tokens.jwt import canonical_segment
from p1guard._tokens.keys import ALGORITHMS, PREFERRED_ORDER, public_key_from_jwk
from p1guard._values import Seconds, to_seconds
from p1guard.errors import ConfigError, InvalidDPoPProof, UseDPoPNonce

log = logging.getLogger("p1guard.dpop")

__all__ = [
    "DEFAULT_DPOP_ALGORITHMS",
    "MAX_PROOF_SIZE",
    "CheckedProof",
    "DPoPNonces",
    "DPoPPolicy",
    "ReplayCache",
    "check_proof",
    "normalize_htu",
    "ordered_algorithms",
    "replay_key",
]

#: Longest proof accepted, in characters (a proof with an RSA-4096 ``jwk`` is about 1.5 KiB).
MAX_PROOF_SIZE = 8192
#: Every asymmetric algorithm p1guard verifies, most preferred first (``algs="…"`` order).
DEFAULT_DPOP_ALGORITHMS: tuple[str, ...] = tuple(a for a in PREFERRED_ORDER if a in ALGORITHMS)
_MAX_JTI = 256
_PURGE_BATCH = 64  # expired replay entries purged per call, at most
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


# -- replay ---------------------------------------------------------------------------------


def replay_key(scope: bytes, jkt: str, jti: str) -> bytes:
    """The replay-cache key of a proof: SHA-256 over ``scope``, its key thumbprint and ``jti``.

    >>> len(replay_key(b"api", "jkt", "jti"))
    32
    """
    data = b"%s|%s|%s" % (scope, jkt.encode(), jti.encode("utf-8", "surrogatepass"))
    return hashlib.sha256(data).digest()


class ReplayCache:
    """In-process record of used proofs, each kept until it could no longer be accepted.

    Rules (the Redis record, :meth:`~p1guard.RedisCache.remember_proof`, follows
    the same ones):

    1. An entry lives until its ``until`` (``iat + window + leeway + 1``). A key recorded and
       still live is a replay (:meth:`remember` answers ``False``); expired entries are purged
       first, and an expired key may be recorded again.
    2. The record never holds more than ``maxsize`` entries, and a fresh key is never refused
       because it is full, whatever keys others use: when it is full of live entries, the
       oldest entry of the ``owner`` (key thumbprint) holding the most live entries is evicted
       (the recording owner's own if it is one of them, else any one of them), then the new
       key is recorded. :attr:`evictions` counts them; a warning is logged at most every 30
       seconds.
    3. So a live entry is forgotten only while its owner holds at least as many live entries
       as every other owner, and by another owner's proof only if that owner holds fewer:
       replay detection holds for every key but the busiest one. A flood weakens only the
       flooder's own replay protection, unless an honest client holds at least as many live
       entries as every attacker key (keep ``maxsize`` well above your honest traffic's live
       proofs).
    4. Each call costs O(log n) amortised, whatever the number of owners: no scan of them.

    >>> cache = ReplayCache(maxsize=1)
    >>> cache.remember(b"k1", until=100.0, now=50.0), cache.remember(b"k1", until=100.0, now=60.0)
    (True, False)
    >>> cache.remember(b"k2", until=200.0, now=100.0)   # k1 expired at 100: room again
    True
    >>> cache.remember(b"k3", until=300.0, now=150.0), cache.evictions   # full: k2 evicted
    (True, 1)
    """

    __slots__ = (
        "_buckets",
        "_expiries",
        "_lock",
        "_owners",
        "_seen",
        "_top",
        "_warned_at",
        "evictions",
        "maxsize",
    )

    def __init__(self, maxsize: int = 100_000) -> None:
        if not isinstance(maxsize, int) or isinstance(maxsize, bool) or maxsize < 1:
            raise ConfigError("dpop_replay_size", "must be a positive integer")
        self.maxsize = maxsize
        #: Live entries evicted because the record was full (rule 2).
        self.evictions = 0
        self._seen: dict[bytes, tuple[float, str]] = {}
        # Min-heap of (until, key); an item whose key is gone or re-recorded is stale.
        self._expiries: list[tuple[float, bytes]] = []
        # Per owner its entries, oldest first (an OrderedDict: its first item is O(1) however
        # many were removed before it, a dict's is not); owners by live count; the top count.
        self._owners: dict[str, OrderedDict[bytes, None]] = {}
        self._buckets: dict[int, set[str]] = {}
        self._top = 0
        self._warned_at = -math.inf
        self._lock = threading.Lock()

    def remember(self, key: bytes, until: float, now: float, owner: str = "") -> bool:
        """Record ``key`` of ``owner`` until ``until``; ``False`` if it is recorded and live.

        ``owner`` is the proof key's thumbprint (``""``: none, all such keys share one owner).
        Never refuses a fresh key (rule 2).
        """
        evicted_owner: str | None = None
        with self._lock:
            seen, expiries = self._seen, self._expiries
            if expiries and expiries[0][0] <= now:
                self._purge(now)
            known = seen.get(key)
            if known is not None:
                if known[0] > now:
                    return False
                self._drop(key, known[1])
            if len(seen) >= self.maxsize:
                evicted_owner = self._make_room(now, owner)
            # Record (inlined: this is every request's path).
            seen[key] = (until, owner)
            heapq.heappush(expiries, (until, key))
            buckets = self._buckets
            entries = self._owners.get(owner)
            if entries is None:
                self._owners[owner] = OrderedDict(((key, None),))
                count = 1
            else:
                count = len(entries) + 1
                entries[key] = None
                holders = buckets[count - 1]
                if len(holders) == 1:
                    del buckets[count - 1]
                else:
                    holders.remove(owner)
            above = buckets.get(count)
            if above is None:
                buckets[count] = {owner}
            else:
                above.add(owner)
            if count > self._top:
                self._top = count
            if len(expiries) > 2 * len(seen) + 64:
                # Evictions and re-recorded keys leave stale items: keep the heap bounded.
                self._expiries = [(entry[0], k) for k, entry in seen.items()]
                heapq.heapify(self._expiries)
            if evicted_owner is None:
                return True
            clock = time.monotonic()
            if clock - self._warned_at <= 30:
                return True
            self._warned_at = clock
            size = len(seen)
        log.warning(
            "DPoP replay record full (%d entries): evicted the oldest proofs of the busiest key"
            " (jkt hash %s); raise dpop_replay_size",
            size,
            hashlib.sha256(evicted_owner.encode()).hexdigest()[:12],
        )
        return True

    def _purge(self, now: float) -> None:
        """Drop up to :data:`_PURGE_BATCH` expired or stale heap items (the lock is held).

        Bounded so one call costs O(log n) at worst; the backlog drains, since each call adds
        one item at most.
        """
        seen, expiries = self._seen, self._expiries
        for _ in range(_PURGE_BATCH):
            if not expiries or expiries[0][0] > now:
                return
            expiry, old = heapq.heappop(expiries)
            entry = seen.get(old)
            if entry is not None and entry[0] == expiry:
                self._drop(old, entry[1])

    def _make_room(self, now: float, owner: str) -> str | None:
        """Free one place for ``owner`` (the lock is held): an expired entry if any, else
        evict (rule 2). Returns the owner evicted from, or ``None`` if nothing live went.
        """
        seen, expiries = self._seen, self._expiries
        while expiries:  # the earliest live entry tells whether anything has expired
            expiry, old = expiries[0]
            entry = seen.get(old)
            if entry is not None and entry[0] == expiry:
                if expiry > now:
                    break
                self._drop(old, entry[1])
            heapq.heappop(expiries)
            if len(seen) < self.maxsize:
                return None
        mine = self._owners.get(owner)
        if mine is None or len(mine) < self._top:
            # set.pop resumes where it stopped, so it stays O(1) where next(iter(set)) would
            # rescan the slots freed by earlier evictions; _drop files the owner one lower.
            owner = self._buckets[self._top].pop()
            mine = self._owners[owner]
        self._drop(next(iter(mine)), owner)
        self.evictions += 1
        return owner

    def _drop(self, key: bytes, owner: str) -> None:
        """Forget ``key`` and keep the owner counts (the lock is held)."""
        del self._seen[key]
        entries = self._owners[owner]
        count = len(entries)
        del entries[key]
        buckets = self._buckets
        holders = buckets[count]
        holders.discard(owner)
        if not holders:
            del buckets[count]
            if count == self._top:
                self._top = count - 1  # this owner now holds count - 1 (or nothing is left)
        if count > 1:
            lower = buckets.get(count - 1)
            if lower is None:
                buckets[count - 1] = {owner}
            else:
                lower.add(owner)
        else:
            del self._owners[owner]

    def __contains__(self, key: object) -> bool:
        """Whether ``key`` is held (live, or expired and not yet purged)."""
        with self._lock:
            return key in self._seen

    def __len__(self) -> int:
        return len(self._seen)


def ordered_algorithms(algorithms: Iterable[str]) -> tuple[str, ...]:
    """``algorithms`` in p1guard's order of preference (for ``algs="…"``).

    >>> ordered_algorithms(["RS256", "ES256"])
    ('ES256', 'RS256')
    """
    wanted = set(algorithms)
    return tuple(alg for alg in PREFERRED_ORDER if alg in wanted)
