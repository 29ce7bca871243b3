"""A Starlette API protected by PingOne access tokens — the app behind ``p1guard demo``.

Routes: ``GET /health`` (public), ``GET /items`` (scope ``read``), ``POST /items`` (scope
``write``), ``GET /me`` (any valid token). The middleware checks every token; each route
checks its scopes with :func:`p1guard.web.require_scopes`, and a refusal renders itself (status,
``WWW-Authenticate`` stamped by the Guard, JSON body).

Run it against your PingOne environment::

    pip install 'p1guard[demo]'
    export P1GUARD_ENV_ID=0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0 P1GUARD_REGION=EU
    export P1GUARD_AUDIENCE=https://api.example.com     # your custom resource's audience
    python examples/starlette_api.py
    # or: uvicorn --factory examples.starlette_api:create_app

    # a token for a worker app that may request the resource's scopes:
    export P1GUARD_CLIENT_ID=APP_ID P1GUARD_CLIENT_SECRET=APP_SECRET
    TOKEN=$(p1guard token --scope read)
    curl -i -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8000/items

No PingOne environment at hand? ``p1guard demo`` serves the same app against a local mock.
``P1GUARD_ISSUER`` replaces ``P1GUARD_ENV_ID``/``P1GUARD_REGION`` for a custom domain.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from p1guard import AuthError, ConfigError, Guard, PingOne
from p1guard.asgi import BearerTokenMiddleware
from p1guard.web import require_scopes

ITEMS: list[str] = ["first"]


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def list_items(request: Request) -> Response:
    require_scopes(request.state.access_token, ["read"])
    return JSONResponse({"items": ITEMS})


async def create_item(request: Request) -> Response:
    require_scopes(request.state.access_token, ["write"])
    payload = await request.json()
    ITEMS.append(str(payload.get("name", "")))
    return JSONResponse({"items": ITEMS}, status_code=201)


async def me(request: Request) -> Response:
    token = request.state.access_token
    return JSONResponse({"subject": token.subject, "scopes": sorted(token.scopes)})


def create_app() -> Starlette:
    """Build the protected app from ``P1GUARD_*`` environment variables."""
    audience = os.environ.get("P1GUARD_AUDIENCE")
    if not audience:
        raise ConfigError("P1GUARD_AUDIENCE", "set it to your custom resource's audience")
    guard = Guard(PingOne.from_env(), audience=audience)

    async def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, AuthError)
        err = guard.challenge(exc)  # realm, RFC 9728 and DPoP challenge rules
        return Response(err.json_bytes(), err.status_code, err.headers, "application/json")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await guard.aclose()  # the Guard's HTTP clients

    return Starlette(
        routes=[
            Route("/health", health),
            Route("/items", list_items, methods=["GET"]),
            Route("/items", create_item, methods=["POST"]),
            Route("/me", me),
        ],
        middleware=[Middleware(BearerTokenMiddleware, guard=guard, public_paths=["/health"])],
        exception_handlers={AuthError: refused},
        lifespan=lifespan,
    )


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(create_app(), host="127.0.0.1", port=int(os.environ.get("PORT", "8000")))
