"""Value objects handed to application code: :class:`AccessToken`."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any, Literal

__all__ = ["AccessToken", "TokenSet", "TokenSource", "parse_scopes"]

TokenSource = Literal["jwt", "introspection"]


def parse_scopes(value: object) -> frozenset[str]:
    """Scopes from a ``scope`` claim: a space-separated string (RFC 8693 §4.2) or a list of strings.

    >>> sorted(parse_scopes("read write"))
    ['read', 'write']
    """
    if isinstance(value, str):
        return frozenset(value.split())
    if isinstance(value, list | tuple):
        return frozenset(item for item in value if isinstance(item, str) and item)
    return frozenset()


class AccessToken:
    """A verified access token: who it is for, what it may do, when it ends.

    Built by :class:`p1guard.Guard` after every check passed; never built from unverified input.
    The raw token is not kept: ``token_id`` is a short SHA-256 prefix, safe for logs.

    >>> token = AccessToken({"sub": "u1", "scope": "read", "exp": 2000000000}, token_id="ab12cd34")
    >>> token.subject, sorted(token.scopes), token.has_scopes(["read"])
    ('u1', ['read'], True)
    """

    __slots__ = ("_claims", "scopes", "source", "token_id")

    def __init__(
        self,
        claims: Mapping[str, Any],
        *,
        token_id: str,
        source: TokenSource = "jwt",
        scopes: frozenset[str] | None = None,
    ) -> None:
        self._claims: Mapping[str, Any] = MappingProxyType(dict(claims))
        self.scopes: frozenset[str] = (
            parse_scopes(claims.get("scope")) if scopes is None else scopes
        )
        self.source: TokenSource = source
        self.token_id = token_id

    @classmethod
    def _verified(
        cls, claims: dict[str, Any], token_id: str, source: TokenSource = "jwt"
    ) -> AccessToken:
        # Hot path: ``claims`` is a fresh dict p1guard parsed itself, so it is not copied.
        token = cls.__new__(cls)
        token._claims = MappingProxyType(claims)
        scope = claims.get("scope")
        token.scopes = frozenset(scope.split()) if type(scope) is str else parse_scopes(scope)
        token.source = source
        token.token_id = token_id
        return token

    @property
    def claims(self) -> Mapping[str, Any]:
        """All claims (read-only): JWT payload or introspection response."""
        return self._claims

    @property
    def subject(self) -> str | None:
        """``sub``: the user's id; ``None`` for client-credentials tokens."""
        sub = self._claims.get("sub")
        return sub if isinstance(sub, str) else None

    @property
    def client_id(self) -> str | None:
        """``client_id`` (or ``azp``): the application the token was issued to."""
        value = self._claims.get("client_id", self._claims.get("azp"))
        return value if isinstance(value, str) else None

    @property
    def audience(self) -> tuple[str, ...]:
        """``aud`` as a tuple, whether the token sent a string or a list."""
        aud = self._claims.get("aud")
        if isinstance(aud, str):
            return (aud,)
        if isinstance(aud, list):
            return tuple(a for a in aud if isinstance(a, str))
        return ()

    @property
    def issuer(self) -> str | None:
        """``iss``: the PingOne issuer URL."""
        iss = self._claims.get("iss")
        return iss if isinstance(iss, str) else None

    @property
    def expires_at(self) -> datetime | None:
        """``exp`` as an aware UTC datetime (``None`` if the token has no expiry)."""
        exp = self._claims.get("exp")
        if isinstance(exp, int | float) and not isinstance(exp, bool):
            return datetime.fromtimestamp(exp, tz=timezone.utc)
        return None

    @property
    def exp(self) -> float | None:
        """``exp`` as seconds since the epoch."""
        exp = self._claims.get("exp")
        if isinstance(exp, int | float) and not isinstance(exp, bool):
            return float(exp)
        return None

    def has_scopes(self, scopes: Iterable[str], match: Literal["all", "any"] = "all") -> bool:
        """Whether the token holds ``scopes``: every one (``match="all"``) or at least one."""
        wanted = frozenset(scopes)
        if not wanted:
            return True
        if match == "any":
            return not wanted.isdisjoint(self.scopes)
        return wanted <= self.scopes

    def __getitem__(self, claim: str) -> Any:
        return self._claims[claim]

    def get(self, claim: str, default: Any = None) -> Any:
        """One claim, or ``default``."""
        return self._claims.get(claim, default)

    def __repr__(self) -> str:
        return (
            f"AccessToken(subject={self.subject!r}, client_id={self.client_id!r}, "
            f"scopes={sorted(self.scopes)!r}, source={self.source!r}, token_id={self.token_id!r})"
        )


class TokenSet:
    """Tokens from PingOne's token endpoint after a sign-in or refresh.

    ``claims`` are the verified ID-token claims (empty when no ID token came back);
    ``expires_at`` is the access token's expiry in epoch seconds. Tokens never show in ``repr``.

    >>> ts = TokenSet(access_token="at", expires_at=2_000_000_000.0, scopes=frozenset({"openid"}))
    >>> ts.expires_within(60, now=1_999_999_950.0)
    True
    """

    __slots__ = (
        "access_token",
        "claims",
        "expires_at",
        "id_token",
        "refresh_token",
        "scopes",
        "token_type",
    )

    def __init__(
        self,
        *,
        access_token: str,
        expires_at: float | None = None,
        id_token: str | None = None,
        refresh_token: str | None = None,
        scopes: frozenset[str] = frozenset(),
        claims: Mapping[str, Any] | None = None,
        token_type: str = "Bearer",  # noqa: S107 - the OAuth token type, not a secret
    ) -> None:
        self.access_token = access_token
        self.id_token = id_token
        self.refresh_token = refresh_token
        self.expires_at = expires_at
        self.scopes = scopes
        self.claims: Mapping[str, Any] = MappingProxyType(dict(claims or {}))
        self.token_type = token_type

    @property
    def subject(self) -> str | None:
        """The user's ``sub`` from the ID token."""
        sub = self.claims.get("sub")
        return sub if isinstance(sub, str) else None

    def expires_within(self, seconds: float, now: float | None = None) -> bool:
        """Whether the access token expires in under ``seconds`` (False if expiry unknown)."""
        if self.expires_at is None:
            return False
        current = time.time() if now is None else now
        return self.expires_at - current < seconds

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict for server-side session stores (it holds secrets: never a cookie)."""
        return {
            "access_token": self.access_token,
            "id_token": self.id_token,
            "refresh_token": self.refresh_token,
            "expires_at": self.expires_at,
            "scopes": sorted(self.scopes),
            "claims": dict(self.claims),
            "token_type": self.token_type,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TokenSet:
        """Inverse of :meth:`to_dict`."""
        expires_at = data.get("expires_at")
        return cls(
            access_token=str(data["access_token"]),
            id_token=data.get("id_token"),
            refresh_token=data.get("refresh_token"),
            expires_at=None if expires_at is None else float(expires_at),
            scopes=frozenset(data.get("scopes") or ()),
            claims=data.get("claims") or {},
            token_type=str(data.get("token_type") or "Bearer"),
        )

    def __repr__(self) -> str:
        return (
            f"TokenSet(subject={self.subject!r}, scopes={sorted(self.scopes)!r}, "
            f"expires_at={self.expires_at!r}, "
            f"refresh_token={'yes' if self.refresh_token else 'no'})"
        )
