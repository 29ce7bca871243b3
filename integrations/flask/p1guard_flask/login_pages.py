"""How the sign-in routes and ``@login_required`` answer: :mod:`p1guard.rp._pages`' pages and
JSON (negotiation, escaping, security headers), converted to Flask responses.
"""

from __future__ import annotations

from flask import Response, redirect, request
from werkzeug.wrappers import Response as BaseResponse

from p1guard import ProviderUnavailable
from p1guard.rp import LoginError
from p1guard.web import Answer, error_answer, login_required_answer

__all__ = [
    "answer_response",
    "login_error_response",
    "login_required_response",
    "no_store_redirect",
    "unavailable_response",
]


def answer_response(answer: Answer) -> Response:
    """A :class:`~p1guard.web.Answer` as a Flask response.

    >>> answer_response(html_answer(logout_page("/auth/logout", csrf)))  # doctest: +SKIP
    <Response 200 OK>
    """
    return Response(answer.body, status=answer.status, headers=dict(answer.headers))


def no_store_redirect(location: str) -> BaseResponse:
    """A 302 to ``location`` that no cache keeps.

    >>> no_store_redirect("/orders").headers["Location"]           # doctest: +SKIP
    '/orders'
    """
    response = redirect(location, code=302)
    response.headers["Cache-Control"] = "no-store"
    return response


def login_error_response(
    err: LoginError | ProviderUnavailable, *, title: str, retry_url: str | None
) -> Response:
    """400/403 (or 503 with ``Retry-After``): a page with a retry link, or JSON ``err.body``.

    >>> login_error_response(err, title="Sign-in failed", retry_url="/auth/login")  # doctest: +SKIP
    <Response 400 BAD REQUEST>
    """
    accept = request.headers.get("Accept", "")
    return answer_response(error_answer(err, accept, retry_url=retry_url, title=title))


def unavailable_response(err: ProviderUnavailable) -> Response:
    """503 with ``Retry-After``: a page for browsers, else the error's JSON body.

    >>> unavailable_response(ProviderUnavailable()).status_code    # doctest: +SKIP
    503
    """
    accept = request.headers.get("Accept", "")
    return answer_response(error_answer(err, accept, retry_url=None))


def login_required_response(login_url: str) -> Response:
    """Nobody signed in: browsers go to ``login_url`` (302), API clients get a 401.

    >>> login_required_response("/auth/login?return_to=/orders").status_code  # doctest: +SKIP
    302
    """
    return answer_response(login_required_answer(request.headers.get("Accept", ""), login_url))
