"""p1guard: protect Python web APIs and apps with PingOne.

>>> from p1guard import PingOne, Guard
>>> guard = Guard(PingOne(env_id="0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", region="NA"),
...               audience="https://api.example.com")

``guard.verify(token, scopes=["read"])`` (or ``await guard.averify(…)``) returns an
:class:`AccessToken` or raises an :class:`AuthError`; :mod:`p1guard.asgi` and
:mod:`p1guard.wsgi` wrap whole apps. Sender-constrained tokens (DPoP, RFC 9449; mTLS,
RFC 8705) are checked when the call passes ``presentation=Presentation(…)``.
"""

from .binding import Presentation
from .claims import Contains, Equals, Predicate
from .config import PingOne
from .dpop import DPoPNonces
from .errors import (
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
from .guard import Guard
from .tokens import AccessToken

__version__ = "0.1.0"

__all__ = [
    "AccessToken",
    "AuthError",
    "ConfigError",
    "Contains",
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
    "MissingToken",
    "P1GuardError",
    "PingOne",
    "Predicate",
    "Presentation",
    "ProviderUnavailable",
    "UseDPoPNonce",
    "__version__",
]
