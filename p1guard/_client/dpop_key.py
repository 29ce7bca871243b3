"""DPoP proofs, the client side (RFC 9449 §4): a key pair and the proof JWTs it signs.

Used by :class:`~p1guard.rp.RelyingParty` for DPoP-bound token requests, by
:class:`~p1guard.DPoPAuth` to call APIs with a DPoP-bound token, and by tests.

>>> key = DPoPKey.generate()
>>> proof = key.proof("POST", "https://api.example.com/orders?page=2", access_token="abc")
>>> header = jwt.get_unverified_header(proof)
>>> header["typ"], header["alg"], sorted(header["jwk"])
('dpop+jwt', 'ES256', ['crv', 'kty', 'x', 'y'])
>>> jwt.decode(proof, options={"verify_signature": False})["htu"]
'https://api.example.com/orders'
"""

from __future__ import annotations

import secrets
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import get_default_algorithms

from p1guard._client.auth import load_private_key
from p1guard._sender.binding import access_token_hash, jwk_thumbprint
from p1guard.errors import ConfigError

__all__ = ["DPoPKey", "htu_of"]

# Members of a public JWK that say nothing about the key itself; dropped from the proof header.
_PUBLIC_MEMBERS = {
    "EC": ("kty", "crv", "x", "y"),
    "RSA": ("kty", "n", "e"),
    "OKP": ("kty", "crv", "x"),
}


def htu_of(url: str) -> str:
    """A request URL as a DPoP ``htu``: without query and fragment (RFC 9449 §4.2).

    >>> htu_of("https://api.example.com/a?b=c#d")
    'https://api.example.com/a'
    """
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


class DPoPKey:
    """A DPoP key pair: signs proofs, names itself by its RFC 7638 thumbprint (``cnf.jkt``).

    ``private_key`` is a ``cryptography`` private key, an unencrypted PEM, or a private JWK
    (RSA ≥ 2048 bits, EC P-256/384/521 or Ed25519). Keep one key per client instance; a new key
    means new tokens, since PingOne binds each token to the key that asked for it.
    """

    __slots__ = ("_key", "alg", "public_jwk", "thumbprint")

    def __init__(self, private_key: object, *, alg: str | None = None) -> None:
        key, default_alg, _kid = load_private_key(private_key)
        self._key: Any = key
        self.alg: str = alg or default_alg
        algorithm = get_default_algorithms()[self.alg]
        full = algorithm.to_jwk(key.public_key(), as_dict=True)
        #: The public JWK put in each proof's header (required members only).
        self.public_jwk: dict[str, str] = {
            name: str(full[name]) for name in _PUBLIC_MEMBERS[str(full["kty"])]
        }
        #: ``cnf.jkt`` of the tokens bound to this key.
        self.thumbprint: str = jwk_thumbprint(self.public_jwk)

    @classmethod
    def generate(cls, alg: str = "ES256") -> DPoPKey:
        """A fresh key: ``ES256`` (P-256, the default), ``ES384`` or ``ES512``."""
        curves: dict[str, ec.EllipticCurve] = {
            "ES256": ec.SECP256R1(),
            "ES384": ec.SECP384R1(),
            "ES512": ec.SECP521R1(),
        }
        if alg not in curves:
            raise ConfigError("alg", f"generate() makes ES256, ES384 or ES512 keys, not {alg!r}")
        return cls(ec.generate_private_key(curves[alg]), alg=alg)

    def proof(
        self,
        method: str,
        url: str,
        *,
        access_token: str | None = None,
        nonce: str | None = None,
        now: float | None = None,
    ) -> str:
        """A fresh, single-use proof for one request (``DPoP`` header value).

        ``access_token`` adds ``ath`` (needed when presenting a token to an API); ``nonce`` is
        the last ``DPoP-Nonce`` the server sent. The URL's query and fragment are dropped.
        """
        claims: dict[str, Any] = {
            "jti": secrets.token_urlsafe(16),
            "htm": method.upper(),
            "htu": htu_of(url),
            "iat": int(time.time() if now is None else now),
        }
        if access_token is not None:
            claims["ath"] = access_token_hash(access_token)
        if nonce is not None:
            claims["nonce"] = nonce
        headers = {"typ": "dpop+jwt", "jwk": self.public_jwk}
        return jwt.encode(claims, self._key, algorithm=self.alg, headers=headers)

    def __repr__(self) -> str:
        return f"DPoPKey(alg={self.alg!r}, thumbprint={self.thumbprint!r})"
