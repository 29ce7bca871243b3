"""``settings.P1GUARD``: defaults, validation, and the one :class:`~p1guard.Guard` per process.

>>> P1GUARD = {                                                   # in settings.py
...     "ENV_ID": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
...     "REGION": "EU",
...     "AUDIENCE": "https://api.example.com",
...     "PROTECTED_PATHS": ["/api/*"],
... }

:func:`get_options` reads and validates the dict (every problem is also a system check, see
:mod:`p1guard_django.checks`); :func:`get_guard` builds the Guard on first use, and
:func:`get_web_login` the :class:`~p1guard.rp.WebLogin` of the sign-in routes (``P1GUARD["LOGIN"]``,
see :mod:`p1guard_django.login_settings`). All are cached until ``settings.P1GUARD`` changes
(``override_settings`` in tests sends ``setting_changed``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

from p1guard import ClientCertificates, ConfigError, DPoPNonces, Guard, PingOne
from p1guard.rp import WebLogin
from p1guard.web import PathMatcher
from p1guard_django.login_settings import LoginSettings, read_login, try_login
from p1guard_django.paths import ProtectedPaths
from p1guard_django.validation import DEFAULTS, Problem, UserMapping, read_settings, try_build

__all__ = ["DEFAULTS", "Options", "get_guard", "get_options", "get_web_login", "reset"]


@dataclass(frozen=True)
class Options:
    """The validated ``settings.P1GUARD``: what the middleware, decorators and DRF classes use.

    >>> get_options().protected_paths                            # doctest: +SKIP
    ProtectedPaths(['/api/*'])
    """

    values: Mapping[str, Any] = field(repr=False)  # holds client secrets
    #: p1guard's own settings as read by its schema: keyword arguments per object built.
    parsed: Mapping[str, Mapping[str, Any]] = field(repr=False)
    protected_paths: ProtectedPaths
    public_paths: PathMatcher
    user_mapping: UserMapping
    user_field: str | None
    allow_query_token: bool
    login: LoginSettings | None = None
    #: Where client certificates come from (``P1GUARD["CLIENT_CERTIFICATES"]``, RFC 8705);
    #: ``None``: certificate-bound tokens are refused.
    client_certificates: ClientCertificates | None = None

    @property
    def has_bearer(self) -> bool:
        """Whether bearer tokens are configured (``AUDIENCE`` or ``GUARD``): a ``LOGIN``-only
        app has neither, and :func:`get_guard` refuses to build a Guard for it.

        >>> get_options().has_bearer                             # doctest: +SKIP
        True
        """
        return self.values["GUARD"] is not None or bool(self.values["AUDIENCE"])

    def build_pingone(self) -> PingOne:
        """A new :class:`~p1guard.PingOne` from ``ENV_ID``, ``REGION``, ``ISSUER``, ``TIMEOUT``
        and ``PINGONE_OPTIONS``.

        >>> get_options().build_pingone().issuer                 # doctest: +SKIP
        'https://auth.pingone.eu/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0/as'
        """
        return PingOne(**self.parsed["pingone"], **self.values["PINGONE_OPTIONS"])

    def build_guard(self) -> Guard:
        """A new :class:`~p1guard.Guard` from these options (``GUARD`` when one is given).

        >>> get_options().build_guard()                          # doctest: +SKIP
        Guard(issuer='https://auth.pingone.eu/…/as', audience=['https://api.example.com'], …)
        """
        given = self.values["GUARD"]
        if isinstance(given, Guard):
            return given
        if callable(given):
            guard = given()
            if not isinstance(guard, Guard):
                raise ImproperlyConfigured("P1GUARD['GUARD'] must return a p1guard.Guard")
            return guard
        options = dict(self.parsed["guard"])
        if "dpop_nonces" in options:
            try:
                options["dpop_nonces"] = DPoPNonces(options["dpop_nonces"])
            except ConfigError as exc:
                raise ConfigError("dpop_nonce_secret", exc.message) from None
        return Guard(self.build_pingone(), **options, **self.values["GUARD_OPTIONS"])


def parse(raw: object) -> tuple[Options | None, list[Problem]]:
    """Validate a ``P1GUARD`` value: the options (``None`` if any error) and every problem.

    >>> options, problems = parse({"ENV_ID": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"})
    >>> options, [p.id for p in problems]
    (None, ['p1guard.E001'])
    """
    values, parsed, problems = read_settings(raw)
    if values is None:
        return None, problems
    login, login_problems = read_login(values)
    problems += login_problems
    if any(p.is_error for p in problems):
        return None, problems
    options = Options(
        values=values,
        parsed=parsed,
        protected_paths=ProtectedPaths(values["PROTECTED_PATHS"]),
        public_paths=PathMatcher(values["PUBLIC_PATHS"]),
        user_mapping=values["USER_MAPPING"],
        user_field=values["USER_FIELD"],
        allow_query_token=parsed["web"].get("allow_query_token", False),
        login=login,
        client_certificates=values["CLIENT_CERTIFICATES"],
    )
    return options, problems


class _State:
    lock = threading.Lock()
    options: Options | None = None
    guard: Guard | None = None
    owned = False  # whether we built the guard (and so may close it)
    web_lock = threading.Lock()
    web: WebLogin | None = None
    web_closers: tuple[Callable[[], None], ...] = ()  # what we built for it (pingone, store)


def get_options() -> Options:
    """The validated ``settings.P1GUARD`` (cached); :class:`ImproperlyConfigured` if invalid.

    >>> get_options().allow_query_token                          # doctest: +SKIP
    False
    """
    options = _State.options
    if options is None:
        options, problems = parse(getattr(settings, "P1GUARD", None))
        if options is None:
            first = next(p for p in problems if p.is_error)
            raise ImproperlyConfigured(f"{first.id} {first.msg}")
        _State.options = options
    return options


def get_guard() -> Guard:
    """The process-wide :class:`~p1guard.Guard`, built from ``settings.P1GUARD`` on first use.

    >>> from p1guard_django.conf import get_guard
    >>> get_guard().verify(raw_token, scopes=["read"])          # doctest: +SKIP
    """
    guard = _State.guard
    if guard is not None:
        return guard
    with _State.lock:
        if _State.guard is None:
            options = get_options()
            if not options.has_bearer:
                raise ImproperlyConfigured(
                    "p1guard.E001 P1GUARD['AUDIENCE'] is required for bearer tokens "
                    "(BearerTokenMiddleware, require_token, TokenRequiredMixin, DRF classes)"
                )
            guard, problems = try_build(options.build_guard)
            if guard is None:
                raise ImproperlyConfigured(f"{problems[0].id} {problems[0].msg}")
            _State.guard = guard
            _State.owned = not isinstance(options.values["GUARD"], Guard)
        return _State.guard


def get_web_login() -> WebLogin:
    """The process-wide :class:`~p1guard.rp.WebLogin` of the sign-in routes, built from
    ``settings.P1GUARD["LOGIN"]`` on first use; :class:`ImproperlyConfigured` without one.

    It shares the Guard's :class:`~p1guard.PingOne` (discovery and keys) when bearer tokens
    are configured too.

    >>> from p1guard_django import get_web_login
    >>> get_web_login().rp.client_id                             # doctest: +SKIP
    'web-app-client-id'
    """
    web = _State.web
    if web is not None:
        return web
    options = get_options()
    login = options.login
    if login is None:
        raise ImproperlyConfigured(
            "p1guard.E011 P1GUARD['LOGIN'] is not set: the sign-in routes need the web "
            "application's CLIENT_ID, CLIENT_SECRET and REDIRECT_URI"
        )
    shared = get_guard().pingone if options.has_bearer else None
    with _State.web_lock:
        if _State.web is None:
            pingone, problems = (
                (shared, []) if shared is not None else try_build(options.build_pingone)
            )
            rp = None
            if pingone is not None:
                rp, problems = try_login(login, pingone)
            if rp is None or pingone is None:
                if pingone is not None and shared is None:
                    pingone.close()
                raise ImproperlyConfigured(f"{problems[0].id} {problems[0].msg}")
            closers: list[Callable[[], None]] = [] if shared is not None else [pingone.close]
            try:
                store, owned_store = login.build_store()
            except ImportError as exc:  # the redis package vanished since the checks ran
                for close in closers:
                    close()
                raise ImproperlyConfigured(
                    f"p1guard.E011 P1GUARD['LOGIN']['STORE']: {exc}"
                ) from exc
            if owned_store:
                closers.append(store.close)
            _State.web = WebLogin(rp, store=store, session_ttl=login.session_ttl)
            _State.web_closers = tuple(closers)
        return _State.web


def reset() -> None:
    """Forget the cached options, Guard and WebLogin (closing what this module built).

    Called on ``setting_changed`` for ``P1GUARD``; call it yourself after editing settings
    by other means.

    >>> reset()                                                  # doctest: +SKIP
    """
    with _State.lock, _State.web_lock:
        guard, owned = _State.guard, _State.owned
        closers = _State.web_closers
        _State.options = _State.guard = _State.web = None
        _State.owned = False
        _State.web_closers = ()
    if guard is not None and owned:
        guard.close()
    for close in closers:
        close()


@receiver(setting_changed)
def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in ("P1GUARD", "AUTH_USER_MODEL"):
        reset()
