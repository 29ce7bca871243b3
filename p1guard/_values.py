"""The floor: plain values every layer checks the same way — seconds, loopback hosts, URLs.

Nothing here imports the rest of p1guard but :mod:`p1guard.errors`.
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from urllib.parse import urlsplit, urlunsplit

from p1guard.errors import ConfigError

__all__ = ["Seconds", "check_origin", "check_url", "is_loopback", "to_seconds"]

Seconds = float | int | timedelta


def to_seconds(
    field: str, value: Seconds, *, minimum: float = 0.0, maximum: float = 366 * 86400.0
) -> float:
    """Accept seconds or a ``timedelta``; raise :class:`ConfigError` naming ``field`` otherwise."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        raise ConfigError(field, f"expected seconds or a timedelta, got {type(value).__name__}")
    if not seconds >= minimum:  # also rejects NaN
        raise ConfigError(field, f"must be at least {minimum:g} seconds, got {seconds:g}")
    if not seconds <= maximum:  # also rejects infinity
        raise ConfigError(field, f"must be at most {maximum:g} seconds, got {seconds:g}")
    return seconds


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback name or address (``localhost``, 127.0.0.0/8, ``::1``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(field: str, url: object, *, allow_query: bool = False) -> str:
    """``url`` as an absolute ``https`` URL (``http`` only on loopback), else ConfigError."""
    if not isinstance(url, str) or not url:
        raise ConfigError(field, "expected an absolute URL such as 'https://api.example.com'")
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise ConfigError(field, f"{url!r} is not a valid URL") from exc
    if parts.scheme == "http":
        if not is_loopback(host):
            raise ConfigError(field, f"{url!r} must use https (http is allowed on loopback only)")
    elif parts.scheme != "https":
        raise ConfigError(field, f"{url!r} must be an absolute https URL")
    if not host:
        raise ConfigError(field, f"{url!r} has no host")
    if parts.username is not None or parts.password is not None:
        raise ConfigError(field, f"{url!r} must not contain credentials")
    if parts.fragment or url.endswith("#"):
        raise ConfigError(field, f"{url!r} must not contain a fragment")
    if parts.query and not allow_query:
        raise ConfigError(field, f"{url!r} should not contain a query (RFC 9728 §1.2)")
    if not url.isascii() or not url.isprintable() or " " in url:
        raise ConfigError(field, f"{url!r} must be printable ASCII without spaces")
    return url


def check_origin(field: str, url: object) -> str:
    """``scheme://host[:port]`` of an http(s) origin (an API's external URL behind a proxy),
    else :class:`ConfigError` naming ``field``.

    A mount prefix comes from the server (ASGI ``root_path``, WSGI ``SCRIPT_NAME``), not from
    here: dropping one silently would check proofs against the wrong path.

    >>> check_origin("public_url", "https://api.example.com/")
    'https://api.example.com'
    """
    parts = urlsplit(url) if isinstance(url, str) else None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.netloc
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or "@" in parts.netloc
    ):
        raise ConfigError(field, f"expected an origin like 'https://api.example.com', got {url!r}")
    return urlunsplit((parts.scheme, parts.netloc, "", "", ""))
