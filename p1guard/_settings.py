"""Settings → a :class:`~p1guard.Guard`: one reader for environment variables, Flask's
``app.config`` and Django's ``P1GUARD`` dict, so one set of names configures every framework.

Every problem raises :class:`~p1guard.ConfigError` naming the *setting* (``P1GUARD_AUDIENCE``),
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
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from p1guard._guard import Guard
from p1guard._pingone import PingOne
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
GUARD_SETTINGS = (
    "ENV_ID",
    "REGION",
    "ISSUER",
    "AUDIENCE",
    "MODE",
    "CLIENT_ID",
    "CLIENT_SECRET",
    "CHECK_REVOCATION",
    "LEEWAY",
    "REALM",
    "TIMEOUT",
    "STRICT_TYP",
    "DPOP",
    "DPOP_NONCE_SECRET",
    "MTLS",
)

#: The setting names (without prefix) that describe the login routes.
LOGIN_SETTINGS = (
    "LOGIN_CLIENT_ID",
    "LOGIN_CLIENT_SECRET",
    "LOGIN_REDIRECT_URI",
    "LOGIN_POST_LOGOUT_REDIRECT_URI",
    "LOGIN_SCOPES",
    "LOGIN_STORE",
)

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def _get(settings: Mapping[str, Any], key: str) -> Any:
    value = settings.get(key)
    if isinstance(value, str):
        value = value.strip()
    return None if value == "" else value


def _text(settings: Mapping[str, Any], key: str) -> str | None:
    value = _get(settings, key)
    if value is not None and not isinstance(value, str):
        raise ConfigError(key, f"expected a string, got {type(value).__name__}")
    return value


def setting_flag(settings: Mapping[str, Any], key: str, default: bool = False) -> bool:
    """A boolean setting: ``True``/``False`` or ``1/true/yes/on``/``0/false/no/off``.

    >>> setting_flag({"P1GUARD_STRICT_TYP": "Yes"}, "P1GUARD_STRICT_TYP")
    True
    """
    value = _get(settings, key)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
        return value.lower() in _TRUE
    raise ConfigError(key, f"expected true or false, got {value!r}")


def _seconds(settings: Mapping[str, Any], key: str) -> float | timedelta | None:
    value = _get(settings, key)
    if value is None or isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise ConfigError(key, f"expected seconds (a number) or a timedelta, got {value!r}")


def _audience(settings: Mapping[str, Any], key: str) -> str | list[str]:
    value = _get(settings, key)
    if value is None:
        raise ConfigError(
            key,
            "set it to your custom resource's audience, e.g. 'https://api.example.com' "
            "(PingOne console: Applications > Resources > your API)",
        )
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list | tuple) and value and all(isinstance(a, str) and a for a in value):
        return value[0] if len(value) == 1 else list(value)
    raise ConfigError(key, "expected one audience, a list, or a comma-separated string")


def pingone_from_settings(settings: Mapping[str, Any], *, prefix: str = "P1GUARD_") -> PingOne:
    """The :class:`~p1guard.PingOne` of ``ENV_ID`` + ``REGION`` or ``ISSUER`` (and ``TIMEOUT``)."""
    issuer, env_id = _text(settings, prefix + "ISSUER"), _text(settings, prefix + "ENV_ID")
    if issuer is None and env_id is None:
        raise ConfigError(
            prefix + "ENV_ID", f"set {prefix}ENV_ID (and {prefix}REGION) or {prefix}ISSUER"
        )
    options: dict[str, Any] = {"issuer": issuer, "env_id": env_id}
    region = _text(settings, prefix + "REGION")
    if region is not None:
        options["region"] = region
    timeout = _seconds(settings, prefix + "TIMEOUT")
    if timeout is not None:
        options["timeout"] = timeout
    try:
        return PingOne(**options)
    except ConfigError as exc:
        raise ConfigError(prefix + exc.field.upper(), exc.message) from None


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

    def key(name: str) -> str:
        return prefix + name

    pingone = pingone_from_settings(settings, prefix=prefix)
    options: dict[str, Any] = {
        "audience": _audience(settings, key("AUDIENCE")),
        "mode": (_text(settings, key("MODE")) or "jwt").lower(),
        "client_id": _text(settings, key("CLIENT_ID")),
        "client_secret": _text(settings, key("CLIENT_SECRET")),
        "check_revocation": setting_flag(settings, key("CHECK_REVOCATION")),
        "realm": _text(settings, key("REALM")),
        "strict_typ": setting_flag(settings, key("STRICT_TYP")),
    }
    leeway = _seconds(settings, key("LEEWAY"))
    if leeway is not None:
        options["leeway"] = leeway
    for name in ("DPOP", "MTLS"):
        mode = _text(settings, key(name))
        if mode is not None:
            options[name.lower()] = mode.lower()
    nonce_secret = _get(settings, key("DPOP_NONCE_SECRET"))
    if nonce_secret is not None:
        if isinstance(nonce_secret, str):
            nonce_secret = nonce_secret.encode("utf-8")
        if not isinstance(nonce_secret, bytes):
            raise ConfigError(key("DPOP_NONCE_SECRET"), "expected a string")
        try:
            options["dpop_nonces"] = DPoPNonces(nonce_secret)
        except ConfigError as exc:
            raise ConfigError(key("DPOP_NONCE_SECRET"), exc.message) from None
    options.update(overrides)
    try:
        return Guard(pingone, **options)
    except ConfigError as exc:
        # Name the setting, not the keyword argument behind it.
        name = exc.field.upper()
        if exc.field in overrides or name not in GUARD_SETTINGS:
            raise
        raise ConfigError(key(name), exc.message) from None


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

    def key(name: str) -> str:
        return f"{prefix}LOGIN_{name}"

    options: dict[str, Any] = {
        "client_id": _text(settings, key("CLIENT_ID")),
        "client_secret": _text(settings, key("CLIENT_SECRET")),
        "redirect_uri": _text(settings, key("REDIRECT_URI")),
        "post_logout_redirect_uri": _text(settings, key("POST_LOGOUT_REDIRECT_URI")),
    }
    scopes = _get(settings, key("SCOPES"))
    if isinstance(scopes, str):
        scopes = scopes.replace(",", " ").split()
    if scopes is not None:
        if not isinstance(scopes, list | tuple) or not all(isinstance(x, str) for x in scopes):
            raise ConfigError(key("SCOPES"), "expected scopes as a string or a list of strings")
        options["scopes"] = list(scopes)
    options.update(rp_options)
    for name in ("client_id", "redirect_uri"):
        if not options.get(name):
            raise ConfigError(key(name.upper()), "is required to sign users in")
    if store is None:
        where = _text(settings, key("STORE")) or "memory"
        if where != "memory" and not where.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError(key("STORE"), "use 'memory' or a redis:// URL")
        try:
            store = MemoryStore() if where == "memory" else RedisStore(where)
        except ImportError:
            raise ConfigError(
                key("STORE"), "a Redis store needs pip install 'p1guard[redis]'"
            ) from None
    try:
        rp = RelyingParty(pingone_from_settings(settings, prefix=prefix), **options)
    except ConfigError as exc:
        if exc.field in rp_options or exc.field.startswith(prefix):
            raise
        raise ConfigError(key(exc.field.upper()), exc.message) from None
    web_options = {
        name: value
        for name, value in (("session_ttl", session_ttl), ("refresh_margin", refresh_margin))
        if value is not None
    }
    return WebLogin(rp, store=store, **web_options)


def web_login_from_env(environ: Mapping[str, str] | None = None, **options: Any) -> WebLogin:
    """:func:`web_login_from_settings` over the ``P1GUARD_*`` environment variables."""
    return web_login_from_settings(os.environ if environ is None else environ, **options)
