"""``current_user``: the signed-in :class:`~p1guard.rp.SignedInUser` of a request.

Like :data:`~p1guard_flask.current_token` it is a :class:`werkzeug.local.LocalProxy`. In a view
that :meth:`P1Guard.login_required <p1guard_flask.P1Guard.login_required>` guards it is the user
that check found; elsewhere :func:`get_user` looks the session up on first use (once per
request). When nobody is signed in ``current_user`` raises :class:`RuntimeError` and
``get_user()`` returns ``None``.

The user's :attr:`~p1guard.rp.SignedInUser.access_token` is fresh: it was refreshed with
PingOne if it was about to expire.

The user is kept in the request's WSGI environ (``"p1guard.user"``), not on ``flask.g``: ``g``
belongs to the app context, which Flask reuses for every request made while one is pushed, so a
user kept there would be handed to the next request.
"""

from __future__ import annotations

from typing import Any

from flask import has_app_context, has_request_context, request, session
from werkzeug.local import LocalProxy

from p1guard.rp import SignedInUser
from p1guard_flask.login import current_login

__all__ = ["aget_user", "current_user", "get_user", "set_user"]

_ENVIRON_KEY = "p1guard.user"
_UNSET: Any = object()


def set_user(user: SignedInUser | None) -> None:
    """Remember the request's user, or that nobody is signed in (done by the checks).

    >>> set_user(web.user(session))                                 # doctest: +SKIP
    """
    request.environ[_ENVIRON_KEY] = user


def _cached() -> Any:
    if not has_request_context():
        raise RuntimeError(
            "p1guard_flask.current_user is only available while handling a request "
            "(working outside of request context)"
        )
    return request.environ.get(_ENVIRON_KEY, _UNSET)


def get_user() -> SignedInUser | None:
    """The signed-in user of this request, or ``None`` (looked up once, sync).

    Raises :class:`RuntimeError` outside a request or when sign-in is not set up, and
    :class:`~p1guard.ProviderUnavailable` when a due token refresh cannot reach PingOne.

    >>> @app.get("/")                                               # doctest: +SKIP
    ... def home():
    ...     user = get_user()
    ...     return f"Hello, {user.name}" if user else "Hello, stranger"
    """
    user = _cached()
    if user is _UNSET:
        user = current_login().web.user(session)
        set_user(user)
    result: SignedInUser | None = user
    return result


async def aget_user() -> SignedInUser | None:
    """Async twin of :func:`get_user` (the lookup awaits PingOne and the store).

    >>> user = await aget_user()                                    # doctest: +SKIP
    """
    user = _cached()
    if user is _UNSET:
        user = await current_login().web.auser(session)
        set_user(user)
    result: SignedInUser | None = user
    return result


def _current_user() -> SignedInUser:
    if not has_app_context():
        raise RuntimeError(
            "p1guard_flask.current_user is only available while handling a request "
            "(working outside of application context)"
        )
    user = get_user()
    if user is None:
        raise RuntimeError(
            "p1guard_flask.current_user: nobody is signed in; protect the view with "
            "@p1.login_required, or use get_user(), which returns None"
        )
    return user


#: The current request's :class:`~p1guard.rp.SignedInUser` (a LocalProxy).
#:
#: >>> @app.get("/profile")                                       # doctest: +SKIP
#: ... @p1.login_required
#: ... def profile():
#: ...     return {"name": current_user.name, "sub": current_user.subject}
current_user: SignedInUser = LocalProxy(_current_user)  # type: ignore[assignment]
