"""ASGI: the bearer-token middleware for any ASGI app, and Starlette login routes.

>>> from p1guard.asgi import BearerTokenMiddleware, LoginRoutes
>>> BearerTokenMiddleware.__name__, LoginRoutes.__name__
('BearerTokenMiddleware', 'LoginRoutes')
"""

from p1guard._settings import web_login_from_env
from p1guard.asgi._login import LoginRoutes
from p1guard.asgi._middleware import BearerTokenMiddleware, TokenUser, request_url

__all__ = ["BearerTokenMiddleware", "LoginRoutes", "TokenUser", "request_url", "web_login_from_env"]
