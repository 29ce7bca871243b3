"""``P1GUARD_*`` environment variables → a ``settings.P1GUARD`` dict, with the names that
:mod:`p1guard._settings` (and so the Flask and FastAPI integrations) read.

>>> from p1guard_django.env import settings_from_env
>>> P1GUARD = settings_from_env()                                 # doctest: +SKIP

Each of :data:`p1guard.web.GUARD_SETTINGS` and :data:`~p1guard.web.LOGIN_SETTINGS`
maps to one ``P1GUARD`` key:

============================================  =================================================
variable                                      ``P1GUARD`` key
============================================  =================================================
``P1GUARD_ENV_ID`` / ``_REGION``              ``ENV_ID`` / ``REGION``
``P1GUARD_ISSUER``                            ``ISSUER``
``P1GUARD_AUDIENCE``                          ``AUDIENCE`` (commas: several)
``P1GUARD_MODE``                              ``MODE``
``P1GUARD_CLIENT_ID`` / ``_SECRET``           ``CLIENT_ID`` / ``CLIENT_SECRET`` (the custom
                                              resource's, for introspection)
``P1GUARD_CHECK_REVOCATION``                  ``CHECK_REVOCATION`` (``true``/``false``)
``P1GUARD_LEEWAY`` / ``_REALM``               ``LEEWAY`` (seconds) / ``REALM``
``P1GUARD_TIMEOUT``                           ``PINGONE_OPTIONS["timeout"]`` (seconds)
``P1GUARD_STRICT_TYP``                        ``GUARD_OPTIONS["strict_typ"]`` (``true``/``false``)
``P1GUARD_ALLOW_QUERY_TOKEN``                 ``ALLOW_QUERY_TOKEN`` (``true``/``false``)
``P1GUARD_DPOP`` / ``_MTLS``                  ``GUARD_OPTIONS["dpop"]`` / ``["mtls"]`` (modes)
``P1GUARD_DPOP_NONCE_SECRET``                 ``GUARD_OPTIONS["dpop_nonces"]`` (a
                                              :class:`~p1guard.DPoPNonces`)
``P1GUARD_LOGIN_CLIENT_ID`` / ``_SECRET``     ``LOGIN["CLIENT_ID"]`` / ``["CLIENT_SECRET"]`` (the
                                              web application's)
``P1GUARD_LOGIN_REDIRECT_URI``                ``LOGIN["REDIRECT_URI"]``
``P1GUARD_LOGIN_POST_LOGOUT_REDIRECT_URI``    ``LOGIN["POST_LOGOUT_REDIRECT_URI"]``
``P1GUARD_LOGIN_SCOPES``                      ``LOGIN["SCOPES"]`` (spaces or commas)
``P1GUARD_LOGIN_STORE``                       ``LOGIN["STORE"]`` (``memory`` or a ``redis://`` URL)
============================================  =================================================

Unset or empty variables are left out, so the defaults apply; the system checks validate the
result. Flags are read by :func:`p1guard.web.setting_flag`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from p1guard import ConfigError, DPoPNonces
from p1guard.web import GUARD_SETTINGS, LOGIN_SETTINGS, setting_flag

__all__ = ["settings_from_env"]

_PREFIX = "P1GUARD_"
_LOGIN = "LOGIN_"

#: Settings of this integration that are not Guard arguments (as in Flask and FastAPI).
_DJANGO_SETTINGS = ("ALLOW_QUERY_TOKEN",)

#: Names this function used to read, before it followed :mod:`p1guard._settings`.
_RENAMED = {
    "REDIRECT_URI": "LOGIN_REDIRECT_URI",
    "POST_LOGOUT_REDIRECT_URI": "LOGIN_POST_LOGOUT_REDIRECT_URI",
    "SCOPES": "LOGIN_SCOPES",
    "SESSION_REDIS_URL": "LOGIN_STORE",
}


def _seconds(env: Mapping[str, str], variable: str) -> float:
    value = env[variable].strip()
    try:
        return float(value)
    except ValueError:
        raise ConfigError(variable, f"expected seconds (a number), got {value!r}") from None


def _audience(env: Mapping[str, str], variable: str) -> str | list[str]:
    parts = [part.strip() for part in env[variable].split(",") if part.strip()]
    return parts[0] if len(parts) == 1 else parts


def _text(env: Mapping[str, str], variable: str) -> str:
    return env[variable].strip()


def _mode(env: Mapping[str, str], variable: str) -> str:
    return env[variable].strip().lower()


def _nonces(env: Mapping[str, str], variable: str) -> DPoPNonces:
    try:
        return DPoPNonces(env[variable].strip().encode("utf-8"))
    except ConfigError as exc:
        raise ConfigError(variable, exc.message) from None


Reader = Callable[[Mapping[str, str], str], Any]

#: Where a setting goes when it is not simply ``P1GUARD[name]`` (or ``LOGIN[name]``) as text:
#: ``(section, key, reader)``, section ``None`` for the top level.
_SPECIAL: Mapping[str, tuple[str | None, str, Reader]] = {
    "AUDIENCE": (None, "AUDIENCE", _audience),
    "CHECK_REVOCATION": (None, "CHECK_REVOCATION", setting_flag),
    "LEEWAY": (None, "LEEWAY", _seconds),
    "TIMEOUT": ("PINGONE_OPTIONS", "timeout", _seconds),
    "STRICT_TYP": ("GUARD_OPTIONS", "strict_typ", setting_flag),
    "ALLOW_QUERY_TOKEN": (None, "ALLOW_QUERY_TOKEN", setting_flag),
    "DPOP": ("GUARD_OPTIONS", "dpop", _mode),
    "MTLS": ("GUARD_OPTIONS", "mtls", _mode),
    "DPOP_NONCE_SECRET": ("GUARD_OPTIONS", "dpop_nonces", _nonces),
}


def settings_from_env(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A ``P1GUARD`` settings dict from the ``P1GUARD_*`` variables (module table).

    Raises :class:`~p1guard.ConfigError` naming the variable for a malformed flag or number,
    or for a variable of the old names (``P1GUARD_REDIRECT_URI`` …: now ``P1GUARD_LOGIN_*``).

    >>> settings_from_env({"P1GUARD_ENV_ID": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
    ...     "P1GUARD_CLIENT_ID": "resource", "P1GUARD_LOGIN_CLIENT_ID": "web-app",
    ...     "P1GUARD_LOGIN_REDIRECT_URI": "https://app.example.com/auth/callback"})["LOGIN"]
    {'CLIENT_ID': 'web-app', 'REDIRECT_URI': 'https://app.example.com/auth/callback'}
    """
    env = os.environ if environ is None else environ
    for old, new in _RENAMED.items():
        if env.get(_PREFIX + old, "").strip():
            raise ConfigError(_PREFIX + old, f"renamed: set {_PREFIX}{new} instead")
    result: dict[str, Any] = {}
    for name in (*GUARD_SETTINGS, *_DJANGO_SETTINGS, *LOGIN_SETTINGS):
        variable = _PREFIX + name
        if not env.get(variable, "").strip():
            continue
        section, key, read = _SPECIAL.get(name, (None, name, _text))
        if section is None and name.startswith(_LOGIN):
            section, key = "LOGIN", name[len(_LOGIN) :]
        value = read(env, variable)
        if section is None:
            result[key] = value
        else:
            result.setdefault(section, {})[key] = value
    return result
