"""A login in progress (state, nonce, PKCE verifier, where to return), where it starts
(:class:`LoginStart`), and the ``return_to`` rule."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from html import escape
from typing import Any, Literal
from urllib.parse import urlsplit

__all__ = ["TRANSACTION_TTL", "LoginStart", "LoginTransaction", "safe_return_to"]

#: Seconds a login may take from redirect to callback.
TRANSACTION_TTL = 600.0


def safe_return_to(value: object, default: str = "/") -> str:
    """``value`` if it is a same-origin relative path, else ``default`` (no open redirects).

    >>> safe_return_to("/orders?page=2"), safe_return_to("https://evil.example")
    ('/orders?page=2', '/')
    >>> safe_return_to("//evil.example/path")
    '/'
    """
    if not isinstance(value, str) or not value.startswith("/") or len(value) > 2048:
        return default
    if value.startswith(("//", "/\\")) or any(ord(ch) < 0x20 or ch == "\\" for ch in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value


@dataclass(frozen=True, slots=True)
class LoginTransaction:
    """What the callback needs to finish one login; keep it server-side, use it once."""

    state: str = field(repr=False)
    nonce: str = field(repr=False)
    code_verifier: str = field(repr=False)
    redirect_uri: str
    return_to: str = "/"
    created_at: float = field(default_factory=time.time)
    max_age: int | None = None
    acr_values: tuple[str, ...] = ()

    def expired(self, now: float | None = None, ttl: float = TRANSACTION_TTL) -> bool:
        """Whether the login is older than ``ttl`` seconds (10 minutes by default)."""
        return (time.time() if now is None else now) - self.created_at > ttl

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict, for session stores."""
        data = asdict(self)
        data["acr_values"] = list(self.acr_values)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LoginTransaction:
        """Inverse of :meth:`to_dict`; raises ``ValueError`` on anything malformed."""
        try:
            return cls(
                state=str(data["state"]),
                nonce=str(data["nonce"]),
                code_verifier=str(data["code_verifier"]),
                redirect_uri=str(data["redirect_uri"]),
                return_to=safe_return_to(data.get("return_to")),
                created_at=float(data["created_at"]),
                max_age=None if data.get("max_age") is None else int(data["max_age"]),
                acr_values=tuple(str(v) for v in data.get("acr_values") or ()),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError("not a login transaction") from exc


@dataclass(frozen=True, slots=True)
class LoginStart:
    """Where to send the browser, and the transaction to keep server-side until the callback.

    ``method`` is ``"GET"`` (redirect to :attr:`url`) or ``"POST"`` (serve :meth:`html_form`,
    which posts :attr:`form` to :attr:`url` — for very large requests).
    """

    url: str = field(repr=False)  # carries state and nonce
    transaction: LoginTransaction
    method: Literal["GET", "POST"] = "GET"
    form: Mapping[str, str] = field(default_factory=dict, repr=False)

    def html_form(self) -> str:
        """A self-submitting HTML form for ``method="POST"``."""
        inputs = "".join(
            f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">'
            for k, v in self.form.items()
        )
        return (
            "<!doctype html><html><head><title>Signing in…</title></head>"
            '<body onload="document.forms[0].submit()">'
            f'<form method="post" action="{escape(self.url)}">{inputs}'
            '<noscript><button type="submit">Continue</button></noscript></form></body></html>'
        )
