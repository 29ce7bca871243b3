"""``app.config["P1GUARD_*"]`` → a :class:`~p1guard.Guard`, validated when the app is set up.

Every problem raises :class:`~p1guard.ConfigError` naming the *config key* (``P1GUARD_AUDIENCE``),
not the Python parameter behind it, so the message points at the line of config to fix. Values
may be Python objects or the strings environment variables give (``"true"``, ``"30"``).

The keys are p1guard's settings with the ``P1GUARD_`` prefix (the table of
:mod:`p1guard._settings` and of the README), plus ``P1GUARD_ALLOW_QUERY_TOKEN`` (accept
``?access_token=``, default ``False``; not a Guard key).

The keys are read through p1guard's one settings schema (:func:`p1guard.web.read_settings`),
as the environment and Django's ``P1GUARD`` dict are. Any other ``P1GUARD_*`` key is a typo
that would be silently ignored: :func:`warn_unknown_keys` warns once per key and app
(a ``UserWarning`` with "Did you mean …?").
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, MutableSet
from typing import Any

from p1guard import ConfigError, Guard
from p1guard.web import (
    GUARD_SETTINGS,
    given_settings,
    guard_from_settings,
    setting_flag,
    unknown_settings,
)

__all__ = [
    "FLASK_KEYS",
    "GUARD_KEYS",
    "WARNED_KEY",
    "allow_query_token",
    "guard_from_config",
    "reject_guard_keys",
    "warn_unknown_keys",
]

#: The ``P1GUARD_*`` keys (without prefix) this integration reads beyond p1guard's settings.
FLASK_KEYS = ("LOGIN_PREFIX",)

#: ``app.extensions[WARNED_KEY]``: the unknown keys already warned about for that app.
WARNED_KEY = "p1guard_unknown_keys"

#: The keys that describe the Guard; ignored (and therefore refused) when ``guard=`` is given.
GUARD_KEYS = tuple(f"P1GUARD_{name}" for name in GUARD_SETTINGS)

_FEEDS = ("pingone", "guard")


def allow_query_token(config: Mapping[str, Any]) -> bool:
    """``P1GUARD_ALLOW_QUERY_TOKEN`` as a bool (default ``False``).

    >>> allow_query_token({"P1GUARD_ALLOW_QUERY_TOKEN": "false"})
    False
    """
    return setting_flag(config, "P1GUARD_ALLOW_QUERY_TOKEN")


def reject_guard_keys(config: Mapping[str, Any], *, feeds: tuple[str, ...] = _FEEDS) -> None:
    """Refuse Guard settings in ``config`` (those of ``feeds``: by default its PingOne ones
    too) when the app was given a ready Guard.

    They would be silently ignored otherwise (a ``P1GUARD_CHECK_REVOCATION`` nobody honours).

    >>> reject_guard_keys({"P1GUARD_ALLOW_QUERY_TOKEN": False})   # not a Guard key: fine
    """
    for key in given_settings(config, feeds=feeds):
        raise ConfigError(
            key, "is ignored because a Guard was passed (guard=...); remove one of the two"
        )


def guard_from_config(config: Mapping[str, Any]) -> Guard:
    """Build the :class:`~p1guard.Guard` that ``app.config`` describes.

    >>> guard = guard_from_config({
    ...     "P1GUARD_ENV_ID": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", "P1GUARD_REGION": "EU",
    ...     "P1GUARD_AUDIENCE": "https://api.example.com"})
    >>> guard.pingone.issuer
    'https://auth.pingone.eu/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0/as'
    """
    return guard_from_settings(config)


def warn_unknown_keys(config: Mapping[str, Any], warned: MutableSet[str]) -> None:
    """Warn (``UserWarning``) about each ``P1GUARD_*`` key p1guard does not know, unless it is
    in ``warned`` (the keys already reported for this app), which it joins.

    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn_unknown_keys({"P1GUARD_AUDEINCE": "x"}, set())
    >>> str(caught[0].message).endswith("Did you mean 'P1GUARD_AUDIENCE'?")
    True
    """
    for problem in unknown_settings(config, known=FLASK_KEYS):
        if problem.key not in warned:
            warned.add(problem.key)
            message = f"app.config[{problem.key!r}] {problem.message}. {problem.hint}"
            warnings.warn(message, UserWarning, stacklevel=3)
