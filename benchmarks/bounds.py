"""Concurrency and bounds: counts, not timings, so they are exact and run in ``--quick`` (CI).

* one new opaque token, 200 concurrent ``averify`` calls → exactly one introspection call;
* 10,000 tokens with random unknown ``kid`` values → at most one JWKS fetch per cooldown
  window (sync with the default cooldown, sync over several short windows, and concurrent);
* 1,000,000 distinct tokens (100,000 in quick mode) → the verified-token and introspection
  caches never exceed their bound, and their memory stays flat once full;
* a Guard with a small ``cache_size`` fed more distinct real tokens than it holds.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable

from p1guard import InvalidToken

from ._env import attacker_tokens
from ._report import Figure
from ._suite import Context, case

__all__: list[str] = []

KID_STORM = 10_000


def _kid_storm_tokens(ctx: Context) -> list[str]:
    op = ctx.mock()
    return ctx.memo(  # type: ignore[no-any-return]
        "kid_storm", lambda: attacker_tokens(op.issuer, op.audience, KID_STORM)
    )


@case("single_flight", "bounds")
def single_flight(ctx: Context) -> list[Figure]:
    """200 concurrent averify calls with one new opaque token → one introspection call."""
    op = ctx.mock()
    guard = op.guard(mode="introspect")
    warm = op.issue_token(scopes=["read"], opaque=True)
    token = op.issue_token(scopes=["read"], opaque=True)

    async def storm() -> tuple[list[object], int]:
        await guard.averify(warm)  # discovery is fetched here, outside the count
        before = op.calls["introspect"]
        results: list[object] = list(
            await asyncio.gather(
                *(guard.averify(token, scopes=["read"]) for _ in range(200)),
                return_exceptions=True,
            )
        )
        calls = op.calls["introspect"] - before
        await guard.aclose()
        return results, calls

    results, calls = asyncio.run(storm())
    ok = sum(1 for r in results if not isinstance(r, BaseException))
    return [
        Figure(
            "introspection_calls_200_concurrent",
            float(calls),
            "",
            op="==",
            threshold=1,
            detail={"accepted": ok, "requests": len(results)},
        ),
        Figure(
            "introspection_single_flight_accepted",
            float(ok),
            "",
            op="==",
            threshold=200,
            note="every waiter gets the shared answer",
        ),
    ]


def _refusals(verify: Callable[[str], object], tokens: list[str]) -> Counter[str]:
    reasons: Counter[str] = Counter()
    for token in tokens:
        try:
            verify(token)
        except InvalidToken as exc:
            reasons[exc.reason or "?"] += 1
        except Exception as exc:
            reasons[type(exc).__name__] += 1
        else:
            reasons["ACCEPTED"] += 1
    return reasons


@case("kid_storm", "bounds")
def kid_storm(ctx: Context) -> list[Figure]:
    """10,000 tokens with random unknown kids → ≤ 1 JWKS fetch per cooldown window."""
    op = ctx.mock()
    tokens = _kid_storm_tokens(ctx)
    good = op.issue_token(scopes=["read"])
    figures: list[Figure] = []

    # 1. Default cooldown (60 s): the whole storm sits in the warm-up fetch's window.
    guard = op.guard()
    guard.verify(good)
    before = op.calls["jwks"]
    start = time.monotonic()
    reasons = _refusals(guard.verify, tokens)
    elapsed = time.monotonic() - start
    cooldown = guard.pingone.jwks_cooldown
    fetches = op.calls["jwks"] - before
    figures.append(
        Figure(
            "jwks_fetches_kid_storm",
            float(fetches),
            "",
            op="<=",
            threshold=math.ceil(elapsed / cooldown),
            target_text=f"≤ 1 per {cooldown:.0f} s window; storm took {elapsed:.2f} s",
            detail={"tokens": len(tokens), "seconds": elapsed},
        )
    )
    figures.append(
        Figure(
            "kid_storm_refused_unknown_kid",
            float(reasons["unknown_kid"]),
            "",
            op="==",
            threshold=len(tokens),
            detail=dict(reasons),
            note="every attacker token refused with InvalidToken(reason='unknown_kid')",
        )
    )
    guard.close()

    # 2. Short cooldown, storm replayed over several windows.
    window = 0.25
    guard = op.guard(pingone=op.pingone(jwks_cooldown=window))
    guard.verify(good)
    before = op.calls["jwks"]
    duration = ctx.pick(1.0, 2.0)
    start = time.monotonic()
    refused = accepted = 0
    while time.monotonic() - start < duration:
        for token in tokens[:1000]:
            try:
                guard.verify(token)
            except InvalidToken:
                refused += 1
            else:
                accepted += 1
    elapsed = time.monotonic() - start
    fetches = op.calls["jwks"] - before
    windows = math.ceil(elapsed / window)
    figures.append(
        Figure(
            "jwks_fetches_kid_storm_short_cooldown",
            float(fetches),
            "",
            op="<=",
            threshold=windows,
            target_text=f"≤ {windows} = one per {window} s window over {elapsed:.2f} s",
            detail={"refused": refused, "accepted": accepted},
        )
    )
    guard.close()

    # 3. Concurrent: the storm arrives at once, after the cooldown allows a fetch.
    guard = op.guard(pingone=op.pingone(jwks_cooldown=window))
    guard.verify(good)
    time.sleep(window * 1.2)

    async def storm() -> tuple[int, Counter[str]]:
        before = op.calls["jwks"]
        results = await asyncio.gather(*(guard.averify(t) for t in tokens), return_exceptions=True)
        kinds: Counter[str] = Counter(
            (r.reason or "?") if isinstance(r, InvalidToken) else type(r).__name__ for r in results
        )
        await guard.aclose()
        return op.calls["jwks"] - before, kinds

    start = time.monotonic()
    fetches, kinds = asyncio.run(storm())
    elapsed = time.monotonic() - start
    figures.append(
        Figure(
            "jwks_fetches_kid_storm_concurrent",
            float(fetches),
            "",
            op="<=",
            threshold=math.ceil(elapsed / window),
            target_text=f"≤ 1 per {window} s window; {len(tokens)} concurrent averify, "
            f"{elapsed:.2f} s",
            detail=dict(kinds),
        )
    )
    return figures


def _feed(
    put: Callable[[bytes], None], size: Callable[[], int], count: int, cap: int
) -> tuple[int, float, float, float]:
    """Put ``count`` distinct digests; return (max size seen, MiB at cap, MiB at end, peak MiB)."""
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        largest = 0
        at_cap = 0.0
        for index in range(count):
            put(hashlib.sha256(index.to_bytes(8, "big")).digest())
            entries = size()  # checked after every put: "never exceeds" means never
            if entries > largest:
                largest = entries
            if index == cap:
                at_cap = (tracemalloc.get_traced_memory()[0] - base) / 2**20
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return largest, at_cap, (current - base) / 2**20, (peak - base) / 2**20


def _bound_figures(
    name: str, cap: int, count: int, result: tuple[int, float, float, float]
) -> list[Figure]:
    largest, at_cap, at_end, peak = result
    return [
        Figure(
            f"{name}_max_entries",
            float(largest),
            "",
            op="<=",
            threshold=cap,
            detail={"distinct_tokens": count, "cache_size": cap},
        ),
        Figure(
            f"{name}_memory_peak_vs_full",
            peak / at_cap if at_cap else math.inf,
            "x",
            op="<=",
            threshold=3.0,
            detail={"mib_when_full": at_cap, "mib_at_end": at_end, "mib_peak": peak},
            note=f"peak traced memory over {count:,} tokens vs when the cache first filled; "
            f"growth with the token count would reach {count / cap:.0f}x",
        ),
    ]


@case("cache_bound", "bounds")
def cache_bound(ctx: Context) -> list[Figure]:
    """1M distinct token digests (100k quick) → the token caches stay within their bound."""
    from p1guard import AccessToken
    from p1guard._tokens.cache import VerifiedTokenCache
    from p1guard._tokens.introspection import IntrospectionCache

    cap = 10_000
    count = ctx.pick(100_000, 1_000_000)
    value = AccessToken({"sub": "u", "scope": "read"}, token_id="00000000")
    verified: VerifiedTokenCache[AccessToken] = VerifiedTokenCache(cap)
    expiry = time.time() + 3600
    figures = _bound_figures(
        "verified_cache_1m" if count == 1_000_000 else f"verified_cache_{count // 1000}k",
        cap,
        count,
        _feed(lambda d: verified.put(d, value, expiry), verified.__len__, count, cap),
    )
    intro = IntrospectionCache(cap)
    intro_count = ctx.pick(50_000, 1_000_000)
    figures += _bound_figures(
        "introspection_cache_1m"
        if intro_count == 1_000_000
        else f"introspection_cache_{intro_count // 1000}k",
        cap,
        intro_count,
        _feed(lambda d: intro.put(d, value, expiry), intro.__len__, intro_count, cap),
    )
    return figures


@case("guard_cache_bound", "bounds")
def guard_cache_bound(ctx: Context) -> list[Figure]:
    """A Guard with a small cache_size verifies more distinct real tokens than it can hold."""
    op = ctx.mock()
    cap = ctx.pick(500, 10_000)
    count = ctx.pick(2_000, 20_000)
    ctx.log(f"minting {count} ES256 tokens")
    tokens = [op.issue_token(scopes=["read"], alg="ES256") for _ in range(count)]
    guard = op.guard(cache_size=cap)
    largest = 0
    for index, token in enumerate(tokens):
        guard.verify(token)
        if index % 64 == 0:
            largest = max(largest, len(guard._verified))
    largest = max(largest, len(guard._verified))
    guard.close()
    return [
        Figure(
            "guard_verified_cache_max_entries",
            float(largest),
            "",
            op="<=",
            threshold=cap,
            detail={"distinct_tokens": count, "cache_size": cap},
        )
    ]
