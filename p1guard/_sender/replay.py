"""The in-process record of used DPoP proofs (RFC 9449 §11.1): :class:`ReplayCache` and the
key a proof is recorded under (:func:`replay_key`).

The :class:`~p1guard.Guard` records a proof only once it passed every other check
(:mod:`p1guard._sender.dpop` rule 9, :func:`p1guard._sender.rules.sender_flow`); with a
``shared_cache`` the Redis record (:meth:`~p1guard.RedisCache.remember_proof`) replaces this
one and follows the same rules.
"""

from __future__ import annotations

import hashlib
import heapq
import logging
import math
import threading
import time
from collections import OrderedDict

from p1guard.errors import ConfigError

# The logger the replay warning has always been logged on.
log = logging.getLogger("p1guard.dpop")

__all__ = ["ReplayCache", "replay_key"]

_PURGE_BATCH = 64  # expired replay entries purged per call, at most


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
