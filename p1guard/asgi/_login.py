"""Sign users in to a Starlette app: login routes, ``login_required`` and the signed-in user.

>>> auth = LoginRoutes(WebLogin(rp))                      # doctest: +SKIP
>>> app = Starlette(                                       # doctest: +SKIP
...     routes=[*auth.routes, Route("/", home)],           # /auth/login, /callback, /logout
...     middleware=[auth.session_middleware(os.environ["SESSION_SECRET"])],
... )

Starlette is an optional extra (``pip install 'p1guard[asgi]'`` plus ``itsdangerous`` for its
``SessionMiddleware``); it is imported when a route runs, never when this module is imported.

Rules:

1. The session is Starlette's own signed cookie (``request.session``); it only holds random ids,
   the tokens stay in the :class:`~p1guard.rp.WebLogin` store. No session middleware → a
   :class:`~p1guard.ConfigError` that says how to add it.
2. Every answer of the login routes carries ``Cache-Control: no-store`` (redirects:
   :data:`~p1guard.rp._pages.REDIRECT_HEADERS`, with ``Vary: Accept``); pages, their
   negotiation and ``/login``'s parameters are :mod:`p1guard.rp._pages`'.
3. A failed sign-in is a 400 page (JSON for clients that do not ask for HTML) showing only the
   error code and its safe description; PingOne unreachable is a 503 with ``Retry-After``.
   Exception text never reaches the client.
4. ``login_required``: browsers (``Accept`` names ``text/html``) are sent to the login route
   with ``return_to`` = the current path and query; other clients get a 401 JSON answer.
   With ``acr_values``/``max_age`` (step-up, RFC 9470) a signed-in user whose ID token falls
   short is sent there too, with those values; other clients get a 401 challenge.
5. The user is looked up once per request and kept on ``request.state.p1guard_user``.
6. ``form_login=True`` adds ``{prefix}/form``, the app's own username/password form
   (PingOne ``pi.flow``, :class:`~p1guard.rp.WebLogin` rule 6): ``GET`` renders
   :func:`~p1guard.web.form_login_page` with the session's CSRF token (no PingOne call,
   nothing stored); the first ``POST`` starts PingOne's flow. ``POST`` (CSRF token required)
   runs the step and answers ``303`` to ``return_to`` once
   signed in, else the form again (``400`` with a fixed message after a wrong password).
   Passwords are never logged, echoed into a page or kept.
7. ``POST`` bodies (``/logout``, ``/form``) are read only as
   ``application/x-www-form-urlencoded``, at most 16 KiB and 20 fields, strict UTF-8; a field
   given twice counts as missing, and anything else reads as an empty form (so the CSRF check
   refuses it). No ``python-multipart`` needed.

These handlers are also FastAPI's: ``p1guard_fastapi.LoginRouter`` serves these same routes.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar, overload
from urllib.parse import parse_qs, urlencode, urlsplit

from p1guard._requirements import step_up_options
from p1guard.errors import ConfigError, InsufficientUserAuthentication, ProviderUnavailable
from p1guard.rp._errors import LoginError
from p1guard.rp._form_login import FormStep
from p1guard.rp._pages import (
    REDIRECT_HEADERS,
    Answer,
    error_answer,
    form_login_page,
    html_answer,
    login_params,
    login_required_answer,
    logout_page,
    redirect_answer,
    step_up_answer,
    step_up_login_url,
    with_custom_html,
)
from p1guard.rp._session import SignedInUser, check_cookie_options, secure_cookie
from p1guard.rp._web import WebLogin

if TYPE_CHECKING:
    from starlette.middleware import Middleware
    from starlette.requests import HTTPConnection, Request
    from starlette.responses import Response
    from starlette.routing import BaseRoute

__all__ = ["LoginRoutes"]

log = logging.getLogger("p1guard.asgi")

#: What the login routes can fail with (both render themselves safely).
LoginFailure = LoginError | ProviderUnavailable
#: ``error_template(request, error)`` → an HTML string (sent with the error's status and
#: headers) or a complete ``Response`` (e.g. a Jinja2 ``TemplateResponse``).
ErrorTemplate = Callable[["Request", LoginFailure], "str | Response"]
Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])

_USER_STATE = "p1guard_user"
_FORM_LIMIT = 16 * 1024
_FORM_FIELDS = 20


class LoginRoutes:
    """``GET {prefix}/login``, ``GET {prefix}/callback``, ``GET|POST {prefix}/logout``, and
    with ``form_login=True`` ``GET|POST {prefix}/form``.

    ``/login?return_to=/path`` redirects to PingOne (``acr_values``, ``max_age``, ``prompt``
    and ``login_hint`` are passed on); ``/callback`` finishes the sign-in and redirects to
    ``return_to``; ``GET /logout`` shows a confirmation form that POSTs the session's CSRF
    token, ``POST /logout`` ends the session and redirects to PingOne's signoff.
    ``/form?return_to=/path`` is the app's own sign-in form (rule 6; the PingOne application
    must allow ``response_mode=pi.flow``).

    >>> auth = LoginRoutes(WebLogin(rp), prefix="/auth")          # doctest: +SKIP
    >>> @auth.login_required
    ... async def orders(request):
    ...     user = await auth.current_user(request)
    ...     return PlainTextResponse(f"Hello {user.name}")         # doctest: +SKIP
    """

    def __init__(
        self,
        web: WebLogin,
        *,
        prefix: str = "/auth",
        error_template: ErrorTemplate | None = None,
        form_login: bool = False,
    ) -> None:
        if not isinstance(web, WebLogin):
            raise ConfigError("web", "pass a p1guard.rp.WebLogin")
        if not isinstance(prefix, str) or (prefix and not prefix.startswith("/")):
            raise ConfigError("prefix", f"expected a path like '/auth', got {prefix!r}")
        self.web = web
        self.prefix = prefix.rstrip("/")
        self.error_template = error_template
        self.login_path = f"{self.prefix}/login"
        self.callback_path = f"{self.prefix}/callback"
        self.logout_path = f"{self.prefix}/logout"
        self.form_login = bool(form_login)
        self.form_path = f"{self.prefix}/form"
        redirect_path = urlsplit(web.rp.redirect_uri).path
        if not redirect_path.endswith(self.callback_path):
            raise ConfigError(
                "redirect_uri",
                f"its path {redirect_path!r} must end with the callback route "
                f"{self.callback_path!r} (or pick a matching prefix)",
            )

    # -- wiring ----------------------------------------------------------------------------

    @property
    def routes(self) -> list[BaseRoute]:
        """The routes, named ``p1guard:login``, ``p1guard:callback``, ``p1guard:logout`` (and
        ``p1guard:form`` with ``form_login=True``)."""
        from starlette.routing import Route

        routes: list[BaseRoute] = [
            Route(self.login_path, self.login, methods=["GET"], name="p1guard:login"),
            Route(self.callback_path, self.callback, methods=["GET"], name="p1guard:callback"),
            Route(self.logout_path, self.logout, methods=["GET", "POST"], name="p1guard:logout"),
        ]
        if self.form_login:
            routes.append(
                Route(self.form_path, self.form, methods=["GET", "POST"], name="p1guard:form")
            )
        return routes

    def session_options(self, secret_key: object, **overrides: Any) -> dict[str, Any]:
        """Keyword arguments for Starlette's ``SessionMiddleware``, secure by default.

        ``https_only`` (the ``Secure`` flag) whenever the redirect URI is https,
        ``same_site="lax"`` (the callback is a top-level navigation from PingOne), and the
        cookie lives as long as the server-side session. Starlette always sets ``HttpOnly``.

        >>> auth.session_options("x" * 32)["same_site"]             # doctest: +SKIP
        'lax'
        """
        if len(str(secret_key)) < 32:
            raise ConfigError(
                "secret_key",
                "use at least 32 random characters, e.g. python -c "
                '"import secrets; print(secrets.token_urlsafe(32))"',
            )
        redirect_uri = self.web.rp.redirect_uri
        options: dict[str, Any] = {
            "secret_key": secret_key,
            "https_only": secure_cookie(redirect_uri),
            "same_site": "lax",
            "max_age": max(1, int(self.web.session_ttl)),
        }
        options.update(overrides)
        check_cookie_options(
            redirect_uri, same_site=options["same_site"], secure=options["https_only"]
        )
        return options

    def session_middleware(self, secret_key: object, **overrides: Any) -> Middleware:
        """``Middleware(SessionMiddleware, **session_options(secret_key))`` for ``Starlette()``."""
        from starlette.middleware import Middleware
        from starlette.middleware.sessions import SessionMiddleware

        return Middleware(SessionMiddleware, **self.session_options(secret_key, **overrides))

    # -- the signed-in user ----------------------------------------------------------------

    async def current_user(self, request: HTTPConnection) -> SignedInUser | None:
        """The signed-in user (access token refreshed when due), or ``None``; once per request.

        Raises :class:`~p1guard.ProviderUnavailable` when a due refresh cannot reach PingOne.

        >>> user = await auth.current_user(request)                 # doctest: +SKIP
        """
        cached = getattr(request.state, _USER_STATE, _MISSING)
        if isinstance(cached, SignedInUser) or cached is None:
            return cached
        user = await self.web.auser(_session(request))
        setattr(request.state, _USER_STATE, user)
        return user

    def csrf_token(self, request: HTTPConnection) -> str:
        """The session's CSRF token, for your own ``POST {prefix}/logout`` form.

        >>> auth.csrf_token(request)                                # doctest: +SKIP
        """
        return self.web.csrf_token(_session(request))

    @overload
    def login_required(self, endpoint: Endpoint, /) -> Endpoint: ...

    @overload
    def login_required(
        self,
        endpoint: None = None,
        /,
        *,
        acr_values: str | Iterable[str] | None = None,
        max_age: int | None = None,
    ) -> Callable[[Endpoint], Endpoint]: ...

    def login_required(
        self,
        endpoint: Any = None,
        /,
        *,
        acr_values: str | Iterable[str] | None = None,
        max_age: int | None = None,
    ) -> Any:
        """Decorate a Starlette endpoint (sync or async) so only signed-in users reach it.

        The endpoint becomes async; a sync one then runs in the thread pool as usual and reads
        the user from ``request.state.p1guard_user``. Methods of an ``HTTPEndpoint`` work too.

        Step-up (RFC 9470): with ``acr_values`` and/or ``max_age`` (seconds), the user's ID
        token must have one of those ``acr`` and an ``auth_time`` that recent; otherwise
        browsers are sent to the login route with those values (and back here afterwards),
        other clients get a 401 ``insufficient_user_authentication`` challenge.

        >>> @auth.login_required
        ... def report(request):
        ...     return PlainTextResponse(request.state.p1guard_user.name)  # doctest: +SKIP
        >>> @auth.login_required(acr_values=["Multi_Factor"], max_age=300)
        ... async def transfer(request): ...                                # doctest: +SKIP
        """
        wanted, fresh = step_up_options(acr_values, max_age)
        if endpoint is None:
            return functools.partial(self._guard_endpoint, acr_values=wanted, max_age=fresh)
        return self._guard_endpoint(endpoint, acr_values=wanted, max_age=fresh)

    def _guard_endpoint(
        self,
        endpoint: Endpoint,
        *,
        acr_values: tuple[str, ...] | None = None,
        max_age: int | None = None,
    ) -> Endpoint:
        step_up = bool(acr_values) or max_age is not None
        index = _request_index(endpoint)
        is_async = inspect.iscoroutinefunction(endpoint)

        @functools.wraps(endpoint)
        async def guarded(*args: Any, **kwargs: Any) -> Any:
            request = kwargs["request"] if "request" in kwargs else args[index]
            refusal = await self._refusal(request)
            if refusal is None and step_up:
                refusal = await self._step_up_refusal(request, acr_values, max_age)
            if refusal is not None:
                return refusal
            if is_async:
                return await endpoint(*args, **kwargs)
            from starlette.concurrency import run_in_threadpool

            return await run_in_threadpool(endpoint, *args, **kwargs)

        return guarded  # type: ignore[return-value]

    async def _refusal(self, request: Request) -> Response | None:
        try:
            user = await self.current_user(request)
        except ProviderUnavailable as err:
            return self._error(request, err, "Sign-in failed")
        if user is not None:
            return None
        login_url = self._url(request, self.login_path, return_to=_here(request))
        return _response(login_required_answer(request.headers.get("accept", ""), login_url))

    async def _step_up_refusal(
        self, request: Request, acr_values: tuple[str, ...] | None, max_age: int | None
    ) -> Response | None:
        user = await self.current_user(request)  # cached by _refusal: signed in
        if user is None:
            return None
        try:
            user.require_authentication(acr_values, max_age)
        except InsufficientUserAuthentication as err:
            log.info("%s %s: step-up needed (%s)", request.method, request.url.path, err.reason)
            login_url = step_up_login_url(self._url(request, self.login_path), err, _here(request))
            return _response(step_up_answer(request.headers.get("accept", ""), login_url, err))
        return None

    # -- the routes ------------------------------------------------------------------------

    async def login(self, request: Request) -> Response:
        """``GET {prefix}/login``: start a sign-in and redirect to PingOne."""
        session = _session(request)
        try:
            start = await self.web.alogin(session, **login_params(_query(request)))
        except (LoginError, ProviderUnavailable) as err:
            return self._error(request, err, "Sign-in failed")
        if start.method == "POST":
            from starlette.responses import HTMLResponse

            # not html_answer: its CSP would block the self-submitting form's onload
            return HTMLResponse(start.html_form(), headers=dict(REDIRECT_HEADERS))
        return _redirect(start.url)

    async def callback(self, request: Request) -> Response:
        """``GET {prefix}/callback``: finish the sign-in; redirect to its ``return_to``."""
        session = _session(request)
        try:
            return_to = await self.web.acallback(session, _query(request))
        except (LoginError, ProviderUnavailable) as err:
            return self._error(request, err, "Sign-in failed")
        return _redirect(return_to)

    async def logout(self, request: Request) -> Response:
        """``GET {prefix}/logout``: a confirmation form; ``POST``: sign out (needs ``csrf``)."""
        session = _session(request)
        action = self._url(request, self.logout_path)
        if request.method != "POST":
            return _response(html_answer(logout_page(action, self.web.csrf_token(session))))
        form_data = await _read_form(request)
        try:
            signoff_url = await self.web.alogout(session, form_data.get("csrf"))
        except (LoginError, ProviderUnavailable) as err:
            return self._error(request, err, "Sign-out failed", retry_url=action)
        setattr(request.state, _USER_STATE, None)
        return _redirect(signoff_url)

    async def form(self, request: Request) -> Response:
        """``GET {prefix}/form``: the app's own sign-in form; ``POST``: its step (rule 6)."""
        session = _session(request)
        action = self._url(request, self.form_path)
        try:
            if request.method != "POST":
                params = login_params(_query(request))
                step = await self.web.aform_login(session, **params)
                return self._form_page(request, session, step, params.get("login_hint", ""))
            form_data = await _read_form(request)
            step = await self.web.aform_submit(
                session,
                form_data.get("form_id"),
                csrf=form_data.get("csrf"),
                username=form_data.get("username"),
                password=form_data.get("password"),
                new_password=form_data.get("new_password"),
            )
        except (LoginError, ProviderUnavailable) as err:
            return self._error(request, err, "Sign-in failed", retry_url=action)
        return self._form_page(request, session, step, form_data.get("username", ""))

    def _form_page(
        self, request: Request, session: dict[str, Any], step: FormStep, username: str
    ) -> Response:
        if step.signed_in:
            return _redirect(step.return_to, 303)
        html = form_login_page(
            self._url(request, self.form_path),
            self.web.csrf_token(session),
            step.form_id,
            step=step.status,
            username=username if step.status == "password_required" else "",
            message=step.message,
            login_url=self._url(request, self.login_path, return_to=step.return_to),
        )
        return _response(html_answer(html, 400 if step.error else 200))

    # -- helpers ---------------------------------------------------------------------------

    def _url(self, request: Request, path: str, **query: str) -> str:
        root = str(request.scope.get("root_path", "")).rstrip("/")
        return root + path + (f"?{urlencode(query)}" if query else "")

    def _error(
        self, request: Request, err: LoginFailure, title: str, *, retry_url: str | None = None
    ) -> Response:
        level = logging.WARNING if isinstance(err, ProviderUnavailable) else logging.INFO
        log.log(
            level, "%s %s: %s (%d)", request.method, request.url.path, err.reason, err.status_code
        )
        retry_url = retry_url or self._url(request, self.login_path)
        accept = request.headers.get("accept", "")
        answer = error_answer(err, accept, retry_url=retry_url, title=title)
        if self.error_template is not None and answer.is_html:
            rendered = self.error_template(request, err)
            if not isinstance(rendered, str):
                return rendered
            answer = with_custom_html(answer, rendered)
        return _response(answer)


# -- private helpers ---------------------------------------------------------------------------

_MISSING = object()


def _session(request: HTTPConnection) -> dict[str, Any]:
    if "session" not in request.scope:
        raise ConfigError(
            "SessionMiddleware",
            "the login routes need request.session: add "
            "Middleware(SessionMiddleware, secret_key=..., https_only=..., same_site='lax') "
            "to Starlette(middleware=[...]), e.g. LoginRoutes.session_middleware(secret_key); "
            "with FastAPI call login.install(app, secret_key=...)",
        )
    session: dict[str, Any] = request.session
    return session


def _here(request: Request) -> str:
    """The current path and query, to come back to after signing in."""
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


def _request_index(endpoint: Callable[..., Any]) -> int:
    names = list(inspect.signature(endpoint).parameters)
    return names.index("request") if "request" in names else 0


def _query(request: Request) -> dict[str, list[str]]:
    """The query string with every value of each name (repeats are refused downstream)."""
    return {key: request.query_params.getlist(key) for key in request.query_params}


async def _read_form(request: Request) -> dict[str, str]:
    """The fields of a small URL-encoded form body, each given once (rule 7); ``{}`` otherwise."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/x-www-form-urlencoded":
        return {}
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > _FORM_LIMIT:
            return {}
    try:
        text = body.decode("utf-8")  # strict: no replacement characters in a password
        fields = parse_qs(
            text, keep_blank_values=True, max_num_fields=_FORM_FIELDS, errors="strict"
        )
    except ValueError:  # not UTF-8 (also when percent-decoded), or too many fields
        return {}
    return {name: values[0] for name, values in fields.items() if len(values) == 1}


def _response(answer: Answer) -> Response:
    from starlette.responses import Response

    return Response(answer.body, status_code=answer.status, headers=dict(answer.headers))


def _redirect(location: str, status: int = 302) -> Response:
    return _response(redirect_answer(location, status))
