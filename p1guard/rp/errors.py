"""Errors of the login flow: what went wrong, safe to show, never carrying a code or token."""

from __future__ import annotations

from ..errors import P1GuardError

__all__ = ["LoginError", "PushedAuthorizationError"]


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
