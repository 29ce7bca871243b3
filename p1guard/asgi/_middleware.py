"""Pure-ASGI bearer-token middleware, with Starlette's ``request.user`` / ``@requires`` support.

Works with any ASGI app (Starlette, FastAPI, Quart, Litestar…); Starlette is optional and only
used, when installed, to fill ``scope["auth"]`` and ``scope["user"]``.

Sender-constrained tokens (DPoP, RFC 9449; mTLS, RFC 8705) are checked through the Guard: the
middleware hands it the request's method, its URL as the client addressed it (see
:func:`request_url`), every ``DPoP`` header value and, with ``client_certificates``, the
client certificate. The ``Authorization``, ``DPoP`` and ``Host`` headers are read in one scan.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import quote

from p1guard._tokens.tokens import AccessToken
from p1guard._web.bearer import BearerMiddleware, ErrorResponse, error_response, log_rejection
from p1guard._web.credentials import is_host
from p1guard.errors import AuthError

__all__ = ["BearerTokenMiddleware", "TokenUser", "request_url"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

logger = logging.getLogger("p1guard.asgi")

try:
    from starlette.authentication import AuthCredentials, BaseUser, UnauthenticatedUser

    _STARLETTE = True
except ImportError:  # pragma: no cover - Starlette is an optional extra
    _STARLETTE = False

    class BaseUser:  # type: ignore[no-redef]
        """Stand-in for ``starlette.authentication.BaseUser`` when Starlette is absent."""


class TokenUser(BaseUser):
    """``request.user`` for a request with a verified token (a Starlette ``BaseUser``).

    >>> user = TokenUser(AccessToken({"sub": "u1", "scope": "read"}, token_id="ab12cd34"))
    >>> user.is_authenticated, user.display_name, user.identity
    (True, 'u1', 'u1')
    """

    def __init__(self, token: AccessToken) -> None:
        self.token = token

    @property
    def is_authenticated(self) -> bool:
        """Always ``True``."""
        return True

    @property
    def display_name(self) -> str:
        """The subject, or the client id for client-credentials tokens."""
        return self.token.subject or self.token.client_id or ""

    @property
    def identity(self) -> str:
        """Same as :attr:`display_name`."""
        return self.display_name


def _route_path(scope: Scope) -> str:
    """The path the app's router sees: ``scope["path"]`` without ``root_path`` (as Starlette)."""
    path: str = scope["path"]
    root = scope.get("root_path", "")
    if root and path.startswith(root) and path[len(root) : len(root) + 1] in ("/", ""):
        return path[len(root) :] or "/"
    return path


class BearerTokenMiddleware(BearerMiddleware[ASGIApp]):
    """Require a valid PingOne access token on every ``http`` and ``websocket`` request.

    * Public paths (see :class:`~p1guard.web.PathMatcher`) are not checked at all and get
      ``access_token = None``, even when a token is sent.
    * A verified token goes to ``scope["state"]["access_token"]`` (``request.state.access_token``)
      and, with Starlette installed, ``scope["user"]`` (a :class:`TokenUser`) and
      ``scope["auth"]`` (``AuthCredentials`` of its scopes), so ``@requires("read")`` works.
    * Failures get the error's JSON response (400/401/403/503, ``WWW-Authenticate``,
      ``Cache-Control: no-store``); a WebSocket handshake is closed with code 1008 instead.
      The app is never called.
    * ``required=False`` only changes the case of *no bearer credentials at all* (no header,
      or another scheme such as ``Basic``): the request goes on with ``access_token = None``
      and an unauthenticated user. A token that *is* sent must still be valid and carry
      ``scopes``; otherwise the request is rejected as above (fail closed: a bad token is never
      attached, nor silently downgraded to anonymous).
    * ``acr_values``/``max_age`` demand step-up authentication (RFC 9470) on every checked
      request: a token whose ``acr`` is not listed or whose ``auth_time`` is older gets a 401
      ``WWW-Authenticate: Bearer error="insufficient_user_authentication", …, acr_values="…"``.
      ``claims`` are claim rules (:class:`~p1guard.Equals`, …; 403 naming the first that
      fails). ``requirements`` (one :class:`~p1guard.Requirements`) may stand for ``scopes``,
      ``match``, ``check_revocation``, ``acr_values``, ``max_age`` and ``claims``. Bad values
      raise :class:`~p1guard.ConfigError` when the middleware is built.
    * ``lifespan`` and other scope types pass through untouched.
    * CORS preflights (``OPTIONS``) carry no token: add CORS middleware *outside* this one.
    * ``resource_metadata`` (a :class:`~p1guard.ResourceMetadata`): its
      RFC 9728 document is answered at its ``well_known_path`` (``GET``, no token needed) and
      401 challenges carry ``resource_metadata="<its URL>"``.
    * DPoP-bound tokens (``Authorization: DPoP …`` plus a ``DPoP`` proof header) are checked
      against the request's method and URL (see :func:`request_url`). Behind a
      TLS-terminating proxy or one that rewrites the host, the URL the app sees differs from
      the one the client used and signed in ``htu``: set ``public_url`` to the API's external
      origin (``"https://api.example.com"``), which then replaces the request's scheme and
      host (the path stays the request's). Also set it when ``Host`` is not trustworthy.
    * ``client_certificates`` (a :class:`~p1guard.ClientCertificates`) says where
      the client certificate comes from (the server's TLS layer, or a header set by trusted
      proxies); without it certificate-bound tokens (RFC 8705) are refused.
    * With a Guard that has ``dpop_nonces``, every checked ``http`` response carries the
      current ``DPoP-Nonce`` header (RFC 9449 §8.2), so clients learn fresh nonces; 401
      ``use_dpop_nonce`` answers carry it too.

    >>> app = BearerTokenMiddleware(app, guard=guard, public_paths=["/health", "/docs/*"])
    ... # doctest: +SKIP
    >>> admin = BearerTokenMiddleware(admin_app, guard=guard, acr_values=["Multi_Factor"],
    ...     max_age=900, claims=[Contains("groups", "admins")])  # doctest: +SKIP
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)
            return
        rules = self.rules
        path = _route_path(scope)
        if rules.resource_metadata is not None and kind == "http":
            served = rules.metadata_response(path, scope.get("method", "GET"))
            if served is not None:
                await _respond(served, send)
                return
        if rules.is_public(path):
            _attach(scope, None, overwrite=False)
            await self.app(scope, receive, send)
            return
        authorization, proofs, host = _read_headers(scope)
        certificates = rules.client_certificates
        try:
            token = await rules.aauthenticate(
                authorization,
                _query(scope),
                method=scope.get("method", "GET") if kind == "http" else "GET",
                url=lambda: request_url(scope, None if host is None else host.decode("latin-1")),
                dpop_proofs=proofs,
                client_cert=None if certificates is None else certificates.from_asgi(scope),
            )
        except AuthError as err:  # already stamped with the challenge by BearerRules
            if not rules.tolerates(err):
                log_rejection(logger, err, scope.get("method", "WEBSOCKET"), scope.get("path", ""))
                await _reject(err, kind, receive, send)
                return
            token = None
        _attach(scope, token, overwrite=True)
        if self._nonces and kind == "http":
            nonce = rules.guard.dpop_nonce()
            if nonce is not None:
                send = _with_nonce(send, nonce)
        await self.app(scope, receive, send)


def _read_headers(scope: Scope) -> tuple[list[str], list[str], bytes | None]:
    """One scan of the headers: every ``Authorization`` value, every ``DPoP`` proof (values
    split at commas), and the first ``Host`` (raw: decoded only if a URL is needed)."""
    authorization: list[str] = []
    proofs: list[str] = []
    host: bytes | None = None
    # ASGI servers send lower-cased names; .lower() only for one that did not.
    for name, value in scope["headers"]:
        size = len(name)
        if size == 13:
            if name == b"authorization" or name.lower() == b"authorization":
                authorization.append(value.decode("latin-1"))
        elif size == 4:
            if name != b"host" and name != b"dpop":
                name = name.lower()
            if name == b"host":
                if host is None:
                    host = value
            elif name == b"dpop":
                proofs.extend(part.strip(" \t") for part in value.decode("latin-1").split(","))
    return authorization, proofs, host


_SCHEMES = {"ws": "http", "wss": "https"}
_DEFAULT_PORTS = {"http": 80, "https": 443}
# RFC 3986 pchar minus unreserved (always kept by quote) and "%" (re-encoded).
_PATH_SAFE = "/!$&'()*+,;=:@"


def request_url(scope: Scope, host: str | None = None) -> str:
    """The URL (no query) of an ASGI ``http``/``websocket`` request as the client addressed
    it, what a DPoP proof's ``htu`` must match.

    * Scheme: ``scope["scheme"]``, with ``ws``/``wss`` as ``http``/``https`` (RFC 9449 §4.2).
    * Host: ``host`` (the ``Host`` header), else ``scope["server"]`` (port omitted when it is
      the scheme's default). A ``Host`` that is not a plain host (:func:`~p1guard.web.is_host`)
      gives a URL without authority, which no proof matches.
    * Path: ``raw_path`` (the bytes the client sent, still percent-encoded) when the server
      provides it, else ``path`` percent-encoded again. A ``root_path`` (mount prefix a
      proxy stripped) is put in front unless the path already starts with it.

    >>> request_url({"type": "http", "scheme": "http", "server": ("127.0.0.1", 8000),
    ...              "root_path": "/api", "path": "/a b", "headers": []})
    'http://127.0.0.1:8000/api/a%20b'
    >>> request_url({"type": "websocket", "scheme": "wss", "path": "/ws",
    ...              "raw_path": b"/ws"}, "api.example.com")
    'https://api.example.com/ws'
    """
    scheme = str(scope.get("scheme") or "http")
    scheme = _SCHEMES.get(scheme, scheme)
    if host is not None and not is_host(host):
        return f"{scheme}://"  # not an authority: no absolute URL, DPoP proofs fail (closed)
    if host is None:
        server = scope.get("server")
        if server and server[0]:
            name = str(server[0])
            if ":" in name:
                name = f"[{name}]"  # IPv6
            port = server[1] if len(server) > 1 else None
            host = name if port in (None, _DEFAULT_PORTS.get(scheme)) else f"{name}:{port}"
        else:
            host = ""  # unknown: the URL is not absolute and DPoP proofs fail (closed)
    raw = scope.get("raw_path")
    if isinstance(raw, bytes) and raw:
        path = raw.decode("latin-1").partition("?")[0]
    else:
        path = quote(str(scope.get("path", "")), safe=_PATH_SAFE)
    root = scope.get("root_path") or ""
    if root:
        root = quote(str(root), safe=_PATH_SAFE)
        if not (path == root or path.startswith(root + "/")):
            path = root + path
    return f"{scheme}://{host}{path}"


def _with_nonce(send: Send, nonce: str) -> Send:
    """``send`` that adds ``DPoP-Nonce`` to the response head (unless the app set one)."""
    header = (b"dpop-nonce", nonce.encode("latin-1"))

    async def send_with_nonce(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers") or ())
            if not any(name.lower() == b"dpop-nonce" for name, _ in headers):
                message = {**message, "headers": [*headers, header]}
        await send(message)

    return send_with_nonce


def _query(scope: Scope) -> bytes:
    query: bytes = scope.get("query_string", b"")
    return query


def _attach(scope: Scope, token: AccessToken | None, *, overwrite: bool) -> None:
    state = scope.setdefault("state", {})
    state["access_token"] = token
    if not _STARLETTE:
        return
    if token is not None:
        scope["auth"] = AuthCredentials(sorted(token.scopes))
        scope["user"] = TokenUser(token)
    elif overwrite:
        scope["auth"] = AuthCredentials()
        scope["user"] = UnauthenticatedUser()
    else:  # a public path: keep what an outer auth middleware may have set
        scope.setdefault("auth", AuthCredentials())
        scope.setdefault("user", UnauthenticatedUser())


async def _reject(err: AuthError, kind: str, receive: Receive, send: Send) -> None:
    if kind == "websocket":
        # ASGI: read websocket.connect first; closing before accept makes the server answer 403.
        message = await receive()
        if message["type"] == "websocket.connect":
            await send({"type": "websocket.close", "code": 1008, "reason": err.body["error"]})
        return
    await _respond(error_response(err), send)


async def _respond(response: ErrorResponse, send: Send) -> None:
    status, headers, body = response
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers],
        }
    )
    await send({"type": "http.response.body", "body": body})
