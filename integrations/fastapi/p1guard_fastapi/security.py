"""FastAPI security dependency for PingOne access tokens: :class:`PingOneBearer`.

Rules:

1. Scopes come from FastAPI's :class:`~fastapi.security.SecurityScopes`, i.e. from every
   ``Security(auth, scopes=[...])`` on the way from the route to this dependency, so a
   dependency needing ``read`` used by a route needing ``write`` demands both.
2. The request goes through :class:`p1guard.web.BearerRules`, the pipeline every adapter
   shares: one ``Authorization: Bearer`` or ``DPoP`` header (``?access_token=`` only with
   ``allow_query_token=True``), checked by :meth:`Guard.averify <p1guard.Guard.averify>`
   with the route's :class:`~p1guard.Requirements`. A request showing the ``DPoP``
   scheme, a ``DPoP`` header or a client certificate (from ``client_certificates``) also
   passes a :class:`~p1guard.Presentation`: method, the URL as the ASGI middleware
   rebuilds it (:func:`p1guard.asgi.request_url`) and every ``DPoP`` value split at commas,
   so DPoP- (RFC 9449) and certificate-bound (RFC 8705) tokens
   are checked; errors then carry the ``DPoP`` challenge and ``DPoP-Nonce``.
3. ``auto_error=False`` turns only "no bearer credentials at all" into ``None``. A token that
   *is* sent must be valid and carry the scopes; otherwise the request fails as usual.
4. Failures raise :class:`AuthHTTPException` (a FastAPI ``HTTPException``): FastAPI answers
   ``{"detail": {"error": …, "error_description": …}}`` with the error's status and headers
   (``WWW-Authenticate``, ``Cache-Control: no-store``, ``Retry-After`` on 503). Register
   :func:`auth_error_handler` for flat RFC 6750 bodies. On a WebSocket the handshake is closed
   with code 1008 instead.
5. Neither the token nor exception text reaches the client or the logs; each refusal is one
   :func:`p1guard.web.log_rejection` line on the ``p1guard.fastapi`` logger.

No ``from __future__ import annotations`` here: FastAPI reads ``__call__``'s annotations at
runtime and cannot resolve strings on a callable instance.
"""

import functools
import logging
import os
from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import FastAPI, HTTPException, WebSocketException, status
from fastapi.exception_handlers import http_exception_handler
from fastapi.openapi.models import OAuthFlowAuthorizationCode
from fastapi.openapi.models import OAuthFlows as OAuthFlowsModel
from fastapi.security import OAuth2, SecurityScopes
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response

from p1guard import (
    AccessToken,
    AuthError,
    ClaimRule,
    ClientCertificates,
    ConfigError,
    Guard,
)
from p1guard.asgi import request_url
from p1guard.web import BearerRules, Match, error_response, log_rejection, split_proofs
from p1guard_fastapi._env import env_flag, guard_from_env
from p1guard_fastapi.docs import add_operation_scopes, swagger_ui_init_oauth

__all__ = ["AuthHTTPException", "PingOneBearer", "auth_error_handler"]

logger = logging.getLogger("p1guard.fastapi")

_DESCRIPTION = "PingOne access token (OAuth 2.0 authorization code flow with PKCE)."


class AuthHTTPException(HTTPException):
    """The ``HTTPException`` :class:`PingOneBearer` raises; ``auth_error`` is the cause.

    ``detail`` is the error's JSON body and ``headers`` its challenge, so FastAPI's default
    handler (or yours) answers ``{"detail": {"error": …, "error_description": …}}``.

    >>> from p1guard import InvalidToken
    >>> exc = AuthHTTPException(InvalidToken("The access token expired"))
    >>> exc.status_code, exc.detail["error"]
    (401, 'invalid_token')
    """

    def __init__(self, auth_error: AuthError) -> None:
        super().__init__(auth_error.status_code, detail=auth_error.body, headers=auth_error.headers)
        self.auth_error = auth_error


async def auth_error_handler(request: Request, exc: Exception) -> Response:
    r"""Exception handler answering RFC 6750 JSON ``{"error", "error_description"}`` at top level.

    Other ``HTTPException``\ s (if it is registered for a broader class) get FastAPI's default
    ``{"detail": …}`` answer.

    >>> app = FastAPI(exception_handlers={AuthHTTPException: auth_error_handler})
    ... # doctest: +SKIP
    """
    if not isinstance(exc, AuthHTTPException):
        if isinstance(exc, StarletteHTTPException):
            return await http_exception_handler(request, exc)
        raise exc
    status_code, headers, body = error_response(exc.auth_error)
    return Response(body, status_code=status_code, headers=dict(headers))


def _scope_map(scopes: Mapping[str, str] | Iterable[str] | None) -> dict[str, str]:
    if scopes is None:
        return {}
    if isinstance(scopes, str):
        return {scope: scope for scope in scopes.split()}
    if isinstance(scopes, Mapping):
        return {str(name): str(text) for name, text in scopes.items()}
    return {scope: scope for scope in scopes}


class PingOneBearer(OAuth2):
    """A FastAPI security dependency that verifies PingOne access tokens.

    >>> auth = PingOneBearer(guard)                                      # doctest: +SKIP
    >>> @app.get("/items")                                               # doctest: +SKIP
    ... async def items(token: AccessToken = Security(auth, scopes=["read"])): ...

    It shows in the OpenAPI document as the OAuth 2.0 authorization-code scheme
    ``scheme_name`` with PingOne's ``{issuer}/authorize`` and ``{issuer}/token``; ``scopes``
    (names, or names to descriptions) fill Swagger UI's scope list, and :meth:`configure_docs`
    adds every scope the routes use. ``swagger_client_id`` is the PingOne application Swagger
    UI logs in with (see :meth:`swagger_ui_init_oauth`).

    ``auto_error=False`` yields ``None`` when no bearer token is sent (a bad one is still
    rejected). ``match="any"`` accepts any one of the combined scopes; ``check_revocation``
    overrides the Guard's setting; ``allow_query_token`` accepts ``?access_token=``.
    ``acr_values``/``max_age`` demand step-up authentication (RFC 9470): a weaker or older
    sign-in gets 401 ``insufficient_user_authentication`` with the values in the challenge.
    ``claims`` are :mod:`p1guard._tokens.claims` rules checked on every request (403
    ``access_denied``
    naming the first that fails); use one ``PingOneBearer`` per set of rules.
    ``client_certificates`` (:class:`~p1guard.ClientCertificates`) says where a
    request's client certificate comes from; without it certificate-bound tokens are refused.
    """

    def __init__(
        self,
        guard: Guard,
        *,
        auto_error: bool = True,
        scheme_name: str = "PingOne",
        description: str | None = None,
        swagger_client_id: str | None = None,
        scopes: Mapping[str, str] | Iterable[str] | None = None,
        match: Match = "all",
        check_revocation: bool | None = None,
        allow_query_token: bool = False,
        acr_values: Iterable[str] | None = None,
        max_age: int | None = None,
        claims: Iterable[ClaimRule] | None = None,
        client_certificates: ClientCertificates | None = None,
    ) -> None:
        if not isinstance(guard, Guard):
            raise ConfigError("guard", "pass a p1guard.Guard instance")
        if not isinstance(scheme_name, str) or not scheme_name:
            raise ConfigError("scheme_name", "must be a non-empty string")
        self.guard = guard
        self.swagger_client_id = swagger_client_id
        self.scopes = _scope_map(scopes)
        #: The pipeline (:class:`~p1guard.web.BearerRules`), given each route's scopes.
        self.rules = BearerRules(
            guard,
            required=auto_error,
            match=match,
            check_revocation=check_revocation,
            allow_query_token=allow_query_token,
            acr_values=acr_values,
            max_age=max_age,
            claims=claims,
            client_certificates=client_certificates,
        )
        # One Requirements per set of route scopes (rule 1), built on its first request.
        self._for_route = functools.lru_cache(maxsize=1024)(self.rules.requirements.with_scopes)
        issuer = guard.pingone.issuer
        flow = OAuthFlowAuthorizationCode(
            authorizationUrl=f"{issuer}/authorize",
            tokenUrl=f"{issuer}/token",
            scopes=dict(self.scopes),
        )
        super().__init__(
            flows=OAuthFlowsModel(authorizationCode=flow),
            scheme_name=scheme_name,
            description=_DESCRIPTION if description is None else description,
            auto_error=auto_error,
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **options: Any) -> "PingOneBearer":
        """Build the Guard from ``P1GUARD_*`` variables (see the README), then the dependency.

        ``options`` are :class:`PingOneBearer` keywords. ``P1GUARD_SWAGGER_CLIENT_ID`` and
        ``P1GUARD_ALLOW_QUERY_TOKEN`` fill ``swagger_client_id``/``allow_query_token`` unless
        given. Problems raise :class:`~p1guard.ConfigError` naming the variable.

        >>> auth = PingOneBearer.from_env()                              # doctest: +SKIP
        """
        env: Mapping[str, str] = os.environ if environ is None else environ
        if "swagger_client_id" not in options:
            options["swagger_client_id"] = env.get("P1GUARD_SWAGGER_CLIENT_ID", "").strip() or None
        if "allow_query_token" not in options:
            options["allow_query_token"] = env_flag(env, "P1GUARD_ALLOW_QUERY_TOKEN")
        return cls(guard_from_env(env), **options)

    @property
    def allow_query_token(self) -> bool:
        """Whether ``?access_token=`` is accepted."""
        return self.rules.allow_query_token

    # OAuth2.__call__ returns the raw token string; this one returns the verified token and
    # needs the scopes. Subclassing OAuth2 (not just SecurityBase) is what makes older FastAPI
    # releases (0.110 was tested) put the route scopes into the OpenAPI document.
    async def __call__(  # type: ignore[override]
        self, request: HTTPConnection, security_scopes: SecurityScopes
    ) -> AccessToken | None:
        """Verify the request's token for ``security_scopes``; see the module's rules."""
        rules = self.rules
        certificates = rules.client_certificates
        try:
            token = await rules.aauthenticate(
                request.headers.getlist("authorization"),
                request.scope.get("query_string", b""),
                method=request.scope.get("method", "GET"),
                # As the ASGI middleware: ws(s) as http(s), and a Host that is not one refused.
                url=lambda: request_url(request.scope, request.headers.get("host")),
                dpop_proofs=split_proofs(request.headers.getlist("dpop")),
                client_cert=None if certificates is None else certificates.from_asgi(request.scope),
                requirements=self._for_route(tuple(security_scopes.scopes)),
            )
        except AuthError as err:  # already stamped with the challenge by BearerRules
            if rules.tolerates(err):
                return None
            log_rejection(logger, err, request.scope.get("method", "WEBSOCKET"), request.url.path)
            if request.scope["type"] == "websocket":
                raise WebSocketException(
                    status.WS_1008_POLICY_VIOLATION, reason=err.body["error"]
                ) from None
            raise AuthHTTPException(err) from None
        request.state.access_token = token
        return token

    def swagger_ui_init_oauth(self, *, scopes: Iterable[str] = ()) -> dict[str, Any]:
        """FastAPI's ``swagger_ui_init_oauth`` for ``swagger_client_id`` (PKCE, no secret).

        >>> app = FastAPI(swagger_ui_init_oauth=auth.swagger_ui_init_oauth())  # doctest: +SKIP
        """
        if not self.swagger_client_id:
            raise ConfigError(
                "swagger_client_id",
                "set it to the PingOne application Swagger UI logs in with "
                "(or P1GUARD_SWAGGER_CLIENT_ID with from_env)",
            )
        return swagger_ui_init_oauth(self.swagger_client_id, scopes=scopes)

    def configure_docs(self, app: FastAPI) -> None:
        """Make ``app``'s Swagger UI log in with PingOne.

        Adds every scope the app's routes require to this scheme's scope list in the OpenAPI
        document, and, with ``swagger_client_id`` and no ``swagger_ui_init_oauth`` of the
        app's own, sets it (see :meth:`swagger_ui_init_oauth`).

        >>> auth.configure_docs(app)                                     # doctest: +SKIP
        """
        if self.swagger_client_id and app.swagger_ui_init_oauth is None:
            app.swagger_ui_init_oauth = self.swagger_ui_init_oauth()
        generate = app.openapi

        def openapi() -> dict[str, Any]:
            return add_operation_scopes(generate(), self.scheme_name, self.scopes)

        app.openapi = openapi  # type: ignore[method-assign]

    def __repr__(self) -> str:
        return (
            f"PingOneBearer(issuer={self.guard.pingone.issuer!r}, "
            f"scheme_name={self.scheme_name!r}, auto_error={self.auto_error!r})"
        )
