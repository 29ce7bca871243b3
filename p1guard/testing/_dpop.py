"""DPoP at the mock PingOne (RFC 9449): proof checks, nonces and the matching public controls.

Deliberately independent of p1guard's own DPoP code (only PyJWT and ``cryptography``), so a
bug on p1guard's side cannot hide behind the same bug here.

Rules:
1. A request carries at most one ``DPoP`` header; a proof is at most 8 KiB.
2. The header has ``typ: dpop+jwt``, an asymmetric ``alg`` (RS*, PS*, ES*, EdDSA) and a public
   ``jwk`` (no private members) that verifies the signature.
3. Claims: ``jti`` (unused so far), ``htm`` equal to the method, ``htu`` equal to the endpoint
   URL (query and fragment ignored), ``iat`` within :data:`IAT_WINDOW` seconds of now; with an
   access token also ``ath``, the base64url SHA-256 of it.
4. With :attr:`DPoPControls.require_dpop_nonce` on, a proof must carry the current
   :attr:`DPoPControls.dpop_nonce`; otherwise the answer is ``use_dpop_nonce`` with a
   ``DPoP-Nonce`` header (400 at the token endpoint, 401 at userinfo).
5. A ``jti`` is remembered only once the proof passed every check (a proof refused for its
   nonce can be fixed by a fresh proof, not replayed).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import jwt

__all__ = [
    "DPOP_ALGORITHMS",
    "IAT_WINDOW",
    "DPoPControls",
    "DPoPState",
    "ProofError",
    "thumbprint",
]

#: Algorithms the mock accepts in proofs (advertised as ``dpop_signing_alg_values_supported``).
DPOP_ALGORITHMS: tuple[str, ...] = (
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
)  # fmt: skip
#: How far ``iat`` may lie from the mock's clock, in seconds (either way).
IAT_WINDOW = 60
_MAX_PROOF = 8192
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_REQUIRED = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n"), "OKP": ("crv", "kty", "x")}


class ProofError(Exception):
    """A refused proof: ``error`` is ``invalid_dpop_proof`` or ``use_dpop_nonce``."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(error)
        self.error, self.description = error, description


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638 SHA-256 thumbprint of a public JWK (the mock's own implementation)."""
    members = _REQUIRED.get(str(jwk.get("kty")))
    if members is None or not all(isinstance(jwk.get(m), str) for m in members):
        raise ProofError("invalid_dpop_proof", "unsupported or incomplete jwk")
    canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
    return _b64url(hashlib.sha256(canonical.encode("utf-8")).digest())


def _target(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path, "", ""))


class DPoPState:
    """The mock's DPoP memory: the current nonce, the switch, the ``jti`` values seen."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.require_nonce = False
        self.nonce = secrets.token_urlsafe(16)
        self._seen: dict[str, float] = {}  # jti -> when it may be forgotten

    def check(
        self,
        proofs: list[str],
        method: str,
        url: str,
        *,
        access_token: str | None = None,
    ) -> str:
        """Check the request's proof (rules 1–5); return the thumbprint of its key."""
        if len(proofs) != 1:
            raise ProofError("invalid_dpop_proof", "exactly one DPoP header is required")
        proof = proofs[0]
        if len(proof) > _MAX_PROOF:
            raise ProofError("invalid_dpop_proof", "the DPoP proof is too large")
        try:
            header = jwt.get_unverified_header(proof)
        except jwt.PyJWTError:
            raise ProofError("invalid_dpop_proof", "the DPoP proof is not a JWT") from None
        alg, jwk = header.get("alg"), header.get("jwk")
        if header.get("typ") != "dpop+jwt":
            raise ProofError("invalid_dpop_proof", "typ must be dpop+jwt")
        if alg not in DPOP_ALGORITHMS:
            raise ProofError("invalid_dpop_proof", "unsupported or symmetric alg")
        if not isinstance(jwk, dict) or _PRIVATE_MEMBERS & set(jwk):
            raise ProofError("invalid_dpop_proof", "jwk must be a public key")
        jkt = thumbprint(jwk)
        try:
            key = jwt.PyJWK(jwk, algorithm=alg).key
            claims = jwt.decode(
                proof,
                key,
                algorithms=[alg],
                options={"require": ["jti", "htm", "htu", "iat"], "verify_iat": False},
            )
        except (jwt.PyJWTError, ValueError, TypeError):
            raise ProofError("invalid_dpop_proof", "bad DPoP proof signature or claims") from None
        now = time.time()
        jti, iat = claims["jti"], claims["iat"]
        if not isinstance(jti, str) or not jti or len(jti) > 256:
            raise ProofError("invalid_dpop_proof", "bad jti")
        if claims["htm"] != method:
            raise ProofError("invalid_dpop_proof", "htm does not match the request method")
        if not isinstance(claims["htu"], str) or _target(claims["htu"]) != _target(url):
            raise ProofError("invalid_dpop_proof", "htu does not match the request URL")
        if not isinstance(iat, int | float) or abs(now - iat) > IAT_WINDOW:
            raise ProofError("invalid_dpop_proof", "iat is too far from now")
        if access_token is not None:
            ath = _b64url(hashlib.sha256(access_token.encode("ascii", "replace")).digest())
            if claims.get("ath") != ath:
                raise ProofError("invalid_dpop_proof", "ath does not match the access token")
        with self.lock:
            if self.require_nonce and claims.get("nonce") != self.nonce:
                raise ProofError("use_dpop_nonce", "the authorization server requires a nonce")
            self._seen = {k: v for k, v in self._seen.items() if v > now}
            if jti in self._seen:
                raise ProofError("invalid_dpop_proof", "the DPoP proof was already used")
            self._seen[jti] = now + 2 * IAT_WINDOW
        return jkt

    def nonce_header(self) -> dict[str, str]:
        """``{"DPoP-Nonce": …}`` while nonces are required, else nothing."""
        with self.lock:
            return {"DPoP-Nonce": self.nonce} if self.require_nonce else {}


class DPoPControls:
    """DPoP controls of :class:`~p1guard.testing.MockPingOne` (a mixin)."""

    _dpop: DPoPState

    @property
    def require_dpop_nonce(self) -> bool:
        """Whether proofs must carry :attr:`dpop_nonce` (token endpoint and userinfo).

        >>> op.require_dpop_nonce = True    # proofs without it: use_dpop_nonce  # doctest: +SKIP
        """
        return self._dpop.require_nonce

    @require_dpop_nonce.setter
    def require_dpop_nonce(self, value: bool) -> None:
        with self._dpop.lock:
            self._dpop.require_nonce = bool(value)

    @property
    def dpop_nonce(self) -> str:
        """The nonce proofs must carry while :attr:`require_dpop_nonce` is on."""
        with self._dpop.lock:
            return self._dpop.nonce

    def rotate_dpop_nonce(self) -> str:
        """Switch to a new nonce (clients holding the old one get ``use_dpop_nonce``).

        >>> op.rotate_dpop_nonce() != old_nonce                      # doctest: +SKIP
        True
        """
        with self._dpop.lock:
            self._dpop.nonce = secrets.token_urlsafe(16)
            return self._dpop.nonce
