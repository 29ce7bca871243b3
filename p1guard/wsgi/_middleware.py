"""WSGI bearer-token middleware: the synchronous twin of :mod:`p1guard.asgi._middleware`.

Plain WSGI (PEP 3333), usable around any WSGI app — Werkzeug, Flask, Django, Pyramid, Bottle.

Sender-constrained tokens (DPoP, RFC 9449; mTLS, RFC 8705) are checked through the Guard: the
middleware hands it ``REQUEST_METHOD``, the request URL as the client addressed it (PEP 3333's
reconstruction, :func:`wsgiref.util.request_uri`: ``wsgi.url_scheme``, ``HTTP_HOST`` else
``SERVER_NAME``/``SERVER_PORT``, ``SCRIPT_NAME`` + ``PATH_INFO`` percent-encoded back from their
latin-1 text, no query), every ``DPoP`` proof (``HTTP_DPOP`` split at commas, since servers join
repeated headers) and, with ``client_certificates``, the client certificate.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from wsgiref.util import request_uri

from p1guard._tokens.tokens import AccessToken
from p1guard._web.bearer import BearerMiddleware, error_response, log_rejection
from p1guard._web.credentials import is_host
from p1guard.errors import AuthError

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment


__all__ = ["ENVIRON_KEY", "BearerTokenMiddleware"]

#: Where the verified :class:`~p1guard.AccessToken` (or ``None``) is stored in the environ.
ENVIRON_KEY = "p1guard.access_token"

logger = logging.getLogger("p1guard.wsgi")

#: A WSGI application (PEP 3333), as the middleware wraps and calls it.
WSGIApp = Callable[..., Iterable[bytes]]


class BearerTokenMiddleware(BearerMiddleware[WSGIApp]):
    """Require a valid PingOne access token on every request to a WSGI app.

    The verified token goes to ``environ["p1guard.access_token"]``. Behaviour matches
    :class:`p1guard.asgi.BearerTokenMiddleware`:

    * Public paths (matched against ``PATH_INFO``; see :class:`~p1guard.web.PathMatcher`)
      are not checked and get ``None``, even when a token is sent.
    * Failures get the error's JSON response (400/401/403/503 with ``WWW-Authenticate`` and
      ``Cache-Control: no-store``) and the app is not called.
    * ``required=False`` only lets requests *without bearer credentials* through (with
      ``None``); a token that is sent must be valid and carry ``scopes``, or the request is
      rejected (fail closed).
    * WSGI servers merge repeated headers into one comma-joined ``HTTP_AUTHORIZATION``; two
      bearer credentials in it are rejected as duplicate headers (400).
    * ``acr_values``/``max_age`` (step-up, RFC 9470: 401 ``insufficient_user_authentication``
      naming them) and ``claims`` (:mod:`p1guard._tokens.claims` rules, 403) apply to every checked
      request; bad values raise :class:`~p1guard.ConfigError` when the middleware is built.
    * CORS preflights (``OPTIONS``) carry no token: add CORS middleware *outside* this one.
    * ``resource_metadata``: its RFC 9728 document is answered at its ``well_known_path``
      (``GET``, no token needed) and 401 challenges carry ``resource_metadata="<its URL>"``.
    * DPoP-bound tokens are checked against the request's method and URL. Behind a
      TLS-terminating proxy (or one that rewrites ``Host``) that URL differs from the one the
      client used and signed in the proof's ``htu``: set ``public_url`` to the API's external
      origin (``"https://api.example.com"``); it replaces the scheme and host. (Werkzeug's
      ``ProxyFix`` inside this middleware's caller also works, when you trust its headers.)
    * ``client_certificates`` (a :class:`~p1guard.ClientCertificates`) says where
      the client certificate comes from (``SSL_CLIENT_CERT`` of the server, or a header set
      by trusted proxies); without it certificate-bound tokens (RFC 8705) are refused.
    * With a Guard that has ``dpop_nonces``, every checked response carries the current
      ``DPoP-Nonce`` header (RFC 9449 §8.2); 401 ``use_dpop_nonce`` answers carry it too.

    >>> app = BearerTokenMiddleware(app, guard=guard, public_paths=["/health"])  # doctest: +SKIP
    >>> def view(environ, start_response):  # doctest: +SKIP
    ...     token = environ["p1guard.access_token"]
    """

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
        dpop: Any = environ.get("HTTP_DPOP")
        certificates = rules.client_certificates
        try:
            token: AccessToken | None = rules.authenticate(
                () if header is None else (header,),
                environ.get("QUERY_STRING", ""),
                method=environ.get("REQUEST_METHOD") or "GET",
                url=lambda: _request_url(environ),
                dpop_proofs=() if dpop is None else [p.strip(" \t") for p in dpop.split(",")],
                client_cert=None if certificates is None else certificates.from_wsgi(environ),
            )
        except AuthError as err:  # already stamped with the challenge by BearerRules
            if not rules.tolerates(err):
                return _reject(err, environ, start_response)
            token = None
        environ[ENVIRON_KEY] = token
        if self._nonces:
            nonce = rules.guard.dpop_nonce()
            if nonce is not None:
                start_response = _with_nonce(start_response, nonce)
        return self.app(environ, start_response)


def _with_nonce(start_response: StartResponse, nonce: str) -> StartResponse:
    """``start_response`` that adds ``DPoP-Nonce`` (unless the app set one)."""

    def start_with_nonce(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
        if not any(name.lower() == "dpop-nonce" for name, _ in headers):
            headers = [*headers, ("DPoP-Nonce", nonce)]
        return start_response(status, headers, *args)

    return start_with_nonce


def _reject(
    err: AuthError, environ: WSGIEnvironment, start_response: StartResponse
) -> Iterable[bytes]:
    log_rejection(logger, err, environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", ""))
    response = error_response(err)
    start_response(response.status_line, response.headers)
    return [response.body]


def _request_url(environ: WSGIEnvironment) -> str:
    """The URL the client addressed (PEP 3333's reconstruction), or one without authority when
    ``Host`` is not a plain host: no DPoP proof then matches (fail closed)."""
    host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME") or ""
    if not is_host(host):
        return f"{environ.get('wsgi.url_scheme', 'http')}://"
    return request_uri(environ, include_query=False)
