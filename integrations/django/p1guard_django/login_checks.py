"""System checks of the sign-in set-up, run by :func:`~p1guard_django.checks.check_settings` when
``P1GUARD["LOGIN"]`` is set: the login settings against p1guard, and the Django pieces sign-in
relies on (sessions, authentication, the session cookie, ``LOGIN_URL``, the mounted routes).

>>> [p.id for p in login_problems(get_options(), guard=None)]  # doctest: +SKIP
['p1guard.W003']
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.shortcuts import resolve_url
from django.urls import NoReverseMatch, reverse
from django.utils.module_loading import import_string

from p1guard import Guard, PingOne
from p1guard_django.conf import Options
from p1guard_django.login_settings import LoginSettings, try_login
from p1guard_django.validation import Problem, try_build

__all__ = ["login_problems"]

_SESSIONS = "django.contrib.sessions.middleware.SessionMiddleware"
_AUTH = "django.contrib.auth.middleware.AuthenticationMiddleware"
_BACKEND = "p1guard_django.backends.PingOneBackend"
_SIGNED_COOKIES = "django.contrib.sessions.backends.signed_cookies"


def login_problems(options: Options, guard: Guard | None) -> list[Problem]:
    """Every problem of the sign-in set-up (``guard``: the one the checks built, if any).

    >>> login_problems(get_options(), None)                      # doctest: +SKIP
    []
    """
    login = options.login
    if login is None:
        return []
    problems = _rp_problems(options, login, guard)
    problems += _django_problems()
    problems += _cookie_problems(login)
    problems += _url_problems(login)
    return problems


def _rp_problems(options: Options, login: LoginSettings, guard: Guard | None) -> list[Problem]:
    """Let p1guard build the RelyingParty, offline (``p1guard.E009``)."""
    given = options.values["GUARD"]
    pingone: PingOne | None
    if guard is not None:
        pingone, owned = guard.pingone, False
    elif isinstance(given, Guard):
        pingone, owned = given.pingone, False
    elif given is not None or options.has_bearer:
        return []  # a factory of the app's own (not called here), or a Guard that failed
    else:
        pingone, problems = try_build(options.build_pingone)
        if pingone is None:
            return problems
        owned = True
    _, problems = try_login(login, pingone)
    if owned:
        pingone.close()
    return problems


def _has(setting: list[str], wanted: str) -> bool:
    """Whether ``setting`` lists ``wanted`` or a subclass of it (as Django's admin checks)."""
    base = import_string(wanted)
    for path in setting:
        try:
            found = import_string(path)
        except (ImportError, RuntimeError):  # Django's own checks report broken entries
            continue
        if isinstance(found, type) and issubclass(found, base):
            return True
    return False


def _django_problems() -> list[Problem]:
    """``p1guard.E012``: sessions, authentication and the backend."""
    problems = []
    if not apps.is_installed("django.contrib.auth"):
        problems.append(_e012("'django.contrib.auth' in INSTALLED_APPS"))
    middleware = list(getattr(settings, "MIDDLEWARE", None) or ())
    if not _has(middleware, _SESSIONS):
        problems.append(_e012(f"'{_SESSIONS}' in MIDDLEWARE"))
    if apps.is_installed("django.contrib.auth"):  # else its modules cannot even be imported
        if not _has(middleware, _AUTH):
            problems.append(_e012(f"'{_AUTH}' in MIDDLEWARE"))
        if not _has(list(settings.AUTHENTICATION_BACKENDS), _BACKEND):
            problems.append(_e012(f"'{_BACKEND}' in AUTHENTICATION_BACKENDS"))
    if settings.SESSION_ENGINE == _SIGNED_COOKIES:
        problems.append(
            Problem(
                "p1guard.W005",
                "With signed-cookie sessions a copied session cookie still holds the Django "
                "login after sign-out (PingOne's tokens are revoked either way)",
                "Use a server-side SESSION_ENGINE (db, cache, cached_db), or silence this.",
            )
        )
    return problems


def _e012(what: str) -> Problem:
    return Problem(
        "p1guard.E012",
        f"P1GUARD['LOGIN'] (sign-in) needs {what}",
        "Sign-in keeps its ids in request.session and logs the user in with "
        "django.contrib.auth.login.",
    )


def _cookie_problems(login: LoginSettings) -> list[Problem]:
    """``p1guard.E013``: ``HttpOnly``, ``SameSite=Lax``, and ``Secure`` for https apps."""
    problems = []
    if settings.SESSION_COOKIE_HTTPONLY is not True:
        problems.append(
            _e013("SESSION_COOKIE_HTTPONLY must stay True: scripts have no business with it")
        )
    same_site = settings.SESSION_COOKIE_SAMESITE
    if not isinstance(same_site, str) or same_site.lower() != "lax":
        problems.append(
            _e013(
                f"SESSION_COOKIE_SAMESITE must be 'Lax', not {same_site!r}: 'Strict' drops the "
                "cookie on PingOne's redirect back, 'None' (or none) sends it cross-site"
            )
        )
    if (
        urlsplit(login.redirect_uri).scheme == "https"
        and settings.SESSION_COOKIE_SECURE is not True
    ):
        problems.append(_e013("SESSION_COOKIE_SECURE must be True: the REDIRECT_URI is https"))
    return problems


def _e013(message: str) -> Problem:
    return Problem("p1guard.E013", message, "The session cookie carries the sign-in.")


def _url_problems(login: LoginSettings) -> list[Problem]:
    """``p1guard.W004``: routes mounted where ``REDIRECT_URI`` points; ``W003``: ``LOGIN_URL``."""
    try:
        ours, callback = reverse("p1guard:login"), reverse("p1guard:callback")
    except (NoReverseMatch, ImportError, ImproperlyConfigured):
        return [
            Problem(
                "p1guard.W004",
                "The sign-in routes are not mounted (no URL named 'p1guard:login')",
                "Add path('auth/', include('p1guard_django.urls')) to your URLconf.",
            )
        ]
    problems = []
    redirect_path = urlsplit(login.redirect_uri).path
    if not redirect_path.endswith(callback):
        problems.append(
            Problem(
                "p1guard.W004",
                f"P1GUARD['LOGIN']['REDIRECT_URI'] points at {redirect_path!r}, but "
                f"'p1guard:callback' is mounted at {callback!r}",
                "PingOne sends the browser back to REDIRECT_URI: make it this app's callback.",
            )
        )
    try:
        resolve_url(login.login_redirect_url)
    except NoReverseMatch:
        problems.append(
            Problem(
                "p1guard.W004",
                f"P1GUARD['LOGIN']['LOGIN_REDIRECT_URL'] ({login.login_redirect_url!r}) names "
                "no URL",
                "Use a path such as '/' or the name of one of your URLs.",
            )
        )
    try:
        target = urlsplit(str(resolve_url(settings.LOGIN_URL))).path
    except NoReverseMatch:
        target = None
    if target != ours:
        problems.append(
            Problem(
                "p1guard.W003",
                f"settings.LOGIN_URL ({settings.LOGIN_URL!r}) is not the sign-in route {ours!r}",
                "Set LOGIN_URL = 'p1guard:login' so Django's login_required signs users in "
                "with PingOne.",
            )
        )
    return problems
