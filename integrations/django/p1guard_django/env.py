"""``P1GUARD_*`` environment variables → a ``settings.P1GUARD`` dict, with the names that
:mod:`p1guard._settings` (and so the Flask and FastAPI integrations) read.

>>> from p1guard_django.env import settings_from_env
>>> P1GUARD = settings_from_env()                                 # doctest: +SKIP

Each of :data:`p1guard.web.GUARD_SETTINGS` and :data:`~p1guard.web.LOGIN_SETTINGS` maps to
the ``P1GUARD`` key of its name (``P1GUARD_AUDIENCE`` → ``AUDIENCE``, commas: several), but:
``P1GUARD_TIMEOUT`` → ``PINGONE_OPTIONS["timeout"]``; ``P1GUARD_STRICT_TYP``, ``_DPOP``,
``_MTLS`` → ``GUARD_OPTIONS["strict_typ"]``, ``["dpop"]``, ``["mtls"]``;
``P1GUARD_DPOP_NONCE_SECRET`` → ``GUARD_OPTIONS["dpop_nonces"]`` (a :class:`~p1guard.DPoPNonces`);
``P1GUARD_LOGIN_*`` → ``LOGIN[*]`` (the web application's ``CLIENT_ID``/``CLIENT_SECRET``,
``REDIRECT_URI``, ``POST_LOGOUT_REDIRECT_URI``, ``SCOPES``, ``STORE``), and
``P1GUARD_ALLOW_QUERY_TOKEN`` → ``ALLOW_QUERY_TOKEN``.

Unset or empty variables are left out, so the defaults apply. The variables are read by
p1guard's settings schema (:func:`p1guard.web.read_settings`), as Flask and FastAPI read them;
the ``LOGIN_*`` ones are copied as text, and the system checks validate ``LOGIN``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from p1guard import ConfigError, DPoPNonces
from p1guard.web import SETTINGS_SCHEMA, read_settings

__all__ = ["settings_from_env"]

_PREFIX = "P1GUARD_"

#: Names this function used to read, before it followed :mod:`p1guard._settings`.
_RENAMED = {
    "REDIRECT_URI": "LOGIN_REDIRECT_URI",
    "POST_LOGOUT_REDIRECT_URI": "LOGIN_POST_LOGOUT_REDIRECT_URI",
    "SCOPES": "LOGIN_SCOPES",
    "SESSION_REDIS_URL": "LOGIN_STORE",
}

#: Settings that go into ``GUARD_OPTIONS`` / ``PINGONE_OPTIONS`` (by their keyword), not the
#: top level.
_NESTED = {
    "TIMEOUT": "PINGONE_OPTIONS",
    "STRICT_TYP": "GUARD_OPTIONS",
    "DPOP": "GUARD_OPTIONS",
    "MTLS": "GUARD_OPTIONS",
    "DPOP_NONCE_SECRET": "GUARD_OPTIONS",
}


def settings_from_env(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A ``P1GUARD`` settings dict from the ``P1GUARD_*`` variables (module table).

    Raises :class:`~p1guard.ConfigError` naming the variable for a malformed value (a flag, a
    number, a mode…), or for a variable of the old names (``P1GUARD_REDIRECT_URI`` …: now
    ``P1GUARD_LOGIN_*``).

    >>> settings_from_env({"P1GUARD_ENV_ID": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
    ...     "P1GUARD_CLIENT_ID": "resource", "P1GUARD_LOGIN_CLIENT_ID": "web-app",
    ...     "P1GUARD_LOGIN_REDIRECT_URI": "https://app.example.com/auth/callback"})["LOGIN"]
    {'CLIENT_ID': 'web-app', 'REDIRECT_URI': 'https://app.example.com/auth/callback'}
    """
    env = os.environ if environ is None else environ
    for old, new in _RENAMED.items():
        if env.get(_PREFIX + old, "").strip():
            raise ConfigError(_PREFIX + old, f"renamed: set {_PREFIX}{new} instead")
    parsed, problems = read_settings(env, feeds=("pingone", "guard", "web"))
    for problem in problems:
        if not problem.missing:
            raise problem.error()
    result: dict[str, Any] = {}
    for setting in SETTINGS_SCHEMA:
        if setting.feeds == "login":
            text = env.get(_PREFIX + setting.name, "").strip()
            if text:
                result.setdefault("LOGIN", {})[setting.name.removeprefix("LOGIN_")] = text
            continue
        if setting.keyword not in parsed[setting.feeds]:
            continue
        value = parsed[setting.feeds][setting.keyword]
        if setting.name == "DPOP_NONCE_SECRET":
            try:
                value = DPoPNonces(value)
            except ConfigError as exc:
                raise ConfigError(_PREFIX + setting.name, exc.message) from None
        if setting.name in _NESTED:
            result.setdefault(_NESTED[setting.name], {})[setting.keyword] = value
        else:
            result[setting.name] = value
    return result
