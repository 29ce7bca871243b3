"""Fault switches of the mock PingOne: which endpoint misbehaves, how, and how many more times.

Rules:
1. One switch per endpoint name (or ``"*"`` for all); arming again replaces it.
2. An endpoint's own switch wins over ``"*"``.
3. ``wrong_issuer`` only touches discovery and ``empty_keys`` only the JWKS, also under ``"*"``.
4. A switch armed for N times is consumed by the next N matching requests, then disarmed.

:class:`FaultControls` is the matching part of ``MockPingOne``'s public API.
"""

from __future__ import annotations

import threading
from collections import Counter
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from typing import Any, Literal, get_args

__all__ = ["ENDPOINTS", "FAULT_MODES", "Endpoint", "Fault", "FaultControls", "FaultMode", "Faults"]

#: Names of the mock's endpoints, as used by ``MockPingOne.calls`` and ``MockPingOne.fail``.
Endpoint = Literal[
    "discovery",
    "jwks",
    "token",
    "introspect",
    "revoke",
    "authorize",
    "par",
    "userinfo",
    "signoff",
    "flows",
    "resume",
]
#: What ``MockPingOne.fail`` can make an endpoint do.
FaultMode = Literal[
    "down", "slow", "error", "ratelimit", "garbage", "truncated", "wrong_issuer", "empty_keys"
]
ENDPOINTS: tuple[str, ...] = get_args(Endpoint)
FAULT_MODES: tuple[str, ...] = get_args(FaultMode)
_ONLY_FOR = {"wrong_issuer": "discovery", "empty_keys": "jwks"}


@dataclass
class Fault:
    """An armed fault switch."""

    mode: str
    remaining: int | None
    delay: float
    retry_after: int


class Faults:
    """The thread-safe switchboard."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: dict[str, Fault] = {}

    def arm(
        self, endpoint: str, mode: str, *, times: int | None, delay: float, retry_after: int
    ) -> None:
        """Validate and arm a switch (replacing the endpoint's previous one)."""
        if endpoint != "*" and endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {endpoint!r}; use one of {ENDPOINTS} or '*'")
        if mode not in FAULT_MODES:
            raise ValueError(f"unknown fault mode {mode!r}; use one of {FAULT_MODES}")
        only = _ONLY_FOR.get(mode)
        if only is not None and endpoint not in (only, "*"):
            raise ValueError(f"fault mode {mode!r} only applies to the {only!r} endpoint")
        if times is not None and times < 1:
            raise ValueError("times must be at least 1 (or None for 'until cleared')")
        with self._lock:
            self._armed[endpoint] = Fault(mode, times, float(delay), int(retry_after))

    def clear(self, endpoint: str | None = None) -> None:
        """Disarm every switch, or the one of ``endpoint``."""
        with self._lock:
            if endpoint is None:
                self._armed.clear()
            else:
                self._armed.pop(endpoint, None)

    def take(self, endpoint: str) -> Fault | None:
        """Consume the switch that applies to a request to ``endpoint`` (a copy), if any."""
        with self._lock:
            for armed_for in (endpoint, "*"):
                fault = self._armed.get(armed_for)
                if fault is None or _ONLY_FOR.get(fault.mode, endpoint) != endpoint:
                    continue
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        del self._armed[armed_for]
                return replace(fault)
            return None


class FaultControls:
    """The faults-and-counters half of :class:`~p1guard.testing.MockPingOne`'s API (a mixin)."""

    #: Requests per endpoint name (faulted ones included).
    calls: Counter[str]
    _faults: Faults
    _lock: AbstractContextManager[Any]

    def fail(
        self,
        endpoint: Endpoint | Literal["*"],
        mode: FaultMode,
        *,
        times: int | None = None,
        delay: float = 2.0,
        retry_after: int = 1,
    ) -> None:
        """Make ``endpoint`` (or every endpoint, ``"*"``) misbehave.

        Modes: ``down`` (connection dropped, no response), ``slow`` (answer after ``delay``
        seconds), ``error`` (500), ``ratelimit`` (429 with ``Retry-After``), ``garbage``
        (200 HTML), ``truncated`` (the normal body cut in half), ``wrong_issuer`` (discovery
        only), ``empty_keys`` (jwks only). ``times=N`` fires on the next N requests, then clears;
        ``None`` lasts until :meth:`clear_faults`. A new fault replaces the endpoint's old one.

        >>> op.fail("jwks", "down", times=1)   # doctest: +SKIP
        """
        self._faults.arm(endpoint, mode, times=times, delay=delay, retry_after=retry_after)

    def clear_faults(self, endpoint: Endpoint | Literal["*"] | None = None) -> None:
        """Disarm every fault, or only the one set for ``endpoint``."""
        self._faults.clear(endpoint)

    def reset_calls(self) -> None:
        """Zero :attr:`calls`."""
        with self._lock:
            self.calls.clear()

    def _record_call(self, endpoint: str) -> Fault | None:
        """Count a request to ``endpoint`` and consume the fault that applies to it, if any."""
        with self._lock:
            self.calls[endpoint] += 1
        return self._faults.take(endpoint)
