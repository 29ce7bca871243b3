"""System checks for ``settings.P1GUARD`` (``manage.py check``; run at every ``runserver``).

The ids and what they mean are listed in :mod:`p1guard_django.validation`. Silence one with
``SILENCED_SYSTEM_CHECKS = ["p1guard.W002"]``.

>>> from django.core.management import call_command
>>> call_command("check", tags=["p1guard"])                      # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from django.apps import AppConfig, apps
from django.conf import settings
from django.core import checks
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured

from p1guard_django.conf import Options, parse
from p1guard_django.login_checks import login_problems
from p1guard_django.validation import Problem, try_build

__all__ = ["MIDDLEWARE_PATH", "check_middleware", "check_settings"]

#: The dotted path of :class:`~p1guard_django.middleware.BearerTokenMiddleware`.
MIDDLEWARE_PATH = "p1guard_django.middleware.BearerTokenMiddleware"
_AUTH_MIDDLEWARE = "django.contrib.auth.middleware.AuthenticationMiddleware"


def _message(problem: Problem) -> checks.CheckMessage:
    kind = checks.Error if problem.is_error else checks.Warning
    return kind(problem.msg, hint=problem.hint, id=problem.id)


def check_settings(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Validate ``settings.P1GUARD`` (also lets p1guard build a Guard from it, offline).

    >>> [m.id for m in check_settings()]                         # doctest: +SKIP
    ['p1guard.E001']
    """
    options, problems = parse(getattr(settings, "P1GUARD", None))
    if options is not None:
        guard = None
        # A Guard or factory of the app's own is not ours to build; a LOGIN-only app has none.
        if options.values["GUARD"] is None and options.has_bearer:
            guard, refused = try_build(options.build_guard)
            problems += refused
        if not options.has_bearer and MIDDLEWARE_PATH in _middleware():
            problems.append(
                Problem(
                    "p1guard.E001",
                    f"P1GUARD['AUDIENCE'] is required by '{MIDDLEWARE_PATH}'",
                    "Set your custom resource's audience, or remove the middleware from "
                    "MIDDLEWARE if this app only signs users in.",
                )
            )
        problems += login_problems(options, guard)
        if guard is not None:
            guard.close()
        if options.user_mapping in ("get", "create") and not apps.is_installed(
            "django.contrib.auth"
        ):
            problems.append(
                Problem(
                    "p1guard.E006",
                    f"P1GUARD['USER_MAPPING'] = {options.user_mapping!r} needs "
                    "'django.contrib.auth' in INSTALLED_APPS",
                )
            )
        else:
            problems += _user_field_problems(options)
    return [_message(problem) for problem in problems]


def _user_field_problems(options: Options) -> list[Problem]:
    """``USER_FIELD`` (or ``USERNAME_FIELD``) must be a unique field of the user model when
    users are looked up by ``sub`` (``"get"``/``"create"``, for tokens or sign-in)."""
    login_mapping = options.login.user_mapping if options.login is not None else None
    looked_up = options.user_mapping in ("get", "create") or login_mapping in ("get", "create")
    if not (looked_up or options.user_field) or not apps.is_installed("django.contrib.auth"):
        return []
    from django.contrib.auth import get_user_model

    try:
        model = get_user_model()
    except ImproperlyConfigured:  # a bad AUTH_USER_MODEL: Django's own checks report it
        return []
    name = options.user_field or cast(str, model.USERNAME_FIELD)
    label = f"P1GUARD['USER_FIELD'] = {name!r}"
    if not options.user_field:
        label = f"{model._meta.label}.USERNAME_FIELD {name!r}"
    hint = (
        f"Name a unique field of {model._meta.label} that stores the PingOne user id (sub), "
        "e.g. a CharField(unique=True)."
    )
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return [Problem("p1guard.E006", f"{label}: {model._meta.label} has no such field", hint)]
    if not getattr(field, "concrete", False) or field.many_to_many or field.one_to_many:
        return [Problem("p1guard.E006", f"{label} is not a column of {model._meta.label}", hint)]
    if not _is_unique(model, field.name):
        return [
            Problem(
                "p1guard.E006",
                f"{label} is not unique on {model._meta.label}: a subject could match "
                "several users",
                hint,
            )
        ]
    return []


def _is_unique(model: Any, name: str) -> bool:
    """Whether ``name`` alone is unique: ``unique=True``, the primary key, or a single-field
    unconditional ``UniqueConstraint`` / ``unique_together``."""
    meta = model._meta
    if meta.get_field(name).unique:
        return True
    together = [tuple(fields) for fields in meta.unique_together]
    constrained = [tuple(c.fields) for c in meta.total_unique_constraints]
    return (name,) in together + constrained


def check_middleware(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Warn when the middleware runs before ``AuthenticationMiddleware`` (which would replace
    the token's ``request.user``, set with ``USER_MAPPING``, with the session user).

    >>> [m.id for m in check_middleware()]                       # doctest: +SKIP
    ['p1guard.W002']
    """
    middleware = _middleware()
    if (
        MIDDLEWARE_PATH in middleware
        and _AUTH_MIDDLEWARE in middleware
        and middleware.index(MIDDLEWARE_PATH) < middleware.index(_AUTH_MIDDLEWARE)
    ):
        return [
            checks.Warning(
                "BearerTokenMiddleware runs before AuthenticationMiddleware, which then "
                "replaces the token's request.user with the session user",
                hint=f"Move '{MIDDLEWARE_PATH}' after '{_AUTH_MIDDLEWARE}' in MIDDLEWARE.",
                id="p1guard.W002",
            )
        ]
    return []


def _middleware() -> list[str]:
    return list(getattr(settings, "MIDDLEWARE", None) or ())
