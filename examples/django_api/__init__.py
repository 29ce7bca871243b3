"""A minimal Django project protected by PingOne access tokens (package ``django_api``).

Routes — the same API as every ``p1guard demo`` app, in three Django idioms:

=====================  ================  ===================================================
route                  needs             written as
=====================  ================  ===================================================
``GET /health``        nothing           plain function view (``PUBLIC_PATHS``)
``GET|POST /items``    ``read``/``write``  class-based view with ``TokenRequiredMixin``
``GET /me``            any token         ``async def`` view with ``@require_token``
``GET|POST /drf/items``  ``read``/``write``  DRF ``APIView`` with ``HasScopes`` per method
``GET /drf/me``        any token         DRF ``APIView`` (``request.auth`` is the token)
=====================  ================  ===================================================

Run it against your PingOne environment (from this folder)::

    export P1GUARD_ENV_ID=0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0 P1GUARD_REGION=EU
    export P1GUARD_AUDIENCE=https://api.example.com
    python manage.py check && python manage.py runserver

:func:`build_app` serves it for a given :class:`~p1guard.Guard` (``p1guard demo``);
:func:`example_settings` gives its settings, e.g. for ``override_settings`` in tests.
"""

from __future__ import annotations

from .app import build_app, example_settings

__all__ = ["build_app", "example_settings"]
