"""Settings of the example project; PingOne comes from ``P1GUARD_*`` environment variables."""

from __future__ import annotations

import os

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-not-a-secret")
DEBUG = os.environ.get("DJANGO_DEBUG") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]", "testserver"]
USE_TZ = True

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "rest_framework",
    "p1guard_django",  # system checks for P1GUARD
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "p1guard_django.middleware.BearerTokenMiddleware",
]

ROOT_URLCONF = "django_api.urls"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

P1GUARD = {
    "ENV_ID": os.environ.get("P1GUARD_ENV_ID") or None,
    "REGION": os.environ.get("P1GUARD_REGION") or "NA",
    "ISSUER": os.environ.get("P1GUARD_ISSUER") or None,  # custom domain instead of ENV_ID
    "AUDIENCE": os.environ.get("P1GUARD_AUDIENCE") or None,
    # Every path needs a valid token except /health; views add their scopes.
    "PROTECTED_PATHS": ["/"],
    "PUBLIC_PATHS": ["/health"],
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["p1guard_django.drf.PingOneTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["p1guard_django.drf.HasScopes"],
    "EXCEPTION_HANDLER": "p1guard_django.drf.exception_handler",
    "UNAUTHENTICATED_USER": None,
}
