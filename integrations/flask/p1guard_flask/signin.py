"""Sign-in methods of :class:`~p1guard_flask.P1Guard`: ``init_login``, ``@login_required``.

A mixin, so the bearer half (:mod:`p1guard_flask.extension`) and the sign-in half stay apart;
either works without the other. Per-app state is a :class:`~p1guard_flask.LoginState` in
``app.extensions["p1guard_login"]``, found through ``current_app`` at request time.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, cast, overload

from flask import Flask, request, session, url_for
from flask.typing import ResponseReturnValue

from p1guard import ConfigError, InsufficientUserAuthentication, ProviderUnavailable
from p1guard.rp import SignedInUser, WebLogin
from p1guard.web import step_up_answer, step_up_login_url, step_up_options
from p1guard_flask.login import (
    BLUEPRINT,
    LOGIN_EXTENSION_KEY,
    LoginState,
    check_redirect_uri,
    current_login,
    secure_session,
)
from p1guard_flask.login_pages import answer_response, login_required_response, unavailable_response
from p1guard_flask.login_settings import login_prefix, reject_login_keys, web_login_from_config
from p1guard_flask.login_views import login_blueprint
from p1guard_flask.settings import WARNED_KEY, warn_unknown_keys
from p1guard_flask.user import aget_user, get_user

__all__ = ["SignIn"]

F = TypeVar("F", bound=Callable[..., Any])


def _here() -> str:
    query = request.query_string.decode("latin-1")
    return f"{request.script_root}{request.path}" + (f"?{query}" if query else "")


def _send_to_login() -> ResponseReturnValue:
    """Browsers to the login route (back here afterwards), API clients a 401."""
    return login_required_response(url_for(f"{BLUEPRINT}.login", return_to=_here()))


def _step_up_refusal(
    user: SignedInUser, acr_values: tuple[str, ...] | None, max_age: int | None
) -> ResponseReturnValue | None:
    """``None`` if ``user`` signed in strongly and recently enough; else browsers to the login
    route with ``acr_values``/``max_age`` (RFC 9470), API clients a 401 challenge."""
    try:
        user.require_authentication(acr_values, max_age)
    except InsufficientUserAuthentication as err:
        login_url = step_up_login_url(url_for(f"{BLUEPRINT}.login"), err, _here())
        return answer_response(step_up_answer(request.headers.get("Accept", ""), login_url, err))
    return None


class SignIn:
    """Sign users in with PingOne: the login routes, ``@login_required``, the CSRF token.

    >>> p1 = P1Guard()                                              # doctest: +SKIP
    >>> p1.init_login(app)                                          # doctest: +SKIP
    """

    def init_login(
        self,
        app: Flask,
        *,
        web: WebLogin | None = None,
        prefix: str | None = None,
        **options: Any,
    ) -> None:
        """Add the sign-in routes to ``app``: ``{prefix}/login``, ``/callback``, ``/logout``.

        Without ``web=``, the :class:`~p1guard.rp.WebLogin` is built from ``app.config``
        (:mod:`p1guard_flask.login_settings`; no audience needed) and ``options``
        (``session_ttl``, ``refresh_margin``, ``store``, or RelyingParty keywords such as
        ``par=True``). ``prefix`` (default ``P1GUARD_LOGIN_PREFIX``, else ``/auth``) must match
        the redirect URI's path. Needs ``app.secret_key``; the session cookie becomes
        ``HttpOnly``, ``SameSite=Lax`` and, with an https redirect URI, ``Secure`` (see
        :mod:`p1guard_flask.login`). Independent of ``init_app`` (bearer tokens).

        >>> app = Flask(__name__)
        >>> app.config.update(
        ...     SECRET_KEY="change-me", P1GUARD_ENV_ID="0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
        ...     P1GUARD_LOGIN_CLIENT_ID="web-app", P1GUARD_LOGIN_CLIENT_SECRET="s3cr3t",
        ...     P1GUARD_LOGIN_REDIRECT_URI="https://app.example.com/auth/callback")
        >>> from p1guard_flask import P1Guard
        >>> p1 = P1Guard()
        >>> p1.init_login(app)
        >>> app.config["SESSION_COOKIE_SECURE"], app.url_map.bind("x").build("p1guard.login")
        (True, '/auth/login')
        """
        if LOGIN_EXTENSION_KEY in app.extensions:
            raise RuntimeError(f"sign-in is already set up on the app {app.name!r}")
        if web is not None and not isinstance(web, WebLogin):
            raise ConfigError("web", "pass a p1guard.rp.WebLogin instance")
        warn_unknown_keys(app.config, app.extensions.setdefault(WARNED_KEY, set()))
        if prefix is None:
            mounted = login_prefix(app.config.get("P1GUARD_LOGIN_PREFIX"))
        else:
            mounted = login_prefix(prefix, "prefix")
        if web is None:
            built = web_login_from_config(app.config, **options)
            state = LoginState(self, built, mounted, owned=True)
        elif options:
            raise ConfigError(next(iter(options)), "pass it to your WebLogin, not beside web=")
        else:
            reject_login_keys(app.config)
            state = LoginState(self, web, mounted)
        try:
            uri_key = "redirect_uri" if web is not None else "P1GUARD_LOGIN_REDIRECT_URI"
            check_redirect_uri(state.web, mounted, uri_key)
            secure_session(app, state.web)
        except ConfigError:
            state.close()
            raise
        app.register_blueprint(login_blueprint(mounted))
        app.extensions[LOGIN_EXTENSION_KEY] = state
        app.add_template_global(get_user, "p1guard_user")
        app.add_template_global(self.csrf_token, "p1guard_csrf_token")

    @property
    def web(self) -> WebLogin:
        """The :class:`~p1guard.rp.WebLogin` of the current app (needs an app context).

        >>> with app.app_context():                                  # doctest: +SKIP
        ...     p1.web.rp.client_id
        'web-app'
        """
        return current_login().web

    @overload
    def login_required(self, view: F, /) -> F: ...

    @overload
    def login_required(
        self,
        view: None = None,
        /,
        *,
        acr_values: str | Iterable[str] | None = None,
        max_age: int | None = None,
    ) -> Callable[[F], F]: ...

    def login_required(
        self,
        view: Any = None,
        /,
        *,
        acr_values: str | Iterable[str] | None = None,
        max_age: int | None = None,
    ) -> Any:
        """Decorate a page (sync or ``async def``) to need a signed-in user.

        Browsers (``Accept: text/html``) are sent to ``{prefix}/login?return_to=<this page>``;
        other clients get 401 ``{"error": "login_required"}``; PingOne down: 503. In the view,
        :data:`~p1guard_flask.current_user` is the user, with a fresh access token.

        Step-up (RFC 9470): with ``acr_values`` and/or ``max_age`` (seconds) the user's ID
        token must have one of those ``acr`` and an ``auth_time`` that recent; otherwise
        browsers go to ``{prefix}/login`` with those values (and back here afterwards), other
        clients get a 401 ``insufficient_user_authentication`` challenge.

        >>> @app.get("/profile")                                     # doctest: +SKIP
        ... @p1.login_required
        ... def profile():
        ...     return {"name": current_user.name}
        >>> @app.post("/transfer")                                   # doctest: +SKIP
        ... @p1.login_required(acr_values=["Multi_Factor"], max_age=300)
        ... def transfer(): ...
        """
        wanted, fresh = step_up_options(acr_values, max_age)
        if view is None:
            return functools.partial(self._login_wrap, acr_values=wanted, max_age=fresh)
        return self._login_wrap(view, acr_values=wanted, max_age=fresh)

    def _login_wrap(
        self, view: F, *, acr_values: tuple[str, ...] | None = None, max_age: int | None = None
    ) -> F:
        step_up = bool(acr_values) or max_age is not None
        if inspect.iscoroutinefunction(view):

            @functools.wraps(view)
            async def async_signed_in(*args: Any, **kwargs: Any) -> Any:
                try:
                    user = await aget_user()
                except ProviderUnavailable as err:
                    return unavailable_response(err)
                if user is None:
                    return _send_to_login()
                if step_up:
                    refusal = _step_up_refusal(user, acr_values, max_age)
                    if refusal is not None:
                        return refusal
                return await view(*args, **kwargs)

            return cast(F, async_signed_in)

        @functools.wraps(view)
        def signed_in(*args: Any, **kwargs: Any) -> Any:
            try:
                user = get_user()
            except ProviderUnavailable as err:
                return unavailable_response(err)
            if user is None:
                return _send_to_login()
            if step_up:
                refusal = _step_up_refusal(user, acr_values, max_age)
                if refusal is not None:
                    return refusal
            return view(*args, **kwargs)

        return cast(F, signed_in)

    def csrf_token(self) -> str:
        """The session's CSRF token, for a sign-out form in your own pages.

        Templates have it as ``p1guard_csrf_token()`` (and the user as ``p1guard_user()``):
        ``<input type="hidden" name="csrf" value="{{ p1guard_csrf_token() }}">`` in a form
        that posts to ``{{ url_for('p1guard.logout') }}``.

        >>> token = p1.csrf_token()                                   # doctest: +SKIP
        """
        return current_login().web.csrf_token(session)
