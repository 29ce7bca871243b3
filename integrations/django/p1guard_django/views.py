"""``TokenRequiredMixin``: the class-based-view twin of :func:`~.decorators.require_token`.

>>> class ItemsView(TokenRequiredMixin, View):                  # doctest: +SKIP
...     required_scopes = {"GET": ["read"], "POST": ["write"]}
...     def get(self, request): ...
...     def post(self, request): ...
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar, cast

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from p1guard import ClaimRule, Requirements
from p1guard_django.auth import (
    Match,
    Outcome,
    RequiredScopes,
    aauthenticate,
    allowed_methods,
    authenticate,
    error_response_for,
    method_not_allowed,
    refusal,
    scopes_for,
)

__all__ = ["TokenRequiredMixin"]

if TYPE_CHECKING:
    _Base = View
else:
    _Base = object


class TokenRequiredMixin(_Base):
    """Require a valid token (and scopes) before ``dispatch``; put it left of ``View`` (to its
    right, defining the class raises :class:`ImproperlyConfigured`).

    ``required_scopes`` is one list for every method or a dict per HTTP method
    (``HEAD`` falls back to ``GET``, ``"*"`` is the default entry); a method the dict does not
    list is refused with 405 and an ``Allow`` header of the listed ones (fail closed).
    ``scope_match = "any"`` needs one scope instead of all. ``acr_values``/``max_age``
    demand step-up authentication (RFC 9470) and ``claims`` are :mod:`p1guard._tokens.claims` rules,
    as in the decorator; a bad value raises :class:`~p1guard.ConfigError` when the class is
    defined, not on each request. Async views (``async def get``)
    are checked with ``averify``. Like the decorator, the view is ``csrf_exempt`` and
    refusals are JSON with ``WWW-Authenticate``.

    >>> class MeView(TokenRequiredMixin, View):                  # doctest: +SKIP
    ...     async def get(self, request):
    ...         return JsonResponse({"sub": request.access_token.subject})
    >>> class TransferView(TokenRequiredMixin, View):            # doctest: +SKIP
    ...     required_scopes = ["payments"]
    ...     acr_values = ("Multi_Factor",)
    ...     max_age = 300
    ...     claims = (Equals("department", "finance"),)
    """

    required_scopes: ClassVar[RequiredScopes] = ()
    scope_match: ClassVar[Match] = "all"
    acr_values: ClassVar[str | Iterable[str] | None] = None
    max_age: ClassVar[int | None] = None
    claims: ClassVar[Iterable[ClaimRule] | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Refuse a view that lists the mixin right of ``View``: ``View.dispatch`` would run
        first and never call the mixin's, so the view would be served without a token."""
        super().__init_subclass__(**kwargs)
        _needs(cls.scope_match, cls.acr_values, cls.max_age, cls.claims)  # fail at import
        mro = cls.__mro__
        if issubclass(cls, View) and mro.index(View) < mro.index(TokenRequiredMixin):
            raise ImproperlyConfigured(
                f"{cls.__module__}.{cls.__qualname__}: put TokenRequiredMixin left of View "
                f"(class {cls.__name__}(TokenRequiredMixin, View)); to its right, "
                "View.dispatch runs first and no token is ever checked"
            )

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Any:
        """``View.as_view``, marked ``csrf_exempt`` (bearer tokens are not ambient); step-up
        and claim options given here are checked here too."""
        _needs(
            initkwargs.get("scope_match", cls.scope_match),
            initkwargs.get("acr_values", cls.acr_values),
            initkwargs.get("max_age", cls.max_age),
            initkwargs.get("claims", cls.claims),
        )
        return csrf_exempt(super().as_view(**initkwargs))

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        """Check the token, then hand over to the view's ``dispatch``."""
        if self.view_is_async:
            return self._adispatch(request, *args, **kwargs)
        refused = self._refusal(request, authenticate(request))
        if refused is not None:
            return refused
        return super().dispatch(request, *args, **kwargs)

    async def _adispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        refused = self._refusal(request, await aauthenticate(request))
        if refused is not None:
            return refused
        return await cast(Any, super().dispatch(request, *args, **kwargs))

    def _refusal(self, request: HttpRequest, outcome: Outcome) -> HttpResponse | None:
        scopes = scopes_for(self.required_scopes, request.method)
        needs = _needs(self.scope_match, self.acr_values, self.max_age, self.claims)
        denied = refusal(outcome, needs.with_scopes(scopes or ()))
        if denied is not None:
            return error_response_for(denied, request)
        if scopes is None:
            implemented = [m.upper() for m in self.http_method_names if hasattr(self, m)]
            return method_not_allowed(request, allowed_methods(self.required_scopes, implemented))
        return None


def _needs(
    match: Match,
    acr: str | Iterable[str] | None,
    age: int | None,
    claims: Iterable[ClaimRule] | None,
) -> Requirements:
    """The view's requirements but its scopes, validated (:class:`~p1guard.ConfigError`)."""
    return Requirements(match=match, acr_values=acr, max_age=age, claims=claims)
