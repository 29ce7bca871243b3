"""Helpers shared by the ``p1guard`` subcommands (:mod:`p1guard._cli.main`,
:mod:`p1guard._cli.demo_command` and the demo modules): the usage error, the missing-extra
error and its check, closing a :class:`PingOne`, and minting a token with the
client-credentials grant.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from p1guard._client.credentials import client_credentials_flow
from p1guard.errors import P1GuardError

if TYPE_CHECKING:
    from p1guard._client.auth import ClientAuth
    from p1guard._pingone import PingOne
    from p1guard._tokens.discovery import ProviderMetadata

__all__ = [
    "ASGIApp",
    "MissingExtra",
    "UsageError",
    "opened",
    "provider_metadata",
    "request_token",
    "require_extra",
]

#: An ASGI application (scope, receive, send), as the demo servers run it.
ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]


class UsageError(Exception):
    """A problem the user can fix; printed as one line, exit code ``code``."""

    def __init__(self, message: str, code: int = 2) -> None:
        self.code = code
        super().__init__(message)


class MissingExtra(P1GuardError, ImportError):
    """A demo needs packages that are not installed (``pip install 'p1guard[demo]'``)."""


def require_extra(modules: Sequence[str], who: str, extra: str = "demo") -> None:
    """Raise :class:`MissingExtra` naming ``pip install 'p1guard[extra]'`` unless every one of
    ``modules`` is installed (found, not imported)."""
    missing = [name for name in modules if importlib.util.find_spec(name) is None]
    if missing:
        raise MissingExtra(
            f"{who} needs {', '.join(missing)}: pip install 'p1guard[{extra}]'",
            name=missing[0],
        )


@contextmanager
def opened(pingone: PingOne) -> Iterator[PingOne]:
    """``pingone`` itself, closed on the way out."""
    try:
        yield pingone
    finally:
        pingone.close()


def provider_metadata(pingone: PingOne) -> ProviderMetadata:
    """The provider's discovery document, fetched now."""
    return pingone.transport.run(pingone.discovery.flow())


def request_token(pingone: PingOne, auth: ClientAuth, scopes: Sequence[str]) -> dict[str, Any]:
    """Discovery, then the client-credentials grant: the token response of ``auth``'s client."""
    metadata = provider_metadata(pingone)
    return pingone.transport.run(client_credentials_flow(metadata, auth, scopes))
