"""Signing keys of the mock PingOne: one key per algorithm, generated on first use, rotatable.

Rules:
1. Every algorithm has its own key, so every published JWK can carry the one ``alg`` it signs
   with (PingOne publishes ``"alg": "RS256"``).
2. Keys are generated lazily: RSA keygen costs tens of milliseconds and most tests only use RS256.
3. A rotated key stays published (after the active ones) unless the rotation says otherwise.
4. Rotation works like PingOne's key rotation policies: the *next* key of an algorithm can be
   staged ahead of time. A staged key is published in the JWKS (after the active keys) but signs
   nothing until the next rotation of its algorithm activates it; a rotation with nothing staged
   generates a fresh key and activates it at once (an unannounced, emergency rotation).
5. Key generation (tens of milliseconds for RSA) happens outside the lock, so signing tokens on
   other threads never waits for a rotation.
6. ``EdDSA`` and ``Ed25519`` sign with Ed25519 keys, ``Ed448`` with an Ed448 key (RFC 9864's
   fully-specified names beside the polymorphic one); each name still has its own key.
7. Raw JWKs (:meth:`KeyRing.publish_raw`) are published as given, after every other key, and
   sign nothing: for tests of what verifiers make of odd or hostile key sets.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from jwt.algorithms import Algorithm, OKPAlgorithm, get_default_algorithms

__all__ = ["ALGORITHMS", "KeyRing", "PrivateKey", "SigningKey", "apply_overrides", "b64url"]

PrivateKey = (
    rsa.RSAPrivateKey
    | ec.EllipticCurvePrivateKey
    | ed25519.Ed25519PrivateKey
    | ed448.Ed448PrivateKey
)

_RSA = ("RS256", "RS384", "RS512")
_RSA_PSS = ("PS256", "PS384", "PS512")
_CURVES: Mapping[str, ec.EllipticCurve] = {
    "ES256": ec.SECP256R1(),
    "ES384": ec.SECP384R1(),
    "ES512": ec.SECP521R1(),
}

#: Every algorithm :meth:`MockPingOne.issue_token` can sign with ("none" gives an unsigned token).
ALGORITHMS: tuple[str, ...] = (*_RSA, *_RSA_PSS, *_CURVES, "EdDSA", "Ed25519", "Ed448")
# PyJWT knows only "EdDSA"; its OKP algorithm signs with whichever Edwards key it is given.
_PYJWT_ALGORITHMS: Mapping[str, Algorithm] = {
    **get_default_algorithms(),
    "Ed25519": OKPAlgorithm(),
    "Ed448": OKPAlgorithm(),
}


def b64url(data: bytes) -> str:
    """Unpadded base64url, as JOSE wants it."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def apply_overrides(target: dict[str, Any], overrides: Mapping[str, Any] | None) -> None:
    """Merge ``overrides`` into ``target``; a ``None`` value removes that member."""
    for name, value in (overrides or {}).items():
        if value is None:
            target.pop(name, None)
        else:
            target[name] = value


def _algorithm(alg: str) -> Algorithm:
    if alg not in ALGORITHMS:
        supported = ", ".join(ALGORITHMS)
        raise ValueError(f"unsupported signing algorithm {alg!r}; use one of {supported} or 'none'")
    return _PYJWT_ALGORITHMS[alg]


def _generate(alg: str) -> PrivateKey:
    if alg in _RSA or alg in _RSA_PSS:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if alg in _CURVES:
        return ec.generate_private_key(_CURVES[alg])
    if alg == "Ed448":
        return ed448.Ed448PrivateKey.generate()
    return ed25519.Ed25519PrivateKey.generate()


@dataclass(frozen=True)
class SigningKey:
    """One private key, its ``kid`` and the public JWK published for it."""

    alg: str
    kid: str
    private_key: PrivateKey
    jwk: Mapping[str, Any]

    def __repr__(self) -> str:
        return f"SigningKey(alg={self.alg!r}, kid={self.kid!r})"


def _new_key(alg: str) -> SigningKey:
    algorithm = _algorithm(alg)
    private_key = _generate(alg)
    exported = algorithm.to_jwk(private_key.public_key(), as_dict=True)
    public = json.loads(exported) if isinstance(exported, str) else dict(exported)
    kid = secrets.token_urlsafe(16)
    jwk = {"kty": public["kty"], "kid": kid, "use": "sig", "alg": alg}
    jwk.update((k, v) for k, v in public.items() if k in ("n", "e", "crv", "x", "y"))
    return SigningKey(alg=alg, kid=kid, private_key=private_key, jwk=jwk)


class KeyRing:
    """The keys one mock publishes: the active key per algorithm, staged next keys, retired ones."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._active: dict[str, SigningKey] = {}
        self._staged: dict[str, SigningKey] = {}  # the next key per algorithm (rule 4)
        self._retired: list[SigningKey] = []  # newest first
        self._raw: list[dict[str, Any]] = []  # published as given, sign nothing (rule 7)

    def active(self, alg: str) -> SigningKey:
        """The key that signs ``alg`` now, generated on first use."""
        with self._lock:
            key = self._active.get(alg)
        if key is not None:
            return key
        fresh = _new_key(alg)  # outside the lock (rule 5); the first key stored wins
        with self._lock:
            return self._active.setdefault(alg, fresh)

    def staged(self, alg: str) -> SigningKey | None:
        """The published next key of ``alg`` that the next rotation activates, if any."""
        with self._lock:
            return self._staged.get(alg)

    def stage(self, alg: str = "RS256") -> SigningKey:
        """Publish a new next key for ``alg`` without signing with it (rule 4).

        The active key of ``alg`` is created first if it does not exist yet, so the JWKS always
        holds the current key beside the next one. Staging again replaces the staged key (it
        never signed anything, so unpublishing it is harmless). Returns the staged key.
        """
        _algorithm(alg)  # unknown algorithms fail before any key is generated
        self.active(alg)
        fresh = _new_key(alg)
        with self._lock:
            self._staged[alg] = fresh
        return fresh

    def rotate(self, alg: str | None = None, *, keep_old: bool = True) -> list[SigningKey]:
        """Replace the active key of ``alg`` (every algorithm in use when ``None``).

        The staged key of an algorithm becomes its active key; an algorithm with nothing staged
        gets a freshly generated one. The replaced active key is retired (still published);
        with ``keep_old=False`` every earlier key of the rotated algorithms is unpublished
        instead. Returns the newly active keys.
        """
        with self._lock:
            algs = [alg] if alg is not None else list(self._active) or ["RS256"]
            missing = [name for name in algs if name not in self._staged]
        generated = {name: _new_key(name) for name in missing}  # outside the lock (rule 5)
        with self._lock:
            fresh: list[SigningKey] = []
            for name in algs:
                key = self._staged.pop(name, None) or generated.get(name) or _new_key(name)
                old = self._active.get(name)
                self._active[name] = key
                if not keep_old:
                    self._retired = [k for k in self._retired if k.alg != name]
                elif old is not None:
                    self._retired.insert(0, old)
                fresh.append(key)
            return fresh

    def publish_raw(self, jwks: list[Mapping[str, Any]] | None) -> None:
        """Publish these JWKs as given after every other key (rule 7); ``None`` removes them."""
        with self._lock:
            self._raw = [dict(jwk) for jwk in jwks or ()]

    def jwks(self) -> dict[str, Any]:
        """The published JWK Set: active keys, then staged next keys, then retired ones, then
        raw JWKs.

        Retired keys are listed newest first. Clients must select by ``kid``, never by position.
        """
        with self._lock:
            keys = [*self._active.values(), *self._staged.values(), *self._retired]
            return {"keys": [*(dict(key.jwk) for key in keys), *(dict(j) for j in self._raw)]}

    def sign(
        self,
        alg: str,
        payload: Mapping[str, Any],
        *,
        typ: str | None,
        kid: str | None,
        header: Mapping[str, Any] | None,
    ) -> str:
        """A compact JWS over ``payload``.

        The signature always uses ``alg`` and its active key, whatever ``header`` overrides
        claim: tests can make a token that lies about its ``alg`` or ``kid``.
        """
        if alg == "none":
            protected: dict[str, Any] = {"alg": "none"}
            key = None
        else:
            key = self.active(alg)
            protected = {"alg": alg, "kid": key.kid if kid is None else kid}
        if typ is not None:
            protected["typ"] = typ
        apply_overrides(protected, header)
        signing_input = ".".join(
            b64url(json.dumps(part, separators=(",", ":")).encode())
            for part in (protected, payload)
        ).encode("ascii")
        if key is None:
            return signing_input.decode("ascii") + "."
        signature = _algorithm(alg).sign(signing_input, key.private_key)
        return signing_input.decode("ascii") + "." + b64url(signature)
