"""``BearerTokenMiddleware``: verify the bearer token of every request, reject on protected paths.

>>> MIDDLEWARE = [                                                # in settings.py
...     # … SessionMiddleware, CsrfViewMiddleware,
...     "django.contrib.auth.middleware.AuthenticationMiddleware",
...     "p1guard_django.middleware.BearerTokenMiddleware",       # after AuthenticationMiddleware
... ]
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import cast

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest
from django.http.response import HttpResponseBase

from p1guard_django.auth import Outcome, attach, averify, error_response_for, verify
from p1guard_django.conf import Options, get_options

__all__ = ["BearerTokenMiddleware", "is_protected"]

GetResponse = Callable[[HttpRequest], HttpResponseBase | Awaitable[HttpResponseBase]]


def is_protected(path: str, options: Options) -> bool:
    """Whether ``path`` needs a valid token: it matches a ``PROTECTED_PATHS`` entry and no
    ``PUBLIC_PATHS`` entry.

    Both use the same entries (``"/metrics"`` exact, ``"/api/*"`` — or ``"/api/"`` — for
    ``/api`` and below). Fail closed: a path is also protected when a normalised spelling of
    it (dot segments, repeated slashes, backslashes, percent-encoding resolved — as a proxy
    might) matches (see :class:`~p1guard_django.paths.ProtectedPaths`); ``PUBLIC_PATHS`` only
    match plain paths (see :class:`~p1guard.web.PathMatcher`).

    >>> is_protected("/api/../admin/x", get_options())           # doctest: +SKIP
    """
    protected = options.protected_paths
    if not protected or options.public_paths.matches(path):
        return False
    return protected.matches(path)


class BearerTokenMiddleware:
    """Attach ``request.access_token`` (an :class:`~p1guard.AccessToken` or ``None``).

    * Every request's ``Authorization: Bearer`` token is verified (sync or async, as the
      middleware chain runs). A valid one is attached; with ``P1GUARD["USER_MAPPING"]`` set,
      ``request.user`` becomes its user too (the mapped Django user, or a
      :class:`~p1guard_django.users.TokenUser`). Without one ``request.user`` is left alone,
      so Django's ``login_required`` does not accept a token of any scope.
    * On paths matching ``P1GUARD["PROTECTED_PATHS"]`` (minus ``PUBLIC_PATHS``) a missing or bad
      token is answered here: JSON ``{"error", "error_description"}`` with the error's status
      (400/401/503) and ``WWW-Authenticate``; the view never runs.
    * Elsewhere the request goes on with ``access_token = None`` — a bad token is never
      attached — and :func:`~p1guard_django.decorators.require_token` or the DRF classes
      reuse the result (the token is verified once per request).
    * ``PUBLIC_PATHS`` are not checked at all.

    >>> P1GUARD = {..., "PROTECTED_PATHS": ["/api/*"], "PUBLIC_PATHS": ["/api/health"]}
    ... # doctest: +SKIP
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        if self.async_mode:
            return self.__acall__(request)
        options = get_options()
        if options.public_paths.matches(request.path_info):
            attach(request, None)
            return self.get_response(request)
        outcome = verify(request)
        rejected = self._reject(request, outcome, options)
        if rejected is not None:
            return rejected
        return self.get_response(request)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        options = get_options()
        if options.public_paths.matches(request.path_info):
            attach(request, None)
        else:
            outcome = await averify(request)
            rejected = self._reject(request, outcome, options)
            if rejected is not None:
                return rejected
        return await cast(Awaitable[HttpResponseBase], self.get_response(request))

    @staticmethod
    def _reject(
        request: HttpRequest, outcome: Outcome, options: Options
    ) -> HttpResponseBase | None:
        attach(request, outcome)
        if outcome.error is not None and is_protected(request.path_info, options):
            return error_response_for(outcome.error, request)
        return None
