"""OpenTelemetry spans of calls to PingOne, with the real SDK, against MockPingOne over HTTP."""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from p1guard import ConfigError, Guard, PingOne, ProviderUnavailable
from p1guard._http.flow import Request
from p1guard._http.transport import Transport
from p1guard._observe.tracing import OpenTelemetryTracing, Tracing
from p1guard.rp import RelyingParty
from p1guard.testing import MockPingOne

CALLBACK = "http://127.0.0.1:5000/auth/callback"


class Spans:
    """A private SDK tracer provider whose finished spans stay in memory."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider()
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.tracing = OpenTelemetryTracing(tracer_provider=self.provider)
        self.app = self.provider.get_tracer("app")

    def finished(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def named(self, name: str) -> list[ReadableSpan]:
        return [s for s in self.finished() if s.name == name]

    def one(self, name: str) -> ReadableSpan:
        (span,) = self.named(name)
        return span


@pytest.fixture
def spans() -> Iterator[Spans]:
    recorded = Spans()
    yield recorded
    recorded.provider.shutdown()


def traced_guard(op: MockPingOne, spans: Spans, **kwargs: Any) -> Guard:
    return op.guard(pingone=op.pingone(tracing=spans.tracing), **kwargs)


def everything_said(span: ReadableSpan) -> str:
    """Every string a span carries to an exporter: name, attributes, events, status."""
    parts = [span.name, str(span.status.description or "")]
    parts += [f"{k}={v!r}" for k, v in (span.attributes or {}).items()]
    for event in span.events:
        parts.append(event.name)
        parts += [f"{k}={v!r}" for k, v in (event.attributes or {}).items()]
    return "\n".join(parts)


def assert_nothing_secret(spans: Spans, *secrets: str) -> None:
    said = "\n".join(everything_said(s) for s in spans.finished())
    assert said  # there is something to search
    for secret in secrets:
        assert secret and secret not in said
    assert all("?" not in str((s.attributes or {}).get("url.full", "")) for s in spans.finished())


# -- configuration -----------------------------------------------------------------------------


def test_opentelemetry_tracing_satisfies_the_protocol(spans: Spans) -> None:
    assert isinstance(spans.tracing, Tracing)
    assert "OpenTelemetryTracing(" in repr(spans.tracing)


def test_tracing_without_call_and_joined_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as info:
        PingOne(issuer="https://login.example.com/as", tracing=object())  # type: ignore[arg-type]
    assert info.value.field == "tracing"


def test_tracing_reaches_the_transport(spans: Spans) -> None:
    pingone = PingOne(issuer="https://x.example/as", tracing=spans.tracing)
    assert pingone.transport.tracing is spans.tracing
    given = Transport()
    PingOne(issuer="https://x.example/as", tracing=spans.tracing, transport=given)
    assert given.tracing is spans.tracing


def test_adapter_without_opentelemetry_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.trace", None)  # makes the import fail
    with pytest.raises(ConfigError, match=r"pip install 'p1guard\[otel\]'") as info:
        OpenTelemetryTracing()
    assert info.value.field == "tracing"


def test_zero_config_default_creates_no_spans(pingone_mock: MockPingOne, spans: Spans) -> None:
    pingone = pingone_mock.pingone()
    assert pingone.tracing is None and pingone.transport.tracing is None
    guard = pingone_mock.guard(pingone=pingone)
    with spans.app.start_as_current_span("GET /orders"):
        guard.verify(pingone_mock.issue_token(["read"]))  # discovery + JWKS over HTTP
    assert pingone_mock.calls["jwks"] == 1
    (only,) = spans.finished()
    assert only.name == "GET /orders"
    assert not only.events


def test_global_provider_default_without_sdk_is_harmless(pingone_mock: MockPingOne) -> None:
    # No SDK configured globally: the API's proxy tracer makes non-recording spans.
    guard = pingone_mock.guard(pingone=pingone_mock.pingone(tracing=OpenTelemetryTracing()))
    assert guard.verify(pingone_mock.issue_token(["read"])).subject


# -- spans and attributes ----------------------------------------------------------------------


def test_discovery_and_jwks_calls_are_client_spans_with_http_attributes(
    pingone_mock: MockPingOne, spans: Spans
) -> None:
    guard = traced_guard(pingone_mock, spans)
    token = pingone_mock.issue_token(["read"])
    guard.verify(token)
    guard.verify(token)  # cached: no call, no span
    guard.verify(pingone_mock.issue_token(["read"]))  # keys cached: no call, no span
    assert [s.name for s in spans.finished()] == ["p1guard discovery", "p1guard jwks"]
    for span, url, purpose in (
        (spans.one("p1guard discovery"), pingone_mock.discovery_url, "discovery"),
        (spans.one("p1guard jwks"), pingone_mock.jwks_uri, "jwks"),
    ):
        assert span.kind is SpanKind.CLIENT
        assert span.status.status_code is StatusCode.UNSET
        assert dict(span.attributes or {}) == {
            "http.request.method": "GET",
            "server.address": "127.0.0.1",
            "server.port": pingone_mock.port,
            "url.full": url,
            "http.response.status_code": 200,
            "p1guard.purpose": purpose,
            "p1guard.retry": True,
            "p1guard.single_flight": "leader",
        }
        assert span.instrumentation_scope is not None
        assert span.instrumentation_scope.name == "p1guard"


def test_introspection_span_carries_no_token_or_client_secret(
    pingone_mock: MockPingOne, spans: Spans
) -> None:
    guard = traced_guard(pingone_mock, spans, mode="introspect")
    token = pingone_mock.issue_token(["read"])
    assert guard.verify(token).subject
    span = spans.one("p1guard introspection")
    attributes = dict(span.attributes or {})
    assert attributes["http.request.method"] == "POST"
    assert attributes["url.full"] == pingone_mock.introspection_endpoint
    assert attributes["http.response.status_code"] == 200
    assert "p1guard.single_flight" in attributes  # introspection is single-flight
    token_body = token.split(".")[1]
    assert_nothing_secret(spans, token, token_body, pingone_mock.resource_secret)


def test_code_exchange_spans_carry_no_code_secret_or_query(
    pingone_mock: MockPingOne, spans: Spans
) -> None:
    """The authorization-code leak: a code, PKCE verifier or client secret in a span attribute."""
    client = pingone_mock.register_client(redirect_uris=[CALLBACK])
    rp = RelyingParty(
        pingone_mock.pingone(tracing=spans.tracing),
        client_id=client.client_id,
        client_secret=client.client_secret,
        redirect_uri=CALLBACK,
        auth_method=client.auth_method,
    )
    start = rp.begin(return_to="/")
    with httpx.Client(follow_redirects=False) as browser:
        if start.method == "POST":
            answer = browser.post(start.url, data=dict(start.form))
        else:
            answer = browser.get(start.url)
    params = dict(httpx.URL(answer.headers["location"]).params)
    tokens = rp.complete(params, start.transaction)
    rp.revoke(tokens.refresh_token or tokens.access_token)
    names = {s.name for s in spans.finished()}
    assert {"p1guard token", "p1guard revocation"} <= names
    token_span = spans.one("p1guard token")
    assert token_span.attributes is not None
    assert token_span.attributes["http.request.method"] == "POST"
    assert token_span.attributes["p1guard.retry"] is False  # a code is used once
    assert_nothing_secret(
        spans,
        params["code"],
        params["state"],
        client.client_secret or "",
        tokens.access_token,
        tokens.refresh_token or "",
        tokens.id_token or "",
    )


def test_url_full_drops_query_and_credentials(pingone_mock: MockPingOne, spans: Spans) -> None:
    """A token in a query string must not reach the trace backend through url.full."""
    transport = pingone_mock.pingone(tracing=spans.tracing).transport
    url = pingone_mock.jwks_uri.replace("http://", "http://user:pw@") + "?access_token=s3cr3t#x"
    assert transport.send(Request("GET", url, "jwks")).status_code == 200
    span = spans.one("p1guard jwks")
    assert span.attributes is not None
    assert span.attributes["url.full"] == pingone_mock.jwks_uri
    assert_nothing_secret(spans, "s3cr3t", "user:pw")


# -- failures ----------------------------------------------------------------------------------


def test_provider_error_marks_the_span_and_the_retry(
    pingone_mock: MockPingOne, spans: Spans
) -> None:
    guard = traced_guard(pingone_mock, spans)
    pingone_mock.fail("jwks", "error")  # HTTP 500 until cleared
    with pytest.raises(ProviderUnavailable):
        guard.verify(pingone_mock.issue_token())
    span = spans.one("p1guard jwks")
    assert pingone_mock.calls["jwks"] == 2  # one call, retried once, in one span
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "PingOne jwks endpoint answered HTTP 500"
    assert span.attributes is not None
    assert span.attributes["error.type"] == "500"
    assert span.attributes["http.response.status_code"] == 500
    assert span.attributes["http.request.resend_count"] == 1
    (retry,) = span.events
    assert retry.name == "p1guard.retry"
    assert retry.attributes is not None and retry.attributes["error.type"] == "500"


def test_unreachable_provider_is_an_error_span_without_status_code(
    pingone_mock: MockPingOne, spans: Spans
) -> None:
    guard = traced_guard(pingone_mock, spans)
    pingone_mock.fail("discovery", "down")  # connection dropped, no answer
    with pytest.raises(ProviderUnavailable):
        guard.verify(pingone_mock.issue_token())
    span = spans.one("p1guard discovery")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes is not None
    assert "http.response.status_code" not in span.attributes
    error_type = span.attributes["error.type"]
    assert isinstance(error_type, str) and error_type[0].isupper()  # an httpx exception name
    assert getattr(httpx, error_type, None) is not None


def test_open_circuit_is_an_error_span_with_no_call(
    pingone_mock: MockPingOne, spans: Spans
) -> None:
    transport = pingone_mock.pingone(tracing=spans.tracing).transport
    pingone_mock.fail("jwks", "error")
    for _ in range(3):  # three failures in a row open the breaker
        assert transport.send(Request("GET", pingone_mock.jwks_uri, "jwks")).status_code == 500
    calls = pingone_mock.calls["jwks"]
    with pytest.raises(ProviderUnavailable):
        transport.send(Request("GET", pingone_mock.jwks_uri, "jwks"))
    assert pingone_mock.calls["jwks"] == calls  # failed fast
    refused = spans.named("p1guard jwks")[-1]
    assert refused.status.status_code is StatusCode.ERROR
    assert refused.attributes is not None
    assert refused.attributes["error.type"] == "circuit_open"
    assert "http.response.status_code" not in refused.attributes


# -- context -----------------------------------------------------------------------------------


def test_spans_nest_under_the_current_app_span(pingone_mock: MockPingOne, spans: Spans) -> None:
    guard = traced_guard(pingone_mock, spans)
    with spans.app.start_as_current_span("GET /orders") as app_span:
        guard.verify(pingone_mock.issue_token(["read"]))
    parent = app_span.get_span_context()
    for name in ("p1guard discovery", "p1guard jwks"):
        child = spans.one(name)
        assert child.parent is not None
        assert child.parent.span_id == parent.span_id
        assert child.context is not None and child.context.trace_id == parent.trace_id
    # the p1guard span was current only during its call: the app span is current again
    assert spans.one("GET /orders").end_time is not None


def test_sync_single_flight_followers_make_no_span(pingone_mock: MockPingOne, spans: Spans) -> None:
    transport = pingone_mock.pingone(tracing=spans.tracing).transport
    pingone_mock.fail("jwks", "slow", delay=0.4, times=1)  # keeps the leader in flight

    def worker() -> None:
        with spans.app.start_as_current_span("worker"):
            request = Request("GET", pingone_mock.jwks_uri, "jwks", flight_key="jwks")
            assert transport.send(request).status_code == 200

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert pingone_mock.calls["jwks"] == 1
    assert len(spans.named("p1guard jwks")) == 1
    workers = spans.named("worker")
    assert len(workers) == 4
    joins = [e for w in workers for e in w.events if e.name == "p1guard.single_flight.join"]
    assert len(joins) == 3  # every worker but the leader
    assert {e.attributes["p1guard.single_flight"] for e in joins if e.attributes} <= {
        "follower",
        "reused",
    }


async def test_async_path_spans_nest_and_followers_make_no_span(
    pingone_mock: MockPingOne, spans: Spans
) -> None:
    guard = traced_guard(pingone_mock, spans)
    tokens = [pingone_mock.issue_token(["read"]) for _ in range(10)]
    with spans.app.start_as_current_span("GET /orders") as app_span:
        results = await asyncio.gather(*(guard.averify(t) for t in tokens))
    assert len(results) == 10
    assert pingone_mock.calls["discovery"] == pingone_mock.calls["jwks"] == 1
    discovery, jwks = spans.one("p1guard discovery"), spans.one("p1guard jwks")
    for child in (discovery, jwks):
        assert child.kind is SpanKind.CLIENT
        assert child.parent is not None
        assert child.parent.span_id == app_span.get_span_context().span_id
        assert child.attributes is not None and child.attributes["p1guard.single_flight"] == (
            "leader"
        )
    joins = [e for e in spans.one("GET /orders").events if e.name == "p1guard.single_flight.join"]
    assert joins  # the 9 other tasks waited on the leader's discovery call
    assert all(e.attributes and e.attributes["p1guard.single_flight"] == "follower" for e in joins)
    await guard.aclose()


async def test_async_provider_error_marks_the_span(pingone_mock: MockPingOne, spans: Spans) -> None:
    guard = traced_guard(pingone_mock, spans)
    pingone_mock.fail("discovery", "ratelimit")  # 429, never retried
    with pytest.raises(ProviderUnavailable):
        await guard.averify(pingone_mock.issue_token())
    span = spans.one("p1guard discovery")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes is not None
    assert span.attributes["error.type"] == "429"
    assert "http.request.resend_count" not in span.attributes
    assert not span.events
    await guard.aclose()
