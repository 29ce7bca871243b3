"""Errors of the login flow: what went wrong, safe to show, never carrying a code or token.

* :class:`LoginError` (400): a sign-in could not be completed.
* :class:`UserinfoInvalidToken` (401, an :class:`~p1guard.InvalidToken`) and
  :class:`UserinfoInsufficientScope` (403, an :class:`~p1guard.InsufficientScope`): PingOne's
  userinfo endpoint refused the access token — the token is at fault, not PingOne's health.
"""

from __future__ import annotations

from collections.abc import Iterable

from p1guard.errors import InsufficientScope, InvalidToken, P1GuardError

__all__ = [
    "LoginError",
    "PushedAuthorizationError",
    "UserinfoInsufficientScope",
    "UserinfoInvalidToken",
]

#: Longest provider ``error`` and ``error_description`` kept from a refusal.
ERROR_LIMIT = 64
DESCRIPTION_LIMIT = 200


def _printable(text: str, limit: int = 300) -> str:
    return "".join(ch for ch in text if 0x20 <= ord(ch) <= 0x7E)[:limit]


class LoginError(P1GuardError):
    """A sign-in could not be completed; answer the browser with a 400 page.

    ``error`` is an OAuth error code (PingOne's, e.g. ``access_denied``, or p1guard's own:
    ``invalid_state``, ``invalid_issuer``, ``invalid_id_token``, ``expired_login`` …);
    ``reason`` a finer machine-readable cause for logs; ``description`` safe to show.

    >>> err = LoginError("invalid_state", "The login state does not match", reason="state_mismatch")
    >>> err.status_code, err.error, str(err)
    (400, 'invalid_state', 'invalid_state: The login state does not match')
    """

    status_code = 400

    def __init__(self, error: str, description: str | None = None, *, reason: str | None = None):
        self.error = _printable(error, 64) or "login_failed"
        self.description = _printable(description or "The sign-in could not be completed")
        self.reason = reason or self.error
        super().__init__(f"{self.error}: {self.description}")

    @property
    def body(self) -> dict[str, str]:
        """The JSON body ``{"error", "error_description"}``."""
        return {"error": self.error, "error_description": self.description}

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.error!r}, {self.description!r}, reason={self.reason!r})"
        )


class PushedAuthorizationError(LoginError):
    """PingOne refused the pushed authorization request (RFC 9126), e.g. a bad redirect URI."""


def _error_code(value: object) -> str | None:
    """An RFC 6749 §5.2 error code (NQSCHAR, at most :data:`ERROR_LIMIT`), else ``None``."""
    if not isinstance(value, str):
        return None
    code = value[:ERROR_LIMIT]
    ok = code and all(0x20 <= ord(c) <= 0x7E and c not in '"\\' for c in code)
    return code if ok else None


def _provider_text(value: object) -> str | None:
    return (_printable(value, DESCRIPTION_LIMIT) or None) if isinstance(value, str) else None


class UserinfoInvalidToken(InvalidToken):
    """PingOne's userinfo endpoint refused the access token (401): revoked, expired, or a DPoP
    token proved with another key. Sign the user in again (or refresh); retrying will not help.

    ``provider_error`` and ``provider_description`` are PingOne's ``error`` and
    ``error_description`` (from ``WWW-Authenticate`` or the JSON body; printable and
    truncated), ``url`` the endpoint without its query.

    >>> err = UserinfoInvalidToken("https://auth.pingone.com/e/as/userinfo",
    ...                            provider_error="invalid_token", provider_description="revoked")
    >>> err.status_code, err.reason, err.provider_error
    (401, 'userinfo_invalid_token', 'invalid_token')
    """

    def __init__(
        self,
        url: str,
        *,
        provider_error: object = None,
        provider_description: object = None,
        scheme: str = "Bearer",
    ) -> None:
        self.url = url
        self.provider_error = _error_code(provider_error)
        self.provider_description = _provider_text(provider_description)
        said = ": ".join(p for p in (self.provider_error, self.provider_description) if p)
        super().__init__(
            f"PingOne's userinfo endpoint {url} refused the access token"
            + (f" ({said})" if said else "")
            + "; it was revoked or expired, or is bound to another DPoP key",
            reason="userinfo_invalid_token",
            detail={"url": url, "provider_error": self.provider_error},
        )
        self.scheme = scheme


class UserinfoInsufficientScope(InsufficientScope):
    """PingOne's userinfo endpoint refused the access token for its scopes (403): it lacks
    ``openid`` (or what PingOne names in ``scope``). Ask for the scope when signing in.

    Carries ``provider_error``, ``provider_description`` and ``url`` like
    :class:`UserinfoInvalidToken`; :attr:`required` holds PingOne's ``scope`` (default
    ``openid``, which OpenID Connect Core §5.3 requires for userinfo).
    """

    def __init__(
        self,
        url: str,
        *,
        provider_error: object = None,
        provider_description: object = None,
        scopes: Iterable[str] = (),
        scheme: str = "Bearer",
    ) -> None:
        self.url = url
        self.provider_error = _error_code(provider_error)
        self.provider_description = _provider_text(provider_description)
        required = [s[:ERROR_LIMIT] for s in scopes if _error_code(s)][:8] or ["openid"]
        said = ": ".join(p for p in (self.provider_error, self.provider_description) if p)
        super().__init__(
            required,
            description=f"PingOne's userinfo endpoint {url} refused the access token's scopes"
            + (f" ({said})" if said else "")
            + f"; it needs: {' '.join(required)}",
        )
        self.reason = "userinfo_insufficient_scope"
        self.detail = {"url": url, "provider_error": self.provider_error}
        self.scheme = scheme
