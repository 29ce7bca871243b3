"""The sign-in routes; mount them under a prefix of your choice (``auth/`` by convention).

>>> urlpatterns = [                                               # in urls.py
...     path("auth/", include("p1guard_django.urls")),            # /auth/login, /auth/callback…
... ]

URL names, in the ``p1guard`` namespace: ``p1guard:login``, ``p1guard:callback``,
``p1guard:logout``. Set ``LOGIN_URL = "p1guard:login"`` so Django's ``login_required`` uses
them, and ``P1GUARD["LOGIN"]["REDIRECT_URI"]`` to the full URL of ``p1guard:callback``.
"""

from __future__ import annotations

from django.urls import path

from p1guard_django import login_views

__all__ = ["app_name", "urlpatterns"]

app_name = "p1guard"

urlpatterns = [
    path("login", login_views.login, name="login"),
    path("callback", login_views.callback, name="callback"),
    path("logout", login_views.logout, name="logout"),
]
