"""Authenticating one Django request: shared by the middleware, the decorator, the mixin and DRF.

The result of a check is an :class:`Outcome` kept on the request, so a token is verified once
per request however many layers ask. :func:`authenticate` / :func:`aauthenticate` reuse it or
verify now; neither raises for a bad token — the outcome carries the :class:`AuthError`.
Header parsing and error rendering come from the adapter kit, :mod:`p1guard.web`.

``Authorization: DPoP`` is accepted (unless the Guard has ``dpop="disabled"``). A request that
shows the ``DPoP`` scheme, a ``DPoP`` header or a client certificate (read by
``P1GUARD["CLIENT_CERTIFICATES"]`` from ``request.META``) is verified with a
:class:`~p1guard.Presentation` — method, ``request.build_absolute_uri()``, every
``DPoP`` value split at commas, the certificate — so DPoP-bound (RFC 9449) and
certificate-bound (RFC 8705) tokens are checked; its errors carry the ``DPoP`` challenge.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse

from p1guard import (
    AccessToken,
    AuthError,
    Guard,
    InsufficientScope,
    Presentation,
    ProviderUnavailable,
)
from p1guard.web import (
    Scheme,
    error_response,
    extract_credentials,
    presentation_for,
    query_tokens,
    require_scopes,
    split_proofs,
    stamp_challenge,
)
from p1guard_django.conf import Options, get_guard, get_options
from p1guard_django.users import TokenUser, user_for

__all__ = [
    "METHOD_NOT_ALLOWED",
    "Match",
    "Outcome",
    "RequiredScopes",
    "TokenRequest",
    "aauthenticate",
    "allowed_methods",
    "authenticate",
    "check_scopes",
    "error_response_for",
    "method_not_allowed",
    "outcome_of",
    "presentation",
    "scopes_for",
]

logger = logging.getLogger("p1guard.django")

Match = Literal["all", "any"]
#: Scopes a view requires: one list for every method, or a list per HTTP method.
RequiredScopes = str | Sequence[str] | Mapping[str, str | Sequence[str]]

_STATE = "_p1guard_outcome"


class TokenRequest(HttpRequest):
    """For annotations only: a request that went through p1guard.

    >>> def me(request: TokenRequest) -> JsonResponse:          # doctest: +SKIP
    ...     return JsonResponse({"sub": request.access_token.subject})
    """

    access_token: AccessToken | None


@dataclass(frozen=True)
class Outcome:
    """What checking a request's bearer token gave: a token and its user, or an error.

    >>> outcome = authenticate(request)                          # doctest: +SKIP
    >>> outcome.token.subject if outcome.token else outcome.error.status_code  # doctest: +SKIP
    """

    token: AccessToken | None
    user: Any = None
    error: AuthError | None = None
    #: The ``Authorization`` scheme the request used (``"Bearer"``, ``"DPoP"``), if it got
    #: that far: later refusals (scopes, step-up) answer with the same challenge scheme.
    scheme: Scheme | None = None


def _credentials(request: HttpRequest, options: Options, guard: Guard) -> tuple[Scheme, str]:
    header = request.META.get("HTTP_AUTHORIZATION")
    return extract_credentials(
        [] if header is None else [header],
        query_tokens=query_tokens(request.META.get("QUERY_STRING", "")),
        allow_query=options.allow_query_token,
        realm=guard.realm,
        dpop=guard.dpop != "disabled",
    )


def presentation(request: HttpRequest, scheme: Scheme, options: Options) -> Presentation | None:
    """What a sender-constrained token needs from ``request``: ``None`` for a plain bearer
    request (no ``DPoP`` scheme, ``DPoP`` header or client certificate).

    >>> presentation(request, "DPoP", get_options()).url        # doctest: +SKIP
    'https://api.example.com/orders'
    """
    source = options.client_certificates
    header = request.META.get("HTTP_DPOP")
    return presentation_for(
        scheme,
        method=request.method or "GET",
        url=request.build_absolute_uri,  # Host checked against ALLOWED_HOSTS by Django
        dpop_proofs=() if header is None else split_proofs([header]),
        client_cert=None if source is None else source.from_wsgi(request.META),
    )


def verify(request: HttpRequest) -> Outcome:
    """Check the request's access token now (sync); never raises :class:`AuthError`.

    >>> verify(request).error                                    # doctest: +SKIP
    MissingToken('An access token is required', reason='missing_token')
    """
    guard, options = get_guard(), get_options()
    scheme: Scheme | None = None
    try:
        scheme, raw = _credentials(request, options, guard)
        token = guard.verify(raw, presentation=presentation(request, scheme, options))
        return Outcome(token, user_for(token, options), scheme=scheme)
    except AuthError as err:
        return _refused(err, guard, scheme)


async def averify(request: HttpRequest) -> Outcome:
    """Async twin of :func:`verify`; a database user mapping runs in a worker thread.

    >>> outcome = await averify(request)                         # doctest: +SKIP
    """
    guard, options = get_guard(), get_options()
    scheme: Scheme | None = None
    try:
        scheme, raw = _credentials(request, options, guard)
        token = await guard.averify(raw, presentation=presentation(request, scheme, options))
        if options.user_mapping is None or options.user_mapping is TokenUser:
            return Outcome(token, user_for(token, options), scheme=scheme)
        return Outcome(token, await sync_to_async(user_for)(token, options), scheme=scheme)
    except AuthError as err:
        return _refused(err, guard, scheme)


def _refused(err: AuthError, guard: Guard, scheme: Scheme | None = None) -> Outcome:
    """The outcome of a refusal; errors raised outside the Guard (no token, the user
    mapping's ``InvalidToken``) get its ``realm``, ``resource_metadata_url`` and DPoP
    challenge too, so every challenge names them."""
    if err.realm is None:
        err.realm = guard.realm
    stamp_challenge(err, guard)
    return Outcome(None, error=guard.challenge(err, scheme), scheme=scheme)


def attach(request: HttpRequest, outcome: Outcome | None) -> None:
    """Set ``request.access_token``; remember the outcome.

    ``request.user`` (and ``request.auser``) become the token's user only when
    ``P1GUARD["USER_MAPPING"]`` is set: a token is not a Django login, so by default Django's
    ``login_required`` / ``permission_required`` keep seeing the session user.
    ``outcome=None`` (a public path) only sets ``access_token = None``.

    >>> attach(request, verify(request))                         # doctest: +SKIP
    """
    request.access_token = None if outcome is None else outcome.token  # type: ignore[attr-defined]
    if outcome is None:
        return
    setattr(request, _STATE, outcome)
    if outcome.token is not None and get_options().user_mapping is not None:
        user = outcome.user
        request.user = user

        async def auser() -> Any:
            return user

        request.auser = auser


def outcome_of(request: HttpRequest) -> Outcome | None:
    """The :class:`Outcome` already attached to ``request``, if any.

    >>> outcome_of(HttpRequest()) is None
    True
    """
    outcome = getattr(request, _STATE, None)
    return outcome if isinstance(outcome, Outcome) else None


def authenticate(request: HttpRequest) -> Outcome:
    """The request's :class:`Outcome`: the middleware's, or verified now and attached.

    >>> token = authenticate(request).token                      # doctest: +SKIP
    """
    outcome = outcome_of(request)
    if outcome is None:
        outcome = verify(request)
        attach(request, outcome)
    return outcome


async def aauthenticate(request: HttpRequest) -> Outcome:
    """Async twin of :func:`authenticate`.

    >>> token = (await aauthenticate(request)).token             # doctest: +SKIP
    """
    outcome = outcome_of(request)
    if outcome is None:
        outcome = await averify(request)
        attach(request, outcome)
    return outcome


def scopes_for(required: RequiredScopes, method: str | None) -> tuple[str, ...] | None:
    """The scopes ``method`` needs; ``None`` when a per-method mapping does not list it.

    ``HEAD`` falls back to ``GET``, then any method to the ``"*"`` entry.

    >>> scopes_for({"GET": ["read"], "POST": "write admin"}, "POST")
    ('write', 'admin')
    >>> scopes_for({"GET": ["read"]}, "HEAD"), scopes_for({"GET": ["read"]}, "DELETE")
    (('read',), None)
    """
    if isinstance(required, Mapping):
        method = (method or "GET").upper()
        for key in (method, "GET" if method == "HEAD" else None, "*"):
            if key is not None and key in required:
                return _as_tuple(required[key])
        return None
    return _as_tuple(required)


def _as_tuple(scopes: str | Iterable[str]) -> tuple[str, ...]:
    return tuple(scopes.split()) if isinstance(scopes, str) else tuple(scopes)


def check_scopes(
    token: AccessToken, scopes: Iterable[str], match: Match, realm: str | None
) -> InsufficientScope | None:
    """The 403 to send when ``token`` lacks ``scopes`` (all, or any one), else ``None``.

    >>> token = AccessToken({"scope": "read"}, token_id="ab12cd34")
    >>> check_scopes(token, ["read"], "all", None) is None
    True
    >>> check_scopes(token, ["write"], "all", None).description
    'The access token lacks the scope: write'
    """
    try:
        require_scopes(token, list(scopes), match)
    except InsufficientScope as err:
        err.realm = realm
        return err
    return None


#: ``error_description`` of the 405 for a method no scope grants.
METHOD_NOT_ALLOWED = "No scope grants this method on this resource"


def allowed_methods(required: RequiredScopes, implemented: Iterable[str]) -> list[str]:
    """The methods of ``implemented`` that ``required`` grants with some scope (for ``Allow``).

    >>> allowed_methods({"GET": ["read"], "POST": ["write"]}, ["GET", "POST", "DELETE", "HEAD"])
    ['GET', 'HEAD', 'POST']
    """
    return sorted(
        method
        for method in {m.upper() for m in implemented}
        if scopes_for(required, method) is not None
    )


def method_not_allowed(request: HttpRequest, allowed: Iterable[str]) -> HttpResponse:
    """405 for a method that a per-method scope mapping does not list (fail closed): JSON
    ``{"error": "method_not_allowed", …}`` with ``Allow`` naming the ``allowed`` methods.

    >>> method_not_allowed(request, ["GET", "HEAD"])["Allow"]    # doctest: +SKIP
    'GET, HEAD'
    """
    body = json.dumps(
        {"error": "method_not_allowed", "error_description": METHOD_NOT_ALLOWED}
    ).encode()
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug("rejected %s %s: method_not_allowed (405)", request.method, request.path)
    return HttpResponse(
        body,
        status=405,
        content_type="application/json",
        headers={"Allow": ", ".join(allowed), "Cache-Control": "no-store"},
    )


def error_response_for(err: AuthError, request: HttpRequest | None = None) -> HttpResponse:
    """``err`` as a Django response: JSON body, status, ``WWW-Authenticate``, no-store.

    >>> error_response_for(MissingToken()).status_code           # doctest: +SKIP
    401
    """
    log_refusal(err, request)
    status, headers, body = error_response(err)
    return HttpResponse(body, status=status, headers=dict(headers))


def log_refusal(err: AuthError, request: HttpRequest | None) -> None:
    """Log a refused request: reason code and path only, never the token.

    >>> log_refusal(InvalidToken(reason="expired"), request)     # doctest: +SKIP
    """
    level = logging.WARNING if isinstance(err, ProviderUnavailable) else logging.DEBUG
    if logger.isEnabledFor(level):
        where = (request.method, request.path) if request is not None else ("-", "-")
        logger.log(level, "rejected %s %s: %s (%d)", *where, err.reason, err.status_code)
