"""What the :class:`~p1guard.Guard` reports of its calls: rules 8 and 9 of :mod:`p1guard._guard`.

:func:`measure` counts one call in the metrics (rule 8); :class:`Diagnostics` logs refusals,
rate-limited per reason (rule 9). Neither ever shows the token, only its short hash.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from p1guard._observe.metrics import CACHE, VERIFICATIONS
from p1guard._tokens.cache import token_digest, token_id
from p1guard._tokens.tokens import AccessToken
from p1guard.errors import AuthError, ProviderUnavailable

if TYPE_CHECKING:
    from p1guard._observe.metrics import Metrics

__all__ = ["DIAGNOSTIC_INTERVAL", "Diagnostics", "measure"]

log = logging.getLogger("p1guard.guard")

#: Seconds between two diagnostic log lines of the same refusal reason, per Guard.
DIAGNOSTIC_INTERVAL = 10.0
_DETAIL_MAX = 200  # characters per logged value: claims are attacker-chosen until verified


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _DETAIL_MAX else text[: _DETAIL_MAX - 3] + "..."


def _diagnosis(detail: Mapping[str, object]) -> str:
    return ", ".join(f"{name}={_shown(value)}" for name, value in detail.items())


class Diagnostics:
    """The refusal log of one Guard (rule 9).

    >>> from p1guard.errors import InvalidToken
    >>> Diagnostics().refused(InvalidToken("The access token expired", reason="expired"), "t")
    """

    __slots__ = ("_diagnosed", "_lock")

    def __init__(self) -> None:
        # Reason -> (monotonic time of its last line, lines held back since).
        self._diagnosed: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def refused(self, exc: AuthError, token: str | None) -> None:
        """Rule 9: one INFO line per reason per :data:`DIAGNOSTIC_INTERVAL`, never the token."""
        if not log.isEnabledFor(logging.INFO):
            return
        now = time.monotonic()
        with self._lock:
            last, held = self._diagnosed.get(exc.reason, (-DIAGNOSTIC_INTERVAL, 0))
            if now - last < DIAGNOSTIC_INTERVAL:
                self._diagnosed[exc.reason] = (last, held + 1)
                return
            self._diagnosed[exc.reason] = (now, 0)
        tid = token_id(token_digest(token)) if token and isinstance(token, str) else "-"
        detail = f"; {_diagnosis(exc.detail)}" if exc.detail else ""
        held_back = f" ({held} similar refusals not logged)" if held else ""
        log.info(
            "token %s refused (%s, %d): %s%s%s",
            tid,
            exc.reason,
            exc.status_code,
            exc.description,
            detail,
            held_back,
        )


def measure(
    metrics: Metrics,
    result: AccessToken | AuthError,
    token: str | None,
    cached: bool,
    is_local: Callable[[str], bool],
) -> None:
    """Rule 8 for one verify/averify call, accepted or refused.

    ``cached``: the verified-token cache answered it; ``is_local`` tells the Guard's routing
    of a refused token (validated here, else introspected).
    """
    if cached:
        metrics.count(CACHE, cache="verified", result="hit")
        source = "cache"
    elif isinstance(result, AccessToken):
        source = result.source
    elif not token or not isinstance(token, str):
        source = "none"
    else:
        source = "jwt" if is_local(token) else "introspection"
    if isinstance(result, AccessToken):
        metrics.count(VERIFICATIONS, outcome="ok", reason="", source=source)
    else:
        outcome = "unavailable" if isinstance(result, ProviderUnavailable) else "refused"
        metrics.count(VERIFICATIONS, outcome=outcome, reason=result.reason, source=source)
