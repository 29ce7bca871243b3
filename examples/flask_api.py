"""A Flask API protected by PingOne access tokens, with the p1guard-flask extension.

Routes: ``GET /health`` (public), ``GET /items`` (scope ``read``), ``POST /items`` (scope
``write``, JSON ``{"name": "…"}``, answers 201), ``GET /me`` (any valid token).

Run it against your PingOne environment::

    pip install p1guard-flask
    export P1GUARD_ENV_ID=0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0 P1GUARD_REGION=EU
    export P1GUARD_AUDIENCE=https://api.example.com     # your custom resource's audience
    flask --app examples/flask_api.py run               # or: python examples/flask_api.py

    # in another shell: a token of a worker app that may request the resource's scopes
    TOKEN=$(P1GUARD_CLIENT_ID=APP_ID P1GUARD_CLIENT_SECRET=APP_SECRET p1guard token --scope read)
    curl -i -H "Authorization: Bearer $TOKEN" http://127.0.0.1:5000/items

``P1GUARD_ISSUER`` replaces ``P1GUARD_ENV_ID``/``P1GUARD_REGION`` for a custom domain; every
``P1GUARD_*`` setting of p1guard-flask may be given as an environment variable (to the API,
``P1GUARD_CLIENT_ID``/``_SECRET`` are the custom resource's credentials, used for introspection).
"""

from __future__ import annotations

import os
import threading
from typing import Any

from flask import Blueprint, Flask, current_app, request

from p1guard import Guard
from p1guard_flask import P1Guard, current_token

p1 = P1Guard()
api = Blueprint("api", __name__)


@api.get("/health")
def health() -> dict[str, str]:
    """Public: load balancers call it without a token."""
    return {"status": "ok"}


@api.get("/items")
@p1.require_token("read")
def list_items() -> dict[str, Any]:
    """The items; needs the ``read`` scope."""
    store: ItemStore = current_app.extensions["items"]
    return {"items": store.all()}


@api.post("/items")
@p1.require_token("write")
def create_item() -> tuple[dict[str, Any], int]:
    """Add an item owned by the caller; needs the ``write`` scope."""
    payload = request.get_json(silent=True)
    name = payload.get("name") if isinstance(payload, dict) else None
    if not isinstance(name, str) or not name.strip():
        return {"error": "invalid_request", "error_description": 'Send JSON {"name": "..."}'}, 400
    store: ItemStore = current_app.extensions["items"]
    owner = current_token.subject or current_token.client_id
    return store.add(name.strip(), owner), 201


@api.get("/me")
@p1.require_token()
def me() -> dict[str, Any]:
    """Who called: any valid token."""
    expires_at = current_token.expires_at
    return {
        "subject": current_token.subject,
        "client_id": current_token.client_id,
        "scopes": sorted(current_token.scopes),
        "expires_at": expires_at.isoformat() if expires_at else None,
    }


class ItemStore:
    """An in-memory list of items, safe across the threads of one process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[dict[str, Any]] = [{"id": 1, "name": "first item", "owner": None}]

    def all(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._items)

    def add(self, name: str, owner: str | None) -> dict[str, Any]:
        with self._lock:
            item = {"id": len(self._items) + 1, "name": name, "owner": owner}
            self._items.append(item)
            return item


def create_app(guard: Guard | None = None) -> Flask:
    """Build the API; without ``guard``, from the ``P1GUARD_*`` environment variables."""
    app = Flask(__name__)
    if guard is None:
        app.config.update({k: v for k, v in os.environ.items() if k.startswith("P1GUARD_")})
    p1.init_app(app, guard=guard)
    app.extensions["items"] = ItemStore()
    app.register_blueprint(api)
    return app


if __name__ == "__main__":
    create_app().run(port=int(os.environ.get("PORT", "5000")))
