"""Tracing hooks: a span for every call p1guard makes to PingOne, and an OpenTelemetry adapter.

Pass a :class:`Tracing` (for OpenTelemetry: :class:`OpenTelemetryTracing`) to
``PingOne(tracing=…)``; every call its :class:`~p1guard._http.transport.Transport` makes —
discovery,
JWKS, introspection, token, revocation, userinfo, PAR, pi.flow — becomes one span, a child of
whatever span is current (the app's request span), so a slow login or a 503 shows *which*
PingOne endpoint was slow or failing.

>>> from p1guard import PingOne
>>> from p1guard._observe.tracing import OpenTelemetryTracing                   # doctest: +SKIP
>>> pingone = PingOne(env_id="…", tracing=OpenTelemetryTracing())       # doctest: +SKIP

Rules:

1. Without ``tracing`` (the default) nothing is traced. A call to PingOne pays one ``is None``
   check; the verification hot path (a cached token, or a new JWT whose key is cached) makes
   no call to PingOne and pays nothing at all.
2. One span per call, named ``"p1guard <purpose>"`` (``p1guard jwks``…), kind ``CLIENT``,
   child of the current context, and current itself while the HTTP request runs (an httpx
   instrumentation's spans nest under it). The one retry of an idempotent call (see
   :mod:`p1guard._http.transport`) happens inside the same span: ``http.request.resend_count`` = 1
   and
   an ``p1guard.retry`` event carrying the first attempt's ``error.type``.
3. Attributes follow the OpenTelemetry HTTP client conventions: ``http.request.method``,
   ``server.address``, ``server.port``, ``url.full`` (scheme, host, port and path only: never
   a query, fragment or user info), ``http.response.status_code``, ``error.type`` (the status
   code for an answer ≥ 400, the transport exception's class name, or ``circuit_open``); plus
   ``p1guard.purpose``, ``p1guard.retry`` (whether the call may be retried) and
   ``p1guard.single_flight`` = ``"leader"`` on a call other callers wait for.
4. A call that ends without a successful answer (status ≥ 400, no answer, an exception) sets
   the span status to ERROR with a description p1guard wrote. Exceptions are not recorded as
   events: a chained third-party exception could carry a URL.
5. Nothing secret is ever read into a span: no header, form, body, query string, token, code
   or client secret — only the method, the URL without its query, the purpose and the status.
6. A single-flight follower makes no call and no span: it adds a ``p1guard.single_flight.join``
   event to the current span (``p1guard.single_flight`` = ``follower`` when it waited for the
   leader's answer, ``reused`` when that answer had just landed).
7. Hooks run inline on the request path: an implementation must be fast and must not raise.
"""

from __future__ import annotations

import importlib
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

from p1guard.errors import ConfigError, ProviderUnavailable

__all__ = ["CallSpan", "OpenTelemetryTracing", "Tracing", "error_type", "url_target"]


class Request(Protocol):
    """What a span reads of a call (a :class:`p1guard._http.flow.Request` is one): tracing sits
    below the flow vocabulary and knows it only by these members."""

    @property
    def method(self) -> str:
        """The HTTP method."""
        ...

    @property
    def url(self) -> str:
        """The URL (its query is never recorded)."""
        ...

    @property
    def purpose(self) -> str:
        """The endpoint's name (``"jwks"``, ``"introspect"``…)."""
        ...

    @property
    def flight_key(self) -> str | None:
        """The single-flight key, if any."""
        ...

    @property
    def retry(self) -> bool:
        """Whether the call may be retried once."""
        ...


class Response(Protocol):
    """What a span reads of an answer (a :class:`p1guard._http.flow.Response` is one)."""

    @property
    def status_code(self) -> int:
        """The HTTP status."""
        ...


class CallSpan(Protocol):
    """The span of one call to PingOne, as the transport reports into it."""

    def attempt(
        self, response: Response | None, error: BaseException | None, retrying: bool
    ) -> None:
        """One HTTP attempt finished: its answer, or the transport exception (no answer);
        ``retrying`` when the transport is about to try once more."""

    def end(self, response: Response | None, error: BaseException | None) -> None:
        """The call is over: the final answer, or the exception the transport raises."""


@runtime_checkable
class Tracing(Protocol):
    """What p1guard reports calls to PingOne to. A test recorder is a few lines:

    >>> class Recorder:
    ...     def __init__(self):
    ...         self.calls, self.joins = [], []
    ...     def call(self, request):
    ...         self.calls.append(request.purpose)
    ...         return self
    ...     def attempt(self, response, error, retrying):
    ...         pass
    ...     def end(self, response, error):
    ...         pass
    ...     def joined(self, request, role):
    ...         self.joins.append((request.purpose, role))
    >>> isinstance(Recorder(), Tracing)
    True
    """

    def call(self, request: Request) -> CallSpan:
        """Start the span of a call about to be made (rule 2) and make it current."""

    def joined(self, request: Request, role: str) -> None:
        """A single-flight follower got the leader's answer without a call (rule 6)."""


def url_target(url: str) -> tuple[str, str, int]:
    """``(url.full, server.address, server.port)`` of ``url``, query and credentials dropped.

    >>> url_target("https://user:pw@auth.pingone.eu/env/as/authorize?code_challenge=x#f")
    ('https://auth.pingone.eu/env/as/authorize', 'auth.pingone.eu', 443)
    >>> url_target("http://[::1]:8080/as/jwks")
    ('http://[::1]:8080/as/jwks', '::1', 8080)
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None:
        port = 443 if parts.scheme == "https" else 80
    shown = f"[{host}]" if ":" in host else host
    netloc = shown if parts.port is None else f"{shown}:{port}"
    return f"{parts.scheme}://{netloc}{parts.path}", host, port


def error_type(
    response: Response | None, error: BaseException | None, purpose: str = ""
) -> str | None:
    """The ``error.type`` of an outcome (rule 3), ``None`` for a successful answer.

    >>> error_type(None, TimeoutError())
    'TimeoutError'
    >>> error_type(None, ProviderUnavailable("…", reason="jwks_circuit_open"), "jwks")
    'circuit_open'
    """
    if response is not None:
        return str(response.status_code) if response.status_code >= 400 else None
    if error is None:
        return None
    if isinstance(error, ProviderUnavailable) and error.reason:
        prefix = f"{purpose}_"
        return error.reason[len(prefix) :] if error.reason.startswith(prefix) else error.reason
    return type(error).__name__


class _OpenTelemetryCall:
    """:class:`CallSpan` over an OpenTelemetry span, current until :meth:`end`."""

    __slots__ = ("_failure", "_owner", "_purpose", "_span", "_token")

    def __init__(self, owner: OpenTelemetryTracing, span: Any, purpose: str) -> None:
        self._owner = owner
        self._span = span
        self._purpose = purpose
        self._failure: str | None = None  # error.type of the last attempt without an answer
        self._token = owner._context.attach(owner._trace.set_span_in_context(span))

    def attempt(
        self, response: Response | None, error: BaseException | None, retrying: bool
    ) -> None:
        """Remember why an attempt failed; before a retry, say so in a ``p1guard.retry`` event."""
        failure = error_type(response, error, self._purpose)
        self._failure = failure if response is None else None
        if retrying:
            self._span.add_event("p1guard.retry", {"error.type": failure or "_OTHER"})
            self._span.set_attribute("http.request.resend_count", 1)

    def end(self, response: Response | None, error: BaseException | None) -> None:
        """Status code, ``error.type`` and ERROR status (rule 4); end and detach the span."""
        span = self._span
        try:
            if response is not None:
                span.set_attribute("http.response.status_code", response.status_code)
            failure = error_type(response, None)
            if failure is None and response is None:
                failure = self._failure or error_type(None, error, self._purpose) or "_OTHER"
            if failure is not None:
                span.set_attribute("error.type", failure)
                span.set_status(self._owner._error_status(failure, self._purpose))
            span.end()
        finally:
            self._owner._context.detach(self._token)


class OpenTelemetryTracing:
    """:class:`Tracing` for the OpenTelemetry API (``pip install 'p1guard[otel]'``).

    Spans come from ``tracer_provider.get_tracer("p1guard")``; the default is the global
    provider, so the app's SDK setup (exporter, sampler) decides where they go, and with no
    SDK installed they cost next to nothing.

    >>> from opentelemetry.sdk.trace import TracerProvider               # doctest: +SKIP
    >>> tracing = OpenTelemetryTracing(tracer_provider=TracerProvider())  # doctest: +SKIP
    >>> pingone = PingOne(env_id="…", tracing=tracing)                    # doctest: +SKIP
    """

    def __init__(self, tracer_provider: Any = None) -> None:
        self._trace = _require("opentelemetry.trace", "OpenTelemetryTracing")
        self._context = _require("opentelemetry.context", "OpenTelemetryTracing")
        from p1guard._version import __version__

        self.tracer_provider: Any = tracer_provider
        self.tracer: Any = self._trace.get_tracer(
            "p1guard", __version__, tracer_provider=tracer_provider
        )
        self._client = self._trace.SpanKind.CLIENT

    def call(self, request: Request) -> CallSpan:
        """Start ``p1guard <purpose>`` as a child of the current context, and make it current."""
        url, host, port = url_target(request.url)
        attributes: dict[str, Any] = {
            "http.request.method": request.method,
            "server.address": host,
            "server.port": port,
            "url.full": url,
            "p1guard.purpose": request.purpose,
            "p1guard.retry": request.retry,
        }
        if request.flight_key is not None:
            attributes["p1guard.single_flight"] = "leader"
        span = self.tracer.start_span(
            f"p1guard {request.purpose}", kind=self._client, attributes=attributes
        )
        return _OpenTelemetryCall(self, span, request.purpose)

    def joined(self, request: Request, role: str) -> None:
        """Add a ``p1guard.single_flight.join`` event to the current span."""
        self._trace.get_current_span().add_event(
            "p1guard.single_flight.join",
            {"p1guard.purpose": request.purpose, "p1guard.single_flight": role},
        )

    def _error_status(self, failure: str, purpose: str) -> Any:
        if failure.isdigit():
            description = f"PingOne {purpose} endpoint answered HTTP {failure}"
        elif failure == "circuit_open":
            description = f"PingOne {purpose} endpoint failing; circuit breaker open"
        else:
            description = f"PingOne {purpose} call failed ({failure})"
        return self._trace.Status(self._trace.StatusCode.ERROR, description)

    def __repr__(self) -> str:
        return f"OpenTelemetryTracing(tracer_provider={self.tracer_provider!r})"


def _require(module: str, adapter: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ConfigError(
            "tracing", f"{adapter} needs the 'otel' extra: pip install 'p1guard[otel]'"
        ) from exc
