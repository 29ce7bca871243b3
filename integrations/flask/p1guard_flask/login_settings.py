"""``app.config["P1GUARD_*"]`` → a :class:`~p1guard.rp.WebLogin` for the sign-in routes.

The reader is :func:`p1guard.web.web_login_from_settings`, shared by every framework:
problems raise :class:`~p1guard.ConfigError` naming the config key. Sign-in needs no
``P1GUARD_AUDIENCE``, and its ``P1GUARD_LOGIN_*`` names never clash with the Guard's
``P1GUARD_CLIENT_ID``/``_SECRET`` (the custom resource's credentials).

The keys: the PingOne ones (``P1GUARD_ENV_ID``/``_REGION`` or ``P1GUARD_ISSUER``,
``P1GUARD_TIMEOUT``), the ``P1GUARD_LOGIN_*`` settings of :mod:`p1guard._settings` (see the
README), and ``P1GUARD_LOGIN_PREFIX``: where the routes are mounted (default ``/auth``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from p1guard import ConfigError
from p1guard.rp import WebLogin
from p1guard.web import LOGIN_SETTINGS, given_settings, web_login_from_settings

__all__ = [
    "LOGIN_KEYS",
    "login_prefix",
    "reject_login_keys",
    "uses_login_config",
    "web_login_from_config",
]

#: The keys that describe the WebLogin; refused beside ``init_login(web=...)``.
LOGIN_KEYS = tuple(f"P1GUARD_{name}" for name in LOGIN_SETTINGS)

DEFAULT_PREFIX = "/auth"


def uses_login_config(config: Mapping[str, Any]) -> bool:
    """Whether ``config`` describes a sign-in (``P1GUARD_LOGIN_REDIRECT_URI`` is set).

    >>> uses_login_config({"P1GUARD_LOGIN_REDIRECT_URI": "https://app.example/auth/callback"})
    True
    """
    return "P1GUARD_LOGIN_REDIRECT_URI" in given_settings(config, feeds=("login",))


def reject_login_keys(config: Mapping[str, Any]) -> None:
    """Refuse sign-in settings in ``config`` when a ready WebLogin was passed (``web=``).

    They would be silently ignored otherwise. ``P1GUARD_LOGIN_PREFIX`` is no WebLogin key.

    >>> reject_login_keys({"P1GUARD_LOGIN_PREFIX": "/account"})
    """
    for key in given_settings(config, feeds=("login",)):
        raise ConfigError(
            key, "is ignored because a WebLogin was passed (web=...); remove one of the two"
        )


def login_prefix(value: object, key: str = "P1GUARD_LOGIN_PREFIX") -> str:
    """A URL prefix for the routes: ``""`` or ``/a/b`` (no trailing slash); ``None`` → ``/auth``.

    >>> login_prefix("/account/"), login_prefix(None), login_prefix("/")
    ('/account', '/auth', '')
    """
    if value is None:
        return DEFAULT_PREFIX
    if not isinstance(value, str) or (value and not value.startswith("/")):
        raise ConfigError(key, f"expected a path such as '/auth', got {value!r}")
    prefix = value.rstrip("/")
    if any(ch in prefix for ch in "?#\\ ") or "//" in prefix or not prefix.isprintable():
        raise ConfigError(key, f"expected a plain path such as '/auth', got {value!r}")
    return prefix


def web_login_from_config(config: Mapping[str, Any], **options: Any) -> WebLogin:
    """Build the :class:`~p1guard.rp.WebLogin` that ``app.config`` describes (module table).

    ``options`` go to :func:`p1guard.web.web_login_from_settings` (``session_ttl``,
    ``refresh_margin``, ``store``, or :class:`~p1guard.rp.RelyingParty` keywords).

    >>> web = web_login_from_config({
    ...     "P1GUARD_ENV_ID": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", "P1GUARD_REGION": "EU",
    ...     "P1GUARD_LOGIN_CLIENT_ID": "web-app", "P1GUARD_LOGIN_CLIENT_SECRET": "s3cr3t",
    ...     "P1GUARD_LOGIN_REDIRECT_URI": "https://app.example.com/auth/callback"})
    >>> web.rp.scopes
    ('openid', 'profile', 'email')
    """
    return web_login_from_settings(config, **options)
