"""What a route requires of a verified token, and the checks of it (the Guard's step 7).

:func:`require_scopes` (all of the scopes, or at least one), then step-up (RFC 9470):
:func:`require_authentication` (an acceptable ``acr``, a recent enough ``auth_time``), whose
options :func:`step_up_options` validates when a route is declared. The
:class:`~p1guard.Guard` runs them after the token itself passed; adapters call them for an
already verified token.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Literal

from p1guard._tokens.tokens import AccessToken
from p1guard.errors import ConfigError, InsufficientScope, InsufficientUserAuthentication

__all__ = ["Match", "require_authentication", "require_scopes", "step_up_options"]

#: ``match=…``: the token must hold all the scopes asked for, or at least one of them.
Match = Literal["all", "any"]


def _scope_set(scopes: str | Iterable[str] | None) -> frozenset[str]:
    if scopes is None:
        return frozenset()
    if isinstance(scopes, str):
        return frozenset(scopes.split())
    return frozenset(scopes)


def require_scopes(
    token: AccessToken, scopes: str | Iterable[str] | None, match: Match = "all"
) -> AccessToken:
    """Step 6 on its own: ``token`` if it holds ``scopes`` (all, or any one), else
    :class:`InsufficientScope` — for adapters that check an already verified token.

    >>> token = AccessToken({"scope": "read"}, token_id="ab12cd34")
    >>> require_scopes(token, ["read"]) is token
    True
    """
    if match not in ("all", "any"):
        raise ConfigError("match", f"use 'all' or 'any', got {match!r}")
    wanted = _scope_set(scopes)
    if not wanted:
        return token
    if match == "any":
        if wanted.isdisjoint(token.scopes):
            raise InsufficientScope(sorted(wanted), match="any")
    elif not wanted <= token.scopes:
        raise InsufficientScope(sorted(wanted), sorted(wanted - token.scopes))
    return token


def _acr_tuple(acr_values: str | Iterable[str] | None) -> tuple[str, ...] | None:
    """``acr_values`` as a tuple (a string is space-separated); ``None`` stays ``None``."""
    if acr_values is None:
        return None
    values = tuple(acr_values.split()) if isinstance(acr_values, str) else tuple(acr_values)
    if not all(isinstance(value, str) and value and value.split() == [value] for value in values):
        raise ConfigError("acr_values", f"expected acr names like 'Multi_Factor', got {values!r}")
    return values


def _check_max_age(max_age: int | None) -> int | None:
    if max_age is not None and (
        not isinstance(max_age, int) or isinstance(max_age, bool) or max_age < 0
    ):
        raise ConfigError("max_age", f"expected a non-negative number of seconds, got {max_age!r}")
    return max_age


def step_up_options(
    acr_values: str | Iterable[str] | None, max_age: int | None
) -> tuple[tuple[str, ...] | None, int | None]:
    """``acr_values`` (a tuple; a string is space-separated) and ``max_age``, validated — for
    adapters that want a bad value refused when a route is declared, not on each request.

    >>> step_up_options("Multi_Factor", 300)
    (('Multi_Factor',), 300)
    """
    return _acr_tuple(acr_values), _check_max_age(max_age)


def require_authentication(
    token: AccessToken,
    acr_values: str | Iterable[str] | None = None,
    max_age: int | None = None,
    now: float | None = None,
    leeway: float = 0.0,
) -> AccessToken:
    """Step-up (RFC 9470) on its own: ``token`` if its user signed in strongly and recently
    enough, else :class:`InsufficientUserAuthentication` naming what to ask PingOne for.

    ``acr_values``: the ``acr`` claim must be one of them (empty or ``None``: any). ``max_age``:
    the ``auth_time`` claim must exist and be at most ``max_age`` (+ ``leeway``) seconds before
    ``now``. Client-credentials tokens carry neither claim, so they fail whichever is asked.

    >>> token = AccessToken({"acr": "Multi_Factor", "auth_time": 1000}, token_id="ab12cd34")
    >>> require_authentication(token, ["Multi_Factor"], max_age=300, now=1200) is token
    True
    >>> require_authentication(token, max_age=60, now=1200)
    Traceback (most recent call last):
    p1guard.errors.InsufficientUserAuthentication: More recent authentication is required
    """
    wanted = _acr_tuple(acr_values)
    _check_max_age(max_age)
    if wanted and token.get("acr") not in wanted:
        raise InsufficientUserAuthentication(
            acr_values=wanted, max_age=max_age, reason="acr_not_accepted"
        )
    if max_age is not None:
        auth_time = token.get("auth_time")
        if (
            not isinstance(auth_time, int | float)
            or isinstance(auth_time, bool)
            or auth_time != auth_time  # NaN
        ):
            raise InsufficientUserAuthentication(
                "More recent authentication is required",
                acr_values=wanted,
                max_age=max_age,
                reason="no_auth_time",
            )
        if (time.time() if now is None else now) - auth_time > max_age + leeway:
            raise InsufficientUserAuthentication(
                "More recent authentication is required",
                acr_values=wanted,
                max_age=max_age,
                reason="auth_too_old",
            )
    return token
