"""The :class:`P1Guard` Flask extension: ``init_app``, ``@require_token``, ``protect_blueprint``
for APIs; ``init_login``, ``@login_required`` for signing users in.

Per-app state lives in ``app.extensions["p1guard"]`` (a :class:`P1GuardState`, bearer tokens)
and ``app.extensions["p1guard_login"]`` (a :class:`LoginState`, sign-in), so one ``P1Guard``
object can serve several apps (the app-factory pattern); views look their app's state up
through ``current_app`` at request time. Either half works without the other.

``check_revocation=True`` on a view or blueprint needs a Guard with client credentials (it
introspects). That is checked when the app is set up, never left to a 500 on each request: at
decoration time against every app this extension already serves, and in :meth:`init_app`
against the new app's Guard.
"""

from __future__ import annotations

import functools
import inspect
import weakref
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar, cast, overload

from flask import Blueprint, Flask, current_app, has_app_context, request
from flask.typing import ResponseReturnValue

from p1guard import (
    AccessToken,
    AuthError,
    ClaimRule,
    ClientCertificates,
    ConfigError,
    Guard,
    Requirements,
)
from p1guard.web import Match
from p1guard_flask.context import set_token
from p1guard_flask.login_settings import uses_login_config
from p1guard_flask.responses import ErrorHandler, auth_error_response, log_refusal
from p1guard_flask.settings import (
    WARNED_KEY,
    allow_query_token,
    guard_from_config,
    reject_guard_keys,
    warn_unknown_keys,
)
from p1guard_flask.signin import SignIn
from p1guard_flask.state import EXTENSION_KEY, P1GuardState, current_state

if TYPE_CHECKING:
    from flask.blueprints import BlueprintSetupState

__all__ = ["Match", "P1Guard"]

F = TypeVar("F", bound=Callable[..., Any])


def _revocation_error(where: str) -> ConfigError:
    return ConfigError(
        "check_revocation",
        f"{where} asks for check_revocation=True, which introspects and so needs the custom "
        "resource's client credentials on the Guard (P1GUARD_CLIENT_ID and "
        "P1GUARD_CLIENT_SECRET, or a Guard built with client_id and client_secret)",
    )


def _state_for(check_revocation: bool | None) -> P1GuardState:
    """The app's state, once sure its Guard can do what ``check_revocation`` asks."""
    state = current_state()
    if check_revocation and not state.guard.can_introspect:
        raise _revocation_error(f"the endpoint {request.endpoint!r}")
    return state


def _check_certificates(source: object) -> None:
    if source is not None and not isinstance(source, ClientCertificates):
        raise ConfigError(
            "client_certificates", "pass a p1guard._sender.certificates.ClientCertificates instance"
        )


def _view_name(view: Callable[..., Any]) -> str:
    name = getattr(view, "__qualname__", None) or getattr(view, "__name__", None)
    module = getattr(view, "__module__", None)
    if name is None:
        return f"the view {view!r}"
    return f"the view {module}.{name}" if module else f"the view {name}"


class P1Guard(SignIn):
    """Protect Flask views with PingOne access tokens (and sign users in: :class:`SignIn`).

    >>> app = Flask(__name__)
    >>> app.config.update(P1GUARD_ENV_ID="0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
    ...                   P1GUARD_REGION="EU", P1GUARD_AUDIENCE="https://api.example.com")
    >>> p1 = P1Guard(app)
    >>> @app.get("/items")
    ... @p1.require_token("read")
    ... def items():
    ...     return {"owner": current_token.subject}

    Without ``guard=``, each app's Guard is built from its ``P1GUARD_*`` config (see
    :mod:`p1guard_flask.settings`); with it, every app shares that Guard. ``error_handler``
    renders refused requests (default: :func:`auth_error_response`).

    DPoP (RFC 9449) needs nothing more: ``Authorization: DPoP …`` with its ``DPoP`` proof is
    checked against ``request.url``. Certificate-bound tokens (RFC 8705) need
    ``client_certificates`` (:class:`~p1guard.ClientCertificates`), which says
    where a request's client certificate comes from; without it they are refused.
    """

    def __init__(
        self,
        app: Flask | None = None,
        *,
        guard: Guard | None = None,
        error_handler: ErrorHandler | None = None,
        client_certificates: ClientCertificates | None = None,
    ) -> None:
        if guard is not None and not isinstance(guard, Guard):
            raise ConfigError("guard", "pass a p1guard.Guard instance")
        _check_certificates(client_certificates)
        self._guard = guard
        self._client_certificates = client_certificates
        self._error_handler = error_handler
        # Views and blueprints that ask for check_revocation=True, and the Guards of the apps
        # set up so far: each side is checked against the other when it appears.
        self._revocation_users: list[str] = []
        self._app_guards: weakref.WeakSet[Guard] = weakref.WeakSet()
        if app is not None:
            self.init_app(app)

    def init_app(
        self,
        app: Flask,
        *,
        guard: Guard | None = None,
        client_certificates: ClientCertificates | None = None,
    ) -> None:
        """Validate ``app.config``, build (or take) the Guard, register the error handler.

        ``guard`` and ``client_certificates`` override the constructor's, for this app only.
        Raises
        :class:`~p1guard.ConfigError` naming the config key at fault, or ``check_revocation``
        (naming the view) when a view or blueprint of this extension asks for revocation checks
        and the app's Guard has no client credentials to introspect with.

        >>> p1 = P1Guard()
        >>> def create_app() -> Flask:                               # doctest: +SKIP
        ...     app = Flask(__name__)
        ...     app.config.from_prefixed_env()     # P1GUARD_* from FLASK_P1GUARD_* variables
        ...     p1.init_app(app)
        ...     return app
        """
        if EXTENSION_KEY in app.extensions:
            raise RuntimeError(f"a P1Guard is already set up on the app {app.name!r}")
        if guard is not None and not isinstance(guard, Guard):
            raise ConfigError("guard", "pass a p1guard.Guard instance")
        _check_certificates(client_certificates)
        warn_unknown_keys(app.config, app.extensions.setdefault(WARNED_KEY, set()))
        certificates = client_certificates or self._client_certificates
        chosen = guard if guard is not None else self._guard
        built = chosen is None
        if chosen is None:
            chosen = guard_from_config(app.config)
        elif uses_login_config(app.config):
            # The PingOne keys then configure the sign-in (see init_login), not the Guard.
            reject_guard_keys(app.config, feeds=("guard",))
        else:
            reject_guard_keys(app.config)
        if self._revocation_users and not chosen.can_introspect:
            if built:
                chosen.close()
            raise _revocation_error(self._revocation_users[0])
        self._app_guards.add(chosen)
        state = P1GuardState(self, chosen, allow_query_token(app.config), certificates)
        app.extensions[EXTENSION_KEY] = state
        app.register_error_handler(AuthError, self._handle_auth_error)

    @property
    def guard(self) -> Guard:
        """The Guard of the current app (or the one given to the constructor).

        >>> with app.app_context():                                  # doctest: +SKIP
        ...     p1.guard.forget(revoked_token)
        """
        if has_app_context():
            state = current_app.extensions.get(EXTENSION_KEY)
            if isinstance(state, P1GuardState):
                return state.guard
        if self._guard is None:
            raise RuntimeError("no Guard: use p1.guard inside an app set up with p1.init_app")
        return self._guard

    # -- checks ----------------------------------------------------------------------------

    def verify_request(
        self,
        scopes: str | Iterable[str] | None = None,
        *,
        match: Match = "all",
        check_revocation: bool | None = None,
        acr_values: str | Iterable[str] | None = None,
        max_age: int | None = None,
        claims: Iterable[ClaimRule] | None = None,
    ) -> AccessToken:
        """Check the current request's access token now; store and return it, or raise.

        ``Authorization: Bearer`` or ``DPoP`` (RFC 9449); a DPoP- or certificate-bound token
        must come with its proof or client certificate (see :class:`P1Guard`).

        For hooks and views that decide at run time what to demand:

        >>> token = p1.verify_request(["admin"] if item.locked else ["write"])  # doctest: +SKIP

        ``check_revocation=True`` with a Guard that has no client credentials cannot be caught
        at set-up time here: it raises :class:`~p1guard.ConfigError` on every call (before the
        token is even read, so it shows on the first try), not an :class:`~p1guard.AuthError`.
        """
        loose = (scopes, match, check_revocation, acr_values, max_age, claims)
        needs = Requirements.resolve(None, loose)
        return self._verify(needs)

    def _verify(self, needs: Requirements) -> AccessToken:
        state = _state_for(needs.check_revocation)
        scheme, raw, shown = state.credentials()
        try:
            token = state.guard.verify(raw, needs, presentation=shown)
        except AuthError as err:
            raise state.challenge(err, scheme) from None
        set_token(token)
        return token

    async def averify_request(
        self,
        scopes: str | Iterable[str] | None = None,
        *,
        match: Match = "all",
        check_revocation: bool | None = None,
        acr_values: str | Iterable[str] | None = None,
        max_age: int | None = None,
        claims: Iterable[ClaimRule] | None = None,
    ) -> AccessToken:
        """Async twin of :meth:`verify_request`, for ``async def`` views.

        >>> token = await p1.averify_request("read")                 # doctest: +SKIP
        """
        loose = (scopes, match, check_revocation, acr_values, max_age, claims)
        needs = Requirements.resolve(None, loose)
        return await self._averify(needs)

    async def _averify(self, needs: Requirements) -> AccessToken:
        state = _state_for(needs.check_revocation)
        scheme, raw, shown = state.credentials()
        try:
            token = await state.guard.averify(raw, needs, presentation=shown)
        except AuthError as err:
            raise state.challenge(err, scheme) from None
        set_token(token)
        return token

    @overload
    def require_token(self, view: F, /) -> F: ...

    @overload
    def require_token(
        self,
        *scopes: str,
        match: Match = "all",
        check_revocation: bool | None = None,
        acr_values: str | Iterable[str] | None = None,
        max_age: int | None = None,
        claims: Iterable[ClaimRule] | None = None,
    ) -> Callable[[F], F]: ...

    def require_token(
        self,
        *scopes: Any,
        match: Match = "all",
        check_revocation: bool | None = None,
        acr_values: str | Iterable[str] | None = None,
        max_age: int | None = None,
        claims: Iterable[ClaimRule] | None = None,
    ) -> Any:
        """Decorate a view (sync or ``async def``) to demand a valid token with ``scopes``.

        ``match="all"`` (default) needs every scope, ``"any"`` at least one. No scopes: any
        valid token. The verified token is :data:`~p1guard_flask.current_token` in the view.
        ``check_revocation=True`` needs a Guard with client credentials: without, a
        :class:`~p1guard.ConfigError` here (an app is already set up) or in :meth:`init_app`.
        ``acr_values``/``max_age`` demand step-up authentication (RFC 9470): a token whose
        ``acr`` is not listed or whose ``auth_time`` is older gets a 401
        ``insufficient_user_authentication`` challenge. ``claims`` are
        :mod:`p1guard._tokens.claims` rules (403 ``access_denied`` naming the first that fails).

        >>> @app.post("/items")                                    # doctest: +SKIP
        ... @p1.require_token("write")
        ... def create_item(): ...
        >>> @app.get("/me")                                        # doctest: +SKIP
        ... @p1.require_token
        ... async def me(): ...
        """
        if len(scopes) == 1 and callable(scopes[0]):
            return self._wrap(scopes[0], Requirements())
        loose = (scopes, match, check_revocation, acr_values, max_age, claims)
        needs = Requirements.resolve(None, loose)  # refused now, not per request
        return lambda view: self._wrap(view, needs)

    def _wrap(self, view: F, needs: Requirements) -> F:
        if needs.check_revocation:
            self._needs_revocation(_view_name(view))
        if inspect.iscoroutinefunction(view):

            @functools.wraps(view)
            async def async_guarded(*args: Any, **kwargs: Any) -> Any:
                await self._averify(needs)
                return await view(*args, **kwargs)

            return cast(F, async_guarded)

        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            self._verify(needs)
            return view(*args, **kwargs)

        return cast(F, guarded)

    def protect_blueprint(
        self,
        bp: Blueprint,
        scopes: str | Iterable[str] | None = None,
        *,
        match: Match = "all",
        public_endpoints: Iterable[str] = (),
        check_revocation: bool | None = None,
        acr_values: str | Iterable[str] | None = None,
        max_age: int | None = None,
        claims: Iterable[ClaimRule] | None = None,
    ) -> None:
        """Demand a valid token with ``scopes`` on every endpoint of ``bp``, before its views.

        Call it before ``app.register_blueprint(bp)``. ``public_endpoints`` are served without
        a token: a bare name (``"health"``) is relative to ``bp``; a dotted one
        (``"api.health"``) is a full endpoint name. Automatic ``OPTIONS`` answers (CORS
        preflight) stay public, as with :meth:`require_token`. ``check_revocation=True``,
        ``acr_values``/``max_age`` (step-up, RFC 9470) and ``claims`` work as in
        :meth:`require_token`; a bad value raises :class:`~p1guard.ConfigError` here.

        >>> api = Blueprint("api", __name__, url_prefix="/api")       # doctest: +SKIP
        >>> p1.protect_blueprint(api, ["read"], public_endpoints=["health"])  # doctest: +SKIP
        >>> p1.protect_blueprint(payments, acr_values=["Multi_Factor"], max_age=300,
        ...                      claims=[Equals("department", "finance")])      # doctest: +SKIP
        """
        loose = (scopes, match, check_revocation, acr_values, max_age, claims)
        needs = Requirements.resolve(None, loose)  # refused now, not per request
        if isinstance(public_endpoints, str):
            raise ConfigError("public_endpoints", "expected a list of endpoint names")
        names = tuple(public_endpoints)
        if not all(isinstance(name, str) and name.strip() == name != "" for name in names):
            raise ConfigError("public_endpoints", f"expected endpoint names, got {names!r}")
        if check_revocation:
            self._needs_revocation(f"the blueprint {bp.name!r}")
        public = {name for name in names if "." in name}
        relative = [name for name in names if "." not in name]

        def remember_public(setup: BlueprintSetupState) -> None:
            full = f"{setup.name_prefix}.{setup.name}".lstrip(".")
            public.update(f"{full}.{name}" for name in relative)

        def check_token() -> None:
            if request.endpoint in public:
                return
            rule = request.url_rule
            if request.method == "OPTIONS" and getattr(rule, "provide_automatic_options", False):
                return
            self._verify(needs)

        bp.record(remember_public)
        bp.before_request(check_token)

    def _needs_revocation(self, where: str) -> None:
        """Record that ``where`` asks for revocation checks; refuse it at once if an app
        already set up has a Guard that cannot introspect (``init_app`` checks later ones)."""
        if any(not guard.can_introspect for guard in self._app_guards):
            raise _revocation_error(where)
        self._revocation_users.append(where)

    # -- errors ----------------------------------------------------------------------------

    def error_handler(self, handler: ErrorHandler) -> ErrorHandler:
        """Register ``handler(err) -> response`` for refused requests (decorator).

        >>> @p1.error_handler                                       # doctest: +SKIP
        ... def on_auth_error(err):
        ...     return {"message": err.description}, err.status_code, err.headers
        """
        self._error_handler = handler
        return handler

    def _handle_auth_error(self, err: AuthError) -> ResponseReturnValue:
        log_refusal(err)
        if self._error_handler is not None:
            return self._error_handler(err)
        return auth_error_response(err)

    def __repr__(self) -> str:
        return f"P1Guard(guard={self._guard!r})"
