"""``PingOneBackend``: the Django user of a PingOne sign-in, for ``django.contrib.auth.login``.

>>> AUTHENTICATION_BACKENDS = [                                   # in settings.py
...     "p1guard_django.backends.PingOneBackend",
...     "django.contrib.auth.backends.ModelBackend",                 # keep for the admin, if used
... ]

After the callback, the sign-in view asks the backend for the user of the
:class:`~p1guard.rp.SignedInUser` and calls ``django.contrib.auth.login``, so ``request.user``,
Django's ``login_required`` and permissions work as usual. ``P1GUARD["LOGIN"]["USER_MAPPING"]``:

* ``"create"`` (default) — the user whose ``P1GUARD["USER_FIELD"]`` (default: the model's
  ``USERNAME_FIELD``) equals the ID token's ``sub``, created on first sign-in with an
  unusable password and ``email``, ``first_name``, ``last_name`` copied from the ``email``,
  ``given_name``, ``family_name`` claims (later sign-ins change nothing);
* ``"get"`` — the same, never creating: an unknown ``sub`` may not sign in;
* a callable or its dotted path — ``callable(signed_in_user) -> user | None``.

An inactive user (``is_active=False``) may not sign in. The backend never checks passwords:
``authenticate(request, username=…, password=…)`` returns ``None``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest

from p1guard.rp import SignedInUser
from p1guard_django.conf import get_options

__all__ = ["PROFILE_CLAIMS", "PingOneBackend", "profile_from_claims", "user_for_subject"]

#: User model fields filled from ID-token claims when a user is created.
PROFILE_CLAIMS: Mapping[str, str] = {
    "email": "email",
    "first_name": "given_name",
    "last_name": "family_name",
}


class PingOneBackend(ModelBackend):
    """Authenticate the user of a finished PingOne sign-in (``pingone_user=``); Django's
    :class:`~django.contrib.auth.backends.ModelBackend` does the rest (``get_user``,
    permissions). Subclass it and override :meth:`map_user` to map users your way.

    >>> user = PingOneBackend().authenticate(request, pingone_user=signed_in)  # doctest: +SKIP
    >>> user.username                                            # doctest: +SKIP
    'user-1'
    """

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        *,
        pingone_user: SignedInUser | None = None,
        **kwargs: Any,
    ) -> Any:
        """The active user of ``pingone_user`` per ``USER_MAPPING``, else ``None``."""
        if pingone_user is None:
            return None
        user = self.map_user(pingone_user)
        if user is None or not self.user_can_authenticate(user):
            return None
        return user

    def map_user(self, pingone_user: SignedInUser) -> Any:
        """The Django user for ``pingone_user`` (may create it), or ``None``.

        >>> PingOneBackend().map_user(signed_in)                     # doctest: +SKIP
        <User: user-1>
        """
        options = get_options()
        mapping = options.login.user_mapping if options.login is not None else "create"
        if callable(mapping):
            return mapping(pingone_user)
        if not pingone_user.subject:
            return None
        return user_for_subject(
            pingone_user.subject,
            pingone_user.claims,
            field=options.user_field,
            create=mapping == "create",
        )


def profile_from_claims(model: type[Any], claims: Mapping[str, Any]) -> dict[str, str]:
    """:data:`PROFILE_CLAIMS` the model has, from string ``claims`` (cut to the field's length).

    >>> from django.contrib.auth.models import User               # doctest: +SKIP
    >>> profile_from_claims(User, {"email": "ada@example.com", "given_name": "Ada"})
    ... # doctest: +SKIP
    {'email': 'ada@example.com', 'first_name': 'Ada'}
    """
    profile = {}
    for name, claim in PROFILE_CLAIMS.items():
        value = claims.get(claim)
        if not isinstance(value, str) or not value:
            continue
        try:
            field = model._meta.get_field(name)
        except FieldDoesNotExist:
            continue
        limit = getattr(field, "max_length", None)
        profile[name] = value[:limit] if isinstance(limit, int) else value
    return profile


def user_for_subject(
    subject: str, claims: Mapping[str, Any], *, field: str | None, create: bool
) -> Any:
    """The user whose ``field`` (default ``USERNAME_FIELD``) equals ``subject``; created from
    ``claims`` when missing and ``create`` is true. Call it from sync code.

    >>> user_for_subject("user-1", {"email": "ada@example.com"}, field=None, create=True)
    ... # doctest: +SKIP
    <User: user-1>
    """
    model = get_user_model()
    name = field or cast(str, model.USERNAME_FIELD)
    manager = model._default_manager
    try:
        return manager.get(**{name: subject})
    except model.DoesNotExist:
        if not create:
            return None
    except model.MultipleObjectsReturned:  # USER_FIELD is not unique (p1guard.E006)
        return None
    except (ValueError, TypeError, ValidationError):  # a subject the field cannot hold
        return None
    values: dict[str, Any] = {**profile_from_claims(model, claims), name: subject}
    values.setdefault(cast(str, model.USERNAME_FIELD), subject)
    user = model(**values)
    user.set_unusable_password()
    try:
        with transaction.atomic(using=manager.db):
            user.save()
    except IntegrityError:  # created concurrently by another request
        return manager.get(**{name: subject})
    return user
