"""OpenID Provider metadata (``{issuer}/.well-known/openid-configuration``).

Rules:

1. Fetched lazily, on first need, once per ``max_age``; concurrent first needs share one call.
2. The document's ``issuer`` must equal the configured issuer exactly (OpenID Discovery §4.3).
3. Endpoint URLs must be https — or http on a loopback issuer, for tests — and are taken from the
   document, never guessed.
4. After a failure the next attempt waits (exponential backoff with jitter); meanwhile an older
   document keeps serving, and without one callers get ``ProviderUnavailable`` at once.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from p1guard._http.backoff import Backoff
from p1guard._http.flow import Flow, Request, json_object
from p1guard.errors import ProviderUnavailable

__all__ = ["Discovery", "ProviderMetadata"]

_ENDPOINTS = {
    "authorization_endpoint": "authorization_endpoint",
    "token_endpoint": "token_endpoint",
    "jwks_uri": "jwks_uri",
    "introspection_endpoint": "introspection_endpoint",
    "revocation_endpoint": "revocation_endpoint",
    "userinfo_endpoint": "userinfo_endpoint",
    "end_session_endpoint": "end_session_endpoint",
    "pushed_authorization_request_endpoint": "par_endpoint",
}


@dataclass(frozen=True, slots=True)
class ProviderMetadata:
    """The validated parts of a discovery document p1guard uses; ``raw`` holds all of it."""

    issuer: str
    jwks_uri: str
    token_endpoint: str | None = None
    authorization_endpoint: str | None = None
    introspection_endpoint: str | None = None
    revocation_endpoint: str | None = None
    userinfo_endpoint: str | None = None
    end_session_endpoint: str | None = None
    par_endpoint: str | None = None
    require_par: bool = False
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_document(cls, document: Mapping[str, Any], issuer: str) -> ProviderMetadata:
        """Validate a discovery document against the configured ``issuer`` (rules 2 and 3)."""
        if document.get("issuer") != issuer:
            raise ProviderUnavailable(
                "The authorization server's discovery document names another issuer",
                reason="discovery_issuer_mismatch",
            )
        allow_http = urlsplit(issuer).scheme == "http"
        endpoints: dict[str, str | None] = {}
        for key, attr in _ENDPOINTS.items():
            value = document.get(key)
            endpoints[attr] = _endpoint(key, value, allow_http) if value is not None else None
        jwks_uri = endpoints.pop("jwks_uri")
        if jwks_uri is None:
            raise ProviderUnavailable(
                "The authorization server's discovery document has no jwks_uri",
                reason="discovery_malformed",
            )
        return cls(
            issuer=issuer,
            jwks_uri=jwks_uri,
            require_par=document.get("require_pushed_authorization_requests") is True,
            raw=dict(document),
            **endpoints,
        )


def _endpoint(name: str, value: object, allow_http: bool) -> str:
    if isinstance(value, str):
        try:
            parts = urlsplit(value)
        except ValueError:  # e.g. an unclosed IPv6 bracket
            parts = urlsplit("")
        if parts.hostname and (parts.scheme == "https" or (allow_http and parts.scheme == "http")):
            return value
    raise ProviderUnavailable(
        f"The authorization server's discovery document has an unusable {name}",
        reason="discovery_malformed",
    )


class Discovery:
    """Cache of one issuer's :class:`ProviderMetadata` (see the module rules)."""

    def __init__(self, issuer: str, *, max_age: float = 86400.0) -> None:
        self.issuer = issuer
        self.url = f"{issuer}/.well-known/openid-configuration"
        self.max_age = max_age
        self.metadata: ProviderMetadata | None = None
        self.fetched_at = 0.0
        self.backoff = Backoff(base=1.0, cap=60.0)

    def fresh(self, now: float | None = None) -> ProviderMetadata | None:
        """The cached metadata if it is younger than ``max_age``."""
        now = time.monotonic() if now is None else now
        if self.metadata is not None and now - self.fetched_at < self.max_age:
            return self.metadata
        return None

    def flow(self) -> Flow[ProviderMetadata]:
        """The metadata: cached, or fetched (rule 1), falling back per rule 4."""
        now = time.monotonic()
        cached = self.fresh(now)
        if cached is not None:
            return cached
        wait = self.backoff.wait(now)
        if wait > 0:
            if self.metadata is not None:
                return self.metadata
            raise ProviderUnavailable(
                "The authorization server's discovery endpoint is failing; retrying soon",
                reason="discovery_backoff",
                retry_after=wait,
            )
        try:
            response = yield Request("GET", self.url, "discovery", flight_key=self.url, retry=True)
            metadata = ProviderMetadata.from_document(
                json_object(response, "discovery"), self.issuer
            )
        except ProviderUnavailable as exc:
            self.backoff.failed(time.monotonic(), exc.retry_after, attempt_started=now)
            if self.metadata is not None:
                return self.metadata
            exc.retry_after = exc.retry_after or self.backoff.wait(time.monotonic())
            raise
        self.backoff.succeeded()
        self.metadata = metadata
        self.fetched_at = time.monotonic()
        return metadata
