"""p1guard-django: protect Django and Django REST framework APIs with PingOne access tokens.

In ``settings.py``::

    INSTALLED_APPS = [..., "p1guard_django"]
    MIDDLEWARE = [..., "p1guard_django.middleware.BearerTokenMiddleware"]
    P1GUARD = {"ENV_ID": "…", "REGION": "EU", "AUDIENCE": "https://api.example.com"}

In ``views.py``:

>>> from p1guard_django import require_token
>>> @require_token("read")
... def items(request):
...     return JsonResponse({"sub": request.access_token.subject})

DRF classes live in :mod:`p1guard_django.drf` (``pip install 'p1guard-django[drf]'``).

Signing users in with PingOne: ``P1GUARD["LOGIN"]`` (:mod:`p1guard_django.login_settings`),
``path("auth/", include("p1guard_django.urls"))``, ``LOGIN_URL = "p1guard:login"`` and
``"p1guard_django.backends.PingOneBackend"`` in ``AUTHENTICATION_BACKENDS``; then
``request.user``, Django's ``login_required``, and :func:`current_user` for PingOne's tokens.
"""

from __future__ import annotations

from p1guard_django.auth import RequiredScopes, TokenRequest
from p1guard_django.conf import get_guard, get_options, get_web_login
from p1guard_django.decorators import require_token
from p1guard_django.env import settings_from_env
from p1guard_django.login import acurrent_user, current_user, login_required
from p1guard_django.middleware import BearerTokenMiddleware
from p1guard_django.users import TokenUser
from p1guard_django.views import TokenRequiredMixin

__version__ = "0.1.0"

__all__ = [
    "BearerTokenMiddleware",
    "RequiredScopes",
    "TokenRequest",
    "TokenRequiredMixin",
    "TokenUser",
    "__version__",
    "acurrent_user",
    "current_user",
    "get_guard",
    "get_options",
    "get_web_login",
    "login_required",
    "require_token",
    "settings_from_env",
]
