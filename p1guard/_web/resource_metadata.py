"""OAuth 2.0 Protected Resource Metadata (RFC 9728): tell clients how to get a token.

Pure, no I/O. :class:`ResourceMetadata` builds the JSON document a protected API serves at
``/.well-known/oauth-protected-resource`` and the absolute URL that 401 challenges point to
with ``resource_metadata="…"`` (RFC 9728 §5.1).

Where the document lives (RFC 9728 §3.1): the well-known suffix goes between the host and the
path of the resource identifier, and a trailing ``/`` is dropped:

* ``https://api.example.com`` →
  ``https://api.example.com/.well-known/oauth-protected-resource``
* ``https://api.example.com/v1/`` →
  ``https://api.example.com/.well-known/oauth-protected-resource/v1``

Sender-constrained tokens add three optional members: ``dpop_signing_alg_values_supported``
and ``dpop_bound_access_tokens_required`` (RFC 9728 §2, RFC 9449) and
``tls_client_certificate_bound_access_tokens`` (RFC 8705). :meth:`ResourceMetadata.for_guard`
fills them from the Guard when it requires DPoP or mTLS, or offers DPoP in its challenges
(``dpop_challenge=True``); a Guard that merely allows DPoP keeps its document unchanged
unless the algorithms are passed explicitly.

The middlewares (:mod:`p1guard.asgi._middleware`, :mod:`p1guard.wsgi._middleware`) serve the
document at
:attr:`ResourceMetadata.well_known_path`. Behind a proxy that mounts the API under a prefix,
pass the public ``metadata_url`` explicitly.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from p1guard._tokens.keys import ALGORITHMS
from p1guard._values import check_url
from p1guard.errors import ConfigError

if TYPE_CHECKING:
    from p1guard._guard import Guard

__all__ = ["WELL_KNOWN_PREFIX", "ResourceMetadata"]

#: RFC 9728 §3: the registered well-known URI suffix, as a path prefix.
WELL_KNOWN_PREFIX = "/.well-known/oauth-protected-resource"

_BEARER_METHODS = frozenset({"header", "body", "query"})


class ResourceMetadata:
    """The RFC 9728 metadata of one protected resource (API).

    ``resource`` is the resource identifier (usually the Guard's audience URL) and ``issuer``
    the PingOne issuer, its one authorization server. ``metadata_url`` defaults to the
    RFC 9728 §3.1 location derived from ``resource``.

    >>> md = ResourceMetadata("https://api.example.com", "https://auth.pingone.eu/abc/as",
    ...                       scopes_supported=["read", "write"])
    >>> md.metadata_url
    'https://api.example.com/.well-known/oauth-protected-resource'
    >>> md.document()["authorization_servers"]
    ['https://auth.pingone.eu/abc/as']
    """

    __slots__ = (
        "bearer_methods_supported",
        "dpop_bound_access_tokens_required",
        "dpop_signing_alg_values_supported",
        "extra",
        "issuer",
        "metadata_url",
        "resource",
        "resource_name",
        "scopes_supported",
        "tls_client_certificate_bound_access_tokens",
        "well_known_path",
    )

    def __init__(
        self,
        resource: str,
        issuer: str,
        *,
        scopes_supported: Iterable[str] = (),
        resource_name: str | None = None,
        bearer_methods_supported: Iterable[str] = ("header",),
        metadata_url: str | None = None,
        extra: dict[str, Any] | None = None,
        dpop_signing_alg_values_supported: Iterable[str] = (),
        dpop_bound_access_tokens_required: bool = False,
        tls_client_certificate_bound_access_tokens: bool = False,
    ) -> None:
        self.resource = check_url("resource", resource)
        self.issuer = check_url("issuer", issuer)
        if isinstance(scopes_supported, str):
            raise ConfigError("scopes_supported", "expected a list of scopes, got a single string")
        scopes = tuple(scopes_supported)
        if not all(isinstance(s, str) and s and " " not in s for s in scopes):
            raise ConfigError("scopes_supported", "every scope must be a non-empty string")
        self.scopes_supported = scopes
        if resource_name is not None and (not isinstance(resource_name, str) or not resource_name):
            raise ConfigError("resource_name", "expected a non-empty string or None")
        self.resource_name = resource_name
        if isinstance(bearer_methods_supported, str):
            raise ConfigError("bearer_methods_supported", "expected a list, got a single string")
        methods = tuple(bearer_methods_supported)
        if not set(methods) <= _BEARER_METHODS:
            raise ConfigError(
                "bearer_methods_supported", f"use 'header', 'body' or 'query', got {methods!r}"
            )
        self.bearer_methods_supported = methods
        if isinstance(dpop_signing_alg_values_supported, str):
            raise ConfigError("dpop_signing_alg_values_supported", "expected a list, not a string")
        dpop_algs = tuple(dpop_signing_alg_values_supported)
        if not set(dpop_algs) <= ALGORITHMS:
            raise ConfigError(
                "dpop_signing_alg_values_supported",
                f"choose from {', '.join(sorted(ALGORITHMS))}, got {dpop_algs!r}",
            )
        self.dpop_signing_alg_values_supported = dpop_algs
        self.dpop_bound_access_tokens_required = bool(dpop_bound_access_tokens_required)
        self.tls_client_certificate_bound_access_tokens = bool(
            tls_client_certificate_bound_access_tokens
        )
        parts = urlsplit(self.resource)
        suffix = parts.path.rstrip("/")
        self.well_known_path = WELL_KNOWN_PREFIX + suffix
        if metadata_url is None:
            metadata_url = urlunsplit(
                (parts.scheme, parts.netloc, self.well_known_path, parts.query, "")
            )
        self.metadata_url = check_url("metadata_url", metadata_url, allow_query=True)
        self.extra = dict(extra or {})
        reserved = {
            "resource",
            "authorization_servers",
            "dpop_signing_alg_values_supported",
            "dpop_bound_access_tokens_required",
            "tls_client_certificate_bound_access_tokens",
        } & set(self.extra)
        if reserved:
            raise ConfigError("extra", f"{sorted(reserved)} are set by p1guard, not by extra")

    @classmethod
    def for_guard(
        cls,
        guard: Guard,
        *,
        resource: str | None = None,
        scopes_supported: Iterable[str] = (),
        resource_name: str | None = None,
        metadata_url: str | None = None,
        dpop_signing_alg_values_supported: Iterable[str] | None = None,
    ) -> ResourceMetadata:
        """Metadata for ``guard``: its issuer, and its audience as ``resource`` unless given.

        Without ``resource`` the Guard must have exactly one audience, and it must be a URL.
        The sender-constraint members follow the Guard (module docstring).

        >>> from p1guard import Guard, PingOne
        >>> guard = Guard(PingOne(issuer="https://login.example.com/as"),
        ...               audience="https://api.example.com", dpop="required",
        ...               dpop_algorithms=["ES256", "PS256"])
        >>> doc = ResourceMetadata.for_guard(guard).document()
        >>> doc["dpop_signing_alg_values_supported"], doc["dpop_bound_access_tokens_required"]
        (['ES256', 'PS256'], True)
        """
        if resource is None:
            audiences = sorted(guard.policy.audiences)
            if len(audiences) != 1:
                raise ConfigError(
                    "resource", "the Guard has several audiences; pass resource= explicitly"
                )
            resource = audiences[0]
        dpop = getattr(guard, "dpop", "disabled")
        if dpop_signing_alg_values_supported is None:
            offered = dpop == "required" or getattr(guard, "dpop_challenge", False)
            dpop_signing_alg_values_supported = guard.dpop_algs if offered else ()
        return cls(
            resource,
            guard.pingone.issuer,
            scopes_supported=scopes_supported,
            resource_name=resource_name,
            metadata_url=metadata_url,
            dpop_signing_alg_values_supported=dpop_signing_alg_values_supported,
            dpop_bound_access_tokens_required=dpop == "required",
            tls_client_certificate_bound_access_tokens=getattr(guard, "mtls", "") == "required",
        )

    def document(self) -> dict[str, Any]:
        """The metadata JSON object (RFC 9728 §2); empty optional members are left out."""
        doc: dict[str, Any] = {
            "resource": self.resource,
            "authorization_servers": [self.issuer],
        }
        if self.scopes_supported:
            doc["scopes_supported"] = list(self.scopes_supported)
        doc["bearer_methods_supported"] = list(self.bearer_methods_supported)
        if self.resource_name is not None:
            doc["resource_name"] = self.resource_name
        if self.dpop_signing_alg_values_supported:
            doc["dpop_signing_alg_values_supported"] = list(self.dpop_signing_alg_values_supported)
        if self.dpop_bound_access_tokens_required:
            doc["dpop_bound_access_tokens_required"] = True
        if self.tls_client_certificate_bound_access_tokens:
            doc["tls_client_certificate_bound_access_tokens"] = True
        doc.update(self.extra)
        return doc

    def json_bytes(self) -> bytes:
        """:meth:`document` as compact UTF-8 JSON."""
        return json.dumps(self.document(), separators=(",", ":")).encode()

    def response_headers(self, body: bytes) -> list[tuple[str, str]]:
        """Headers for serving ``body``: JSON, cacheable for an hour."""
        return [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "max-age=3600"),
        ]

    def __repr__(self) -> str:
        return f"ResourceMetadata(resource={self.resource!r}, issuer={self.issuer!r})"
