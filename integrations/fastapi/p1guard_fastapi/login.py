"""Sign users in with PingOne: :class:`LoginRouter` (the login routes) and its user dependencies.

Rules:

1. The routes are :class:`p1guard.asgi.LoginRoutes`' own Starlette handlers (one set for
   Starlette and FastAPI): ``GET {prefix}/login``, ``GET {prefix}/callback``, ``GET|POST
   {prefix}/logout`` and, with ``form_login=True``, ``GET|POST {prefix}/form`` (the app's own
   sign-in form over PingOne's ``pi.flow``), named ``p1guard:login``… and absent from the
   OpenAPI document. Their behaviour — pages, ``no-store`` headers, the CSRF form reader
   (16 KiB, strict UTF-8), ``error_template`` — is documented there; they run on Starlette's
   ``request.session``, which only ever holds random ids. Without ``SessionMiddleware`` they
   fail loudly.
2. A refused sign-in answers 400 (HTML page for browsers, else ``LoginError.body`` as JSON)
   and creates no session; PingOne or the store being unreachable answers 503 with
   ``Retry-After``. Only ``error``/``error_description`` reach the client.
3. ``/login`` passes ``acr_values`` (space-separated), ``max_age`` (whole seconds),
   ``prompt`` and ``login_hint`` from its query to PingOne (see
   :func:`p1guard.web.login_params`); ``return_to`` must be a same-origin path, anything
   else becomes ``/``.
4. Sign-out is a POST carrying the session's CSRF token in the form field ``csrf``; ``GET``
   only shows a confirmation page with that form.
5. :meth:`LoginRouter.current_user` raises :class:`LoginRequired` when nobody is signed in: a
   ``302`` to ``{prefix}/login?return_to=<path>`` for browsers (``Accept`` names
   ``text/html``), a ``401`` ``login_required`` for API clients. It is an ``HTTPException``,
   so it works without a handler; :func:`login_required_handler` gives flat JSON bodies. Its
   status, headers and body are :func:`p1guard.web.login_required_answer`'s.
6. :meth:`LoginRouter.require_user` (``acr_values``/``max_age``) also demands step-up
   (RFC 9470) of the user's ID token, else :class:`StepUpRequired`: a ``302`` to
   ``{prefix}/login?return_to=<path>&acr_values=…&max_age=…`` for browsers (PingOne asks
   again; back on the page, the new ID token is checked), a ``401`` with the
   ``insufficient_user_authentication`` challenge for API clients
   (:func:`p1guard.web.step_up_answer`). The checks are
   :meth:`p1guard.rp.SignedInUser.require_authentication`'s; bad values fail when declared.

No ``from __future__ import annotations``: FastAPI reads the endpoints' and dependencies'
annotations at runtime.
"""

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, HTTPException, WebSocketException, status
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import NoMatchFound

from p1guard import ConfigError, InsufficientUserAuthentication, ProviderUnavailable
from p1guard.asgi import LoginRoutes
from p1guard.rp import LoginError, SignedInUser, WebLogin
from p1guard.web import (
    Answer,
    login_required_answer,
    login_required_body,
    negotiate,
    step_up_answer,
    step_up_login_url,
    step_up_options,
    web_login_from_env,
)
from p1guard_fastapi.security import AuthHTTPException
from p1guard_fastapi.sessions import add_session_middleware

__all__ = ["LoginRequired", "LoginRouter", "StepUpRequired", "login_required_handler"]

logger = logging.getLogger("p1guard.fastapi")

#: ``error_template(request, error)`` → an HTML string or a complete ``Response``.
ErrorTemplate = Callable[[Request, LoginError | ProviderUnavailable], "str | Response"]
_HTML = "text/html"


def _exception_headers(answer: Answer) -> dict[str, str]:
    """``answer``'s headers for an ``HTTPException`` (whose handler sets its own type)."""
    return {k: v for k, v in answer.headers.items() if k != "Content-Type"}


class LoginRequired(HTTPException):
    """Nobody is signed in: a redirect to the login route (browsers) or a ``401`` (API clients).

    ``login_url`` is ``{prefix}/login?return_to=<the current path>``. FastAPI's default handler
    answers ``302`` with ``Location``, or ``401`` with ``{"detail": {"error": "login_required",
    …}}``; :func:`login_required_handler` answers the 401 with a flat body.

    >>> exc = LoginRequired("/auth/login?return_to=%2Freports", redirect=False)
    >>> exc.status_code, exc.detail["error"]
    (401, 'login_required')
    """

    def __init__(self, login_url: str, *, redirect: bool) -> None:
        self.login_url = login_url
        self.redirect = redirect
        answer = login_required_answer(_HTML if redirect else "", login_url)
        detail = "Sign in first" if redirect else login_required_body(login_url)
        super().__init__(answer.status, detail=detail, headers=_exception_headers(answer))


class StepUpRequired(LoginRequired):
    """Signed in, but not strongly or recently enough (rule 6): a redirect that signs the user
    in again with ``acr_values``/``max_age`` (browsers), or a ``401`` carrying ``auth_error``'s
    ``insufficient_user_authentication`` challenge and body (API clients).

    >>> err = InsufficientUserAuthentication(acr_values=["Multi_Factor"])
    >>> exc = StepUpRequired("/auth/login?acr_values=Multi_Factor", err, redirect=False)
    >>> exc.status_code, exc.detail["error"], exc.headers["WWW-Authenticate"][:40]
    (401, 'insufficient_user_authentication', 'Bearer error="insufficient_user_authent')
    """

    def __init__(
        self, login_url: str, auth_error: InsufficientUserAuthentication, *, redirect: bool
    ) -> None:
        self.auth_error = auth_error
        if redirect:
            super().__init__(login_url, redirect=True)
            return
        self.login_url = login_url
        self.redirect = False
        answer = step_up_answer("", login_url, auth_error)
        HTTPException.__init__(
            self, answer.status, detail=dict(auth_error.body), headers=_exception_headers(answer)
        )


async def login_required_handler(request: Request, exc: Exception) -> Response:
    """Exception handler for :class:`LoginRequired`: a bare redirect, or flat JSON on 401.

    The 401 body is ``{"error": "login_required", "error_description": "Sign in first: GET
    /auth/login"}``.

    >>> app = FastAPI(exception_handlers={LoginRequired: login_required_handler})
    ... # doctest: +SKIP
    """
    if not isinstance(exc, LoginRequired):
        raise exc
    if exc.redirect:
        return Response(status_code=exc.status_code, headers=exc.headers)
    return JSONResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)


def _here(conn: HTTPConnection) -> str:
    """The current path and query: where to come back to after signing in."""
    return conn.url.path + (f"?{conn.url.query}" if conn.url.query else "")


class LoginRouter(APIRouter):
    """The login routes for one :class:`~p1guard.rp.WebLogin`, and dependencies for its user.

    The routes are :attr:`login_routes`' (a :class:`p1guard.asgi.LoginRoutes` built with the
    same options): ``error_template(request, error)`` renders refusals your way (an HTML string
    or a ``Response``), ``form_login=True`` adds ``{prefix}/form``.

    >>> web = WebLogin(RelyingParty(PingOne(env_id="…"), client_id="…", client_secret="…",
    ...                             redirect_uri="https://app.example.com/auth/callback"))
    ... # doctest: +SKIP
    >>> login = LoginRouter(web)                         # an APIRouter, prefix "/auth"
    >>> login.install(app, secret_key=os.environ["SESSION_SECRET"])  # doctest: +SKIP
    >>> @app.get("/me")                                               # doctest: +SKIP
    ... async def me(user: Annotated[SignedInUser, Depends(login.current_user)]):
    ...     return {"name": user.name}

    ``install`` adds the session middleware, :func:`login_required_handler` and the routes;
    or do those three yourself (:func:`~p1guard_fastapi.add_session_middleware`,
    ``exception_handlers=``, ``app.include_router(login)``). Guard a whole router with
    ``APIRouter(dependencies=[Depends(login.current_user)])``.
    """

    def __init__(
        self,
        web: WebLogin,
        *,
        prefix: str = "/auth",
        error_template: ErrorTemplate | None = None,
        form_login: bool = False,
    ) -> None:
        if isinstance(prefix, str) and prefix.endswith("/"):
            raise ConfigError("prefix", f"must not end with '/', got {prefix!r}")
        routes = LoginRoutes(
            web, prefix=prefix, error_template=error_template, form_login=form_login
        )
        super().__init__(prefix=routes.prefix, routes=routes.routes, include_in_schema=False)
        self.login_routes = routes
        self.web = web

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        prefix: str = "/auth",
        error_template: ErrorTemplate | None = None,
        form_login: bool = False,
        **web_options: Any,
    ) -> "LoginRouter":
        """Build the :class:`~p1guard.rp.WebLogin` from ``P1GUARD_*`` variables, then the router.

        Reads ``P1GUARD_LOGIN_CLIENT_ID``, ``P1GUARD_LOGIN_CLIENT_SECRET``,
        ``P1GUARD_LOGIN_REDIRECT_URI``, ``P1GUARD_LOGIN_POST_LOGOUT_REDIRECT_URI``,
        ``P1GUARD_LOGIN_SCOPES``, ``P1GUARD_LOGIN_STORE`` and the PingOne ones
        (``P1GUARD_ENV_ID``/``P1GUARD_REGION`` or ``P1GUARD_ISSUER``, ``P1GUARD_TIMEOUT``); see
        :func:`p1guard.web.web_login_from_settings`. ``web_options`` are its keywords
        (``store=RedisStore(...)``, ``session_ttl``…).

        >>> login = LoginRouter.from_env()                               # doctest: +SKIP
        """
        web = web_login_from_env(environ, **web_options)
        return cls(web, prefix=prefix, error_template=error_template, form_login=form_login)

    def install(
        self,
        app: FastAPI,
        *,
        secret_key: str,
        session_cookie: str = "session",
        domain: str | None = None,
    ) -> None:
        """Add the session middleware, :func:`login_required_handler` and these routes to ``app``.

        The session cookie lives as long as ``web.session_ttl`` and is ``Secure`` unless the
        redirect URI is on a loopback host (see :func:`~p1guard_fastapi.add_session_middleware`).

        >>> login.install(app, secret_key=os.environ["SESSION_SECRET"])  # doctest: +SKIP
        """
        add_session_middleware(
            app,
            secret_key=secret_key,
            redirect_uri=self.web.rp.redirect_uri,
            max_age=self.web.session_ttl,
            session_cookie=session_cookie,
            domain=domain,
        )
        app.add_exception_handler(LoginRequired, login_required_handler)
        app.include_router(self)

    async def aclose(self) -> None:
        """Close the store's and PingOne's connections; call it in the app's lifespan.

        >>> @asynccontextmanager                                          # doctest: +SKIP
        ... async def lifespan(app):
        ...     yield
        ...     await login.aclose()
        """
        await self.web.store.aclose()
        await self.web.rp.pingone.aclose()

    # -- dependencies --------------------------------------------------------------------

    async def optional_user(self, conn: HTTPConnection) -> SignedInUser | None:
        """Dependency: the signed-in user (access token refreshed when due), or ``None``.

        >>> @app.get("/")                                                 # doctest: +SKIP
        ... async def home(user: Annotated[SignedInUser | None, Depends(login.optional_user)]):
        ...     return {"name": user.name if user else None}
        """
        try:
            return await self.login_routes.current_user(conn)
        except ProviderUnavailable as err:
            logger.warning("could not load the signed-in user: %s (503)", err.reason)
            if conn.scope["type"] == "websocket":
                raise WebSocketException(status.WS_1011_INTERNAL_ERROR) from None
            raise AuthHTTPException(err) from None

    async def current_user(self, conn: HTTPConnection) -> SignedInUser:
        """Dependency: the signed-in user, else :class:`LoginRequired` (rule 5).

        >>> @app.get("/reports")                                          # doctest: +SKIP
        ... async def reports(user: Annotated[SignedInUser, Depends(login.current_user)]):
        ...     return {"for": user.subject, "token": "…use user.access_token to call APIs…"}
        """
        user = await self.optional_user(conn)
        if user is not None:
            return user
        if conn.scope["type"] == "websocket":
            raise WebSocketException(status.WS_1008_POLICY_VIOLATION, reason="login_required")
        login_url = f"{self.login_path(conn)}?{urlencode({'return_to': _here(conn)})}"
        redirect = negotiate(conn.headers.get("accept", "")) == "html"
        raise LoginRequired(login_url, redirect=redirect)

    def require_user(
        self,
        *,
        acr_values: str | Iterable[str] | None = None,
        max_age: int | None = None,
    ) -> Callable[[HTTPConnection], Awaitable[SignedInUser]]:
        """A dependency: the signed-in user, who signed in with one of ``acr_values`` at most
        ``max_age`` seconds ago (step-up, rule 6); else :class:`LoginRequired` or
        :class:`StepUpRequired`. A bad value raises :class:`~p1guard.ConfigError` here.

        >>> transfer_user = login.require_user(acr_values=["Multi_Factor"], max_age=300)
        ... # doctest: +SKIP
        >>> @app.post("/transfer")                                        # doctest: +SKIP
        ... async def transfer(user: Annotated[SignedInUser, Depends(transfer_user)]): ...
        """
        wanted, fresh = step_up_options(acr_values, max_age)

        async def signed_in_user(conn: HTTPConnection) -> SignedInUser:
            user = await self.current_user(conn)
            if wanted or fresh is not None:
                self._step_up(conn, user, wanted, fresh)
            return user

        return signed_in_user

    def _step_up(
        self,
        conn: HTTPConnection,
        user: SignedInUser,
        acr_values: tuple[str, ...] | None,
        max_age: int | None,
    ) -> None:
        """Raise :class:`StepUpRequired` unless ``user`` signed in strongly and recently enough."""
        try:
            user.require_authentication(acr_values, max_age)
        except InsufficientUserAuthentication as err:
            logger.info("%s: step-up needed (%s)", conn.url.path, err.reason)
            if conn.scope["type"] == "websocket":
                raise WebSocketException(
                    status.WS_1008_POLICY_VIOLATION, reason="insufficient_user_authentication"
                ) from None
            login_url = step_up_login_url(self.login_path(conn), err, _here(conn))
            redirect = negotiate(conn.headers.get("accept", "")) == "html"
            raise StepUpRequired(login_url, err, redirect=redirect) from None

    async def csrf_token(self, request: Request) -> str:
        """Dependency: the session's CSRF token, for your own ``POST {prefix}/logout`` form.

        >>> @app.get("/account")                                          # doctest: +SKIP
        ... async def account(csrf: Annotated[str, Depends(login.csrf_token)]): ...
        """
        return self.login_routes.csrf_token(request)

    def login_path(self, conn: HTTPConnection) -> str:
        """The path of the login route as mounted in ``conn``'s app (``/auth/login`` by default)."""
        try:
            return conn.url_for("p1guard:login").path
        except NoMatchFound:
            return f"{conn.scope.get('root_path', '')}{self.login_routes.login_path}"

    def __repr__(self) -> str:
        return f"LoginRouter(prefix={self.prefix!r}, client_id={self.web.rp.client_id!r})"
