"""What a route requires of a verified token, and the checks of it (the Guard's step 7).

:class:`Requirements` is that one frozen value, validated once when a route is declared, and
:meth:`Requirements.authorize` the one place the order of the checks is written:

1. Scopes (:func:`require_scopes`): all of them (``match="all"``) or at least one
   (``match="any"``), else :class:`~p1guard.errors.InsufficientScope` (403).
2. Step-up, RFC 9470 (:func:`require_authentication`), when ``acr_values``/``max_age`` is set
   (here, or the Guard's fallback; ``acr_values=()`` lifts the fallback's ``acr``), else
   :class:`~p1guard.errors.InsufficientUserAuthentication` (401).
3. Claim rules (:mod:`p1guard._tokens.claims`), in order, else
   :class:`~p1guard.errors.InsufficientClaims` (403) naming the first that fails.

The Guard runs it after the token passed (its ``acr_values``/``max_age`` as the fallback);
adapters that verify once per request run it per view. A bad value raises ConfigError.

>>> from p1guard._tokens.claims import Equals
>>> needs = Requirements(scopes="read write", acr_values="Multi_Factor",
...                      claims=[Equals("department", "finance")])
>>> needs.scopes, needs.acr_values
(('read', 'write'), ('Multi_Factor',))
>>> token = AccessToken({"scope": "read write", "acr": "Multi_Factor",
...                      "department": "finance"}, token_id="ab12cd34")
>>> needs.authorize(token) is token
True
>>> needs.with_scopes(["admin"]).authorize(token)
Traceback (most recent call last):
p1guard.errors.InsufficientScope: The access token lacks the scope: admin
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from p1guard._tokens.claims import ClaimRule, check_rules, require_claims
from p1guard._tokens.tokens import AccessToken
from p1guard.errors import ConfigError, InsufficientScope, InsufficientUserAuthentication

__all__ = [
    "UNSET",
    "Loose",
    "Match",
    "Requirements",
    "require_authentication",
    "require_scopes",
    "step_up_options",
]

#: ``match=…``: the token must hold all the scopes asked for, or at least one of them.
Match = Literal["all", "any"]

#: What :meth:`Requirements.resolve` builds from: ``(scopes, match, check_revocation,
#: acr_values, max_age, claims)`` as an API's keywords took them; :data:`UNSET`: none given.
Loose = tuple[
    str | Iterable[str] | None,
    Match,
    bool | None,
    str | Iterable[str] | None,
    int | None,
    Iterable[ClaimRule] | None,
]
UNSET: Loose = (None, "all", None, None, None, None)


def _scope_set(scopes: str | Iterable[str] | None) -> frozenset[str]:
    if scopes is None:
        return frozenset()
    if isinstance(scopes, str):
        return frozenset(scopes.split())
    return frozenset(scopes)


def _match(match: object) -> Match:
    if match not in ("all", "any"):
        raise ConfigError("match", f"use 'all' or 'any', got {match!r}")
    return match


def _words(name: str, given: str | Iterable[str] | None, like: str) -> tuple[str, ...] | None:
    """``given`` as a tuple of distinct names (``None`` stays ``None``), else
    :class:`ConfigError` naming the option ``name``. Every string is space-separated for
    ``scopes`` (Flask's ``require_token("read write")``); one name each for ``acr_values``."""
    if given is None:
        return None
    if isinstance(given, str):
        return tuple(dict.fromkeys(given.split()))
    items = tuple(given)
    words: list[str] = []
    for item in items:
        split = item.split() if isinstance(item, str) else []
        if not split or (name != "scopes" and split != [item]):
            raise ConfigError(name, f"expected names like {like!r}, got {items!r}")
        words.extend(split)
    return tuple(dict.fromkeys(words))


def require_scopes(
    token: AccessToken, scopes: str | Iterable[str] | None, match: Match = "all"
) -> AccessToken:
    """Step 6 on its own: ``token`` if it holds ``scopes`` (all, or any one), else
    :class:`InsufficientScope` — for adapters that check an already verified token.

    >>> token = AccessToken({"scope": "read"}, token_id="ab12cd34")
    >>> require_scopes(token, ["read"]) is token
    True
    """
    return _check_scopes(token, _scope_set(scopes), _match(match))


def _check_scopes(token: AccessToken, wanted: frozenset[str], match: Match) -> AccessToken:
    if not wanted:
        return token
    if match == "any":
        if wanted.isdisjoint(token.scopes):
            raise InsufficientScope(sorted(wanted), match="any")
    elif not wanted <= token.scopes:
        raise InsufficientScope(sorted(wanted), sorted(wanted - token.scopes))
    return token


def _check_max_age(max_age: int | None) -> int | None:
    if max_age is not None and (
        not isinstance(max_age, int) or isinstance(max_age, bool) or max_age < 0
    ):
        raise ConfigError("max_age", f"expected a non-negative number of seconds, got {max_age!r}")
    return max_age


def step_up_options(
    acr_values: str | Iterable[str] | None, max_age: int | None
) -> tuple[tuple[str, ...] | None, int | None]:
    """``acr_values`` (a tuple; a string is space-separated) and ``max_age``, validated — for
    adapters that want a bad value refused when a route is declared, not on each request.

    >>> step_up_options("Multi_Factor", 300)
    (('Multi_Factor',), 300)
    """
    return _words("acr_values", acr_values, "Multi_Factor"), _check_max_age(max_age)


def require_authentication(
    token: AccessToken,
    acr_values: str | Iterable[str] | None = None,
    max_age: int | None = None,
    now: float | None = None,
    leeway: float = 0.0,
) -> AccessToken:
    """Step-up (RFC 9470) on its own: ``token`` if its user signed in strongly and recently
    enough, else :class:`InsufficientUserAuthentication` naming what to ask PingOne for.

    ``acr_values``: the ``acr`` claim must be one of them (empty or ``None``: any). ``max_age``:
    the ``auth_time`` claim must exist and be at most ``max_age`` (+ ``leeway``) seconds before
    ``now``. Client-credentials tokens carry neither claim, so they fail whichever is asked.

    >>> token = AccessToken({"acr": "Multi_Factor", "auth_time": 1000}, token_id="ab12cd34")
    >>> require_authentication(token, ["Multi_Factor"], max_age=300, now=1200) is token
    True
    >>> require_authentication(token, max_age=60, now=1200)
    Traceback (most recent call last):
    p1guard.errors.InsufficientUserAuthentication: More recent authentication is required
    """
    wanted, _ = step_up_options(acr_values, max_age)
    if wanted and token.get("acr") not in wanted:
        raise InsufficientUserAuthentication(
            acr_values=wanted, max_age=max_age, reason="acr_not_accepted"
        )
    if max_age is not None:
        auth_time = token.get("auth_time")
        if (
            not isinstance(auth_time, int | float)
            or isinstance(auth_time, bool)
            or auth_time != auth_time  # NaN
        ):
            raise InsufficientUserAuthentication(
                "More recent authentication is required",
                acr_values=wanted,
                max_age=max_age,
                reason="no_auth_time",
            )
        if (time.time() if now is None else now) - auth_time > max_age + leeway:
            raise InsufficientUserAuthentication(
                "More recent authentication is required",
                acr_values=wanted,
                max_age=max_age,
                reason="auth_too_old",
            )
    return token


@dataclass(frozen=True, init=False)
class Requirements:
    """What a route requires of a verified token — see the module docstring for the rules.

    ``scopes`` (names, or one space-separated string; ``None``: none), ``match`` (``"all"``
    or ``"any"``), ``check_revocation`` (``None``: the Guard's setting), ``acr_values`` and
    ``max_age`` (step-up, RFC 9470; ``None``: the Guard's), ``claims`` (claim rules).

    >>> Requirements(scopes="read", match="any")
    Requirements(scopes=('read',), match='any', check_revocation=None, acr_values=None, \
max_age=None, claims=())
    """

    scopes: tuple[str, ...] | None
    match: Match
    check_revocation: bool | None
    acr_values: tuple[str, ...] | None
    max_age: int | None
    claims: tuple[ClaimRule, ...]
    # Derived once, for the hot path: the scope set, and whether anything is checked at all.
    _wanted: frozenset[str] = field(init=False, repr=False, compare=False)
    _idle: bool = field(init=False, repr=False, compare=False)

    def __init__(
        self,
        scopes: str | Iterable[str] | None = None,
        *,
        match: Match = "all",
        check_revocation: bool | None = None,
        acr_values: str | Iterable[str] | None = None,
        max_age: int | None = None,
        claims: Iterable[ClaimRule] | None = None,
    ) -> None:
        if check_revocation is not None and not isinstance(check_revocation, bool):
            raise ConfigError(
                "check_revocation", f"expected True, False or None, got {check_revocation!r}"
            )
        acr, age = step_up_options(acr_values, max_age)
        wanted = _words("scopes", scopes, "read")
        rules = check_rules(claims)
        set_ = object.__setattr__
        set_(self, "scopes", wanted)
        set_(self, "match", _match(match))
        set_(self, "check_revocation", check_revocation)
        set_(self, "acr_values", acr)
        set_(self, "max_age", age)
        set_(self, "claims", rules)
        set_(self, "_wanted", frozenset(wanted or ()))
        set_(self, "_idle", not wanted and acr is None and age is None and not rules)

    def with_scopes(self, scopes: str | Iterable[str] | None) -> Requirements:
        """These requirements with ``scopes`` instead (e.g. a route's, from FastAPI's
        ``SecurityScopes`` or a per-method mapping); ``self`` when they are the same.

        >>> Requirements(match="any").with_scopes("read write").scopes
        ('read', 'write')
        """
        wanted = _words("scopes", scopes, "read")
        return self if wanted == self.scopes else dataclasses.replace(self, scopes=wanted)

    @classmethod
    def resolve(cls, given: Requirements | None, loose: Loose) -> Requirements:
        """``given``, or the requirements that ``loose`` — ``(scopes, match, check_revocation,
        acr_values, max_age, claims)`` — spells, for APIs that take either (such as
        :meth:`Guard.verify <p1guard.Guard.verify>`); both: :class:`ConfigError`.

        >>> Requirements.resolve(None, ("read", "any", None, None, None, None)).match
        'any'
        """
        if given is None:
            scopes, match, revocation, acr, age, claims = loose
            if revocation is None and acr is None and age is None and claims is None:
                scopes = scopes if scopes is None or isinstance(scopes, str) else tuple(scopes)
                try:
                    return _for_scopes(scopes, match)
                except TypeError:  # an unhashable value: the constructor below refuses it
                    pass
            return cls(
                scopes, match=match, check_revocation=revocation, acr_values=acr,
                max_age=age, claims=claims,
            )  # fmt: skip
        if loose != UNSET:
            raise ConfigError("requirements", "pass a Requirements or its keywords, not both")
        if not isinstance(given, Requirements):
            raise ConfigError("requirements", f"pass a p1guard.Requirements, got {given!r}")
        return given

    def authorize(
        self,
        token: AccessToken,
        acr_values: tuple[str, ...] | None = None,
        max_age: int | None = None,
        leeway: float = 0.0,
    ) -> AccessToken:
        """``token`` if it meets these requirements (rules 1–3, in that order), else the
        :class:`~p1guard.errors.AuthError` to send. ``acr_values``/``max_age`` are the
        fallback (the Guard's) for the step-up values these requirements leave ``None``;
        ``leeway`` the clock skew allowed on ``auth_time``."""
        if self._wanted:
            _check_scopes(token, self._wanted, self.match)
        acr = acr_values if self.acr_values is None else self.acr_values
        age = max_age if self.max_age is None else self.max_age
        if acr is not None or age is not None:
            require_authentication(token, acr, age, time.time(), leeway)
        if self.claims:
            require_claims(token, self.claims)
        return token


@functools.lru_cache(maxsize=1024)
def _for_scopes(scopes: tuple[str, ...] | str | None, match: Match) -> Requirements:
    """``Requirements(scopes, match=match)``, built once per distinct (hashable) value, so that
    keyword calls of :meth:`Guard.verify <p1guard.Guard.verify>` stay cheap."""
    return Requirements(scopes, match=match)
