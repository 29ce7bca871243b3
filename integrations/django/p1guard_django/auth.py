"""Authenticating one Django request: shared by the middleware, the decorator, the mixin and DRF.

The result of a check is an :class:`Outcome` kept on the request, so a token is verified once
per request however many layers ask. :func:`authenticate` / :func:`aauthenticate` reuse it or
verify now; neither raises for a bad token — the outcome carries the :class:`AuthError`.
The rest is the adapter kit's pipeline, :class:`p1guard.web.BearerRules` (:func:`bearer_rules`):
reading, verifying, the challenge and, per view, :func:`refusal` (its :class:`Requirements`).

``Authorization: DPoP`` is accepted (unless the Guard has ``dpop="disabled"``). A request that
shows the ``DPoP`` scheme, a ``DPoP`` header or a client certificate (read by
``P1GUARD["CLIENT_CERTIFICATES"]`` from ``request.META``) is verified with a
:class:`~p1guard.Presentation` — method, ``request.build_absolute_uri()`` (its origin replaced
by ``PUBLIC_URL`` when set, behind a proxy), every ``DPoP`` value split at commas, the
certificate — so DPoP-bound (RFC 9449) and certificate-bound (RFC 8705) tokens are checked;
its errors carry the ``DPoP`` challenge.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse

from p1guard import AccessToken, AuthError, Guard, MissingToken, Presentation, Requirements
from p1guard.web import BearerRules, Match, Scheme, error_response, log_rejection, split_proofs
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
    "bearer_rules",
    "error_response_for",
    "method_not_allowed",
    "outcome_of",
    "refusal",
    "scopes_for",
]

logger = logging.getLogger("p1guard.django")

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


def bearer_rules() -> BearerRules:
    """The request pipeline for this process's Guard and ``settings.P1GUARD``: built on first
    use, again only when either changes.

    >>> bearer_rules().public_url                                # doctest: +SKIP
    'https://api.example.com'
    """
    guard, options = get_guard(), get_options()
    built = _RULES.get("current")
    if built is None or built[0] is not guard or built[1] is not options:
        rules = BearerRules(
            guard,
            allow_query_token=options.allow_query_token,
            client_certificates=options.client_certificates,
            public_url=options.values.get("PUBLIC_URL"),
        )
        built = _RULES["current"] = (guard, options, rules)
    return built[2]


_RULES: dict[str, tuple[Guard, Options, BearerRules]] = {}


def _read(rules: BearerRules, request: HttpRequest) -> tuple[Scheme, str, Presentation | None]:
    """What ``request`` shows (:meth:`BearerRules.read <p1guard.web.BearerRules.read>`)."""
    meta = request.META
    header, proofs = meta.get("HTTP_AUTHORIZATION"), meta.get("HTTP_DPOP")
    source = rules.client_certificates
    return rules.read(
        [] if header is None else [header],
        meta.get("QUERY_STRING", ""),
        method=request.method or "GET",
        url=request.build_absolute_uri,  # Host checked against ALLOWED_HOSTS by Django
        dpop_proofs=() if proofs is None else split_proofs([proofs]),
        client_cert=None if source is None else source.from_wsgi(meta),
    )


def verify(request: HttpRequest) -> Outcome:
    """Check the request's access token now (sync); never raises :class:`AuthError`.

    >>> verify(request).error                                    # doctest: +SKIP
    MissingToken('An access token is required', reason='missing_token')
    """
    rules, options = bearer_rules(), get_options()
    scheme: Scheme | None = None
    try:
        scheme, raw, shown = _read(rules, request)
        token = rules.check(raw, shown, scheme)
        return Outcome(token, user_for(token, options), scheme=scheme)
    except AuthError as err:  # the user mapping's InvalidToken gets the challenge too
        return Outcome(None, error=rules.challenge(err, scheme), scheme=scheme)


async def averify(request: HttpRequest) -> Outcome:
    """Async twin of :func:`verify`; a database user mapping runs in a worker thread.

    >>> outcome = await averify(request)                         # doctest: +SKIP
    """
    rules, options = bearer_rules(), get_options()
    scheme: Scheme | None = None
    try:
        scheme, raw, shown = _read(rules, request)
        token = await rules.acheck(raw, shown, scheme)
        if options.user_mapping is None or options.user_mapping is TokenUser:
            return Outcome(token, user_for(token, options), scheme=scheme)
        return Outcome(token, await sync_to_async(user_for)(token, options), scheme=scheme)
    except AuthError as err:
        return Outcome(None, error=rules.challenge(err, scheme), scheme=scheme)


def refusal(outcome: Outcome, requirements: Requirements) -> AuthError | None:
    """Why a request with ``outcome`` may not run a view with ``requirements`` (``None``: it
    may): its own error, no token, or the first requirement the token fails
    (:meth:`BearerRules.authorize <p1guard.web.BearerRules.authorize>`), challenge stamped.

    >>> refusal(authenticate(request), Requirements("read"))     # doctest: +SKIP
    """
    rules = bearer_rules()
    if outcome.token is None:
        return outcome.error or rules.challenge(MissingToken(), outcome.scheme)
    try:
        rules.authorize(outcome.token, requirements, outcome.scheme)
    except AuthError as err:
        return err
    return None


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
    where = ("-", "-") if request is None else (request.method or "-", request.path)
    log_rejection(logger, err, *where)
    status, headers, body = error_response(err)
    return HttpResponse(body, status=status, headers=dict(headers))
