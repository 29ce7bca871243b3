"""The benchmark suite's ``--quick`` checks, run in-process so the normal test run covers them.

Counts and bounds only (exact, not timings): single-flight introspection, key-id storms, cache
bounds. Plus the harness pieces CI would otherwise never exercise: the report format, the
interleaved timer and the asyncio fallback load generator (CI machines may lack ``wrk``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from benchmarks import bounds, observability  # noqa: F401 - registers the cases
from benchmarks._report import Figure, exit_code, render_line
from benchmarks._suite import CASES, Context
from benchmarks._timing import interleave
from benchmarks.apps import wsgi_app
from benchmarks.loadgen import run_load


class _Runs:
    """Each quick case run once per module (the key-id storm mints 10,000 RSA tokens)."""

    def __init__(self) -> None:
        self.ctx = Context(quick=True)
        self.figures: dict[str, list[Figure]] = {}

    def __call__(self, name: str) -> list[Figure]:
        if name not in self.figures:
            self.figures[name] = [f.judge(quick=True) for f in CASES[name].run(self.ctx)]
        return self.figures[name]


@pytest.fixture(scope="module")
def runs() -> Iterator[_Runs]:
    cases = _Runs()
    yield cases
    cases.ctx.close()


@pytest.mark.parametrize("name", ["single_flight", "kid_storm", "cache_bound", "guard_cache_bound"])
def test_quick_bound_holds(runs: _Runs, name: str) -> None:
    figures = runs(name)
    assert figures
    failed = [render_line(f, details=True) for f in figures if f.status != "PASS"]
    assert not failed, "\n".join(failed)


def test_kid_storm_refuses_every_attacker_token(runs: _Runs) -> None:
    figures = {f.name: f for f in runs("kid_storm")}
    refused = figures["kid_storm_refused_unknown_kid"]
    assert refused.value == refused.threshold == 10_000
    assert figures["jwks_fetches_kid_storm"].value <= 1


def test_metrics_and_tracing_off_cost_nothing_on_the_hot_path(runs: _Runs) -> None:
    figures = {f.name: f for f in runs("observability")}
    # Exact counts, judged in quick mode too: tracing never touches a verification that needs
    # no call to PingOne, and a traced call is exactly one span.
    assert figures["tracing_spans_in_verify_hot_path"].value == 0
    assert figures["tracing_spans_in_verify_hot_path"].status == "PASS"
    assert figures["jwks_fetch_spans_per_call"].value == 1
    # Timings are ratios against the same run, reported but never judged in quick mode.
    share = figures["cache_hit_metrics_off_cost_share"]
    assert share.status == "INFO" and share.unit == "%" and share.value >= 0
    ratios = [f for f in figures.values() if f.unit == "x"]
    assert len(ratios) == 7
    assert all(f.value > 0 and f.status == "INFO" for f in ratios)


def test_line_format_and_exit_code() -> None:
    ok = Figure("a_vs_floor", 1.25, "x", op="<=", threshold=1.4, timing=True).judge(quick=False)
    bad = Figure("calls", 2.0, "", op="==", threshold=1).judge(quick=False)
    info = Figure("t", 9.0, "x", op="<=", threshold=1.0, timing=True).judge(quick=True)
    assert render_line(ok) == "a_vs_floor: 1.25x (target ≤ 1.40x) PASS"
    assert render_line(bad) == "calls: 2 (target = 1) FAIL"
    assert info.status == "INFO"  # timings are never judged in quick mode
    assert exit_code([ok, info]) == 0
    assert exit_code([ok, bad]) == 1


def test_interleave_reports_median_of_round_ratios() -> None:
    costs = iter([300, 100, 100, 300, 200, 100, 100, 200, 400, 100])
    samples = interleave(
        {"a": (lambda: next(costs), 1), "b": (lambda: next(costs), 1)}, rounds=5, warmup=0
    )
    # rounds alternate the order: (a, b), (b, a), …
    assert samples.ratios("a", "b") == [3.0, 3.0, 2.0, 2.0, 4.0]
    assert samples.ratio("a", "b") == 3.0


def test_asyncio_loader_against_a_real_server() -> None:
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, wsgi_app(None), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        result = run_load(
            f"http://127.0.0.1:{server.server_port}/hello",
            headers={"Authorization": "Bearer abc"},
            connections=4,
            seconds=0.3,
            loader="asyncio",
        )
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()
    assert result.loader == "asyncio"
    assert result.requests > 0
    assert result.errors == 0
    assert result.statuses == {200: result.requests}
    assert 0 < result.p50_ms <= result.p99_ms
