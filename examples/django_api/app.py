"""Build the example project for a given :class:`~p1guard.Guard`: settings and an ASGI app."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, cast

from p1guard import Guard
from p1guard_django.validation import GUARD_KEYS

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def example_settings(guard: Guard) -> dict[str, Any]:
    """The example's settings with ``P1GUARD["GUARD"] = guard`` instead of the env variables.

    >>> with override_settings(**example_settings(op.guard())):   # doctest: +SKIP
    ...     Client().get("/items", HTTP_AUTHORIZATION=f"Bearer {token}")
    """
    from . import settings

    values = {name: getattr(settings, name) for name in dir(settings) if name.isupper()}
    kept = {k: v for k, v in values["P1GUARD"].items() if k not in GUARD_KEYS}
    values["P1GUARD"] = {**kept, "GUARD": guard}
    return values


class _Lifespan:
    """Django's ASGI handler plus the ``lifespan`` protocol (closing the guard at shutdown)."""

    def __init__(self, app: ASGIApp, guard: Guard) -> None:
        self.app = app
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.guard.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return


def build_app(guard: Guard) -> ASGIApp:
    """Configure Django with :func:`example_settings` and return the example's ASGI app.

    Django's settings are global to a process: call this once, before anything else
    configures Django (in tests, use ``override_settings(**example_settings(guard))``).

    >>> app = build_app(op.guard())                              # doctest: +SKIP
    >>> uvicorn.run(app)                                         # doctest: +SKIP
    """
    import django
    from django.conf import settings
    from django.core.asgi import get_asgi_application

    if settings.configured:
        raise RuntimeError(
            "Django is already configured; use override_settings(**example_settings(guard))"
        )
    settings.configure(**example_settings(guard))
    django.setup(set_prefix=False)
    return _Lifespan(cast(ASGIApp, get_asgi_application()), guard)
