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
"""

from __future__ import annotations

from .auth import RequiredScopes, TokenRequest
from .conf import get_guard, get_options
from .decorators import require_token
from .middleware import BearerTokenMiddleware
from .users import TokenUser
from .views import TokenRequiredMixin

__version__ = "0.1.0"

__all__ = [
    "BearerTokenMiddleware",
    "RequiredScopes",
    "TokenRequest",
    "TokenRequiredMixin",
    "TokenUser",
    "__version__",
    "get_guard",
    "get_options",
    "require_token",
]
