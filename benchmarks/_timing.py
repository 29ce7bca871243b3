"""Interleaved A/B timing: robust ratios on a shared, noisy machine.

Each *case* is a batch function that performs ``ops`` operations and returns the nanoseconds
they took (``time.perf_counter_ns``), so it can keep its own setup — clearing a cache,
picking fresh tokens — out of the measurement. :func:`interleave` runs every case once per
round, rotating the order from round to round, with the garbage collector paused during each
batch (as :mod:`timeit` does). A ratio is the **median over rounds of the per-round ratio**:
two cases measured a few milliseconds apart see the same machine load, so the ratio is far
steadier than either absolute time.
"""

from __future__ import annotations

import gc
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

__all__ = ["Batch", "Samples", "each_ns", "interleave", "loop_ns"]

#: Runs one batch of operations and returns the elapsed nanoseconds.
Batch = Callable[[], int]


@dataclass
class Samples:
    """Per-operation times (ns) of every case, one entry per round."""

    per_op_ns: dict[str, list[float]] = field(default_factory=dict)

    def median_us(self, name: str) -> float:
        """Median time of one operation of ``name``, in microseconds."""
        return statistics.median(self.per_op_ns[name]) / 1000.0

    def ratios(self, numerator: str, denominator: str) -> list[float]:
        """Per-round ratios ``numerator / denominator``."""
        return [
            a / b
            for a, b in zip(self.per_op_ns[numerator], self.per_op_ns[denominator], strict=True)
        ]

    def ratio(self, numerator: str, denominator: str) -> float:
        """Median over rounds of ``numerator / denominator`` (per-operation times)."""
        return statistics.median(self.ratios(numerator, denominator))

    def spread(self, numerator: str, denominator: str) -> tuple[float, float]:
        """Interquartile range of the per-round ratios (a noise indicator)."""
        values = sorted(self.ratios(numerator, denominator))
        if len(values) < 4:
            return values[0], values[-1]
        q = statistics.quantiles(values, n=4)
        return q[0], q[2]

    @property
    def rounds(self) -> int:
        """How many rounds were kept."""
        return len(next(iter(self.per_op_ns.values()), []))


def interleave(
    cases: Mapping[str, tuple[Batch, int]],
    *,
    rounds: int,
    warmup: int = 2,
    pause_gc: bool = True,
) -> Samples:
    """Run every ``(batch, ops)`` case once per round in rotating order; drop warm-up rounds.

    ``pause_gc=False`` keeps the collector running, for cases whose garbage is part of the
    cost being compared (a whole request through a web stack).

    >>> s = interleave({"a": (lambda: 2_000, 2), "b": (lambda: 1_000, 1)}, rounds=3, warmup=0)
    >>> s.ratio("a", "b"), s.median_us("a")
    (1.0, 1.0)
    """
    names = list(cases)
    samples = Samples({name: [] for name in names})
    gc.collect()
    for index in range(warmup + rounds):
        shift = index % len(names)
        order = names[shift:] + names[:shift]
        for name in order:
            batch, ops = cases[name]
            enabled = gc.isenabled()
            if pause_gc:
                gc.disable()
            try:
                elapsed = batch()
            finally:
                if enabled:
                    gc.enable()
            if index >= warmup:
                samples.per_op_ns[name].append(elapsed / ops)
    return samples


def loop_ns(call: Callable[[], object], ops: int) -> Batch:
    """A batch that calls ``call()`` ``ops`` times."""
    loop = range(ops)

    def batch() -> int:
        from time import perf_counter_ns

        start = perf_counter_ns()
        for _ in loop:
            call()
        return perf_counter_ns() - start

    return batch


def each_ns(call: Callable[[object], object], items: Sequence[object]) -> Batch:
    """A batch that calls ``call(item)`` once per item."""

    def batch() -> int:
        from time import perf_counter_ns

        start = perf_counter_ns()
        for item in items:
            call(item)
        return perf_counter_ns() - start

    return batch
