"""Shared helpers of the p1guard_django tests (a uniquely named module, not ``conftest``, so
test folders cannot shadow each other's helpers): the Django test settings and small helpers.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import django
from django.conf import settings

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

TEST_SETTINGS: dict[str, Any] = {
    "SECRET_KEY": "p1guard-django-tests-only",
    "ALLOWED_HOSTS": ["testserver", "127.0.0.1", "localhost"],
    "USE_TZ": True,
    "INSTALLED_APPS": [
        "django.contrib.contenttypes",
        "django.contrib.auth",
        "django.contrib.sessions",
        "rest_framework",
        "p1guard_django",
    ],
    "MIDDLEWARE": [
        "django.middleware.common.CommonMiddleware",
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "p1guard_django.middleware.BearerTokenMiddleware",
    ],
    "ROOT_URLCONF": "django_app",
    # A named in-memory database shared by every thread (sync_to_async runs in a worker).
    "DATABASES": {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": "file:p1guard_django_tests?mode=memory&cache=shared",
        }
    },
    "DEFAULT_AUTO_FIELD": "django.db.models.AutoField",
    "REST_FRAMEWORK": {
        "DEFAULT_AUTHENTICATION_CLASSES": ["p1guard_django.drf.PingOneTokenAuthentication"],
        "DEFAULT_PERMISSION_CLASSES": ["p1guard_django.drf.HasScopes"],
        "EXCEPTION_HANDLER": "p1guard_django.drf.exception_handler",
        "UNAUTHENTICATED_USER": None,
    },
    "P1GUARD": {"ISSUER": "http://127.0.0.1:9/unused/as", "AUDIENCE": "https://api.example.com"},
}


def configure_django() -> None:
    """Configure Django with :data:`TEST_SETTINGS` and migrate, unless already configured."""
    if settings.configured:
        return
    settings.configure(**TEST_SETTINGS)
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


#: The ``p1guard`` fixture: call it with ``P1GUARD`` keys to change for the running test.
Use = Callable[..., dict[str, Any]]


def bearer(token: str) -> dict[str, str]:
    """``headers=`` for Django's test clients."""
    return {"Authorization": f"Bearer {token}"}
