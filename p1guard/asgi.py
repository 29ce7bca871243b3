"""Pure-ASGI bearer-token middleware, with Starlette's ``request.user`` / ``@requires`` support.

Works with any ASGI app (Starlette, FastAPI, Quart, Litestar…); Starlette is optional and only
used, when installed, to fill ``scope["auth"]`` and ``scope["user"]``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import TYPE_CHECKING, Any, Literal

from .bearer import BearerRules, ErrorResponse, error_response, log_rejection
from .errors import AuthError
from .tokens import AccessToken

if TYPE_CHECKING:
    from .claims import ClaimRule
    from .guard import Guard
    from .resource_metadata import ResourceMetadata

__all__ = ["BearerTokenMiddleware", "TokenUser"]

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


class BearerTokenMiddleware:
    """Require a valid PingOne access token on every ``http`` and ``websocket`` request.

    * Public paths (see :class:`~p1guard.bearer.PathMatcher`) are not checked at all and get
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
      ``claims`` are :mod:`p1guard.claims` rules (403 naming the first that fails). Bad values
      raise :class:`~p1guard.ConfigError` when the middleware is built.
    * ``lifespan`` and other scope types pass through untouched.
    * CORS preflights (``OPTIONS``) carry no token: add CORS middleware *outside* this one.
    * ``resource_metadata`` (a :class:`~p1guard.resource_metadata.ResourceMetadata`): its
      RFC 9728 document is answered at its ``well_known_path`` (``GET``, no token needed) and
      401 challenges carry ``resource_metadata="<its URL>"``.

    >>> app = BearerTokenMiddleware(app, guard=guard, public_paths=["/health", "/docs/*"])
    ... # doctest: +SKIP
    >>> admin = BearerTokenMiddleware(admin_app, guard=guard, acr_values=["Multi_Factor"],
    ...     max_age=900, claims=[Contains("groups", "admins")])  # doctest: +SKIP
    """

    def __init__(
        self,
        app: ASGIApp,
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
        try:
            token = await rules.aauthenticate(_authorization(scope), _query(scope))
        except AuthError as err:
            if not rules.tolerates(err):
                log_rejection(logger, err, scope.get("method", "WEBSOCKET"), scope.get("path", ""))
                await _reject(rules.challenge(err), kind, receive, send)
                return
            token = None
        _attach(scope, token, overwrite=True)
        await self.app(scope, receive, send)


def _authorization(scope: Scope) -> list[str]:
    return [
        value.decode("latin-1")
        for name, value in scope["headers"]
        if len(name) == 13 and name.lower() == b"authorization"
    ]


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
