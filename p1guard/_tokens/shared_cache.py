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
   by the token's revocation identity (:func:`p1guard._tokens.revocation.shared_key`), not its
   spelling, and live until the token's own expiry.
4. Redis failing never fails a request through the introspection cache: those operations
   degrade to "miss" (and a claim to "granted"), so the Guard falls back to its in-process
   cache and PingOne, with a warning logged at most every 30 seconds. The denylist does not
   degrade: a failed lookup answers ``None`` and the Guard refuses the request with a 503
   (``reason="denylist_unavailable"``) unless it was built with ``denylist_fail_open=True``;
   a failed write answers ``False`` and :meth:`Guard.deny <p1guard.Guard.deny>` raises.
5. Nor does the DPoP replay record (:meth:`RedisCache.remember_proof`), one per
   replay scope (issuer and audiences), under one hash tag so its keys share a Cluster slot:
   ``<prefix>dpop:{<scope>}:all`` (sorted set: proof → until, ms), ``…:owners`` (key
   thumbprint → live proofs), ``…:o:<thumbprint>`` (that key's proofs, oldest first) and
   ``…:seq`` (the order of recording). One Lua script, atomic on the server, purges up to 64
   expired proofs, answers "replay" for a proof still recorded, and when the record holds
   ``limit`` (``dpop_replay_size``) proofs evicts the oldest proof of the key holding the
   most (the recording key's own if it is one of them): the rules of
   :class:`~p1guard._sender.replay.ReplayCache`, so a fresh proof is never refused for fullness,
   whatever keys others use, and one proof is accepted once across every worker and host.
   Time is the caller's (the clock that checked the proof's ``iat``; workers' clocks must
   agree within the leeway, as for ``iat`` and ``exp``); every key expires a few seconds
   after its last proof could, so idle scopes vanish. It cannot degrade safely: a Redis
   failure answers ``None`` and the Guard refuses the request with a 503
   (``reason="replay_cache_unavailable"``): fail closed.

Each operation is an :class:`~p1guard._http.transport.Effect` that the Guard's flows yield.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from p1guard._redis import RedisClients

__all__ = ["RedisCache", "SharedAnswer"]

log = logging.getLogger("p1guard.shared_cache")

#: PingOne's introspection answer and until when it may be used (epoch seconds).
SharedAnswer = tuple[dict[str, Any], float]

#: Milliseconds a replay key outlives its last proof (workers' clocks may differ a little).
_REPLAY_MARGIN_MS = 5000

# Rule 5. KEYS: all, owners, this owner's proofs, sequence. ARGV: proof (64 hex digits then the
# owner), owner, until ms, now ms, limit, prefix of owner keys, key TTL ms.
# Returns {fresh, evicted owner or '', size}.
_REMEMBER_PROOF = """
local all, owners, mine = KEYS[1], KEYS[2], KEYS[3]
local proof, owner, now = ARGV[1], ARGV[2], tonumber(ARGV[4])
local limit, prefix = tonumber(ARGV[5]), ARGV[6]

local function drop(member)
  local holder = string.sub(member, 65)
  redis.call('ZREM', all, member)
  redis.call('ZREM', prefix .. holder, member)
  if tonumber(redis.call('ZINCRBY', owners, -1, holder)) <= 0 then
    redis.call('ZREM', owners, holder)
  end
end

for _, member in ipairs(redis.call('ZRANGEBYSCORE', all, '-inf', now, 'LIMIT', 0, 64)) do
  drop(member)
end
local seen = redis.call('ZSCORE', all, proof)
if seen then
  if tonumber(seen) > now then
    return {0, '', 0}
  end
  drop(proof)
end
local evicted = ''
for _ = 1, 64 do
  if redis.call('ZCARD', all) < limit then
    break
  end
  local first = redis.call('ZRANGE', all, 0, 0, 'WITHSCORES')
  if tonumber(first[2]) <= now then
    drop(first[1])
  else
    local top = redis.call('ZREVRANGE', owners, 0, 0, 'WITHSCORES')
    local victim = top[1]
    if tonumber(redis.call('ZSCORE', owners, owner) or '0') >= tonumber(top[2]) then
      victim = owner
    end
    local oldest = redis.call('ZRANGE', prefix .. victim, 0, 0)
    if oldest[1] then
      drop(oldest[1])
      evicted = victim
    else
      redis.call('ZREM', owners, victim)
    end
  end
end
redis.call('ZADD', all, ARGV[3], proof)
redis.call('ZADD', mine, redis.call('INCR', KEYS[4]), proof)
redis.call('ZINCRBY', owners, 1, owner)
local ttl = tonumber(ARGV[7])
for _, name in ipairs({all, owners, mine, KEYS[4]}) do
  if redis.call('PTTL', name) < ttl then
    redis.call('PEXPIRE', name, ttl)
  end
end
return {1, evicted, redis.call('ZCARD', all)}
"""


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
        #: Live DPoP proofs evicted because a replay record was full (rule 5).
        self.evictions = 0
        self._warned_at = 0.0
        self._evicted_warned_at = -math.inf
        self._remember_proof = self.clients.sync.register_script(_REMEMBER_PROOF)

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

    def remember_proof(
        self,
        key: bytes,
        until: float,
        *,
        owner: str,
        scope: bytes,
        limit: int,
        now: float | None = None,
    ) -> _RedisCall:
        """Effect → ``True`` if the DPoP proof ``key`` of ``owner`` (its key thumbprint) is new
        (now recorded until ``until``, epoch seconds), ``False`` if it is recorded, ``None`` if
        Redis failed (rule 5). ``key`` is a :func:`~p1guard._sender.replay.replay_key` (32 bytes);
        ``scope`` names the record, which holds at most ``limit`` proofs; ``now`` is the time
        the proof was checked at (default: now)."""
        if len(key) != 32 or limit < 1:
            raise ValueError("key must be a 32-byte replay_key and limit at least 1")
        clock = time.time() if now is None else now
        base = f"{self.prefix}dpop:{{{scope.hex()}}}:"
        keys = [f"{base}all", f"{base}owners", f"{base}o:{owner}", f"{base}seq"]
        until_ms, now_ms = math.ceil(until * 1000), math.floor(clock * 1000)
        args = [
            key.hex() + owner,
            owner,
            until_ms,
            now_ms,
            limit,
            f"{base}o:",
            max(1, until_ms - now_ms) + _REPLAY_MARGIN_MS,
        ]

        def remember(client: Any) -> bool:
            return self._recorded(self._remember_proof(keys, args, client=client))

        async def aremember(client: Any) -> bool:
            return self._recorded(await client.register_script(_REMEMBER_PROOF)(keys, args))

        return _RedisCall(
            self,
            remember,
            aremember,
            fallback=None,
            meanwhile="refusing DPoP proofs (replay cache unavailable)",
        )

    def _recorded(self, answer: Any) -> bool:
        """The script's ``{fresh, evicted owner, size}``: count and report an eviction."""
        fresh, evicted = int(answer[0]), answer[1]
        if evicted:
            self.evictions += 1
            now = time.monotonic()
            if now - self._evicted_warned_at > 30:
                self._evicted_warned_at = now
                owner = evicted.encode() if isinstance(evicted, str) else bytes(evicted)
                log.warning(
                    "DPoP replay record full (%d entries): evicted the oldest proofs of the"
                    " busiest key (jkt hash %s); raise dpop_replay_size",
                    int(answer[2]),
                    hashlib.sha256(owner).hexdigest()[:12],
                )
        return fresh == 1

    def close(self) -> None:
        """Close the sync connection pool."""
        self.clients.close()

    async def aclose(self) -> None:
        """Close the running loop's async connection pool."""
        await self.clients.aclose()
