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
6. The browser-facing endpoints (``authorize``, ``userinfo``, ``signoff``) answer their own
   pages, redirects and Bearer challenges: see ``_login_app``; the redirectless ones
   (``flows`` at ``/<envID>/flows/<flowID>``, ``resume``) their JSON: see ``_piflow``.
"""

from __future__ import annotations

import contextlib
import hmac
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, cast

import jwt
from werkzeug.exceptions import HTTPException
from werkzeug.serving import WSGIRequestHandler
from werkzeug.wrappers import Request, Response

from p1guard.testing import _login_app, _piflow
from p1guard.testing._dpop import DPOP_ALGORITHMS, ProofError
from p1guard.testing._http import (
    NO_STORE,
    OAuthError,
    error_response,
    json_response,
    parse_basic,
    read_form,
    required,
)
from p1guard.testing._keys import ALGORITHMS, KeyRing
from p1guard.testing._login import OIDC_SCOPES

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from p1guard.testing._faults import Fault
    from p1guard.testing._mock import MockPingOne

__all__ = ["MockApp", "RequestHandler"]

_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_ASSERTION_MAX_LIFETIME = 3600
_LEEWAY = 5
_ROUTES: Mapping[str, tuple[str, tuple[str, ...]]] = {
    "/.well-known/openid-configuration": ("discovery", ("GET", "HEAD")),
    "/jwks": ("jwks", ("GET", "HEAD")),
    "/token": ("token", ("POST",)),
    "/introspect": ("introspect", ("POST",)),
    "/revoke": ("revoke", ("POST",)),
    "/authorize": ("authorize", ("GET", "POST")),
    "/par": ("par", ("POST",)),
    "/userinfo": ("userinfo", ("GET", "POST")),
    "/signoff": ("signoff", ("GET", "POST")),
    "/resume": ("resume", ("GET",)),
}
_CLAIMS = (
    "sub", "iss", "auth_time", "acr", "name", "given_name", "family_name", "middle_name",
    "preferred_username", "profile", "picture", "zoneinfo", "phone_number", "updated_at",
    "address", "email", "locale",
)  # fmt: skip
_GRANT_TYPES = ("client_credentials", "authorization_code", "refresh_token")
_BROWSER_ENDPOINTS: Mapping[str, Callable[[MockApp, Request], Response]] = {
    "authorize": _login_app.authorize,
    "userinfo": _login_app.userinfo,
    "signoff": _login_app.signoff,
    "flows": _piflow.flows,
    "resume": _piflow.resume,
}


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
        flows = f"/{self.mock.env_id}/flows/"
        if path.startswith(flows) and "/" not in path[len(flows) :]:  # the flows API, beside /as
            route = ("flows", ("GET", "POST"))
        if route is None:
            _drain(request)
            return error_response(404, "not_found", "no such endpoint")(environ, start_response)
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
            response = error_response(
                405, "invalid_request", "method not allowed", Allow=", ".join(methods)
            )
        else:
            response = self._dispatch(name, request, fault)
        if fault is not None and fault.mode == "truncated":
            body = response.get_data()
            response.set_data(body[: len(body) // 2])
        return response(environ, start_response)

    def _dispatch(self, name: str, request: Request, fault: Fault | None) -> Response:
        browser = _BROWSER_ENDPOINTS.get(name)
        if browser is not None:  # pages, redirects and bearer challenges of their own
            return browser(self, request)
        try:
            if name == "discovery":
                document = self.discovery()
                if fault is not None and fault.mode == "wrong_issuer":
                    document["issuer"] = f"https://evil.example.com/{self.mock.env_id}/as"
                return json_response(document)
            if name == "jwks":
                empty = fault is not None and fault.mode == "empty_keys"
                return json_response({"keys": []} if empty else self.keys.jwks())
            if name == "par":
                return _login_app.par(self, request)
            form = read_form(request)
            if name == "token":
                return self.token(request, form)
            if name == "introspect":
                # Any known client may introspect: the resource, the app, key-registered clients.
                self.authenticate(request, form, self.mock.introspection_endpoint)
                token = required(form, "token")
                return json_response(self.mock.introspect(token), headers=NO_STORE)
            return self.revoke(request, form)
        except OAuthError as exc:
            headers = {**NO_STORE, **exc.headers}
            if exc.basic:
                headers["WWW-Authenticate"] = 'Basic realm="PingOne"'
            return error_response(exc.status, exc.error, exc.description, **headers)

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
            "scopes_supported": [*OIDC_SCOPES, *self.mock.scopes],
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
            "dpop_signing_alg_values_supported": list(DPOP_ALGORITHMS),
        }

    def token(self, request: Request, form: Mapping[str, str]) -> Response:
        """``client_credentials``, ``authorization_code`` and ``refresh_token`` grants."""
        mock = self.mock
        client_id = self.authenticate(request, form, mock.token_endpoint, public=True)
        if client_id == mock.resource_id:
            raise OAuthError(400, "unauthorized_client", "a resource cannot request tokens")
        grant_type = required(form, "grant_type")
        if grant_type not in _GRANT_TYPES:
            raise OAuthError(400, "unsupported_grant_type", f"unsupported grant: {grant_type}")
        client = mock._clients.get(client_id)
        # Clients known only by a registered key may use client_credentials, as before.
        allowed = ("client_credentials",) if client is None else client.grant_types
        if grant_type not in allowed:
            raise OAuthError(400, "unauthorized_client", f"the client may not use {grant_type}")
        # Before the grant: a code or refresh token is never used up by a refused proof.
        jkt = self.dpop_proof(request, mock.token_endpoint)
        headers = {**NO_STORE, **mock._dpop.nonce_header()}
        if client is not None and grant_type == "authorization_code":
            return json_response(mock._login.redeem_code(client, form, jkt), headers=headers)
        if client is not None and grant_type == "refresh_token":
            return json_response(mock._login.refresh(client, form, jkt), headers=headers)
        requested = form.get("scope", "").split()
        unknown = sorted(set(requested) - set(mock.scopes))
        if unknown:
            raise OAuthError(400, "invalid_scope", f"unknown scope: {' '.join(unknown)}")
        scopes = requested or list(mock.scopes)
        lifetime = mock.token_lifetime
        token = mock.issue_token(
            scopes, sub=None, client_id=client_id, expires_in=lifetime, dpop_jkt=jkt
        )
        body = {
            "access_token": token,
            "token_type": "Bearer" if jkt is None else "DPoP",
            "expires_in": int(lifetime),
            "scope": " ".join(scopes),
        }
        return json_response(body, headers=headers)

    def dpop_proof(
        self, request: Request, url: str, *, access_token: str | None = None
    ) -> str | None:
        """The key thumbprint of the request's DPoP proof (``None`` without a ``DPoP`` header).

        A bad proof is a 400 ``invalid_dpop_proof``; a missing or stale nonce while nonces are
        required a 400 ``use_dpop_nonce``, both with the current ``DPoP-Nonce``.
        """
        proofs = request.headers.getlist("DPoP")
        if not proofs:
            return None
        state = self.mock._dpop
        try:
            return state.check(proofs, request.method, url, access_token=access_token)
        except ProofError as exc:
            nonce = state.nonce_header()
            raise OAuthError(400, exc.error, exc.description, headers=nonce) from None

    def revoke(self, request: Request, form: Mapping[str, str]) -> Response:
        """RFC 7009: always 200 for an authenticated app, known token or not.

        A refresh token revokes its whole grant, but only when the caller is its client.
        """
        client_id = self.authenticate(request, form, self.mock.revocation_endpoint, public=True)
        if client_id == self.mock.resource_id:
            raise OAuthError(400, "unauthorized_client", "a resource cannot revoke tokens")
        token = required(form, "token")
        if not self.mock._login.revoke_refresh(token, client_id):
            self.mock.revoke(token)
        return Response(b"", status=200, headers=NO_STORE)

    # -- client authentication -------------------------------------------------------------

    def authenticate(
        self, request: Request, form: Mapping[str, str], endpoint: str, *, public: bool = False
    ) -> str:
        """Check the client's credentials; return its id.

        Methods: ``client_secret_basic``, ``client_secret_post``, ``private_key_jwt`` and, where
        ``public`` allows it, ``none`` (a registered public client sending only ``client_id``).
        A registered client must use its own method (the default app may use any).
        """
        header = request.headers.get("Authorization")
        methods = [
            header is not None,
            "client_secret" in form,
            "client_assertion" in form or "client_assertion_type" in form,
        ]
        if sum(methods) > 1:
            raise OAuthError(400, "invalid_request", "more than one client authentication method")
        if header is not None:
            client_id, secret = parse_basic(header)
            if "client_id" in form and form["client_id"] != client_id:
                raise OAuthError(400, "invalid_request", "client_id does not match", basic=True)
            if not self._secret_ok(client_id, secret):
                raise OAuthError(401, "invalid_client", "client authentication failed", basic=True)
            used = "client_secret_basic"
        elif methods[1]:
            client_id = form.get("client_id", "")
            if not self._secret_ok(client_id, form["client_secret"]):
                raise OAuthError(401, "invalid_client", "client authentication failed")
            used = "client_secret_post"
        elif methods[2]:
            client_id, used = self._check_assertion(form, endpoint), "private_key_jwt"
        else:
            client_id, used = form.get("client_id", ""), "none"
        client = self.mock._clients.get(client_id)
        if used == "none" and (client is None or not client.public or not public):
            raise OAuthError(401, "invalid_client", "client authentication required")
        if client is not None and client.auth_method != used and not client.lenient:
            raise OAuthError(
                401,
                "invalid_client",
                f"the client must authenticate with {client.auth_method}",
                basic=used == "client_secret_basic",
            )
        return client_id

    def _secret_ok(self, client_id: str, secret: str) -> bool:
        if client_id == self.mock.resource_id:
            expected: str | None = self.mock.resource_secret
        else:
            expected = self.mock._clients.secret(client_id)
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
        return error_response(500, "server_error", "mock PingOne fault: internal error")
    if fault.mode == "ratelimit":
        return error_response(
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
