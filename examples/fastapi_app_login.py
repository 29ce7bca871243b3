"""A FastAPI web app that signs users in with PingOne through :class:`p1guard_fastapi.LoginRouter`.

Routes: ``GET /`` (public; greets the signed-in user), ``GET /profile`` (an HTML page that needs
sign-in: browsers are redirected to PingOne), ``GET /api/me`` (JSON; 401 ``login_required`` when
signed out), and the login routes ``/auth/login``, ``/auth/callback``, ``/auth/logout``.

Run it against your PingOne environment (a *Web App* with redirect URI
``http://127.0.0.1:8000/auth/callback`` and sign-off URL ``http://127.0.0.1:8000/``)::

    pip install p1guard-fastapi itsdangerous uvicorn
    export P1GUARD_ENV_ID=0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0 P1GUARD_REGION=EU
    export P1GUARD_LOGIN_CLIENT_ID=WEB_APP_ID P1GUARD_LOGIN_CLIENT_SECRET=WEB_APP_SECRET
    export P1GUARD_LOGIN_REDIRECT_URI=http://127.0.0.1:8000/auth/callback
    export P1GUARD_LOGIN_POST_LOGOUT_REDIRECT_URI=http://127.0.0.1:8000/
    export SESSION_SECRET=$(python -c 'import secrets; print(secrets.token_urlsafe(32))')
    uvicorn examples.fastapi_app_login:app

No ``from __future__ import annotations``: FastAPI resolves the routes' annotations at runtime,
and ``login`` in ``Depends(login.current_user)`` is local to :func:`create_app`.
"""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from html import escape
from typing import Annotated, Any

from fastapi import Depends, FastAPI
from fastapi.responses import HTMLResponse

from p1guard.rp import SignedInUser
from p1guard_fastapi import LoginRouter

__all__ = ["create_app"]


def create_app(login: LoginRouter, *, secret_key: str) -> FastAPI:
    """The app, signing users in through ``login``; closes its connections at shutdown.

    >>> app = create_app(LoginRouter.from_env(), secret_key=os.environ["SESSION_SECRET"])
    ... # doctest: +SKIP
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await login.aclose()

    app = FastAPI(title="Login example", lifespan=lifespan)
    login.install(app, secret_key=secret_key)

    @app.get("/", response_class=HTMLResponse)
    async def home(user: Annotated[SignedInUser | None, Depends(login.optional_user)]) -> str:
        if user is None:
            return '<p>Hello, guest. <a href="/auth/login?return_to=/profile">Sign in</a></p>'
        return (
            f"<p>Hello, {escape(user.name)}. <a href='/profile'>Profile</a> · "
            "<a href='/auth/logout'>Sign out</a></p>"
        )

    @app.get("/profile", response_class=HTMLResponse)
    async def profile(
        user: Annotated[SignedInUser, Depends(login.current_user)],
        csrf: Annotated[str, Depends(login.csrf_token)],
    ) -> str:
        claims = "".join(
            f"<li>{escape(name)}: {escape(str(value))}</li>" for name, value in user.claims.items()
        )
        return (
            f"<h1>{escape(user.name)}</h1><ul>{claims}</ul>"
            '<form method="post" action="/auth/logout">'
            f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
            '<button type="submit">Sign out</button></form>'
        )

    @app.get("/api/me")
    async def me(user: Annotated[SignedInUser, Depends(login.current_user)]) -> dict[str, Any]:
        # user.access_token is fresh (refreshed before expiry): use it to call your APIs.
        return {"subject": user.subject, "name": user.name}

    return app


def app_from_env() -> FastAPI:
    """The app configured by ``P1GUARD_*`` variables and ``SESSION_SECRET``."""
    return create_app(LoginRouter.from_env(), secret_key=os.environ["SESSION_SECRET"])


_app: FastAPI | None = None


def __getattr__(name: str) -> Any:
    # `uvicorn examples.fastapi_app_login:app` reads `app`: build it from the environment on
    # first access, so importing this module (tests) needs no configuration.
    global _app
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if _app is None:
        _app = app_from_env()
    return _app


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app_from_env(), host="127.0.0.1", port=int(os.environ.get("PORT", "8000")))
