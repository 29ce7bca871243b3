"""PingOne environment configuration: where the authorization server is and how to talk to it.

A :class:`PingOne` object is cheap to share: it owns the HTTP clients, the discovery document
and the JWKS cache, so every :class:`~p1guard.Guard` and relying party built on it shares them.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from p1guard._schema import construct, read_or_raise
from p1guard._values import Seconds, is_loopback, to_seconds
from p1guard.errors import ConfigError

if TYPE_CHECKING:
    from p1guard._http.flow import Flow
    from p1guard._http.transport import Transport
    from p1guard._observe.metrics import Metrics
    from p1guard._observe.tracing import Tracing
    from p1guard._tokens.discovery import Discovery
    from p1guard._tokens.jwks import JwksCache
    from p1guard._tokens.keys import SigningKey

__all__ = ["REGIONS", "PingOne", "issuer_for"]

#: Region code → top-level domain of ``auth.pingone.<tld>``.
REGIONS: Mapping[str, str] = {
    "NA": "com",
    "CA": "ca",
    "EU": "eu",
    "AU": "com.au",
    "AP": "asia",
    "SG": "sg",
}

_ENV_ID = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)


def _region_tld(region: str) -> str:
    code = region.strip()
    if code.upper() in REGIONS:
        return REGIONS[code.upper()]
    if code.lower() in REGIONS.values():
        return code.lower()
    choices = ", ".join(REGIONS)
    raise ConfigError("region", f"unknown region {region!r}; use one of {choices}")


def issuer_for(env_id: str, region: str = "NA") -> str:
    """The issuer URL of a PingOne environment on PingOne's own domain.

    >>> issuer_for("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", "EU")
    'https://auth.pingone.eu/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0/as'
    """
    if not isinstance(env_id, str) or not _ENV_ID.match(env_id):
        raise ConfigError(
            "env_id",
            "must be the environment's UUID (8-4-4-4-12 hex digits), "
            "as shown in the PingOne console under Environment > Properties",
        )
    return f"https://auth.pingone.{_region_tld(region)}/{env_id.lower()}/as"


def _validate_issuer(issuer: str, *, allow_insecure_http: bool) -> str:
    if not isinstance(issuer, str) or not issuer:
        raise ConfigError("issuer", "must be a non-empty URL string")
    parts = urlsplit(issuer)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigError("issuer", f"must be an absolute https URL, got {issuer!r}")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigError("issuer", "must not contain a query, fragment or credentials")
    if parts.scheme == "http" and not (is_loopback(parts.hostname) or allow_insecure_http):
        raise ConfigError(
            "issuer",
            "http is only accepted for loopback hosts (127.0.0.1, ::1, localhost); "
            "pass allow_insecure_http=True only for a trusted test network",
        )
    return issuer.rstrip("/")


def _check_metrics(metrics: object) -> None:
    from p1guard._observe.metrics import Metrics

    if not isinstance(metrics, Metrics):
        raise ConfigError(
            "metrics", "expected an object with count() and observe(), e.g. PrometheusMetrics()"
        )


def _check_tracing(tracing: object) -> None:
    from p1guard._observe.tracing import Tracing

    if not isinstance(tracing, Tracing):
        raise ConfigError(
            "tracing", "expected an object with call() and joined(), e.g. OpenTelemetryTracing()"
        )


class PingOne:
    """One PingOne environment: its issuer, HTTP settings, discovery document and key cache.

    >>> PingOne(env_id="0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", region="NA").issuer
    'https://auth.pingone.com/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0/as'
    >>> PingOne(issuer="https://login.example.com/as").issuer   # custom domain
    'https://login.example.com/as'

    ``timeout`` bounds every call to PingOne; ``jwks_cooldown`` is the least time between two
    JWKS fetches caused by unknown ``kid`` values; ``jwks_max_age`` how long a fetched key set
    is used before it is refreshed; ``jwks_stale_if_error`` how long known keys keep working
    past that when PingOne cannot be reached. ``metrics`` (a :class:`~p1guard.Metrics`,
    e.g. ``PrometheusMetrics()``) receives the counters and timings of everything built on this
    PingOne; it is also handed to a ``transport`` given without one of its own. ``tracing``
    (a :class:`~p1guard.Tracing`, e.g. ``OpenTelemetryTracing()``) gets one span per
    call to PingOne, the same way. Both are off by default and then cost one ``is None`` check.
    """

    def __init__(
        self,
        *,
        env_id: str | None = None,
        region: str = "NA",
        issuer: str | None = None,
        timeout: Seconds = 5.0,
        jwks_cooldown: Seconds = 60.0,
        jwks_max_age: Seconds = 900.0,
        jwks_stale_if_error: Seconds = 3600.0,
        discovery_max_age: Seconds = 86400.0,
        allow_insecure_http: bool = False,
        transport: Transport | None = None,
        metrics: Metrics | None = None,
        tracing: Tracing | None = None,
    ) -> None:
        if env_id is not None:
            # Validated even beside a custom-domain issuer: the flows API still needs it.
            env_issuer = issuer_for(env_id, region)
        if issuer is not None:
            self.issuer = _validate_issuer(issuer, allow_insecure_http=allow_insecure_http)
        elif env_id is not None:
            self.issuer = env_issuer
        else:
            raise ConfigError("env_id", "give env_id (and region) or issuer")
        self.env_id = env_id.lower() if env_id else None
        self.timeout = to_seconds("timeout", timeout, minimum=0.001)
        self.jwks_cooldown = to_seconds("jwks_cooldown", jwks_cooldown)
        self.jwks_max_age = to_seconds("jwks_max_age", jwks_max_age, minimum=1)
        self.jwks_stale_if_error = to_seconds("jwks_stale_if_error", jwks_stale_if_error)
        self.discovery_max_age = to_seconds("discovery_max_age", discovery_max_age, minimum=1)
        self.allow_insecure_http = allow_insecure_http
        if metrics is not None:
            _check_metrics(metrics)
            if transport is not None and transport.metrics is None:
                transport.metrics = metrics
        #: Where counters and timings go (``None``: nowhere, at the cost of an ``is None`` check).
        self.metrics = metrics
        if tracing is not None:
            _check_tracing(tracing)
            if transport is not None and transport.tracing is None:
                transport.tracing = tracing
        #: Where spans of calls to PingOne go (``None``: nowhere).
        self.tracing = tracing
        self._transport = transport
        self._discovery: Discovery | None = None
        self._jwks: JwksCache | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> PingOne:
        """Build from ``P1GUARD_ENV_ID`` + ``P1GUARD_REGION``, or ``P1GUARD_ISSUER``, and
        ``P1GUARD_TIMEOUT`` (read by :mod:`p1guard._schema`, as every framework reads them);
        ``overrides`` are keyword arguments that win.

        >>> PingOne.from_env({"P1GUARD_ISSUER": "https://login.example.com/as"}).issuer
        'https://login.example.com/as'
        """
        env = os.environ if environ is None else environ
        options = read_or_raise(env, feeds=("pingone",), given=overrides)["pingone"]
        return construct(cls, feed="pingone", given=overrides, **{**options, **overrides})

    @property
    def environment_id(self) -> str | None:
        """The PingOne environment id: ``env_id``, else the one in a PingOne-shaped issuer
        path (``…/<env id>/as``); ``None`` for a custom domain given without ``env_id``.

        >>> issuer = "https://auth.pingone.eu/0F1E2D3C-4b5a-6978-8796-a5b4c3d2e1f0/as"
        >>> PingOne(issuer=issuer).environment_id
        '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0'
        """
        if self.env_id is not None:
            return self.env_id
        segments = self.issuer.rstrip("/").split("/")
        if len(segments) >= 5 and segments[-1] == "as" and _ENV_ID.match(segments[-2]):
            return segments[-2].lower()
        return None

    @property
    def transport(self) -> Transport:
        """The HTTP transport (sync and async clients) used for every call to PingOne."""
        if self._transport is None:
            from p1guard._http.transport import Transport

            self._transport = Transport(
                timeout=self.timeout, metrics=self.metrics, tracing=self.tracing
            )
        return self._transport

    @property
    def discovery(self) -> Discovery:
        """The lazily fetched OpenID Provider metadata of this environment."""
        if self._discovery is None:
            from p1guard._tokens.discovery import Discovery

            self._discovery = Discovery(self.issuer, max_age=self.discovery_max_age)
        return self._discovery

    @property
    def jwks(self) -> JwksCache:
        """The signing-key cache of this environment."""
        if self._jwks is None:
            from p1guard._tokens.jwks import JwksCache

            self._jwks = JwksCache(
                cooldown=self.jwks_cooldown,
                max_age=self.jwks_max_age,
                stale_if_error=self.jwks_stale_if_error,
            )
        return self._jwks

    def key_flow(self, kid: str) -> Flow[SigningKey]:
        """The signing key for ``kid``: from the JWKS cache, else fetched via the discovery
        document's ``jwks_uri`` (the cache's own rules decide when a fetch may happen)."""
        jwks = self.jwks
        key = jwks.fresh_key(kid, time.monotonic())
        if key is not None:
            return key
        discovery = self.discovery
        metadata = discovery.fresh() or (yield from discovery.flow())
        return (yield from jwks.flow(metadata.jwks_uri, kid))

    def close(self) -> None:
        """Close the sync HTTP client."""
        if self._transport is not None:
            self._transport.close()

    async def aclose(self) -> None:
        """Close the async HTTP clients (and the sync one)."""
        if self._transport is not None:
            await self._transport.aclose()

    def __repr__(self) -> str:
        return f"PingOne(issuer={self.issuer!r})"
