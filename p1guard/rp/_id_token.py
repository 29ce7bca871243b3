"""OpenID Connect ID-token validation (Core §3.1.3.7), sans-I/O apart from the key lookup.

Rules, in order; the first failure raises :class:`LoginError` (``invalid_id_token``):

1. The access-token shape and header rules of :mod:`p1guard._tokens.jwt`, except that ``typ`` must
   be
   absent or ``JWT`` (an ``at+jwt`` access token is not an ID token).
2. Signature with the issuer's key found by ``kid``.
3. ``iss`` exact; ``aud`` holds the client id; with several audiences ``azp`` must be the
   client id; ``exp``, ``iat`` (and ``nbf``) with leeway; ``sub`` a non-empty string.
4. ``nonce`` equals the login's nonce (constant-time) when one was sent.
5. ``at_hash``, when present, matches the access token (left half of its SHA-256/384/512).
6. With ``max_age`` the ``auth_time`` must be present and recent enough; with
   ``acr_values`` the ``acr`` must be one of them.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from base64 import urlsafe_b64encode
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from p1guard._http.flow import Flow
from p1guard._tokens.jwt import (
    JwtPolicy,
    check_claims,
    decode_payload,
    header_rules,
    parse_jws,
    verify_signature,
)
from p1guard.errors import InvalidToken
from p1guard.rp._errors import LoginError

__all__ = ["IdTokenChecks", "at_hash", "validate_id_token"]

_HASH_BY_ALG_SUFFIX = {"256": hashlib.sha256, "384": hashlib.sha384, "512": hashlib.sha512}


def _bad(description: str, reason: str) -> LoginError:
    return LoginError("invalid_id_token", description, reason=reason)


def at_hash(access_token: str, alg: str) -> str:
    """The ``at_hash`` of ``access_token`` for an ID token signed with ``alg``."""
    digest = _HASH_BY_ALG_SUFFIX.get(alg[-3:], hashlib.sha512)(access_token.encode()).digest()
    return urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode()


@dataclass(frozen=True, slots=True)
class IdTokenChecks:
    """What one ID token must satisfy (openid-client style "checks" object)."""

    policy: JwtPolicy
    client_id: str
    nonce: str | None = None
    access_token: str | None = None
    max_age: int | None = None
    acr_values: Sequence[str] = ()
    subject: str | None = None

    @classmethod
    def for_client(cls, issuer: str, client_id: str, leeway: float, **kwargs: Any) -> IdTokenChecks:
        """Checks for ``client_id``'s ID tokens from ``issuer``."""
        policy = JwtPolicy(
            issuers=frozenset({issuer}),
            audiences=frozenset({client_id}),
            leeway=leeway,
            kind="id",
            required_claims=("iat", "sub"),  # OIDC Core §2: both are mandatory
        )
        return cls(policy=policy, client_id=client_id, **kwargs)


def validate_id_token(id_token: str, checks: IdTokenChecks, pingone: Any) -> Flow[dict[str, Any]]:
    """Validate ``id_token`` (module rules) and return its claims; ``pingone`` gives the keys."""
    try:
        jws = parse_jws(id_token, checks.policy, header_rules(checks.policy))
        key = yield from pingone.key_flow(jws.kid)
        verify_signature(jws, key)
        claims = decode_payload(jws)
        check_claims(claims, checks.policy, time.time())
    except InvalidToken as exc:
        raise _bad(f"ID token: {exc.description}", exc.reason) from None
    _check_identity(claims, checks)
    _check_binding(claims, checks, jws.alg)
    _check_authentication(claims, checks)
    return claims


def _check_identity(claims: dict[str, Any], checks: IdTokenChecks) -> None:
    aud = claims.get("aud")
    if isinstance(aud, list) and len(aud) > 1 and claims.get("azp") != checks.client_id:
        raise _bad("The ID token is for several audiences but not authorised for us", "bad_azp")
    if "azp" in claims and claims["azp"] != checks.client_id:
        raise _bad("The ID token was issued to another client", "bad_azp")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise _bad("The ID token has no subject", "no_sub")
    if checks.subject is not None and sub != checks.subject:
        raise _bad("The ID token is for another user", "sub_changed")


def _check_binding(claims: dict[str, Any], checks: IdTokenChecks, alg: str) -> None:
    if checks.nonce is not None:
        nonce = claims.get("nonce")
        if not isinstance(nonce, str) or not hmac.compare_digest(nonce, checks.nonce):
            raise _bad("The ID token nonce does not match this login", "nonce_mismatch")
    expected_hash = claims.get("at_hash")
    if expected_hash is not None and checks.access_token is not None:
        actual = at_hash(checks.access_token, alg)
        if not isinstance(expected_hash, str) or not hmac.compare_digest(expected_hash, actual):
            raise _bad("The ID token does not belong to the access token", "at_hash_mismatch")


def _check_authentication(claims: dict[str, Any], checks: IdTokenChecks) -> None:
    if checks.max_age is not None:
        auth_time = claims.get("auth_time")
        if isinstance(auth_time, bool) or not isinstance(auth_time, int | float):
            raise _bad("The ID token has no auth_time although max_age was asked", "no_auth_time")
        if auth_time + checks.max_age + checks.policy.leeway < time.time():
            raise _bad("The sign-in is older than max_age allows", "auth_too_old")
    if checks.acr_values and claims.get("acr") not in checks.acr_values:
        raise _bad("The sign-in did not use a requested authentication level", "acr_mismatch")
