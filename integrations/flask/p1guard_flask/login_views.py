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

PingOne unreachable (or the session store down): 503 with ``Retry-After``. The pages and the
parsing of ``/login``'s query are :mod:`p1guard.rp._pages`'.
"""

from __future__ import annotations

import logging

from flask import Blueprint, request, session, url_for
from werkzeug.wrappers import Response

from p1guard import ProviderUnavailable
from p1guard.rp import LoginError
from p1guard.web import html_answer, login_params, logout_page
from p1guard_flask.login import BLUEPRINT, current_login
from p1guard_flask.login_pages import answer_response, login_error_response, no_store_redirect

__all__ = ["login_blueprint"]

logger = logging.getLogger("p1guard.flask")


def _refused(err: LoginError | ProviderUnavailable, *, title: str, retry_endpoint: str) -> Response:
    level = logging.WARNING if isinstance(err, ProviderUnavailable) else logging.INFO
    logger.log(level, "%s %r refused: %s", request.method, request.path, err.reason)
    return login_error_response(err, title=title, retry_url=url_for(retry_endpoint))


def login() -> Response:
    """``GET {prefix}/login``: start a sign-in bound to this browser's session."""
    try:
        params = login_params(request.args.to_dict(flat=False))
        return_to = params.pop("return_to", f"{request.script_root}/")
        start = current_login().web.login(session, return_to, **params)
    except (LoginError, ProviderUnavailable) as err:
        return _refused(err, title="Sign-in failed", retry_endpoint=f"{BLUEPRINT}.login")
    return no_store_redirect(start.url)


def callback() -> Response:
    """``GET {prefix}/callback``: finish the sign-in; repeated parameters are refused."""
    try:
        target = current_login().web.callback(session, request.args.to_dict(flat=False))
    except (LoginError, ProviderUnavailable) as err:
        return _refused(err, title="Sign-in failed", retry_endpoint=f"{BLUEPRINT}.login")
    return no_store_redirect(target)


def logout() -> Response:
    """``GET``: the confirmation page; ``POST`` (form ``csrf``): end the session, go to PingOne."""
    web = current_login().web
    if request.method != "POST":
        page = logout_page(url_for(f"{BLUEPRINT}.logout"), web.csrf_token(session))
        return answer_response(html_answer(page))
    try:
        signoff = web.logout(session, request.form.get("csrf"))
    except (LoginError, ProviderUnavailable) as err:
        return _refused(err, title="Sign-out failed", retry_endpoint=f"{BLUEPRINT}.logout")
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
