"""Metrics hooks against a live MockPingOne, and the Prometheus and OpenTelemetry adapters."""

from __future__ import annotations

import sys
from collections import defaultdict
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from p1guard import (
    ConfigError,
    Guard,
    InsufficientScope,
    InvalidToken,
    MissingToken,
    PingOne,
    ProviderUnavailable,
)
from p1guard._http.transport import Transport
from p1guard._observe.metrics import (
    CACHE,
    PROVIDER_CALLS,
    PROVIDER_LATENCY,
    REFRESHES,
    VERIFICATIONS,
    Metrics,
    OpenTelemetryMetrics,
    PrometheusMetrics,
)
from p1guard.rp import RelyingParty, WebLogin
from p1guard.testing import MockPingOne

CALLBACK = "http://127.0.0.1:5000/auth/callback"


class Recorder:
    """The user-facing extension point, implemented the simplest way: remember every call."""

    def __init__(self) -> None:
        self.counts: defaultdict[tuple[str, frozenset[tuple[str, str]]], float]
        self.counts = defaultdict(float)
        self.observed: list[tuple[str, float, dict[str, str]]] = []

    def count(self, name: str, value: float = 1.0, **labels: str) -> None:
        self.counts[name, frozenset(labels.items())] += value

    def observe(self, name: str, value: float, **labels: str) -> None:
        self.observed.append((name, value, labels))

    def get(self, name: str, **labels: str) -> float:
        return self.counts.get((name, frozenset(labels.items())), 0.0)

    def total(self, name: str, **labels: str) -> float:
        """The sum over every label set that includes ``labels``."""
        wanted = set(labels.items())
        return sum(n for (key, got), n in self.counts.items() if key == name and wanted <= got)

    def clear(self) -> None:
        self.counts.clear()
        self.observed.clear()


def outcome(recorder: Recorder, outcome: str, reason: str, source: str) -> float:
    return recorder.get(VERIFICATIONS, outcome=outcome, reason=reason, source=source)


def measured_guard(op: MockPingOne, metrics: Metrics, **kwargs: Any) -> Guard:
    return op.guard(pingone=op.pingone(metrics=metrics), **kwargs)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


def test_recorder_satisfies_the_protocol(recorder: Recorder) -> None:
    assert isinstance(recorder, Metrics)


def test_metrics_without_count_and_observe_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as info:
        PingOne(issuer="https://login.example.com/as", metrics=object())  # type: ignore[arg-type]
    assert info.value.field == "metrics"


def test_metrics_reach_the_transport(recorder: Recorder) -> None:
    assert PingOne(issuer="https://x.example/as", metrics=recorder).transport.metrics is recorder
    given = Transport()
    PingOne(issuer="https://x.example/as", metrics=recorder, transport=given)
    assert given.metrics is recorder


# -- Guard: outcomes and caches -----------------------------------------------------------


def test_first_verify_is_jwt_then_the_verified_cache_answers(
    pingone_mock: MockPingOne, recorder: Recorder
) -> None:
    guard = measured_guard(pingone_mock, recorder)
    token = pingone_mock.issue_token(["read"])
    guard.verify(token, scopes=["read"])
    assert outcome(recorder, "ok", "", "jwt") == 1
    assert recorder.get(CACHE, cache="verified", result="miss") == 1
    assert recorder.get(CACHE, cache="jwks", result="miss") == 1  # keys not fetched yet
    for _ in range(3):
        guard.verify(token, scopes=["read"])
    assert outcome(recorder, "ok", "", "cache") == 3
    assert recorder.get(CACHE, cache="verified", result="hit") == 3
    guard.verify(pingone_mock.issue_token(["read"]))  # a new token: keys are cached now
    assert recorder.get(CACHE, cache="jwks", result="hit") == 1
    assert outcome(recorder, "ok", "", "jwt") == 2


def test_refusals_are_counted_with_their_reason(
    pingone_mock: MockPingOne, recorder: Recorder
) -> None:
    guard = measured_guard(pingone_mock, recorder)
    token = pingone_mock.issue_token(["read"])
    guard.verify(token)
    with pytest.raises(InsufficientScope):
        guard.verify(token, scopes=["admin"])  # a cache hit, then the scope check
    assert outcome(recorder, "refused", "insufficient_scope", "cache") == 1
    assert recorder.get(CACHE, cache="verified", result="hit") == 1
    with pytest.raises(InvalidToken):
        guard.verify(pingone_mock.issue_token(expires_in=-3600))
    assert outcome(recorder, "refused", "expired", "jwt") == 1
    with pytest.raises(InvalidToken):
        guard.verify("not-a-jwt")
    assert outcome(recorder, "refused", "malformed", "jwt") == 1
    with pytest.raises(MissingToken):
        guard.verify(None)
    assert outcome(recorder, "refused", "missing_token", "none") == 1
    assert recorder.total(VERIFICATIONS) == 5


def test_provider_down_is_counted_as_unavailable_with_failed_calls(
    pingone_mock: MockPingOne, recorder: Recorder
) -> None:
    guard = measured_guard(pingone_mock, recorder)
    token = pingone_mock.issue_token()
    pingone_mock.stop()
    with pytest.raises(ProviderUnavailable) as info:
        guard.verify(token)
    assert outcome(recorder, "unavailable", info.value.reason, "jwt") == 1
    # discovery is idempotent: one try and one retry, both without an answer
    assert recorder.get(PROVIDER_CALLS, endpoint="discovery", status="error") == 2


def test_provider_calls_are_counted_by_status_and_timed(
    pingone_mock: MockPingOne, recorder: Recorder
) -> None:
    guard = measured_guard(pingone_mock, recorder)
    guard.verify(pingone_mock.issue_token())
    assert recorder.get(PROVIDER_CALLS, endpoint="discovery", status="200") == 1
    assert recorder.get(PROVIDER_CALLS, endpoint="jwks", status="200") == 1
    timed = [(name, labels["endpoint"]) for name, _, labels in recorder.observed]
    assert timed == [(PROVIDER_LATENCY, "discovery"), (PROVIDER_LATENCY, "jwks")]
    assert all(0 < seconds < 5 for _, seconds, _ in recorder.observed)


def test_introspection_cache_hits_and_misses(pingone_mock: MockPingOne, recorder: Recorder) -> None:
    guard = measured_guard(pingone_mock, recorder, mode="introspect")
    token = pingone_mock.issue_token(["read"], opaque=True)
    guard.verify(token)
    guard.verify(token)
    assert recorder.get(CACHE, cache="introspection", result="miss") == 1
    assert recorder.get(CACHE, cache="introspection", result="hit") == 1
    assert recorder.total(CACHE, cache="verified") == 0  # not used in introspect mode
    assert outcome(recorder, "ok", "", "introspection") == 2
    assert recorder.get(PROVIDER_CALLS, endpoint="introspection", status="200") == 1
    pingone_mock.revoke(other := pingone_mock.issue_token(opaque=True))
    with pytest.raises(InvalidToken):
        guard.verify(other)
    assert outcome(recorder, "refused", "inactive", "introspection") == 1


def test_check_revocation_counts_both_caches(pingone_mock: MockPingOne, recorder: Recorder) -> None:
    guard = measured_guard(pingone_mock, recorder, check_revocation=True)
    token = pingone_mock.issue_token()
    guard.verify(token)
    guard.verify(token)
    assert recorder.get(CACHE, cache="verified", result="miss") == 1
    assert recorder.get(CACHE, cache="verified", result="hit") == 1
    assert recorder.get(CACHE, cache="introspection", result="miss") == 1
    assert recorder.get(CACHE, cache="introspection", result="hit") == 1
    assert outcome(recorder, "ok", "", "jwt") == 2


def test_breaker_fast_fail_is_counted(pingone_mock: MockPingOne, recorder: Recorder) -> None:
    guard = measured_guard(pingone_mock, recorder, mode="introspect")
    guard.verify(pingone_mock.issue_token(opaque=True))
    pingone_mock.fail("introspect", "error")
    for _ in range(6):
        with pytest.raises(ProviderUnavailable):
            guard.verify(pingone_mock.issue_token(opaque=True))
    real_calls = recorder.get(PROVIDER_CALLS, endpoint="introspection", status="500")
    assert real_calls == pingone_mock.calls["introspect"] - 1 == 3  # then the breaker opened
    fast_fails = recorder.get(PROVIDER_CALLS, endpoint="introspection", status="circuit_open")
    assert fast_fails >= 3
    assert outcome(recorder, "unavailable", "introspection_circuit_open", "introspection") >= 3


async def test_averify_counts_like_verify(pingone_mock: MockPingOne, recorder: Recorder) -> None:
    guard = measured_guard(pingone_mock, recorder)
    token = pingone_mock.issue_token(["read"])
    await guard.averify(token)
    await guard.averify(token)
    with pytest.raises(InsufficientScope):
        await guard.averify(token, scopes=["write"])
    assert outcome(recorder, "ok", "", "jwt") == 1
    assert outcome(recorder, "ok", "", "cache") == 1
    assert outcome(recorder, "refused", "insufficient_scope", "cache") == 1
    assert recorder.get(PROVIDER_CALLS, endpoint="jwks", status="200") == 1
    await guard.aclose()


# -- WebLogin: refreshes ------------------------------------------------------------------


def test_refreshes_are_counted(pingone_mock: MockPingOne, recorder: Recorder) -> None:
    client = pingone_mock.register_client(redirect_uris=[CALLBACK])
    rp = RelyingParty(
        pingone_mock.pingone(metrics=recorder),
        client_id=client.client_id,
        client_secret=client.client_secret,
        redirect_uri=CALLBACK,
    )
    web = WebLogin(rp, refresh_margin=10**9)  # always "about to expire"
    session: dict[str, Any] = {}
    with httpx.Client(follow_redirects=False) as browser:
        location = browser.get(web.login(session).url).headers["location"]
    web.callback(session, {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()})
    assert web.user(session) is not None
    assert recorder.get(REFRESHES, outcome="ok") == 1
    pingone_mock.fail("token", "down", times=1)  # not retried: a POST
    with pytest.raises(ProviderUnavailable):
        web.user(session)
    assert recorder.get(REFRESHES, outcome="unavailable") == 1
    data = web.store.get(f"session:{session['p1guard.sid']}")
    assert data is not None
    pingone_mock.revoke(data["tokens"]["refresh_token"])
    assert web.user(session) is None
    assert recorder.get(REFRESHES, outcome="refused") == 1


# -- adapters -----------------------------------------------------------------------------


def test_prometheus_adapter(pingone_mock: MockPingOne) -> None:
    import prometheus_client

    registry = prometheus_client.CollectorRegistry()
    guard = measured_guard(pingone_mock, PrometheusMetrics(registry))
    token = pingone_mock.issue_token(["read"])
    guard.verify(token)
    guard.verify(token)
    value = registry.get_sample_value
    ok = {"outcome": "ok", "reason": ""}
    assert value("p1guard_verifications_total", {**ok, "source": "jwt"}) == 1
    assert value("p1guard_verifications_total", {**ok, "source": "cache"}) == 1
    assert value("p1guard_cache_total", {"cache": "verified", "result": "hit"}) == 1
    calls = {"endpoint": "jwks", "status": "200"}
    assert value("p1guard_provider_calls_total", calls) == 1
    assert value("p1guard_provider_latency_seconds_count", {"endpoint": "jwks"}) == 1
    assert value("p1guard_provider_latency_seconds_sum", {"endpoint": "jwks"}) > 0
    # A second adapter on the same registry shares the collectors instead of clashing.
    PrometheusMetrics(registry).count(VERIFICATIONS, outcome="ok", reason="", source="cache")
    assert value("p1guard_verifications_total", {**ok, "source": "cache"}) == 2


def test_opentelemetry_adapter(pingone_mock: MockPingOne) -> None:
    import opentelemetry.sdk.metrics as sdk_metrics
    import opentelemetry.sdk.metrics.export as export

    reader = export.InMemoryMetricReader()
    provider = sdk_metrics.MeterProvider(metric_readers=[reader])
    guard = measured_guard(pingone_mock, OpenTelemetryMetrics(provider.get_meter("test")))
    token = pingone_mock.issue_token(["read"])
    guard.verify(token)
    guard.verify(token)
    points: dict[str, list[Any]] = {}
    for resource in reader.get_metrics_data().resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                points[metric.name] = list(metric.data.data_points)

    def counted(name: str, **labels: str) -> float:
        return float(sum(p.value for p in points[name] if dict(p.attributes) == labels))

    assert counted(VERIFICATIONS, outcome="ok", reason="", source="jwt") == 1
    assert counted(VERIFICATIONS, outcome="ok", reason="", source="cache") == 1
    assert counted(PROVIDER_CALLS, endpoint="discovery", status="200") == 1
    (latency,) = [p for p in points[PROVIDER_LATENCY] if p.attributes["endpoint"] == "jwks"]
    assert latency.count == 1
    assert latency.sum > 0
    provider.shutdown()


@pytest.mark.parametrize(
    ("adapter", "module"),
    [(PrometheusMetrics, "prometheus_client"), (OpenTelemetryMetrics, "opentelemetry.metrics")],
)
def test_adapter_without_its_package_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, adapter: type[Any], module: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # makes the import fail
    with pytest.raises(ConfigError, match="pip install 'p1guard"):
        adapter()


def test_opentelemetry_adapter_defaults_to_the_global_meter() -> None:
    metrics = OpenTelemetryMetrics()  # no SDK configured: the API's no-op meter
    metrics.count(VERIFICATIONS, outcome="ok", reason="", source="cache")
    metrics.observe(PROVIDER_LATENCY, 0.01, endpoint="jwks")
