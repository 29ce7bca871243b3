"""The Django app config: add ``"p1guard_django"`` to ``INSTALLED_APPS`` for the system checks.

>>> INSTALLED_APPS = [..., "p1guard_django"]                     # doctest: +SKIP
"""

from __future__ import annotations

from django.apps import AppConfig
from django.core import checks

__all__ = ["P1GuardConfig"]


class P1GuardConfig(AppConfig):
    """Registers the ``p1guard`` system checks (:mod:`p1guard_django.checks`).

    No models, no migrations; the app label is ``p1guard``.

    >>> INSTALLED_APPS = [..., "p1guard_django.apps.P1GuardConfig"]   # same as "p1guard_django"
    """

    name = "p1guard_django"
    label = "p1guard"
    verbose_name = "p1guard (PingOne bearer tokens)"

    def ready(self) -> None:
        """Register the checks under the ``p1guard`` tag (``manage.py check --tag p1guard``)."""
        from p1guard_django.checks import check_middleware, check_settings

        checks.register(check_settings, "p1guard")
        checks.register(check_middleware, "p1guard")
