"""Random values of a login: PKCE verifier and S256 challenge (RFC 7636), state, nonce."""

from __future__ import annotations

import hashlib
import secrets
from base64 import urlsafe_b64encode

__all__ = ["new_secret", "s256_challenge"]


def new_secret() -> str:
    """256 random bits, base64url: used for state, nonce and the PKCE code verifier (43 chars)."""
    return secrets.token_urlsafe(32)


def s256_challenge(verifier: str) -> str:
    """``BASE64URL(SHA256(verifier))`` without padding (RFC 7636 §4.2).

    >>> s256_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
    'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'
    """
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
