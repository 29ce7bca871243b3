"""Token introspection (RFC 7662): request, response rules and the result cache.

Rules:

1. The request is a POST of ``token`` and ``token_type_hint=access_token`` with client
   authentication (the custom resource's id and secret, HTTP Basic by default).
2. Only a JSON object with ``active`` exactly ``true`` means active; ``"true"``, ``1`` or a
   missing member mean inactive. Anything but a 200 JSON object is a provider failure (503).
3. An active answer must also have: a numeric ``exp`` in the future (with leeway) when present,
   numeric ``nbf`` and ``iat`` no later than now (with leeway) when present (``reason``
   ``"not_yet_valid"`` and ``"issued_in_future"``; ``"bad_nbf"``/``"bad_iat"`` when not a
   plausible time), ``iss`` equal to the issuer when present, an ``aud`` that holds an
   accepted audience (required: without it the token may be meant for another API), and a
   ``token_type``, when present, of an access token. ``token_type`` ``DPoP`` (compared
   case-insensitively, RFC 6749 §5.1) needs a ``cnf`` object with a ``jkt`` string (RFC 9449
   §6.2): without one the token is refused (``"dpop_without_cnf"``), never treated as a
   bearer token.
4. Answers are cached by the token's SHA-256: active ones until ``min(exp, now + ttl)``,
   refusals (inactive or failing rule 3) for ``negative_ttl``. Cached answers keep serving
   while PingOne is down; nothing else does. Concurrent introspections of one token share one call.
   With a shared cache, workers share PingOne's answers too (:func:`shared_or_fresh`).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cachetools import TLRUCache

from p1guard._client.auth import ClientAuth
from p1guard._http.flow import Flow, Request, Sleep, json_object
from p1guard._tokens.cache import token_id
from p1guard._tokens.tokens import AccessToken
from p1guard.errors import ConfigError, InvalidToken, ProviderUnavailable

if TYPE_CHECKING:
    from p1guard._tokens.discovery import Discovery
    from p1guard._tokens.shared_cache import RedisCache, SharedAnswer

__all__ = [
    "IntrospectionCache",
    "IntrospectionPolicy",
    "introspect",
    "read_answer",
    "shared_or_fresh",
]

# "dpop": RFC 9449 §6.2; such answers carry cnf.jkt, which the Guard then enforces.
_ACCESS_TOKEN_TYPES = frozenset(
    {"bearer", "dpop", "access_token", "urn:ietf:params:oauth:token-type:access_token"}
)

Answer = AccessToken | InvalidToken

#: Rule 3's "not in the future" members: (member, reason, description).
_NOT_BEFORE = (
    ("nbf", "not_yet_valid", "The token is not valid yet"),
    ("iat", "issued_in_future", "The token was issued in the future"),
)


@dataclass(frozen=True, slots=True)
class IntrospectionPolicy:
    """What an active introspection answer must satisfy, and how long answers are cached."""

    issuers: frozenset[str]
    audiences: frozenset[str]
    leeway: float = 30.0
    ttl: float = 60.0
    negative_ttl: float = 10.0


#: Expiries further ahead than this are treated as malformed (PingOne's longest is 30 days).
MAX_LIFETIME = 10 * 365 * 86400.0


def _plausible_time(value: object, now: float) -> bool:
    """A finite number of seconds no further than :data:`MAX_LIFETIME` ahead."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        seconds = float(value)
    except OverflowError:
        return False
    return math.isfinite(seconds) and seconds < now + MAX_LIFETIME


def _inactive(
    description: str, reason: str, detail: dict[str, object] | None = None
) -> InvalidToken:
    return InvalidToken(description, reason=reason, detail=detail)


def read_answer(
    document: dict[str, Any], policy: IntrospectionPolicy, now: float, token_id: str
) -> tuple[Answer, float]:
    """Rules 2 and 3: the answer (token or refusal) and until when it may be cached."""
    negative_until = now + policy.negative_ttl
    if document.get("active") is not True:
        return _inactive("The token is not active", "inactive"), negative_until
    exp = document.get("exp")
    if exp is not None:
        if not _plausible_time(exp, now):
            return _inactive("The token's expiry is malformed", "bad_exp"), negative_until
        if exp <= now - policy.leeway:
            skew = {"exp": exp, "now": round(now), "skew_seconds": round(exp - now)}
            return _inactive("The token expired", "expired", skew), negative_until
    for name, reason, description in _NOT_BEFORE:
        value = document.get(name)
        if value is None:
            continue
        if not _plausible_time(value, now):
            return _inactive(f"The token's {name} is malformed", f"bad_{name}"), negative_until
        if value > now + policy.leeway:
            skew = {name: value, "now": round(now), "skew_seconds": round(value - now)}
            return _inactive(description, reason, skew), negative_until
    iss = document.get("iss")
    if iss is not None and not (isinstance(iss, str) and iss in policy.issuers):
        detail = {"expected": sorted(policy.issuers), "actual": iss}
        return _inactive(
            "The token was issued by another issuer", "wrong_issuer", detail
        ), negative_until
    aud = document.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if not any(isinstance(a, str) and a in policy.audiences for a in audiences):
        detail = {"expected": sorted(policy.audiences), "actual": aud}
        return _inactive(
            "The token is meant for another audience", "wrong_audience", detail
        ), negative_until
    token_type = document.get("token_type")
    if token_type is not None and (
        not isinstance(token_type, str) or token_type.lower() not in _ACCESS_TOKEN_TYPES
    ):
        return _inactive("The token is not an access token", "bad_token_type"), negative_until
    if isinstance(token_type, str) and token_type.lower() == "dpop":
        cnf = document.get("cnf")
        jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
        if not isinstance(jkt, str) or not jkt:
            return _inactive(
                "The DPoP token names no key (cnf.jkt)", "dpop_without_cnf"
            ), negative_until
    until = now + policy.ttl
    if isinstance(exp, int | float):
        until = min(until, float(exp))
    return AccessToken(document, token_id=token_id, source="introspection"), until


def introspect(
    endpoint: str,
    token: str,
    auth: ClientAuth,
    *,
    digest: bytes,
) -> Flow[dict[str, Any]]:
    """Rule 1 as a flow: one introspection call; returns PingOne's answer for
    :func:`read_answer` (which the caller applies, so answers can be shared between APIs)."""
    headers, form = auth.apply(
        {"token": token, "token_type_hint": "access_token"}, endpoint=endpoint
    )
    response = yield Request(
        "POST",
        endpoint,
        "introspection",
        headers=headers,
        form=form,
        flight_key=f"introspect:{auth.client_id}:{digest.hex()}",
        retry=True,
    )
    return json_object(response, "introspection")


class IntrospectionCache:
    """Rule 4's cache: bounded LRU with a per-answer lifetime (``cachetools.TLRUCache``)."""

    def __init__(self, maxsize: int = 10_000) -> None:
        self._cache: TLRUCache[bytes, tuple[Answer, float]] = TLRUCache(
            maxsize=maxsize, ttu=lambda _key, value, _now: value[1], timer=time.time
        )
        self._lock = threading.Lock()

    def get(self, digest: bytes) -> Answer | None:
        """The cached answer for a token digest, if still valid."""
        with self._lock:
            entry = self._cache.get(digest)
        return None if entry is None else entry[0]

    def put(self, digest: bytes, answer: Answer, until: float) -> None:
        """Remember ``answer`` until ``until`` (epoch seconds)."""
        if until <= time.time() or self._cache.maxsize == 0:
            return
        with self._lock:
            self._cache[digest] = (answer, until)

    def discard(self, digest: bytes) -> None:
        """Forget one token's answer (e.g. after revoking it)."""
        with self._lock:
            self._cache.pop(digest, None)

    def __len__(self) -> int:
        return len(self._cache)


def _answer_from_peers(shared: RedisCache, digest: bytes) -> Flow[SharedAnswer | None]:
    """A shared answer, waiting briefly while another worker introspects the same token."""
    hit = yield shared.get(digest)
    if hit is not None:
        return hit  # type: ignore[no-any-return]
    if (yield shared.claim(digest)):
        # Claimed: look once more, the previous claimer may have finished just before.
        return (yield shared.get(digest))  # type: ignore[no-any-return]
    deadline = time.monotonic() + shared.wait
    while time.monotonic() < deadline:
        yield Sleep(0.01)
        hit, claimed = yield shared.peek(digest)
        if hit is not None or not claimed:
            return hit  # type: ignore[no-any-return]
    return None


def shared_or_fresh(
    token: str,
    digest: bytes,
    *,
    cache: IntrospectionCache,
    policy: IntrospectionPolicy,
    discovery: Discovery,
    auth: ClientAuth | None,
    shared: RedisCache | None,
    shared_key: bytes,
) -> Flow[AccessToken | InvalidToken]:
    """An answer from another worker (``shared``, under ``shared_key``), else from PingOne (and
    share it); either way put in ``cache`` (rule 4).

    The shared cache holds PingOne's answer itself, keyed by issuer and client id too, and
    every Guard applies its own rules (:func:`read_answer`) to it: another API's cached
    answer can never pass this API's audience check.
    """
    if shared is not None:
        hit = yield from _answer_from_peers(shared, shared_key)
        if hit is not None:
            document, shared_until = hit
            answer, until = read_answer(document, policy, time.time(), token_id(digest))
            until = min(until, shared_until)
            cache.put(digest, answer, until)
            return answer
    if auth is None:  # guarded in the Guard's __init__ and _start; kept for the type checker
        raise ConfigError("client_id", "introspection needs client credentials")
    try:
        metadata = yield from discovery.flow()
        endpoint = metadata.introspection_endpoint
        if endpoint is None:
            raise ProviderUnavailable(
                "The authorization server advertises no introspection endpoint",
                reason="no_introspection_endpoint",
            )
        document = yield from introspect(endpoint, token, auth, digest=digest)
    except ProviderUnavailable:
        if shared is not None:
            yield shared.release(shared_key)
        raise
    answer, until = read_answer(document, policy, time.time(), token_id(digest))
    cache.put(digest, answer, until)
    if shared is not None:
        yield shared.put(shared_key, document, until)
    return answer
