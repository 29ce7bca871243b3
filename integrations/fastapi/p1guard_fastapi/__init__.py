"""p1guard for FastAPI: PingOne access tokens as a ``Security`` dependency, shown in OpenAPI.

Example::

    from fastapi import FastAPI, Security
    from p1guard import AccessToken, Guard, PingOne
    from p1guard_fastapi import PingOneBearer

    guard = Guard(PingOne(env_id="<env-uuid>", region="EU"), audience="https://api.example.com")
    auth = PingOneBearer(guard)
    app = FastAPI()

    @app.get("/items")
    async def items(token: AccessToken = Security(auth, scopes=["read"])):
        return {"owner": token.subject}

>>> sorted(swagger_ui_init_oauth("spa-client-id"))
['clientId', 'usePkceWithAuthorizationCodeGrant']
"""

from .docs import add_operation_scopes, swagger_ui_init_oauth
from .security import AuthHTTPException, PingOneBearer, auth_error_handler

__version__ = "0.1.0"

__all__ = [
    "AuthHTTPException",
    "PingOneBearer",
    "__version__",
    "add_operation_scopes",
    "auth_error_handler",
    "swagger_ui_init_oauth",
]
