"""Per-app state: what :meth:`P1Guard.init_app <p1guard_flask.P1Guard.init_app>` stores in
``app.extensions["p1guard"]``, and how a request finds it through ``current_app``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Protocol

from flask import current_app, request

from p1guard import AuthError, ClientCertificates, Guard, Presentation
from p1guard.web import BearerRules, Scheme, split_proofs

__all__ = ["EXTENSION_KEY", "GuardOwner", "P1GuardState", "current_state"]

#: The key of this extension's state in ``app.extensions``.
EXTENSION_KEY = "p1guard"


class GuardOwner(Protocol):
    """The extension a :class:`P1GuardState` belongs to, as this module needs to know it.

    :class:`~p1guard_flask.P1Guard` is one; the state only keeps it, so this module never
    imports :mod:`p1guard_flask.extension` (which imports this one).

    >>> app.extensions["p1guard"].extension.guard                  # doctest: +SKIP
    """

    @property
    def guard(self) -> Guard:
        """The Guard of the current app (or the one given to the extension)."""
        ...


@dataclass(frozen=True)
class P1GuardState:
    """One app's settings: its Guard, whether query tokens are allowed, the owning extension,
    where client certificates come from (RFC 8705; ``None``: certificate-bound tokens fail).

    >>> app.extensions["p1guard"].guard.verify(raw_token)           # doctest: +SKIP
    """

    extension: GuardOwner
    guard: Guard
    allow_query_token: bool
    client_certificates: ClientCertificates | None = None

    @cached_property
    def _rules(self) -> BearerRules:
        """How this app finds a request's bearer token (its realm, whether query tokens count).

        Scopes, ``match`` and ``check_revocation`` are per view, so they are not part of it.
        """
        return BearerRules(
            self.guard,
            allow_query_token=self.allow_query_token,
            client_certificates=self.client_certificates,
        )

    def bearer(self) -> str:
        """The bearer token of the current request (syntax only), or raise its AuthError.

        Every ``Authorization`` value goes to :func:`p1guard.web.extract_bearer` (through
        :meth:`p1guard.web.BearerRules.raw_token`), which also refuses duplicates that a WSGI
        server merged into one comma-joined value.

        >>> raw = current_state().bearer()                            # doctest: +SKIP
        """
        try:
            return self._rules.raw_token(
                request.headers.getlist("Authorization"), request.query_string
            )
        except AuthError as err:
            raise self._rules.challenge(err) from None  # RFC 9728: resource_metadata="…"

    def credentials(self) -> tuple[Scheme, str, Presentation | None]:
        """The current request's scheme (``Bearer`` or ``DPoP``), token (syntax only) and, for
        sender-constrained tokens, its :class:`~p1guard.Presentation`: ``None`` unless
        the request shows the ``DPoP`` scheme, a ``DPoP`` header or a client certificate.

        The URL is ``request.url`` (what the client addressed, as Werkzeug's ``ProxyFix``
        sees it); every ``DPoP`` header value is split at commas. Raises the AuthError to send.

        >>> scheme, raw, shown = current_state().credentials()        # doctest: +SKIP
        """
        source = self.client_certificates
        return self._rules.read(
            request.headers.getlist("Authorization"),
            request.query_string,
            method=request.method,
            url=lambda: request.url,
            dpop_proofs=split_proofs(request.headers.getlist("DPoP")),
            client_cert=None if source is None else source.from_wsgi(request.environ),
        )

    def challenge(self, err: AuthError, scheme: Scheme | None) -> AuthError:
        """``err`` with this app's challenge (RFC 9728 metadata URL, DPoP scheme and algs)."""
        return self._rules.challenge(err, scheme)


def current_state() -> P1GuardState:
    """The state of ``current_app``; :class:`RuntimeError` (fail closed) if it has none.

    >>> current_state().guard                                        # doctest: +SKIP
    """
    state = current_app.extensions.get(EXTENSION_KEY)
    if not isinstance(state, P1GuardState):
        raise RuntimeError(
            f"P1Guard is not set up on the app {current_app.name!r}: call p1.init_app(app)"
        )
    return state
