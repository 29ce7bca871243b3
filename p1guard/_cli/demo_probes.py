"""The requests every ``p1guard demo`` app answers: :data:`PROBES`, the feature tour
(:data:`TOUR_PROBES`) and :data:`METRICS_PROBE`.

``p1guard demo`` prints each as a ``curl`` line and ``p1guard demo --check`` sends them; the
routes they hit are described in :mod:`p1guard._cli.demo_app`.

>>> PROBES[0].path, PROBES[0].expect_status
('/health', 200)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "GARBAGE_TOKEN",
    "METRICS_PROBE",
    "PROBES",
    "TOUR_PROBES",
    "Probe",
    "TokenKind",
    "challenge_error",
]

#: Which token a probe sends: ``read`` (issued by the mock with scope ``read``, a user who signed
#: in with a password only), ``write`` (from the client-credentials grant, scopes ``read write``),
#: ``mfa`` (scope ``read``, a user who just signed in with ``Multi_Factor`` and is in the
#: ``auditors`` group), ``dpop`` (scope ``read``, bound to the demo client's DPoP key and sent
#: with a fresh proof), ``dpop-as-bearer`` (that token sent as a plain bearer token, as a thief
#: would), none, or a garbage string;
#: ``mtls`` (scope ``read``, bound to the demo client's certificate, which goes along in the
#: ``X-Client-Cert`` header as a TLS-terminating proxy would send it) and ``mtls-other-cert``
#: (that token with another certificate).
TokenKind = Literal[
    "read",
    "write",
    "mfa",
    "dpop",
    "dpop-as-bearer",
    "mtls",
    "mtls-other-cert",
    "none",
    "garbage",
]


@dataclass(frozen=True)
class Probe:
    """One request the demo prints as ``curl`` and ``p1guard demo --check`` sends.

    ``sends`` says which token goes in the ``Authorization`` header (see :data:`TokenKind`).
    ``expect_error`` is the ``error`` the ``WWW-Authenticate`` challenge must name: ``""`` for a
    bare ``Bearer`` challenge, ``None`` when no challenge is expected.
    """

    label: str
    method: str
    path: str
    sends: TokenKind
    expect_status: int
    expect_error: str | None = None
    json: dict[str, Any] | None = None
    #: Text the answer's body must contain, when not ``None``.
    expect_body: str | None = None


_BEARER = re.compile(r"(?:Bearer|DPoP)(\s|$)", re.IGNORECASE)
# Quoted values cannot hold '"' (errors.py sanitizes them), so this cannot match inside one.
_ERROR_PARAM = re.compile(r'(?:^(?:Bearer|DPoP)\s+|,\s*)error="([^"]*)"', re.IGNORECASE)

#: A token-shaped string no issuer ever signed.
GARBAGE_TOKEN = "not-a-real-token"  # noqa: S105 - not a credential

PROBES: tuple[Probe, ...] = (
    Probe("public route, no token", "GET", "/health", "none", 200),
    Probe("token with scope read", "GET", "/items", "read", 200),
    Probe("who am I", "GET", "/me", "read", 200),
    Probe(
        "token lacks scope write",
        "POST",
        "/items",
        "read",
        403,
        "insufficient_scope",
        {"name": "tea"},
    ),
    Probe("no token", "GET", "/items", "none", 401, ""),
    Probe("garbage token", "GET", "/items", "garbage", 401, "invalid_token"),
    Probe(
        "client-credentials token with scope write",
        "POST",
        "/items",
        "write",
        201,
        json={"name": "coffee"},
    ),
)


#: Answered when ``prometheus-client`` is installed (``pip install 'p1guard[prometheus]'``):
#: the guard's counters, after the requests before it.
METRICS_PROBE = Probe(
    "metrics (Prometheus): verifications by outcome and reason",
    "GET",
    "/metrics",
    "none",
    200,
    expect_body='p1guard_verifications_total{outcome="refused",reason="dpop_binding_unchecked"',
)

#: The feature tour, answered by demos whose :class:`DemoFramework` has ``tour=True``.
TOUR_PROBES: tuple[Probe, ...] = (
    Probe(
        "resource metadata (RFC 9728)", "GET", "/.well-known/oauth-protected-resource", "none", 200
    ),
    Probe(
        "step-up: a password-only sign-in cannot move money",
        "POST",
        "/transfers",
        "read",
        401,
        "insufficient_user_authentication",
        {"amount": 10},
    ),
    Probe(
        "step-up: a multi-factor sign-in within 5 minutes can",
        "POST",
        "/transfers",
        "mfa",
        201,
        json={"amount": 10},
    ),
    Probe("claim rule: not in group auditors", "GET", "/reports", "read", 403, "access_denied"),
    Probe("claim rule: an auditor", "GET", "/reports", "mfa", 200),
    Probe("DPoP: a key-bound token with its proof (RFC 9449)", "GET", "/me", "dpop", 200),
    Probe(
        "DPoP: the same token without the key, as a thief would send it",
        "GET",
        "/me",
        "dpop-as-bearer",
        401,
        "invalid_token",
    ),
    Probe(
        "mTLS: a certificate-bound token and its certificate (RFC 8705)", "GET", "/me", "mtls", 200
    ),
    Probe(
        "mTLS: the same token with another certificate",
        "GET",
        "/me",
        "mtls-other-cert",
        401,
        "invalid_token",
    ),
)


def challenge_error(www_authenticate: str | None) -> str | None:
    """The ``error`` of a ``Bearer`` or ``DPoP`` challenge: ``""`` when it names none, ``None``
    without one.

    >>> challenge_error('Bearer error="invalid_token", error_description="Expired"')
    'invalid_token'
    >>> challenge_error('DPoP error="invalid_dpop_proof", algs="ES256"')
    'invalid_dpop_proof'
    >>> challenge_error("Bearer"), challenge_error(None)
    ('', None)
    """
    if www_authenticate is None or not _BEARER.match(www_authenticate):
        return None
    found = _ERROR_PARAM.search(www_authenticate)
    return found.group(1) if found else ""
