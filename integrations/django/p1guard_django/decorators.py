"""``@require_token``: a view needs a valid PingOne access token, optionally with scopes.

>>> from p1guard_django.decorators import require_token
>>> @require_token("read")                                       # doctest: +SKIP
... def list_items(request):
...     return JsonResponse({"sub": request.access_token.subject})
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, overload

from asgiref.sync import iscoroutinefunction
from django.http import HttpRequest
from django.http.response import HttpResponseBase

from p1guard import AuthError, ConfigError, MissingToken

from .auth import Match, Outcome, aauthenticate, authenticate, check_scopes, error_response_for
from .conf import get_guard

__all__ = ["require_token"]

View = TypeVar("View", bound=Callable[..., Any])


def refusal(outcome: Outcome, scopes: tuple[str, ...], match: Match) -> AuthError | None:
    """Why a request with ``outcome`` may not run a view needing ``scopes`` (``None``: it may).

    >>> refusal(authenticate(request), ("read",), "all")         # doctest: +SKIP
    """
    if outcome.token is None:
        return outcome.error or MissingToken(realm=get_guard().realm)
    if not scopes:
        return None
    return check_scopes(outcome.token, scopes, match, get_guard().realm)


@overload
def require_token(view: View, /) -> View: ...


@overload
def require_token(*scopes: str, match: Match = "all") -> Callable[[View], View]: ...


def require_token(*scopes: Any, match: Match = "all") -> Any:
    """Require a valid token carrying ``scopes`` (every one, or ``match="any"``) on a view.

    Works on sync and ``async def`` function views, with or without
    :class:`~p1guard_django.middleware.BearerTokenMiddleware` (whose result it reuses).
    Refusals are JSON ``{"error", "error_description"}`` with the status (400/401/403/503) and
    ``WWW-Authenticate`` header of the :class:`~p1guard.AuthError`. The view is marked
    ``csrf_exempt``: it only accepts a bearer token, which browsers never send on their own.
    ``request.access_token`` is set for the view (``request.user`` too, with ``USER_MAPPING``).

    >>> @require_token                                           # doctest: +SKIP
    ... async def me(request): ...                              # any valid token
    >>> @require_token("read", "write", match="any")             # doctest: +SKIP
    ... def items(request): ...
    """
    if len(scopes) == 1 and callable(scopes[0]):
        return _decorate(scopes[0], (), "all")
    if match not in ("all", "any"):
        raise ConfigError("match", f"use 'all' or 'any', got {match!r}")
    for scope in scopes:
        if not isinstance(scope, str) or not scope or " " in scope:
            raise ConfigError("scopes", f"each scope must be one non-empty word, got {scope!r}")
    wanted = tuple(scopes)
    return functools.partial(_decorate, scopes=wanted, match=match)


def _decorate(view: View, scopes: tuple[str, ...], match: Match) -> View:
    wrapper: Callable[..., Any]
    if iscoroutinefunction(view):

        @functools.wraps(view)
        async def async_wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            denied = refusal(await aauthenticate(request), scopes, match)
            if denied is not None:
                return error_response_for(denied, request)
            return await view(request, *args, **kwargs)

        wrapper = async_wrapper
    else:

        @functools.wraps(view)
        def sync_wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            denied = refusal(authenticate(request), scopes, match)
            if denied is not None:
                return error_response_for(denied, request)
            response: HttpResponseBase = view(request, *args, **kwargs)
            return response

        wrapper = sync_wrapper
    setattr(wrapper, "csrf_exempt", True)  # noqa: B010 - a function attribute Django reads
    setattr(wrapper, "required_scopes", scopes)  # noqa: B010
    return wrapper  # type: ignore[return-value]
