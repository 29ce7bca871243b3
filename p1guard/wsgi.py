"""WSGI bearer-token middleware: the synchronous twin of :mod:`p1guard.asgi`.

Plain WSGI (PEP 3333), usable around any WSGI app — Werkzeug, Flask, Django, Pyramid, Bottle.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal

from .bearer import BearerRules, error_response, log_rejection
from .errors import AuthError
from .tokens import AccessToken

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

    from .claims import ClaimRule
    from .guard import Guard
    from .resource_metadata import ResourceMetadata

__all__ = ["ENVIRON_KEY", "BearerTokenMiddleware"]

#: Where the verified :class:`~p1guard.AccessToken` (or ``None``) is stored in the environ.
ENVIRON_KEY = "p1guard.access_token"

logger = logging.getLogger("p1guard.wsgi")


class BearerTokenMiddleware:
    """Require a valid PingOne access token on every request to a WSGI app.

    The verified token goes to ``environ["p1guard.access_token"]``. Behaviour matches
    :class:`p1guard.asgi.BearerTokenMiddleware`:

    * Public paths (matched against ``PATH_INFO``; see :class:`~p1guard.bearer.PathMatcher`)
      are not checked and get ``None``, even when a token is sent.
    * Failures get the error's JSON response (400/401/403/503 with ``WWW-Authenticate`` and
      ``Cache-Control: no-store``) and the app is not called.
    * ``required=False`` only lets requests *without bearer credentials* through (with
      ``None``); a token that is sent must be valid and carry ``scopes``, or the request is
      rejected (fail closed).
    * WSGI servers merge repeated headers into one comma-joined ``HTTP_AUTHORIZATION``; two
      bearer credentials in it are rejected as duplicate headers (400).
    * ``acr_values``/``max_age`` (step-up, RFC 9470: 401 ``insufficient_user_authentication``
      naming them) and ``claims`` (:mod:`p1guard.claims` rules, 403) apply to every checked
      request; bad values raise :class:`~p1guard.ConfigError` when the middleware is built.
    * CORS preflights (``OPTIONS``) carry no token: add CORS middleware *outside* this one.
    * ``resource_metadata``: its RFC 9728 document is answered at its ``well_known_path``
      (``GET``, no token needed) and 401 challenges carry ``resource_metadata="<its URL>"``.

    >>> app = BearerTokenMiddleware(app, guard=guard, public_paths=["/health"])  # doctest: +SKIP
    >>> def view(environ, start_response):  # doctest: +SKIP
    ...     token = environ["p1guard.access_token"]
    """

    def __init__(
        self,
        app: WSGIApplication,
        *,
        guard: Guard,
        public_paths: Iterable[str] = (),
        required: bool = True,
        scopes: Iterable[str] | None = None,
        match: Literal["all", "any"] = "all",
        check_revocation: bool | None = None,
        allow_query_token: bool = False,
        resource_metadata: ResourceMetadata | None = None,
        acr_values: str | Iterable[str] | None = None,
        max_age: int | None = None,
        claims: Iterable[ClaimRule] | None = None,
    ) -> None:
        self.app = app
        self.rules = BearerRules(
            guard,
            public_paths=public_paths,
            required=required,
            scopes=scopes,
            match=match,
            check_revocation=check_revocation,
            allow_query_token=allow_query_token,
            resource_metadata=resource_metadata,
            acr_values=acr_values,
            max_age=max_age,
            claims=claims,
        )

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        rules = self.rules
        path = environ.get("PATH_INFO") or "/"
        if rules.resource_metadata is not None:
            served = rules.metadata_response(path, environ.get("REQUEST_METHOD", "GET"))
            if served is not None:
                start_response(served.status_line, served.headers)
                return [served.body]
        if rules.is_public(path):
            environ[ENVIRON_KEY] = None
            return self.app(environ, start_response)
        header: Any = environ.get("HTTP_AUTHORIZATION")
        try:
            token: AccessToken | None = rules.authenticate(
                () if header is None else (header,), environ.get("QUERY_STRING", "")
            )
        except AuthError as err:
            if not rules.tolerates(err):
                return _reject(rules.challenge(err), environ, start_response)
            token = None
        environ[ENVIRON_KEY] = token
        return self.app(environ, start_response)


def _reject(
    err: AuthError, environ: WSGIEnvironment, start_response: StartResponse
) -> Iterable[bytes]:
    log_rejection(logger, err, environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", ""))
    response = error_response(err)
    start_response(response.status_line, response.headers)
    return [response.body]
