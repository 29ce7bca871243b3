"""How the sign-in routes and :func:`~p1guard_django.login.login_required` answer:
:mod:`p1guard.rp._pages`' pages and JSON (negotiation, escaping, security headers), converted to
Django responses.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from p1guard import InsufficientUserAuthentication, ProviderUnavailable
from p1guard.rp import LoginError
from p1guard.web import Answer, error_answer, login_required_answer, step_up_answer

__all__ = [
    "answer_response",
    "login_error_response",
    "login_required_response",
    "no_store_redirect",
    "step_up_response",
    "unavailable_response",
]


def answer_response(answer: Answer) -> HttpResponse:
    """A :class:`~p1guard.web.Answer` as a Django response.

    >>> answer_response(html_answer(logout_page("/auth/logout", csrf)))  # doctest: +SKIP
    <HttpResponse status_code=200, "text/html; charset=utf-8">
    """
    return HttpResponse(answer.body, status=answer.status, headers=dict(answer.headers))


def no_store_redirect(location: str) -> HttpResponseRedirect:
    """A 302 to ``location`` that no cache keeps.

    >>> no_store_redirect("/orders")["Location"]
    '/orders'
    """
    response = HttpResponseRedirect(location)
    response["Cache-Control"] = "no-store"
    return response


def login_error_response(
    request: HttpRequest,
    err: LoginError | ProviderUnavailable,
    *,
    title: str,
    retry_url: str | None,
) -> HttpResponse:
    """400/403 (or 503 with ``Retry-After``): a page with a retry link, or JSON ``err.body``.

    >>> login_error_response(request, err, title="Sign-in failed", retry_url="/auth/login")
    ... # doctest: +SKIP
    <HttpResponse status_code=400, "text/html; charset=utf-8">
    """
    accept = request.headers.get("Accept", "")
    return answer_response(error_answer(err, accept, retry_url=retry_url, title=title))


def unavailable_response(request: HttpRequest, err: ProviderUnavailable) -> HttpResponse:
    """503 with ``Retry-After``: a page for browsers, else the error's JSON body.

    >>> unavailable_response(request, ProviderUnavailable()).status_code  # doctest: +SKIP
    503
    """
    accept = request.headers.get("Accept", "")
    return answer_response(error_answer(err, accept, retry_url=None))


def login_required_response(request: HttpRequest, login_url: str) -> HttpResponse:
    """Not signed in: browsers go to ``login_url`` (302), API clients get 401 JSON.

    >>> login_required_response(request, "/auth/login?return_to=/orders").status_code
    ... # doctest: +SKIP
    302
    """
    accept = request.headers.get("Accept", "")
    return answer_response(login_required_answer(accept, login_url))


def step_up_response(
    request: HttpRequest, login_url: str, err: InsufficientUserAuthentication
) -> HttpResponse:
    """Signed in, but not strongly or recently enough (RFC 9470): browsers go to ``login_url``
    (302, see :func:`p1guard.web.step_up_login_url`), API clients get 401 with ``err``'s
    ``insufficient_user_authentication`` challenge.

    >>> step_up_response(request, "/auth/login?acr_values=Multi_Factor", err).status_code
    ... # doctest: +SKIP
    302
    """
    accept = request.headers.get("Accept", "")
    return answer_response(step_up_answer(accept, login_url, err))
