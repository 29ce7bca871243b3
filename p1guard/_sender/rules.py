"""Sender constraints: step 6 of the :class:`~p1guard.Guard` (:mod:`p1guard._guard`), sans-I/O.

:func:`sender_flow` checks that the caller holds the key or certificate a token is bound to
(:mod:`p1guard._sender.binding`); :func:`stamp_scheme` picks the challenge a refusal carries.
The rules, each refusal with its own ``reason``:

   a. ``cnf`` must be an object of string members (``reason="bad_cnf"``).
   b. ``cnf["x5t#S256"]`` (RFC 8705 §3): the request's client certificate must have that
      thumbprint; ``mtls="required"`` refuses tokens without it.
   c. ``cnf.jkt`` (RFC 9449 §7): scheme ``DPoP`` with exactly one proof that passes
      :func:`p1guard._sender.dpop.check_proof` and is signed by that key; the proof is then recorded
      against replay (in memory, or in ``shared_cache``; a Redis failure is a 503). Sent as
      ``Bearer``, or verified without a ``presentation``, a bound token is refused (§7.2).
   d. Scheme ``DPoP`` with an unbound token is refused (§7.1); ``dpop="required"`` refuses
      unbound tokens, ``dpop="disabled"`` the ``DPoP`` scheme.

   Refusals that concern DPoP, every refusal of a ``DPoP`` request and every refusal of a
   Guard with ``dpop="required"`` carry a ``DPoP`` challenge with ``algs="…"`` (RFC 9449 §7.1).
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

from p1guard._http.flow import Flow
from p1guard._sender.binding import Presentation, certificate_thumbprint
from p1guard._sender.dpop import DPoPNonces, DPoPPolicy, check_proof
from p1guard._sender.replay import ReplayCache, replay_key
from p1guard.errors import (
    AuthError,
    ConfigError,
    InvalidDPoPProof,
    InvalidToken,
    ProviderUnavailable,
    UseDPoPNonce,
)

if TYPE_CHECKING:
    from p1guard._tokens.shared_cache import RedisCache

__all__ = [
    "DPOP_MODES",
    "MTLS_MODES",
    "DPoPMode",
    "MtlsMode",
    "confirmation",
    "sender_flow",
    "stamp_scheme",
]

#: ``Guard(dpop=…)``: refuse the ``DPoP`` scheme, accept both schemes, or DPoP-bound tokens only.
DPoPMode = Literal["disabled", "allowed", "required"]
#: ``Guard(mtls=…)``: accept any token, or certificate-bound tokens only (RFC 8705).
MtlsMode = Literal["allowed", "required"]
DPOP_MODES = ("disabled", "allowed", "required")
MTLS_MODES = ("allowed", "required")

#: The confirmation methods (``cnf`` members) the Guard checks: DPoP and mTLS.
_CNF_METHODS = frozenset({"jkt", "x5t#S256"})


def confirmation(claims: Mapping[str, object]) -> tuple[str | None, str | None]:
    """Rule 6a: the token's ``cnf.jkt`` and ``cnf["x5t#S256"]`` (each ``None`` if absent).

    >>> confirmation({"cnf": {"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}})
    ('0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I', None)
    """
    cnf = claims.get("cnf")
    if cnf is None:
        return None, None
    if not isinstance(cnf, Mapping) or not cnf:
        raise InvalidToken("The token's confirmation (cnf) is malformed", reason="bad_cnf")
    if not cnf.keys() <= _CNF_METHODS:
        # A binding we cannot check (RFC 7800 jwk/kid/jku, x5t, a miscased member) is not
        # "unbound": the token must not pass as a bearer token.
        raise InvalidToken(
            "The token is bound by a confirmation method this API does not support",
            reason="unsupported_cnf",
            detail={"cnf_members": sorted(map(str, cnf))},
        )
    jkt, x5t = cnf.get("jkt"), cnf.get("x5t#S256")
    for value in (jkt, x5t):
        if value is not None and (not isinstance(value, str) or not value or not value.isascii()):
            raise InvalidToken("The token's confirmation (cnf) is malformed", reason="bad_cnf")
    return jkt, x5t


def sender_flow(
    claims: Mapping[str, object],
    token: str,
    presentation: Presentation | None,
    *,
    dpop: DPoPMode,
    mtls: MtlsMode,
    policy: DPoPPolicy,
    nonces: DPoPNonces | None,
    replays: ReplayCache,
    replay_scope: bytes,
    shared_cache: RedisCache | None,
) -> Flow[None]:
    """Step 6 (rules a–d); yields only to record a DPoP proof in the shared cache.

    ``claims`` are the verified token's, ``token`` the token as presented (``ath``); ``dpop``,
    ``mtls``, ``policy`` and ``nonces`` the Guard's options; the proof is recorded in
    ``replays`` or, with ``shared_cache``, in Redis, under ``replay_scope``.
    """
    scheme = None if presentation is None else presentation.scheme
    if scheme == "DPoP" and dpop == "disabled":
        raise InvalidToken("This API does not accept DPoP", reason="dpop_disabled")
    jkt, x5t = confirmation(claims)
    # b. certificate binding (RFC 8705 §3)
    if x5t is not None:
        if presentation is None:
            raise InvalidToken(
                "The token is bound to a client certificate the request did not show",
                reason="mtls_binding_unchecked",
            )
        cert = presentation.client_cert
        if not cert:
            raise InvalidToken(
                "The token is bound to a client certificate; connect with it (mutual TLS)",
                reason="mtls_certificate_missing",
            )
        if not hmac.compare_digest(certificate_thumbprint(cert).encode(), x5t.encode()):
            raise InvalidToken(
                "The token is bound to another client certificate",
                reason="mtls_certificate_mismatch",
            )
    elif mtls == "required":
        raise InvalidToken("This API accepts certificate-bound tokens only", reason="mtls_required")
    # d. unbound tokens
    if jkt is None:
        if scheme == "DPoP":
            raise InvalidToken(
                "The token is not DPoP-bound; send it with the Bearer scheme",
                reason="dpop_token_not_bound",
            )
        if dpop == "required":
            raise InvalidToken("This API accepts DPoP-bound tokens only", reason="dpop_required")
        return
    # c. DPoP-bound tokens (RFC 9449 §7)
    if dpop == "disabled":
        raise InvalidToken("This API does not accept DPoP-bound tokens", reason="dpop_disabled")
    if presentation is None:  # adapters pass None for a plain bearer request
        raise InvalidToken(
            "The token is DPoP-bound; send it with the DPoP scheme and a proof",
            reason="dpop_binding_unchecked",
        )
    if scheme != "DPoP":
        raise InvalidToken(
            "The token is DPoP-bound; send it with the DPoP scheme and a proof",
            reason="dpop_bound_as_bearer",
        )
    proofs = presentation.dpop_proofs
    if len(proofs) != 1:
        if not proofs:
            raise InvalidDPoPProof("The DPoP proof is missing", reason="dpop_proof_missing")
        raise InvalidDPoPProof("Send exactly one DPoP proof", reason="dpop_multiple_proofs")
    if not presentation.url:
        raise ConfigError("presentation", "url must be the request's absolute URL")
    now = time.time()
    proof = check_proof(
        proofs[0],
        method=presentation.method,
        url=presentation.url,
        access_token=token,
        policy=policy,
        now=now,
        nonces=nonces,
    )
    if not hmac.compare_digest(proof.jkt.encode(), jkt.encode()):
        raise InvalidToken(
            "Invalid DPoP key binding",
            reason="dpop_key_mismatch",
            detail={"expected_jkt": jkt, "actual_jkt": proof.jkt},
        )
    # Last, once everything else passed: record the proof (RFC 9449 §11.1).
    until = proof.iat + policy.lifetime + 1
    key = replay_key(replay_scope, proof.jkt, proof.jti)
    if shared_cache is None:
        fresh = replays.remember(key, until, now, owner=proof.jkt)
    else:
        fresh = yield shared_cache.remember_proof(
            key,
            until,
            owner=proof.jkt,
            scope=replay_scope,
            limit=replays.maxsize,
            now=now,
        )
        if fresh is None:
            raise ProviderUnavailable(
                "The DPoP replay cache is unavailable", reason="replay_cache_unavailable"
            )
    if not fresh:
        raise InvalidDPoPProof("The DPoP proof was already used", reason="dpop_replay")


def stamp_scheme(
    err: AuthError,
    scheme: str | None,
    dpop: DPoPMode,
    dpop_algs: tuple[str, ...],
    dpop_challenge: bool,
) -> None:
    """Step 6's challenge rule: which scheme ``err`` answers with, and which ``algs``.

    ``scheme`` is the one the request used; ``dpop``, ``dpop_algs`` and ``dpop_challenge`` the
    Guard's options (``Guard(dpop_challenge=True)`` also offers ``algs`` beside ``Bearer``).
    """
    if dpop == "disabled":
        err.scheme, err.dpop_algs = "Bearer", ()
    elif (
        dpop == "required"
        or scheme == "DPoP"
        or isinstance(err, InvalidDPoPProof | UseDPoPNonce)
        or err.reason.startswith("dpop_")
    ):
        err.scheme, err.dpop_algs = "DPoP", dpop_algs
    elif dpop_challenge:
        err.dpop_algs = dpop_algs
