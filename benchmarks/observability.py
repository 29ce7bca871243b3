"""What metrics and tracing cost: nothing measurable when off, and how much when on.

The hooks cannot be compiled out, so "off costs nothing" is shown three ways, all measured in
one interleaved run (see :mod:`benchmarks._timing`):

1. **The branch itself.** A disabled hook is ``if self._metrics is not None:``. A loop doing
   exactly that (attribute load, ``is not None``, jump) is timed against the same empty loop;
   the difference times the number of such checks on a path (:data:`CHECKS`) is divided by the
   ``guard.verify`` time of that path: the share of a verification the off switch costs.
2. **On with a do-nothing backend.** The same ``guard.verify`` with ``metrics=None`` and with a
   backend whose ``count``/``observe`` do nothing: the ratio bounds what p1guard's own side of
   the hooks costs when on. Off is then at most that, and (1) says how much of it remains.
3. **Tracing is not on the hot path at all.** A verification that needs no call to PingOne (a
   cached token, or a new JWT whose key is cached) never reaches the transport, the only place
   spans are made: with a recording OpenTelemetry SDK tracer the timed batches create exactly
   0 spans (a count, judged in ``--quick`` too), and the on/off ratio is ≈ 1.

Plus the cost of tracing and metrics *on* for a real call to the mock PingOne (a JWKS fetch over
loopback HTTP), with exactly one span per call; and, steadier than that noisy on/off ratio, the
cost of one p1guard span alone (no HTTP) over the cost of the call it traces.
"""

from __future__ import annotations

import time
from functools import partial
from typing import Any

from ._report import Figure
from ._suite import Context, case
from ._timing import Batch, Samples, interleave, loop_ns
from .micro import _detail, _guard_new_tokens, _warm_guard, rs256_tokens

__all__ = ["CHECKS", "NoopMetrics"]

_NAN = float("nan")

#: ``is None`` checks of a disabled ``metrics`` on each path of ``Guard.verify`` (guard.py):
#: a cache hit checks once after the answer; a new JWT with its key cached checks in
#: ``_start`` twice (verified-cache miss, JWKS hit) and once after the answer. Tracing adds
#: none to either path (rule 1 of :mod:`p1guard._observe.tracing`).
CHECKS = {"cache_hit": 1, "new_token": 3}


class NoopMetrics:
    """A metrics backend that does nothing: what remains is p1guard's side of the hooks."""

    def count(self, name: str, value: float = 1.0, **labels: str) -> None:
        """Do nothing."""

    def observe(self, name: str, value: float, **labels: str) -> None:
        """Do nothing."""


class _Holder:
    """An object with a disabled hook, like a Guard built without metrics."""

    def __init__(self) -> None:
        self._metrics: NoopMetrics | None = None


def _branch_batch(ops: int) -> Batch:
    """``ops`` times the disabled-hook branch, inlined in the loop as the Guard has it."""
    holder, loop = _Holder(), range(ops)

    def batch() -> int:
        start = time.perf_counter_ns()
        for _ in loop:
            if holder._metrics is not None:
                holder._metrics.count("never")
        return time.perf_counter_ns() - start

    return batch


def _empty_batch(ops: int) -> Batch:
    """The same loop without the branch (the baseline of :func:`_branch_batch`)."""
    holder, loop = _Holder(), range(ops)

    def batch() -> int:
        start = time.perf_counter_ns()
        for _ in loop:
            pass
        return time.perf_counter_ns() - start

    del holder
    return batch


def _sdk_tracing() -> tuple[Any, Any, Any] | None:
    """``(OpenTelemetryTracing, provider, exporter)`` with a recording in-memory SDK, or None."""
    try:
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        from p1guard import OpenTelemetryTracing
    except ImportError:
        return None
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return OpenTelemetryTracing(tracer_provider=provider), provider, exporter


def _ratio(s: Samples, on: str, off: str, name: str, note: str) -> Figure:
    return Figure(name, s.ratio(on, off), "x", timing=True, detail=_detail(s, on, off), note=note)


@case("observability", "micro")
def observability(ctx: Context) -> list[Figure]:
    """Metrics and tracing: off vs the bare branch, on (no-op / SDK) vs off, spans per call."""
    from p1guard._http.flow import Request

    op = ctx.mock()
    tokens = rs256_tokens(ctx)
    size, rounds = ctx.pick(50, 200), ctx.pick(5, 25)
    hits, branch_ops = ctx.pick(2000, 5000), ctx.pick(50_000, 200_000)
    sdk = _sdk_tracing()
    pingones = {"off": op.pingone(), "metrics": op.pingone(metrics=NoopMetrics())}
    if sdk is not None:
        pingones["traced"] = op.pingone(tracing=sdk[0])
    cases: dict[str, tuple[Batch, int]] = {
        "branch": (_branch_batch(branch_ops), branch_ops),
        "empty": (_empty_batch(branch_ops), branch_ops),
    }
    hit_token = tokens[-1]
    for label, pingone in pingones.items():
        guard = _warm_guard(ctx, tokens[0], pingone=pingone)
        guard.verify(hit_token)
        cases[f"hit_{label}"] = (loop_ns(partial(guard.verify, hit_token), hits), hits)
        cases[f"new_{label}"] = (_guard_new_tokens(guard, tokens[:-1], size), size)
    spans_before = len(sdk[2].get_finished_spans()) if sdk is not None else 0
    ctx.log(f"observability: {rounds} rounds x {len(cases)} cases (verify)")
    s = interleave(cases, rounds=rounds)
    spans_in_verify = len(sdk[2].get_finished_spans()) - spans_before if sdk is not None else 0

    branch_ns = max(0.0, s.median_us("branch") - s.median_us("empty")) * 1000.0
    figures = []
    for path, ops_name in (("cache_hit", "hit_off"), ("new_token", "new_off")):
        share = CHECKS[path] * branch_ns / (s.median_us(ops_name) * 1000.0)
        figures.append(
            Figure(
                f"{path}_metrics_off_cost_share",
                100.0 * share,
                "%",
                op="<=",
                threshold=1.0,
                timing=True,
                detail={
                    "branch_ns": branch_ns,
                    "checks": CHECKS[path],
                    f"{ops_name}_us": s.median_us(ops_name),
                    "rounds": s.rounds,
                },
                note=f"{CHECKS[path]} disabled-hook branch(es) x {branch_ns:.1f} ns "
                f"/ guard.verify with metrics and tracing off",
            )
        )
    figures += [
        _ratio(s, "hit_metrics", "hit_off", "cache_hit_metrics_noop_vs_off", "no-op backend"),
        _ratio(s, "new_metrics", "new_off", "rs256_new_token_metrics_noop_vs_off", "no-op backend"),
    ]
    if sdk is None:
        figures.append(
            Figure(
                "tracing_spans_in_verify_hot_path",
                _NAN,
                "",
                note="not measured: opentelemetry-sdk is not installed (dependency group 'dev')",
            )
        )
        return figures
    figures += [
        _ratio(s, "hit_traced", "hit_off", "cache_hit_tracing_on_vs_off", "recording SDK tracer"),
        _ratio(
            s, "new_traced", "new_off", "rs256_new_token_tracing_on_vs_off", "recording SDK tracer"
        ),
        Figure(
            "tracing_spans_in_verify_hot_path",
            float(spans_in_verify),
            "",
            op="==",
            threshold=0,
            note="spans made by the timed cache-hit and new-token verifications (tracing on)",
        ),
    ]

    # A real call: JWKS over loopback HTTP to the mock, off vs metrics (no-op) vs traced.
    calls, call_rounds = ctx.pick(10, 40), ctx.pick(5, 15)
    request = Request("GET", op.jwks_uri, "jwks")
    fetches: dict[str, tuple[Batch, int]] = {}
    for label, pingone in pingones.items():
        send = partial(pingone.transport.send, request)
        fetches[f"fetch_{label}"] = (loop_ns(send, calls), calls)
    answer = pingones["off"].transport.send(request)
    tracing = sdk[0]

    def span_only() -> None:
        call = tracing.call(request)
        call.attempt(answer, None, False)
        call.end(answer, None)

    fetches["span"] = (loop_ns(span_only, calls), calls)
    sdk[2].clear()
    ctx.log(f"observability: {call_rounds} rounds x {len(fetches)} cases (JWKS fetch)")
    f = interleave(fetches, rounds=call_rounds, pause_gc=False)
    made = calls * (call_rounds + 2)  # the two warm-up rounds call too
    spans = len(sdk[2].get_finished_spans()) - made  # minus the span_only ones
    sdk[1].shutdown()
    return [
        *figures,
        _ratio(f, "fetch_traced", "fetch_off", "jwks_fetch_tracing_on_vs_off", "SDK, in-memory"),
        _ratio(f, "fetch_metrics", "fetch_off", "jwks_fetch_metrics_noop_vs_off", "no-op backend"),
        _ratio(
            f,
            "span",
            "fetch_off",
            "tracing_span_vs_jwks_fetch",
            "one p1guard span (start, attributes, end, SDK export to memory) / the call it traces",
        ),
        Figure(
            "jwks_fetch_spans_per_call",
            spans / made,
            "",
            op="==",
            threshold=1,
            detail={"spans": spans, "calls": made},
            note="one span per call to PingOne",
        ),
    ]
