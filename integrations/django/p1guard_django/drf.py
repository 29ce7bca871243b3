"""Django REST framework: ``PingOneTokenAuthentication`` and the ``HasScopes`` permissions.

>>> REST_FRAMEWORK = {                                            # in settings.py
...     "DEFAULT_AUTHENTICATION_CLASSES": ["p1guard_django.drf.PingOneTokenAuthentication"],
...     "DEFAULT_PERMISSION_CLASSES": ["p1guard_django.drf.HasScopes"],
...     "EXCEPTION_HANDLER": "p1guard_django.drf.exception_handler",   # optional: no-store
... }
>>> class ItemsView(APIView):                                    # doctest: +SKIP
...     required_scopes = {"GET": ["read"], "POST": ["write"]}
...     def get(self, request):
...         return Response({"sub": request.auth.subject})       # request.auth: AccessToken
>>> class TransferView(APIView):                                 # doctest: +SKIP
...     permission_classes = [HasScopes, TokenRules(acr_values=["Multi_Factor"], max_age=300)]
...     required_scopes = ["payments"]

Errors are DRF exceptions whose ``detail`` is p1guard's ``{"error", "error_description"}``
body, so DRF's own exception handler renders them: 401 with the ``WWW-Authenticate`` challenge
(DRF asks :meth:`PingOneTokenAuthentication.authenticate_header`, so list this class *first*
in the authentication classes, otherwise DRF turns 401 into 403), 403 ``insufficient_scope``
with its challenge (:class:`ScopeDenied` carries ``auth_header``, which DRF's handler copies),
401 ``insufficient_user_authentication`` with the step-up challenge (:class:`StepUpRequired`
carries ``auth_header``, so DRF never swaps it for a plain one), 403 ``access_denied`` for a
failed claim rule, 503 with ``Retry-After`` (:class:`ServiceUnavailable` sets DRF's ``wait``).
The optional
:func:`exception_handler` adds ``Cache-Control: no-store`` as well.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ImproperlyConfigured
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission

from p1guard import (
    AccessToken,
    AuthError,
    ClaimRule,
    InsufficientUserAuthentication,
    MissingToken,
    ProviderUnavailable,
    Requirements,
)
from p1guard_django.auth import (
    METHOD_NOT_ALLOWED,
    Match,
    Outcome,
    RequiredScopes,
    allowed_methods,
    authenticate,
    bearer_rules,
    outcome_of,
    refusal,
    scopes_for,
)

if TYPE_CHECKING:  # rest_framework.views imports the authentication classes: no cycle
    from rest_framework.request import Request
    from rest_framework.response import Response
    from rest_framework.views import APIView

__all__ = [
    "HasAnyScope",
    "HasScopes",
    "MethodRefused",
    "P1GuardAPIException",
    "PingOneTokenAuthentication",
    "ScopeDenied",
    "ServiceUnavailable",
    "StepUpRequired",
    "TokenInvalid",
    "TokenRequired",
    "TokenRules",
    "api_exception",
    "exception_handler",
    "method_not_allowed",
]


class P1GuardAPIException(exceptions.APIException):
    """A DRF exception rendering a p1guard :class:`~p1guard.AuthError` (kept as ``p1guard_error``).

    ``detail`` is the error's ``{"error", "error_description"}`` body; ``status_code`` its own.

    >>> P1GuardAPIException(InvalidToken()).status_code          # doctest: +SKIP
    401
    """

    def __init__(self, err: AuthError) -> None:
        super().__init__(dict(err.body), err.error or "not_authenticated")
        self.status_code = err.status_code
        self.p1guard_error = err


class TokenRequired(P1GuardAPIException, exceptions.NotAuthenticated):
    """401: no bearer token (DRF adds the challenge from ``authenticate_header``)."""


class TokenInvalid(P1GuardAPIException, exceptions.AuthenticationFailed):
    """401 ``invalid_token`` or 400 ``invalid_request`` (challenge from ``authenticate_header``)."""


class ScopeDenied(P1GuardAPIException, exceptions.PermissionDenied):
    """403 ``insufficient_scope``, with its ``WWW-Authenticate`` challenge in ``auth_header``."""

    def __init__(self, err: AuthError) -> None:
        super().__init__(err)
        self.auth_header = err.www_authenticate


class StepUpRequired(P1GuardAPIException):
    """401 ``insufficient_user_authentication`` (RFC 9470) with its challenge (``acr_values``,
    ``max_age``) in ``auth_header``. Not a DRF ``NotAuthenticated``: DRF would replace that
    challenge with the authentication class's plain one."""

    def __init__(self, err: AuthError) -> None:
        super().__init__(err)
        self.auth_header = err.www_authenticate


class ServiceUnavailable(P1GuardAPIException):
    """503: PingOne cannot be reached; ``wait`` becomes DRF's ``Retry-After`` header."""

    def __init__(self, err: AuthError) -> None:
        super().__init__(err)
        self.wait = int(err.headers.get("Retry-After", "1"))


def api_exception(err: AuthError) -> P1GuardAPIException:
    """The DRF exception that renders ``err``.

    >>> api_exception(MissingToken()).status_code
    401
    """
    if isinstance(err, ProviderUnavailable):
        return ServiceUnavailable(err)
    if isinstance(err, InsufficientUserAuthentication):
        return StepUpRequired(err)
    if err.status_code == 403:
        return ScopeDenied(err)
    if isinstance(err, MissingToken):
        return TokenRequired(err)
    return TokenInvalid(err)


class PingOneTokenAuthentication(BaseAuthentication):
    """Authenticate ``Authorization: Bearer`` PingOne access tokens.

    Returns ``(user, token)``: ``request.auth`` is the :class:`~p1guard.AccessToken`,
    ``request.user`` a :class:`~p1guard_django.users.TokenUser` or the mapped Django user
    (``P1GUARD["USER_MAPPING"]``). No bearer credentials → ``None`` (other authentication
    classes may try); a bad token → 401/400; PingOne unreachable → 503. Reuses the
    middleware's result when :class:`~p1guard_django.middleware.BearerTokenMiddleware` ran.

    >>> class MeView(APIView):                                   # doctest: +SKIP
    ...     authentication_classes = [PingOneTokenAuthentication]
    ...     permission_classes = [HasScopes]
    ...     required_scopes = []                                 # any valid token
    """

    def authenticate(self, request: Request) -> tuple[Any, AccessToken] | None:
        """``(user, access_token)``, ``None`` without a bearer token, or raise."""
        outcome = authenticate(request._request)
        if outcome.token is not None:
            return outcome.user, outcome.token
        if outcome.error is None or isinstance(outcome.error, MissingToken):
            return None
        raise api_exception(outcome.error)

    def authenticate_header(self, request: Request) -> str:
        """The ``WWW-Authenticate`` challenge, so DRF answers 401 rather than 403."""
        outcome = outcome_of(request._request)
        error = outcome.error if outcome is not None else None
        if error is not None and error.status_code in (400, 401):
            return error.www_authenticate
        # dpop="required" (or a DPoP request refused later): the DPoP challenge, RFC 9449 §7.1
        scheme = outcome.scheme if outcome is not None else None
        return bearer_rules().challenge(MissingToken(), scheme).www_authenticate


class HasScopes(BasePermission):
    """The token (``request.auth``) must hold every scope in the view's ``required_scopes``.

    ``required_scopes`` is a list (``[]``: any valid token) or a dict per HTTP method
    (``{"GET": ["read"], "POST": ["write"]}``; ``HEAD`` falls back to ``GET``, ``"*"`` is the
    default entry; an unlisted method is refused with 405 and ``Allow``). A view without
    ``required_scopes`` is a configuration error (:class:`ImproperlyConfigured`).

    >>> class ItemsView(APIView):                                # doctest: +SKIP
    ...     permission_classes = [HasScopes]
    ...     required_scopes = {"GET": ["read"], "POST": ["write"]}
    """

    match: Match = "all"

    def has_permission(self, request: Request, view: APIView) -> bool:
        """Raise :class:`TokenRequired` (401), :class:`MethodRefused` (405) or
        :class:`ScopeDenied` (403), else ``True``."""
        required = getattr(view, "required_scopes", None)
        if required is None:
            raise ImproperlyConfigured(
                f"{type(view).__name__} uses {type(self).__name__} but sets no required_scopes"
            )
        outcome = _seen(request)
        scopes = scopes_for(required, request.method) if outcome.token is not None else ()
        if scopes is None:
            raise method_not_allowed(request, view, required)
        return _enforce(outcome, Requirements(scopes, match=self.match))


class TokenRules(BasePermission):
    """A permission demanding step-up authentication and claim rules of ``request.auth``.

    ``acr_values``/``max_age`` (RFC 9470): a token whose ``acr`` is not listed or whose
    ``auth_time`` is older gets 401 ``insufficient_user_authentication`` with a challenge
    naming them (:class:`StepUpRequired`); ``claims`` are :mod:`p1guard._tokens.claims` rules (403
    ``access_denied`` naming the first that fails). Bad values raise
    :class:`~p1guard.ConfigError` when the view class is defined. List the instance itself in
    ``permission_classes`` (DRF calls it; it returns itself), after :class:`HasScopes` so a
    missing scope is reported first.

    >>> class TransferView(APIView):                             # doctest: +SKIP
    ...     permission_classes = [
    ...         HasScopes,
    ...         TokenRules(acr_values=["Multi_Factor"], max_age=300,
    ...                    claims=[Contains("p1.permissions", "payments:send")]),
    ...     ]
    ...     required_scopes = ["payments"]
    """

    def __init__(
        self,
        *,
        acr_values: str | Iterable[str] | None = None,
        max_age: int | None = None,
        claims: Iterable[ClaimRule] | None = None,
    ) -> None:
        #: What this permission demands (validated now: a bad value fails at import).
        self.requirements = Requirements(acr_values=acr_values, max_age=max_age, claims=claims)

    def __call__(self) -> TokenRules:
        """DRF instantiates each entry of ``permission_classes``: this one is ready already."""
        return self

    def has_permission(self, request: Request, view: APIView) -> bool:
        """Raise :class:`TokenRequired` (401), :class:`StepUpRequired` (401) or
        :class:`ScopeDenied` (403, a failed claim rule), else ``True``."""
        return _enforce(_seen(request), self.requirements)

    def __repr__(self) -> str:
        return (
            f"TokenRules(acr_values={self.requirements.acr_values!r}, "
            f"max_age={self.requirements.max_age!r}, claims={list(self.requirements.claims)!r})"
        )


def _seen(request: Request) -> Outcome:
    """DRF's view of the request: its token (``request.auth``) and the scheme it came with."""
    token, seen = request.auth, outcome_of(request._request)
    scheme = seen.scheme if seen is not None else None
    return Outcome(token if isinstance(token, AccessToken) else None, scheme=scheme)


def _enforce(outcome: Outcome, requirements: Requirements) -> bool:
    """``True``, or raise the DRF exception for the first requirement the token fails."""
    denied = refusal(outcome, requirements)
    if denied is not None:
        raise api_exception(denied)
    return True


class MethodRefused(exceptions.MethodNotAllowed):
    """405 for a method that the view's per-method ``required_scopes`` does not list; ``detail``
    is ``{"error": "method_not_allowed", "error_description": …}``, ``allow`` the listed methods.

    >>> MethodRefused("DELETE", ["GET", "HEAD"]).status_code
    405
    """

    def __init__(self, method: str, allow: Sequence[str]) -> None:
        super().__init__(
            method, {"error": "method_not_allowed", "error_description": METHOD_NOT_ALLOWED}
        )
        self.allow = list(allow)


def method_not_allowed(request: Request, view: APIView, required: RequiredScopes) -> MethodRefused:
    """The 405 for ``request``'s unlisted method. DRF sets ``Allow`` from ``view.headers`` on
    every response, so that header is narrowed here to the methods a scope grants."""
    allow = allowed_methods(required, view.allowed_methods)
    headers = getattr(view, "headers", None)
    if isinstance(headers, dict):
        headers["Allow"] = ", ".join(allow)
        headers["Cache-Control"] = "no-store"
    return MethodRefused(request.method or "", allow)


class HasAnyScope(HasScopes):
    """Like :class:`HasScopes`, but one of the ``required_scopes`` is enough.

    >>> class ReportsView(APIView):                              # doctest: +SKIP
    ...     permission_classes = [HasAnyScope]
    ...     required_scopes = ["reports:read", "admin"]
    """

    match: Match = "any"


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus every header of the p1guard error (``Cache-Control: no-store``).

    Set ``REST_FRAMEWORK["EXCEPTION_HANDLER"] = "p1guard_django.drf.exception_handler"``.
    """
    from rest_framework.views import exception_handler as drf_exception_handler

    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, P1GuardAPIException):
        for name, value in exc.p1guard_error.headers.items():
            if not response.has_header(name):
                response[name] = value
    return response
