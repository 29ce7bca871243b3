"""The sign-in views that :mod:`p1guard_django.urls` mounts (namespace ``p1guard``).

==============================  ==============================================================
route (name)                    behaviour
==============================  ==============================================================
``GET  …/login`` (login)        302 to PingOne; ``?return_to=/path`` (or Django's ``?next=``;
                                same-origin paths only) and ``acr_values``, ``max_age``,
                                ``prompt``, ``login_hint`` pass through
``GET  …/callback`` (callback)  finishes the sign-in: maps the Django user, calls
                                ``django.contrib.auth.login``, 302 to ``return_to``; refused:
                                400 page (JSON when preferred) and no session
``GET  …/logout`` (logout)      a confirmation page whose button posts both CSRF tokens
``POST …/logout``               ends the PingOne and Django sessions, 302 to PingOne signoff
==============================  ==============================================================

PingOne unreachable (or the session store down): 503 with ``Retry-After``. The pages and the
parsing of ``/login``'s query are :mod:`p1guard.rp._pages`'.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from django.contrib import auth
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import resolve_url
from django.urls import reverse
from django.utils.module_loading import import_string
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_GET, require_http_methods

from p1guard import ProviderUnavailable
from p1guard.rp import LoginError, WebLogin, safe_return_to
from p1guard.web import html_answer, login_params, logout_page
from p1guard_django.conf import get_options, get_web_login
from p1guard_django.login import session_of
from p1guard_django.login_pages import answer_response, login_error_response, no_store_redirect

__all__ = ["AccountRefused", "callback", "login", "logout"]

logger = logging.getLogger("p1guard.django")

View = TypeVar("View", bound=Callable[..., Any])


class AccountRefused(LoginError):
    """403: PingOne signed the user in, but ``USER_MAPPING`` found no active account here."""

    status_code = 403

    def __init__(self) -> None:
        super().__init__(
            "access_denied",
            "Your account may not sign in to this site",
            reason="user_not_mapped",
        )


def _public(view: View) -> View:
    """Mark ``view`` as reachable without signing in (Django 5.1+'s ``login_not_required``), so
    ``LoginRequiredMiddleware`` does not send the sign-in routes to themselves."""
    setattr(view, "login_required", False)  # noqa: B010 - the attribute Django reads
    return view


def _refused(
    request: HttpRequest, err: LoginError | ProviderUnavailable, *, title: str, retry: str
) -> HttpResponse:
    level = logging.WARNING if isinstance(err, ProviderUnavailable) else logging.INFO
    logger.log(level, "%s %r refused: %s", request.method, request.path, err.reason)
    return login_error_response(request, err, title=title, retry_url=reverse(retry))


@_public
@require_GET
def login(request: HttpRequest) -> HttpResponse:
    """``GET …/login``: start a sign-in bound to this browser's session.

    >>> reverse("p1guard:login") + "?return_to=/orders"          # doctest: +SKIP
    '/auth/login?return_to=/orders'
    """
    options = get_options()
    default = str(resolve_url(options.login.login_redirect_url if options.login else "/"))
    try:
        params = login_params(dict(request.GET.lists()), return_to_names=("return_to", "next"))
        wanted = params.pop("return_to", None)
        return_to = safe_return_to(wanted, safe_return_to(default)) if wanted else default
        start = get_web_login().login(session_of(request), return_to, **params)
    except (LoginError, ProviderUnavailable) as err:
        return _refused(request, err, title="Sign-in failed", retry="p1guard:login")
    if start.method == "POST":  # a very large request: the browser posts it to PingOne
        return HttpResponse(start.html_form(), headers={"Cache-Control": "no-store"})
    return no_store_redirect(start.url)


def _backend_path() -> str:
    """The dotted path of the first :class:`PingOneBackend` in ``AUTHENTICATION_BACKENDS``."""
    from django.conf import settings

    from p1guard_django.backends import PingOneBackend

    for path in settings.AUTHENTICATION_BACKENDS:
        try:
            backend = import_string(path)
        except ImportError:
            continue
        if isinstance(backend, type) and issubclass(backend, PingOneBackend):
            return str(path)
    raise ImproperlyConfigured(
        "p1guard.E012 sign-in needs 'p1guard_django.backends.PingOneBackend' in "
        "AUTHENTICATION_BACKENDS"
    )


def _sign_in_django_user(request: HttpRequest, web: WebLogin, path: str) -> None:
    """Map the fresh PingOne sign-in to a Django user (backend ``path``) and log it in;
    :class:`AccountRefused` when the mapping finds no active user."""
    session = session_of(request)
    pingone_user = web.user(session)
    user = None
    if pingone_user is not None:
        user = import_string(path)().authenticate(request, pingone_user=pingone_user)
    if user is None:  # no (active) account here: end the PingOne session we just started
        try:
            web.logout(session, web.csrf_token(session))
        except (LoginError, ProviderUnavailable):
            logger.warning("could not end the refused sign-in at PingOne")
        auth.logout(request)
        raise AccountRefused
    # login() rotates the session key: WebLogin cleared the session, so it holds no user.
    auth.login(request, user, backend=path)
    login = get_options().login
    if login is not None and request.session.get_expiry_age() > login.session_ttl:
        request.session.set_expiry(int(login.session_ttl))  # end with the PingOne sign-in


@_public
@require_GET
def callback(request: HttpRequest) -> HttpResponse:
    """``GET …/callback``: finish the sign-in; repeated parameters are refused."""
    web, backend = get_web_login(), _backend_path()
    try:
        target = web.callback(session_of(request), dict(request.GET.lists()))
        _sign_in_django_user(request, web, backend)
    except AccountRefused as err:
        return _refused(request, err, title="Sign-in refused", retry="p1guard:login")
    except (LoginError, ProviderUnavailable) as err:
        return _refused(request, err, title="Sign-in failed", retry="p1guard:login")
    return no_store_redirect(target)


@_public
@csrf_protect
@require_http_methods(["GET", "POST"])
def logout(request: HttpRequest) -> HttpResponse:
    """``GET``: the confirmation page; ``POST`` (form ``csrf``, and Django's
    ``csrfmiddlewaretoken``): end the session, go to PingOne's signoff."""
    web = get_web_login()
    session = session_of(request)
    if request.method != "POST":
        django_csrf = {"csrfmiddlewaretoken": get_token(request)}  # for CsrfViewMiddleware
        page = logout_page(
            reverse("p1guard:logout"), web.csrf_token(session), extra_fields=django_csrf
        )
        return answer_response(html_answer(page))
    try:
        signoff = web.logout(session, request.POST.get("csrf"))
    except LoginError as err:
        return _refused(request, err, title="Sign-out failed", retry="p1guard:logout")
    except ProviderUnavailable as err:  # the session is gone already: finish here
        auth.logout(request)
        return _refused(request, err, title="Sign-out failed", retry="p1guard:logout")
    auth.logout(request)
    return no_store_redirect(signoff)
