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
==============================  ===========================================================
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from .config import PingOne
from .errors import ConfigError
from .guard import Guard

__all__ = ["GUARD_SETTINGS", "guard_from_env", "guard_from_settings", "setting_flag"]

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

    issuer, env_id = _text(settings, key("ISSUER")), _text(settings, key("ENV_ID"))
    if issuer is None and env_id is None:
        raise ConfigError(
            key("ENV_ID"), f"set {key('ENV_ID')} (and {key('REGION')}) or {key('ISSUER')}"
        )
    pingone_options: dict[str, Any] = {"issuer": issuer, "env_id": env_id}
    region = _text(settings, key("REGION"))
    if region is not None:
        pingone_options["region"] = region
    timeout = _seconds(settings, key("TIMEOUT"))
    if timeout is not None:
        pingone_options["timeout"] = timeout
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
    options.update(overrides)
    try:
        return Guard(PingOne(**pingone_options), **options)
    except ConfigError as exc:
        # Name the setting, not the keyword argument behind it.
        name = exc.field.upper()
        if exc.field in overrides or name not in GUARD_SETTINGS:
            raise
        raise ConfigError(key(name), exc.message) from None


def guard_from_env(environ: Mapping[str, str] | None = None, **overrides: Any) -> Guard:
    """:func:`guard_from_settings` over the ``P1GUARD_*`` environment variables."""
    return guard_from_settings(os.environ if environ is None else environ, **overrides)
