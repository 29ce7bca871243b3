"""Introspection answers shared through a real redis-server: workers, hosts and Redis failures."""

from __future__ import annotations

import asyncio
import multiprocessing
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis

from p1guard import Guard, InvalidToken, PingOne
from p1guard._tokens.shared_cache import RedisCache
from p1guard.testing import MockPingOne


def shared_guard(op: MockPingOne, url: str, prefix: str) -> Guard:
    return op.guard(mode="introspect", shared_cache=RedisCache(url, prefix=prefix))


def test_second_worker_uses_the_first_workers_answer(
    pingone_mock: MockPingOne, redis_server: str
) -> None:
    token = pingone_mock.issue_token(["read"], opaque=True)
    first = shared_guard(pingone_mock, redis_server, "t1:")
    second = shared_guard(pingone_mock, redis_server, "t1:")
    assert first.verify(token).subject == "user-1"
    assert second.verify(token, scopes=["read"]).subject == "user-1"
    assert pingone_mock.calls["introspect"] == 1


def test_refusals_are_shared_too(pingone_mock: MockPingOne, redis_server: str) -> None:
    first = shared_guard(pingone_mock, redis_server, "t2:")
    second = shared_guard(pingone_mock, redis_server, "t2:")
    for guard in (first, second):
        with pytest.raises(InvalidToken) as info:
            guard.verify("not-a-token-pingone-issued")
        assert info.value.reason == "inactive"
    assert pingone_mock.calls["introspect"] == 1


def test_redis_holds_no_raw_tokens(pingone_mock: MockPingOne, redis_server: str) -> None:
    token = pingone_mock.issue_token(opaque=True)
    shared_guard(pingone_mock, redis_server, "t3:").verify(token)
    with redis.Redis.from_url(redis_server) as client:
        keys = client.keys("t3:*")
        assert keys
        for key in keys:
            assert token.encode() not in key
            assert token.encode() not in (client.get(key) or b"")


async def test_concurrent_async_workers_share_one_call(
    pingone_mock: MockPingOne, redis_server: str
) -> None:
    token = pingone_mock.issue_token(opaque=True)
    guards = [shared_guard(pingone_mock, redis_server, "t4:") for _ in range(4)]
    results = await asyncio.gather(*(g.averify(token) for g in guards for _ in range(25)))
    assert len(results) == 100
    assert pingone_mock.calls["introspect"] == 1
    for guard in guards:
        assert guard.shared_cache is not None
        await guard.shared_cache.aclose()
        await guard.aclose()


def _worker(issuer: str, resource: tuple[str, str], url: str, token: str, count: int) -> list[str]:
    guard = Guard(
        PingOne(issuer=issuer),
        audience="https://api.example.com",
        mode="introspect",
        client_id=resource[0],
        client_secret=resource[1],
        shared_cache=RedisCache(url, prefix="procs:"),
    )
    with ThreadPoolExecutor(max_workers=10) as pool:
        return [t.subject or "" for t in pool.map(lambda _: guard.verify(token), range(count))]


def test_four_processes_make_one_introspection(
    pingone_mock: MockPingOne, redis_server: str
) -> None:
    token = pingone_mock.issue_token(["read"], opaque=True)
    resource = (pingone_mock.resource_id, pingone_mock.resource_secret)
    context = multiprocessing.get_context("spawn")
    with context.Pool(4) as pool:
        results = pool.starmap(
            _worker, [(pingone_mock.issuer, resource, redis_server, token, 50)] * 4
        )
    assert sum(len(r) for r in results) == 200
    assert {s for r in results for s in r} == {"user-1"}
    assert pingone_mock.calls["introspect"] == 1


def test_redis_killed_mid_run_requests_still_answered(
    pingone_mock: MockPingOne,
    private_redis: tuple[str, subprocess.Popen[bytes]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    url, process = private_redis
    guard = shared_guard(pingone_mock, url, "kill:")
    cached = pingone_mock.issue_token(opaque=True)
    assert guard.verify(cached).subject == "user-1"
    process.kill()
    process.wait()
    assert guard.verify(cached).subject == "user-1"  # in-process cache
    fresh = pingone_mock.issue_token(opaque=True)
    assert guard.verify(fresh).subject == "user-1"  # straight to PingOne
    pingone_mock.revoke(revoked := pingone_mock.issue_token(opaque=True))
    with pytest.raises(InvalidToken):
        guard.verify(revoked)  # fails closed, not open
    assert any("shared cache unavailable" in r.getMessage() for r in caplog.records)


def test_redis_down_from_the_start(pingone_mock: MockPingOne) -> None:
    guard = shared_guard(pingone_mock, "redis://127.0.0.1:1/0", "down:")
    assert guard.verify(pingone_mock.issue_token(opaque=True)).subject == "user-1"


def test_another_apis_cached_answer_never_passes_this_apis_audience(
    pingone_mock: MockPingOne, redis_server: str
) -> None:
    token = pingone_mock.issue_token(["admin"], opaque=True, audience="https://api-a.example.com")
    api_a = pingone_mock.guard(
        mode="introspect",
        audience="https://api-a.example.com",
        shared_cache=RedisCache(redis_server, prefix="aud:"),
    )
    api_b = pingone_mock.guard(
        mode="introspect",
        audience="https://api-b.example.com",
        shared_cache=RedisCache(redis_server, prefix="aud:"),
    )
    assert api_a.verify(token).scopes == {"admin"}
    with pytest.raises(InvalidToken) as info:
        api_b.verify(token)
    assert info.value.reason == "wrong_audience"


def test_deny_refuses_a_token_at_once_in_this_process(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard()
    token = pingone_mock.issue_token(["read"])
    guard.verify(token)
    guard.deny(token)
    with pytest.raises(InvalidToken) as info:
        guard.verify(token)
    assert info.value.reason == "denied"
    assert guard.verify(pingone_mock.issue_token(["read"])).scopes == {"read"}


def test_shared_denylist_reaches_every_worker(pingone_mock: MockPingOne, redis_server: str) -> None:
    token = pingone_mock.issue_token(["read"])
    workers = [
        pingone_mock.guard(shared_cache=RedisCache(redis_server, prefix="deny:"), denylist=True)
        for _ in range(3)
    ]
    for guard in workers:
        assert guard.verify(token).scopes == {"read"}
    workers[0].deny(token)
    for guard in workers:
        with pytest.raises(InvalidToken) as info:
            guard.verify(token)
        assert info.value.reason == "denied"


async def test_adeny_is_the_async_twin(pingone_mock: MockPingOne, redis_server: str) -> None:
    guard = pingone_mock.guard(
        shared_cache=RedisCache(redis_server, prefix="adeny:"), denylist=True
    )
    token = pingone_mock.issue_token(["read"])
    assert (await guard.averify(token)).scopes == {"read"}
    await guard.adeny(token)
    other = pingone_mock.guard(
        shared_cache=RedisCache(redis_server, prefix="adeny:"), denylist=True
    )
    with pytest.raises(InvalidToken):
        await other.averify(token)
    for g in (guard, other):
        assert g.shared_cache is not None
        await g.shared_cache.aclose()
        await g.aclose()


def test_denylist_needs_a_shared_cache(pingone_mock: MockPingOne) -> None:
    from p1guard import ConfigError

    with pytest.raises(ConfigError) as info:
        pingone_mock.guard(denylist=True)
    assert info.value.field == "denylist"
