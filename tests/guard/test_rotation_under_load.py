"""Signing-key rotation while a real API is under load (targets.md: zero false 401s).

A Starlette app protected by :class:`p1guard.asgi.BearerTokenMiddleware` is served for real by
uvicorn (:class:`p1guard._cli.demo_server.DemoServer`, on a free port of 127.0.0.1, in a
background thread) while a bounded pool of async httpx clients loads it. Every request carries a
token minted just before it is sent, so tokens signed with a new key show up right after a
rotation.

* PingOne-style rotation: the next key is staged in the JWKS, verifiers pick it up with their
  regular refresh (``jwks_max_age``), then the rotation activates it. Expected: no 401 at all,
  even with the default 60 s unknown-``kid`` cooldown, and a JWKS fetch per max age only.
* Emergency rotation (nothing staged): the new ``kid`` is unknown until the cache may refetch,
  which is at most ``jwks_cooldown`` after its last fetch. The 401s in that window are counted;
  they must all be ``invalid_token``/``unknown_kid`` and none may happen after the window.

Bounds are generous on purpose (a loaded 2-core machine must pass): the tests assert causality
(which kid, before which moment), never how fast the machine is.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from functools import partial

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from p1guard import Guard, PingOne
from p1guard._cli.demo_server import DemoServer, bind
from p1guard.asgi import BearerTokenMiddleware
from p1guard.testing import MockPingOne

MAX_AGE = 1.0  # PingOne(jwks_max_age=…) accepts no less than one second
COOLDOWN = 0.3  # the emergency test's unknown-kid cooldown
CLIENTS = 20  # concurrent clients of the load generator
PACE = 0.01  # each client sends at most one request per PACE seconds: <= 2000 requests/s
MAX_REQUESTS = 20_000  # hard bound on the requests of one test, whatever the machine's speed
UNKNOWN_KEY = "The token was signed with an unknown key"


@dataclass(frozen=True)
class Outcome:
    """One request of the load: when it was sent and answered, its token's kid, the answer."""

    sent: float
    done: float
    kid: str
    status: int
    error: str | None = None
    description: str | None = None


def _kid(token: str) -> str:
    header = token.split(".", 1)[0]
    kid: str = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"]
    return kid


async def _me(request: Request) -> JSONResponse:
    return JSONResponse({"sub": request.state.access_token.subject})


@contextmanager
def _serve(guard: Guard) -> Iterator[str]:
    """Serve the protected app with uvicorn on a free loopback port; yield its base URL."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await guard.aclose()  # the async client of uvicorn's own event loop

    app = Starlette(
        routes=[Route("/me", _me)],
        middleware=[Middleware(BearerTokenMiddleware, guard=guard)],
        lifespan=lifespan,
    )
    with DemoServer(app, bind("127.0.0.1", 0)) as server:
        yield server.url


Scenario = Callable[[list[Outcome]], Awaitable[None]]


async def _load(url: str, op: MockPingOne, scenario: Scenario) -> list[Outcome]:
    """Run ``CLIENTS`` clients until ``scenario`` (given the outcomes so far) has finished.

    Each client sends at most one request per ``PACE`` and all stop at ``MAX_REQUESTS``, so
    the load is bounded however fast the machine is.
    """
    outcomes: list[Outcome] = []
    stop = asyncio.Event()
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as http:

        async def client() -> None:
            while not stop.is_set() and len(outcomes) < MAX_REQUESTS:
                token = op.issue_token(["read"])  # minted right before it is sent
                sent = time.monotonic()
                response = await http.get("/me", headers={"Authorization": f"Bearer {token}"})
                done = time.monotonic()
                body = response.json() if response.status_code != 200 else {}
                outcomes.append(
                    Outcome(
                        sent,
                        done,
                        _kid(token),
                        response.status_code,
                        body.get("error"),
                        body.get("error_description"),
                    )
                )
                await asyncio.sleep(max(0.0, sent + PACE - time.monotonic()))

        async def drive() -> None:
            try:
                await scenario(outcomes)
            finally:
                stop.set()

        await asyncio.gather(drive(), *(client() for _ in range(CLIENTS)))
    return outcomes


async def _until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting until {what}")
        await asyncio.sleep(0.005)


def _cached(pingone: PingOne, kid: str) -> bool:
    """Whether the Guard's JWKS cache holds ``kid`` (read afresh: each fetch swaps the dict)."""
    return kid in pingone.jwks.keys


def _rejections(caplog: pytest.LogCaptureFixture) -> Counter[str]:
    """Reasons the middleware logged for refused requests (``p1guard.asgi``, DEBUG)."""
    return Counter(
        str(record.args[2])
        for record in caplog.records
        if record.name == "p1guard.asgi" and isinstance(record.args, tuple)
    )


def _max_latency(outcomes: list[Outcome]) -> float:
    return max((o.done - o.sent for o in outcomes), default=0.0)


def _summary(name: str, outcomes: list[Outcome], op: MockPingOne) -> str:
    span = max(o.done for o in outcomes) - min(o.sent for o in outcomes)
    latencies = sorted(o.done - o.sent for o in outcomes)
    median, worst = latencies[len(latencies) // 2], latencies[-1]
    return (
        f"{name}: {len(outcomes)} requests in {span:.1f} s ({len(outcomes) / span:.0f}/s, "
        f"latency median {median * 1000:.0f} ms, max {worst * 1000:.0f} ms), "
        f"statuses {dict(Counter(o.status for o in outcomes))}, "
        f"JWKS fetches {op.calls['jwks']}, "
        f"discovery fetches {op.calls['discovery']}"
    )


def _warm_up(url: str, op: MockPingOne) -> None:
    response = httpx.get(f"{url}/me", headers={"Authorization": f"Bearer {op.issue_token()}"})
    assert response.status_code == 200, response.text


async def test_staged_rotation_under_load_has_no_401(
    pingone_mock: MockPingOne, caplog: pytest.LogCaptureFixture
) -> None:
    op = pingone_mock
    caplog.set_level(logging.DEBUG, logger="p1guard.asgi")
    # Default 60 s cooldown: a kid the cache does not know yet would be refused for a minute,
    # so any 401 here means the staged key was not picked up by the regular refresh.
    pingone = op.pingone(jwks_max_age=MAX_AGE)
    kids = [op.active_kid()]
    rotated_at: list[float] = []

    async def rotate_like_pingone(_outcomes: list[Outcome]) -> None:
        await asyncio.sleep(0.3)  # load is flowing and the keys are cached
        for _ in range(2):
            staged = await asyncio.to_thread(op.stage_next_key)  # RSA keygen off the loop
            assert op.public_jwks()["keys"][1]["kid"] == staged
            await asyncio.sleep(MAX_AGE * 1.3)  # longer than the max age: refreshed by now
            # Under load the regular refresh has fetched the JWKS with the staged key; wait
            # (generously) rather than assume a busy machine kept to the schedule.
            await _until(partial(_cached, pingone, staged), 5.0, "the staged key is cached")
            assert op.rotate_keys() == staged
            rotated_at.append(time.monotonic())
            kids.append(staged)
            await asyncio.sleep(0.5)
        await asyncio.sleep(0.3)

    with _serve(op.guard(pingone=pingone)) as url:
        _warm_up(url, op)
        started = time.monotonic()
        outcomes = await _load(url, op, rotate_like_pingone)
        duration = time.monotonic() - started
    summary = _summary("staged rotation", outcomes, op)
    for when, kid in zip(rotated_at, kids[1:], strict=True):
        first = min((o.sent for o in outcomes if o.kid == kid), default=float("nan"))
        summary += f", first {kid[:6]}… token {(first - when) * 1000:.0f} ms after its rotation"
    print(summary)

    refused = [o for o in outcomes if o.status != 200]
    assert not refused, f"{len(refused)} requests refused, e.g. {refused[:3]}; {summary}"
    assert not _rejections(caplog)
    per_kid = Counter(o.kid for o in outcomes)
    assert set(per_kid) == set(kids), per_kid  # tokens of all three keys were exercised
    # One fetch per max age (plus the first one), never one per new kid or per request.
    assert op.calls["jwks"] <= duration / MAX_AGE + 3, summary
    assert op.calls["discovery"] == 1


async def test_emergency_rotation_refuses_new_kid_for_one_cooldown_at_most(
    pingone_mock: MockPingOne, caplog: pytest.LogCaptureFixture
) -> None:
    op = pingone_mock
    caplog.set_level(logging.DEBUG, logger="p1guard.asgi")
    pingone = op.pingone(jwks_max_age=MAX_AGE, jwks_cooldown=COOLDOWN)
    old_kid = op.active_kid()
    rotation: dict[str, float | str] = {}

    async def rotate_without_staging(outcomes: list[Outcome]) -> None:
        await asyncio.sleep(0.3)
        # Rotate just after a regular refresh, the worst moment: the cooldown has just begun.
        fetched = op.calls["jwks"]
        await _until(lambda: op.calls["jwks"] > fetched, 5.0, "a regular JWKS refresh")
        rotation["start"] = time.monotonic()
        rotation["kid"] = await asyncio.to_thread(op.rotate_keys)  # nothing staged: new key
        rotation["end"] = end = time.monotonic()
        await asyncio.sleep(COOLDOWN + 0.5)

        def recovered() -> bool:  # new-kid requests sent after the window (as known so far)
            window_end = end + COOLDOWN + _max_latency(outcomes)
            return sum(o.kid == rotation["kid"] and o.sent > window_end for o in outcomes) >= 20

        await _until(recovered, 8.0, "new-kid requests were sent after the cooldown window")

    with _serve(op.guard(pingone=pingone)) as url:
        _warm_up(url, op)
        started = time.monotonic()
        outcomes = await _load(url, op, rotate_without_staging)
        duration = time.monotonic() - started
    summary = _summary("emergency rotation", outcomes, op)

    new_kid, start, end = rotation["kid"], float(rotation["start"]), float(rotation["end"])
    window_end = end + COOLDOWN + _max_latency(outcomes)
    refused = [o for o in outcomes if o.status == 401]
    summary += f", 401s in the cooldown window: {len(refused)}"
    print(summary)

    assert {o.status for o in outcomes} <= {200, 401}, summary
    assert old_kid != new_kid
    assert all(o.status == 200 for o in outcomes if o.kid == old_kid)
    for o in refused:
        assert o.kid == new_kid, o
        assert (o.error, o.description) == ("invalid_token", UNKNOWN_KEY), o
        assert start <= o.sent and o.done <= window_end, (o, start, window_end)
    assert _rejections(caplog) == ({"unknown_kid": len(refused)} if refused else {})
    # After one cooldown (plus one request's time) the new key is accepted, and stays so.
    late = [o for o in outcomes if o.kid == new_kid and o.sent > window_end]
    assert late, summary
    assert all(o.status == 200 for o in late)
    # The cooldown bounds the refetches: regular refreshes plus the unknown-kid one(s).
    assert op.calls["jwks"] <= duration / MAX_AGE + 4, summary
