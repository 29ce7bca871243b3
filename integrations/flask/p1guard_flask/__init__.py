"""p1guard-flask: protect Flask APIs with PingOne access tokens.

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
"""

from .context import current_token, get_token
from .extension import P1Guard
from .responses import ErrorHandler, auth_error_response
from .settings import guard_from_config
from .state import EXTENSION_KEY, P1GuardState

__version__ = "0.1.0"

__all__ = [
    "EXTENSION_KEY",
    "ErrorHandler",
    "P1Guard",
    "P1GuardState",
    "__version__",
    "auth_error_response",
    "current_token",
    "get_token",
    "guard_from_config",
]
