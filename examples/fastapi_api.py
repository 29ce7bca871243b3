"""A FastAPI items API protected by PingOne access tokens with :mod:`p1guard_fastapi`.

Routes: ``GET /health`` (public), ``GET /items`` (scope ``read``), ``POST /items`` (scope
``write``, JSON ``{"name": "…"}``, answers 201), ``GET /me`` (any valid token), and the
OpenAPI docs at ``/docs`` whose "Authorize" button logs in with PingOne (PKCE).

Run it against your PingOne environment::

    pip install p1guard-fastapi uvicorn
    export P1GUARD_ENV_ID=0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0 P1GUARD_REGION=EU
    export P1GUARD_AUDIENCE=https://api.example.com     # your custom resource's audience
    export P1GUARD_SWAGGER_CLIENT_ID=SPA_APP_ID        # optional: Swagger UI's login
    uvicorn examples.fastapi_api:app
    # or: python examples/fastapi_api.py

    # a token from a worker app that may request the scope:
    TOKEN=$(P1GUARD_CLIENT_SECRET=APP_SECRET p1guard token --client-id APP_ID --scope read)
    curl -i -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8000/items

Tests build the app with :func:`create_app` and the ``pingone_mock`` fixture's Guard.
No ``from __future__ import annotations``: FastAPI resolves the routes' annotations at
runtime, and ``auth`` in ``Security(auth, ...)`` is local to :func:`create_app`.
"""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any

from fastapi import FastAPI, Security
from pydantic import BaseModel, StringConstraints

from p1guard import AccessToken, Guard
from p1guard_fastapi import PingOneBearer

__all__ = ["Item", "ItemList", "Me", "NewItem", "create_app"]

SCOPES = {"read": "List items", "write": "Create items"}


class NewItem(BaseModel):
    """The body of ``POST /items``."""

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class Item(NewItem):
    """A stored item and who created it."""

    id: int
    owner: str | None


class ItemList(BaseModel):
    """The answer of ``GET /items``."""

    items: list[Item]


class Me(BaseModel):
    """What ``GET /me`` tells about the caller's token."""

    subject: str | None
    client_id: str | None
    scopes: list[str]
    expires_at: datetime | None


def create_app(guard: Guard, *, swagger_client_id: str | None = None) -> FastAPI:
    """The items API protected by ``guard``; closes the guard's HTTP clients at shutdown.

    >>> app = create_app(Guard(PingOne.from_env(), audience="https://api.example.com"))
    ... # doctest: +SKIP
    """
    auth = PingOneBearer(guard, scopes=SCOPES, swagger_client_id=swagger_client_id)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await guard.aclose()

    app = FastAPI(title="Items API", version="1.0.0", lifespan=lifespan)
    auth.configure_docs(app)
    items: list[Item] = [Item(id=1, name="first item", owner=None)]

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/items")
    async def list_items(
        token: Annotated[AccessToken, Security(auth, scopes=["read"])],
    ) -> ItemList:
        return ItemList(items=items)

    @app.post("/items", status_code=201)
    def create_item(
        new: NewItem, token: Annotated[AccessToken, Security(auth, scopes=["write"])]
    ) -> Item:
        # A plain `def` route: FastAPI runs it in a thread pool; the token check stays async.
        item = Item(id=len(items) + 1, name=new.name, owner=token.subject or token.client_id)
        items.append(item)
        return item

    @app.get("/me")
    async def me(token: Annotated[AccessToken, Security(auth)]) -> Me:
        return Me(
            subject=token.subject,
            client_id=token.client_id,
            scopes=sorted(token.scopes),
            expires_at=token.expires_at,
        )

    return app


def app_from_env() -> FastAPI:
    """The app configured by ``P1GUARD_*`` variables (see ``p1guard_fastapi``'s README)."""
    auth = PingOneBearer.from_env()
    return create_app(auth.guard, swagger_client_id=auth.swagger_client_id)


_app: FastAPI | None = None


def __getattr__(name: str) -> Any:
    # `uvicorn examples.fastapi_api:app` reads `app`: build it from the environment on first
    # access, so importing this module (tests, `p1guard demo`) needs no configuration.
    global _app
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if _app is None:
        _app = app_from_env()
    return _app


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app_from_env(), host="127.0.0.1", port=int(os.environ.get("PORT", "8000")))
