"""Settings → a :class:`~p1guard.Guard`: one reader for environment variables, Flask's
``app.config`` and Django's ``P1GUARD`` dict, so one set of names configures every framework.

The settings are declared once, in :mod:`p1guard._schema`; these builders read them and raise
the first problem as a :class:`~p1guard.ConfigError` naming the *setting* (``P1GUARD_AUDIENCE``),
not the Python parameter behind it. Values may be Python objects or the strings environment
variables give (``"true"``, ``"30"``, ``"https://a,https://b"``).

==============================  ===========================================================
setting (after the prefix)      meaning
==============================  ===========================================================
``ENV_ID``                      PingOne environment id (with ``REGION``, default NA)
``ISSUER``                      or the issuer URL (custom domain); replaces env id + region
``AUDIENCE``                    required: the custom resource's audience (list or commas)
``MODE``                        ``jwt`` (default), ``introspect`` or ``auto``
``CLIENT_ID`` / ``CLIENT_SECRET``  the custom resource's credentials, for introspection
``CHECK_REVOCATION``            also introspect locally valid JWTs (default false)
``LEEWAY``                      clock skew in seconds (default 30)
``REALM``                       ``realm`` of the ``WWW-Authenticate`` challenge
``TIMEOUT``                     seconds per call to PingOne (default 5)
``STRICT_TYP``                  demand ``typ: at+jwt`` in token headers (default false)
``DPOP``                        ``allowed`` (default), ``required`` or ``disabled`` (RFC 9449)
``DPOP_NONCE_SECRET``           turns on DPoP nonces; the same secret (16+ characters) on
                                every worker and host, so each accepts the others' nonces
``MTLS``                        ``allowed`` (default) or ``required``: certificate-bound
                                tokens only (RFC 8705)
==============================  ===========================================================

Signing users in (:func:`web_login_from_settings`) uses the *application's* credentials, which
are not the custom resource's, so its settings have their own names:

=====================================  ====================================================
setting (after the prefix)             meaning
=====================================  ====================================================
``LOGIN_CLIENT_ID``                    required: the PingOne application's client id
``LOGIN_CLIENT_SECRET``                its secret (omit for a public client with PKCE)
``LOGIN_REDIRECT_URI``                 required: e.g. ``https://app.example.com/auth/callback``
``LOGIN_POST_LOGOUT_REDIRECT_URI``     where PingOne's signoff sends the browser back
``LOGIN_SCOPES``                       space- or comma-separated (default ``openid profile email``)
``LOGIN_STORE``                        ``memory`` (default) or a ``redis://`` URL (several workers)
=====================================  ====================================================
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from p1guard._guard import Guard
from p1guard._pingone import PingOne
from p1guard._schema import construct, flag, names, read_or_raise
from p1guard._sender.dpop import DPoPNonces
from p1guard.errors import ConfigError

if TYPE_CHECKING:
    from p1guard.rp._store import SessionStore
    from p1guard.rp._web import WebLogin

__all__ = [
    "GUARD_SETTINGS",
    "LOGIN_SETTINGS",
    "guard_from_env",
    "guard_from_settings",
    "pingone_from_settings",
    "setting_flag",
    "web_login_from_env",
    "web_login_from_settings",
]

#: The setting names (without prefix) that describe a Guard.
GUARD_SETTINGS = names("pingone", "guard")

#: The setting names (without prefix) that describe the login routes.
LOGIN_SETTINGS = names("login")


def setting_flag(settings: Mapping[str, Any], key: str, default: bool = False) -> bool:
    """A boolean setting: ``True``/``False`` or ``1/true/yes/on``/``0/false/no/off``.

    >>> setting_flag({"P1GUARD_STRICT_TYP": "Yes"}, "P1GUARD_STRICT_TYP")
    True
    """
    value = settings.get(key)
    if isinstance(value, str):
        value = value.strip()
    if value is None or value == "":
        return default
    try:
        return flag(value, True)
    except Exception:
        raise ConfigError(key, f"expected true or false, got {type(value).__name__}") from None


def pingone_from_settings(settings: Mapping[str, Any], *, prefix: str = "P1GUARD_") -> PingOne:
    """The :class:`~p1guard.PingOne` of ``ENV_ID`` + ``REGION`` or ``ISSUER`` (and ``TIMEOUT``)."""
    options = read_or_raise(settings, prefix=prefix, feeds=("pingone",))["pingone"]
    return construct(PingOne, feed="pingone", prefix=prefix, **options)


def guard_from_settings(
    settings: Mapping[str, Any], *, prefix: str = "P1GUARD_", **overrides: Any
) -> Guard:
    """Build the :class:`~p1guard.Guard` that ``settings`` describe (see the module table).

    ``overrides`` are :class:`~p1guard.Guard` keyword arguments that win over the settings.

    >>> guard = guard_from_settings({
    ...     "P1GUARD_ENV_ID": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", "P1GUARD_REGION": "EU",
    ...     "P1GUARD_AUDIENCE": "https://api.example.com"})
    >>> guard.pingone.issuer
    'https://auth.pingone.eu/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0/as'
    """
    values = read_or_raise(settings, prefix=prefix, feeds=("pingone", "guard"), given=overrides)
    pingone = construct(PingOne, feed="pingone", prefix=prefix, **values["pingone"])
    options = values["guard"]
    if "dpop_nonces" in options:
        try:
            options["dpop_nonces"] = DPoPNonces(options["dpop_nonces"])
        except ConfigError as exc:
            raise ConfigError(prefix + "DPOP_NONCE_SECRET", exc.message) from None
    options.update(overrides)
    return construct(Guard, pingone, feed="guard", prefix=prefix, given=overrides, **options)


def guard_from_env(environ: Mapping[str, str] | None = None, **overrides: Any) -> Guard:
    """:func:`guard_from_settings` over the ``P1GUARD_*`` environment variables."""
    return guard_from_settings(os.environ if environ is None else environ, **overrides)


def web_login_from_settings(
    settings: Mapping[str, Any],
    *,
    prefix: str = "P1GUARD_",
    store: SessionStore | None = None,
    session_ttl: float | None = None,
    refresh_margin: float | None = None,
    **rp_options: Any,
) -> WebLogin:
    """The login routes' :class:`~p1guard.rp.WebLogin` that ``settings`` describe (see above).

    ``store``, ``session_ttl`` and ``refresh_margin`` go to :class:`~p1guard.rp.WebLogin`;
    ``rp_options`` are :class:`~p1guard.rp.RelyingParty` keyword arguments that win.

    >>> web = web_login_from_settings({"P1GUARD_ISSUER": "https://login.example.com/as",
    ...     "P1GUARD_LOGIN_CLIENT_ID": "app", "P1GUARD_LOGIN_CLIENT_SECRET": "s",
    ...     "P1GUARD_LOGIN_REDIRECT_URI": "https://app.example.com/auth/callback"})
    >>> web.rp.scopes
    ('openid', 'profile', 'email')
    """
    from p1guard.rp._relying_party import RelyingParty
    from p1guard.rp._store import MemoryStore, RedisStore
    from p1guard.rp._web import WebLogin

    given = {*rp_options, *(("store",) if store is not None else ())}
    values = read_or_raise(settings, prefix=prefix, feeds=("pingone", "login"), given=given)
    options = values["login"]
    where = options.pop("store", "memory")
    if store is None and isinstance(where, str):
        store = MemoryStore() if where == "memory" else RedisStore(where)
    elif store is None:
        store = where
    options.update(rp_options)
    pingone = construct(PingOne, feed="pingone", prefix=prefix, **values["pingone"])
    rp = construct(RelyingParty, pingone, feed="login", prefix=prefix, given=rp_options, **options)
    web_options = {
        name: value
        for name, value in (("session_ttl", session_ttl), ("refresh_margin", refresh_margin))
        if value is not None
    }
    return WebLogin(rp, store=store, **web_options)


def web_login_from_env(environ: Mapping[str, str] | None = None, **options: Any) -> WebLogin:
    """:func:`web_login_from_settings` over the ``P1GUARD_*`` environment variables."""
    return web_login_from_settings(os.environ if environ is None else environ, **options)
