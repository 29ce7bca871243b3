"""Flooding the DPoP replay record from many keys (issue item 4): anyone can get tokens bound to
keys they make, so a bounded record that refuses when full lets a few keys lock every DPoP
client out. The record evicts the busiest key's oldest proofs instead
(p1guard._sender.replay.ReplayCache
rules 2-3; shared_cache rule 5); these tests flood it in memory and in a real redis-server."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st

from p1guard import Guard, InvalidDPoPProof, Presentation
from p1guard._client.dpop_key import DPoPKey
from p1guard._sender.replay import ReplayCache, replay_key
from p1guard._tokens.shared_cache import RedisCache
from p1guard.testing import MockPingOne

URL = "https://api.example.com/orders"
SIZE = 100
#: (attacker keys, proofs from each): few keys filling the record, or more keys than it holds.
FLOODS = [(10, 10), (40, 5), (100, 1), (200, 3)]


@dataclass
class Client:
    """A DPoP key and a token bound to it."""

    key: DPoPKey
    token: str

    @classmethod
    def new(cls, op: MockPingOne) -> Client:
        key = DPoPKey.generate()
        return cls(key, op.issue_token(["read"], dpop_jkt=key.thumbprint))

    def request(self) -> Presentation:
        proof = self.key.proof("GET", URL, access_token=self.token)
        return Presentation("DPoP", "GET", URL, (proof,))


def replay_refused(guard: Guard, client: Client, presentation: Presentation) -> bool:
    try:
        guard.verify(client.token, presentation=presentation)
    except InvalidDPoPProof as exc:
        return exc.reason == "dpop_replay"
    return False


def flood(
    guard: Guard, attackers: list[Client], proofs_each: int, record_size: Callable[[], int]
) -> None:
    """Every attacker proof is fresh, so every one is accepted: never a 503 for fullness."""
    for attacker in attackers:
        for _ in range(proofs_each):
            assert guard.verify(attacker.token, presentation=attacker.request())
            assert record_size() <= SIZE


def attack_and_check(
    op: MockPingOne,
    guard: Guard,
    peer: Guard,
    flood_shape: tuple[int, int],
    record_size: Callable[[], int],
) -> None:
    """A bystander's proof, the flood, then the victim's first proof (``peer`` shares the
    record with ``guard``)."""
    keys, proofs_each = flood_shape
    victim, bystander = Client.new(op), Client.new(op)
    used = bystander.request()
    assert peer.verify(bystander.token, presentation=used)
    flood(guard, [Client.new(op) for _ in range(keys)], proofs_each, record_size)
    fresh = victim.request()
    assert guard.verify(victim.token, presentation=fresh).subject == "user-1"
    assert record_size() <= SIZE
    assert replay_refused(guard, victim, fresh)
    assert replay_refused(peer, victim, fresh)
    if (keys + 1) * 2 <= SIZE:
        # Full with at most SIZE / 2 keys, some key always holds two or more live entries, so
        # the bystander's one never was among the most: its replay protection held.
        assert replay_refused(guard, bystander, used)


@pytest.mark.parametrize("flood_shape", FLOODS)
def test_many_attacker_keys_cannot_refuse_an_honest_fresh_proof(
    pingone_mock: MockPingOne, flood_shape: tuple[int, int]
) -> None:
    guard = pingone_mock.guard(dpop_replay_size=SIZE)
    attack_and_check(pingone_mock, guard, guard, flood_shape, lambda: len(guard._replays))
    assert guard._replays.evictions > 0


@pytest.mark.parametrize("flood_shape", FLOODS)
def test_many_attacker_keys_cannot_refuse_an_honest_fresh_proof_in_redis(
    pingone_mock: MockPingOne, redis_server: str, flood_shape: tuple[int, int]
) -> None:
    prefix = "flood-{}x{}:".format(*flood_shape)
    cache, other = RedisCache(redis_server, prefix=prefix), RedisCache(redis_server, prefix=prefix)
    guard = pingone_mock.guard(shared_cache=cache, dpop_replay_size=SIZE)
    peer = pingone_mock.guard(shared_cache=other, dpop_replay_size=SIZE)
    with redis.Redis.from_url(redis_server) as client:

        def record_size() -> int:
            """Proofs held: those of each scope's record, and any key holding a single one."""
            held = 0
            for name in client.keys(f"{prefix}dpop:*"):
                if name.endswith(b":all"):
                    held += int(client.zcard(name))
                elif not name.endswith(b":seq") and client.type(name) == b"string":
                    held += 1
            return held

        attack_and_check(pingone_mock, guard, peer, flood_shape, record_size)
        (everything,) = client.keys(f"{prefix}dpop:*:all")
        owners = client.zrange(everything[: -len(b"all")] + b"owners", 0, -1, withscores=True)
        assert sum(count for _owner, count in owners) == client.zcard(everything)
    assert cache.evictions + other.evictions > 0
    cache.close()
    other.close()


# -- the rule itself, on random histories ---------------------------------------------------

_step = st.tuples(
    st.integers(0, 4),  # owner
    st.integers(0, 5),  # jti: few, so replays happen
    st.integers(0, 3),  # seconds elapsed since the previous call
    st.integers(1, 12),  # lifetime of the proof
)


def check_history(
    maxsize: int,
    steps: list[tuple[int, int, int, int]],
    record: Callable[[bytes, float, float, str], bool],
    holds: Callable[[bytes, str], bool],
    size: Callable[[], int],
    evictions: Callable[[], int],
) -> None:
    """Replay ``steps`` against a record of ``maxsize`` and a model of what it must hold."""
    live: dict[bytes, tuple[float, str]] = {}  # what must still be refused, oldest first
    now = 0.0
    for owner_no, jti, elapsed, lifetime in steps:
        now += elapsed
        owner = f"owner-{owner_no}"
        key = replay_key(b"scope", owner, str(jti))
        live = {k: v for k, v in live.items() if v[0] > now}
        before = evictions()
        if key in live:
            assert not record(key, now + lifetime, now, owner)
            assert evictions() == before
            continue
        counts: dict[str, int] = {}
        for _until, holder in live.values():
            counts[holder] = counts.get(holder, 0) + 1
        assert record(key, now + lifetime, now, owner)  # fresh: accepted, never refused
        assert size() <= maxsize
        gone = [k for k, (_until, holder) in live.items() if not holds(k, holder)]
        if evictions() == before:
            assert gone == []
        else:
            assert evictions() == before + 1
            assert len(live) == maxsize  # evicting only when full of live entries
            (evicted,) = gone
            victim, most = live[evicted][1], max(counts.values())
            assert counts[victim] == most  # from a key holding the most
            if counts.get(owner) == most:
                assert victim == owner  # its own, when the recording key is one of them
            assert evicted == next(k for k, v in live.items() if v[1] == victim)  # its oldest
            del live[evicted]
        live[key] = (now + lifetime, owner)
        assert all(holds(k, holder) for k, (_until, holder) in live.items())


_step = st.tuples(
    st.integers(0, 4),  # owner
    st.integers(0, 5),  # jti: few, so replays happen
    st.integers(0, 3),  # seconds elapsed since the previous call
    st.integers(1, 12),  # lifetime of the proof
)


@given(maxsize=st.integers(1, 8), steps=st.lists(_step, max_size=300))
def test_replay_record_evicts_only_from_the_busiest_key_and_never_refuses_a_fresh_one(
    maxsize: int, steps: list[tuple[int, int, int, int]]
) -> None:
    cache = ReplayCache(maxsize=maxsize)
    check_history(
        maxsize,
        steps,
        lambda key, until, now, owner: cache.remember(key, until=until, now=now, owner=owner),
        lambda key, _owner: key in cache,
        lambda: len(cache),
        lambda: cache.evictions,
    )


@settings(max_examples=40)
@given(maxsize=st.integers(1, 8), steps=st.lists(_step, max_size=120))
def test_redis_replay_record_follows_the_same_rule(
    redis_server: str, maxsize: int, steps: list[tuple[int, int, int, int]]
) -> None:
    cache, scope = RedisCache(redis_server, prefix="history:"), secrets.token_bytes(8)
    name = f"history:dpop:{{{scope.hex()}}}:all"

    def record(key: bytes, until: float, now: float, owner: str) -> bool:
        call = cache.remember_proof(key, until, owner=owner, scope=scope, limit=maxsize, now=now)
        fresh = call.run()
        assert fresh is not None
        return bool(fresh)

    try:
        check_history(
            maxsize,
            steps,
            record,
            lambda key, owner: cache.clients.sync.zscore(name, key.hex() + owner) is not None,
            lambda: int(cache.clients.sync.zcard(name)),
            lambda: cache.evictions,
        )
    finally:
        cache.close()
