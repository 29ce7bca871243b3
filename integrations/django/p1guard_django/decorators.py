"""``@require_token``: a view needs a valid PingOne access token, optionally with scopes.

>>> from p1guard_django.decorators import require_token
>>> @require_token("read")                                       # doctest: +SKIP
... def list_items(request):
...     return JsonResponse({"sub": request.access_token.subject})
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, overload

from asgiref.sync import iscoroutinefunction
from django.http import HttpRequest
from django.http.response import HttpResponseBase

from p1guard import AuthError, ClaimRule, ConfigError, InsufficientUserAuthentication, MissingToken
from p1guard.errors import InsufficientClaims
from p1guard.web import (
    check_rules,
    require_authentication,
    require_claims,
    stamp_challenge,
    step_up_options,
)
from p1guard_django.auth import (
    Match,
    Outcome,
    aauthenticate,
    authenticate,
    check_scopes,
    error_response_for,
)
from p1guard_django.conf import get_guard

__all__ = ["require_token"]

View = TypeVar("View", bound=Callable[..., Any])


def refusal(
    outcome: Outcome,
    scopes: tuple[str, ...],
    match: Match,
    acr_values: tuple[str, ...] | None = None,
    max_age: int | None = None,
    claims: tuple[ClaimRule, ...] = (),
) -> AuthError | None:
    """Why a request with ``outcome`` may not run a view needing ``scopes`` and, with
    ``acr_values``/``max_age``, step-up authentication, then ``claims`` rules (``None``: it may).

    >>> refusal(authenticate(request), ("read",), "all")         # doctest: +SKIP
    """
    if outcome.token is None:
        missing = stamp_challenge(MissingToken(realm=get_guard().realm), get_guard())
        return outcome.error or get_guard().challenge(missing, outcome.scheme)
    denied: AuthError | None = None
    if scopes:
        denied = check_scopes(outcome.token, scopes, match, get_guard().realm)
    if denied is None and (acr_values is not None or max_age is not None):
        # The token was verified once for the request; the view's step-up is checked here, with
        # the same rules and leeway as Guard.verify(acr_values=…, max_age=…).
        guard = get_guard()
        try:
            require_authentication(
                outcome.token, acr_values, max_age, time.time(), guard.policy.leeway
            )
        except InsufficientUserAuthentication as err:
            err.realm = guard.realm
            denied = err
    if denied is None and claims:
        try:
            require_claims(outcome.token, claims)
        except InsufficientClaims as err:
            err.realm = get_guard().realm
            denied = err
    if denied is not None:
        get_guard().challenge(denied, outcome.scheme)  # a DPoP request: the DPoP challenge
    return denied


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
        return _decorate(scopes[0], (), "all")
    if match not in ("all", "any"):
        raise ConfigError("match", f"use 'all' or 'any', got {match!r}")
    for scope in scopes:
        if not isinstance(scope, str) or not scope or " " in scope:
            raise ConfigError("scopes", f"each scope must be one non-empty word, got {scope!r}")
    wanted = tuple(scopes)
    acr, age = step_up_options(acr_values, max_age)
    rules = check_rules(claims)
    return functools.partial(
        _decorate, scopes=wanted, match=match, acr_values=acr, max_age=age, claims=rules
    )


def _decorate(
    view: View,
    scopes: tuple[str, ...],
    match: Match,
    acr_values: tuple[str, ...] | None = None,
    max_age: int | None = None,
    claims: tuple[ClaimRule, ...] = (),
) -> View:
    wrapper: Callable[..., Any]
    if iscoroutinefunction(view):

        @functools.wraps(view)
        async def async_wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            denied = refusal(
                await aauthenticate(request), scopes, match, acr_values, max_age, claims
            )
            if denied is not None:
                return error_response_for(denied, request)
            return await view(request, *args, **kwargs)

        wrapper = async_wrapper
    else:

        @functools.wraps(view)
        def sync_wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            denied = refusal(authenticate(request), scopes, match, acr_values, max_age, claims)
            if denied is not None:
                return error_response_for(denied, request)
            response: HttpResponseBase = view(request, *args, **kwargs)
            return response

        wrapper = sync_wrapper
    setattr(wrapper, "csrf_exempt", True)  # noqa: B010 - a function attribute Django reads
    setattr(wrapper, "required_scopes", scopes)  # noqa: B010
    return wrapper  # type: ignore[return-value]
