"""Per-route claim rules: what a verified token must also say, beyond its scopes.

Rules (pure: no I/O, no clock):

1. A claim name is looked up as a literal key first (PingOne puts ``"p1.permissions"`` in the
   payload as one key with a dot), then as a dotted path through nested objects.
2. :class:`Equals` — the claim exists and equals ``value`` (``==``, but ``True`` never
   equals ``1``).
3. :class:`Contains` — the claim is a list holding ``value``, or a string whose
   space-separated words include it (like ``scope``). A missing claim contains nothing.
4. :class:`Predicate` — ``fn(token)`` returns ``True``; anything else (including an exception,
   which is logged, not echoed) fails the rule. ``description`` names it in the 403.
5. Rules are checked in order; the first failure raises
   :class:`~p1guard.errors.InsufficientClaims` naming the rule, with the actual value only in
   its log ``detail`` (never in the response).

>>> claims = {"p1.permissions": ["orders:read"], "department": "finance"}
>>> token = AccessToken(claims, token_id="ab12cd34")
>>> rules = [Equals("department", "finance"), Contains("p1.permissions", "orders:read")]
>>> require_claims(token, rules) is token
True
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from p1guard._tokens.tokens import AccessToken
from p1guard.errors import ConfigError, InsufficientClaims

__all__ = [
    "ClaimRule",
    "Contains",
    "Equals",
    "Predicate",
    "check_rules",
    "claim_value",
    "require_claims",
]

log = logging.getLogger("p1guard.claims")
_MISSING: Any = object()


def _same(actual: object, expected: object) -> bool:
    """``==`` without Python's ``True == 1``: a boolean only equals a boolean."""
    return isinstance(actual, bool) == isinstance(expected, bool) and actual == expected


def claim_value(claims: Mapping[str, Any], name: str) -> Any:
    """Rule 1: the value of claim ``name`` (literal key first, then a dotted path), or a
    private sentinel when absent.

    >>> claim_value({"p1.permissions": ["a"], "p1": {"permissions": ["b"]}}, "p1.permissions")
    ['a']
    >>> claim_value({"address": {"country": "DE"}}, "address.country")
    'DE'
    """
    if name in claims:
        return claims[name]
    value: Any = claims
    for part in name.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _check_name(claim: object) -> str:
    if not isinstance(claim, str) or not claim:
        raise ConfigError("claims", f"a claim name must be a non-empty string, got {claim!r}")
    return claim


@dataclass(frozen=True, slots=True)
class Equals:
    """Rule 2: claim ``claim`` equals ``value``.

    >>> Equals("department", "finance").check({"department": "finance"})
    True
    """

    claim: str
    value: Any

    def __post_init__(self) -> None:
        _check_name(self.claim)

    def check(self, claims: Mapping[str, Any]) -> bool:
        """Whether ``claims`` satisfy this rule."""
        actual = claim_value(claims, self.claim)
        return actual is not _MISSING and _same(actual, self.value)

    def __str__(self) -> str:
        return f"{self.claim} equals {self.value!r}"


@dataclass(frozen=True, slots=True)
class Contains:
    """Rule 3: claim ``claim`` (a list, or a space-separated string) holds ``value``.

    >>> Contains("groups", "admins").check({"groups": ["staff", "admins"]})
    True
    >>> Contains("scope", "read").check({"scope": "read write"})
    True
    """

    claim: str
    value: Any

    def __post_init__(self) -> None:
        _check_name(self.claim)

    def check(self, claims: Mapping[str, Any]) -> bool:
        """Whether ``claims`` satisfy this rule."""
        actual = claim_value(claims, self.claim)
        if isinstance(actual, str):
            return isinstance(self.value, str) and self.value in actual.split()
        if isinstance(actual, list | tuple):
            return any(_same(item, self.value) for item in actual)
        return False

    def __str__(self) -> str:
        return f"{self.claim} contains {self.value!r}"


@dataclass(frozen=True, slots=True)
class Predicate:
    """Rule 4: ``fn(token)`` returns ``True``; ``description`` names the rule in the 403.

    >>> rule = Predicate(lambda t: t.get("tenant") == "acme", "tenant is acme")
    >>> str(rule)
    'tenant is acme'
    """

    fn: Callable[[AccessToken], bool]
    description: str

    def __post_init__(self) -> None:
        if not callable(self.fn):
            raise ConfigError("claims", "Predicate needs a callable taking the AccessToken")
        if not isinstance(self.description, str) or not self.description:
            raise ConfigError("claims", "Predicate needs a description naming the rule")

    def __str__(self) -> str:
        return self.description


ClaimRule = Equals | Contains | Predicate


def check_rules(rules: Iterable[ClaimRule] | None) -> tuple[ClaimRule, ...]:
    """``rules`` as a tuple, each one a :data:`ClaimRule` — for adapters that want a bad rule
    refused when a route is declared, not on each request.

    >>> check_rules([Equals("department", "finance")])
    (Equals(claim='department', value='finance'),)
    """
    if rules is None:
        return ()
    if isinstance(rules, Equals | Contains | Predicate):
        return (rules,)
    result = tuple(rules)
    for rule in result:
        if not isinstance(rule, Equals | Contains | Predicate):
            raise ConfigError(
                "claims",
                f"use Equals, Contains or Predicate from p1guard._tokens.claims, got {rule!r}",
            )
    return result


def _passes(rule: ClaimRule, token: AccessToken) -> bool:
    if isinstance(rule, Predicate):
        try:
            return rule.fn(token) is True
        except Exception:  # a faulty predicate refuses; its text is logged, never sent
            log.warning("claim predicate %r raised", rule.description, exc_info=True)
            return False
    return rule.check(token.claims)


def require_claims(token: AccessToken, rules: Iterable[ClaimRule] | None) -> AccessToken:
    """Rule 5: ``token`` if it satisfies every rule, else :class:`InsufficientClaims` (403).

    >>> token = AccessToken({"groups": ["staff"]}, token_id="ab12cd34")
    >>> require_claims(token, [Contains("groups", "admins")])
    Traceback (most recent call last):
    p1guard.errors.InsufficientClaims: The access token does not satisfy: groups contains 'admins'
    """
    for rule in check_rules(rules):
        if not _passes(rule, token):
            detail: dict[str, object] = {"expected": str(rule)}
            if not isinstance(rule, Predicate):
                actual = claim_value(token.claims, rule.claim)
                detail["actual"] = "(missing)" if actual is _MISSING else actual
            raise InsufficientClaims(str(rule), detail=detail)
    return token
