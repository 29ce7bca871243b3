"""How refused requests are answered: :func:`auth_error_response` and the handler type.

Rendering is :func:`p1guard.web.error_response`'s: JSON ``{"error", "error_description"}``
with the error's own headers (``WWW-Authenticate``, ``Cache-Control``, ``Retry-After``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Response, request
from flask.typing import ResponseReturnValue

from p1guard import AuthError
from p1guard.web import error_response, log_rejection

__all__ = ["ErrorHandler", "auth_error_response", "log_refusal"]

#: Turns an :class:`~p1guard.AuthError` into a Flask response value
#: (see :meth:`P1Guard.error_handler <p1guard_flask.P1Guard.error_handler>`).
ErrorHandler = Callable[[AuthError], ResponseReturnValue]

logger = logging.getLogger("p1guard.flask")


def auth_error_response(err: AuthError) -> Response:
    """The default rendering of ``err``: JSON body, its status and its headers.

    Useful inside a custom error handler that only adds to the default answer:

    >>> @p1.error_handler                                          # doctest: +SKIP
    ... def on_auth_error(err):
    ...     response = auth_error_response(err)
    ...     response.headers["X-Request-Id"] = g.request_id
    ...     return response
    """
    status, headers, body = error_response(err)
    return Response(body, status=status, headers=headers)


def log_refusal(err: AuthError) -> None:
    """Log a refused request: reason code, method and path; never the token or error text.

    5xx (PingOne unreachable) at WARNING, the rest at DEBUG, on the ``p1guard.flask`` logger
    (:func:`p1guard.web.log_rejection`, as the ASGI and WSGI middleware log).

    >>> log_refusal(InvalidToken(reason="expired"))                 # doctest: +SKIP
    """
    log_rejection(logger, err, request.method, request.path)
