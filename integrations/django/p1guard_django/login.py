"""The signed-in user of a request, and ``@login_required`` for pages that need one.

>>> from p1guard_django.login import current_user, login_required
>>> @login_required                                              # doctest: +SKIP
... def orders(request):
...     user = current_user(request)                             # a p1guard.rp.SignedInUser
...     return call_api(token=user.access_token)                  # fresh: refreshed when due

Two views of one sign-in, kept in the same Django session:

* ``request.user`` — the Django user :class:`~p1guard_django.backends.PingOneBackend` mapped
  at the callback; what Django's own ``login_required``, permissions and the admin use.
* :func:`current_user` — the PingOne side: ID-token claims and an access token refreshed
  before expiry. It is ``None`` once the sign-in ended (expired, refresh refused, signed out).

:func:`login_required` checks the PingOne side (and ends a Django login whose PingOne
sign-in is gone); browsers are sent to ``p1guard:login``, API clients get 401 JSON. With
``acr_values``/``max_age`` it also demands step-up (RFC 9470) of the user's ID token, sending
the browser back through PingOne with those values when the sign-in is too weak or too old.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable, MutableMapping
from typing import Any, TypeVar, cast, overload
from urllib.parse import urlencode

from asgiref.sync import iscoroutinefunction, sync_to_async
from django.contrib import auth
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.utils.module_loading import import_string

from p1guard import InsufficientUserAuthentication, ProviderUnavailable
from p1guard.rp import SignedInUser
from p1guard.web import step_up_login_url, step_up_options
from p1guard_django.conf import get_web_login
from p1guard_django.login_pages import (
    login_required_response,
    step_up_response,
    unavailable_response,
)

__all__ = ["acurrent_user", "current_user", "login_required", "login_url", "session_of"]

View = TypeVar("View", bound=Callable[..., Any])

logger = logging.getLogger("p1guard.django")

_CACHE = "_p1guard_signed_in"
_UNSET: Any = object()


def session_of(request: HttpRequest) -> MutableMapping[str, Any]:
    """``request.session``, or :class:`ImproperlyConfigured` (``p1guard.E012``) without one.

    >>> session_of(request).session_key                          # doctest: +SKIP
    """
    session = getattr(request, "session", None)
    if session is None:
        raise ImproperlyConfigured(
            "p1guard.E012 sign-in needs request.session: add "
            "'django.contrib.sessions.middleware.SessionMiddleware' to MIDDLEWARE"
        )
    return cast(MutableMapping[str, Any], session)


def current_user(request: HttpRequest) -> SignedInUser | None:
    """The signed-in PingOne user (claims, fresh access token), or ``None``; looked up once per
    request. Sync; in ``async def`` views use :func:`acurrent_user`.

    Raises :class:`~p1guard.ProviderUnavailable` when a due token refresh cannot reach PingOne.

    >>> user = current_user(request)                             # doctest: +SKIP
    >>> user.name, user.subject, user.claims["email"]           # doctest: +SKIP
    ('Ada Lovelace', 'user-1', 'ada@example.com')
    """
    user = getattr(request, _CACHE, _UNSET)
    if user is _UNSET:
        user = get_web_login().user(session_of(request))
        setattr(request, _CACHE, user)
    return cast(SignedInUser | None, user)


async def acurrent_user(request: HttpRequest) -> SignedInUser | None:
    """Async twin of :func:`current_user` (the session is read in a worker thread).

    >>> user = await acurrent_user(request)                      # doctest: +SKIP
    """
    return await sync_to_async(current_user)(request)


def login_url(request: HttpRequest) -> str:
    """``p1guard:login`` with ``return_to`` = this request's path and query.

    >>> login_url(request)                                       # doctest: +SKIP
    '/auth/login?return_to=%2Forders%3Fpage%3D2'
    """
    return f"{reverse('p1guard:login')}?{urlencode({'return_to': request.get_full_path()})}"


def _refusal(
    request: HttpRequest,
    acr_values: tuple[str, ...] | None = None,
    max_age: int | None = None,
) -> HttpResponseBase | None:
    """The answer for a request that may not run the view, or ``None`` (it may)."""
    try:
        user = current_user(request)
    except ProviderUnavailable as err:
        return unavailable_response(request, err)
    if user is None:
        _end_django_login(request)
        return login_required_response(request, login_url(request))
    if not acr_values and max_age is None:
        return None
    try:
        user.require_authentication(acr_values, max_age)
    except InsufficientUserAuthentication as err:
        logger.info("%s %r: step-up needed (%s)", request.method, request.path, err.reason)
        again = step_up_login_url(reverse("p1guard:login"), err, request.get_full_path())
        return step_up_response(request, again, err)
    return None


def _end_django_login(request: HttpRequest) -> None:
    """Log out a Django user that :class:`PingOneBackend` signed in, once PingOne's sign-in
    is gone (expired or refused refresh): Django's session would otherwise outlive it."""
    from p1guard_django.backends import PingOneBackend

    user = getattr(request, "user", None)
    backend = session_of(request).get(auth.BACKEND_SESSION_KEY)
    if user is None or not getattr(user, "is_authenticated", False) or not backend:
        return
    try:
        ours = issubclass(import_string(backend), PingOneBackend)
    except ImportError:
        ours = False
    if ours:
        auth.logout(request)


@overload
def login_required(view: View, /) -> View: ...


@overload
def login_required(
    view: None = None,
    /,
    *,
    acr_values: str | Iterable[str] | None = None,
    max_age: int | None = None,
) -> Callable[[View], View]: ...


def login_required(
    view: Any = None,
    /,
    *,
    acr_values: str | Iterable[str] | None = None,
    max_age: int | None = None,
) -> Any:
    """Run ``view`` only for a signed-in user; works on sync and ``async def`` views.

    Not signed in: browsers (``Accept`` names ``text/html``) get a 302 to
    ``p1guard:login?return_to=<this path>``; API clients a 401
    ``{"error": "login_required", …}``. PingOne unreachable for a due refresh: 503.
    Unlike Django's decorator of the same name, it checks that the PingOne sign-in is still
    alive, and :func:`current_user` is then never ``None`` in the view.

    Step-up (RFC 9470): with ``acr_values`` and/or ``max_age`` (seconds) the user's ID token
    must have one of those ``acr`` and an ``auth_time`` that recent; otherwise browsers go to
    ``p1guard:login`` with those values (PingOne asks again, then back here, where the new ID
    token is checked), API clients get a 401 ``insufficient_user_authentication`` challenge.
    A bad value raises :class:`~p1guard.ConfigError` when the view is decorated.

    >>> @login_required                                          # doctest: +SKIP
    ... def profile(request):
    ...     return HttpResponse(f"Hello {current_user(request).name}")
    >>> @login_required(acr_values=["Multi_Factor"], max_age=300)  # doctest: +SKIP
    ... def transfer(request): ...
    """
    wanted, fresh = step_up_options(acr_values, max_age)
    if view is None:
        return functools.partial(_decorate, acr_values=wanted, max_age=fresh)
    return _decorate(view, acr_values=wanted, max_age=fresh)


def _decorate(
    view: View, *, acr_values: tuple[str, ...] | None = None, max_age: int | None = None
) -> View:
    wrapper: Callable[..., Any]
    if iscoroutinefunction(view):

        @functools.wraps(view)
        async def async_wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            refused = await sync_to_async(_refusal)(request, acr_values, max_age)
            if refused is not None:
                return refused
            return await view(request, *args, **kwargs)

        wrapper = async_wrapper
    else:

        @functools.wraps(view)
        def sync_wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            refused = _refusal(request, acr_values, max_age)
            if refused is not None:
                return refused
            response: HttpResponseBase = view(request, *args, **kwargs)
            return response

        wrapper = sync_wrapper
    return cast(View, wrapper)
