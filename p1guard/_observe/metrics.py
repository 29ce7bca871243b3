"""Metrics hooks: what p1guard counts and times, and adapters for Prometheus and OpenTelemetry.

Pass any object with ``count`` and ``observe`` to ``PingOne(metrics=…)``; every
:class:`~p1guard.Guard`, relying party and login route built on that PingOne reports to it.

>>> from p1guard import PingOne
>>> from p1guard._observe.metrics import PrometheusMetrics                      # doctest: +SKIP
>>> pingone = PingOne(env_id="…", metrics=PrometheusMetrics())          # doctest: +SKIP

Rules:

1. Without ``metrics`` (the default) the verification hot path pays one ``is None`` check.
2. Names and label sets are fixed per metric (the constants below), so any backend can
   declare a metric on its first use. Label values are short codes, never tokens or subjects.
3. Hooks run inline on the request path: an implementation must be fast and must not raise.

Spans of the calls to PingOne are :mod:`p1guard._observe.tracing`'s (``PingOne(tracing=…)``).
"""

from __future__ import annotations

import importlib
import threading
import weakref
from typing import Any, Protocol, runtime_checkable

from p1guard.errors import ConfigError

__all__ = [
    "CACHE",
    "DESCRIPTIONS",
    "PROVIDER_CALLS",
    "PROVIDER_LATENCY",
    "REFRESHES",
    "STEP_UP",
    "VERIFICATIONS",
    "Metrics",
    "OpenTelemetryMetrics",
    "PrometheusMetrics",
]

#: Counter; labels ``outcome`` (ok | refused | unavailable), ``reason`` (the error's
#: ``reason``, empty when ok) and ``source`` (cache | jwt | introspection | none).
VERIFICATIONS = "p1guard_verifications_total"
#: Counter; labels ``cache`` (verified | introspection | jwks) and ``result`` (hit | miss).
CACHE = "p1guard_cache_total"
#: Counter; labels ``endpoint`` (jwks, discovery, introspection, token…) and ``status``
#: (the HTTP status, ``error`` when no answer came, ``circuit_open`` when the breaker refused).
PROVIDER_CALLS = "p1guard_provider_calls_total"
#: Histogram in seconds; label ``endpoint``. One sample per HTTP call actually made.
PROVIDER_LATENCY = "p1guard_provider_latency_seconds"
#: Counter; label ``outcome`` (ok | refused | unavailable): refreshes done by the login routes.
REFRESHES = "p1guard_refreshes_total"
#: Counter; reserved for step-up authentication challenges (not emitted yet).
STEP_UP = "p1guard_step_up_challenges_total"

#: The help text of each metric, used by the adapters.
DESCRIPTIONS: dict[str, str] = {
    VERIFICATIONS: "Access-token verifications by outcome, reason and source",
    CACHE: "Cache lookups by cache and result",
    PROVIDER_CALLS: "HTTP calls to PingOne by endpoint and status",
    PROVIDER_LATENCY: "Latency of HTTP calls to PingOne",
    REFRESHES: "Access-token refreshes of signed-in users by outcome",
    STEP_UP: "Step-up authentication challenges",
}

_UNITS = {PROVIDER_LATENCY: "s"}


@runtime_checkable
class Metrics(Protocol):
    """What p1guard reports to: counters and histograms, named by the module constants.

    Implement it to feed any backend; a test recorder is a few lines:

    >>> class Recorder:
    ...     def __init__(self):
    ...         self.counts = {}
    ...     def count(self, name, value=1.0, **labels):
    ...         key = (name, tuple(sorted(labels.items())))
    ...         self.counts[key] = self.counts.get(key, 0) + value
    ...     def observe(self, name, value, **labels):
    ...         pass
    >>> isinstance(Recorder(), Metrics)
    True
    """

    def count(self, name: str, value: float = 1.0, **labels: str) -> None:
        """Add ``value`` to the counter ``name`` for these labels."""

    def observe(self, name: str, value: float, **labels: str) -> None:
        """Record ``value`` in the histogram ``name`` for these labels."""


def _require(module: str, extra: str, adapter: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ConfigError(
            "metrics", f"{adapter} needs the {extra!r} extra: pip install 'p1guard[{extra}]'"
        ) from exc


# Collectors per registry, shared by every PrometheusMetrics on it: a registry accepts each
# name once, and apps often build more than one PingOne (tests, reloaders, several APIs).
_COLLECTORS: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()
_COLLECTORS_LOCK = threading.Lock()


class PrometheusMetrics:
    """:class:`Metrics` for ``prometheus-client`` (``pip install 'p1guard[prometheus]'``).

    Each metric is declared in ``registry`` (default: the global ``REGISTRY``) on first use,
    with the label names of that first call; metric names are used as they are (no namespace).

    >>> from prometheus_client import CollectorRegistry                  # doctest: +SKIP
    >>> registry = CollectorRegistry()                                    # doctest: +SKIP
    >>> metrics = PrometheusMetrics(registry)                             # doctest: +SKIP
    >>> metrics.count(REFRESHES, outcome="ok")                            # doctest: +SKIP
    >>> registry.get_sample_value("p1guard_refreshes_total", {"outcome": "ok"})  # doctest: +SKIP
    1.0
    """

    def __init__(self, registry: Any = None) -> None:
        self._prometheus = _require("prometheus_client", "prometheus", "PrometheusMetrics")
        self.registry: Any = self._prometheus.REGISTRY if registry is None else registry
        with _COLLECTORS_LOCK:
            collectors = _COLLECTORS.get(self.registry)
            if collectors is None:
                collectors = _COLLECTORS[self.registry] = {}
        self._collectors = collectors
        # (name, labels) -> labelled child: skips prometheus-client's locked labels() lookup.
        self._children: dict[tuple[str, tuple[tuple[str, str], ...]], Any] = {}

    def count(self, name: str, value: float = 1.0, **labels: str) -> None:
        """Increment the ``Counter`` ``name``."""
        child = self._children.get((name, tuple(labels.items())))
        if child is None:
            child = self._child(name, "Counter", labels)
        child.inc(value)

    def observe(self, name: str, value: float, **labels: str) -> None:
        """Observe ``value`` in the ``Histogram`` ``name``."""
        child = self._children.get((name, tuple(labels.items())))
        if child is None:
            child = self._child(name, "Histogram", labels)
        child.observe(value)

    def _child(self, name: str, kind: str, labels: dict[str, str]) -> Any:
        collector = self._collectors.get(name)
        if collector is None:
            with _COLLECTORS_LOCK:
                collector = self._collectors.get(name)
                if collector is None:
                    collector = self._collectors[name] = getattr(self._prometheus, kind)(
                        name,
                        DESCRIPTIONS.get(name, name),
                        labelnames=tuple(labels),
                        registry=self.registry,
                    )
        child = collector.labels(**labels) if labels else collector
        self._children[name, tuple(labels.items())] = child
        return child

    def __repr__(self) -> str:
        return f"PrometheusMetrics(registry={self.registry!r})"


class OpenTelemetryMetrics:
    """:class:`Metrics` for the OpenTelemetry API (``pip install 'p1guard[otel]'``).

    Counters are ``meter.create_counter``, histograms ``meter.create_histogram``, created on
    first use; labels become attributes. ``meter`` defaults to the global provider's
    ``get_meter("p1guard")``, so the app's SDK setup decides where the data goes.

    >>> from opentelemetry import metrics as otel                         # doctest: +SKIP
    >>> metrics = OpenTelemetryMetrics(otel.get_meter("orders-api"))      # doctest: +SKIP
    >>> pingone = PingOne(env_id="…", metrics=metrics)                    # doctest: +SKIP
    """

    def __init__(self, meter: Any = None) -> None:
        if meter is None:
            api = _require("opentelemetry.metrics", "otel", "OpenTelemetryMetrics")
            from p1guard._version import __version__

            meter = api.get_meter("p1guard", __version__)
        self.meter: Any = meter
        self._instruments: dict[str, Any] = {}
        self._lock = threading.Lock()

    def count(self, name: str, value: float = 1.0, **labels: str) -> None:
        """Add ``value`` to the counter ``name``."""
        self._instrument(name, "create_counter").add(value, labels)

    def observe(self, name: str, value: float, **labels: str) -> None:
        """Record ``value`` in the histogram ``name``."""
        self._instrument(name, "create_histogram").record(value, labels)

    def _instrument(self, name: str, factory: str) -> Any:
        instrument = self._instruments.get(name)
        if instrument is None:
            with self._lock:
                instrument = self._instruments.get(name)
                if instrument is None:
                    instrument = self._instruments[name] = getattr(self.meter, factory)(
                        name, unit=_UNITS.get(name, ""), description=DESCRIPTIONS.get(name, "")
                    )
        return instrument

    def __repr__(self) -> str:
        return f"OpenTelemetryMetrics(meter={self.meter!r})"
