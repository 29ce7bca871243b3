"""The session cookie the login routes need: Starlette's ``SessionMiddleware``, set up safely.

The cookie is signed (``itsdangerous``), ``HttpOnly``, ``SameSite=Lax`` and ``Secure`` whenever
the app's redirect URI is https (plain http is only possible on loopback hosts, for local
development, or with PingOne's explicit insecure opt-out). It only ever holds random ids;
tokens stay server-side in the ``WebLogin`` store.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from fastapi import FastAPI

from p1guard import ConfigError
from p1guard.web import secure_cookie

__all__ = ["add_session_middleware"]

#: The shortest ``secret_key`` accepted (``secrets.token_urlsafe(32)`` gives 43 characters).
MIN_SECRET_LENGTH = 32


def add_session_middleware(
    app: FastAPI,
    *,
    secret_key: str,
    redirect_uri: str,
    max_age: float | timedelta | None = 8 * 3600,
    session_cookie: str = "session",
    domain: str | None = None,
) -> None:
    """Add Starlette's ``SessionMiddleware`` to ``app`` with the cookie settings login needs.

    ``redirect_uri`` is the app's PingOne redirect URI: the cookie is ``Secure`` whenever it is
    https. ``secret_key`` signs the cookie (at least 32 characters; keep it out of
    the code and the same on every worker). ``max_age`` should match ``WebLogin.session_ttl``;
    ``None`` makes a browser-session cookie. Needs the ``itsdangerous`` package.

    >>> add_session_middleware(app, secret_key=os.environ["SESSION_SECRET"],
    ...                        redirect_uri="https://app.example.com/auth/callback")
    ... # doctest: +SKIP
    """
    if not isinstance(secret_key, str) or len(secret_key) < MIN_SECRET_LENGTH:
        raise ConfigError(
            "secret_key",
            f"use a random string of at least {MIN_SECRET_LENGTH} characters, e.g. "
            "python -c 'import secrets; print(secrets.token_urlsafe(32))'",
        )
    host = urlsplit(redirect_uri).hostname if isinstance(redirect_uri, str) else None
    if not host:
        raise ConfigError("redirect_uri", "pass the app's absolute redirect URI")
    if isinstance(max_age, timedelta):
        max_age = max_age.total_seconds()
    try:
        from starlette.middleware.sessions import SessionMiddleware
    except ImportError as exc:  # itsdangerous is missing
        raise ConfigError(
            "itsdangerous", "the session cookie needs it: pip install itsdangerous"
        ) from exc
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret_key,
        session_cookie=session_cookie,
        max_age=None if max_age is None else max(1, int(max_age)),
        same_site="lax",
        https_only=secure_cookie(redirect_uri),
        domain=domain,
    )
