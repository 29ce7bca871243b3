"""``@require_token``: a view needs a valid PingOne access token, optionally with scopes.

>>> from p1guard_django.decorators import require_token
>>> @require_token("read")                                       # doctest: +SKIP
... def list_items(request):
...     return JsonResponse({"sub": request.access_token.subject})
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, overload

from asgiref.sync import iscoroutinefunction
from django.http import HttpRequest
from django.http.response import HttpResponseBase

from p1guard import ClaimRule, ConfigError, Requirements
from p1guard_django.auth import Match, aauthenticate, authenticate, error_response_for, refusal

__all__ = ["require_token"]

View = TypeVar("View", bound=Callable[..., Any])


@overload
def require_token(view: View, /) -> View: ...


@overload
def require_token(
    *scopes: str,
    match: Match = "all",
    acr_values: Iterable[str] | None = None,
    max_age: int | None = None,
    claims: Iterable[ClaimRule] | None = None,
) -> Callable[[View], View]: ...


def require_token(
    *scopes: Any,
    match: Match = "all",
    acr_values: Iterable[str] | None = None,
    max_age: int | None = None,
    claims: Iterable[ClaimRule] | None = None,
) -> Any:
    """Require a valid token carrying ``scopes`` (every one, or ``match="any"``) on a view.

    Works on sync and ``async def`` function views, with or without
    :class:`~p1guard_django.middleware.BearerTokenMiddleware` (whose result it reuses).
    Refusals are JSON ``{"error", "error_description"}`` with the status (400/401/403/503) and
    ``WWW-Authenticate`` header of the :class:`~p1guard.AuthError`. The view is marked
    ``csrf_exempt``: it only accepts a bearer token, which browsers never send on their own.
    ``request.access_token`` is set for the view (``request.user`` too, with ``USER_MAPPING``).
    ``acr_values``/``max_age`` demand step-up authentication (RFC 9470): a weaker or older
    sign-in gets 401 ``insufficient_user_authentication``. ``claims`` are
    :mod:`p1guard._tokens.claims` rules (403 ``access_denied`` naming the first that fails).

    >>> @require_token                                           # doctest: +SKIP
    ... async def me(request): ...                              # any valid token
    >>> @require_token("read", "write", match="any")             # doctest: +SKIP
    ... def items(request): ...
    """
    if len(scopes) == 1 and callable(scopes[0]):
        return _decorate(scopes[0], Requirements())
    if not all(isinstance(scope, str) and scope.split() == [scope] for scope in scopes):
        raise ConfigError("scopes", f"each scope must be one non-empty word, got {scopes!r}")
    needs = Requirements(
        scopes, match=match, acr_values=acr_values, max_age=max_age, claims=claims
    )  # refused now (ConfigError naming the option), not on each request
    return functools.partial(_decorate, needs=needs)


def _decorate(view: View, needs: Requirements) -> View:
    wrapper: Callable[..., Any]
    if iscoroutinefunction(view):

        @functools.wraps(view)
        async def async_wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            denied = refusal(await aauthenticate(request), needs)
            if denied is not None:
                return error_response_for(denied, request)
            return await view(request, *args, **kwargs)

        wrapper = async_wrapper
    else:

        @functools.wraps(view)
        def sync_wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            denied = refusal(authenticate(request), needs)
            if denied is not None:
                return error_response_for(denied, request)
            response: HttpResponseBase = view(request, *args, **kwargs)
            return response

        wrapper = sync_wrapper
    setattr(wrapper, "csrf_exempt", True)  # noqa: B010 - a function attribute Django reads
    setattr(wrapper, "required_scopes", needs.scopes or ())  # noqa: B010
    return wrapper  # type: ignore[return-value]
