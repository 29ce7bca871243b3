"""Introspection answers shared by every worker and host through Redis.

With ``Guard(..., shared_cache=RedisCache(url))`` N workers on M hosts ask PingOne once per
token, not N×M times. Rules:

1. Keys are namespaced and hashed: ``<prefix>introspect:<scope><sha256(token)>``, the scope
   being a hash of the issuer and the asking client's id; raw tokens never reach Redis.
   Entries hold PingOne's answer, not a verdict: each Guard applies its own issuer, audience
   and expiry rules to it. They expire when the answer would (``min(exp, now + ttl)``;
   refusals after the negative TTL). Redis must be trusted like the app itself: whoever can
   write to it can write answers.
2. The first worker to miss *claims* the token (``SET NX`` with a short expiry) and asks
   PingOne; the others poll the shared entry for a moment instead of asking too.
3. A denylist (``deny``/``denied``) shares tokens the app revoked itself (sign-out), so every
   worker refuses them at once instead of after its cached answer expires. Entries are keyed
   by the token's revocation identity (:func:`p1guard.revocation.shared_key`), not its
   spelling, and live until the token's own expiry.
4. Redis failing never fails a request through the introspection cache: those operations
   degrade to "miss" (and a claim to "granted"), so the Guard falls back to its in-process
   cache and PingOne, with a warning logged at most every 30 seconds. The denylist does not
   degrade: a failed lookup answers ``None`` and the Guard refuses the request with a 503
   (``reason="denylist_unavailable"``) unless it was built with ``denylist_fail_open=True``;
   a failed write answers ``False`` and :meth:`Guard.deny <p1guard.Guard.deny>` raises.
5. The exception is the DPoP replay record (:meth:`RedisCache.remember_proof`): a used proof
   is ``SET <prefix>dpop:<hash> 1 NX PX <ttl>``, so one proof is accepted once across every
   worker and host. It cannot degrade safely, so a Redis failure answers ``None`` and the
   Guard refuses the request with a 503 (``reason="replay_cache_unavailable"``): fail closed.

Each operation is an :class:`~p1guard.http.Effect` that the Guard's flows yield.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from .redis_clients import RedisClients

__all__ = ["RedisCache", "SharedAnswer"]

log = logging.getLogger("p1guard.shared_cache")

#: PingOne's introspection answer and until when it may be used (epoch seconds).
SharedAnswer = tuple[dict[str, Any], float]


def _encode(document: dict[str, Any], until: float) -> str:
    return json.dumps({"document": document, "until": until})


def _decode(raw: object) -> SharedAnswer | None:
    if not isinstance(raw, bytes | str):
        return None
    try:
        data = json.loads(raw)
        until = float(data["until"])
        document = data["document"]
    except (ValueError, KeyError, TypeError, RecursionError):
        return None  # a foreign or corrupt entry is a miss, never an answer
    if not isinstance(document, dict) or not math.isfinite(until):
        return None
    return document, until


@dataclass(frozen=True, slots=True)
class _RedisCall:
    """One Redis operation as an Effect, with its degraded result when Redis fails."""

    cache: RedisCache = field(repr=False)
    sync: Callable[[Any], Any] = field(repr=False)
    do_async: Callable[[Any], Awaitable[Any]] = field(repr=False)
    fallback: Any = None
    #: What the warning says the Guard does meanwhile.
    meanwhile: str = "using the in-process cache"

    def run(self) -> Any:
        try:
            return self.sync(self.cache.clients.sync)
        except self.cache.clients.error as exc:
            return self.cache.degraded(exc, self.fallback, self.meanwhile)

    async def arun(self) -> Any:
        try:
            return await self.do_async(self.cache.clients.for_loop())
        except self.cache.clients.error as exc:
            return self.cache.degraded(exc, self.fallback, self.meanwhile)


class RedisCache:
    """The shared introspection cache (module rules); pass it to :class:`~p1guard.Guard`.

    >>> guard = Guard(pingone, audience=…, mode="introspect", client_id=…, client_secret=…,
    ...               shared_cache=RedisCache("redis://cache:6379/0"))   # doctest: +SKIP
    """

    def __init__(
        self, url: str = "redis://127.0.0.1:6379/0", *, prefix: str = "p1guard:", wait: float = 5.0
    ) -> None:
        self.clients = RedisClients(url)
        self.prefix = prefix
        #: How long a worker waits for another worker's introspection before asking itself.
        self.wait = wait
        self._warned_at = 0.0

    def _key(self, digest: bytes, kind: str = "introspect") -> str:
        return f"{self.prefix}{kind}:{digest.hex()}"

    def degraded(
        self, exc: Exception, fallback: Any, meanwhile: str = "using the in-process cache"
    ) -> Any:
        """Rule 4: log (rate-limited) and return the degraded result."""
        now = time.monotonic()
        if now - self._warned_at > 30:
            self._warned_at = now
            log.warning("shared cache unavailable (%s); %s", type(exc).__name__, meanwhile)
        return fallback

    def get(self, digest: bytes) -> _RedisCall:
        """Effect → the shared ``(answer, until)`` for a token digest, or ``None``."""
        key = self._key(digest)

        async def aget(client: Any) -> SharedAnswer | None:
            return _decode(await client.get(key))

        return _RedisCall(self, lambda client: _decode(client.get(key)), aget)

    def put(self, digest: bytes, document: dict[str, Any], until: float) -> _RedisCall:
        """Effect → store PingOne's answer until ``until`` (epoch seconds), release the claim."""
        key, claim = self._key(digest), self._key(digest, "claim")
        value = _encode(document, until)
        ttl_ms = max(1, int((until - time.time()) * 1000))

        def put_sync(client: Any) -> None:
            client.pipeline().set(key, value, px=ttl_ms).delete(claim).execute()

        async def put_async(client: Any) -> None:
            await client.pipeline().set(key, value, px=ttl_ms).delete(claim).execute()

        return _RedisCall(self, put_sync, put_async)

    def peek(self, digest: bytes) -> _RedisCall:
        """Effect → ``(answer or None, still claimed by a worker)`` in one round trip."""
        key, claim = self._key(digest), self._key(digest, "claim")

        def read(values: list[Any]) -> tuple[SharedAnswer | None, bool]:
            return _decode(values[0]), bool(values[1])

        async def apeek(client: Any) -> tuple[SharedAnswer | None, bool]:
            return read(await client.pipeline().get(key).exists(claim).execute())

        return _RedisCall(
            self,
            lambda client: read(client.pipeline().get(key).exists(claim).execute()),
            apeek,
            fallback=(None, False),
        )

    def release(self, digest: bytes) -> _RedisCall:
        """Effect → give up a claim (the introspection failed), so peers stop waiting."""
        claim = self._key(digest, "claim")

        async def arelease(client: Any) -> None:
            await client.delete(claim)

        return _RedisCall(self, lambda client: client.delete(claim), arelease)

    def claim(self, digest: bytes) -> _RedisCall:
        """Effect → ``True`` if this worker should introspect (rule 2), ``False`` if another is."""
        key, ms = self._key(digest, "claim"), int(self.wait * 1000)

        async def aclaim(client: Any) -> bool:
            return bool(await client.set(key, b"1", nx=True, px=ms))

        return _RedisCall(
            self, lambda client: bool(client.set(key, b"1", nx=True, px=ms)), aclaim, fallback=True
        )

    def deny(self, identity: bytes, until: float) -> _RedisCall:
        """Effect → put a token's revocation identity on the shared denylist until ``until``
        (epoch seconds); ``True`` once written, ``False`` if Redis failed (rule 4)."""
        key, ms = self._key(identity, "deny"), max(1000, math.ceil((until - time.time()) * 1000))

        def deny_sync(client: Any) -> bool:
            client.set(key, b"1", px=ms)
            return True

        async def adeny(client: Any) -> bool:
            await client.set(key, b"1", px=ms)
            return True

        return _RedisCall(
            self,
            deny_sync,
            adeny,
            fallback=False,
            meanwhile="the denial holds in this process only",
        )

    def denied(self, identity: bytes) -> _RedisCall:
        """Effect → whether a revocation identity is on the shared denylist; ``None`` if Redis
        failed (rule 4: the Guard then refuses, or accepts only with ``denylist_fail_open``)."""
        key = self._key(identity, "deny")

        async def adenied(client: Any) -> bool:
            return bool(await client.exists(key))

        return _RedisCall(
            self,
            lambda client: bool(client.exists(key)),
            adenied,
            fallback=None,
            meanwhile="the shared denylist cannot be read",
        )

    def remember_proof(self, key: bytes, until: float) -> _RedisCall:
        """Effect → ``True`` if the DPoP proof ``key`` is new (now recorded until ``until``,
        epoch seconds), ``False`` if it was seen before, ``None`` if Redis failed (rule 5)."""
        name, ms = self._key(key, "dpop"), max(1000, math.ceil((until - time.time()) * 1000))

        async def aremember(client: Any) -> bool:
            return bool(await client.set(name, b"1", nx=True, px=ms))

        return _RedisCall(
            self,
            lambda client: bool(client.set(name, b"1", nx=True, px=ms)),
            aremember,
            fallback=None,
            meanwhile="refusing DPoP proofs (replay cache unavailable)",
        )

    def close(self) -> None:
        """Close the sync connection pool."""
        self.clients.close()

    async def aclose(self) -> None:
        """Close the running loop's async connection pool."""
        await self.clients.aclose()
