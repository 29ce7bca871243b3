"""Server-side stores for login transactions and sessions: in-memory and Redis.

Values are JSON-ready dicts with a lifetime. Keys are hashed before they reach the backend,
so a Redis dump never reveals a session id. ``pop`` is atomic (GETDEL), which makes login
transactions single-use across workers.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from p1guard._redis import RedisClients
from p1guard.errors import ProviderUnavailable

__all__ = ["MemoryStore", "RedisStore", "SessionStore", "StoreUnavailable"]


class StoreUnavailable(ProviderUnavailable):
    """The session store (e.g. Redis) could not be reached: answer 503."""


class SessionStore(Protocol):
    """What the login routes need from a store; each method has an async twin."""

    def get(self, key: str) -> dict[str, Any] | None: ...
    def set(self, key: str, value: dict[str, Any], ttl: float) -> None: ...
    def pop(self, key: str) -> dict[str, Any] | None: ...
    def delete(self, key: str) -> None: ...
    def claim(self, key: str, ttl: float) -> bool: ...
    async def aget(self, key: str) -> dict[str, Any] | None: ...
    async def aset(self, key: str, value: dict[str, Any], ttl: float) -> None: ...
    async def apop(self, key: str) -> dict[str, Any] | None: ...
    async def adelete(self, key: str) -> None: ...
    async def aclaim(self, key: str, ttl: float) -> bool: ...
    def close(self) -> None: ...
    async def aclose(self) -> None: ...


def _hashed(prefix: str, key: str) -> str:
    return prefix + hashlib.sha256(key.encode()).hexdigest()[:40]


class MemoryStore:
    """A bounded in-process store (one worker only; use :class:`RedisStore` for several).

    Each namespace (the part of a key before ``:``, e.g. ``login`` or ``session``) has its own
    bound, so a flood of anonymous ``/login`` requests can only push out other pending logins,
    never signed-in sessions. When a namespace is full the least recently written entry goes.

    >>> store = MemoryStore()
    >>> store.set("k", {"a": 1}, ttl=60); store.pop("k"), store.pop("k")
    ({'a': 1}, None)
    """

    def __init__(self, maxsize: int = 100_000) -> None:
        self.maxsize = maxsize
        self._spaces: dict[str, OrderedDict[str, tuple[str, float]]] = {}
        self._lock = threading.Lock()

    def _space(self, key: str) -> tuple[OrderedDict[str, tuple[str, float]], str]:
        name = key.partition(":")[0] if ":" in key else ""
        space = self._spaces.get(name)
        if space is None:
            space = self._spaces[name] = OrderedDict()
        return space, _hashed("", key)

    def _write(self, key: str, encoded: str, ttl: float) -> None:
        space, hashed = self._space(key)
        space.pop(hashed, None)  # re-written entries move to the young end
        while len(space) >= self.maxsize:
            space.popitem(last=False)
        space[hashed] = (encoded, time.time() + ttl)

    def get(self, key: str) -> dict[str, Any] | None:
        """The value, if present and not expired."""
        with self._lock:
            space, hashed = self._space(key)
            entry = space.get(hashed)
        if entry is None or entry[1] <= time.time():
            return None
        value: dict[str, Any] = json.loads(entry[0])
        return value

    def set(self, key: str, value: dict[str, Any], ttl: float) -> None:
        """Store ``value`` for ``ttl`` seconds."""
        encoded = json.dumps(value)
        with self._lock:
            self._write(key, encoded, ttl)

    def pop(self, key: str) -> dict[str, Any] | None:
        """Get and delete in one step."""
        with self._lock:
            space, hashed = self._space(key)
            entry = space.pop(hashed, None)
        if entry is None or entry[1] <= time.time():
            return None
        value: dict[str, Any] = json.loads(entry[0])
        return value

    def delete(self, key: str) -> None:
        """Forget ``key``."""
        with self._lock:
            space, hashed = self._space(key)
            space.pop(hashed, None)

    def claim(self, key: str, ttl: float) -> bool:
        """Set ``key`` for ``ttl`` seconds unless it is set; ``True`` if this call set it."""
        with self._lock:
            space, hashed = self._space(key)
            entry = space.get(hashed)
            if entry is not None and entry[1] > time.time():
                return False
            self._write(key, "{}", ttl)
            return True

    async def aget(self, key: str) -> dict[str, Any] | None:
        """Async twin of :meth:`get`."""
        return self.get(key)

    async def aclaim(self, key: str, ttl: float) -> bool:
        """Async twin of :meth:`claim`."""
        return self.claim(key, ttl)

    async def aset(self, key: str, value: dict[str, Any], ttl: float) -> None:
        """Async twin of :meth:`set`."""
        self.set(key, value, ttl)

    async def apop(self, key: str) -> dict[str, Any] | None:
        """Async twin of :meth:`pop`."""
        return self.pop(key)

    async def adelete(self, key: str) -> None:
        """Async twin of :meth:`delete`."""
        self.delete(key)

    def close(self) -> None:
        """Nothing to close."""

    async def aclose(self) -> None:
        """Nothing to close."""


class RedisStore:
    """A store shared by every worker and host, in Redis (``pip install 'p1guard[redis]'``).

    >>> store = RedisStore("redis://127.0.0.1:6379/0")          # doctest: +SKIP

    Redis errors become :class:`StoreUnavailable` (503): a login cannot be checked without
    its transaction.
    """

    def __init__(self, url: str = "redis://127.0.0.1:6379/0", *, prefix: str = "p1guard:") -> None:
        self.url = url
        self.prefix = prefix
        self._clients = RedisClients(url)
        self._client = self._clients.sync

    def _key(self, key: str) -> str:
        return _hashed(self.prefix, key)

    def _aclient(self) -> Any:
        return self._clients.for_loop()

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except self._clients.error as exc:
            raise StoreUnavailable(
                "The session store is unavailable", reason=f"store_{type(exc).__name__}"
            ) from exc

    @staticmethod
    def _decode(raw: object) -> dict[str, Any] | None:
        if not isinstance(raw, bytes | str):
            return None
        value = json.loads(raw)
        return value if isinstance(value, dict) else None

    def get(self, key: str) -> dict[str, Any] | None:
        """The value, if present."""
        with self._errors():
            return self._decode(self._client.get(self._key(key)))

    def set(self, key: str, value: dict[str, Any], ttl: float) -> None:
        """Store ``value`` for ``ttl`` seconds."""
        with self._errors():
            self._client.set(self._key(key), json.dumps(value), px=max(1, int(ttl * 1000)))

    def pop(self, key: str) -> dict[str, Any] | None:
        """Get and delete atomically (``GETDEL``)."""
        with self._errors():
            return self._decode(self._client.getdel(self._key(key)))

    def delete(self, key: str) -> None:
        """Forget ``key``."""
        with self._errors():
            self._client.delete(self._key(key))

    def claim(self, key: str, ttl: float) -> bool:
        """``SET NX`` for ``ttl`` seconds; ``True`` if this call set it."""
        with self._errors():
            return bool(self._client.set(self._key(key), b"1", nx=True, px=max(1, int(ttl * 1000))))

    async def aclaim(self, key: str, ttl: float) -> bool:
        """Async twin of :meth:`claim`."""
        with self._errors():
            client = self._aclient()
            return bool(await client.set(self._key(key), b"1", nx=True, px=max(1, int(ttl * 1000))))

    async def aget(self, key: str) -> dict[str, Any] | None:
        """Async twin of :meth:`get`."""
        with self._errors():
            return self._decode(await self._aclient().get(self._key(key)))

    async def aset(self, key: str, value: dict[str, Any], ttl: float) -> None:
        """Async twin of :meth:`set`."""
        with self._errors():
            await self._aclient().set(self._key(key), json.dumps(value), px=max(1, int(ttl * 1000)))

    async def apop(self, key: str) -> dict[str, Any] | None:
        """Async twin of :meth:`pop`."""
        with self._errors():
            return self._decode(await self._aclient().getdel(self._key(key)))

    async def adelete(self, key: str) -> None:
        """Async twin of :meth:`delete`."""
        with self._errors():
            await self._aclient().delete(self._key(key))

    def close(self) -> None:
        """Close the sync connection pool."""
        self._clients.close()

    async def aclose(self) -> None:
        """Close the running event loop's async connection pool."""
        await self._clients.aclose()
