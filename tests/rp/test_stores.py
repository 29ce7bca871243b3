"""Session stores: in-memory and a real redis-server."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis

from p1guard.rp import MemoryStore, RedisStore, SessionStore, StoreUnavailable


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest, redis_server: str) -> Iterator[SessionStore]:
    if request.param == "memory":
        yield MemoryStore()
    else:
        redis_store = RedisStore(redis_server, prefix=f"test:{time.monotonic_ns()}:")
        yield redis_store
        redis_store.close()


def test_set_get_pop_delete(store: SessionStore) -> None:
    store.set("a", {"x": 1}, ttl=30)
    assert store.get("a") == {"x": 1}
    assert store.pop("a") == {"x": 1}
    assert store.pop("a") is None
    store.set("b", {"y": [1, 2]}, ttl=30)
    store.delete("b")
    assert store.get("b") is None


async def test_async_twins(store: SessionStore) -> None:
    await store.aset("a", {"x": 1}, ttl=30)
    assert await store.aget("a") == {"x": 1}
    assert await store.apop("a") == {"x": 1}
    assert await store.apop("a") is None
    await store.aset("b", {"y": 2}, ttl=30)
    await store.adelete("b")
    assert await store.aget("b") is None
    await store.aclose()


def test_entries_expire(store: SessionStore) -> None:
    store.set("short", {"x": 1}, ttl=0.2)
    time.sleep(0.3)
    assert store.get("short") is None


def test_memory_store_is_bounded() -> None:
    store = MemoryStore(maxsize=3)
    for i in range(10):
        store.set(str(i), {"i": i}, ttl=60)
    assert store.get("9") == {"i": 9}
    assert store.get("0") is None


def test_redis_keys_are_hashed_and_namespaced(redis_server: str) -> None:
    store = RedisStore(redis_server, prefix="ns1:")
    store.set("session:secret-session-id", {"x": 1}, ttl=30)
    with redis.Redis.from_url(redis_server) as client:
        keys = [k.decode() for k in client.keys("*")]
    assert any(k.startswith("ns1:") for k in keys)
    assert not any("secret-session-id" in k for k in keys)
    store.close()


def test_pop_is_single_use_across_workers(redis_server: str) -> None:
    first, second = RedisStore(redis_server, prefix="w:"), RedisStore(redis_server, prefix="w:")
    first.set("login:abc", {"state": "s"}, ttl=30)
    assert second.pop("login:abc") == {"state": "s"}
    assert first.pop("login:abc") is None
    first.close()
    second.close()


def test_redis_down_is_store_unavailable() -> None:
    store = RedisStore("redis://127.0.0.1:1/0")
    with pytest.raises(StoreUnavailable) as info:
        store.get("x")
    assert info.value.status_code == 503
    store.close()
