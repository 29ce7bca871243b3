"""The WSGI application behind :class:`~p1guard.testing.MockPingOne`: PingOne's endpoints.

Rules:
1. Every request under the issuer is counted under its endpoint name before anything else,
   so faulted requests count too.
2. A fault replaces (``down``, ``error``, ``ratelimit``, ``garbage``), delays (``slow``) or
   mangles (``truncated``, ``wrong_issuer``, ``empty_keys``) the normal answer.
3. OAuth errors are RFC 6749 JSON; ``401 invalid_client`` carries ``WWW-Authenticate: Basic``
   when the client tried HTTP Basic.
4. The request body is always read before answering, so closing the connection never resets
   an unread request (which could destroy the response on the client side).
5. Nothing here logs: tokens, secrets and assertions travel in bodies and headers only.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import unquote_plus

import jwt
from werkzeug.exceptions import HTTPException
from werkzeug.serving import WSGIRequestHandler
from werkzeug.wrappers import Request, Response

from ._keys import ALGORITHMS, KeyRing

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from ._faults import Fault
    from .mock import MockPingOne

__all__ = ["MockApp", "RequestHandler"]

_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_ASSERTION_MAX_LIFETIME = 3600
_LEEWAY = 5
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_ROUTES: Mapping[str, tuple[str, tuple[str, ...]]] = {
    "/.well-known/openid-configuration": ("discovery", ("GET", "HEAD")),
    "/jwks": ("jwks", ("GET", "HEAD")),
    "/token": ("token", ("POST",)),
    "/introspect": ("introspect", ("POST",)),
    "/revoke": ("revoke", ("POST",)),
}
_OIDC_SCOPES = ("openid", "profile", "email", "address", "phone", "offline_access")
_CLAIMS = (
    "sub", "iss", "auth_time", "acr", "name", "given_name", "family_name", "middle_name",
    "preferred_username", "profile", "picture", "zoneinfo", "phone_number", "updated_at",
    "address", "email", "locale",
)  # fmt: skip


class OAuthError(Exception):
    """An RFC 6749 error answer."""

    def __init__(self, status: int, error: str, description: str, *, basic: bool = False) -> None:
        super().__init__(error)
        self.status, self.error, self.description, self.basic = status, error, description, basic


def _json(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body), status=status, headers=dict(headers or {}), mimetype="application/json"
    )


def _error(status: int, error: str, description: str, **headers: str) -> Response:
    return _json({"error": error, "error_description": description}, status, headers)


class RequestHandler(WSGIRequestHandler):
    """Werkzeug's handler, quiet and tracking its connection so ``stop()`` can cut it."""

    def setup(self) -> None:
        """Register the connection with the app."""
        super().setup()
        cast("MockApp", self.server.app).track(self.connection, add=True)

    def finish(self) -> None:
        """Forget the connection."""
        cast("MockApp", self.server.app).track(self.connection, add=False)
        super().finish()

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Do not log request lines."""


class MockApp:
    """The WSGI callable; holds the keys and the server-side connection bookkeeping."""

    def __init__(self, mock: MockPingOne) -> None:
        self.mock = mock
        self.keys = KeyRing()
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        self._stopping = threading.Event()

    # -- connections -----------------------------------------------------------------------

    def track(self, conn: socket.socket, *, add: bool) -> None:
        """Add or remove an open client connection."""
        with self._conn_lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def reopen(self) -> None:
        """Called on start: requests may sleep again."""
        self._stopping = threading.Event()

    def drop_connections(self) -> None:
        """Called on stop: wake sleeping handlers and cut every open connection."""
        self._stopping.set()
        with self._conn_lock:
            conns = list(self._connections)
        for conn in conns:
            _cut(conn)

    # -- WSGI ------------------------------------------------------------------------------

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Route, count, apply faults, answer."""
        request = Request(environ)
        request.max_content_length = 1024 * 1024
        prefix = f"/{self.mock.env_id}/as"
        path = request.path
        route = _ROUTES.get(path[len(prefix) :]) if path.startswith(prefix + "/") else None
        if route is None:
            _drain(request)
            return _error(404, "not_found", "no such endpoint")(environ, start_response)
        name, methods = route
        fault = self.mock._record_call(name)
        if fault is not None and fault.mode == "down":
            # Werkzeug's write to the cut socket fails as a dropped connection, silently.
            _cut(environ.get("werkzeug.socket"))
            start_response("500 Internal Server Error", [("Content-Length", "0")])
            return []
        _drain(request)
        if fault is not None and fault.mode == "slow":
            self._stopping.wait(fault.delay)
        if fault is not None and fault.mode in ("error", "ratelimit", "garbage"):
            response = _fault_response(fault)
        elif request.method not in methods:
            response = _error(
                405, "invalid_request", "method not allowed", Allow=", ".join(methods)
            )
        else:
            response = self._dispatch(name, request, fault)
        if fault is not None and fault.mode == "truncated":
            body = response.get_data()
            response.set_data(body[: len(body) // 2])
        return response(environ, start_response)

    def _dispatch(self, name: str, request: Request, fault: Fault | None) -> Response:
        try:
            if name == "discovery":
                document = self.discovery()
                if fault is not None and fault.mode == "wrong_issuer":
                    document["issuer"] = f"https://evil.example.com/{self.mock.env_id}/as"
                return _json(document)
            if name == "jwks":
                empty = fault is not None and fault.mode == "empty_keys"
                return _json({"keys": []} if empty else self.keys.jwks())
            form = _form(request)
            if name == "token":
                return self.token(request, form)
            if name == "introspect":
                # Any known client may introspect: the resource, the app, key-registered clients.
                self.authenticate(request, form, self.mock.introspection_endpoint)
                return _json(self.mock.introspect(_required(form, "token")), headers=_NO_STORE)
            return self.revoke(request, form)
        except OAuthError as exc:
            headers = dict(_NO_STORE)
            if exc.basic:
                headers["WWW-Authenticate"] = 'Basic realm="PingOne"'
            return _error(exc.status, exc.error, exc.description, **headers)

    # -- endpoints -------------------------------------------------------------------------

    def discovery(self) -> dict[str, Any]:
        """The OpenID Provider metadata, shaped like PingOne's."""
        issuer = self.mock.issuer
        return {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/authorize",
            "pushed_authorization_request_endpoint": f"{issuer}/par",
            "token_endpoint": f"{issuer}/token",
            "userinfo_endpoint": f"{issuer}/userinfo",
            "jwks_uri": f"{issuer}/jwks",
            "end_session_endpoint": f"{issuer}/signoff",
            "introspection_endpoint": f"{issuer}/introspect",
            "revocation_endpoint": f"{issuer}/revoke",
            "device_authorization_endpoint": f"{issuer}/device_authorization",
            "claims_parameter_supported": False,
            "scopes_supported": [*_OIDC_SCOPES, *self.mock.scopes],
            "response_types_supported": ["code"],
            "response_modes_supported": ["pi.flow", "query", "fragment", "form_post"],
            "grant_types_supported": [
                "authorization_code",
                "implicit",
                "client_credentials",
                "refresh_token",
                "urn:ietf:params:oauth:grant-type:device_code",
            ],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "userinfo_signing_alg_values_supported": ["none"],
            "request_object_signing_alg_values_supported": ["none", "HS256", "RS256"],
            "request_parameter_supported": True,
            "request_uri_parameter_supported": False,
            "require_pushed_authorization_requests": False,
            "authorization_response_iss_parameter_supported": True,
            "token_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
                "client_secret_jwt",
                "private_key_jwt",
                "none",
            ],
            "claim_types_supported": ["normal"],
            "claims_supported": list(_CLAIMS),
            "code_challenge_methods_supported": ["plain", "S256"],
        }

    def token(self, request: Request, form: Mapping[str, str]) -> Response:
        """``grant_type=client_credentials`` for the registered app (or key-registered clients)."""
        client_id = self.authenticate(request, form, self.mock.token_endpoint)
        if client_id == self.mock.resource_id:
            raise OAuthError(400, "unauthorized_client", "a resource cannot request tokens")
        grant_type = _required(form, "grant_type")
        if grant_type != "client_credentials":
            raise OAuthError(400, "unsupported_grant_type", "only client_credentials is supported")
        requested = form.get("scope", "").split()
        unknown = sorted(set(requested) - set(self.mock.scopes))
        if unknown:
            raise OAuthError(400, "invalid_scope", f"unknown scope: {' '.join(unknown)}")
        scopes = requested or list(self.mock.scopes)
        lifetime = self.mock.token_lifetime
        token = self.mock.issue_token(scopes, sub=None, client_id=client_id, expires_in=lifetime)
        body = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": int(lifetime),
            "scope": " ".join(scopes),
        }
        return _json(body, headers=_NO_STORE)

    def revoke(self, request: Request, form: Mapping[str, str]) -> Response:
        """RFC 7009: always 200 for an authenticated app, known token or not."""
        client_id = self.authenticate(request, form, self.mock.revocation_endpoint)
        if client_id == self.mock.resource_id:
            raise OAuthError(400, "unauthorized_client", "a resource cannot revoke tokens")
        self.mock.revoke(_required(form, "token"))
        return Response(b"", status=200, headers=_NO_STORE)

    # -- client authentication -------------------------------------------------------------

    def authenticate(self, request: Request, form: Mapping[str, str], endpoint: str) -> str:
        """Check client_secret_basic, client_secret_post or private_key_jwt; return the id."""
        header = request.headers.get("Authorization")
        methods = [
            header is not None,
            "client_secret" in form,
            "client_assertion" in form or "client_assertion_type" in form,
        ]
        if sum(methods) > 1:
            raise OAuthError(400, "invalid_request", "more than one client authentication method")
        if header is not None:
            client_id, secret = _parse_basic(header)
            if "client_id" in form and form["client_id"] != client_id:
                raise OAuthError(400, "invalid_request", "client_id does not match", basic=True)
            if not self._secret_ok(client_id, secret):
                raise OAuthError(401, "invalid_client", "client authentication failed", basic=True)
            return client_id
        if methods[1]:
            client_id = form.get("client_id", "")
            if not self._secret_ok(client_id, form["client_secret"]):
                raise OAuthError(401, "invalid_client", "client authentication failed")
            return client_id
        if methods[2]:
            return self._check_assertion(form, endpoint)
        raise OAuthError(401, "invalid_client", "client authentication required")

    def _secret_ok(self, client_id: str, secret: str) -> bool:
        known = {
            self.mock.client_id: self.mock.client_secret,
            self.mock.resource_id: self.mock.resource_secret,
        }
        expected = known.get(client_id)
        return expected is not None and hmac.compare_digest(expected.encode(), secret.encode())

    def _check_assertion(self, form: Mapping[str, str], endpoint: str) -> str:
        failed = OAuthError(401, "invalid_client", "client assertion rejected")
        if form.get("client_assertion_type") != _ASSERTION_TYPE or "client_assertion" not in form:
            raise failed
        assertion = form["client_assertion"]
        try:
            unverified = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise failed from None
        client_id = unverified.get("iss")
        if not isinstance(client_id, str) or form.get("client_id", client_id) != client_id:
            raise failed
        with self.mock._lock:
            keys = list(self.mock._client_keys.get(client_id, ()))
        issuer = self.mock.issuer
        audiences = [issuer, f"{issuer}/token", endpoint]
        for key in keys:
            try:
                claims = jwt.decode(
                    assertion,
                    key,
                    algorithms=list(ALGORITHMS),
                    audience=audiences,
                    issuer=client_id,
                    leeway=_LEEWAY,
                    options={"require": ["iss", "sub", "aud", "exp"]},
                )
            except jwt.PyJWTError:
                continue
            if claims.get("sub") != client_id:
                raise failed
            if claims["exp"] > time.time() + _ASSERTION_MAX_LIFETIME + _LEEWAY:
                raise failed
            jti = claims.get("jti")
            if isinstance(jti, str):
                with self.mock._lock:
                    if (client_id, jti) in self.mock._seen_assertions:
                        raise failed
                    self.mock._seen_assertions.add((client_id, jti))
            return client_id
        raise failed


def _fault_response(fault: Fault) -> Response:
    if fault.mode == "error":
        return _error(500, "server_error", "mock PingOne fault: internal error")
    if fault.mode == "ratelimit":
        return _error(
            429, "rate_limited", "too many requests", **{"Retry-After": str(fault.retry_after)}
        )
    return Response(b"<html>oops</html>", status=200, mimetype="text/html")


def _cut(conn: object) -> None:
    """Drop a connection without an HTTP answer (the client sees a transport error)."""
    if isinstance(conn, socket.socket):
        with contextlib.suppress(OSError):
            conn.shutdown(socket.SHUT_RDWR)


def _drain(request: Request) -> None:
    with contextlib.suppress(HTTPException):
        request.get_data()


def _form(request: Request) -> dict[str, str]:
    if request.mimetype != "application/x-www-form-urlencoded":
        raise OAuthError(
            400, "invalid_request", "expected an application/x-www-form-urlencoded body"
        )
    try:
        form = request.form
    except HTTPException:
        raise OAuthError(400, "invalid_request", "unreadable form body") from None
    for name in form:
        if len(form.getlist(name)) > 1:
            raise OAuthError(400, "invalid_request", f"repeated parameter: {name}")
    return dict(form.items())


def _required(form: Mapping[str, str], name: str) -> str:
    value = form.get(name)
    if not value:
        raise OAuthError(400, "invalid_request", f"missing parameter: {name}")
    return value


def _parse_basic(header: str) -> tuple[str, str]:
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic":
        raise OAuthError(401, "invalid_client", "unsupported authorization scheme", basic=True)
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise OAuthError(401, "invalid_client", "malformed basic credentials", basic=True) from None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise OAuthError(401, "invalid_client", "malformed basic credentials", basic=True)
    return unquote_plus(client_id), unquote_plus(secret)
