"""The user of a verified token: a :class:`TokenUser`, or a mapped Django user.

DRF's ``request.user`` is always this user. Django's own ``request.user`` (what
``login_required`` and ``permission_required`` look at) is replaced by it only when
``USER_MAPPING`` is set: a token is not a Django login.

``P1GUARD["USER_MAPPING"]``:

* ``None`` (default) — a :class:`TokenUser` for DRF (no database access); Django's
  ``request.user`` stays the session's. ``"p1guard_django.TokenUser"`` sets it to the
  :class:`TokenUser` as well.
* ``"get"`` — the user whose ``USER_FIELD`` (default: the model's ``USERNAME_FIELD``, which
  must be unique: system check ``p1guard.E006``) equals the token's ``sub``; no such user,
  several, or an inactive one, → 401 ``invalid_token``.
* ``"create"`` — the same, creating the user (unusable password) on first sight.
* a callable or its dotted path — ``callable(token) -> user | None``; ``None`` → 401.

With ``"get"``/``"create"``, client-credentials tokens (no ``sub``: a machine, not a person)
get a :class:`TokenUser`; a callable sees every token.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal, cast

from p1guard import AccessToken, InvalidToken

if TYPE_CHECKING:
    from p1guard_django.conf import Options

__all__ = ["TokenUser", "user_for"]

logger = logging.getLogger("p1guard.django")


class TokenUser:
    """The user of a verified token when no Django user is mapped (like ``AnonymousUser``, but
    authenticated): DRF's ``request.user``, and Django's with
    ``USER_MAPPING = "p1guard_django.TokenUser"``.

    It has no database row (``pk``/``id`` are ``None``) and no Django permissions; use the
    token's scopes instead.

    >>> user = TokenUser(AccessToken({"sub": "u1", "scope": "read"}, token_id="ab12cd34"))
    >>> user.is_authenticated, user.username, user.has_scopes(["read"]), user.pk
    (True, 'u1', True, None)
    """

    id = None
    pk = None
    is_active = True
    is_staff = False
    is_superuser = False
    is_anonymous = False
    is_authenticated = True

    def __init__(self, token: AccessToken) -> None:
        self.token = token
        #: The subject, or the client id of a client-credentials token.
        self.username: str = token.subject or token.client_id or ""

    @property
    def scopes(self) -> frozenset[str]:
        """The token's scopes."""
        return self.token.scopes

    def has_scopes(self, scopes: Iterable[str], match: Literal["all", "any"] = "all") -> bool:
        """Whether the token holds ``scopes`` (all of them, or ``match="any"``)."""
        return self.token.has_scopes(scopes, match)

    def get_username(self) -> str:
        """Same as :attr:`username`."""
        return self.username

    def get_all_permissions(self, obj: object = None) -> set[str]:
        """Always empty: a token user has no Django permissions."""
        return set()

    def has_perm(self, perm: str, obj: object = None) -> bool:
        """Always ``False``."""
        return False

    def has_perms(self, perm_list: Iterable[str], obj: object = None) -> bool:
        """Always ``False``."""
        return False

    def has_module_perms(self, app_label: str) -> bool:
        """Always ``False``."""
        return False

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TokenUser) and other.token.token_id == self.token.token_id

    def __hash__(self) -> int:
        return hash(self.token.token_id)

    def __str__(self) -> str:
        return self.username

    def __repr__(self) -> str:
        return f"<TokenUser {self.username!r}>"


_UNKNOWN = "The token's subject has no active account here"


def user_for(token: AccessToken, options: Options) -> Any:
    """The user for ``token`` per ``USER_MAPPING`` (may query the database: call it in sync code).

    Raises :class:`~p1guard.InvalidToken` (401) when the mapping finds no active user.

    >>> user_for(token, get_options())                           # doctest: +SKIP
    <TokenUser 'user-1'>
    """
    mapping = options.user_mapping
    if mapping is None:
        return TokenUser(token)
    if callable(mapping):
        user = mapping(token)
    elif token.subject is None:
        return TokenUser(token)
    else:
        user = _lookup(token.subject, options.user_field, create=mapping == "create")
    if user is None or not getattr(user, "is_active", True):
        raise InvalidToken(_UNKNOWN, reason="unknown_user")
    return user


def _lookup(subject: str, field: str | None, *, create: bool) -> Any:
    from django.contrib.auth import get_user_model
    from django.core.exceptions import ValidationError
    from django.db import IntegrityError, transaction

    model = get_user_model()
    name = field or cast(str, model.USERNAME_FIELD)
    lookup = {name: subject}
    manager = model._default_manager
    try:
        return manager.get(**lookup)
    except model.DoesNotExist:
        if not create:
            return None
    except model.MultipleObjectsReturned:
        # USER_FIELD is not unique (system check p1guard.E006): refuse, never guess a user.
        logger.warning("several users have %s == the token's sub: refused (p1guard.E006)", name)
        raise InvalidToken(_UNKNOWN, reason="ambiguous_user") from None
    except (ValueError, TypeError, ValidationError):  # a subject the field cannot hold
        return None
    user = model(**lookup)
    user.set_unusable_password()
    try:
        with transaction.atomic(using=manager.db):
            user.save()
    except IntegrityError:  # created concurrently by another request
        return manager.get(**lookup)
    return user
