"""Redis connections for p1guard's shared stores: one sync pool, one async pool per event loop.

Needs the ``redis`` package (``pip install 'p1guard[redis]'``); imported only when used.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

__all__ = ["RedisClients"]

_TIMEOUT = 1.0  # seconds: a slow Redis must not hold requests longer than PingOne would


class RedisClients:
    """Lazily created clients for one Redis URL (an async client cannot cross event loops)."""

    def __init__(self, url: str) -> None:
        try:
            import redis
        except ImportError as exc:  # pragma: no cover - depends on the installation
            raise ImportError(
                "Redis support needs the redis package: pip install 'p1guard[redis]'"
            ) from exc
        self.url = url
        self.error: type[Exception] = redis.RedisError
        self.sync: Any = redis.Redis.from_url(
            url, socket_timeout=_TIMEOUT, socket_connect_timeout=_TIMEOUT
        )
        self._async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = (
            weakref.WeakKeyDictionary()
        )

    def for_loop(self) -> Any:
        """The async client of the running event loop."""
        loop = asyncio.get_running_loop()
        client = self._async.get(loop)
        if client is None:
            import redis.asyncio

            client = redis.asyncio.Redis.from_url(
                self.url, socket_timeout=_TIMEOUT, socket_connect_timeout=_TIMEOUT
            )
            self._async[loop] = client
        return client

    def close(self) -> None:
        """Close the sync pool."""
        self.sync.close()

    async def aclose(self) -> None:
        """Close the running loop's async pool."""
        client = self._async.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()
