"""Client authentication at PingOne's endpoints (RFC 6749 §2.3, RFC 7523 private_key_jwt).

Used by introspection (a custom resource's id and secret) and by the relying party (an
application's credentials). Secrets never appear in ``repr``.
"""

from __future__ import annotations

import secrets
import time
from base64 import b64encode
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import quote_plus

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from p1guard.errors import ConfigError

__all__ = ["AuthMethod", "ClientAuth"]

AuthMethod = Literal["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]
_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt", "none")
_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def load_private_key(value: object) -> tuple[Any, str, str | None]:
    """A private key (PEM text/bytes, JWK dict or key object) → (key, alg, kid)."""
    kid: str | None = None
    alg: str | None = None
    key: Any = value
    if isinstance(value, Mapping):
        kid = value.get("kid") if isinstance(value.get("kid"), str) else None
        alg = value.get("alg") if isinstance(value.get("alg"), str) else None
        try:
            key = jwt.PyJWK(dict(value)).key
        except jwt.PyJWTError as exc:
            raise ConfigError("private_key", "the JWK is not a usable private key") from exc
    elif isinstance(value, str | bytes):
        data = value.encode() if isinstance(value, str) else value
        try:
            key = load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as exc:
            raise ConfigError("private_key", "not an unencrypted PEM private key") from exc
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < 2048:
            raise ConfigError("private_key", "RSA keys must have at least 2048 bits")
        default_alg = "RS256"
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        default_alg = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}.get(
            key.curve.name, ""
        )
    elif isinstance(key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey):
        default_alg = "EdDSA"
    else:
        raise ConfigError("private_key", "give an RSA, EC or Ed25519 private key")
    if not default_alg:
        raise ConfigError("private_key", "EC keys must use P-256, P-384 or P-521")
    return key, alg or default_alg, kid


class ClientAuth:
    """How p1guard authenticates as ``client_id`` when it calls PingOne.

    >>> auth = ClientAuth("resource-id", client_secret="s3cret")
    >>> headers, form = auth.apply({"token": "…"}, endpoint="https://auth.pingone.com/x/as/introspect")
    >>> headers["Authorization"].startswith("Basic "), "client_secret" in form
    (True, False)
    """

    __slots__ = ("_alg", "_key", "_kid", "_secret", "client_id", "method")

    def __init__(
        self,
        client_id: str,
        *,
        client_secret: str | None = None,
        method: AuthMethod | None = None,
        private_key: object = None,
        field: str = "client_id",
    ) -> None:
        if not isinstance(client_id, str) or not client_id:
            raise ConfigError(field, "must be a non-empty string")
        if method is None:
            method = (
                "private_key_jwt"
                if private_key is not None
                else "client_secret_basic"
                if client_secret
                else "none"
            )
        if method not in _METHODS:
            raise ConfigError("auth_method", f"use one of {', '.join(_METHODS)}")
        if method.startswith("client_secret") and not client_secret:
            raise ConfigError("client_secret", f"{method} needs a client secret")
        self.client_id = client_id
        self.method: AuthMethod = method
        self._secret = client_secret
        self._key: Any = None
        self._alg = ""
        self._kid: str | None = None
        if method == "private_key_jwt":
            if private_key is None:
                raise ConfigError("private_key", "private_key_jwt needs a private key")
            self._key, self._alg, self._kid = load_private_key(private_key)

    def apply(
        self, form: Mapping[str, str], *, endpoint: str
    ) -> tuple[dict[str, str], dict[str, str]]:
        """Headers and form body for a POST to ``endpoint`` authenticated as this client."""
        body = dict(form)
        headers: dict[str, str] = {}
        if self.method == "client_secret_basic":
            # RFC 6749 §2.3.1: form-encode id and secret before base64.
            pair = f"{quote_plus(self.client_id)}:{quote_plus(self._secret or '')}"
            headers["Authorization"] = "Basic " + b64encode(pair.encode()).decode("ascii")
        elif self.method == "client_secret_post":
            body["client_id"] = self.client_id
            body["client_secret"] = self._secret or ""
        elif self.method == "private_key_jwt":
            body["client_id"] = self.client_id
            body["client_assertion_type"] = _ASSERTION_TYPE
            body["client_assertion"] = self.assertion(endpoint)
        else:
            body["client_id"] = self.client_id
        return headers, body

    def assertion(self, audience: str) -> str:
        """A fresh RFC 7523 client assertion for ``audience`` (valid 60 s, unique ``jti``)."""
        now = int(time.time())
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": audience,
            "iat": now,
            "exp": now + 60,
            "jti": secrets.token_urlsafe(16),
        }
        headers = {"kid": self._kid} if self._kid else None
        return jwt.encode(claims, self._key, algorithm=self._alg, headers=headers)

    def __repr__(self) -> str:
        return f"ClientAuth(client_id={self.client_id!r}, method={self.method!r})"
