"""``app.config["P1GUARD_*"]`` → a :class:`~p1guard.Guard`, validated when the app is set up.

Every problem raises :class:`~p1guard.ConfigError` naming the *config key* (``P1GUARD_AUDIENCE``),
not the Python parameter behind it, so the message points at the line of config to fix. Values
may be Python objects or the strings environment variables give (``"true"``, ``"30"``).

==============================  ===========================================================
key                             meaning
==============================  ===========================================================
``P1GUARD_ENV_ID``              PingOne environment id (with ``P1GUARD_REGION``, default NA)
``P1GUARD_ISSUER``              or the issuer URL (custom domain); replaces env id + region
``P1GUARD_AUDIENCE``            required: the custom resource's audience (str or list)
``P1GUARD_MODE``                ``"jwt"`` (default), ``"introspect"`` or ``"auto"``
``P1GUARD_CLIENT_ID``/``_SECRET``  the custom resource's credentials, for introspection
``P1GUARD_CHECK_REVOCATION``    also introspect locally valid JWTs (default ``False``)
``P1GUARD_LEEWAY``              clock skew in seconds (default 30)
``P1GUARD_REALM``               ``realm`` of the ``WWW-Authenticate`` challenge
``P1GUARD_TIMEOUT``             seconds per call to PingOne (default 5)
``P1GUARD_STRICT_TYP``          demand ``typ: at+jwt`` in token headers (default ``False``)
``P1GUARD_ALLOW_QUERY_TOKEN``   accept ``?access_token=`` (default ``False``; not a Guard key)
==============================  ===========================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from p1guard import ConfigError, Guard, PingOne

__all__ = ["GUARD_KEYS", "allow_query_token", "guard_from_config", "reject_guard_keys"]

#: The keys that describe the Guard; ignored (and therefore refused) when ``guard=`` is given.
GUARD_KEYS = (
    "P1GUARD_ENV_ID",
    "P1GUARD_REGION",
    "P1GUARD_ISSUER",
    "P1GUARD_AUDIENCE",
    "P1GUARD_MODE",
    "P1GUARD_CLIENT_ID",
    "P1GUARD_CLIENT_SECRET",
    "P1GUARD_CHECK_REVOCATION",
    "P1GUARD_LEEWAY",
    "P1GUARD_REALM",
    "P1GUARD_TIMEOUT",
    "P1GUARD_STRICT_TYP",
)

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


def _get(config: Mapping[str, Any], key: str) -> Any:
    value = config.get(key)
    return None if value == "" else value


def _text(config: Mapping[str, Any], key: str) -> str | None:
    value = _get(config, key)
    if value is not None and not isinstance(value, str):
        raise ConfigError(key, f"expected a string, got {type(value).__name__}")
    return value


def _flag(config: Mapping[str, Any], key: str, default: bool = False) -> bool:
    value = _get(config, key)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ConfigError(key, f"expected True/False (or 'true'/'false'), got {value!r}")


def _seconds(config: Mapping[str, Any], key: str) -> float | timedelta | None:
    value = _get(config, key)
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


def _audience(config: Mapping[str, Any]) -> str | list[str]:
    value = _get(config, "P1GUARD_AUDIENCE")
    if value is None:
        raise ConfigError(
            "P1GUARD_AUDIENCE",
            "set it to your custom resource's audience, e.g. 'https://api.example.com' "
            "(PingOne console: Applications > Resources > your API)",
        )
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple) and value and all(isinstance(a, str) and a for a in value):
        return list(value)
    raise ConfigError("P1GUARD_AUDIENCE", "expected a non-empty string or a list of strings")


def allow_query_token(config: Mapping[str, Any]) -> bool:
    """``P1GUARD_ALLOW_QUERY_TOKEN`` as a bool (default ``False``).

    >>> allow_query_token({"P1GUARD_ALLOW_QUERY_TOKEN": "false"})
    False
    """
    return _flag(config, "P1GUARD_ALLOW_QUERY_TOKEN")


def reject_guard_keys(config: Mapping[str, Any]) -> None:
    """Refuse Guard settings in ``config`` when the app was given a ready Guard.

    They would be silently ignored otherwise (a ``P1GUARD_CHECK_REVOCATION`` nobody honours).

    >>> reject_guard_keys({"P1GUARD_ALLOW_QUERY_TOKEN": False})   # not a Guard key: fine
    """
    for key in GUARD_KEYS:
        if _get(config, key) is not None:
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
    issuer = _text(config, "P1GUARD_ISSUER")
    env_id = _text(config, "P1GUARD_ENV_ID")
    region = _text(config, "P1GUARD_REGION")
    if issuer is None and env_id is None:
        raise ConfigError(
            "P1GUARD_ENV_ID", "set P1GUARD_ENV_ID (and P1GUARD_REGION) or P1GUARD_ISSUER"
        )
    pingone_options: dict[str, Any] = {"issuer": issuer, "env_id": env_id}
    if region is not None:
        pingone_options["region"] = region
    timeout = _seconds(config, "P1GUARD_TIMEOUT")
    if timeout is not None:
        pingone_options["timeout"] = timeout
    guard_options: dict[str, Any] = {
        "audience": _audience(config),
        "mode": _text(config, "P1GUARD_MODE") or "jwt",
        "client_id": _text(config, "P1GUARD_CLIENT_ID"),
        "client_secret": _text(config, "P1GUARD_CLIENT_SECRET"),
        "check_revocation": _flag(config, "P1GUARD_CHECK_REVOCATION"),
        "realm": _text(config, "P1GUARD_REALM"),
        "strict_typ": _flag(config, "P1GUARD_STRICT_TYP"),
    }
    leeway = _seconds(config, "P1GUARD_LEEWAY")
    if leeway is not None:
        guard_options["leeway"] = leeway
    try:
        return Guard(PingOne(**pingone_options), **guard_options)
    except ConfigError as exc:
        # Name the config key, not the keyword argument behind it.
        key = f"P1GUARD_{exc.field.upper()}"
        raise ConfigError(key if key in GUARD_KEYS else exc.field, exc.message) from None
