"""Sign-in set-up: what :meth:`P1Guard.init_login <p1guard_flask.P1Guard.init_login>` stores in
``app.extensions["p1guard_login"]``, the session-cookie rules it applies, and how a request
finds it.

Rules:

1. Flask's own signed cookie session carries the sign-in; it only ever holds random ids
   (:class:`~p1guard.rp.WebLogin` keeps transactions and tokens server-side), so it needs
   ``app.secret_key``.
2. The session cookie is ``HttpOnly`` and ``SameSite=Lax`` (``Strict`` would drop it on
   PingOne's redirect back, and ``None`` would send it with cross-site posts); both are refused
   when set otherwise.
3. It is ``Secure`` whenever the redirect URI is https — always, outside loopback hosts, unless
   PingOne was built with ``allow_insecure_http=True``; an app's own ``True`` is kept.
4. The redirect URI must point at this app's callback route (``{prefix}/callback``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from flask import Flask, current_app
from flask.sessions import SecureCookieSessionInterface

from p1guard import ConfigError
from p1guard.rp import WebLogin

__all__ = [
    "BLUEPRINT",
    "LOGIN_EXTENSION_KEY",
    "LoginOwner",
    "LoginState",
    "current_login",
    "secure_session",
]

#: The key of the sign-in state in ``app.extensions``.
LOGIN_EXTENSION_KEY = "p1guard_login"

#: The name of the routes' blueprint: ``url_for("p1guard.login")``, ``"p1guard.logout"``.
BLUEPRINT = "p1guard"


class LoginOwner(Protocol):
    """The extension a :class:`LoginState` belongs to, as this module needs to know it.

    :class:`~p1guard_flask.P1Guard` (through its :class:`~p1guard_flask.signin.SignIn` half) is
    one; the state only keeps it, so this module never imports :mod:`p1guard_flask.signin`
    (which imports this one).

    >>> app.extensions["p1guard_login"].extension.csrf_token()     # doctest: +SKIP
    """

    def csrf_token(self) -> str:
        """The session's CSRF token, for a sign-out form."""
        ...


@dataclass(frozen=True)
class LoginState:
    """One app's sign-in: its :class:`~p1guard.rp.WebLogin`, route prefix, owning extension.

    ``owned`` is true when the WebLogin was built from ``app.config``; :meth:`close` then
    closes its HTTP clients and store.

    >>> app.extensions["p1guard_login"].web.rp.client_id           # doctest: +SKIP
    'web-app'
    """

    extension: LoginOwner
    web: WebLogin
    prefix: str
    owned: bool = False

    def close(self) -> None:
        """Close the PingOne HTTP client and the session store, if built from config.

        >>> app.extensions["p1guard_login"].close()                  # doctest: +SKIP
        """
        if self.owned:
            self.web.rp.pingone.close()
            self.web.store.close()


def current_login() -> LoginState:
    """The sign-in state of ``current_app``; :class:`RuntimeError` (fail closed) if it has none.

    >>> current_login().web.csrf_token(session)                     # doctest: +SKIP
    """
    state = current_app.extensions.get(LOGIN_EXTENSION_KEY)
    if not isinstance(state, LoginState):
        raise RuntimeError(
            f"sign-in is not set up on the app {current_app.name!r}: call p1.init_login(app)"
        )
    return state


def check_redirect_uri(web: WebLogin, prefix: str, field: str) -> None:
    """Rule 4: the redirect URI's path ends with ``{prefix}/callback``.

    >>> check_redirect_uri(web, "/auth", "P1GUARD_LOGIN_REDIRECT_URI")  # doctest: +SKIP
    """
    path = urlsplit(web.rp.redirect_uri).path
    if not path.endswith(f"{prefix}/callback"):
        raise ConfigError(
            field,
            f"must point at this app's callback route {prefix}/callback (the path is {path!r}); "
            "or change the prefix (P1GUARD_LOGIN_PREFIX / init_login(prefix=...))",
        )


def secure_session(app: Flask, web: WebLogin) -> None:
    """Rules 1–3: demand a secret key and make the session cookie fit for signing in.

    >>> secure_session(app, web)                                    # doctest: +SKIP
    >>> app.config["SESSION_COOKIE_SAMESITE"]                       # doctest: +SKIP
    'Lax'
    """
    if isinstance(app.session_interface, SecureCookieSessionInterface) and not app.secret_key:
        raise ConfigError(
            "SECRET_KEY",
            "sign-in keeps its ids in Flask's signed session cookie: set app.secret_key "
            "(e.g. SECRET_KEY from secrets.token_hex(32), the same for every worker)",
        )
    if app.config.get("SESSION_COOKIE_HTTPONLY", True) is not True:
        raise ConfigError(
            "SESSION_COOKIE_HTTPONLY", "must stay True: scripts have no business with the session"
        )
    same_site = app.config.get("SESSION_COOKIE_SAMESITE")
    if same_site is None:
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    elif not isinstance(same_site, str) or same_site.lower() != "lax":
        raise ConfigError(
            "SESSION_COOKIE_SAMESITE",
            f"use 'Lax' (or leave it unset), not {same_site!r}: 'Strict' drops the cookie on "
            "PingOne's redirect back so no sign-in can finish, 'None' sends it cross-site",
        )
    if urlsplit(web.rp.redirect_uri).scheme == "https":
        app.config["SESSION_COOKIE_SECURE"] = True
