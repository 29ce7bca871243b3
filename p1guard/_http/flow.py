"""The vocabulary of flows, with no I/O: what every sans-I/O step of p1guard yields and receives.

A *flow* is a generator that yields a :class:`Request` (or any other :class:`Effect`: a
shared-cache call, a session-store call, a :class:`Sleep`), receives a :class:`Response` (or
has :class:`~p1guard.ProviderUnavailable` thrown in when PingOne cannot be reached) and finally
returns a value. :class:`~p1guard._http.transport.Transport` pumps flows over HTTP;
:func:`drive` pumps one by hand, for tests and examples.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from p1guard.errors import ProviderUnavailable

log = logging.getLogger("p1guard.http")

__all__ = [
    "Effect",
    "Flow",
    "Request",
    "Response",
    "Sleep",
    "drive",
    "json_object",
    "provider_error",
    "without_query",
]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Request:
    """A description of one HTTP call to PingOne.

    ``purpose`` names the endpoint for logs and metrics (``"jwks"``, ``"introspect"``…);
    ``flight_key`` enables single-flight (rule 1).
    """

    method: str
    url: str
    purpose: str
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    form: Mapping[str, str] | None = field(default=None, repr=False)
    #: A raw body (e.g. JSON for the pi.flow API); set ``Content-Type`` in ``headers``.
    #: At most one of ``form`` and ``content``.
    content: bytes | None = field(default=None, repr=False)
    flight_key: str | None = field(default=None, repr=False)
    retry: bool = field(default=False, repr=False)
    #: Largest body read (rule 8); ``None``: no limit.
    max_bytes: int | None = field(default=None, repr=False)
    #: When the flow decided to make this call (``time.monotonic()``); see :meth:`Transport.send`.
    decided_at: float = field(default_factory=time.monotonic, repr=False, compare=False)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_STRICT_JSON = json.JSONDecoder(parse_constant=_no_constants)


@dataclass(frozen=True, slots=True)
class Response:
    """What PingOne answered: status, lower-cased headers, body bytes."""

    status_code: int
    headers: Mapping[str, str] = field(repr=False)
    content: bytes = field(repr=False)
    #: The body was longer than the request's ``max_bytes`` and was not read (rule 8).
    too_large: bool = field(default=False, repr=False)

    def json(self) -> Any:
        """The body as JSON; raises ``ValueError`` on anything else (``NaN``, absurd nesting)."""
        try:
            return _STRICT_JSON.decode(self.content.decode("utf-8"))
        except RecursionError as exc:
            raise ValueError("JSON nested too deeply") from exc

    def retry_after(self) -> float | None:
        """``Retry-After`` in seconds when it is a number (RFC 9110 §10.2.3), else ``None``."""
        value = self.headers.get("retry-after")
        if value is None:
            return None
        try:
            seconds = float(value)
        except ValueError:
            return None
        return seconds if 0 <= seconds <= 3600 else None


class Effect(Protocol):
    """I/O other than a call to PingOne that a flow asks its pump to do."""

    def run(self) -> Any:
        """Do it synchronously and return the result sent back into the flow."""

    async def arun(self) -> Any:
        """Do it asynchronously and return the result sent back into the flow."""


@dataclass(frozen=True, slots=True)
class Sleep:
    """An :class:`Effect`: wait ``seconds`` (``time.sleep`` or ``asyncio.sleep``)."""

    seconds: float

    def run(self) -> None:
        """Sleep in this thread."""
        time.sleep(self.seconds)

    async def arun(self) -> None:
        """Sleep without blocking the event loop."""
        await asyncio.sleep(self.seconds)


Flow = Generator["Request | Effect", Any, T]


def drive(flow: Flow[T], respond: Any) -> T:
    """Pump ``flow`` by hand with ``respond(request) -> Response`` (for tests and tools).

    It behaves like the transport's pumps: a :class:`~p1guard.ProviderUnavailable` raised by
    ``respond`` (or by an effect) is thrown into the flow, which may fall back or let it out.

    >>> def flow():
    ...     try:
    ...         yield Request("GET", "https://example.test/x", purpose="test")
    ...     except ProviderUnavailable:
    ...         return "fell back"
    >>> def down(request):
    ...     raise ProviderUnavailable("down")
    >>> drive(flow(), down)
    'fell back'
    """
    try:
        item = next(flow)
        while True:
            try:
                result = respond(item) if isinstance(item, Request) else item.run()
            except ProviderUnavailable as exc:
                item = flow.throw(exc)
            else:
                item = flow.send(result)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


def without_query(url: str) -> str:
    """``url`` without its query and fragment, for messages and logs (they may carry secrets).

    >>> without_query("https://auth.pingone.com/env/as/resume?flowId=f1#x")
    'https://auth.pingone.com/env/as/resume'
    """
    return url.split("#", 1)[0].split("?", 1)[0]


def provider_error(
    response: Response, purpose: str, *, url: str | None = None
) -> ProviderUnavailable:
    """The :class:`ProviderUnavailable` for an unexpected answer (429/5xx keep ``Retry-After``).

    ``url`` (named without its query) says which endpoint, with the likely cause.
    """
    status = response.status_code
    where = f"{purpose} endpoint" if url is None else f"{purpose} endpoint {without_query(url)}"
    log.warning("PingOne %s answered HTTP %d", where, status)
    cause = ""
    if url is not None:
        cause = (
            " (rate-limited: retry after the pause it asked for)"
            if status == 429
            else " (PingOne is failing or overloaded: try again later)"
            if status >= 500
            else " (an answer p1guard does not expect from this endpoint)"
        )
    return ProviderUnavailable(
        f"The authorization server's {where} answered HTTP {status}{cause}",
        reason=f"{purpose}_http_{status}",
        retry_after=response.retry_after() if status in (429, 503) else None,
    )


def json_object(response: Response, purpose: str, *, url: str | None = None) -> dict[str, Any]:
    """The JSON object of a 200 answer, or :class:`ProviderUnavailable` for anything else.

    ``url``: name the endpoint (without its query) in the error, as :func:`provider_error`.
    """
    if response.status_code != 200:
        raise provider_error(response, purpose, url=url)
    try:
        document = response.json()
    except ValueError:
        document = None
    if not isinstance(document, dict):
        where = f"{purpose} endpoint" if url is None else f"{purpose} endpoint {without_query(url)}"
        log.warning("PingOne %s answered something that is not a JSON object", where)
        raise ProviderUnavailable(
            f"The authorization server's {where} answered malformed JSON",
            reason=f"{purpose}_malformed",
        )
    return document
