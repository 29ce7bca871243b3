"""Sender-constrained tokens, the shared vocabulary (sans-I/O).

A *bound* access token names the key or certificate its holder must prove possession of, in
its ``cnf`` (confirmation) claim:

* ``cnf.jkt`` — the RFC 7638 thumbprint of a DPoP public key (RFC 9449): each request must
  carry a fresh DPoP proof signed with that key (see :mod:`p1guard._sender.dpop`).
* ``cnf.x5t#S256`` — the SHA-256 thumbprint of a client certificate (RFC 8705): the request
  must come over mutual TLS with that certificate (see :mod:`p1guard._sender.certificates`).

:class:`Presentation` is what a request showed beside its token; adapters build it and pass it
to :meth:`Guard.verify <p1guard.Guard.verify>` as ``presentation=``.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "Presentation",
    "Scheme",
    "access_token_hash",
    "b64url",
    "certificate_thumbprint",
    "jwk_thumbprint",
]

Scheme = Literal["Bearer", "DPoP"]

# RFC 7638 §3.2: the required members of each key type, the only ones hashed.
_REQUIRED_MEMBERS: Mapping[str, tuple[str, ...]] = {
    "EC": ("crv", "kty", "x", "y"),
    "RSA": ("e", "kty", "n"),
    "OKP": ("crv", "kty", "x"),
}


def b64url(data: bytes) -> str:
    """Base64url without padding (RFC 7515 §2).

    >>> b64url(b"\\xfb\\xff")
    '-_8'
    """
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def jwk_thumbprint(jwk: Mapping[str, object]) -> str:
    """The RFC 7638 SHA-256 thumbprint of a public JWK, base64url-encoded (``cnf.jkt``).

    Raises ``ValueError`` for an unknown ``kty`` or a missing or non-string required member.

    >>> jwk_thumbprint({"kty": "RSA", "e": "AQAB", "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2a"
    ...   "iAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-"
    ...   "5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0"
    ...   "zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G"
    ...   "_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"})
    'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs'
    """
    kty = jwk.get("kty")
    members = _REQUIRED_MEMBERS.get(kty) if isinstance(kty, str) else None
    if members is None:
        raise ValueError(f"unsupported JWK key type {kty!r}")
    canonical: dict[str, str] = {}
    for name in members:
        value = jwk.get(name)
        if not isinstance(value, str) or not value:
            raise ValueError(f"the JWK lacks its {name!r} member")
        canonical[name] = value
    text = json.dumps(canonical, separators=(",", ":"), sort_keys=True, ensure_ascii=True)
    return b64url(hashlib.sha256(text.encode("ascii")).digest())


def certificate_thumbprint(der: bytes) -> str:
    """The ``x5t#S256`` thumbprint of a DER-encoded certificate (RFC 8705 §3.1).

    >>> certificate_thumbprint(b"not really a certificate")
    '1hgiVeVznVX8l4F1nHqCPU3_PSt9F5SecIXufAzCKs8'
    """
    return b64url(hashlib.sha256(der).digest())


def access_token_hash(token: str) -> str:
    """The ``ath`` claim of a DPoP proof: base64url SHA-256 of the access token (RFC 9449 §4.2).

    >>> access_token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU")
    'fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo'
    """
    return b64url(hashlib.sha256(token.encode("ascii")).digest())


@dataclass(frozen=True, slots=True)
class Presentation:
    """How a request presented its access token, for the sender-constraint checks.

    ``scheme`` is the ``Authorization`` scheme used (``"Bearer"`` or ``"DPoP"``); ``method`` and
    ``url`` are the request's method and absolute URL as the client addressed it (the DPoP
    ``htm``/``htu``; query and fragment are ignored); ``dpop_proofs`` every ``DPoP`` header
    value (exactly one is valid); ``client_cert`` the DER of the client certificate proven on
    the TLS connection (or forwarded by a trusted proxy), if any.

    >>> Presentation("DPoP", "POST", "https://api.example.com/orders", ("eyJ...",))
    Presentation(scheme='DPoP', method='POST', url='https://api.example.com/orders')
    """

    scheme: Scheme = "Bearer"
    method: str = "GET"
    url: str = ""
    dpop_proofs: tuple[str, ...] = field(default=(), repr=False)
    client_cert: bytes | None = field(default=None, repr=False)
