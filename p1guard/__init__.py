"""p1guard: protect Python web APIs and apps with PingOne.

>>> from p1guard import PingOne, Guard
>>> guard = Guard(PingOne(env_id="0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", region="NA"),
...               audience="https://api.example.com")

``guard.verify(token, Requirements(scopes="read"))`` (or ``scopes=["read"]``; ``await
guard.averify(…)``) returns an :class:`AccessToken` or raises an :class:`AuthError`;
:mod:`p1guard.asgi._middleware` and :mod:`p1guard.wsgi._middleware` wrap whole apps.
Sender-constrained tokens (DPoP, RFC 9449; mTLS, RFC 8705) are checked when the call passes
``presentation=Presentation(…)``.
"""

from p1guard._client.auth import ClientAuth
from p1guard._client.credentials import TokenRequestError, client_credentials_flow
from p1guard._client.dpop_auth import DPoPAuth, NonceMemory
from p1guard._client.dpop_key import DPoPKey
from p1guard._guard import Guard
from p1guard._observe.metrics import Metrics, OpenTelemetryMetrics, PrometheusMetrics
from p1guard._observe.tracing import OpenTelemetryTracing, Tracing
from p1guard._pingone import PingOne
from p1guard._requirements import Requirements
from p1guard._sender.binding import Presentation, certificate_thumbprint
from p1guard._sender.certificates import ClientCertificates
from p1guard._sender.dpop import DPoPNonces
from p1guard._tokens.claims import ClaimRule, Contains, Equals, Predicate
from p1guard._tokens.shared_cache import RedisCache
from p1guard._tokens.tokens import AccessToken, TokenSet
from p1guard._version import __version__
from p1guard._web.resource_metadata import ResourceMetadata
from p1guard.errors import (
    AuthError,
    ConfigError,
    DenylistFull,
    InsufficientClaims,
    InsufficientScope,
    InsufficientUserAuthentication,
    InvalidDPoPProof,
    InvalidRequest,
    InvalidToken,
    MissingToken,
    P1GuardError,
    ProviderUnavailable,
    UseDPoPNonce,
)

__all__ = [
    "AccessToken",
    "AuthError",
    "ClaimRule",
    "ClientAuth",
    "ClientCertificates",
    "ConfigError",
    "Contains",
    "DPoPAuth",
    "DPoPKey",
    "DPoPNonces",
    "DenylistFull",
    "Equals",
    "Guard",
    "InsufficientClaims",
    "InsufficientScope",
    "InsufficientUserAuthentication",
    "InvalidDPoPProof",
    "InvalidRequest",
    "InvalidToken",
    "Metrics",
    "MissingToken",
    "NonceMemory",
    "OpenTelemetryMetrics",
    "OpenTelemetryTracing",
    "P1GuardError",
    "PingOne",
    "Predicate",
    "Presentation",
    "PrometheusMetrics",
    "ProviderUnavailable",
    "RedisCache",
    "Requirements",
    "ResourceMetadata",
    "TokenRequestError",
    "TokenSet",
    "Tracing",
    "UseDPoPNonce",
    "__version__",
    "certificate_thumbprint",
    "client_credentials_flow",
]
