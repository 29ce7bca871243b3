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

Sign users in (browser apps) with :class:`LoginRouter`::

    login = LoginRouter(WebLogin(RelyingParty(pingone, client_id=…, client_secret=…,
                                              redirect_uri="https://app/auth/callback")))
    login.install(app, secret_key=os.environ["SESSION_SECRET"])   # /auth/login, …

    @app.get("/me")
    async def me(user: Annotated[SignedInUser, Depends(login.current_user)]):
        return {"name": user.name}

>>> sorted(swagger_ui_init_oauth("spa-client-id"))
['clientId', 'usePkceWithAuthorizationCodeGrant']
"""

from p1guard_fastapi.docs import add_operation_scopes, swagger_ui_init_oauth
from p1guard_fastapi.login import LoginRequired, LoginRouter, StepUpRequired, login_required_handler
from p1guard_fastapi.security import AuthHTTPException, PingOneBearer, auth_error_handler
from p1guard_fastapi.sessions import add_session_middleware

__version__ = "0.1.0"

__all__ = [
    "AuthHTTPException",
    "LoginRequired",
    "LoginRouter",
    "PingOneBearer",
    "StepUpRequired",
    "__version__",
    "add_operation_scopes",
    "add_session_middleware",
    "auth_error_handler",
    "login_required_handler",
    "swagger_ui_init_oauth",
]
