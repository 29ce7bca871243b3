"""``P1GUARD_*`` environment variables → a ``settings.P1GUARD`` dict (the same names as every
other p1guard integration).

>>> from p1guard_django.env import settings_from_env
>>> P1GUARD = settings_from_env()                                 # doctest: +SKIP

=====================================  ========================================================
variable                               ``P1GUARD`` key
=====================================  ========================================================
``P1GUARD_ENV_ID`` / ``_REGION``       ``ENV_ID`` / ``REGION``
``P1GUARD_ISSUER``                     ``ISSUER``
``P1GUARD_AUDIENCE``                   ``AUDIENCE`` (commas: several)
``P1GUARD_MODE``                       ``MODE``
``P1GUARD_CHECK_REVOCATION``           ``CHECK_REVOCATION`` (``true``/``false``)
``P1GUARD_LEEWAY`` / ``_REALM``        ``LEEWAY`` / ``REALM``
``P1GUARD_TIMEOUT``                    ``PINGONE_OPTIONS["timeout"]``
``P1GUARD_STRICT_TYP``                 ``GUARD_OPTIONS["strict_typ"]``
``P1GUARD_REDIRECT_URI``               ``LOGIN["REDIRECT_URI"]``
``P1GUARD_CLIENT_ID`` / ``_SECRET``    with any ``LOGIN`` variable: ``LOGIN["CLIENT_ID"]`` /
                                       ``["CLIENT_SECRET"]`` (the web app's); else the
                                       top-level ``CLIENT_ID`` / ``CLIENT_SECRET`` (the
                                       resource's, for introspection)
``P1GUARD_POST_LOGOUT_REDIRECT_URI``   ``LOGIN["POST_LOGOUT_REDIRECT_URI"]``
``P1GUARD_SCOPES``                     ``LOGIN["SCOPES"]`` (spaces or commas)
``P1GUARD_SESSION_REDIS_URL``          ``LOGIN["STORE"]``
=====================================  ========================================================

Unset or empty variables are left out, so the defaults apply; the system checks validate the
result. An app that both introspects tokens and signs users in needs two sets of credentials:
write that ``P1GUARD`` by hand (or add to the returned dict).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from p1guard import ConfigError
from p1guard.settings import setting_flag

__all__ = ["settings_from_env"]

_TOP = ("ENV_ID", "REGION", "ISSUER", "MODE", "REALM")
_LOGIN = {
    "REDIRECT_URI": "REDIRECT_URI",
    "POST_LOGOUT_REDIRECT_URI": "POST_LOGOUT_REDIRECT_URI",
    "SCOPES": "SCOPES",
    "SESSION_REDIS_URL": "STORE",
}


def settings_from_env(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A ``P1GUARD`` settings dict from the ``P1GUARD_*`` variables (module table).

    Raises :class:`~p1guard.ConfigError` naming the variable for a malformed flag or number.

    >>> settings_from_env({"P1GUARD_ENV_ID": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
    ...     "P1GUARD_CLIENT_ID": "web-app", "P1GUARD_CLIENT_SECRET": "s3cr3t",
    ...     "P1GUARD_REDIRECT_URI": "https://app.example.com/auth/callback"})["LOGIN"]["CLIENT_ID"]
    'web-app'
    """
    env = os.environ if environ is None else environ

    def get(name: str) -> str | None:
        value = env.get(f"P1GUARD_{name}", "").strip()
        return value or None

    result: dict[str, Any] = {key: get(key) for key in _TOP if get(key) is not None}
    audience = get("AUDIENCE")
    if audience is not None:
        parts = [part.strip() for part in audience.split(",") if part.strip()]
        result["AUDIENCE"] = parts[0] if len(parts) == 1 else parts
    if get("CHECK_REVOCATION") is not None:
        result["CHECK_REVOCATION"] = setting_flag(env, "P1GUARD_CHECK_REVOCATION")
    if get("STRICT_TYP") is not None:
        result["GUARD_OPTIONS"] = {"strict_typ": setting_flag(env, "P1GUARD_STRICT_TYP")}
    leeway, timeout = _seconds(get, "LEEWAY"), _seconds(get, "TIMEOUT")
    if leeway is not None:
        result["LEEWAY"] = leeway
    if timeout is not None:
        result["PINGONE_OPTIONS"] = {"timeout": timeout}
    login = {key: get(name) for name, key in _LOGIN.items() if get(name) is not None}
    credentials = {key: get(key) for key in ("CLIENT_ID", "CLIENT_SECRET") if get(key) is not None}
    if login:  # a sign-in: the credentials are the web app's
        result["LOGIN"] = {**login, **credentials}
    else:
        result.update(credentials)
    return result


def _seconds(get: Callable[[str], str | None], name: str) -> float | None:
    value = get(name)
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        raise ConfigError(f"P1GUARD_{name}", f"expected seconds, got {value!r}") from None
