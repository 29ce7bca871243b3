"""Applications registered with the mock PingOne: ids, secrets, redirect URIs, PKCE and PAR rules.

Rules:
1. Redirect and post-logout redirect URIs match exactly, character for character, as in PingOne.
2. One authentication method per application. ``none`` is a public client: no secret, PKCE
   always required, no ``client_credentials``.
3. The mock's default application (``MockPingOne.client_id``) is lenient for backward
   compatibility: it may authenticate with ``client_secret_basic``, ``client_secret_post`` or,
   once a key is registered, ``private_key_jwt``.
"""

from __future__ import annotations

import secrets
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal, get_args
from urllib.parse import urlsplit

__all__ = [
    "AUTH_METHODS",
    "GRANT_TYPES",
    "PKCE_MODES",
    "AuthMethod",
    "ClientRegistry",
    "GrantType",
    "PkceMode",
    "RegisteredClient",
    "default_client",
    "make_client",
]

#: How a client authenticates at the token, PAR, revocation and introspection endpoints.
AuthMethod = Literal["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]
#: PingOne's per-application PKCE setting.
PkceMode = Literal["optional", "required", "S256_required"]
#: Grant types an application may use at the token endpoint.
GrantType = Literal["authorization_code", "refresh_token", "client_credentials"]
AUTH_METHODS: tuple[str, ...] = get_args(AuthMethod)
PKCE_MODES: tuple[str, ...] = get_args(PkceMode)
GRANT_TYPES: tuple[str, ...] = get_args(GrantType)
SECRET_METHODS = ("client_secret_basic", "client_secret_post")


@dataclass
class RegisteredClient:
    """An application of the mock environment (mutable: tests may append redirect URIs).

    >>> client = op.register_client(redirect_uris=["http://127.0.0.1:8000/cb"])  # doctest: +SKIP
    >>> client.client_id, client.auth_method                                     # doctest: +SKIP
    ('3f0c…', 'client_secret_basic')
    """

    client_id: str
    client_secret: str | None = field(repr=False)
    auth_method: AuthMethod
    redirect_uris: list[str]
    post_logout_redirect_uris: list[str]
    require_par: bool
    pkce: PkceMode
    #: Scopes the client may request (``None``: every scope the environment knows).
    scopes: tuple[str, ...] | None
    grant_types: tuple[GrantType, ...]
    #: Also accept the other authentication methods (the mock's default application only).
    lenient: bool = field(default=False, repr=False)

    @property
    def public(self) -> bool:
        """Whether this is a public client (``auth_method="none"``)."""
        return self.auth_method == "none"

    @property
    def pkce_required(self) -> bool:
        """Whether authorization requests must carry a ``code_challenge``."""
        return self.public or self.pkce != "optional"


def _check_uris(uris: Iterable[str], what: str) -> list[str]:
    checked = []
    for uri in uris:
        parts = urlsplit(uri)
        if not parts.scheme or not parts.netloc or parts.fragment:
            raise ValueError(f"{what} must be absolute URIs without a fragment: {uri!r}")
        checked.append(uri)
    return checked


def make_client(
    client_id: str | None,
    *,
    client_secret: str | None,
    auth_method: AuthMethod,
    redirect_uris: Iterable[str],
    post_logout_redirect_uris: Iterable[str],
    require_par: bool,
    pkce: PkceMode,
    scopes: Iterable[str] | None,
    grant_types: Iterable[GrantType] | None,
    known_scopes: Iterable[str],
    lenient: bool = False,
) -> RegisteredClient:
    """Validate registration arguments (``ValueError`` names the bad one) and build the client."""
    if auth_method not in AUTH_METHODS:
        raise ValueError(f"auth_method must be one of {AUTH_METHODS}, not {auth_method!r}")
    if pkce not in PKCE_MODES:
        raise ValueError(f"pkce must be one of {PKCE_MODES}, not {pkce!r}")
    if auth_method in SECRET_METHODS:
        client_secret = client_secret or secrets.token_urlsafe(24)
    elif client_secret is not None:
        raise ValueError(f"client_secret makes no sense with auth_method={auth_method!r}")
    default: tuple[GrantType, ...] = ("authorization_code", "refresh_token")
    grants = tuple(dict.fromkeys(default if grant_types is None else grant_types))
    unknown = [g for g in grants if g not in GRANT_TYPES]
    if unknown:
        raise ValueError(f"grant_types may only hold {GRANT_TYPES}, not {unknown}")
    if auth_method == "none" and "client_credentials" in grants:
        raise ValueError("a public client (auth_method='none') cannot use client_credentials")
    allowed = None if scopes is None else tuple(scopes)
    bad = sorted(set(allowed or ()) - set(known_scopes))
    if bad:
        raise ValueError(f"unknown scopes: {bad}")
    return RegisteredClient(
        client_id=client_id or str(uuid.uuid4()),
        client_secret=client_secret,
        auth_method=auth_method,
        redirect_uris=_check_uris(redirect_uris, "redirect_uris"),
        post_logout_redirect_uris=_check_uris(
            post_logout_redirect_uris, "post_logout_redirect_uris"
        ),
        require_par=bool(require_par),
        pkce=pkce,
        scopes=allowed,
        grant_types=grants,
        lenient=lenient,
    )


def default_client(client_id: str, client_secret: str) -> RegisteredClient:
    """The mock's default application: every grant, no redirect URI yet, lenient auth."""
    return make_client(
        client_id,
        client_secret=client_secret,
        auth_method="client_secret_basic",
        redirect_uris=(),
        post_logout_redirect_uris=(),
        require_par=False,
        pkce="optional",
        scopes=None,
        grant_types=("client_credentials", "authorization_code", "refresh_token"),
        known_scopes=(),
        lenient=True,
    )


class ClientRegistry:
    """The thread-safe set of registered applications, by ``client_id``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clients: dict[str, RegisteredClient] = {}

    def add(self, client: RegisteredClient, *, reserved: Iterable[str] = ()) -> RegisteredClient:
        """Register ``client``; its id must be new and not one of ``reserved``."""
        with self._lock:
            if client.client_id in self._clients or client.client_id in set(reserved):
                raise ValueError(f"client_id {client.client_id!r} is already in use")
            self._clients[client.client_id] = client
        return client

    def get(self, client_id: str | None) -> RegisteredClient | None:
        """The client registered as ``client_id``, if any."""
        if not client_id:
            return None
        with self._lock:
            return self._clients.get(client_id)

    def secret(self, client_id: str) -> str | None:
        """The client's secret, if it has one."""
        client = self.get(client_id)
        return None if client is None else client.client_secret

    def add_redirect_uri(self, client_id: str, uri: str, *, post_logout: bool) -> None:
        """Append ``uri`` to the client's (post-logout) redirect URIs."""
        client = self.get(client_id)
        if client is None:
            raise KeyError(f"no client registered as {client_id!r}")
        what = "post_logout_redirect_uris" if post_logout else "redirect_uris"
        (uri,) = _check_uris([uri], what)
        with self._lock:
            target = client.post_logout_redirect_uris if post_logout else client.redirect_uris
            if uri not in target:
                target.append(uri)
