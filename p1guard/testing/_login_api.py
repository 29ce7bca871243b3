"""The login half of :class:`~p1guard.testing.MockPingOne`'s public API (a mixin).

Applications, the browser session, tamper hooks for attack tests and inspection helpers.
The protocol rules live in ``_login.py``, the endpoints in ``_login_app.py``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from p1guard.testing._clients import AuthMethod, GrantType, PkceMode, RegisteredClient, make_client
from p1guard.testing._login import OIDC_SCOPES

if TYPE_CHECKING:
    from p1guard.testing._clients import ClientRegistry
    from p1guard.testing._login import LoginState

__all__ = ["LoginControls"]


class LoginControls:
    """Login controls of the mock; :class:`MockPingOne` provides the state."""

    _login: LoginState
    _clients: ClientRegistry
    client_id: str
    resource_id: str
    scopes: tuple[str, ...]

    # -- applications ----------------------------------------------------------------------

    def register_client(
        self,
        client_id: str | None = None,
        *,
        client_secret: str | None = None,
        auth_method: AuthMethod = "client_secret_basic",
        redirect_uris: Iterable[str] = (),
        post_logout_redirect_uris: Iterable[str] = (),
        require_par: bool = False,
        pkce: PkceMode = "optional",
        scopes: Iterable[str] | None = None,
        grant_types: Iterable[GrantType] | None = None,
    ) -> RegisteredClient:
        """Register an application that can sign users in; returns it (with its secret).

        ``client_id`` defaults to a new UUID and ``client_secret`` to a random one for the
        ``client_secret_*`` methods (it must stay ``None`` for ``private_key_jwt``, whose key
        :meth:`register_client_key` adds, and for ``none``, a public client that must use PKCE).
        Redirect URIs match exactly. ``scopes=None`` allows every scope; ``grant_types``
        defaults to ``authorization_code`` and ``refresh_token``.

        >>> app = op.register_client(redirect_uris=["http://127.0.0.1:5000/cb"],  # doctest: +SKIP
        ...                          pkce="S256_required", require_par=True)
        """
        client = make_client(
            client_id,
            client_secret=client_secret,
            auth_method=auth_method,
            redirect_uris=redirect_uris,
            post_logout_redirect_uris=post_logout_redirect_uris,
            require_par=require_par,
            pkce=pkce,
            scopes=scopes,
            grant_types=grant_types,
            known_scopes=(*OIDC_SCOPES, *self.scopes),
        )
        return self._clients.add(client, reserved=[self.resource_id])

    def add_redirect_uri(self, client_id: str, uri: str, *, post_logout: bool = False) -> None:
        """Allow ``uri`` as a redirect URI (``post_logout=True``: a post-logout one) of a client.

        >>> op.add_redirect_uri(op.client_id, "http://127.0.0.1:8000/cb")  # doctest: +SKIP
        """
        self._clients.add_redirect_uri(client_id, uri, post_logout=post_logout)

    def get_client(self, client_id: str) -> RegisteredClient:
        """The registered application ``client_id`` (``KeyError`` if unknown).

        >>> op.get_client(op.client_id).redirect_uris                # doctest: +SKIP
        []
        """
        client = self._clients.get(client_id)
        if client is None:
            raise KeyError(client_id)
        return client

    # -- browser session -------------------------------------------------------------------

    @property
    def signed_in(self) -> bool:
        """Whether the mock browser session is signed in (``/authorize`` signs in by itself).

        >>> op.signed_in                                             # doctest: +SKIP
        False
        """
        return self._login.signed_in

    @property
    def session_id(self) -> str | None:
        """The ``sid`` of the current session (``None`` when signed out)."""
        return self._login.sid

    def sign_out(self) -> None:
        """End the session as ``/signoff`` would (next ``prompt=none`` gets ``login_required``).

        >>> op.sign_out()                                            # doctest: +SKIP
        """
        self._login.sign_out()

    # -- tamper hooks ----------------------------------------------------------------------

    def tamper_next_callback(self, **params: str | None) -> None:
        """Override parameters of the next ``/authorize`` redirect, success or error (one shot).

        A ``None`` value removes the parameter: ``iss``, ``state``, ``code``, ``error``, ….

        >>> op.tamper_next_callback(iss="https://evil.example.com", state=None)  # doctest: +SKIP
        """
        with self._login.lock:
            self._login.tamper_callback = dict(params)

    def tamper_next_id_token(self, **claims: Any) -> None:
        """Override claims of the next ID token the token endpoint signs (one shot).

        A ``None`` value removes the claim. The signature stays valid.

        >>> op.tamper_next_id_token(nonce="other", at_hash=None)     # doctest: +SKIP
        """
        with self._login.lock:
            self._login.tamper_id_token = dict(claims)

    # -- inspection ------------------------------------------------------------------------

    @property
    def last_authorize_params(self) -> dict[str, str]:
        """The parameters of the last ``/authorize`` or ``/par`` request, secrets excluded.

        >>> op.last_authorize_params["code_challenge_method"]        # doctest: +SKIP
        'S256'
        """
        with self._login.lock:
            return dict(self._login.last_params)

    @property
    def codes_issued(self) -> int:
        """How many authorization codes ``/authorize`` has issued."""
        return self._login.codes_issued
