"""The only module that talks HTTP.

Protocol logic elsewhere is written as *flows*: generators that yield a :class:`Request`,
receive a :class:`Response` (or have :class:`~p1guard.errors.ProviderUnavailable` thrown in
when PingOne cannot be reached) and finally return a value. :meth:`Transport.run` and
:meth:`Transport.arun` pump a flow with ``httpx.Client`` / ``httpx.AsyncClient``. A flow may
also yield any other :class:`Effect` (a shared-cache call, a session-store call, a sleep): the
pump runs it with ``effect.run()`` or ``await effect.arun()`` and sends the result back.

Rules:

1. A request with a ``flight_key`` is single-flight: while one is in flight, identical
   requests (same key) wait for its response instead of calling PingOne again.
2. Each endpoint (``purpose``) has a circuit breaker: after 3 failures in a row (transport
   error, 429 or 5xx) calls fail fast with ``ProviderUnavailable`` for a jittered, growing
   wait (at least the server's ``Retry-After``); the first call after it probes again.
3. Idempotent requests (``retry=True``) are retried once, after a short jittered pause, on a
   transport error or a 5xx — never on a 429, whose ``Retry-After`` is passed on instead.
4. Transport failures (refused, reset, timeout, TLS) become ``ProviderUnavailable`` thrown into
   the flow, so a flow can fall back to a cached answer; otherwise it propagates.
5. Requests and responses never carry secrets into ``repr`` or logs.
6. With ``metrics``, every HTTP call actually made is counted (``PROVIDER_CALLS``, by status)
   and timed (``PROVIDER_LATENCY``); a breaker's fast failure counts as ``circuit_open``.
   Single-flight waiters make no call and count nothing.
7. With ``tracing``, every call that reaches :meth:`Transport._send_now` (breaker check, the
   attempt and its retry) is one span, current while it runs; a single-flight waiter only adds
   an event to the current span. See :mod:`p1guard._observe.tracing` for names and attributes.
   Without it, a call pays one ``is None`` check.
8. A request with ``max_bytes`` reads at most that many body bytes (decoded, so a compressed
   bomb stops there too; a larger ``Content-Length`` is not read at all). A longer answer is
   ``ProviderUnavailable`` (``reason="<purpose>_too_large"``, logged with the URL), thrown
   into the flow like a transport failure; it is not retried.
"""

from __future__ import annotations

import asyncio
import http.cookiejar
import logging
import random
import threading
import time
import weakref
from collections.abc import Generator
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from p1guard._http.backoff import Backoff
from p1guard._http.flow import (
    Flow,
    Request,
    Response,
)
from p1guard._observe.metrics import PROVIDER_CALLS, PROVIDER_LATENCY
from p1guard.errors import ProviderUnavailable

if TYPE_CHECKING:
    from p1guard._observe.metrics import Metrics
    from p1guard._observe.tracing import CallSpan, Tracing

__all__ = ["Transport"]

log = logging.getLogger("p1guard.http")

T = TypeVar("T")


def _to_httpx(request: Request) -> dict[str, Any]:
    return {
        "method": request.method,
        "url": request.url,
        "headers": dict(request.headers),
        "data": dict(request.form) if request.form is not None else None,
        "content": request.content,
    }


def _from_httpx(response: httpx.Response) -> Response:
    return Response(
        status_code=response.status_code,
        headers={k.lower(): v for k, v in response.headers.items()},
        content=response.content,
    )


def _declared_too_large(response: httpx.Response, limit: int) -> bool:
    declared = response.headers.get("content-length", "")
    return declared.isdigit() and int(declared) > limit


def _limited(response: httpx.Response, body: bytearray, limit: int) -> Response:
    """A streamed answer read up to ``limit`` bytes (rule 8): its body, or ``too_large``."""
    too_large = len(body) > limit or _declared_too_large(response, limit)
    return Response(
        status_code=response.status_code,
        headers={k.lower(): v for k, v in response.headers.items()},
        content=b"" if too_large else bytes(body),
        too_large=too_large,
    )


def _receive(client: httpx.Client, request: Request) -> Response:
    """Send ``request`` and read the answer, at most ``max_bytes`` of its body (rule 8)."""
    limit = request.max_bytes
    if limit is None:
        return _from_httpx(client.request(**_to_httpx(request)))
    with client.stream(**_to_httpx(request)) as response:
        body = bytearray()
        if not _declared_too_large(response, limit):
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > limit:
                    break
        return _limited(response, body, limit)


async def _areceive(client: httpx.AsyncClient, request: Request) -> Response:
    """:func:`_receive` for the async client."""
    limit = request.max_bytes
    if limit is None:
        return _from_httpx(await client.request(**_to_httpx(request)))
    async with client.stream(**_to_httpx(request)) as response:
        body = bytearray()
        if not _declared_too_large(response, limit):
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > limit:
                    break
        return _limited(response, body, limit)


def _too_large(request: Request) -> ProviderUnavailable:
    log.warning(
        "PingOne %s endpoint %s answered more than %d bytes; not read",
        request.purpose,
        request.url,
        request.max_bytes,
    )
    return ProviderUnavailable(
        f"The authorization server's {request.purpose} answer is too large",
        reason=f"{request.purpose}_too_large",
    )


def _unreachable(request: Request, exc: BaseException) -> ProviderUnavailable:
    kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "could not be reached"
    log.warning("PingOne %s endpoint %s (%s)", request.purpose, kind, type(exc).__name__)
    return ProviderUnavailable(
        f"The authorization server's {request.purpose} endpoint {kind}",
        reason=f"{request.purpose}_unreachable",
    )


def _measure(metrics: Metrics, request: Request, response: Response | None, started: float) -> None:
    """Rule 6 for one HTTP call."""
    status = "error" if response is None else str(response.status_code)
    metrics.count(PROVIDER_CALLS, endpoint=request.purpose, status=status)
    metrics.observe(PROVIDER_LATENCY, time.perf_counter() - started, endpoint=request.purpose)


_BREAKER_THRESHOLD = 3


class _Breaker:
    """Rule 2 for one endpoint: consecutive failures open it for a backoff period."""

    __slots__ = ("backoff", "failures")

    def __init__(self) -> None:
        self.failures = 0
        self.backoff = Backoff(base=1.0, cap=30.0)

    def check(self, request: Request) -> None:
        wait = self.backoff.wait(time.monotonic()) if self.failures >= _BREAKER_THRESHOLD else 0
        if wait > 0:
            raise ProviderUnavailable(
                f"The authorization server's {request.purpose} endpoint is failing; "
                "not calling it again yet",
                reason=f"{request.purpose}_circuit_open",
                retry_after=wait,
            )

    def record(self, response: Response | None) -> bool:
        """Count the outcome; ``True`` when it was a failure."""
        failed = response is None or response.status_code == 429 or response.status_code >= 500
        if not failed:
            self.failures = 0
            self.backoff.succeeded()
            return False
        self.failures += 1
        if self.failures >= _BREAKER_THRESHOLD:
            retry_after = response.retry_after() if response is not None else None
            self.backoff.failed(time.monotonic(), retry_after)
        return True


def _retry_pause() -> float:
    return 0.05 + 0.1 * random.random()  # noqa: S311 - jitter, not a secret


def _worth_retrying(request: Request, response: Response | None, breaker: _Breaker) -> bool:
    transient = response is None or response.status_code >= 500
    return request.retry and transient and breaker.failures < _BREAKER_THRESHOLD


#: One call's attempts as steps (see :meth:`Transport._attempt_steps`).
_Outcome = tuple["Response | None", "BaseException | None"]
_Attempts = Generator["float | None", _Outcome, "Response"]


class _SyncFlight:
    __slots__ = ("done", "error", "response")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.response: Response | None = None
        self.error: ProviderUnavailable | None = None


def _settle(
    flights: dict[str, asyncio.Future[Response]],
    key: str,
    future: asyncio.Future[Response],
    done: asyncio.Task[Response],
    request: Request,
) -> None:
    """Hand a taken-over call's outcome to the waiters of a cancelled leader."""
    if flights.get(key) is future:
        del flights[key]
    if done.cancelled():
        future.set_exception(_unreachable(request, asyncio.CancelledError()))
    elif (exc := done.exception()) is not None:
        future.set_exception(
            exc if isinstance(exc, ProviderUnavailable) else _unreachable(request, exc)
        )
    else:
        future.set_result(done.result())
    future.exception()  # mark retrieved: there may be no waiters


class Transport:
    """Sync and async HTTP clients plus single-flight bookkeeping, shared by one :class:`PingOne`.

    The async client is kept per event loop (an ``httpx.AsyncClient`` cannot cross loops).
    ``metrics`` receives rule 6's counts and timings, ``tracing`` rule 7's spans.
    """

    def __init__(
        self,
        *,
        timeout: float = 5.0,
        client: httpx.Client | None = None,
        async_client: httpx.AsyncClient | None = None,
        metrics: Metrics | None = None,
        tracing: Tracing | None = None,
    ) -> None:
        self.timeout = timeout
        self.metrics = metrics
        self.tracing = tracing
        self._client = client
        self._given_async = async_client
        self._async_clients: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, httpx.AsyncClient
        ] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()
        self._breakers: dict[str, _Breaker] = {}
        self._sync_flights: dict[str, _SyncFlight] = {}
        self._landed: dict[str, tuple[Response, float]] = {}
        self._async_flights: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[str, asyncio.Future[Response]]
        ] = weakref.WeakKeyDictionary()

    # -- clients ---------------------------------------------------------------------------

    def _limits(self) -> dict[str, Any]:
        # One client serves every user: it must never keep cookies PingOne sets for one of
        # them (a shared jar would send them on another user's calls).
        no_cookies = http.cookiejar.CookieJar(
            http.cookiejar.DefaultCookiePolicy(allowed_domains=[])
        )
        return {
            "timeout": httpx.Timeout(self.timeout),
            "follow_redirects": False,
            "headers": {"User-Agent": "p1guard", "Accept": "application/json"},
            "cookies": no_cookies,
        }

    @property
    def client(self) -> httpx.Client:
        """The shared ``httpx.Client`` (created on first use)."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = httpx.Client(**self._limits())
        return self._client

    def async_client(self) -> httpx.AsyncClient:
        """The ``httpx.AsyncClient`` of the running event loop (created on first use)."""
        if self._given_async is not None:
            return self._given_async
        loop = asyncio.get_running_loop()
        client = self._async_clients.get(loop)
        if client is None:
            client = httpx.AsyncClient(**self._limits())
            self._async_clients[loop] = client
        return client

    # -- pumps -----------------------------------------------------------------------------

    def send(self, request: Request) -> Response:
        """Send one request synchronously (single-flight by ``flight_key``)."""
        response, landing = self._send_shared(request)
        if landing is not None:
            self._land(landing)
        return response

    def _send_shared(self, request: Request) -> tuple[Response, str | None]:
        """Like :meth:`send`, but a leader's flight stays joinable until :meth:`_land`.

        :meth:`run` lands the flight only after the flow has stored the answer. A request that
        was decided before the last landing of its key (a thread that missed the cache just
        before the answer was stored) gets that answer instead of a second call; a request
        decided after it saw the stored answer and really needs a new call.
        """
        if request.flight_key is None:
            return self._send_now(request), None
        key = request.flight_key
        reused: Response | None = None
        with self._lock:
            flight = self._sync_flights.get(key)
            if flight is None:
                landed = self._landed.get(key)
                if landed is not None and request.decided_at < landed[1]:
                    # Decided before that answer was stored: it is the answer this call wants.
                    reused = landed[0]
            leader = flight is None
            if flight is None:
                flight = _SyncFlight()
                if reused is None:
                    self._sync_flights[key] = flight
        if reused is not None:
            if self.tracing is not None:
                self.tracing.joined(request, "reused")
            return reused, None
        if not leader:
            if self.tracing is not None:
                self.tracing.joined(request, "follower")
            flight.done.wait(self.timeout * 2 + 1)
            if flight.response is not None:
                return flight.response, None
            raise flight.error or _unreachable(request, TimeoutError())
        try:
            flight.response = self._send_now(request)
        except BaseException as exc:
            flight.error = exc if isinstance(exc, ProviderUnavailable) else None
            self._land(key)
            raise
        flight.done.set()
        return flight.response, key

    def _land(self, key: str) -> None:
        now = time.monotonic()
        with self._lock:
            flight = self._sync_flights.pop(key, None)
            if flight is not None and flight.response is not None:
                if len(self._landed) > 256:  # bounded: forget answers older than a second
                    self._landed = {k: v for k, v in self._landed.items() if now - v[1] < 1.0}
                self._landed[key] = (flight.response, now)
        if flight is not None:
            flight.done.set()

    def _admit(self, request: Request) -> _Breaker:
        """The endpoint's breaker, once it lets ``request`` through (rule 2)."""
        breaker = self._breakers.get(request.purpose)
        if breaker is None:
            breaker = self._breakers.setdefault(request.purpose, _Breaker())
        try:
            breaker.check(request)
        except ProviderUnavailable:
            if self.metrics is not None:
                self.metrics.count(PROVIDER_CALLS, endpoint=request.purpose, status="circuit_open")
            raise
        return breaker

    def _send_now(self, request: Request) -> Response:
        if self.tracing is None:
            return self._attempts(request, None)
        call = self.tracing.call(request)
        try:
            response = self._attempts(request, call)
        except BaseException as exc:
            call.end(None, exc)
            raise
        call.end(response, None)
        return response

    def _attempt_steps(self, request: Request, call: CallSpan | None) -> _Attempts:
        """Rules 2, 3, 6 and 7 for one call, written once for both pumps: yields ``None`` to
        have the request sent (and receives ``(response, error)``), or a pause in seconds."""
        breaker = self._admit(request)
        response: Response | None = None
        error: BaseException | None = None
        for attempt in (1, 2):
            started = time.perf_counter()
            response, error = yield None
            if self.metrics is not None:
                _measure(self.metrics, request, response, started)
            retrying = (
                breaker.record(response)
                and attempt == 1
                and _worth_retrying(request, response, breaker)
            )
            if call is not None:
                call.attempt(response, error, retrying)
            if not retrying:
                break
            yield _retry_pause()
        if response is None:
            raise _unreachable(request, error or TimeoutError()) from error
        if response.too_large:
            raise _too_large(request)
        return response

    def _attempts(self, request: Request, call: CallSpan | None) -> Response:
        steps = self._attempt_steps(request, call)
        try:
            step = next(steps)
            while True:
                if step is None:
                    try:
                        outcome: _Outcome = (_receive(self.client, request), None)
                    except (httpx.HTTPError, httpx.InvalidURL) as exc:  # InvalidURL: no HTTPError
                        outcome = (None, exc)
                    step = steps.send(outcome)
                else:
                    time.sleep(step)
                    step = steps.send((None, None))
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    async def asend(self, request: Request) -> Response:
        """Send one request asynchronously (single-flight by ``flight_key`` within the loop)."""
        if request.flight_key is None:
            return await self._asend_now(request)
        loop = asyncio.get_running_loop()
        flights = self._async_flights.get(loop)
        if flights is None:
            flights = self._async_flights[loop] = {}
        key = request.flight_key
        pending = flights.get(key)
        if pending is not None:
            if self.tracing is not None:
                self.tracing.joined(request, "follower")
            return await asyncio.shield(pending)
        future: asyncio.Future[Response] = loop.create_future()
        flights[key] = future
        try:
            response = await self._asend_now(request)
        except asyncio.CancelledError:
            # The leader's caller went away (client disconnect, timeout): finish the call for
            # the waiters instead of failing them all.
            task = loop.create_task(self._asend_now(request))
            task.add_done_callback(lambda done: _settle(flights, key, future, done, request))
            raise
        except BaseException as exc:
            flights.pop(key, None)
            error = exc if isinstance(exc, ProviderUnavailable) else _unreachable(request, exc)
            future.set_exception(error)
            future.exception()  # mark retrieved: there may be no waiters
            raise
        flights.pop(key, None)
        future.set_result(response)
        return response

    async def _asend_now(self, request: Request) -> Response:
        if self.tracing is None:
            return await self._aattempts(request, None)
        call = self.tracing.call(request)
        try:
            response = await self._aattempts(request, call)
        except BaseException as exc:
            call.end(None, exc)
            raise
        call.end(response, None)
        return response

    async def _aattempts(self, request: Request, call: CallSpan | None) -> Response:
        steps = self._attempt_steps(request, call)
        try:
            step = next(steps)
            while True:
                if step is None:
                    try:
                        outcome: _Outcome = (await _areceive(self.async_client(), request), None)
                    except (httpx.HTTPError, httpx.InvalidURL) as exc:  # InvalidURL: no HTTPError
                        outcome = (None, exc)
                    step = steps.send(outcome)
                else:
                    await asyncio.sleep(step)
                    step = steps.send((None, None))
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    def run(self, flow: Flow[T]) -> T:
        """Pump ``flow`` synchronously and return its result."""
        try:
            item = next(flow)
            while True:
                landing = None
                try:
                    if isinstance(item, Request):
                        result, landing = self._send_shared(item)
                    else:
                        result = item.run()
                except ProviderUnavailable as exc:
                    item = flow.throw(exc)
                else:
                    try:
                        item = flow.send(result)
                    finally:
                        if landing is not None:
                            self._land(landing)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]

    async def arun(self, flow: Flow[T]) -> T:
        """Pump ``flow`` asynchronously and return its result."""
        try:
            item = next(flow)
            while True:
                try:
                    if isinstance(item, Request):
                        result = await self.asend(item)
                    else:
                        result = await item.arun()
                except ProviderUnavailable as exc:
                    item = flow.throw(exc)
                else:
                    item = flow.send(result)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        """Close the sync client."""
        if self._client is not None:
            self._client.close()
            self._client = None

    async def aclose(self) -> None:
        """Close the async client of the running loop, and the sync client."""
        self.close()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # pragma: no cover - aclose is always awaited
            return
        client = self._async_clients.pop(loop, None)
        if client is not None:
            await client.aclose()
