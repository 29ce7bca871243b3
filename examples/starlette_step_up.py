"""Step-up sign-in (RFC 9470) in a Starlette web app: moving money needs a recent MFA sign-in.

Pages: ``GET /`` (public: who is signed in and how), ``GET /transfer`` (a form) and
``POST /transfer`` — both need a user who signed in with ``Multi_Factor`` within the last
5 minutes — plus the login routes ``/auth/login``, ``/auth/callback``, ``/auth/logout``.

How it goes: a user who signed in with a password only (``acr`` = ``Single_Factor``), or more
than 5 minutes ago, is redirected to ``/auth/login?return_to=/transfer&acr_values=Multi_Factor
&max_age=300``; PingOne asks for the second factor; the new ID token's ``acr`` and
``auth_time`` are checked at the callback, and the user lands back on ``/transfer``.
Clients that do not ask for HTML get a 401 with ``WWW-Authenticate: Bearer
error="insufficient_user_authentication", acr_values="Multi_Factor", max_age="300"``.

Run it against your PingOne environment (an "OIDC Web App" with the redirect URI below and a
sign-on policy named ``Multi_Factor``)::

    pip install 'p1guard[asgi]' itsdangerous uvicorn
    export P1GUARD_ENV_ID=0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0 P1GUARD_REGION=EU
    export P1GUARD_LOGIN_CLIENT_ID=APP_ID P1GUARD_LOGIN_CLIENT_SECRET=APP_SECRET
    export P1GUARD_LOGIN_REDIRECT_URI=http://127.0.0.1:8000/auth/callback
    export SESSION_SECRET=$(python -c "import secrets; print(secrets.token_urlsafe(32))")
    python examples/starlette_step_up.py          # then open http://127.0.0.1:8000/
"""

from __future__ import annotations

import hmac
import os
from html import escape
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from p1guard.asgi import LoginRoutes
from p1guard.rp import WebLogin
from p1guard.web import web_login_from_env

#: What moving money needs: a second factor, at most 5 minutes ago.
ACR_VALUES, MAX_AGE = ["Multi_Factor"], 300


def create_app(web: WebLogin | None = None, *, session_secret: str | None = None) -> Starlette:
    """The app; ``web`` defaults to one built from the ``P1GUARD_LOGIN_*`` environment."""
    auth = LoginRoutes(web if web is not None else web_login_from_env())
    secret = session_secret or os.environ["SESSION_SECRET"]

    async def home(request: Request) -> Response:
        user = await auth.current_user(request)
        if user is None:
            return HTMLResponse('<p>Not signed in. <a href="/auth/login">Sign in</a></p>')
        acr = escape(str(user.claims.get("acr", "?")))
        return HTMLResponse(
            f'<p>Hello {escape(user.name)} (signed in with {acr}). <a href="/transfer">'
            "Transfer money</a></p>"
        )

    @auth.login_required(acr_values=ACR_VALUES, max_age=MAX_AGE)
    async def transfer(request: Request) -> Response:
        csrf = auth.web.csrf_token(request.session)
        if request.method == "GET":
            return HTMLResponse(
                '<form method="post" action="/transfer">'
                f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
                '<input name="amount" value="100"><button type="submit">Send</button></form>'
            )
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        if not hmac.compare_digest(form.get("csrf", ""), csrf):
            return PlainTextResponse("Bad form token", status_code=403)
        amount = form.get("amount", "")
        if not (amount.isascii() and amount.isdigit()):
            return PlainTextResponse("Amount must be a whole number", status_code=400)
        return PlainTextResponse(f"Sent {int(amount)}")

    routes = [*auth.routes, Route("/", home), Route("/transfer", transfer, methods=["GET", "POST"])]
    return Starlette(routes=routes, middleware=[auth.session_middleware(secret)])


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(create_app(), host="127.0.0.1", port=int(os.environ.get("PORT", "8000")))
