"""A Starlette API protected by PingOne access tokens — the app behind ``p1guard demo``.

Routes (see :func:`p1guard._cli.demo_app.build_starlette_demo` for the code): ``GET /health``
(public),
``GET /items`` (scope ``read``), ``POST /items`` (scope ``write``), ``GET /me`` (any valid token).

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

from starlette.applications import Starlette

from p1guard import ConfigError, Guard, PingOne
from p1guard._cli.demo_app import build_starlette_demo


def create_app() -> Starlette:
    """Build the protected app from ``P1GUARD_*`` environment variables."""
    audience = os.environ.get("P1GUARD_AUDIENCE")
    if not audience:
        raise ConfigError("P1GUARD_AUDIENCE", "set it to your custom resource's audience")
    guard = Guard(PingOne.from_env(), audience=audience)
    return build_starlette_demo(guard)


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(create_app(), host="127.0.0.1", port=int(os.environ.get("PORT", "8000")))
