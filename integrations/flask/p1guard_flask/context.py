"""``current_token``: the verified :class:`~p1guard.AccessToken` of a request.

Like ``flask.request`` it is a :class:`werkzeug.local.LocalProxy`: import it once, use it in any
view that :meth:`P1Guard.require_token <p1guard_flask.P1Guard.require_token>` (or a protected
blueprint) guards. Anywhere else it raises :class:`RuntimeError` instead of handing out
``None`` — code that expects a token never runs without one.

The token is kept in the request's WSGI environ under ``"p1guard.access_token"``
(:data:`p1guard.wsgi.ENVIRON_KEY`), not on ``flask.g``: ``g`` belongs to the app context, which
Flask reuses for every request made while one is pushed (``with app.app_context(): …``), so a
token kept there would outlive its request. The key is the one the core
:class:`p1guard.wsgi.BearerTokenMiddleware` fills, so both agree on a request's token.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import has_app_context, has_request_context, request
from werkzeug.local import LocalProxy

from p1guard.wsgi import ENVIRON_KEY

if TYPE_CHECKING:
    from p1guard import AccessToken

__all__ = ["current_token", "get_token", "set_token"]


def set_token(token: AccessToken) -> None:
    """Attach ``token`` to the current request (done by the decorator and blueprint hook).

    >>> set_token(guard.verify(raw_token))                          # doctest: +SKIP
    """
    request.environ[ENVIRON_KEY] = token


def get_token() -> AccessToken | None:
    """The verified token of the current request, or ``None`` when no check ran.

    Raises :class:`RuntimeError` outside a request.

    >>> @app.get("/maybe")                                       # doctest: +SKIP
    ... def maybe():
    ...     token = get_token()
    ...     return {"sub": token.subject if token else None}
    """
    if not has_request_context():
        raise RuntimeError(
            "p1guard_flask.current_token is only available while handling a request "
            "(working outside of request context)"
        )
    token: AccessToken | None = request.environ.get(ENVIRON_KEY)
    return token


def _current_token() -> AccessToken:
    if not has_app_context():
        raise RuntimeError(
            "p1guard_flask.current_token is only available while handling a request "
            "(working outside of application context)"
        )
    token = get_token()
    if token is None:
        raise RuntimeError(
            "p1guard_flask.current_token: this request has no verified token; protect the "
            "view with @p1.require_token() or its blueprint with p1.protect_blueprint()"
        )
    return token


#: The current request's verified :class:`~p1guard.AccessToken` (a LocalProxy).
#:
#: >>> @app.get("/me")                                           # doctest: +SKIP
#: ... @p1.require_token()
#: ... def me():
#: ...     return {"sub": current_token.subject, "scopes": sorted(current_token.scopes)}
current_token: AccessToken = LocalProxy(_current_token)  # type: ignore[assignment]
