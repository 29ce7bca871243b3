"""p1guard-flask: protect Flask APIs with PingOne access tokens, and sign users in.

>>> from flask import Flask
>>> from p1guard_flask import P1Guard, current_token
>>> app = Flask(__name__)
>>> app.config.update(P1GUARD_ENV_ID="0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
...                   P1GUARD_REGION="EU", P1GUARD_AUDIENCE="https://api.example.com")
>>> p1 = P1Guard(app)
>>> @app.get("/items")
... @p1.require_token("read")
... def list_items():
...     return {"owner": current_token.subject}

Refused requests get RFC 6750 answers: a JSON ``{"error", "error_description"}`` body with
``WWW-Authenticate`` (401/403), ``Cache-Control: no-store`` and, for 503, ``Retry-After``.

Signing users in (no audience needed; ``/auth/login``, ``/auth/callback``, ``/auth/logout``):

>>> site = Flask(__name__)
>>> site.config.update(SECRET_KEY="change-me",
...                    P1GUARD_ENV_ID="0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
...                    P1GUARD_LOGIN_CLIENT_ID="web-app", P1GUARD_LOGIN_CLIENT_SECRET="s3cr3t",
...                    P1GUARD_LOGIN_REDIRECT_URI="https://app.example.com/auth/callback")
>>> p1.init_login(site)
>>> @site.get("/profile")
... @p1.login_required
... def profile():
...     return {"name": current_user.name}
"""

from p1guard_flask.context import current_token, get_token
from p1guard_flask.extension import P1Guard
from p1guard_flask.login import LOGIN_EXTENSION_KEY, LoginState
from p1guard_flask.login_settings import web_login_from_config
from p1guard_flask.responses import ErrorHandler, auth_error_response
from p1guard_flask.settings import guard_from_config
from p1guard_flask.state import EXTENSION_KEY, P1GuardState
from p1guard_flask.user import aget_user, current_user, get_user

__version__ = "0.1.0"

__all__ = [
    "EXTENSION_KEY",
    "LOGIN_EXTENSION_KEY",
    "ErrorHandler",
    "LoginState",
    "P1Guard",
    "P1GuardState",
    "__version__",
    "aget_user",
    "auth_error_response",
    "current_token",
    "current_user",
    "get_token",
    "get_user",
    "guard_from_config",
    "web_login_from_config",
]
