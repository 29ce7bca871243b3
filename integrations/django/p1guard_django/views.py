"""``TokenRequiredMixin``: the class-based-view twin of :func:`~.decorators.require_token`.

>>> class ItemsView(TokenRequiredMixin, View):                  # doctest: +SKIP
...     required_scopes = {"GET": ["read"], "POST": ["write"]}
...     def get(self, request): ...
...     def post(self, request): ...
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, cast

from django.http import HttpRequest
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from p1guard import AuthError

from .auth import (
    Match,
    MethodNotGranted,
    Outcome,
    RequiredScopes,
    aauthenticate,
    authenticate,
    error_response_for,
    scopes_for,
)
from .conf import get_guard
from .decorators import refusal

__all__ = ["TokenRequiredMixin"]

if TYPE_CHECKING:
    _Base = View
else:
    _Base = object


class TokenRequiredMixin(_Base):
    """Require a valid token (and scopes) before ``dispatch``; put it left of ``View``.

    ``required_scopes`` is one list for every method or a dict per HTTP method
    (``HEAD`` falls back to ``GET``, ``"*"`` is the default entry); a method the dict does not
    list is refused with 403 (fail closed). ``scope_match = "any"`` needs one scope instead
    of all. Async views (``async def get``) are checked with ``averify``. Like the decorator,
    the view is ``csrf_exempt`` and refusals are JSON with ``WWW-Authenticate``.

    >>> class MeView(TokenRequiredMixin, View):                  # doctest: +SKIP
    ...     async def get(self, request):
    ...         return JsonResponse({"sub": request.access_token.subject})
    """

    required_scopes: ClassVar[RequiredScopes] = ()
    scope_match: ClassVar[Match] = "all"

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Any:
        """``View.as_view``, marked ``csrf_exempt`` (bearer tokens are not ambient)."""
        return csrf_exempt(super().as_view(**initkwargs))

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        """Check the token, then hand over to the view's ``dispatch``."""
        if self.view_is_async:
            return self._adispatch(request, *args, **kwargs)
        denied = self._refusal(request, authenticate(request))
        if denied is not None:
            return error_response_for(denied, request)
        return super().dispatch(request, *args, **kwargs)

    async def _adispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        denied = self._refusal(request, await aauthenticate(request))
        if denied is not None:
            return error_response_for(denied, request)
        return await cast(Any, super().dispatch(request, *args, **kwargs))

    def _refusal(self, request: HttpRequest, outcome: Outcome) -> AuthError | None:
        scopes = scopes_for(self.required_scopes, request.method)
        denied = refusal(outcome, scopes or (), self.scope_match)
        if denied is None and scopes is None:
            return MethodNotGranted(realm=get_guard().realm)
        return denied
