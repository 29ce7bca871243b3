"""The sign-in routes, as a blueprint named ``p1guard`` mounted under the app's prefix.

==========================  =================================================================
route                       behaviour
==========================  =================================================================
``GET  {prefix}/login``     302 to PingOne; ``?return_to=/path`` (same-origin paths only) and
                            ``acr_values``, ``max_age``, ``prompt``, ``login_hint`` pass through
``GET  {prefix}/callback``  finishes the sign-in, 302 to ``return_to``; refused: 400 page
``GET  {prefix}/logout``    a confirmation page whose button posts the CSRF token
``POST {prefix}/logout``    with form field ``csrf``: ends the session, 302 to PingOne signoff
==========================  =================================================================

PingOne unreachable (or the session store down): 503 with ``Retry-After``.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, request, session, url_for
from werkzeug.wrappers import Response

from p1guard import ProviderUnavailable
from p1guard.rp import LoginError

from .login import BLUEPRINT, current_login
from .login_pages import (
    confirm_logout_page,
    login_error_response,
    no_store_redirect,
    unavailable_response,
)

__all__ = ["login_blueprint"]

logger = logging.getLogger("p1guard.flask")

_MAX_PARAM = 1024


def _login_params() -> dict[str, Any]:
    """The pass-through parameters of ``/login``, checked; :class:`LoginError` if malformed."""
    params: dict[str, Any] = {}
    for name in ("acr_values", "max_age", "prompt", "login_hint"):
        value = request.args.get(name)
        if value is None or value == "":
            continue
        if len(value) > _MAX_PARAM or not value.isprintable():
            raise LoginError("invalid_request", f"The {name} parameter is malformed")
        params[name] = value
    if "acr_values" in params:
        params["acr_values"] = params["acr_values"].split()
    if "max_age" in params:
        max_age = params["max_age"]
        if not (max_age.isascii() and max_age.isdigit()):
            raise LoginError("invalid_request", "max_age must be a whole number of seconds")
        params["max_age"] = int(max_age)
    return params


def _refused(err: LoginError, *, title: str, retry_endpoint: str) -> Response:
    logger.info("%s %r refused: %s", request.method, request.path, err.reason)
    return login_error_response(err, title=title, retry_url=url_for(retry_endpoint))


def _unavailable(err: ProviderUnavailable) -> Response:
    logger.warning("%s %r: %s (503)", request.method, request.path, err.reason)
    return unavailable_response(err)


def login() -> Response:
    """``GET {prefix}/login``: start a sign-in bound to this browser's session."""
    return_to = request.args.get("return_to", f"{request.script_root}/")
    try:
        start = current_login().web.login(session, return_to, **_login_params())
    except LoginError as err:
        return _refused(err, title="Sign-in failed", retry_endpoint=f"{BLUEPRINT}.login")
    except ProviderUnavailable as err:
        return _unavailable(err)
    return no_store_redirect(start.url)


def callback() -> Response:
    """``GET {prefix}/callback``: finish the sign-in; repeated parameters are refused."""
    try:
        target = current_login().web.callback(session, request.args.to_dict(flat=False))
    except LoginError as err:
        return _refused(err, title="Sign-in failed", retry_endpoint=f"{BLUEPRINT}.login")
    except ProviderUnavailable as err:
        return _unavailable(err)
    return no_store_redirect(target)


def logout() -> Response:
    """``GET``: the confirmation page; ``POST`` (form ``csrf``): end the session, go to PingOne."""
    web = current_login().web
    if request.method != "POST":
        return confirm_logout_page(url_for(f"{BLUEPRINT}.logout"), web.csrf_token(session))
    try:
        signoff = web.logout(session, request.form.get("csrf"))
    except LoginError as err:
        return _refused(err, title="Sign-out failed", retry_endpoint=f"{BLUEPRINT}.logout")
    except ProviderUnavailable as err:
        return _unavailable(err)
    return no_store_redirect(signoff)


def login_blueprint(prefix: str) -> Blueprint:
    """A new blueprint with the three routes under ``prefix`` (``""`` mounts them at the root).

    >>> app.register_blueprint(login_blueprint("/auth"))            # doctest: +SKIP
    >>> url_for("p1guard.login", return_to="/orders")               # doctest: +SKIP
    '/auth/login?return_to=%2Forders'
    """
    bp = Blueprint(BLUEPRINT, __name__, url_prefix=prefix or None)
    bp.add_url_rule("/login", "login", login, methods=["GET"])
    bp.add_url_rule("/callback", "callback", callback, methods=["GET"])
    bp.add_url_rule("/logout", "logout", logout, methods=["GET", "POST"])
    return bp
