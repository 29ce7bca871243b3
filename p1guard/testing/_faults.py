"""Fault switches of the mock PingOne: which endpoint misbehaves, how, and how many more times.

Rules:
1. One switch per endpoint name (or ``"*"`` for all); arming again replaces it.
2. An endpoint's own switch wins over ``"*"``.
3. ``wrong_issuer`` only touches discovery and ``empty_keys`` only the JWKS, also under ``"*"``.
4. A switch armed for N times is consumed by the next N matching requests, then disarmed.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from typing import Literal, get_args

__all__ = ["ENDPOINTS", "FAULT_MODES", "Endpoint", "Fault", "FaultMode", "Faults"]

#: Names of the mock's endpoints, as used by ``MockPingOne.calls`` and ``MockPingOne.fail``.
Endpoint = Literal["discovery", "jwks", "token", "introspect", "revoke"]
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
