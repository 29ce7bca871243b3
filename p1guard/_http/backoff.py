"""Backoff after failed calls to PingOne, so an outage is not hammered by every request."""

from __future__ import annotations

import random

__all__ = ["Backoff"]


class Backoff:
    """Exponential backoff with jitter: after the n-th failure in a row, wait ``base · 2ⁿ⁻¹``.

    Pure state: callers pass the (monotonic) time in.

    >>> b = Backoff(base=1.0, cap=60.0, jitter=0.0)
    >>> b.failed(now=100.0); b.wait(now=100.5)
    0.5
    >>> b.succeeded(); b.wait(now=100.5)
    0.0
    """

    __slots__ = ("base", "cap", "failed_at", "failures", "jitter", "retry_at")

    def __init__(self, *, base: float = 1.0, cap: float = 60.0, jitter: float = 0.25) -> None:
        self.base = base
        self.cap = cap
        self.jitter = jitter
        self.failures = 0
        self.retry_at = 0.0
        self.failed_at = float("-inf")

    def failed(
        self, now: float, retry_after: float | None = None, *, attempt_started: float | None = None
    ) -> None:
        """Record a failure; ``retry_after`` (from a 429/503 answer) lengthens the wait.

        ``attempt_started``: callers that shared one failed call (single flight) record it once —
        a failure already recorded since that attempt began is not counted again.
        """
        if attempt_started is not None and self.failed_at >= attempt_started:
            return
        self.failed_at = now
        self.failures += 1
        delay = min(self.cap, self.base * 2 ** min(self.failures - 1, 30))
        delay *= 1.0 - self.jitter * random.random()  # noqa: S311 - jitter, not a secret
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.cap))
        self.retry_at = now + delay

    def succeeded(self) -> None:
        """Record a success: the next call may go at once."""
        self.failures = 0
        self.retry_at = 0.0

    def wait(self, now: float) -> float:
        """Seconds to wait before the next call (0 when one may go now)."""
        return max(0.0, self.retry_at - now)
